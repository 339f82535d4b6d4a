"""Starting and stopping the processes under test, and watching their memory through /proc."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WA_GATEWAY = str(BIN / "wa-gateway")
PYTHON = sys.executable


def post_json(url: str, token: str, body: dict[str, Any]) -> Any:
    """POST ``body`` as JSON to one of our local services with ``token`` as its Authorization; the
    answer's JSON."""
    request = urllib.request.Request(  # noqa: S310 - a local URL of ours
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": token},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.load(response)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# The HTTP servers a run can measure (`python -m bench --server`): the gateway's `serve --server` choices.
HTTP_SERVERS = ("uvicorn", "granian")


def asgi_server_argv(server: str, factory: str, port: int, workers: int) -> list[str]:
    """The command that serves the ASGI app ``factory`` (``module:function``) under ``server`` on
    127.0.0.1:``port`` with ``workers`` processes, as `wa-gateway serve` configures that server: HTTP/1,
    no access log, warnings and up only."""
    if server == "granian":
        return [
            PYTHON, "-m", "granian", "--interface", "asgi", "--factory", factory,
            "--port", str(port), "--workers", str(workers), "--http", "1", "--no-ws",
            "--backlog", "2048", "--log-level", "warning",
        ]  # fmt: skip
    return [
        PYTHON, "-m", "uvicorn", factory, "--factory",
        "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-server-header",
    ]  # fmt: skip


# The gateway's code under test: this checkout, or another one (``--app-dir``) run with this
# checkout's virtual environment (its code first on PYTHONPATH).
APP_DIR = ROOT


def base_environment() -> dict[str, str]:
    """A clean environment: none of the project's settings leak in from the caller's shell.

    Processes run in bench/results/logs, so no .env file of a checkout is read either.
    """
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TERM"}
    env = {key: value for key, value in os.environ.items() if key in keep}
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([str(APP_DIR), str(ROOT)]))
    return env


@dataclass
class Service:
    """A started process (and, for a server with --workers, the worker processes it starts)."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    base_url: str | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def family(self) -> list[int]:
        """The pid and every descendant's (the server's supervisor starts the API processes)."""
        return [self.pid, *descendants(self.pid)]

    def workers(self) -> list[int]:
        """The processes that do the work: the server's children if it has any, else the process itself."""
        children = descendants(self.pid)
        # `uv run`-less start: the pid is the python process; uvicorn --workers forks spawn children
        # (and the multiprocessing resource tracker, which is tiny and excluded by its command line).
        workers = [pid for pid in children if "resource_tracker" not in _cmdline(pid)]
        return workers or [self.pid]

    def stop(self, timeout: float = 20.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def start(
    name: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    log_dir: Path,
    *,
    health_url: str | None = None,
    ready_timeout: float = 90.0,
    base_url: str | None = None,
) -> Service:
    """Start ``argv`` in its own process group, logging to ``log_dir/name.log``; wait for ``health_url``."""
    log_path = log_dir / f"{name}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own commands
        list(argv),
        cwd=log_dir,
        env=dict(env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    service = Service(name=name, process=process, log_path=log_path, base_url=base_url)
    if health_url is not None:
        deadline = time.monotonic() + ready_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited early (status {process.returncode}):\n{service.log_tail()}"
                )
            if _answers(health_url):
                break
            if time.monotonic() > deadline:
                service.stop()
                raise RuntimeError(f"{name} did not answer {health_url} in {ready_timeout:.0f} s")
            time.sleep(0.2)
    return service


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - a local URL of ours
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, TimeoutError):
        return False


def descendants(pid: int) -> list[int]:
    """Every descendant of ``pid``, from /proc (children of all threads)."""
    found: list[int] = []
    queue = [pid]
    while queue:
        current = queue.pop()
        for child in _children(current):
            found.append(child)
            queue.append(child)
    return found


def _children(pid: int) -> list[int]:
    children: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return children
    for task in tasks:
        with contextlib.suppress(OSError):
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
            children.extend(int(value) for value in text.split())
    return children


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def rss_bytes(pid: int) -> int:
    """Resident set size now (VmRSS), 0 if the process is gone."""
    return _status_kib(pid, "VmRSS") * 1024


