"""Conversations, the 24-hour window, templates and status timelines through the real Litestar app."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from application.ports.messages import StatusChange
from domain.messaging.messages import Direction, MessageStatus, Template
from tests.support.api import Api, ApiOptions, assert_problem
from tests.support.fakes import FakeUnitOfWork, TenantAccount, open_window, provision_account

CUSTOMER = "+14155550123"
STRANGER = "+14155550199"
CONTENT_SID = "HX" + "0123456789abcdef" * 2


@pytest.fixture
def api_options() -> ApiOptions:
    """Both tenants check the 24-hour window, and the app's clock is one a test can move."""
    return ApiOptions(settings={}, session_window_check=frozenset({"acme", "globex"}), fixed_clock=True)


@pytest.fixture
async def demo(api: Api) -> TenantAccount:
    """A sandbox tenant with the window check off, as the demo tenant."""
    return await provision_account(
        FakeUnitOfWork(api.database),
        api.hasher,
        api.clock,
        name="Demo",
        username="demo",
        session_window_check=False,
    )


def outbound_bodies(api: Api) -> list[str]:
    return [m.content.body for m in api.database.messages.all() if m.direction is Direction.OUTBOUND]


# ------------------------------------------------------------------------------ 24-hour session window


async def test_free_form_to_a_contact_who_never_wrote_is_a_422_asking_for_a_template(api: Api) -> None:
    headers = await api.login(api.acme)

    response = await api.send(headers, to_number=STRANGER, body="Are you still interested?")

    problem = assert_problem(response, 422, "session-window-closed")
    assert problem["title"] == "Session window closed"
    assert "content_sid" in problem["detail"]
    assert "24-hour" in problem["detail"]
    assert problem["instance"] == "/api/send"
    assert outbound_bodies(api) == []
    assert api.provider.requests == []


async def test_media_outside_the_window_is_refused_too(api: Api) -> None:
    headers = await api.login(api.acme)
    await api.customer_writes(api.acme, CUSTOMER, timedelta(hours=30))

    response = await api.send(headers, to_number=CUSTOMER, media_url="https://example.com/a.png")

    problem = assert_problem(response, 422, "session-window-closed")
    assert "last wrote at" in problem["detail"]
    assert api.provider.requests == []


async def test_free_form_inside_the_window_is_sent(api: Api) -> None:
    headers = await api.login(api.acme)
    await api.customer_writes(api.acme, CUSTOMER, timedelta(hours=1))

    response = await api.send(headers, to_number=f"whatsapp:{CUSTOMER}", body="It ships today")

    assert response.status_code == 201, response.text
    assert response.json()["status"] == "queued"
    assert outbound_bodies(api) == ["It ships today"]


async def test_the_window_closes_24_hours_after_the_customers_message(api: Api) -> None:
    headers = await api.login(api.acme)
    await api.customer_writes(api.acme, CUSTOMER, timedelta(0))

    api.clock.advance(timedelta(hours=24) - timedelta(seconds=1))
    headers = await api.login(api.acme)  # hours later: the first access token has expired
    inside = await api.send(headers, to_number=CUSTOMER, body="still in time")
    api.clock.advance(timedelta(seconds=1))
    closed = await api.send(headers, to_number=CUSTOMER, body="too late")

    assert inside.status_code == 201, inside.text
    assert_problem(closed, 422, "session-window-closed")
    assert outbound_bodies(api) == ["still in time"]


async def test_a_template_is_sent_whatever_the_window(api: Api) -> None:
    headers = await api.login(api.acme)

    response = await api.send(
        headers, to_number=STRANGER, content_sid=CONTENT_SID, content_variables={"1": "12/1", "2": "3pm"}
    )

    assert response.status_code == 201, response.text
    message = response.json()
    assert message["content_sid"] == CONTENT_SID
    assert message["content_variables"] == {"1": "12/1", "2": "3pm"}
    assert message["body"] == ""
    assert message["media_urls"] == []
    [request] = api.provider.requests
    assert request.message.content.template == Template.of(CONTENT_SID, {"1": "12/1", "2": "3pm"})
    fetched = (await api.client.get(f"/api/messages/{message['id']}", headers=headers)).json()
    assert fetched["content_sid"] == CONTENT_SID
    assert fetched["content_variables"] == {"1": "12/1", "2": "3pm"}


