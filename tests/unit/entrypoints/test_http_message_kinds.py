"""Every kind of message through the API, in one shape: what a send takes is what the message, the
history and the tenant webhooks' events show; a kind the provider cannot send is refused before anything
is stored. Messages go through the app's own providers (the sandbox, and Twilio, which refuses)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import msgspec
import pytest

from application.tenant_webhooks.events import message_data
from domain.administration.tenancy import ProviderName
from domain.messaging.messages import Message, MessageContent
from domain.phone import PhoneNumber
from domain.templates.definition import render
from entrypoints.http.messaging.schemas import MessageResource
from tests.support.api import Api, ApiOptions, assert_problem
from tests.support.fakes import FakeUnitOfWork, TenantAccount
from tests.support.message_kinds import CONTENTS, SENDS, WAMID
from tests.support.templates import ORDER_UPDATE, catalogue_template

CUSTOMER = "+14155550123"
# A message's content, as its resource shows it.
CONTENT_FIELDS = (
    "kind",
    "body",
    "media_urls",
    "media",
    "preview_url",
    "content_sid",
    "content_variables",
    "template",
    "interactive",
    "location",
    "contacts",
    "reaction",
    "reply",
    "reply_to",
    "unsupported",
)
NOTHING = {
    "body": "",
    "media_urls": [],
    "media": [],
    "preview_url": False,
    "content_sid": None,
    "content_variables": None,
    "template": None,
    "interactive": None,
    "location": None,
    "contacts": [],
    "reaction": None,
    "reply": None,
    "reply_to": None,
    "unsupported": None,
}


@pytest.fixture
def api_options() -> ApiOptions:
    # The sandbox reports no progress while a test looks: a message stays as its send left it.
    return ApiOptions(real_providers=True).with_settings(
        SANDBOX_SENT_AFTER_SECONDS="3600", SANDBOX_DELIVERED_AFTER_SECONDS="3600"
    )


def content_of(resource: dict[str, Any]) -> dict[str, Any]:
    return {name: resource[name] for name in CONTENT_FIELDS}


@pytest.fixture(autouse=True)
async def order_update_is_approved(api: Api) -> None:
    for account in (api.acme, api.globex):
        await catalogue_template(
            FakeUnitOfWork(api.database), account.tenant.id, ORDER_UPDATE, api.clock.now()
        )


def as_sent(kind: str, request: dict[str, Any]) -> dict[str, Any]:
    """The content of a message sent with ``request``: the request's own parts, the others empty; a
    template from the catalogue with the text the customer saw."""
    sent = {"kind": kind, **NOTHING, **request}
    if "template" in request:
        variables = request["template"]["variables"]
        sent["template"] = {**request["template"], "rendered": render(ORDER_UPDATE.body, variables)}
    return sent


async def history(api: Api, headers: dict[str, str], **filters: str) -> list[dict[str, Any]]:
    response = await api.client.get("/api/messages", params=filters, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def on_twilio(api: Api, account: TenantAccount) -> None:
    """The tenant sends through Twilio from now on."""
    await api.database.tenants.update(replace(account.tenant, provider=ProviderName.TWILIO))


# ------------------------------------------------------------------------------------------ sending


@pytest.mark.parametrize("kind", SENDS)
async def test_every_kind_is_sent_and_shown_in_the_shape_it_was_sent_in(api: Api, kind: str) -> None:
    headers = await api.login(api.acme)
    request = SENDS[kind]

    response = await api.send(headers, to_number=CUSTOMER, **request)

    assert response.status_code == 201, response.text
    sent = response.json()
    assert (sent["status"], sent["provider_sid"][:2]) == ("queued", "SM")
    assert content_of(sent) == as_sent(kind, request)
    details = (await api.client.get(f"/api/messages/{sent['id']}", headers=headers)).json()
    (item,) = await history(api, headers)
    assert item == {name: value for name, value in details.items() if name != "timeline"}
    assert content_of(item) == as_sent(kind, request)


async def test_history_filters_by_kind(api: Api) -> None:
    headers = await api.login(api.acme)
    ids = {}
    for kind, request in SENDS.items():
        ids[kind] = (await api.send(headers, to_number=CUSTOMER, **request)).json()["id"]

    for kind, message_id in ids.items():
        assert [item["id"] for item in await history(api, headers, kind=kind)] == [message_id]
    assert await history(api, headers, kind="reply") == []
    conversation = await api.client.get(
        f"/api/conversations/{CUSTOMER}/messages?kind=location", headers=headers
    )
    assert [item["id"] for item in conversation.json()["items"]] == [ids["location"]]
    assert_problem(await api.client.get("/api/messages?kind=poem", headers=headers), 400, "validation-failed")


async def test_a_reaction_and_a_reply_may_name_the_message_by_our_id(api: Api) -> None:
    headers = await api.login(api.acme)
    first = (await api.send(headers, to_number=CUSTOMER, body="Your order has shipped")).json()

    reaction = await api.send(
        headers, to_number=CUSTOMER, reaction={"message_id": first["id"], "emoji": "🎉"}
    )
    reply = await api.send(headers, to_number=CUSTOMER, body="It arrives tomorrow", reply_to=first["id"])

    assert reaction.json()["reaction"] == {"message_id": first["provider_sid"], "emoji": "🎉"}
    assert reply.json()["reply_to"] == first["provider_sid"]
    assert reply.json()["kind"] == "text"


@pytest.mark.parametrize(
    "body",
    [
        {"reaction": {"message_id": str(uuid4()), "emoji": "👍"}},
        {"body": "hi", "reply_to": str(uuid4())},
    ],
)
async def test_a_reference_to_a_message_the_tenant_does_not_have_is_refused(
    api: Api, body: dict[str, Any]
) -> None:
    headers = await api.login(api.acme)

    response = await api.send(headers, to_number=CUSTOMER, **body)

    problem = assert_problem(response, 422, "invalid-input")
    assert ("reaction.message_id" if "reaction" in body else "reply_to") in problem["detail"]
    assert api.database.messages.all() == []


async def test_a_kind_the_tenants_provider_cannot_send_is_refused_and_nothing_is_stored(api: Api) -> None:
    headers = await api.login(api.acme)
    await api.send(headers, to_number=CUSTOMER, body="Earlier")
    before = await history(api, headers)
    await on_twilio(api, api.acme)

    response = await api.send(headers, to_number=CUSTOMER, **SENDS["interactive"])

    problem = assert_problem(response, 422, "unsupported-by-provider")
    assert "Content Template Builder" in problem["detail"]
    assert await history(api, headers) == before
    assert api.database.jobs.all() == []


async def test_a_repeated_send_with_its_key_is_replayed_and_a_changed_one_refused(api: Api) -> None:
    headers = {**await api.login(api.acme), "Idempotency-Key": "order-1042-menu"}
    menu = SENDS["interactive"]
    changed = json.loads(json.dumps(menu).replace("Medium", "Large"))

    first = await api.client.post("/api/send", json={"to_number": CUSTOMER, **menu}, headers=headers)
    again = await api.client.post("/api/send", json={"to_number": CUSTOMER, **menu}, headers=headers)
    other = await api.client.post("/api/send", json={"to_number": CUSTOMER, **changed}, headers=headers)

    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert_problem(other, 422, "idempotency-key-reused")
    assert len(api.database.messages.all()) == 1


# ------------------------------------------------------------------------------------------ refusing

BUTTON = {"id": "yes", "title": "Yes"}


@pytest.mark.parametrize(
    ("part", "field"),
    [
        ({"media": [{"type": "gif", "url": "https://example.com/a.gif"}]}, "media[0].type"),
        ({"media": [{"type": "image", "url": "https://example.com/a.png", "alt": "a"}]}, "media[0]"),
        ({"preview_url": "yes", "body": "hi"}, "preview_url"),
        ({"template": {"name": "Order Update", "language": "en"}}, "template.name"),
        ({"interactive": {"type": "buttons", "body": "?", "buttons": [BUTTON] * 4}}, "interactive.buttons"),
        (
            {"interactive": {"type": "buttons", "body": "?", "buttons": [{"id": "a", "title": "x" * 21}]}},
            "interactive.buttons[0].title",
        ),
        ({"interactive": {"type": "carousel", "body": "?"}}, "interactive.type"),
        ({"location": {"latitude": 91, "longitude": 0}}, "location.latitude"),
        ({"location": {"latitude": 0}}, "location"),
        ({"contacts": [{"name": "Ana", "phones": ["1"] * 11}]}, "contacts[0].phones"),
        ({"reaction": {"message_id": WAMID, "emoji": "👍" * 17}}, "reaction.emoji"),
    ],
)
async def test_a_part_that_breaks_its_schema_is_a_400_naming_the_field(
    api: Api, part: dict[str, Any], field: str
) -> None:
    headers = await api.login(api.acme)

    response = await api.send(headers, to_number=CUSTOMER, **part)

    problem = assert_problem(response, 400, "validation-failed")
    assert [error["field"] for error in problem["errors"]] == [field], problem
    assert api.database.messages.all() == []


@pytest.mark.parametrize(
    ("part", "says"),
    [
        ({"media": [{"type": "image", "url": "https://example.com/a.png", "id": "1"}]}, "either a URL or"),
        ({"media": [{"type": "image", "url": "https://example.com/a.png", "filename": "a.png"}]}, "filename"),
        (
            {"media_url": "https://example.com/a.png", "media_urls": ["https://example.com/b.png"]},
            "media_urls",
        ),
        (
            {"interactive": {"type": "list", "body": "?", "sections": [{"rows": [BUTTON]}]}},
            "interactive.button",
        ),
        ({"interactive": {"type": "cta_url", "body": "?", "button": "Open"}}, "interactive.url"),
        ({"interactive": {"type": "buttons", "body": "?", "buttons": [BUTTON, BUTTON]}}, "own id"),
        (
            {"interactive": {"type": "buttons", "body": "?", "buttons": [BUTTON], "button": "Menu"}},
            "interactive.button is for",
        ),
        (
            {"location": {"latitude": 1, "longitude": 2}, "contacts": [{"name": "Ana"}]},
            "not location and contacts",
        ),
        ({"location": {"latitude": 1, "longitude": 2}, "body": "here"}, "no body or media"),
        (
            {"content_sid": "HX" + "0" * 32, "template": {"name": "order_update", "language": "en"}},
            "content_sid or by template",
        ),
    ],
)
async def test_a_part_that_breaks_whatsapps_rules_is_a_422_saying_which(
    api: Api, part: dict[str, Any], says: str
) -> None:
    headers = await api.login(api.acme)

    response = await api.send(headers, to_number=CUSTOMER, **part)

    problem = assert_problem(response, 422, "invalid-message")
    assert says in problem["detail"], problem
    assert api.database.messages.all() == []


# ------------------------------------------------------------------------------------------ showing


async def test_a_customers_reply_location_and_unsupported_messages_are_shown_in_the_same_shape(
    api: Api,
) -> None:
    headers = await api.login(api.acme)
    names = ["a reply to a list", "a location on the equator", "an unsupported kind", "inbound media"]
    uow = FakeUnitOfWork(api.database)
    for name in names:
        await uow.messages.add(inbound(api.acme, CONTENTS[name]))

    items = {item["kind"]: item for item in await history(api, headers, direction="inbound")}

    assert items["reply"]["reply"] == {"id": "m", "title": "Medium", "description": "Chest 96 cm"}
    assert (items["reply"]["body"], items["reply"]["reply_to"]) == ("Medium", WAMID)
    assert items["unsupported"]["unsupported"] == "ephemeral"
    assert items["location"]["location"] == {
        "latitude": 0.0,
        "longitude": -78.4558,
        "name": "Mitad del Mundo",
        "address": "Quito",
    }
    [sticker] = items["media"]["media"]
    assert sticker == {
        "type": "sticker",
        "url": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        "content_type": "image/webp",
        "stored_media_id": "f3b2a1c0d9e8",
        "stored_media_url": "/api/media/f3b2a1c0d9e8",
    }


def inbound(account: TenantAccount, content: MessageContent) -> Message:
    return Message.new_inbound(
        tenant_id=account.tenant.id,
        sender=account.sender.phone_number,
        contact=PhoneNumber.parse(CUSTOMER),
        content=content,
        provider_sid=f"SM{uuid4().hex}",
        now=account.tenant.created_at,
    )


@pytest.mark.parametrize("content", CONTENTS.values(), ids=CONTENTS.keys())
def test_a_tenant_webhooks_event_shows_a_message_as_the_api_does(content: MessageContent) -> None:
    message = Message.new_inbound(
        tenant_id=uuid4(),
        sender=PhoneNumber.parse("+14155238886"),
        contact=PhoneNumber.parse(CUSTOMER),
        content=content,
        provider_sid=f"SM{uuid4().hex}",
        now=datetime.now(UTC),
    )
    resource = json.loads(msgspec.json.encode(MessageResource.of(message)))
    event = json.loads(json.dumps(message_data(message)))

    assert content_of(event) == content_of(resource)
    assert set(event) == set(resource)
