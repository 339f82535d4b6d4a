"""Never lose, never double-send: the dispatch queue with real processes, real PostgreSQL and the emulators.

Every test runs the gateway as it is deployed: ``wa-gateway serve`` API processes with
``EMBEDDED_DISPATCHER=false`` (they only accept; with ``Prefer: respond-async`` they never call the
provider) and ``wa-gateway worker`` processes that do all the sending, against a ``wa-gateway
twilio-emulator`` process standing in for Twilio — or, for the faults and the killed worker, a ``wa-gateway
meta-emulator`` process standing in for Meta's Cloud API as well. A Twilio tenant is provisioned with the
CLI; a Meta tenant with the CLI, then its admin adds its Meta account and sender over the API. Its
contacts first write to it (signed inbound webhooks), so its 24-hour session windows are open.

Every message body carries a token of ours, so the emulator's own record of what it created is checked
against what the API accepted: each accepted message created exactly once, none lost, none stuck.
Meta cannot be asked whether it has a message: one whose send got no answer is settled by its status
webhook (which carries our id back), or, when none comes, fails as unconfirmed and is never sent again.
So on Meta every message is created at most once, and one that failed must be one whose status report
never reached the gateway.
The clients behave well: each request has an Idempotency-Key and a 503, 409 or lost answer is retried
with it (so a 503 from a busy database is counted, not fatal). The counts are printed at the end of the
run and kept in bench/results/dispatch_integration.json.

The databases live on a private PostgreSQL cluster of the session when the machine has the server
binaries (this load would exhaust the shared server's connections, and other tests' load would skew it),
else on the shared server; (4) always needs its own cluster, since it restarts it. These tests take
minutes: (1) alone sends 10,000 messages through six processes; the Meta runs are smaller.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

import httpx
import psycopg
import pytest

from tests.support.dispatch_load import (
    LoadRun,
    PlannedMessage,
    audit,
    contacts,
    eventually,
    libpq_url,
    plan_messages,
    queue_state,
    send_messages,
    token_of,
    wait_until_drained,
)
from tests.support.dispatch_report import DispatchReport
from tests.support.gateways import GatewayProcesses, Provisioned, free_port, process_cpu_seconds
from tests.support.private_postgres import (
    PrivateCluster,
    PrivateClusterUnavailable,
    private_postgres_cluster,
)
from tests.support.provider_emulators import (
    EmulatorProcess,
    MetaBusiness,
    MetaEmulator,
    TwilioAccount,
    TwilioEmulator,
    start_meta_emulator,
    start_twilio_emulator,
)

pytestmark = pytest.mark.postgres

LOAD_CONCURRENCY = 48
# Generous: on a quiet 2-core machine a 2,000-message load takes 20-90 s; the bound is for a stuck run.
LOAD_DEADLINE_SECONDS = 300
ALL_FAILURES = ["rate_limited", "server_error", "unavailable", "timeout", "drop"]
# The tests run against each provider's emulator; on Meta with fewer messages, to keep the suite short.
PROVIDERS = [pytest.param("twilio", id="twilio"), pytest.param("meta", id="meta")]
# How long a Meta message whose send got no answer waits for its status report before it fails.
META_UNCONFIRMED_AFTER_SECONDS = 15


@pytest.fixture(scope="session", autouse=True)
def teardown_on_sigterm() -> Iterator[None]:
    """A SIGTERM (a timeout, a cancelled CI job) ends the session like Ctrl-C: fixtures are torn down,
    so no gateway process, emulator or private PostgreSQL cluster outlives the run."""

    def interrupt(signum: int, _: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="session")
def dispatch_report(pytestconfig: pytest.Config) -> DispatchReport:
    report = DispatchReport()
    pytestconfig.pluginmanager.register(report, "wa-gateway-dispatch-report")
    return report


class DatabaseHost(Protocol):
    def create_database(self) -> str: ...
    def drop_database(self, name: str) -> None: ...
    def url_for(self, database: str) -> str: ...


@pytest.fixture(scope="session")
def load_database_host(request: pytest.FixtureRequest) -> Iterator[DatabaseHost]:
    """Where the load tests put their databases: a private cluster for the session when this machine has
    the server binaries, so the load neither suffers from nor exhausts the shared server that other
    tests use (its max_connections); else the shared server of the other integration tests."""
    with contextlib.ExitStack() as stack:
        host: DatabaseHost
        try:
            host = stack.enter_context(private_postgres_cluster(free_port()))
        except PrivateClusterUnavailable:
            host = request.getfixturevalue("postgres_server")
        yield host


@pytest.fixture
def load_database(load_database_host: DatabaseHost) -> Iterator[str]:
    """A database of this test's own, dropped at the end."""
    name = load_database_host.create_database()
    try:
        yield load_database_host.url_for(name)
    finally:
        load_database_host.drop_database(name)