async def test_a_sandbox_tenant_with_the_check_off_sends_free_form_to_anyone(
    api: Api, demo: TenantAccount
) -> None:
    headers = await api.login(demo)

    response = await api.send(headers, to_number=STRANGER, body="hello from the demo")

    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("body", "status", "problem_type"),
    [
        ({"content_sid": "HX123"}, 400, "validation-failed"),
        ({"content_sid": "SM" + "0" * 32}, 400, "validation-failed"),
        ({"content_sid": CONTENT_SID, "content_variables": {"1": 5}}, 400, "validation-failed"),
        ({"content_sid": CONTENT_SID, "content_variables": '{"1": "x"}'}, 400, "validation-failed"),
        ({"content_sid": CONTENT_SID, "content_variables": {"": "x"}}, 400, "validation-failed"),
        ({"content_sid": CONTENT_SID, "body": "and text"}, 422, "invalid-message"),
        (
            {"content_sid": CONTENT_SID, "media_url": "https://example.com/a.png"},
            422,
            "invalid-message",
        ),
        ({"body": "hi", "content_variables": {"1": "x"}}, 422, "invalid-message"),
    ],
)
async def test_bad_template_requests_get_problems_and_change_nothing(
    api: Api, body: dict[str, Any], status: int, problem_type: str
) -> None:
    headers = await api.login(api.acme)
    await api.customer_writes(api.acme, CUSTOMER, timedelta(hours=1))

    response = await api.send(headers, to_number=CUSTOMER, **body)

    assert_problem(response, status, problem_type)
    assert outbound_bodies(api) == []
    assert api.provider.requests == []


# ---------------------------------------------------------------------------------- conversations


async def test_conversations_list_one_per_contact_with_the_window(api: Api) -> None:
    headers = await api.login(api.acme)
    wrote_at = api.clock.now() - timedelta(hours=2)
    await api.customer_writes(api.acme, CUSTOMER, timedelta(hours=2), body="Where is my order?")
    await api.customer_writes(api.acme, "+14155550124", timedelta(hours=30), body="thanks!")
    sent = (await api.send(headers, to_number=CUSTOMER, body="On its way")).json()
    api.clock.advance()
    template = await api.send(headers, to_number=STRANGER, content_sid=CONTENT_SID)
    assert template.status_code == 201, template.text

    response = await api.client.get("/api/conversations", headers=headers)

    assert response.status_code == 200, response.text
    page = response.json()
    assert page["next_cursor"] is None
    by_contact = {item["contact"]: item for item in page["items"]}
    assert [item["contact"] for item in page["items"]] == [STRANGER, CUSTOMER, "+14155550124"]
    customer = by_contact[CUSTOMER]
    assert customer["sender"] == "+14155238886"
    assert customer["last_message"] == {
        "id": sent["id"],
        "at": sent["created_at"],
        "direction": "outbound",
        "preview": "On its way",
    }
    inbound_at = datetime.fromisoformat(customer["last_inbound_at"])
    assert inbound_at == wrote_at
    assert datetime.fromisoformat(customer["window_expires_at"]) == inbound_at + timedelta(hours=24)
    assert customer["window_open"] is True
    assert customer["profile_name"] is None
    assert by_contact["+14155550124"]["window_open"] is False
    assert by_contact["+14155550124"]["last_message"]["direction"] == "inbound"
    assert by_contact["+14155550124"]["last_message"]["preview"] == "thanks!"
    assert by_contact[STRANGER]["last_inbound_at"] is None
    assert by_contact[STRANGER]["window_expires_at"] is None
    assert by_contact[STRANGER]["window_open"] is False
    assert by_contact[STRANGER]["last_message"]["preview"] == f"[template {CONTENT_SID}]"


async def test_window_open_follows_the_clock(api: Api) -> None:
    headers = await api.login(api.acme)
    await api.customer_writes(api.acme, CUSTOMER, timedelta(hours=23))

    before = (await api.client.get("/api/conversations", headers=headers)).json()
    api.clock.advance(timedelta(hours=1))
    headers = await api.login(api.acme)  # an hour later: the first access token has expired
    after = (await api.client.get("/api/conversations", headers=headers)).json()

    assert before["items"][0]["window_open"] is True
    assert after["items"][0]["window_open"] is False
    assert before["items"][0]["window_expires_at"] == after["items"][0]["window_expires_at"]


async def test_the_profile_name_of_an_inbound_message_is_shown(api: Api) -> None:
    headers = await api.login(api.acme)
    uow = FakeUnitOfWork(api.database)
    inbound = await open_window(uow, api.acme, CUSTOMER, api.clock.now())
    await uow.conversations.record_message(replace(inbound, profile_name="Ana"))

    [item] = (await api.client.get("/api/conversations", headers=headers)).json()["items"]

    assert item["profile_name"] == "Ana"


async def test_conversations_page_through_every_contact_once(api: Api) -> None:
    headers = await api.login(api.acme)
    contacts = [f"+1415555{n:04d}" for n in range(7)]
    for n, number in enumerate(contacts):
        await api.customer_writes(api.acme, number, timedelta(minutes=10 - n))

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        response = await api.client.get("/api/conversations", params=params, headers=headers)
        assert response.status_code == 200, response.text
        seen += [item["contact"] for item in response.json()["items"]]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break

    assert seen == list(reversed(contacts))


