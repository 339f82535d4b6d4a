"""/api/webhooks over HTTP, through the real app: the database, the provider, the URL guard and the
webhook sender replaced by fakes; the app's own webhook worker delivers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import httpx
import pytest
import standardwebhooks

from application.ports.tenant_webhooks import WebhookResponse
from domain.tenant_webhooks.model import WebhookEventType
from entrypoints.http.tenant_webhooks.schemas import EventName
from tests.support.api import Api, ApiOptions, assert_problem
from tests.support.fakes import FixedClock

URL = "https://crm.example.com/hooks/whatsapp"
EVENTS = ["message.received", "message.status", "message.failed"]


@pytest.fixture
def api_options() -> ApiOptions:
    """The app's own webhook worker polls often, so deliveries happen within a test."""
    return ApiOptions(
        settings={"SEND_WAIT_SECONDS": "0.5", "WEBHOOK_POLL_SECONDS": "0.02"},
        session_window_check=frozenset({"globex"}),
    )


async def create(api: Api, headers: dict[str, str], **body: Any) -> httpx.Response:
    """Register an endpoint for URL and EVENTS, with whatever else ``body`` says."""
    return await api.client.post(
        "/api/webhooks", json={"url": URL, "events": EVENTS, **body}, headers=headers
    )


async def wait_for(condition: Any, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition never held")


# --------------------------------------------------------------------------------------------- endpoints


async def test_an_admin_registers_an_endpoint_and_gets_its_secret_once(api: Api) -> None:
    headers = await api.login(api.acme)

    response = await create(api, headers, description="CRM")

    assert response.status_code == 201, response.text
    created = response.json()
    assert created["secret"].startswith("whsec_")
    assert created["url"] == URL
    assert created["events"] == sorted(EVENTS)
    assert (created["enabled"], created["description"], created["disabled_reason"]) == (True, "CRM", None)
    assert response.headers["location"] == f"/api/webhooks/{created['id']}"
    shown = (await api.client.get(f"/api/webhooks/{created['id']}", headers=headers)).json()
    assert "secret" not in shown
    assert shown == {key: value for key, value in created.items() if key != "secret"}
    listed = (await api.client.get("/api/webhooks", headers=headers)).json()
    assert [item["id"] for item in listed["items"]] == [created["id"]]
    assert "secret" not in listed["items"][0]


async def test_agents_get_403_and_strangers_401(api: Api) -> None:
    agent = await api.bearer("ana")

    assert_problem(await create(api, agent), 403, "forbidden")
    assert_problem(await api.client.get("/api/webhooks", headers=agent), 403, "forbidden")
    assert_problem(await api.client.get("/api/webhooks"), 401, "invalid-token")


@pytest.mark.parametrize(
    ("body", "status", "problem"),
    [
        ({"events": ["message.sent"]}, 400, "validation-failed"),
        ({"events": []}, 400, "validation-failed"),
        ({"url": "ftp://crm.example.com/x"}, 422, "invalid-webhook-endpoint"),
        ({"url": "https://user:secret@crm.example.com/x"}, 422, "invalid-webhook-endpoint"),
        ({"url": "http://localhost:9000/hook"}, 422, "webhook-url-refused"),
        ({"colour": "blue"}, 400, "validation-failed"),
    ],
)
async def test_bad_endpoints_are_problems(api: Api, body: dict[str, Any], status: int, problem: str) -> None:
    headers = await api.login(api.acme)

    assert_problem(await create(api, headers, **body), status, problem)
    assert api.database.webhook_endpoints.all() == []


async def test_update_and_delete(api: Api) -> None:
    headers = await api.login(api.acme)
    endpoint_id = (await create(api, headers)).json()["id"]
    path = f"/api/webhooks/{endpoint_id}"

    updated = await api.client.patch(
        path, json={"events": ["message.failed"], "enabled": False}, headers=headers
    )
    refused = await api.client.patch(path, json={"url": "http://localhost/x"}, headers=headers)
    deleted = await api.client.delete(path, headers=headers)

    assert updated.status_code == 200, updated.text
    assert (updated.json()["events"], updated.json()["enabled"], updated.json()["url"]) == (
        ["message.failed"],
        False,
        URL,
    )
    assert_problem(refused, 422, "webhook-url-refused")
    assert deleted.status_code == 204
    assert_problem(await api.client.get(path, headers=headers), 404, "not-found")
    assert_problem(await api.client.delete(path, headers=headers), 404, "not-found")


async def test_rotating_shows_a_new_secret_and_keeps_the_old_one_for_the_overlap(api: Api) -> None:
    headers = await api.login(api.acme)
    created = (await create(api, headers)).json()
    path = f"/api/webhooks/{created['id']}/rotate-secret"

    default = await api.client.post(path, headers=headers)
    short = await api.client.post(path, json={"overlap_seconds": 60}, headers=headers)
    too_long = await api.client.post(path, json={"overlap_seconds": 8 * 24 * 3600}, headers=headers)

    assert default.status_code == 200, default.text
    assert default.json()["secret"] not in (created["secret"], short.json()["secret"])
    first_expiry = datetime.fromisoformat(default.json()["previous_secret_expires_at"])
    second_expiry = datetime.fromisoformat(short.json()["previous_secret_expires_at"])
    assert first_expiry - second_expiry > timedelta(hours=23)
    assert_problem(too_long, 400, "validation-failed")


async def test_another_tenants_endpoint_is_not_found_on_every_route(api: Api) -> None:
    theirs = (await create(api, await api.login(api.globex))).json()["id"]
    headers = await api.login(api.acme)
    delivery = "msg_" + "0" * 26

    for method, path, body in [
        ("GET", f"/api/webhooks/{theirs}", None),
        ("PATCH", f"/api/webhooks/{theirs}", {"enabled": False}),
        ("DELETE", f"/api/webhooks/{theirs}", None),
        ("POST", f"/api/webhooks/{theirs}/rotate-secret", None),
        ("GET", f"/api/webhooks/{theirs}/deliveries", None),
        ("GET", f"/api/webhooks/{theirs}/deliveries/{delivery}", None),
        ("POST", f"/api/webhooks/{theirs}/deliveries/{delivery}/replay", None),
    ]:
        response = await api.client.request(method, path, json=body, headers=headers)
        assert_problem(response, 404, "not-found")
    endpoint = api.database.webhook_endpoints.all()[0]
    assert endpoint.enabled


# -------------------------------------------------------------------------------------------- deliveries


async def test_a_sent_message_reaches_the_endpoint_signed_and_shows_in_its_deliveries(
    api: Api,
) -> None:
    headers = await api.login(api.acme)
    created = (await create(api, headers, events=["message.status"])).json()

    sent = await api.client.post(
        "/api/send", json={"to_number": "+14155550123", "body": "Your order shipped"}, headers=headers
    )
    assert sent.status_code == 201, sent.text
    await wait_for(lambda: len(api.webhook_sender.requests) == 1)

    [request] = api.webhook_sender.requests
    payload = standardwebhooks.Webhook(created["secret"]).verify(request.body, dict(request.headers))
    assert payload["type"] == "message.status"
    assert payload["data"]["id"] == sent.json()["id"]
    assert payload["data"]["status"] == "queued"
    path = f"/api/webhooks/{created['id']}/deliveries"
    await wait_for(lambda: api.database.webhook_deliveries.all()[0].state.value == "delivered")
    page = (await api.client.get(path, headers=headers)).json()
    [item] = page["items"]
    assert item["id"] == request.headers["webhook-id"]
    assert (item["state"], item["event_type"], item["last_status_code"]) == (
        "delivered",
        "message.status",
        200,
    )
    assert item["payload"] == payload
    assert item["next_attempt_at"] is None
    assert [(a["status_code"], a["response_excerpt"]) for a in item["attempts"]] == [(200, "ok")]
    assert page["next_cursor"] is None
    one = (await api.client.get(f"{path}/{item['id']}", headers=headers)).json()
    assert one == item


async def test_a_dead_delivery_is_replayed_with_the_same_id(api: Api) -> None:
    headers = await api.login(api.acme)
    created = (await create(api, headers, events=["message.status"])).json()
    api.webhook_sender.will_answer(WebhookResponse(duration_ms=2, status_code=410, body_excerpt="gone"))
    await api.client.post("/api/send", json={"to_number": "+14155550123", "body": "hi"}, headers=headers)
    await wait_for(lambda: api.database.webhook_deliveries.all()[0].state.value == "dead")
    endpoint_path = f"/api/webhooks/{created['id']}"
    delivery_id = api.database.webhook_deliveries.all()[0].id
    replay_path = f"{endpoint_path}/deliveries/{delivery_id}/replay"

    disabled = (await api.client.get(endpoint_path, headers=headers)).json()
    refused = await api.client.post(replay_path, headers=headers)
    await api.client.patch(endpoint_path, json={"enabled": True}, headers=headers)
    replayed = await api.client.post(replay_path, headers=headers)

    assert (disabled["enabled"], "410" in disabled["disabled_reason"]) == (False, True)
    assert_problem(refused, 409, "webhook-endpoint-disabled")
    assert replayed.status_code == 202, replayed.text
    assert (replayed.json()["id"], replayed.json()["state"]) == (delivery_id, "pending")
    await wait_for(lambda: len(api.webhook_sender.requests) == 2)
    assert [r.headers["webhook-id"] for r in api.webhook_sender.requests] == [delivery_id, delivery_id]
    await wait_for(lambda: api.database.webhook_deliveries.all()[0].state.value == "delivered")
    final = (await api.client.get(f"{endpoint_path}/deliveries/{delivery_id}", headers=headers)).json()
    assert [a["status_code"] for a in final["attempts"]] == [410, 200]


async def test_delivery_pages_filters_and_bad_ids(api: Api) -> None:
    headers = await api.login(api.acme)
    endpoint_id = (await create(api, headers, events=["message.status"])).json()["id"]
    clock = FixedClock(datetime.now(UTC) - timedelta(seconds=10))
    for _ in range(3):
        await api.database.webhook_events.record(
            api.acme.tenant.id, WebhookEventType.MESSAGE_STATUS, "{}", clock.advance()
        )
    path = f"/api/webhooks/{endpoint_id}/deliveries"
    await wait_for(lambda: all(d.state.value == "delivered" for d in api.database.webhook_deliveries.all()))

    first = (await api.client.get(path, params={"limit": 2}, headers=headers)).json()
    rest = (
        await api.client.get(path, params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers)
    ).json()
    pending = (await api.client.get(path, params={"state": "pending"}, headers=headers)).json()

    assert len(first["items"]) == 2
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None
    assert pending["items"] == []
    assert_problem(
        await api.client.get(path, params={"cursor": "nope"}, headers=headers), 400, "invalid-cursor"
    )
    assert_problem(
        await api.client.get(path, params={"state": "lost"}, headers=headers), 400, "validation-failed"
    )
    assert_problem(await api.client.get(f"{path}/not-an-id", headers=headers), 400, "validation-failed")


def test_every_event_the_gateway_records_can_be_subscribed_to() -> None:
    assert set(get_args(EventName)) == {event.value for event in WebhookEventType}


async def test_an_endpoint_subscribes_to_paused_senders(api: Api) -> None:
    response = await api.client.post(
        "/api/webhooks",
        json={"url": "https://crm.example.com/hooks", "events": ["sender.paused"]},
        headers=await api.login(api.acme),
    )

    assert response.status_code == 201, response.text
    assert response.json()["events"] == ["sender.paused"]
