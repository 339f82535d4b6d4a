"""The overload scenario: the gateway as a user runs it, flooded by more sends than it can take.

One ``wa-gateway serve --workers N`` with its embedded dispatcher (``EMBEDDED_DISPATCHER=true``, no
separate worker), sending to the Twilio emulator (``--provider-latency-ms``) with status callbacks
back to itself, as a deployment has them. wrk POSTs respond-async template sends with unique
Idempotency-Keys at each of ``--overload-connections`` (16 and 512) for ``--duration`` seconds, with
no warm-up. For each flood: requests/s by status (202 accepted, 503 shed: the server refusing work
it cannot take in time, with Retry-After, is not an error; anything else is), latency p50/p99/max,
wrk's socket errors (timeouts among them), the messages waiting (dispatch jobs) when the flood stops,
the rate the dispatcher sent at during the flood, and how long the backlog then takes to drain (until
no job is left). The next flood starts on an empty queue.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg

from bench import load, processes
from bench.end_to_end import TEMPLATE_SID, start_twilio_emulator, twilio_tenant_count
from bench.load import Load, LoadResult, lua_list, lua_string
from bench.processes import WA_GATEWAY, Service

if TYPE_CHECKING:
    from bench.run import Gateway, Runner

SHED = 503


def _say(text: str) -> None:
    from bench.run import say

    say(text)


@dataclass(frozen=True, slots=True)
class StatusSplit:
    """A flood's answers per second: accepted (202), shed (503), anything else; and socket errors."""

    accepted_rps: float
    shed_rps: float
    other_rps: float
    other_statuses: dict[int, int]
    socket_errors: dict[str, int]

    @property
    def timeouts(self) -> int:
        return self.socket_errors.get("timeout", 0)


def split_statuses(result: LoadResult) -> StatusSplit:
    seconds = result.duration_s or 1.0
    accepted = result.statuses.get(202, 0)
    shed = result.statuses.get(SHED, 0)
    other = {status: count for status, count in result.statuses.items() if status not in (202, SHED)}
    return StatusSplit(
        accepted_rps=accepted / seconds,
        shed_rps=shed / seconds,
        other_rps=sum(other.values()) / seconds,
        other_statuses=other,
        socket_errors=dict(result.socket_errors),
    )


@dataclass(frozen=True, slots=True)
class QueueLook:
    at: float  # seconds since the watch started
    queued: int  # dispatch jobs of the tenants: messages waiting to leave
    dispatched: int  # messages of the run past ``accepted``
    messages: int = 0  # messages of the run: accepted, answered or not


QUIET_S = 2.0  # no new message this long: the server has finished the requests wrk gave up on
MIN_FLOOD_S = 15.0  # longer than wrk's 10 s timeout, so that requests left waiting show as timeouts


def drained(looks: list[QueueLook], after: float) -> float | None:
    """The first moment after ``after`` from which no job is queued and no message is added for
    ``QUIET_S``: a server still finishes requests wrk gave up on, and their messages queue late."""
    for index, look in enumerate(looks):
        if look.at <= after or look.queued:
            continue
        window = [later for later in looks[index:] if later.at <= look.at + QUIET_S]
        if window[-1].at < look.at + QUIET_S and window[-1] is looks[-1]:
            return None  # not seen for long enough yet
        if all(later.queued == 0 and later.messages == look.messages for later in window):
            return look.at
    return None


def rate_between(looks: list[QueueLook], start: float, end: float) -> float:
    """Messages dispatched per second between two moments, from the looks nearest to them."""
    inside = [look for look in looks if start <= look.at <= end]
    if len(inside) < 2 or inside[-1].at <= inside[0].at:
        return 0.0
    return (inside[-1].dispatched - inside[0].dispatched) / (inside[-1].at - inside[0].at)