@pytest.mark.parametrize(
    ("params", "status", "problem_type"),
    [
        ({"limit": 0}, 400, "validation-failed"),
        ({"limit": "ten"}, 400, "validation-failed"),
        ({"cursor": "garbage!"}, 400, "invalid-cursor"),
        ({"cursor": "x" * 201}, 400, "validation-failed"),
    ],
)
async def test_bad_conversation_queries_get_problems(
    api: Api, params: dict[str, Any], status: int, problem_type: str
) -> None:
    headers = await api.login(api.acme)

    response = await api.client.get("/api/conversations", params=params, headers=headers)

    assert_problem(response, status, problem_type)


async def test_a_history_cursor_is_refused_by_the_conversation_list(api: Api, demo: TenantAccount) -> None:
    headers = await api.login(demo)
    for n in range(2):
        await api.send(headers, to_number=CUSTOMER, body=f"m{n}")
    history = (await api.client.get("/api/messages", params={"limit": 1}, headers=headers)).json()

    response = await api.client.get(
        "/api/conversations", params={"cursor": history["next_cursor"]}, headers=headers
    )

    assert_problem(response, 400, "invalid-cursor")


# ------------------------------------------------------------------------------ a contact's messages


@pytest.mark.parametrize("written_as", [CUSTOMER, f"whatsapp:{CUSTOMER}", "%2B14155550123"])
async def test_a_contacts_messages_both_ways_newest_first(api: Api, written_as: str) -> None:
    headers = await api.login(api.acme)
    await api.customer_writes(api.acme, CUSTOMER, timedelta(minutes=5), body="Where is my order?")
    await api.customer_writes(api.acme, STRANGER, timedelta(minutes=4), body="someone else")
    await api.send(headers, to_number=CUSTOMER, body="On its way")

    response = await api.client.get(f"/api/conversations/{written_as}/messages", headers=headers)

    assert response.status_code == 200, response.text
    page = response.json()
    assert [(m["direction"], m["body"]) for m in page["items"]] == [
        ("outbound", "On its way"),
        ("inbound", "Where is my order?"),
    ]
    assert page["items"][1]["from_number"] == CUSTOMER
    assert page["next_cursor"] is None


