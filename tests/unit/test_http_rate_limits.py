"""Rate limits through the HTTP API: each 429 is a problem with Retry-After and the IETF httpapi
RateLimit / RateLimit-Policy fields. Login failures are in test_http_api.py and test_authenticate.py."""

from __future__ import annotations

import httpx
from dependency_injector import providers

from application.ports import OutcomeKind, RateLimit, SendOutcome
from tests.unit.fakes import FakeMessagingProvider
from tests.unit.test_http_access import Api, api
from tests.unit.test_http_api import assert_problem

__all__ = ["api"]


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
