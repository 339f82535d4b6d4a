"""The end-to-end scenario: single sends from the POST to the tenant's webhook receiver.

``pipeline`` (the default case): ``--e2e-messages`` template messages POSTed with respond-async to
``--e2e-tenants`` tenants, ``--e2e-meta-tenants`` of them on Meta's Cloud API and the others on
Twilio; ``wa-gateway worker`` processes dispatch them to the Twilio emulator or the Meta emulator
(both with ``--provider-latency-ms``). The Twilio emulator posts signed status callbacks (queued, sent,
delivered, read) to the gateway's StatusCallback route, the Meta emulator signed status webhooks
(sent, delivered, read) to ``/webhooks/meta``; every status change becomes a ``message.status`` event
that the workers deliver to a webhook receiver (bench/receiver.py) registered as each tenant's
endpoint. The clock runs from the first POST until every message is ``read`` in the database and the
receiver holds every event the gateway wrote for them.

``dispatch-only``: the Twilio tenants' sends alone, with no status callbacks (the workers have no
``PUBLIC_BASE_URL``) and no webhook endpoint; the clock stops when the emulator holds every accepted
message. (Meta posts its status webhooks whatever the send asks: it has no such case.)
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg

from bench import database, load, processes
from bench.load import Load, lua_list, lua_string
from bench.meta_tenants import MetaTenant, connect_tenants, meta_tenants, start_meta_emulator
from bench.processes import PYTHON, WA_GATEWAY, Service, post_json
from bench.report import provider_counts

if TYPE_CHECKING:
    from bench.run import Gateway, Options, Runner

TEMPLATE_SID = "HX" + "b5b62575e6e4ff6129ad7c8efe1f983e"
FINAL_STATUS = "read"
WEBHOOK_EVENTS = ["message.status", "message.failed"]
CASES = ("dispatch-only", "pipeline")  # the order they run in: no endpoint exists yet for dispatch-only
# How long the emulator waits for the gateway's answer to a status callback. Twilio waits 15 s and does
# not retry, so a burst the gateway answers too slowly loses statuses; this scenario measures how fast
# the pipeline gets through a burst, so nothing may be lost: every callback waits its turn.
CALLBACK_TIMEOUT_S = 600.0
STALLED_AFTER_S = 20.0  # no progress this long once every message was accepted: the run is over


def _say(text: str) -> None:
    from bench.run import say

    say(text)


@dataclass(frozen=True, slots=True)
class Progress:
    """One look at the pipeline, ``at`` seconds after the first POST."""

    at: float
    accepted: int = 0
    reached_emulator: int = 0
    final: int = 0
    events_written: int = 0
    events_received: int = 0


def twilio_tenant_count(options: Options) -> int:
    """How many end-to-end tenants are on Twilio (``bench-e2e-00`` onwards; the overload scenario floods
    them too)."""
    return options.e2e_tenants - options.e2e_meta_tenants


def pipeline_done(progress: Progress, accepted: int, *, callbacks: bool) -> bool:
    """Every accepted message is done: read, and every event the gateway wrote is at the receiver
    (with callbacks); at the emulator (without)."""
    if accepted <= 0:
        return False
    if not callbacks:
        return progress.reached_emulator >= accepted
    return progress.final >= accepted and progress.events_received >= progress.events_written


def steady_rate(points: list[tuple[float, int]]) -> float:
    """Per second between 10 % and 90 % of the final count (start-up and tail left out)."""
    if not points:
        return 0.0
    final = points[-1][1]
    low = next(((t, c) for t, c in points if c >= final * 0.1), None)
    high = next(((t, c) for t, c in points if c >= final * 0.9), None)
    if low is None or high is None or high[0] <= low[0]:
        return 0.0
    return (high[1] - low[1]) / (high[0] - low[0])


def gateway_cpu_ms(cpu: dict[str, float]) -> float:
    """CPU per message of the gateway's processes and PostgreSQL (API + workers + backends), in ms."""
    return round(sum(float(cpu.get(group, 0.0)) for group in ("api", "worker", "postgres")), 3)


