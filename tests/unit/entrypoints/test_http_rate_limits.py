"""Rate limits through the HTTP API: each 429 is a problem with Retry-After and the IETF httpapi
RateLimit / RateLimit-Policy fields. Login failures are in test_http_api.py and test_authenticate.py."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, cast

import httpx
import pytest
import structlog.testing
from dependency_injector import providers

from application.ports.providers import OutcomeKind, SendOutcome
from application.ports.rate_limits import RateLimit
from tests.support.api import ACCESS_CONTROL, PASSWORD, Api, ApiOptions, MakeApi, assert_problem
from tests.support.fakes import (
    FakeDatabase,
    FakeDispatchQueue,
    FakeMessagingProvider,
    FakePasswordHasher,
    FakeUnitOfWork,
)


@pytest.fixture
def api_options() -> ApiOptions:
    return ACCESS_CONTROL


def assert_rate_limited(response: httpx.Response, limit: int, window: int) -> None:
    assert_problem(response, 429, "too-many-requests")
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= window
    assert response.headers["ratelimit-policy"] == f'"default";q={limit};w={window}'
    assert response.headers["ratelimit"] == f'"default";r=0;t={retry_after}'


async def send(api: Api, headers: dict[str, str], body: str = "hi") -> httpx.Response:
    return await api.client.post(
        "/api/send", json={"to_number": "+14155550123", "body": body}, headers=headers
    )


async def test_a_platform_admin_sets_a_tenants_send_limits(api: Api) -> None:
    root = await api.bearer("root")
    tenant = api.acme.tenant.id

    patched = await api.client.patch(
        f"/admin/tenants/{tenant}", json={"sends_per_minute": 2, "sends_per_day": 50}, headers=root
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["sends_per_minute"], patched.json()["sends_per_day"]) == (2, 50)

    back_to_default = await api.client.patch(
        f"/admin/tenants/{tenant}", json={"sends_per_day": 0}, headers=root
    )
    assert (back_to_default.json()["sends_per_minute"], back_to_default.json()["sends_per_day"]) == (2, None)

    negative = await api.client.patch(f"/admin/tenants/{tenant}", json={"sends_per_minute": -1}, headers=root)
    assert_problem(negative, 400, "validation-failed")


async def test_sends_per_tenant_per_minute_are_limited(api: Api) -> None:
    root = await api.bearer("root")
    await api.client.patch(f"/admin/tenants/{api.acme.tenant.id}", json={"sends_per_minute": 2}, headers=root)
    alice, ana = await api.bearer("alice"), await api.bearer("ana")

    assert (await send(api, alice)).status_code == 201
    assert (await send(api, ana)).status_code == 201
    refused = await send(api, alice)

    assert_rate_limited(refused, limit=2, window=60)
    # Another tenant has its own count, under the defaults (Globex checks the session window: 422).
    assert (await send(api, await api.bearer("bob"))).status_code == 422
    # Nothing of the refused send was stored.
    listed = await api.client.get("/api/messages", headers=alice)
    assert len(listed.json()["items"]) == 2


async def test_a_retry_is_a_send_and_counts_against_the_same_limit(api: Api) -> None:
    root = await api.bearer("root")
    await api.client.patch(f"/admin/tenants/{api.acme.tenant.id}", json={"sends_per_minute": 2}, headers=root)
    alice = await api.bearer("alice")
    provider = FakeMessagingProvider()
    api.container.messaging_provider.override(providers.Object(provider))
    provider.will_return(SendOutcome(kind=OutcomeKind.REJECTED, error_code=21610, reason="opted out"))
    first, second = (await send(api, alice)).json(), (await send(api, alice)).json()
    assert (first["status"], second["status"]) == ("failed", "failed")
    assert_rate_limited(await send(api, alice), limit=2, window=60)

    retries = [await api.client.post(f"/api/messages/{first['id']}/retry", headers=alice) for _ in range(5)]

    for refused in retries:
        assert_rate_limited(refused, limit=2, window=60)
    # A refused retry changes nothing: the message is still failed, and nothing is queued to go out.
    message = (await api.client.get(f"/api/messages/{first['id']}", headers=alice)).json()
    assert (message["status"], message["error_code"]) == ("failed", 21610)
    assert api.database.jobs.all() == []
    assert len(provider.requests) == 2


async def test_sends_per_tenant_per_day_are_limited(api: Api) -> None:
    root = await api.bearer("root")
    await api.client.patch(f"/admin/tenants/{api.acme.tenant.id}", json={"sends_per_day": 1}, headers=root)
    alice = await api.bearer("alice")

    assert (await send(api, alice)).status_code == 201
    assert_rate_limited(await send(api, alice), limit=1, window=86_400)


async def test_requests_per_client_address_are_limited(api: Api) -> None:
    alice = await api.bearer("alice")
    api.container.request_limit_per_address.override(providers.Object(RateLimit(amount=3, per_seconds=60)))
    try:
        statuses = [(await api.client.get("/api/messages", headers=alice)).status_code for _ in range(3)]
        refused = await api.client.get("/api/messages", headers=alice)
    finally:
        api.container.request_limit_per_address.reset_override()

    assert statuses == [200, 200, 200]
    assert_rate_limited(refused, limit=3, window=60)


# ------------------------------------------------------------------------------- limits under concurrency


@asynccontextmanager
async def concurrent_client(api: Api, address: str = "203.0.113.7") -> AsyncIterator[httpx.AsyncClient]:
    """A client of the running app whose requests really run concurrently (the test client's run one
    at a time), from ``address``."""
    transport = httpx.ASGITransport(app=cast(Any, api.app), client=(address, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as client:
        yield client


def password_checks(api: Api) -> int:
    hasher = api.container.password_hasher()
    assert isinstance(hasher, FakePasswordHasher)
    return len(hasher.verified_hashes)


async def test_concurrent_wrong_logins_from_one_address_check_at_most_the_limit_of_passwords(
    api: Api,
) -> None:
    limit = api.container.login_failure_limit()
    checks_before = password_checks(api)

    async with concurrent_client(api) as client:
        responses = await asyncio.gather(
            *(
                client.post("/auth/login", json={"username": "alice", "password": "wrong-password"})
                for _ in range(3 * limit.amount)
            )
        )

    statuses = Counter(response.status_code for response in responses)
    assert password_checks(api) - checks_before <= limit.amount
    assert statuses == {401: limit.amount, 429: 2 * limit.amount}
    assert_rate_limited(next(r for r in responses if r.status_code == 429), limit.amount, limit.per_seconds)


async def test_concurrent_wrong_current_passwords_check_at_most_the_limit_of_passwords(api: Api) -> None:
    alice = await api.bearer("alice")
    limit = api.container.login_failure_limit()
    checks_before = password_checks(api)

    async with concurrent_client(api) as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    "/api/me/password",
                    json={"current_password": "wrong-password", "new_password": "a new long password"},
                    headers=alice,
                )
                for _ in range(25)
            )
        )

    statuses = Counter(response.status_code for response in responses)
    assert password_checks(api) - checks_before <= limit.amount
    assert statuses == {403: limit.amount, 429: 25 - limit.amount}


async def test_a_successful_login_gives_its_attempt_back(api: Api) -> None:
    limit = api.container.login_failure_limit()

    for _ in range(limit.amount + 2):
        assert (
            await api.client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
        ).is_success
    wrong = [
        (
            await api.client.post("/auth/login", json={"username": "alice", "password": "nope-nope"})
        ).status_code
        for _ in range(limit.amount + 1)
    ]

    assert wrong == [401] * limit.amount + [429]


# ------------------------------------------------------------------------------------ probes and scrapes


async def test_probes_and_metrics_scrapes_are_never_rate_limited(api: Api) -> None:
    alice = await api.bearer("alice")
    api.container.request_limit_per_address.override(providers.Object(RateLimit(amount=2, per_seconds=60)))
    try:
        probes = [
            (await api.client.get(path)).status_code
            for _ in range(5)
            for path in ("/healthz", "/readyz", "/metrics")
        ]
        first_calls = [(await api.client.get("/api/messages", headers=alice)).status_code for _ in range(2)]
        refused = await api.client.get("/api/messages", headers=alice)
        probes_after = [
            (await api.client.get(path)).status_code for path in ("/healthz", "/readyz", "/metrics")
        ]
    finally:
        api.container.request_limit_per_address.reset_override()

    assert probes == [200] * 15
    # The probes spent nothing of the address's budget.
    assert first_calls == [200, 200]
    assert_rate_limited(refused, limit=2, window=60)
    assert probes_after == [200, 200, 200]


# -------------------------------------------------------------------------------------- behind a proxy


@pytest.fixture
async def behind_a_load_balancer(make_api: MakeApi) -> Api:
    """The gateway configured to trust the load balancers in 10.0.0.0/8, with 2 requests a minute per
    client address."""
    return await make_api(TRUSTED_PROXIES="10.0.0.0/8", REQUESTS_PER_MINUTE_PER_IP="2")


async def unauthenticated_statuses(
    api: Api, peer: str, forwarded_for: str | None, times: int = 3
) -> list[int]:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    async with concurrent_client(api, peer) as client:
        # 401 (no credential) once counted, 429 once the address has spent its 2 requests.
        return [(await client.get("/api/messages", headers=headers)).status_code for _ in range(times)]


async def test_clients_behind_a_trusted_load_balancer_are_limited_each_by_its_own_address(
    behind_a_load_balancer: Api,
) -> None:
    api = behind_a_load_balancer

    first_client = await unauthenticated_statuses(api, "10.0.0.2", "203.0.113.7")
    second_client = await unauthenticated_statuses(api, "10.0.0.2", "198.51.100.1, 10.1.1.1")

    assert first_client == [401, 401, 429]
    assert second_client == [401, 401, 429]


async def test_a_client_cannot_escape_its_limit_by_forging_forwarding_headers(
    behind_a_load_balancer: Api,
) -> None:
    api = behind_a_load_balancer
    statuses = []
    async with concurrent_client(api, "203.0.113.9") as direct:
        for number in range(3):
            response = await direct.get("/api/messages", headers={"X-Forwarded-For": f"198.51.100.{number}"})
            statuses.append(response.status_code)
    # Through the load balancer, the same trick is the left part of the chain: not believed either.
    through_the_balancer = await unauthenticated_statuses(api, "10.0.0.2", "198.51.100.77, 203.0.113.50")
    more = await unauthenticated_statuses(api, "10.0.0.2", "198.51.100.78, 203.0.113.50", times=1)

    assert statuses == [401, 401, 429]
    assert through_the_balancer == [401, 401, 429]
    assert more == [429]


async def test_failed_logins_behind_a_load_balancer_hold_back_only_the_client_that_failed(
    behind_a_load_balancer: Api,
) -> None:
    api = behind_a_load_balancer
    api.container.request_limit_per_address.override(providers.Object(RateLimit(amount=600, per_seconds=60)))
    limit = api.container.login_failure_limit()
    wrong = {"username": "alice", "password": "wrong-password"}
    forwarded_for = {"X-Forwarded-For": "203.0.113.7"}

    async with concurrent_client(api, "10.0.0.2") as balancer:
        failures = [
            (await balancer.post("/auth/login", json=wrong, headers=forwarded_for)).status_code
            for _ in range(limit.amount + 1)
        ]
        other_client = await balancer.post(
            "/auth/login",
            json={"username": "alice", "password": PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.1"},
        )

    assert failures == [401] * limit.amount + [429]
    assert other_client.status_code == 200


async def test_the_access_log_records_the_client_behind_the_load_balancer(
    behind_a_load_balancer: Api,
) -> None:
    async with concurrent_client(behind_a_load_balancer, "10.0.0.2") as balancer:
        with structlog.testing.capture_logs() as logs:
            await balancer.get("/healthz", headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.7"})

    (access,) = [line for line in logs if line["event"] == "request"]
    assert access["client_address"] == "203.0.113.7"


async def test_probes_and_scrapes_are_logged_at_debug_and_other_unlimited_routes_at_info(api: Api) -> None:
    with structlog.testing.capture_logs() as logs:
        for path in ("/healthz", "/readyz", "/metrics"):
            await api.client.get(path)
        await api.client.post("/webhooks/twilio/status", data={})  # never rate limited, and no probe

    levels = {line["path"]: line["log_level"] for line in logs if line["event"] == "request"}
    assert levels == {
        "/healthz": "debug",
        "/readyz": "debug",
        "/metrics": "debug",
        "/webhooks/twilio/status": "info",
    }


class DatabaseVisits:
    """How often the database was asked whether it is up, and for the queue's depth. Each question waits
    for ``answer``: requests arriving meanwhile pile up, as they would behind a slow database."""

    def __init__(self) -> None:
        self.pings = 0
        self.depths = 0
        self.asked = asyncio.Event()
        self.answer = asyncio.Event()

    async def question(self) -> None:
        self.asked.set()
        await self.answer.wait()


class CountedJobs:
    def __init__(self, jobs: FakeDispatchQueue, visits: DatabaseVisits) -> None:
        self._jobs, self._visits = jobs, visits

    async def depth(self, now: datetime) -> tuple[int, datetime | None]:
        self._visits.depths += 1
        await self._visits.question()
        return await self._jobs.depth(now)


class VisitedUnitOfWork(FakeUnitOfWork):
    def __init__(self, database: FakeDatabase, visits: DatabaseVisits) -> None:
        super().__init__(database)
        self._visits = visits
        self.jobs = cast(FakeDispatchQueue, CountedJobs(database.jobs, visits))

    async def ping(self) -> None:
        self._visits.pings += 1
        await self._visits.question()
        await super().ping()


@pytest.mark.parametrize(("path", "visits_of"), [("/readyz", "pings"), ("/metrics", "depths")])
async def test_concurrent_probes_and_scrapes_share_one_question_to_the_database(
    api: Api, path: str, visits_of: str
) -> None:
    visits = DatabaseVisits()
    api.container.unit_of_work.override(providers.Factory(VisitedUnitOfWork, api.database, visits))

    async with concurrent_client(api) as client:
        requests = asyncio.gather(*(client.get(path) for _ in range(20)))
        await asyncio.wait_for(visits.asked.wait(), timeout=30)
        await asyncio.sleep(0.1)  # the other requests arrive, and wait for the same answer
        visits.answer.set()
        responses = await requests

    assert [response.status_code for response in responses] == [200] * 20
    assert getattr(visits, visits_of) == 1
