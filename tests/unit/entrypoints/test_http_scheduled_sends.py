"""Scheduled sends over HTTP: POST /api/send with send_at, GET /api/scheduled, PATCH
/api/messages/{id}/schedule, POST /api/messages/{id}/cancel."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from domain.messaging.messages import Direction
from tests.support.api import Api, ApiOptions, assert_problem

BODY = {"to_number": "+14155550123", "body": "Your appointment is tomorrow at 10"}


@pytest.fixture
def api_options() -> ApiOptions:
    # The app's clock stands still: the embedded dispatcher never reaches a scheduled message's time.
    return ApiOptions(fixed_clock=True)


def ahead(api: Api, delta: timedelta) -> str:
    return (api.clock.now() + delta).isoformat()


def utc_text(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


async def schedule(api: Api, headers: dict[str, str], delta: timedelta, **more: Any) -> dict[str, Any]:
    response = await api.send(headers, **BODY, send_at=ahead(api, delta), **more)
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def outbound(api: Api) -> list[Any]:
    return [m for m in api.database.messages.all() if m.direction is Direction.OUTBOUND]


async def test_a_send_with_send_at_answers_202_scheduled_and_sends_nothing_yet(api: Api) -> None:
    headers = await api.login(api.acme)

    response = await api.send(headers, **BODY, send_at=ahead(api, timedelta(hours=2)))

    assert response.status_code == 202
    assert response.headers["location"] == f"/api/messages/{response.json()['id']}"
    assert response.json()["status"] == "scheduled"
    assert utc_text(response.json()["send_at"]) == api.clock.now() + timedelta(hours=2)
    assert api.provider.requests == []


async def test_the_message_shows_its_send_at_and_the_history_filters_scheduled(api: Api) -> None:
    headers = await api.login(api.acme)
    message = await schedule(api, headers, timedelta(hours=2))
    await api.send(headers, **BODY)  # sent at once: no send_at

    one = (await api.client.get(f"/api/messages/{message['id']}", headers=headers)).json()
    history = (await api.client.get("/api/messages?status=scheduled", headers=headers)).json()

    assert one["send_at"] == message["send_at"]
    assert [item["id"] for item in history["items"]] == [message["id"]]


@pytest.mark.parametrize(
    ("delta", "words"),
    [(timedelta(seconds=30), "at least a minute ahead"), (timedelta(days=36), "at most 35 days ahead")],
    ids=["too soon", "too far"],
)
async def test_a_send_at_out_of_bounds_is_a_422_that_says_so_and_stores_nothing(
    api: Api, delta: timedelta, words: str
) -> None:
    headers = await api.login(api.acme)

    response = await api.send(headers, **BODY, send_at=ahead(api, delta))

    assert words in assert_problem(response, 422, "invalid-message")["detail"]
    assert outbound(api) == []


@pytest.mark.parametrize(
    "send_at", ["2026-12-24T09:00:00", "tomorrow", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"]
)
async def test_a_send_at_without_offset_or_utc_equivalent_is_refused_not_a_500(
    api: Api, send_at: str
) -> None:
    headers = await api.login(api.acme)

    response = await api.send(headers, **BODY, send_at=send_at)

    assert response.status_code in {400, 422}, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert outbound(api) == []


async def test_the_scheduled_list_shows_the_pending_ones_soonest_first(api: Api) -> None:
    headers = await api.login(api.acme)
    later = await schedule(api, headers, timedelta(days=3))
    sooner = await schedule(api, headers, timedelta(hours=1))
    canceled = await schedule(api, headers, timedelta(hours=2))
    await api.client.post(f"/api/messages/{canceled['id']}/cancel", headers=headers)
    await schedule(api, await api.login(api.globex), timedelta(minutes=5))

    first = (await api.client.get("/api/scheduled?limit=1", headers=headers)).json()
    rest = (
        await api.client.get(f"/api/scheduled?limit=1&cursor={first['next_cursor']}", headers=headers)
    ).json()

    assert [item["id"] for item in first["items"]] == [sooner["id"]]
    assert [item["id"] for item in rest["items"]] == [later["id"]]
    assert rest["next_cursor"] is None


async def test_a_history_cursor_is_not_a_scheduled_one(api: Api) -> None:
    headers = await api.login(api.acme)
    for _ in range(2):
        await api.send(headers, **BODY)
    history = (await api.client.get("/api/messages?limit=1", headers=headers)).json()

    response = await api.client.get(f"/api/scheduled?cursor={history['next_cursor']}", headers=headers)

    assert_problem(response, 400, "invalid-cursor")


async def test_a_scheduled_message_is_moved_to_another_time(api: Api) -> None:
    headers = await api.login(api.acme)
    message = await schedule(api, headers, timedelta(hours=1))

    response = await api.client.patch(
        f"/api/messages/{message['id']}/schedule",
        json={"send_at": ahead(api, timedelta(days=2))},
        headers=headers,
    )

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "scheduled"
    assert utc_text(response.json()["send_at"]) == api.clock.now() + timedelta(days=2)
    [job] = api.database.jobs.all()
    assert job.available_at == api.clock.now() + timedelta(days=2)


async def test_rescheduling_out_of_bounds_is_a_422_and_an_unknown_field_a_400(api: Api) -> None:
    headers = await api.login(api.acme)
    message = await schedule(api, headers, timedelta(hours=1))
    path = f"/api/messages/{message['id']}/schedule"

    too_far = await api.client.patch(path, json={"send_at": ahead(api, timedelta(days=40))}, headers=headers)
    unknown = await api.client.patch(
        path, json={"send_at": ahead(api, timedelta(days=1)), "note": "x"}, headers=headers
    )

    assert_problem(too_far, 422, "invalid-message")
    assert unknown.status_code == 400
    current = (await api.client.get(f"/api/messages/{message['id']}", headers=headers)).json()
    assert current["send_at"] == message["send_at"]


async def test_a_scheduled_message_is_canceled_once(api: Api) -> None:
    headers = await api.login(api.acme)
    message = await schedule(api, headers, timedelta(hours=1))

    canceled = await api.client.post(f"/api/messages/{message['id']}/cancel", headers=headers)
    again = await api.client.post(f"/api/messages/{message['id']}/cancel", headers=headers)
    moved = await api.client.patch(
        f"/api/messages/{message['id']}/schedule",
        json={"send_at": ahead(api, timedelta(hours=3))},
        headers=headers,
    )

    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "canceled"
    assert assert_problem(again, 409, "not-scheduled")["detail"]
    assert_problem(moved, 409, "not-scheduled")
    assert api.database.jobs.all() == []


async def test_a_message_sent_at_once_cannot_be_rescheduled_or_canceled(api: Api) -> None:
    headers = await api.login(api.acme)
    sent = (await api.send(headers, **BODY)).json()

    moved = await api.client.patch(
        f"/api/messages/{sent['id']}/schedule",
        json={"send_at": ahead(api, timedelta(hours=3))},
        headers=headers,
    )
    canceled = await api.client.post(f"/api/messages/{sent['id']}/cancel", headers=headers)

    assert_problem(moved, 409, "not-scheduled")
    assert_problem(canceled, 409, "not-scheduled")


async def test_another_tenants_scheduled_message_is_a_404(api: Api) -> None:
    message = await schedule(api, await api.login(api.acme), timedelta(hours=1))
    globex = await api.login(api.globex)

    canceled = await api.client.post(f"/api/messages/{message['id']}/cancel", headers=globex)

    assert_problem(canceled, 404, "not-found")
    assert [m.status.value for m in outbound(api)] == ["scheduled"]