class PipelineWatch:
    """Looks at the emulators, the database and the receiver every ``interval`` s, in a thread."""

    def __init__(
        self,
        url: str,
        tenant_ids: list[str],
        since: datetime,
        emulator_urls: list[str],
        receiver_url: str | None,
        interval: float = 0.25,
    ) -> None:
        self.url = url
        self.tenant_ids = tenant_ids
        self.since = since
        self.emulator_urls = emulator_urls
        self.receiver_url = receiver_url
        self.interval = interval
        self.points: list[Progress] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pipeline-watch", daemon=True)
        self._started = time.monotonic()

    def look(self, connection: psycopg.Connection[Any]) -> Progress:
        accepted, final, events = _database_progress(connection, self.tenant_ids, self.since)
        received = _json(f"{self.receiver_url}/_stats")["events"] if self.receiver_url else 0
        return Progress(
            at=time.monotonic() - self._started,
            accepted=accepted,
            reached_emulator=sum(int(_json(f"{e}/_emulator/stats")["messages"]) for e in self.emulator_urls),
            final=final,
            events_written=events,
            events_received=int(received),
        )

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as connection:
            while not self._stop.is_set():
                with contextlib.suppress(OSError, ValueError, KeyError, psycopg.Error):
                    self.points.append(self.look(connection))
                self._stop.wait(self.interval)

    def latest(self) -> Progress:
        return self.points[-1] if self.points else Progress(at=0.0)

    def __enter__(self) -> PipelineWatch:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def _database_progress(
    connection: psycopg.Connection[Any], tenant_ids: list[str], since: datetime
) -> tuple[int, int, int]:
    """Messages accepted and at their final status, and tenant webhook events written, since ``since``."""
    row = connection.execute(
        "SELECT count(*), count(*) FILTER (WHERE status = %s) FROM messages "
        "WHERE tenant_id = ANY(%s::uuid[]) AND created_at >= %s",
        (FINAL_STATUS, tenant_ids, since),
    ).fetchone()
    events = connection.execute(
        "SELECT count(*) FROM webhook_deliveries WHERE tenant_id = ANY(%s::uuid[]) AND created_at >= %s",
        (tenant_ids, since),
    ).fetchone()
    assert row is not None
    assert events is not None
    return int(row[0]), int(row[1]), int(events[0])


def _json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a local URL of ours
        return json.load(response)


def start_receiver(runner: Runner) -> tuple[Service, str]:
    port = processes.free_port()
    url = f"http://127.0.0.1:{port}"
    service = processes.start(
        "webhook-receiver",
        [
            PYTHON,
            "-m",
            "uvicorn",
            "bench.receiver:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--no-server-header",
        ],
        processes.base_environment(),
        runner.log_dir,
        health_url=f"{url}/_stats",
    )
    return service, url


def start_twilio_emulator(runner: Runner, gateway: Gateway, name: str) -> tuple[Service, str]:
    """`wa-gateway twilio-emulator` with the run's provider latency, and its URL."""
    port = processes.free_port()
    url = f"http://127.0.0.1:{port}"
    emulator = processes.start(
        name,
        [
            WA_GATEWAY,
            "twilio-emulator",
            "--port",
            str(port),
            "--latency-ms",
            f"{runner.options.provider_latency_ms:g}",
        ],
        gateway.env,
        runner.log_dir,
        health_url=f"{url}/_emulator/health",
    )
    return emulator, url


def start_dispatch(
    runner: Runner, gateway: Gateway, public_base_url: str | None = None
) -> tuple[Service, str, list[Service]]:
    """The emulator (with the provider latency) and the `wa-gateway worker` processes; with
    ``public_base_url`` every message asks for status callbacks there."""
    options = runner.options
    emulator, emulator_url = start_twilio_emulator(runner, gateway, "emulator")
    worker_env = {**gateway.env, "TWILIO_API_BASE_URL": emulator_url}
    if public_base_url:
        worker_env["PUBLIC_BASE_URL"] = public_base_url
    workers = [
        processes.start(f"gateway-worker-{index}", [WA_GATEWAY, "worker"], worker_env, runner.log_dir)
        for index in range(options.dispatch_workers)
    ]
    if public_base_url:
        _patch_json(f"{emulator_url}/_emulator/callbacks", {"timeout_seconds": CALLBACK_TIMEOUT_S})
    return emulator, emulator_url, workers


