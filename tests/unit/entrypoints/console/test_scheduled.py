"""Scheduled sends in the console, through the real app with fakes behind it: the messages waiting for
their time, moved to another time (typed as UTC) or called off, and what is refused."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from entrypoints.console.pages.scheduled import utc_moment
from tests.support.api import Api, ApiOptions
from tests.support.console import ConsolePages, text_of

BODY = {"to_number": "+14155550123", "body": "Your appointment is tomorrow at 10"}


@pytest.fixture
def api_options() -> ApiOptions:
    # The app's clock stands still: the embedded dispatcher never reaches a scheduled message's time.
    return ApiOptions(fixed_clock=True)


async def signed_in(api: Api, username: str = "ana") -> ConsolePages:
    console = ConsolePages(api.client)
    await console.sign_in(username)
    return console


async def schedule(api: Api, delta: timedelta, username: str = "alice", **more: Any) -> dict[str, Any]:
    send_at = (api.clock.now() + delta).isoformat()
    response = await api.send(await api.bearer(username), **{**BODY, **more}, send_at=send_at)
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


async def message_over_api(api: Api, message_id: str) -> dict[str, Any]:
    response = await api.client.get(f"/api/messages/{message_id}", headers=await api.bearer("alice"))
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def local(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def listed_ids(page: str) -> list[str]:
    return re.findall(r'action="/console/scheduled/([0-9a-f-]{36})/cancel"', page)


async def test_the_scheduled_page_lists_the_tenants_waiting_messages_soonest_first_in_utc(api: Api) -> None:
    later = await schedule(api, timedelta(days=2))
    sooner = await schedule(api, timedelta(hours=3), body="Sooner")
    theirs = await schedule(api, timedelta(hours=1), username="bob", body="Globex secret")
    console = await signed_in(api)

    page = await console.get("/console/scheduled")
    text = text_of(page)

    assert listed_ids(page) == [sooner["id"], later["id"]]
    assert theirs["id"] not in page
    assert "Globex secret" not in text
    assert (api.clock.now() + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M") in text
    assert "read as UTC" in text
    assert f'value="{local(api.clock.now() + timedelta(hours=3))}"' in page
    assert 'href="/console/scheduled"' in await console.get("/console")


async def test_a_message_is_moved_to_the_time_typed_read_as_utc(api: Api) -> None:
    message = await schedule(api, timedelta(hours=3))
    console = await signed_in(api)
    new_time = (api.clock.now() + timedelta(days=1)).replace(second=0, microsecond=0)

    response = await console.submit(
        f"/console/scheduled/{message['id']}/reschedule",
        {"send_at": local(new_time)},
        from_page="/console/scheduled",
    )

    assert response.headers["location"] == "/console/scheduled?done=rescheduled"
    moved = await message_over_api(api, message["id"])
    assert datetime.fromisoformat(moved["send_at"]) == new_time
    assert "moved to its new time" in text_of(await console.get(response.headers["location"]))


@pytest.mark.parametrize(
    ("typed", "words"),
    [("tomorrow", "a date and time"), ("2020-01-01T10:00", "at least a minute ahead")],
    ids=["no time", "in the past"],
)
async def test_a_time_refused_comes_back_beside_its_message_and_moves_nothing(
    api: Api, typed: str, words: str
) -> None:
    message = await schedule(api, timedelta(hours=3))
    console = await signed_in(api)

    response = await console.submit(
        f"/console/scheduled/{message['id']}/reschedule",
        {"send_at": typed},
        from_page="/console/scheduled",
        expect=422,
    )

    assert words in text_of(response.text)
    assert f'id="problem-{message["id"]}"' in response.text
    assert (await message_over_api(api, message["id"]))["send_at"] == message["send_at"]


async def test_a_message_is_called_off_and_leaves_the_list(api: Api) -> None:
    message = await schedule(api, timedelta(hours=3))
    console = await signed_in(api)

    response = await console.submit(
        f"/console/scheduled/{message['id']}/cancel", from_page="/console/scheduled"
    )
    again = await console.submit(
        f"/console/scheduled/{message['id']}/cancel", from_page="/console/scheduled", expect=409
    )

    assert response.headers["location"] == "/console/scheduled?done=canceled"
    assert (await message_over_api(api, message["id"]))["status"] == "canceled"
    assert listed_ids(await console.get("/console/scheduled")) == []
    assert 'role="alert"' in again.text  # why: it is not scheduled any more


async def test_another_tenants_message_is_not_found_and_a_form_needs_its_csrf_token(api: Api) -> None:
    theirs = await schedule(api, timedelta(hours=3), username="bob")
    ours = await schedule(api, timedelta(hours=3))
    console = await signed_in(api)

    await console.submit(
        f"/console/scheduled/{theirs['id']}/cancel", from_page="/console/scheduled", expect=404
    )
    forged = await api.client.post(f"/console/scheduled/{ours['id']}/cancel", follow_redirects=False)

    assert forged.status_code == 403
    assert (await message_over_api(api, ours["id"]))["status"] == "scheduled"


async def test_a_platform_admin_has_no_scheduled_sends(api: Api) -> None:
    root = await signed_in(api, "root")

    await root.get("/console/scheduled", expect=403)


def test_a_typed_time_is_read_as_utc_with_or_without_seconds() -> None:
    assert utc_moment("2026-01-31T12:05") == datetime(2026, 1, 31, 12, 5, tzinfo=UTC)
    assert utc_moment(" 2026-01-31T12:05:30 ") == datetime(2026, 1, 31, 12, 5, 30, tzinfo=UTC)