def _status_kib(pid: int, field_name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


@dataclass
class MemorySampler:
    """Samples the RSS of groups of processes every ``interval`` seconds; keeps each process's peak."""

    groups: dict[str, list[Service]]
    interval: float = 0.25
    peaks: dict[str, dict[int, int]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample_once(self) -> None:
        for group, services in self.groups.items():
            peaks = self.peaks.setdefault(group, {})
            for service in services:
                for pid in service.workers():
                    peaks[pid] = max(peaks.get(pid, 0), rss_bytes(pid))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample_once()
            self._stop.wait(self.interval)

    def __enter__(self) -> MemorySampler:
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample_once()

    def peak_mib(self) -> dict[str, float]:
        """Per group: the largest peak RSS of any one of its processes, in MiB."""
        return {group: max(peaks.values(), default=0) / 2**20 for group, peaks in self.peaks.items()}


@contextlib.contextmanager
def sampling(groups: dict[str, list[Service]], into: dict[str, float]) -> Iterator[None]:
    """Sample memory while the block runs; then merge each group's peak (MiB) into ``into``."""
    sampler = MemorySampler(groups)
    with sampler:
        yield
    for group, peak in sampler.peak_mib().items():
        into[group] = max(into.get(group, 0.0), peak)


# -- other work on the machine ---------------------------------------------------------------------------

_NEUTRAL_POSTGRES = ("checkpointer", "background writer", "walwriter", "autovacuum", "logical replication")


def _cpu_ticks() -> dict[int, tuple[int, str]]:
    """utime + stime (clock ticks) and the command line of every process."""
    ticks: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        ticks[int(entry)] = (int(fields[11]) + int(fields[12]), _cmdline(int(entry)))
    return ticks


def _is_ours(pid: int, cmdline: str, ours: set[int]) -> bool:
    if pid in ours:
        return True
    if cmdline.startswith("postgres:"):
        # A backend's title names its database; the server's own processes count as ours.
        return "wa_bench" in cmdline or any(name in cmdline for name in _NEUTRAL_POSTGRES)
    return False


class ForeignLoad:
    """CPU used by processes that are not this benchmark's (other test runs on a shared machine), in
    cores, over a period: ``with ForeignLoad() as meter: ...; meter.cores``."""

    def __init__(self) -> None:
        self.cores = 0.0
        self._start: dict[int, tuple[int, str]] = {}
        self._t0 = 0.0

    def __enter__(self) -> ForeignLoad:
        self._start = _cpu_ticks()
        self._t0 = time.monotonic()
        return self

    def __exit__(self, *_: object) -> None:
        end = _cpu_ticks()
        elapsed = time.monotonic() - self._t0
        ours = {os.getpid(), *descendants(os.getpid())}
        used = 0
        for pid, (ticks, cmdline) in end.items():
            if _is_ours(pid, cmdline, ours):
                continue
            used += ticks - self._start.get(pid, (0, ""))[0]
        self.cores = used / os.sysconf("SC_CLK_TCK") / elapsed if elapsed > 0 else 0.0


def wait_for_quiet(limit_cores: float, max_wait: float, say: Callable[[str], None]) -> float:
    """Wait (at most ``max_wait`` s) until other processes use less than ``limit_cores``; returns the
    last measured foreign load."""
    deadline = time.monotonic() + max_wait
    warned = False
    while True:
        with ForeignLoad() as meter:
            time.sleep(1.0)
        if meter.cores < limit_cores or time.monotonic() > deadline:
            return meter.cores
        if not warned:
            say(f"other processes use {meter.cores:.2f} cores: waiting up to {max_wait:.0f} s for quiet")
            warned = True


class CpuMeter:
    """CPU time used by groups of processes over a period, in seconds of CPU.

    ``groups`` maps a name to services (each with all its descendants); ``databases`` names the
    databases whose PostgreSQL backends count as the group "postgres". Load generators that ran as
    children of this process and were waited for are counted as "load generator".
    """

    def __init__(self, groups: dict[str, list[Service]], databases: Sequence[str] = ()) -> None:
        self.groups = groups
        self.databases = tuple(databases)
        self.seconds: dict[str, float] = {}
        self._start: dict[int, tuple[int, str]] = {}
        self._children_start = 0.0

    def _members(self, ticks: dict[int, tuple[int, str]]) -> dict[str, set[int]]:
        members = {
            name: {pid for s in services for pid in s.family()} for name, services in self.groups.items()
        }
        if self.databases:
            members["postgres"] = {
                pid
                for pid, (_, cmdline) in ticks.items()
                if cmdline.startswith("postgres:") and any(db in cmdline for db in self.databases)
            }
        return members

    def __enter__(self) -> CpuMeter:
        self._start = _cpu_ticks()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._children_start = usage.ru_utime + usage.ru_stime
        return self

    def __exit__(self, *_: object) -> None:
        end = _cpu_ticks()
        tick = os.sysconf("SC_CLK_TCK")
        for name, pids in self._members(end).items():
            used = sum(end[pid][0] - self._start.get(pid, (0, ""))[0] for pid in pids if pid in end)
            self.seconds[name] = used / tick
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.seconds["load generator"] = usage.ru_utime + usage.ru_stime - self._children_start

    def per_request_ms(self, requests: int) -> dict[str, float]:
        if requests <= 0:
            return {}
        return {name: round(seconds * 1000 / requests, 3) for name, seconds in self.seconds.items()}