def _patch_json(url: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(  # noqa: S310 - a local URL of ours
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="PATCH"
    )
    with urllib.request.urlopen(request, timeout=30):  # noqa: S310
        pass


def template_sends(twilio_tokens: Sequence[str], meta_tokens: Sequence[str] = ()) -> Load:
    """respond-async sends by template (allowed outside the 24-hour window), every tenant's token in
    turn: a Twilio tenant's by Content SID, a Meta tenant's by name from its catalogue."""
    from bench.run import BENCH_TEMPLATE

    twilio_body = json.dumps(
        {"to_number": "+1415557%04d", "content_sid": TEMPLATE_SID, "content_variables": {"1": "%d"}}
    )
    meta_body = json.dumps(
        {
            "to_number": "+1415557%04d",
            "template": {
                "name": BENCH_TEMPLATE["name"],
                "language": BENCH_TEMPLATE["language"],
                "variables": {"1": "Ana", "2": "A-%d"},
            },
        }
    )
    return Load(
        lua_prelude=(
            f"local tokens = {lua_list([*twilio_tokens, *meta_tokens])}\n"
            f"local twilio_tenants = {len(twilio_tokens)}\n"
            f"local twilio_body = {lua_string(twilio_body)}\n"
            f"local meta_body = {lua_string(meta_body)}"
        ),
        lua_request=(
            "  local index = ((n + tid) % #tokens) + 1\n"
            "  local body = index <= twilio_tenants and twilio_body or meta_body\n"
            "  body = string.format(body, (n * 7 + tid) % 10000, n)\n"
            '  return wrk.format("POST", "/api/send", {["Authorization"]=tokens[index], '
            '["Content-Type"]="application/json", ["Prefer"]="respond-async"}, body)'
        ),
    )


def run_e2e(runner: Runner, gateway: Gateway) -> None:
    for case in CASES:
        if case in runner.options.e2e_cases:
            run_case(runner, gateway, callbacks=case == "pipeline")


@dataclass(frozen=True, slots=True)
class CaseTenants:
    """A case's tenants, Twilio's then Meta's: their ids and their admins' tokens."""

    twilio_ids: list[str]
    twilio_tokens: list[str]
    meta: list[MetaTenant]
    meta_ids: list[str]
    meta_tokens: list[str]

    @property
    def ids(self) -> list[str]:
        return [*self.twilio_ids, *self.meta_ids]

    @property
    def tokens(self) -> list[str]:
        return [*self.twilio_tokens, *self.meta_tokens]

    def ids_by_provider(self) -> dict[str, list[str]]:
        return {"twilio": self.twilio_ids, **({"meta": self.meta_ids} if self.meta else {})}


def case_tenants(gateway: Gateway, options: Options, *, with_meta: bool) -> CaseTenants:
    """The case's tenants, with fresh tokens (a run may last minutes)."""
    from bench.run import bearer_tokens

    twilio = range(twilio_tenant_count(options))
    meta = meta_tenants(options.e2e_meta_tenants) if with_meta else []
    twilio_tokens = bearer_tokens(gateway, [f"e2e{index:02d}" for index in twilio], max_age=0)
    return CaseTenants(
        twilio_ids=[gateway.tenants[f"bench-e2e-{index:02d}"] for index in twilio],
        twilio_tokens=twilio_tokens,
        meta=meta,
        meta_ids=[gateway.tenants[tenant.name] for tenant in meta],
        meta_tokens=bearer_tokens(gateway, [tenant.username for tenant in meta], max_age=0),
    )


def run_case(runner: Runner, gateway: Gateway, *, callbacks: bool) -> None:
    options = runner.options
    case = "pipeline" if callbacks else "dispatch-only"
    assert gateway.api is not None
    assert gateway.api.base_url is not None
    base = gateway.api.base_url
    tenants = case_tenants(gateway, options, with_meta=callbacks)  # Meta has no dispatch-only case
    meta_emulator: Service | None = None
    receiver: Service | None = None
    receiver_url: str | None = None
    workers: list[Service] = []
    emulator: Service | None = None
    try:
        emulator_urls: dict[str, str] = {}
        if tenants.meta:
            meta_emulator, emulator_urls["meta"] = _start_meta(runner, gateway, tenants)
        since = _clear_queue(gateway.url, tenants.ids)
        if callbacks:
            receiver, receiver_url = start_receiver(runner)
            _register_endpoints(base, tenants.tokens, receiver_url)
        emulator, emulator_urls["twilio"], workers = start_dispatch(
            runner, gateway, base if callbacks else None
        )
        time.sleep(2.0)  # the workers connect and start polling
        send = template_sends(tenants.twilio_tokens, tenants.meta_tokens)
        connections = options.concurrency[0]
        total = options.e2e_messages
        memory: dict[str, float] = {}
        runner.watched = {
            "api": [gateway.api],
            "worker": workers,
            "emulator": [emulator],  # Twilio's (the name it always had in the results)
            **({"meta emulator": [meta_emulator]} if meta_emulator is not None else {}),
            **({"receiver": [receiver]} if receiver is not None else {}),
        }
        sessions_before = database.sessions_opened(gateway.url)
        processes.wait_for_quiet(options.quiet_cores, options.quiet_wait, _say)
        started = time.monotonic()
        with (
            processes.sampling(runner.watched, memory),
            runner.profiling("e2e", case, connections),
            processes.ForeignLoad() as foreign,
            processes.CpuMeter(runner.watched, runner.databases) as cpu,
            PipelineWatch(
                gateway.url, tenants.ids, since, list(emulator_urls.values()), receiver_url
            ) as watch,
        ):
            accept = load.run_wrk(
                base,
                send,
                connections=connections,
                duration_s=max(120.0, total / 30),
                threads=2,
                per_thread_limit=total // 2,
                limit_counts=(202,),  # a request shed with 503 is sent again, as a client would
                stop_when=lambda: watch.latest().accepted >= total,
            )
            accepted_at = time.monotonic()
            accepted = _wait_until_done(watch, accepted_at + max(300.0, total / 10), callbacks=callbacks)
            finished = time.monotonic()
        last = watch.latest()
        accepted = max(accepted, last.accepted)
        completed = last.final if callbacks else last.reached_emulator
        elapsed = finished - started
        # Per accepted message: the work was done for all of them, whether or not each got to the end.
        per_message = cpu.per_request_ms(accepted)
        messages_by_provider = _messages_by_provider(gateway.url, tenants.ids_by_provider(), since)
        e2e = {
            "case": case,
            "status_callbacks": callbacks,
            "tenant_webhooks": callbacks,
            "messages_posted": accept.requests,
            "messages_accepted": accepted,
            "messages_reached_emulator": last.reached_emulator,
            "messages_completed": completed,
            "messages_by_provider": messages_by_provider,
            "final_status": FINAL_STATUS if callbacks else "at the emulator",
            "webhook_events_written": last.events_written,
            "webhook_events_received": last.events_received,
            "receiver": _json(f"{receiver_url}/_stats") if receiver_url else None,
            "status_callbacks_posted": (
                {provider: _callbacks_posted(provider, url) for provider, url in emulator_urls.items()}
                if callbacks
                else None
            ),
            "accept_phase_s": round(accepted_at - started, 2),
            "accept_rps": round(accept.rps, 1),
            "accept_p99_ms": round(accept.p99_ms, 2),
            "total_s": round(elapsed, 2),
            "timed_out": not pipeline_done(last, accepted, callbacks=callbacks),
            "messages_per_s": round(completed / elapsed, 1) if elapsed else 0.0,
            "steady_messages_per_s": round(
                steady_rate([(p.at, p.final if callbacks else p.reached_emulator) for p in watch.points]), 1
            ),
            # accept->read with callbacks (the last status recorded), accept->sent without.
            ("accept_to_read_ms" if callbacks else "accept_to_sent_ms"): _accept_to_last_status(
                gateway.url, tenants.ids, since
            ),
            "provider_latency_ms": options.provider_latency_ms,
            "dispatch_workers": options.dispatch_workers,
            "tenants": len(tenants.ids),
            "meta_tenants": len(tenants.meta),
            "memory_peak_mib": {k: round(v, 1) for k, v in memory.items()},
            "cpu_ms_per_message": per_message,
            "gateway_cpu_ms_per_message": gateway_cpu_ms(per_message),
            "database_sessions_opened": database.sessions_opened(gateway.url) - sessions_before,
            "foreign_cpu_cores": round(foreign.cores, 2),
            "errors": accept.errors((202,)),
            "accept_statuses": accept.statuses,
        }
        runner.results.memory.update(
            {f"{group} (e2e {case})": {"peak_mib": round(peak, 1)} for group, peak in memory.items()}
        )
        runner.results.extra["e2e" if callbacks else "e2e_dispatch_only"] = e2e
        _say(
            f"e2e {case}: {completed:,} of {accepted:,} accepted messages done "
            f"({e2e['final_status']}; {provider_counts(messages_by_provider, callbacks=callbacks)}; "
            f"webhook events {last.events_received:,}/{last.events_written:,}) "
            f"in {elapsed:.1f} s: {e2e['messages_per_s']} msg/s (steady {e2e['steady_messages_per_s']}); "
            f"cpu ms/message {per_message}; gateway {e2e['gateway_cpu_ms_per_message']}"
            + ("  TIMED OUT" if e2e["timed_out"] else "")
        )
    finally:
        for service in [*workers, emulator, meta_emulator, receiver]:
            if service is not None:
                service.stop()
        if callbacks:
            _remove_endpoints(base, tenants.tokens)


def _start_meta(runner: Runner, gateway: Gateway, tenants: CaseTenants) -> tuple[Service, str]:
    """The Meta emulator, and the Meta tenants' accounts, senders and approved template on it."""
    assert gateway.api is not None
    assert gateway.api.base_url is not None
    meta_emulator, meta_url = start_meta_emulator(runner, gateway, tenants.meta, CALLBACK_TIMEOUT_S)
    try:
        _say(f"e2e: connecting {len(tenants.meta)} Meta tenants (account, sender, template approved by Meta)")
        connect_tenants(gateway.api.base_url, tenants.meta, tenants.meta_tokens)
    except Exception:
        meta_emulator.stop()
        raise
    return meta_emulator, meta_url


def _wait_until_done(watch: PipelineWatch, deadline: float, *, callbacks: bool) -> int:
    """Wait until the pipeline is done, stalled (a lost callback leaves its message short of ``read``
    for good) or the deadline passed; the messages accepted."""
    accepted = 0
    moved_at = time.monotonic()
    last = watch.latest()
    while time.monotonic() < deadline:
        latest = watch.latest()
        # Requests in flight when wrk stopped may be committed a moment later.
        accepted = max(accepted, latest.accepted)
        if pipeline_done(latest, accepted, callbacks=callbacks):
            break
        if progressed(last, latest):
            moved_at, last = time.monotonic(), latest
        elif time.monotonic() - moved_at > STALLED_AFTER_S:
            _say(f"e2e: no progress in {STALLED_AFTER_S:.0f} s: {latest}")
            break
        time.sleep(0.05)
    return accepted


def progressed(before: Progress, after: Progress) -> bool:
    """Anything moved between two looks."""
    return replace(before, at=0.0) != replace(after, at=0.0)


def _register_endpoints(base: str, tokens: list[str], receiver_url: str) -> None:
    """The receiver as every tenant's webhook endpoint, for its messages' status events."""
    for token in tokens:
        post_json(
            f"{base}/api/webhooks",
            token,
            {"url": f"{receiver_url}/hooks", "events": WEBHOOK_EVENTS, "description": "bench receiver"},
        )


def _clear_queue(url: str, e2e_tenants: list[str]) -> datetime:
    """Drop the jobs other scenarios left queued (not part of this one); the database's now()."""
    with psycopg.connect(url, autocommit=True) as connection:
        dropped = connection.execute(
            "DELETE FROM dispatch_jobs WHERE NOT tenant_id = ANY(%s::uuid[])", (e2e_tenants,)
        ).rowcount
        row = connection.execute("SELECT now()").fetchone()
    assert row is not None
    if dropped:
        _say(f"e2e: discarded {dropped:,} jobs queued by earlier scenarios")
    since: datetime = row[0]
    return since


def _remove_endpoints(base: str, tokens: list[str]) -> None:
    """Remove the receiver's endpoints, so a later case's statuses are not delivered to nowhere."""
    for token in tokens:
        with contextlib.suppress(OSError, ValueError, KeyError):
            request = urllib.request.Request(f"{base}/api/webhooks", headers={"Authorization": token})  # noqa: S310
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                listed = json.load(response)
            items = listed["items"] if isinstance(listed, dict) else listed
            for endpoint in items:
                delete = urllib.request.Request(  # noqa: S310
                    f"{base}/api/webhooks/{endpoint['id']}", headers={"Authorization": token}, method="DELETE"
                )
                with urllib.request.urlopen(delete, timeout=30):  # noqa: S310
                    pass


# How each emulator counts the status webhooks it posted, by the receiver's answer.
_STATUS_WEBHOOK_STATS = {"twilio": "status_callbacks.", "meta": "webhooks.status."}


def _callbacks_posted(provider: str, emulator_url: str) -> dict[str, int]:
    stats: dict[str, int] = _json(f"{emulator_url}/_emulator/stats")["stats"]
    prefix = _STATUS_WEBHOOK_STATS[provider]
    return {key: value for key, value in stats.items() if key.startswith(prefix)}


def _messages_by_provider(
    url: str, tenant_ids: dict[str, list[str]], since: datetime
) -> dict[str, dict[str, int]]:
    """Per provider: messages accepted since ``since``, those the provider took (``handed_over``: past
    ``accepted``, whatever came back since) and those ``read``."""
    counts: dict[str, dict[str, int]] = {}
    with psycopg.connect(url) as connection:
        for provider, ids in tenant_ids.items():
            row = connection.execute(
                "SELECT count(*), count(*) FILTER (WHERE status <> 'accepted'), "
                "count(*) FILTER (WHERE status = %s) FROM messages "
                "WHERE tenant_id = ANY(%s::uuid[]) AND created_at >= %s",
                (FINAL_STATUS, ids, since),
            ).fetchone()
            assert row is not None
            counts[provider] = {
                "accepted": int(row[0]),
                "handed_over": int(row[1]),
                FINAL_STATUS: int(row[2]),
            }
    return counts


def _accept_to_last_status(url: str, tenant_ids: list[str], since: datetime) -> dict[str, float]:
    """Percentiles of updated_at - created_at of the messages past ``accepted``: the provider took them
    (without callbacks), or their last callback, ``read``, was recorded (with)."""
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY d), "
            "percentile_cont(0.99) WITHIN GROUP (ORDER BY d), max(d) "
            "FROM (SELECT extract(epoch FROM updated_at - created_at) * 1000 AS d FROM messages "
            "WHERE tenant_id = ANY(%s::uuid[]) AND created_at >= %s AND status <> 'accepted') AS s",
            (tenant_ids, since),
        ).fetchone()
    if row is None or not row[0]:
        return {"count": 0}
    count, p50, p99, longest = (float(value) for value in row)
    return {
        "count": int(count),
        "p50_ms": round(p50, 1),
        "p99_ms": round(p99, 1),
        "max_ms": round(longest, 1),
    }