@dataclass
class Deployment:
    gateway: GatewayProcesses
    emulator: EmulatorProcess
    tenant: Provisioned
    headers: dict[str, str]
    database_url: str

    async def open_windows(self, to: list[str]) -> None:
        await self.emulator.open_session_windows(self.gateway.public_base_url, self.tenant.sender, to)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time each kind of process used: the cost of the run, whatever else the machine ran."""
        used = self.gateway.cpu_seconds()
        emulator = process_cpu_seconds(self.emulator.process.pid)
        return {
            "api": round(sum(v for k, v in used.items() if k.startswith("api")), 1),
            "workers": round(sum(v for k, v in used.items() if k.startswith("worker")), 1),
            "emulator": round(emulator or 0.0, 1),
        }

    def check_processes(self) -> None:
        dead = self.gateway.dead_processes()
        assert not dead, f"processes died: {dead}\n{self.gateway.log_tails()}"


@contextlib.asynccontextmanager
async def deployment(
    log_dir: Path,
    database_url: str,
    *,
    apis: int,
    workers: int,
    settings: dict[str, str] | None = None,
    provider: str = "twilio",
) -> AsyncIterator[Deployment]:
    """The processes, the emulator of ``provider`` ("twilio" or "meta") and a tenant sending through it."""
    public_port = free_port()  # the first API process's: the emulator posts its webhooks there
    seed = secrets.randbelow(10**6)
    emulator: TwilioEmulator | MetaEmulator
    if provider == "meta":
        callback_url = f"http://127.0.0.1:{public_port}/webhooks/meta"
        emulator = await asyncio.to_thread(
            start_meta_emulator, log_dir, MetaBusiness.new(), callback_url, seed=seed
        )
    else:
        emulator = await asyncio.to_thread(start_twilio_emulator, log_dir, TwilioAccount.new(), seed=seed)
    gateway = GatewayProcesses(
        database_url=database_url,
        log_dir=log_dir,
        public_port=public_port,
        settings={**emulator.gateway_settings, **(settings or {})},
    )
    try:
        await asyncio.to_thread(gateway.migrate)
        if isinstance(emulator, MetaEmulator):
            tenant = await asyncio.to_thread(gateway.provision_meta_tenant, emulator.business)
        else:
            tenant = await asyncio.to_thread(gateway.provision_twilio_tenant, emulator.account)
        await asyncio.to_thread(gateway.start, apis=apis, workers=workers)
        headers = await gateway.login(tenant)
        if isinstance(emulator, MetaEmulator):
            await gateway.connect_meta_sender(headers, emulator.business)
        yield Deployment(gateway, emulator, tenant, headers, database_url)
    finally:
        await asyncio.to_thread(gateway.stop)
        emulator.process.stop()
        await emulator.aclose()


def planned_tokens(planned: list[PlannedMessage]) -> set[str]:
    return {message.token for message in planned}


def describe(run: LoadRun) -> dict[str, Any]:
    return {
        "answers": {str(status): count for status, count in sorted(run.answers.items())},
        "transport_errors": dict(run.transport_errors),
        "unexpected_answers": len(run.unexpected),
        "given_up": len(run.given_up),
        "load_seconds": round(run.elapsed, 1),
    }


async def drain_or_fail(deployed: Deployment, run: LoadRun, timeout: float) -> float:  # noqa: ASYNC109
    state, waited = await wait_until_drained(deployed.database_url, timeout)
    if state.pending or state.jobs:
        stats = await deployed.emulator.stats()
        pytest.fail(
            f"not drained within {timeout:.0f} s: {state.pending} of {state.outbound} message(s) still "
            f"accepted, {state.jobs} job(s) left; accepted by the API {len(run.accepted)}; emulator {stats}\n"
            f"{deployed.gateway.log_tails()}"
        )
    return waited


# -- (1) ----------------------------------------------------------------------------------------------


async def test_ten_thousand_messages_through_four_workers_are_each_sent_exactly_once(
    load_database: str, tmp_path: Path, dispatch_report: DispatchReport
) -> None:
    count = 10_000
    started = time.monotonic()
    async with deployment(tmp_path, load_database, apis=2, workers=4) as deployed:
        # No status callbacks here: they would only load the first API process (2-4 have them).
        await deployed.emulator.patch_callbacks(step_delay_seconds=3600)
        to = contacts(200)
        await deployed.open_windows(to)
        planned = plan_messages(count, to, "bulk")

        run = await send_messages(
            deployed.gateway.api_urls,
            deployed.headers,
            planned,
            concurrency=LOAD_CONCURRENCY,
            deadline=time.monotonic() + 600,
            idempotency_keys=True,
            retry=True,
        )
        assert not run.unexpected, run.unexpected[:5]
        assert len(run.accepted) == count, describe(run)
        drained_after = await drain_or_fail(deployed, run, timeout=300)
        result = await audit(deployed.database_url, deployed.emulator, run.accepted, planned_tokens(planned))
        emulator_stats = await deployed.emulator.stats()
        cpu = deployed.cpu_seconds()
        deployed.check_processes()

    dispatch_report.record(
        "1_ten_thousand_via_4_workers_2_apis",
        {
            "layout": "2 x serve (EMBEDDED_DISPATCHER=false, Prefer: respond-async) + 4 x worker",
            **result.summary(),
            **describe(run),
            "drain_seconds_after_load": round(drained_after, 1),
            "seconds_total": round(time.monotonic() - started, 1),
            "accepted_per_second": round(count / run.elapsed, 1),
            "emulator": emulator_stats,
            "cpu_seconds": cpu,
        },
    )
    assert not result.problems(), result.problems()
    assert result.emulator_created == count
    assert result.sent_once == count
    assert result.statuses.get("failed", 0) == 0


# -- (2) ----------------------------------------------------------------------------------------------


async def flip_create_before_failing(emulator: EmulatorProcess, stop: asyncio.Event) -> int:
    """Alternate between failures before and after the message is created, every half second."""
    flips = 0
    while not stop.is_set():
        await emulator.patch_faults(create_before_failing=flips % 2 == 0)
        flips += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)
    return flips


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_with_thirty_percent_of_provider_calls_failing_nothing_is_lost_or_sent_twice(
    provider: str, load_database: str, tmp_path: Path, dispatch_report: DispatchReport
) -> None:
    meta = provider == "meta"
    count = 500 if meta else 2_000
    started = time.monotonic()
    settings = {"PROVIDER_TIMEOUT_SECONDS": "2", "DISPATCH_LEASE_SECONDS": "20"}
    if meta:
        settings["DISPATCH_UNCONFIRMED_AFTER_SECONDS"] = str(META_UNCONFIRMED_AFTER_SECONDS)
    async with deployment(
        tmp_path, load_database, apis=2, workers=4, settings=settings, provider=provider
    ) as deployed:
        if meta:
            # Meta has no lookup: a message whose answer was lost is settled by its status webhook alone,
            # which comes after the first reconcile (1 s); Meta posts it again while it is not taken.
            await deployed.emulator.patch_callbacks(
                statuses=["sent"], step_delay_seconds=2, retry_attempts=5, retry_delay_seconds=1
            )
        else:
            # Status callbacks come late (after the reconcile delay): the lookup does the reconciling.
            await deployed.emulator.patch_callbacks(statuses=["sent"], step_delay_seconds=3)
        # 80 messages a contact: a lookup must page past the newer ones (Twilio's first page has 50).
        to = contacts(25)
        await deployed.open_windows(to)
        faults: dict[str, Any] = {"failure_rate": 0.3, "failure_kinds": ALL_FAILURES, "hold_seconds": 4}
        if not meta:
            faults["retry_after_seconds"] = 1  # Twilio's Retry-After on a 429
        await deployed.emulator.patch_faults(**faults)
        stop_flipping = asyncio.Event()
        flipper = asyncio.create_task(flip_create_before_failing(deployed.emulator, stop_flipping))
        planned = plan_messages(count, to, "faulty")
        try:
            run = await send_messages(
                deployed.gateway.api_urls,
                deployed.headers,
                planned,
                concurrency=LOAD_CONCURRENCY,
                deadline=time.monotonic() + LOAD_DEADLINE_SECONDS,
                idempotency_keys=True,
                retry=True,
            )
            assert not run.unexpected, run.unexpected[:5]
            assert len(run.accepted) == count, describe(run)
            drained_after = await drain_or_fail(deployed, run, timeout=240)
        finally:
            stop_flipping.set()
            flips = await flipper
        result = await audit(deployed.database_url, deployed.emulator, run.accepted, planned_tokens(planned))
        emulator_stats = await deployed.emulator.stats()
        cpu = deployed.cpu_seconds()
        deployed.check_processes()

    injected = {
        key.removeprefix("outcome."): value
        for key, value in emulator_stats.items()
        if key.startswith("outcome.") and key != "outcome.fetched"
    }
    dispatch_report.record(
        "2_thirty_percent_provider_failures" + ("_meta" if meta else ""),
        {
            "failure_kinds": ALL_FAILURES,
            "create_before_failing_flips": flips,
            **result.summary(),
            **describe(run),
            "emulator_outcomes": injected,
            "drain_seconds_after_load": round(drained_after, 1),
            "seconds_total": round(time.monotonic() - started, 1),
            "cpu_seconds": cpu,
        },
    )
    if result.duplicates:
        print(f"\nmessages the emulator received more than once: {result.duplicates}")
    assert not result.problems(), result.problems()
    assert result.created_after_failure > 0, "no failure struck after creating a message: nothing reconciled"
    for kind in ("rate_limited", "server_error", "unavailable", "timed_out", "dropped"):
        assert injected.get(kind, 0) > 0, f"the emulator never failed with {kind}: {injected}"
    # Every accepted message reached the emulator once, or failed for good (attempts exhausted; on Meta,
    # unconfirmed).
    assert result.sent_once + result.statuses.get("failed", 0) >= count
    if meta:
        assert result.lost_answers_settled > 0, "no status report settled a send whose answer was lost"
        assert result.unconfirmed > 0, "no send went unanswered without creating its message"
        # A message whose status report came is never failed as unconfirmed: Meta has it.
        assert not result.reported_but_failed, result.reported_but_failed[:10]


# -- (3) ----------------------------------------------------------------------------------------------

OWNER_LINE = re.compile(r"wa-gateway worker (\S+): dispatching from")


def owner_of(log: Path) -> str:
    match = OWNER_LINE.search(log.read_text(errors="replace"))
    assert match, f"no owner line in {log}"
    return match.group(1)


async def leased_by(database_url: str, owner: str) -> list[str]:
    async with await psycopg.AsyncConnection.connect(libpq_url(database_url), connect_timeout=5) as db:
        rows = await (
            await db.execute("SELECT message_id::text FROM dispatch_jobs WHERE lease_owner = %s", (owner,))
        ).fetchall()
    return [row[0] for row in rows]


async def largest_claim_of(database_url: str, owner: str) -> int:
    """How many of ``owner``'s jobs share one lease end: a claim leases its batch with one lease, and a
    send that starts soon after its claim sends under it without renewing it."""
    async with await psycopg.AsyncConnection.connect(libpq_url(database_url), connect_timeout=5) as db:
        row = await (
            await db.execute(
                "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM dispatch_jobs"
                " WHERE lease_owner = %s GROUP BY lease_expires_at) AS claims",
                (owner,),
            )
        ).fetchone()
    return int(row[0]) if row else 0


async def message_tokens(database_url: str, message_ids: list[str]) -> list[str]:
    async with await psycopg.AsyncConnection.connect(libpq_url(database_url), connect_timeout=5) as db:
        rows = await (
            await db.execute("SELECT body FROM messages WHERE id::text = ANY(%s)", (message_ids,))
        ).fetchall()
    return [token for (body,) in rows if (token := token_of(body)) is not None]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_worker_killed_mid_batch_loses_nothing_and_its_jobs_are_redone_once(
    provider: str, load_database: str, tmp_path: Path, dispatch_report: DispatchReport
) -> None:
    meta = provider == "meta"
    count = 500 if meta else 2_000
    lease_seconds = 8
    started = time.monotonic()
    # The lease outlasts a provider call (the timeout) with room to spare, as it must in production.
    settings = {"DISPATCH_LEASE_SECONDS": str(lease_seconds), "PROVIDER_TIMEOUT_SECONDS": "4"}
    if meta:
        settings["DISPATCH_UNCONFIRMED_AFTER_SECONDS"] = str(META_UNCONFIRMED_AFTER_SECONDS)
    async with deployment(
        tmp_path, load_database, apis=2, workers=0, settings=settings, provider=provider
    ) as deployed:
        if meta:
            # Meta cannot be asked: what the victim sent is settled by its status webhooks alone.
            await deployed.emulator.patch_callbacks(
                statuses=["sent"], step_delay_seconds=1, retry_attempts=5, retry_delay_seconds=1
            )
        else:
            # No status callback in time to help: only the lease and the lookup can settle the victim's jobs.
            await deployed.emulator.patch_callbacks(statuses=["sent"], step_delay_seconds=120)
        to = contacts(100)
        await deployed.open_windows(to)
        planned = plan_messages(count, to, "crash")
        # The backlog first, then the workers: each claims batch after batch from a full queue.
        run = await send_messages(
            deployed.gateway.api_urls,
            deployed.headers,
            planned,
            concurrency=LOAD_CONCURRENCY,
            deadline=time.monotonic() + LOAD_DEADLINE_SECONDS,
            idempotency_keys=True,
            retry=True,
        )
        assert not run.unexpected, run.unexpected[:5]
        assert len(run.accepted) == count, describe(run)
        # While the victim dies, the provider creates each message at once and holds the answer: the
        # victim's batch is at the provider, and the victim never learns it (the dangerous case).
        await deployed.emulator.patch_faults(
            failure_rate=1.0, failure_kinds=["timeout"], create_before_failing=True, hold_seconds=30
        )
        for _ in range(4):
            deployed.gateway.start_worker()
        await asyncio.to_thread(deployed.gateway.wait_ready)
        victim = deployed.gateway.workers[0]
        victim_owner = owner_of(victim.log_path)
        held: list[str] = []

        def victim_busy() -> bool:
            return len(held) >= 20

        async def watch() -> None:
            nonlocal held
            while not victim_busy():
                held = await leased_by(deployed.database_url, victim_owner)
                await asyncio.sleep(0.02)

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(watch(), 60)
        assert victim_busy(), f"the victim never held 20 jobs (held {len(held)})"
        await asyncio.sleep(1.0)  # its requests reach the provider and wait for their answers
        victim.kill()  # SIGKILL: no drain, no goodbye; its leases stay until they run out
        killed_at = time.monotonic()
        await deployed.emulator.patch_faults(failure_rate=0.0)
        left_behind = await leased_by(deployed.database_url, victim_owner)
        largest_claim = await largest_claim_of(deployed.database_url, victim_owner)
        # Nobody else may touch the victim's jobs before its lease ends: what is at the provider now, it sent.
        tokens_of = await message_tokens(deployed.database_url, left_behind)
        at_provider = {token_of(m.body) for m in await deployed.emulator.created_messages()}
        sent_before_dying = sum(1 for token in tokens_of if token in at_provider)
        drained_after = await drain_or_fail(deployed, run, timeout=240)
        redone_after = time.monotonic() - killed_at
        result = await audit(deployed.database_url, deployed.emulator, run.accepted, planned_tokens(planned))
        async with await psycopg.AsyncConnection.connect(libpq_url(deployed.database_url)) as db:
            rows = await (
                await db.execute(
                    "SELECT status, count(*) FROM messages WHERE id::text = ANY(%s) GROUP BY status",
                    (left_behind,),
                )
            ).fetchall()
        victims_jobs = {row[0]: row[1] for row in rows}
        emulator_stats = await deployed.emulator.stats()
        cpu = deployed.cpu_seconds()
        deployed.gateway.workers.remove(victim)  # it is dead already; the others must still be alive
        deployed.check_processes()

    settled_by = (
        {"status_webhooks_taken": emulator_stats.get("webhooks.status.ok", 0)}
        if meta
        else {"lookups_at_the_emulator": emulator_stats.get("outcome.listed", 0)}
    )
    dispatch_report.record(
        "3_worker_sigkilled_mid_batch" + ("_meta" if meta else ""),
        {
            "lease_seconds": lease_seconds,
            "jobs_leased_by_victim_at_kill": len(left_behind),
            "largest_batch_of_them_under_one_lease": largest_claim,
            "of_which_the_emulator_had_created_already": sent_before_dying,
            **settled_by,
            "victims_jobs_final_statuses": victims_jobs,
            **result.summary(),
            **describe(run),
            "seconds_from_kill_to_drained": round(redone_after, 1),
            "drain_seconds_after_load": round(drained_after, 1),
            "seconds_total": round(time.monotonic() - started, 1),
            "cpu_seconds": cpu,
        },
    )
    if result.duplicates:
        print(f"\nmessages the emulator received more than once: {result.duplicates}")
    assert not result.problems(), result.problems()
    assert "accepted" not in victims_jobs
    assert largest_claim > 1, "the victim never sent a batch of jobs under the lease of their claim"
    assert sent_before_dying > 0, "the victim died before any of its requests reached the provider"
    if meta:
        # What the victim had leased but not yet sent cannot be told from what it sent: it fails as
        # unconfirmed, and the rest reached Meta once.
        assert result.emulator_created + result.unconfirmed == count, result.summary()
        assert result.statuses.get("failed", 0) == result.unconfirmed, result.statuses
        assert not result.reported_but_failed, result.reported_but_failed[:10]
    else:
        assert result.emulator_created == count


# -- (4) ----------------------------------------------------------------------------------------------


@pytest.fixture
def private_cluster() -> Iterator[PrivateCluster]:
    import os

    try:
        with private_postgres_cluster(free_port()) as cluster:
            yield cluster
    except PrivateClusterUnavailable as error:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {error}", pytrace=False)
        pytest.skip(str(error))


async def readiness(url: str) -> int | None:
    try:
        async with httpx.AsyncClient(timeout=5, trust_env=False) as client:
            return (await client.get(f"{url}/readyz")).status_code
    except httpx.TransportError:
        return None


async def test_postgres_restarted_under_load_answers_503_then_recovers_and_sends_everything(
    private_cluster: PrivateCluster, tmp_path: Path, dispatch_report: DispatchReport
) -> None:
    count = 2_000
    outage_seconds = 5.0
    started = time.monotonic()
    database_url = private_cluster.url_for(await asyncio.to_thread(private_cluster.create_database))
    settings = {"DB_POOL_SIZE": "5", "PROVIDER_TIMEOUT_SECONDS": "2", "DISPATCH_LEASE_SECONDS": "10"}
    async with deployment(tmp_path, database_url, apis=2, workers=4, settings=settings) as deployed:
        await deployed.emulator.patch_callbacks(statuses=["sent"], step_delay_seconds=0.5)
        to = contacts(100)
        await deployed.open_windows(to)
        planned = plan_messages(count, to, "outage")
        api_pids = [process.pid for process in deployed.gateway.apis]
        run = LoadRun()
        load = asyncio.create_task(
            send_messages(
                deployed.gateway.api_urls,
                deployed.headers,
                planned,
                concurrency=32,
                deadline=time.monotonic() + LOAD_DEADLINE_SECONDS,
                idempotency_keys=True,
                retry=True,
                run=run,
            )
        )
        await eventually(lambda: len(run.accepted) >= count // 4 or load.done(), timeout=120)
        assert not load.done(), "the load ended before the outage"
        before = Counter(run.answers)
        await asyncio.to_thread(private_cluster.stop, immediate=True)
        down_at = time.monotonic()
        readiness_while_down: Counter[str] = Counter()
        while time.monotonic() - down_at < outage_seconds:
            readiness_while_down[str(await readiness(deployed.gateway.api_urls[0]))] += 1
            await asyncio.sleep(0.25)
        during = Counter(run.answers)
        during.subtract(before)
        await asyncio.to_thread(private_cluster.start)
        up_at = time.monotonic()
        accepted_at_restart = len(run.accepted)
        await eventually(lambda: len(run.accepted) > accepted_at_restart, timeout=60)
        first_accept_after_restart = time.monotonic() - up_at
        await load
        drained_after = await drain_or_fail(deployed, run, timeout=240)
        result = await audit(database_url, deployed.emulator, run.accepted, planned_tokens(planned))
        state = await queue_state(database_url)
        cpu = deployed.cpu_seconds()
        deployed.check_processes()
        same_processes = [process.pid for process in deployed.gateway.apis] == api_pids

    dispatch_report.record(
        "4_postgres_restarted_under_load",
        {
            "outage_seconds": outage_seconds,
            "answers_while_down": {str(k): v for k, v in sorted(during.items()) if v},
            "readyz_while_down": dict(readiness_while_down),
            "server_errors_other_than_503": run.server_errors,
            "seconds_to_first_accept_after_restart": round(first_accept_after_restart, 1),
            "api_processes_restarted": not same_processes,
            **result.summary(),
            **describe(run),
            "drain_seconds_after_load": round(drained_after, 1),
            "seconds_total": round(time.monotonic() - started, 1),
            "cpu_seconds": cpu,
        },
    )
    if result.duplicates:
        print(f"\nmessages the emulator received more than once: {result.duplicates}")
    assert run.server_errors == 0, f"5xx other than 503: {run.unexpected[:5]}"
    assert not run.unexpected, run.unexpected[:5]
    assert during[503] > 0, f"no 503 while the database was down: {dict(during)}"
    assert readiness_while_down.get("503", 0) > 0
    assert same_processes
    assert not run.given_up, f"{len(run.given_up)} message(s) never accepted; {describe(run)}"
    assert not result.problems(), result.problems()
    assert result.sent_once == count
    assert state.outbound == count, "a client retry with its Idempotency-Key stored a second message"


# -- (5) ----------------------------------------------------------------------------------------------


async def test_idempotency_keys_over_http_on_postgres(
    load_database: str, tmp_path: Path, dispatch_report: DispatchReport
) -> None:
    started = time.monotonic()
    async with deployment(tmp_path, load_database, apis=2, workers=1) as deployed:
        to = contacts(3)
        await deployed.open_windows(to)
        first_api, second_api = deployed.gateway.api_urls
        counts: dict[str, Any] = {}
        async with httpx.AsyncClient(timeout=30, trust_env=False) as client:

            async def send(
                api: str, key: str, body: dict[str, str], *, prefer_async: bool = False
            ) -> httpx.Response:
                headers = {**deployed.headers, "Idempotency-Key": key}
                if prefer_async:
                    headers["Prefer"] = "respond-async"
                return await client.post(f"{api}/api/send", json=body, headers=headers)

            # Same key, same body: the first answer again, nothing sent again.
            first_body = {"to_number": to[0], "body": f"once token={secrets.token_hex(16)}"}
            first = await send(first_api, "order-1", first_body)
            again = await send(second_api, "order-1", first_body)
            assert first.status_code in (201, 202), first.text
            assert again.status_code == first.status_code
            assert again.json()["id"] == first.json()["id"]
            assert again.headers.get("Idempotent-Replayed") == "true"
            assert first.headers.get("Idempotent-Replayed") is None

            # Same key, another body: refused, and nothing stored or sent for it.
            other = await send(first_api, "order-1", {**first_body, "body": "something else"})
            assert other.status_code == 422, other.text
            assert other.json()["type"].endswith("idempotency-key-reused")

            # Twenty at once with one key, on both API processes: one message, one send.
            race_body = {"to_number": to[1], "body": f"race token={secrets.token_hex(16)}"}
            racers = await asyncio.gather(
                *(send((first_api, second_api)[n % 2], "order-2", race_body) for n in range(20))
            )
            race_answers = Counter(response.status_code for response in racers)
            race_ids = {response.json()["id"] for response in racers if response.status_code in (201, 202)}
            assert set(race_answers) <= {201, 202, 409}, race_answers
            assert len(race_ids) == 1, race_ids
            replays = sum(1 for r in racers if r.headers.get("Idempotent-Replayed") == "true")
            after_race = await send(second_api, "order-2", race_body)
            assert after_race.status_code in (201, 202)
            assert after_race.json()["id"] in race_ids

            # The same race asking to respond async: the 202 is settled by the commit that accepts the
            # message, so every other request gets the replay (none has to wait on a 409).
            async_body = {"to_number": to[1], "body": f"async race token={secrets.token_hex(16)}"}
            async_racers = await asyncio.gather(
                *(
                    send((first_api, second_api)[n % 2], "order-2b", async_body, prefer_async=True)
                    for n in range(20)
                )
            )
            async_answers = Counter(response.status_code for response in async_racers)
            async_ids = {response.json()["id"] for response in async_racers if response.status_code == 202}
            assert set(async_answers) <= {202, 409}, async_answers
            assert len(async_ids) == 1, async_ids

            # A request refused by validation does not use its key up.
            invalid = await send(first_api, "order-3", {"to_number": "12345", "body": "hi"})
            assert invalid.status_code == 422, invalid.text
            window_closed = await send(first_api, "order-3", {"to_number": "+14155559999", "body": "hi"})
            assert window_closed.status_code == 422, window_closed.text
            assert window_closed.json()["type"].endswith("session-window-closed")
            valid_body = {"to_number": to[2], "body": f"later token={secrets.token_hex(16)}"}
            valid = await send(first_api, "order-3", valid_body)
            assert valid.status_code in (201, 202), valid.text
            assert valid.headers.get("Idempotent-Replayed") is None

        accepted = {
            token_of(body["body"]) or "": str(response.json()["id"])
            for body, response in (
                (first_body, first),
                (race_body, after_race),
                (async_body, async_racers[0]),
                (valid_body, valid),
            )
        }
        planned = set(accepted)
        state, _ = await wait_until_drained(deployed.database_url, 60)
        result = await audit(deployed.database_url, deployed.emulator, accepted, planned)
        counts = {
            "replay_status": again.status_code,
            "different_body_status": other.status_code,
            "race_answers": {str(k): v for k, v in sorted(race_answers.items())},
            "race_replays": replays,
            "race_distinct_messages": len(race_ids),
            "async_race_answers": {str(k): v for k, v in sorted(async_answers.items())},
            "async_race_distinct_messages": len(async_ids),
            "invalid_then_valid_statuses": [
                invalid.status_code,
                window_closed.status_code,
                valid.status_code,
            ],
            "stored_messages": state.outbound,
            "emulator_created": result.emulator_created,
            "duplicates": len(result.duplicates),
            "seconds_total": round(time.monotonic() - started, 1),
            "cpu_seconds": deployed.cpu_seconds(),
        }
        deployed.check_processes()

    dispatch_report.record("5_idempotency_over_http", counts)
    assert state.outbound == 4, "one message per key: order-1, order-2, order-2b, order-3"
    assert result.emulator_created == 4
    assert not result.duplicates
    assert state.pending == 0