async def test_a_contacts_messages_page_and_filter(api: Api, demo: TenantAccount) -> None:
    headers = await api.login(demo)
    for n in range(5):
        await api.send(headers, to_number=CUSTOMER, body=f"m{n}")
    await api.customer_writes(demo, CUSTOMER, timedelta(0), body="stop writing")

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (
            await api.client.get(f"/api/conversations/{CUSTOMER}/messages", params=params, headers=headers)
        ).json()
        seen += [m["body"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    inbound = (
        await api.client.get(
            f"/api/conversations/{CUSTOMER}/messages", params={"direction": "inbound"}, headers=headers
        )
    ).json()

    assert sorted(seen) == sorted(["m0", "m1", "m2", "m3", "m4", "stop writing"])
    assert len(seen) == len(set(seen))
    assert [m["body"] for m in inbound["items"]] == ["stop writing"]


@pytest.mark.parametrize("contact", ["12345", "not-a-number", "+1415555"])
async def test_an_invalid_contact_is_a_422(api: Api, contact: str) -> None:
    headers = await api.login(api.acme)

    response = await api.client.get(f"/api/conversations/{contact}/messages", headers=headers)

    assert_problem(response, 422, "invalid-phone-number")


async def test_a_contact_nobody_wrote_to_has_no_messages(api: Api) -> None:
    headers = await api.login(api.acme)

    response = await api.client.get(f"/api/conversations/{STRANGER}/messages", headers=headers)

    assert response.json() == {"items": [], "next_cursor": None}


# -------------------------------------------------------------------------------------- timeline


async def test_a_message_is_returned_with_its_status_timeline(api: Api) -> None:
    headers = await api.login(api.acme)
    await api.customer_writes(api.acme, CUSTOMER, timedelta(hours=1))
    sent = (await api.send(headers, to_number=CUSTOMER, body="On its way")).json()
    reports = [MessageStatus.SENT, MessageStatus.READ, MessageStatus.DELIVERED]
    for status in reports:
        change = StatusChange(provider_sid=sent["provider_sid"], status=status)
        await api.database.messages.advance_status(change, api.clock.advance())

    response = await api.client.get(f"/api/messages/{sent['id']}", headers=headers)

    assert response.status_code == 200, response.text
    message = response.json()
    assert message["status"] == "read"
    assert message["body"] == "On its way"
    assert [(event["status"], event["applied"]) for event in message["timeline"]] == [
        ("sent", True),
        ("read", True),
        ("delivered", False),
    ]
    assert set(message["timeline"][0]) == {
        "status",
        "received_at",
        "applied",
        "error_code",
        "error_message",
        "pricing_category",
    }


async def test_a_failure_report_carries_its_error_in_the_timeline(api: Api, demo: TenantAccount) -> None:
    headers = await api.login(demo)
    sent = (await api.send(headers, to_number=CUSTOMER, body="hi")).json()
    change = StatusChange(
        provider_sid=sent["provider_sid"],
        status=MessageStatus.UNDELIVERED,
        error_code=63016,
        error_message="outside the allowed window",
    )
    await api.database.messages.advance_status(change, api.clock.advance())

    message = (await api.client.get(f"/api/messages/{sent['id']}", headers=headers)).json()

    assert message["error_code"] == 63016
    assert message["timeline"] == [
        {
            "status": "undelivered",
            "received_at": message["timeline"][0]["received_at"],
            "applied": True,
            "error_code": 63016,
            "error_message": "outside the allowed window",
            "pricing_category": None,
        }
    ]


# ------------------------------------------------------------------------------------- isolation


async def test_a_tenant_never_sees_another_tenants_conversations(api: Api) -> None:
    acme = await api.login(api.acme)
    globex = await api.login(api.globex)
    await api.customer_writes(api.acme, CUSTOMER, timedelta(minutes=3))
    for n in range(2):
        await api.customer_writes(api.acme, f"+1415555{n:04d}", timedelta(minutes=2 - n))
    sent = (await api.send(acme, to_number=CUSTOMER, body="acme secret")).json()
    acme_page = (await api.client.get("/api/conversations", params={"limit": 1}, headers=acme)).json()

    listed = (await api.client.get("/api/conversations", headers=globex)).json()
    with_acme_cursor = await api.client.get(
        "/api/conversations", params={"cursor": acme_page["next_cursor"]}, headers=globex
    )
    contact_messages = await api.client.get(f"/api/conversations/{CUSTOMER}/messages", headers=globex)
    by_id = await api.client.get(f"/api/messages/{sent['id']}", headers=globex)
    # Globex's own window with this customer is closed, whatever Acme's is.
    globex_send = await api.send(globex, to_number=CUSTOMER, body="hi")

    assert listed == {"items": [], "next_cursor": None}
    assert with_acme_cursor.json() == {"items": [], "next_cursor": None}
    assert contact_messages.json() == {"items": [], "next_cursor": None}
    assert_problem(by_id, 404, "not-found")
    assert_problem(globex_send, 422, "session-window-closed")
    assert len((await api.client.get("/api/conversations", headers=acme)).json()["items"]) == 3


@pytest.mark.parametrize("path", ["/api/conversations", f"/api/conversations/{CUSTOMER}/messages"])
async def test_conversation_routes_need_a_token(api: Api, path: str) -> None:
    response = await api.client.get(path)

    assert_problem(response, 401, "invalid-token")


# ------------------------------------------------------------------------------------- unread counts


async def test_a_conversation_is_read_by_its_id_and_marked_seen(api: Api) -> None:
    headers = await api.login(api.acme)
    await api.customer_writes(api.acme, CUSTOMER, timedelta(minutes=2))
    await api.customer_writes(api.acme, CUSTOMER, timedelta(minutes=1))
    [listed] = (await api.client.get("/api/conversations", headers=headers)).json()["items"]

    read = await api.client.get(f"/api/conversations/{listed['id']}", headers=headers)
    seen = await api.client.post(f"/api/conversations/{listed['id']}/seen", headers=headers)
    after = await api.client.get(f"/api/conversations/{listed['id']}", headers=headers)

    assert listed["unread_count"] == 2
    assert read.status_code == 200, read.text
    assert read.json() == listed
    assert seen.status_code == 204, seen.text
    assert seen.content == b""
    assert after.json()["unread_count"] == 0


async def test_another_tenants_conversation_is_a_404_and_stays_unread(api: Api) -> None:
    await api.customer_writes(api.acme, CUSTOMER, timedelta(minutes=1))
    [theirs] = (await api.client.get("/api/conversations", headers=await api.login(api.acme))).json()["items"]
    headers = await api.login(api.globex)

    assert_problem(
        await api.client.get(f"/api/conversations/{theirs['id']}", headers=headers), 404, "not-found"
    )
    assert_problem(
        await api.client.post(f"/api/conversations/{theirs['id']}/seen", headers=headers), 404, "not-found"
    )
    [still] = (await api.client.get("/api/conversations", headers=await api.login(api.acme))).json()["items"]
    assert still["unread_count"] == 1
