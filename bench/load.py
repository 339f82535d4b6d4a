"""The load generator: wrk (Debian's package), driven by a Lua script generated for each run.

Every request is built in Lua (a rotating token, a unique Idempotency-Key, a cursor from a list), every
response status is counted, and ``done()`` prints one JSON line that is parsed here.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

WRK = "wrk"
_MARKER = "BENCH_JSON "


class LoadGeneratorMissing(RuntimeError):
    pass


def ensure_wrk(install: bool) -> str:
    """The path of wrk; installed with apt-get when missing and ``install`` is set."""
    found = shutil.which(WRK)
    if found:
        return found
    if install:
        for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
            subprocess.run(command, check=False, capture_output=True)  # noqa: S603
        found = shutil.which(WRK)
        if found:
            return found
    raise LoadGeneratorMissing(
        "wrk is not installed: `apt-get install wrk` (Debian), or run with --install-wrk as root"
    )


@dataclass(frozen=True, slots=True)
class Load:
    """What to send: ``lua_request`` is the body of a Lua function of ``n`` (the thread's request
    number, from 1) and ``tid`` (the thread, from 1) that returns ``wrk.format(...)``."""

    lua_request: str
    lua_prelude: str = ""


@dataclass(slots=True)
class LoadResult:
    connections: int
    duration_s: float
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    statuses: dict[int, int] = field(default_factory=dict)
    socket_errors: dict[str, int] = field(default_factory=dict)

    def errors(self, ok: Sequence[int] = (200, 201, 202)) -> int:
        bad_status = sum(count for status, count in self.statuses.items() if status not in ok)
        return bad_status + sum(self.socket_errors.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "connections": self.connections,
            "duration_s": round(self.duration_s, 2),
            "requests": self.requests,
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p90_ms": round(self.p90_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "max_ms": round(self.max_ms, 2),
            "mean_ms": round(self.mean_ms, 2),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "socket_errors": self.socket_errors,
        }


_SCRIPT = """
local threads = {}
local next_tid = 1
function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

%(prelude)s

local n = 0
local answered = 0
statuses = {}
local limit = %(limit)d
local counted = %(counted)s

function init(args)
  math.randomseed(tid * 7919 + %(seed)d)
end

local function build(n, tid)
%(request)s
end

function request()
  n = n + 1
  return build(n, tid)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if counted == nil or counted[status] then
    answered = answered + 1
  end
  if limit > 0 and answered >= limit then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for status, count in pairs(s) do
      counts[status] = (counts[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(counts) do
    table.insert(parts, string.format('"%%d": %%d', status, count))
  end
  local e = summary.errors
  io.write(string.format(
    '%(marker)s{"duration_us": %%d, "requests": %%d, "p50_us": %%d, "p90_us": %%d, "p99_us": %%d, ' ..
    '"max_us": %%d, "mean_us": %%f, "statuses": {%%s}, "connect": %%d, "read": %%d, "write": %%d, ' ..
    '"timeout": %%d}\\n',
    summary.duration, summary.requests, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, table.concat(parts, ", "),
    e.connect, e.read, e.write, e.timeout))
end
"""


def lua_string(text: str) -> str:
    """A Lua string literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def lua_list(values: Sequence[str]) -> str:
    return "{" + ",\n".join(lua_string(value) for value in values) + "}"


def run_wrk(
    url: str,
    load: Load,
    *,
    connections: int,
    duration_s: float,
    threads: int = 2,
    timeout_s: float = 10.0,
    per_thread_limit: int = 0,
    limit_counts: Sequence[int] = (),
    seed: int = 1,
    stop_when: Callable[[], bool] | None = None,
) -> LoadResult:
    """Run wrk against ``url`` (scheme://host:port) for ``duration_s`` (or until every thread has had
    ``per_thread_limit`` answers, only those with a status in ``limit_counts`` when it names any: a
    refused request is then made again as a client would) with ``connections`` open connections."""
    threads = max(1, min(threads, connections))
    script = _SCRIPT % {
        "prelude": load.lua_prelude,
        "request": load.lua_request,
        "limit": per_thread_limit,
        "counted": "{" + ", ".join(f"[{status}] = true" for status in limit_counts) + "}"
        if limit_counts
        else "nil",
        "seed": seed,
        "marker": _MARKER,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
        script_path = Path(handle.name)
    argv = [
        WRK,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        f"--timeout={timeout_s:g}s",
        "-s",
        str(script_path),
        url,
    ]
    try:
        # wrk runs its whole duration even when every thread has stopped; SIGINT ends it early, and it
        # still reports (``stop_when``: checked every 0.25 s).
        process = subprocess.Popen(  # noqa: S603 - our own arguments
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + duration_s + timeout_s + 60
        while process.poll() is None and time.monotonic() < deadline:
            if stop_when is not None and stop_when():
                process.send_signal(signal.SIGINT)
                break
            time.sleep(0.25)
        try:
            stdout, stderr = process.communicate(timeout=max(5.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
    finally:
        script_path.unlink(missing_ok=True)
    completed = subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)
    line = next((ln for ln in completed.stdout.splitlines() if ln.startswith(_MARKER)), None)
    if completed.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}")
    data = json.loads(line[len(_MARKER) :])
    duration = data["duration_us"] / 1e6
    return LoadResult(
        connections=connections,
        duration_s=duration,
        requests=data["requests"],
        rps=data["requests"] / duration if duration else 0.0,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        mean_ms=data["mean_us"] / 1000,
        statuses={int(k): v for k, v in data["statuses"].items()},
        socket_errors={k: data[k] for k in ("connect", "read", "write", "timeout") if data[k]},
    )