class QueueWatch:
    """Counts the tenants' queued jobs and dispatched messages every ``interval`` s, in a thread."""

    def __init__(self, url: str, tenant_ids: list[str], since: datetime, interval: float = 0.5) -> None:
        self.url = url
        self.tenant_ids = tenant_ids
        self.since = since
        self.interval = interval
        self.looks: list[QueueLook] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="queue-watch", daemon=True)
        self.started = time.monotonic()

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as connection:
            while not self._stop.is_set():
                with contextlib.suppress(psycopg.Error):
                    queued, dispatched, messages = _queue(connection, self.tenant_ids, self.since)
                    self.looks.append(
                        QueueLook(time.monotonic() - self.started, queued, dispatched, messages)
                    )
                self._stop.wait(self.interval)

    def now(self) -> float:
        return time.monotonic() - self.started

    def latest(self) -> QueueLook | None:
        return self.looks[-1] if self.looks else None

    def __enter__(self) -> QueueWatch:
        self.started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def _queue(
    connection: psycopg.Connection[Any], tenant_ids: list[str], since: datetime
) -> tuple[int, int, int]:
    jobs = connection.execute(
        "SELECT count(*) FROM dispatch_jobs WHERE tenant_id = ANY(%s::uuid[])", (tenant_ids,)
    ).fetchone()
    sent = connection.execute(
        "SELECT count(*) FILTER (WHERE status <> 'accepted'), count(*) FROM messages "
        "WHERE tenant_id = ANY(%s::uuid[]) AND created_at >= %s",
        (tenant_ids, since),
    ).fetchone()
    assert jobs is not None
    assert sent is not None
    return int(jobs[0]), int(sent[0]), int(sent[1])


def _start_server(runner: Runner, gateway: Gateway) -> tuple[Service, Service]:
    """The emulator, then `wa-gateway serve` with its embedded dispatcher sending to it."""
    options = runner.options
    emulator, emulator_url = start_twilio_emulator(runner, gateway, "overload-emulator")
    port = processes.free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **gateway.env,
        "EMBEDDED_DISPATCHER": "true",
        "TWILIO_API_BASE_URL": emulator_url,
        "PUBLIC_BASE_URL": base,
    }
    try:
        server = processes.start(
            "overload-api",
            [WA_GATEWAY, "serve", "--port", str(port), "--workers", str(options.workers)],
            env,
            runner.log_dir,
            health_url=f"{base}/readyz",
            base_url=base,
        )
    except Exception:
        emulator.stop()
        raise
    return emulator, server


def run_overload(runner: Runner, gateway: Gateway) -> None:
    from bench.run import bearer_tokens

    options = runner.options
    assert gateway.api is not None
    twilio_tenants = twilio_tenant_count(options)  # the emulator here is Twilio's
    tenants = [gateway.tenants[f"bench-e2e-{i:02d}"] for i in range(twilio_tenants)]
    with psycopg.connect(gateway.url, autocommit=True) as connection:
        # Jobs left by earlier scenarios would be dispatched by this server too: not part of this one.
        connection.execute("DELETE FROM dispatch_jobs")
    usernames = [f"e2e{index:02d}" for index in range(twilio_tenants)]
    tokens = bearer_tokens(gateway, usernames, max_age=0)
    run_id = secrets.token_hex(3)
    send = Load(
        lua_prelude=f"local tokens = {lua_list(tokens)}\nlocal run = {lua_string(run_id)}",
        lua_request=(
            '  local body = string.format(\'{"to_number":"+1415558%04d","content_sid":'
            f'"{TEMPLATE_SID}",'
            '"content_variables":{"1":"%d"}}\', (n * 7 + tid) % 10000, n)\n'
            "  local token = tokens[((n + tid) % #tokens) + 1]\n"
            '  return wrk.format("POST", "/api/send", {["Authorization"]=token, '
            '["Content-Type"]="application/json", ["Prefer"]="respond-async", '
            '["Idempotency-Key"]=string.format("o%s-%d-%d-%d", run, tid, n, math.random(1000000000))}, body)'
        ),
    )
    # The other scenarios' API goes first (the last scenario to run): its pools' connections would
    # count against PostgreSQL's max_connections, and its processes would share the cores.
    gateway.api.stop()
    emulator, server = _start_server(runner, gateway)
    assert server.base_url is not None
    runner.watched = {"api": [server], "emulator": [emulator]}
    try:
        for connections in options.overload_connections:
            _flood(runner, gateway, server.base_url, send, tenants, connections)
    finally:
        server.stop()
        emulator.stop()


def _flood(
    runner: Runner, gateway: Gateway, base: str, send: Load, tenants: list[str], connections: int
) -> None:
    options = runner.options
    with psycopg.connect(gateway.url, autocommit=True) as connection:
        row = connection.execute("SELECT now()").fetchone()
    assert row is not None
    since: datetime = row[0]
    processes.wait_for_quiet(options.quiet_cores, options.quiet_wait, _say)
    memory: dict[str, float] = {}
    with QueueWatch(gateway.url, tenants, since) as watch:
        with (
            processes.sampling(runner.watched, memory),
            processes.ForeignLoad() as foreign,
            processes.CpuMeter(runner.watched, runner.databases) as cpu,
        ):
            flood_start = watch.now()
            result = load.run_wrk(
                base, send, connections=connections, duration_s=max(options.duration, MIN_FLOOD_S)
            )
            flood_end = watch.now()
        time.sleep(watch.interval * 2)  # a look after the flood's last answer
        at_end = _look_at(watch, flood_end)
        flood_rate = rate_between(watch.looks, flood_start, flood_end)
        drain_limit = drain_timeout(at_end, flood_rate, options.quick)
        drained_at: float | None = None
        while watch.now() - flood_end < drain_limit and drained_at is None:
            time.sleep(0.25)
            drained_at = drained(watch.looks, flood_end)
            # Requests wrk gave up on may still add to the backlog: wait for the largest one seen.
            backlog = max((look.queued for look in watch.looks if look.at >= flood_end), default=0)
            drain_limit = max(drain_limit, drain_timeout(backlog, flood_rate, options.quick))
    if drained_at is None:
        with psycopg.connect(gateway.url, autocommit=True) as connection:
            connection.execute("DELETE FROM dispatch_jobs")  # the next flood starts on an empty queue
    split = split_statuses(result)
    drain_s = round(drained_at - flood_end, 2) if drained_at is not None else None
    accepted = result.statuses.get(202, 0)
    final = watch.latest()
    # Sends the server accepted after wrk had given up on them (timed out or closed at the end).
    unanswered = max(0, (final.messages if final is not None else 0) - accepted)
    details = {
        "errors": result.errors((202, SHED)),
        "accepted_rps": round(split.accepted_rps, 1),
        "shed_rps": round(split.shed_rps, 1),
        "other_rps": round(split.other_rps, 1),
        "other_statuses": {str(k): v for k, v in sorted(split.other_statuses.items())},
        "timeouts": split.timeouts,
        "queued_at_end": at_end,
        "accepted_unanswered": unanswered,
        "dispatch_per_s_during_flood": round(flood_rate, 1),
        "drain_s": drain_s,
        "drain_limit_s": drain_limit,
        "embedded_dispatcher": True,
        "provider_latency_ms": options.provider_latency_ms,
        "memory_peak_mib": {k: round(v, 1) for k, v in memory.items()},
        "foreign_cpu_cores": round(foreign.cores, 2),
        "cpu_ms_per_request": cpu.per_request_ms(result.requests),
        "cpu_ms_per_accepted": cpu.per_request_ms(accepted),
    }
    runner.results.add("overload", "send respond-async, embedded dispatcher", result, **details)
    for group, peak in memory.items():
        key = f"{group} (overload)"
        previous = runner.results.memory.get(key, {"peak_mib": 0.0})["peak_mib"]
        runner.results.memory[key] = {"peak_mib": round(max(previous, peak), 1)}
    drain_text = f"drained in {drain_s} s" if drain_s is not None else f"NOT drained in {drain_limit:.0f} s"
    _say(
        f"overload c={connections:<3} {split.accepted_rps:7.1f} accepted/s, {split.shed_rps:7.1f} shed/s, "
        f"{split.other_rps:5.1f} other/s {details['other_statuses']}; p50 {result.p50_ms:.1f} p99 "
        f"{result.p99_ms:.1f} max {result.max_ms:.1f} ms; socket errors {split.socket_errors}; "
        f"{at_end:,} queued at the end ({unanswered:,} accepted unanswered), dispatched "
        f"{flood_rate:.1f}/s during the flood, {drain_text}; "
        f"noise {foreign.cores:.2f}"
    )


def drain_timeout(backlog: int, rate: float, quick: bool) -> float:
    """How long to wait for a backlog: three times what the flood's dispatch rate needs, 60 s at
    least, 10 minutes (quick: 2) at most."""
    needed = backlog / max(rate, 1.0)
    return min(max(60.0, 3 * needed), 120.0 if quick else 600.0)


def _look_at(watch: QueueWatch, moment: float) -> int:
    """Queued jobs at the first look after ``moment`` (the flood's end)."""
    after = [look for look in watch.looks if look.at >= moment]
    if after:
        return after[0].queued
    latest = watch.latest()
    return latest.queued if latest is not None else 0
