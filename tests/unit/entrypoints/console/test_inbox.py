"""The console's inbox as agents and tenant admins use it: the tenant's conversations, a conversation's
messages with their delivery ticks, replying inside the session window and with a template outside it,
and the live updates of the page."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from dependency_injector import providers

from application.errors import InvalidToken
from application.messaging.inbox_feed import InboxFeed
from application.ports.media import KeptMedia, media_key
from application.ports.messages import StatusChange
from domain.messaging.content import Media, MediaKind
from domain.messaging.conversations import Conversation
from domain.messaging.failures import Failure, FailureCode
from domain.messaging.messages import Direction, Message, MessageContent, MessageStatus
from domain.phone import PhoneNumber
from entrypoints.console.i18n import translator
from entrypoints.console.inbox_stream import inbox_events
from entrypoints.http.access import CONSOLE_SESSION_COOKIE
from tests.support.api import Api, ApiOptions
from tests.support.console import ConsolePages, csrf_token_of, text_of
from tests.support.fakes import FakeUnitOfWork
from tests.support.templates import ORDER_UPDATE, catalogue_template

CUSTOMER = "+14155550123"
OTHER_CUSTOMER = "+14155550199"


@pytest.fixture
def api_options() -> ApiOptions:
    # acme checks the session window, so a closed window offers templates; the clock is the app's.
    return ApiOptions(session_window_check=frozenset({"acme", "globex"}), fixed_clock=True)


@pytest.fixture
def feed(api: Api) -> InboxFeed:
    """The app's feed, polling every few milliseconds (so that a test waits for nothing)."""
    fast = InboxFeed(api.container.read_inbox_changes, api.container.clock(), interval=0.01)
    api.container.inbox_feed.override(providers.Object(fast))
    return fast


async def signed_in(api: Api, username: str = "ana") -> ConsolePages:
    console = ConsolePages(api.client)
    await console.sign_in(username)
    return console


async def conversation_with(
    api: Api, contact: str, *, ago: timedelta = timedelta(minutes=50)
) -> Conversation:
    await api.customer_writes(api.acme, contact, ago, body="hello?")
    async with FakeUnitOfWork(api.database) as uow:
        conversation = await uow.conversations.get(api.acme.tenant.id, PhoneNumber.parse(contact))
    assert conversation is not None
    return conversation


def messages_to(api: Api, contact: str) -> list[Message]:
    return [
        message
        for message in api.database.messages.all()
        if message.direction is Direction.OUTBOUND and message.contact == PhoneNumber.parse(contact)
    ]


def composer_key(page: str) -> str:
    found = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert found is not None, "the page has no composer"
    return found.group(1)


async def post_form(api: Api, path: str, page: str, form: dict[str, str]) -> httpx.Response:
    response: httpx.Response = await api.client.post(
        path, data={"_csrf_token": csrf_token_of(page), **form}, follow_redirects=False
    )
    return response


# ---------------------------------------------------------------------------------------- the list


async def test_the_inbox_lists_the_tenants_conversations_newest_first_with_what_an_agent_needs(
    api: Api,
) -> None:
    await conversation_with(api, CUSTOMER, ago=timedelta(hours=2))
    await conversation_with(api, OTHER_CUSTOMER, ago=timedelta(minutes=5))
    await api.customer_writes(api.globex, "+14155550177", timedelta(minutes=1), body="globex secret")
    console = await signed_in(api)

    page = text_of(await console.get("/console/inbox"))

    assert page.index(OTHER_CUSTOMER) < page.index(CUSTOMER)
    assert "hello?" in page
    assert "22 h 0 min left" in page
    assert "1 unread" in page
    assert "globex secret" not in page
    assert "+14155550177" not in page


async def test_a_conversation_whose_window_closed_says_so(api: Api) -> None:
    await conversation_with(api, CUSTOMER, ago=timedelta(hours=30))
    console = await signed_in(api)

    assert "window closed" in text_of(await console.get("/console/inbox"))


async def test_older_conversations_are_a_page_away(api: Api) -> None:
    for number in range(26):
        await conversation_with(api, f"+1415555{number:04d}", ago=timedelta(minutes=60 - number))
    console = await signed_in(api)

    first = await console.get("/console/inbox")
    older = re.search(r'href="(/console/inbox\?older=[^"]+)"', first)

    assert older is not None
    second = text_of(await console.get(older.group(1).replace("&amp;", "&")))
    assert "+14155550000" in second
    assert "+14155550000" not in text_of(first)


async def test_a_platform_admin_may_not_open_the_inbox(api: Api) -> None:
    console = await signed_in(api, "root")

    await console.get("/console/inbox", expect=403)


# ------------------------------------------------------------------------------- a conversation


async def sent_by_api(api: Api, contact: str, body: str) -> Message:
    api.clock.advance()  # each message a second after the last
    response = await api.send(await api.login(api.acme), to_number=contact, body=body)
    assert response.status_code in (201, 202), response.text
    async with FakeUnitOfWork(api.database) as uow:
        message = await uow.messages.get(api.acme.tenant.id, UUID(response.json()["id"]))
    assert message is not None
    return message


async def test_a_conversation_shows_its_messages_oldest_first_with_their_ticks(api: Api) -> None:
    conversation = await conversation_with(api, CUSTOMER)
    delivered = await sent_by_api(api, CUSTOMER, "Your order ships today")
    failed = await sent_by_api(api, CUSTOMER, "Are you there?")
    async with FakeUnitOfWork(api.database) as uow:
        await uow.messages.advance_status(
            StatusChange(provider_sid=delivered.provider_sid or "", status=MessageStatus.DELIVERED),
            api.clock.now(),
        )
        stored = await uow.messages.get(api.acme.tenant.id, failed.id)
        assert stored is not None
        reason = Failure(code=FailureCode.RECIPIENT_INVALID, reason="the number is not on WhatsApp")
        await uow.messages.update(stored.failed(reason, api.clock.now()))
        await uow.commit()
    console = await signed_in(api)

    page = text_of(await console.get(f"/console/inbox/{conversation.id}"))

    assert page.index("hello?") < page.index("Your order ships today") < page.index("Are you there?")
    assert "✓✓ Delivered" in page
    assert "⚠ Failed" in page
    assert "the number is not on WhatsApp" in page


async def test_a_messages_status_history_lists_every_report(api: Api) -> None:
    conversation = await conversation_with(api, CUSTOMER)
    sent = await sent_by_api(api, CUSTOMER, "Your order ships today")
    async with FakeUnitOfWork(api.database) as uow:
        for status in (MessageStatus.DELIVERED, MessageStatus.READ):
            await uow.messages.advance_status(
                StatusChange(provider_sid=sent.provider_sid or "", status=status), api.clock.now()
            )
        await uow.commit()
    console = await signed_in(api)
    conversation_page = await console.get(f"/console/inbox/{conversation.id}")
    assert f"/console/inbox/messages/{sent.id}?conversation={conversation.id}" in conversation_page

    page = text_of(await console.get(f"/console/inbox/messages/{sent.id}", conversation=str(conversation.id)))

    assert "delivered yes" in page
    assert "read yes" in page
    assert "✓✓ Read" in page


async def test_a_message_holding_markup_is_shown_as_text(api: Api) -> None:
    hostile = '<script>alert("x")</script><b>bold</b>'
    await api.customer_writes(api.acme, CUSTOMER, timedelta(minutes=3), body=hostile)
    async with FakeUnitOfWork(api.database) as uow:
        conversation = await uow.conversations.get(api.acme.tenant.id, PhoneNumber.parse(CUSTOMER))
    assert conversation is not None
    console = await signed_in(api)

    markup = await console.get(f"/console/inbox/{conversation.id}")
    listing = await console.get("/console/inbox")

    for page in (markup, listing):
        assert "<script>alert" not in page
        assert "<b>bold</b>" not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in page


async def test_another_tenants_conversation_is_not_found(api: Api) -> None:
    await api.customer_writes(api.globex, CUSTOMER, timedelta(minutes=3), body="globex secret")
    async with FakeUnitOfWork(api.database) as uow:
        theirs = await uow.conversations.get(api.globex.tenant.id, PhoneNumber.parse(CUSTOMER))
    assert theirs is not None
    console = await signed_in(api)

    page = await console.get(f"/console/inbox/{theirs.id}", expect=404)
    await console.get(f"/console/inbox/{uuid4()}", expect=404)

    assert "globex secret" not in page


async def test_opening_a_conversation_marks_it_seen(api: Api) -> None:
    conversation = await conversation_with(api, CUSTOMER)
    console = await signed_in(api)
    assert "1 unread" in text_of(await console.get("/console/inbox"))

    await console.get(f"/console/inbox/{conversation.id}")

    assert "unread" not in text_of(await console.get("/console/inbox"))
    async with FakeUnitOfWork(api.database) as uow:
        seen = await uow.conversations.get_by_id(api.acme.tenant.id, conversation.id)
    assert seen is not None
    assert seen.unread_count == 0


async def test_a_customers_photo_is_shown_and_served_to_the_tenant_only(api: Api) -> None:
    photo = b"\xff\xd8\xff\xe0" + b"a photo of a broken parcel" * 10
    media_id = uuid4()
    message = Message.new_inbound(
        tenant_id=api.acme.tenant.id,
        sender=api.acme.sender.phone_number,
        contact=PhoneNumber.parse(CUSTOMER),
        content=MessageContent(
            media=(
                Media(
                    kind=MediaKind.IMAGE,
                    provider_media_id="1234567890",
                    content_type="image/jpeg",
                    stored_media_id=str(media_id),
                ),
            )
        ),
        provider_sid=f"wamid.{uuid4().hex}",
        now=api.clock.now(),
    )
    stored = await api.media_store.put(media_key(api.acme.tenant.id, media_id), photo, "image/jpeg")
    seed = FakeUnitOfWork(api.database)
    await seed.messages.add(message)
    await seed.conversations.record_message(message)
    await seed.media.add(
        KeptMedia(
            id=media_id,
            tenant_id=api.acme.tenant.id,
            message_id=message.id,
            content_type="image/jpeg",
            size=stored.size,
            sha256=stored.sha256,
            created_at=api.clock.now(),
        )
    )
    conversation = await seed.conversations.get(api.acme.tenant.id, PhoneNumber.parse(CUSTOMER))
    assert conversation is not None
    console = await signed_in(api)

    page = await console.get(f"/console/inbox/{conversation.id}")
    served = await api.client.get(f"/console/media/{media_id}")

    assert f'<img class="media-preview" src="/console/media/{media_id}"' in page
    assert served.status_code == 200
    assert served.content == photo
    assert served.headers["content-type"] == "image/jpeg"
    bob = ConsolePages(api.client)
    await bob.sign_in("bob")
    assert (await api.client.get(f"/console/media/{media_id}")).status_code == 404


# ------------------------------------------------------------------------------------- replying


async def test_a_reply_inside_the_window_is_sent(api: Api) -> None:
    conversation = await conversation_with(api, CUSTOMER)
    console = await signed_in(api)
    path = f"/console/inbox/{conversation.id}"
    page = await console.get(path)

    response = await post_form(
        api, f"{path}/messages", page, {"idempotency_key": composer_key(page), "body": "On its way!"}
    )

    assert response.status_code == 303
    assert response.headers["location"] == f"{path}?done=sent"
    history = await api.client.get(
        "/api/messages",
        params={"contact": CUSTOMER, "direction": "outbound"},
        headers=await api.bearer("ana"),
    )
    assert [item["body"] for item in history.json()["items"]] == ["On its way!"]
    assert "Message accepted for sending." in text_of(await console.get(f"{path}?done=sent"))


async def test_a_file_by_url_is_sent_with_its_caption(api: Api) -> None:
    conversation = await conversation_with(api, CUSTOMER)
    console = await signed_in(api)
    path = f"/console/inbox/{conversation.id}"
    page = await console.get(path)

    form = {
        "idempotency_key": composer_key(page),
        "body": "Your invoice",
        "media_url": "https://example.com/i.pdf",
    }
    response = await post_form(api, f"{path}/messages", page, form)

    assert response.status_code == 303
    (sent,) = messages_to(api, CUSTOMER)
    assert sent.content.body == "Your invoice"
    assert sent.content.media_urls == ("https://example.com/i.pdf",)


async def test_a_reply_with_a_send_at_is_scheduled_for_that_time_read_as_utc(api: Api) -> None:
    conversation = await conversation_with(api, CUSTOMER)
    console = await signed_in(api)
    path = f"/console/inbox/{conversation.id}"
    page = await console.get(path)
    later = (api.clock.now() + timedelta(hours=2)).replace(second=0, microsecond=0)

    form = {
        "idempotency_key": composer_key(page),
        "body": "See you at 10",
        "send_at": later.strftime("%Y-%m-%dT%H:%M"),
    }
    response = await post_form(api, f"{path}/messages", page, form)

    assert response.status_code == 303
    assert response.headers["location"] == f"{path}?done=scheduled"
    (scheduled,) = messages_to(api, CUSTOMER)
    assert scheduled.status is MessageStatus.SCHEDULED
    assert scheduled.send_at == later
    assert "it waits under Scheduled sends" in text_of(await console.get(response.headers["location"]))


async def test_a_send_at_too_soon_is_shown_beside_the_composer_and_sends_nothing(api: Api) -> None:
    conversation = await conversation_with(api, CUSTOMER)
    console = await signed_in(api)
    path = f"/console/inbox/{conversation.id}"
    page = await console.get(path)
    now = api.clock.now().strftime("%Y-%m-%dT%H:%M")

    form = {"idempotency_key": composer_key(page), "body": "Soon", "send_at": now}
    response = await post_form(api, f"{path}/messages", page, form)

    assert response.status_code == 422
    assert "at least a minute ahead" in text_of(response.text)
    assert f'value="{now}"' in response.text, "what was typed is kept"
    assert messages_to(api, CUSTOMER) == []


async def test_a_double_submitted_composer_sends_once(api: Api) -> None:
    conversation = await conversation_with(api, CUSTOMER)
    console = await signed_in(api)
    path = f"/console/inbox/{conversation.id}"
    page = await console.get(path)
    form = {"idempotency_key": composer_key(page), "body": "Only once, please"}

    first = await post_form(api, f"{path}/messages", page, form)
    second = await post_form(api, f"{path}/messages", page, form)

    assert (first.status_code, second.status_code) == (303, 303)
    assert len(messages_to(api, CUSTOMER)) == 1
    assert composer_key(await console.get(path)) != form["idempotency_key"], "each composer has a new key"


async def test_a_bad_file_address_is_shown_beside_the_composer_and_sends_nothing(api: Api) -> None:
    conversation = await conversation_with(api, CUSTOMER)
    console = await signed_in(api)
    path = f"/console/inbox/{conversation.id}"
    page = await console.get(path)

    form = {"idempotency_key": composer_key(page), "body": "See this", "media_url": "javascript:alert(1)"}
    response = await post_form(api, f"{path}/messages", page, form)

    assert response.status_code == 422
    assert 'role="alert"' in response.text
    assert "See this" in response.text, "what was typed is kept"
    assert messages_to(api, CUSTOMER) == []


async def test_a_reply_after_the_window_closed_is_refused_beside_the_composer(api: Api) -> None:
    conversation = await conversation_with(api, CUSTOMER)
    console = await signed_in(api)
    path = f"/console/inbox/{conversation.id}"
    page = await console.get(path)
    api.clock.advance(timedelta(hours=24))  # the page stayed open while the window closed

    response = await post_form(
        api, f"{path}/messages", page, {"idempotency_key": composer_key(page), "body": "Hello again"}
    )

    assert response.status_code == 422
    assert "the 24-hour session window is closed" in text_of(response.text)
    assert "WhatsApp delivers only approved templates until the customer writes again" in text_of(
        response.text
    ), "the composer offers templates now"
    assert messages_to(api, CUSTOMER) == []


@pytest.fixture
async def order_update(api: Api) -> UUID:
    template = await catalogue_template(
        FakeUnitOfWork(api.database), api.acme.tenant.id, ORDER_UPDATE, api.clock.now()
    )
    return template.id


async def test_outside_the_window_the_composer_offers_the_approved_templates(
    api: Api, order_update: UUID
) -> None:
    conversation = await conversation_with(api, CUSTOMER, ago=timedelta(hours=25))
    console = await signed_in(api)
    path = f"/console/inbox/{conversation.id}"

    page = await console.get(path)
    chosen = await console.get(path, template=str(order_update))

    assert 'name="body"' not in page
    assert "order_update (pt_BR)" in text_of(page)
    assert 'name="v_1"' not in page
    assert 'name="v_1"' in chosen
    assert "Olá {{1}}, seu pedido está a caminho." in text_of(chosen)


async def test_a_template_is_sent_with_its_variables(api: Api, order_update: UUID) -> None:
    conversation = await conversation_with(api, CUSTOMER, ago=timedelta(hours=25))
    console = await signed_in(api)
    path = f"/console/inbox/{conversation.id}"
    page = await console.get(path, template=str(order_update))

    form = {"idempotency_key": composer_key(page), "template": str(order_update), "v_1": "Ana"}
    response = await post_form(api, f"{path}/template", page, form)

    assert response.status_code == 303, response.text
    (sent,) = messages_to(api, CUSTOMER)
    assert sent.content.template is not None
    assert sent.content.template.name == "order_update"
    assert sent.content.template.variables_dict == {"1": "Ana"}
    assert sent.content.template.rendered == "Olá Ana, seu pedido está a caminho."


async def test_a_template_with_a_blank_variable_is_refused_with_the_reason(
    api: Api, order_update: UUID
) -> None:
    conversation = await conversation_with(api, CUSTOMER, ago=timedelta(hours=25))
    console = await signed_in(api)
    path = f"/console/inbox/{conversation.id}"
    page = await console.get(path, template=str(order_update))

    form = {"idempotency_key": composer_key(page), "template": str(order_update), "v_1": "  "}
    response = await post_form(api, f"{path}/template", page, form)

    assert response.status_code == 422
    assert "1: is blank" in text_of(response.text)
    assert 'name="v_1"' in response.text, "the form is there to correct"
    assert messages_to(api, CUSTOMER) == []


async def test_a_template_that_is_not_offered_is_refused(api: Api, order_update: UUID) -> None:
    conversation = await conversation_with(api, CUSTOMER, ago=timedelta(hours=25))
    console = await signed_in(api)
    path = f"/console/inbox/{conversation.id}"
    page = await console.get(path, template=str(order_update))

    form = {"idempotency_key": composer_key(page), "template": str(uuid4()), "v_1": "Ana"}
    response = await post_form(api, f"{path}/template", page, form)

    assert response.status_code == 422
    assert messages_to(api, CUSTOMER) == []


# ----------------------------------------------------------------------------------- live updates


def events_of(stream: str) -> list[tuple[str, str]]:
    """The (event, data) pairs of a text/event-stream body, comments left out."""
    found = []
    for block in stream.replace("\r\n", "\n").split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        event = next((line[7:] for line in lines if line.startswith("event: ")), "message")
        data = "\n".join(line[6:] for line in lines if line.startswith("data: "))
        if lines and any(line.startswith("data: ") for line in lines):
            found.append((event, data))
    return found


async def test_one_read_of_the_stream_brings_a_new_inbound_message(api: Api) -> None:
    conversation = await conversation_with(api, CUSTOMER)
    await signed_in(api)
    # A stream that ends by itself soon (the test client reads a response whole).
    feed = InboxFeed(
        api.container.read_inbox_changes, api.container.clock(), interval=0.01, view_lifetime=0.3
    )
    api.container.inbox_feed.override(providers.Object(feed))
    await api.customer_writes(api.acme, CUSTOMER, timedelta(0), body="<b>is it shipped?</b>")

    response = await api.client.get("/console/inbox/events", timeout=10)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    messages = [json.loads(data) for event, data in events_of(response.text) if event == "message" and data]
    (new,) = [item for item in messages if item["text"] == "<b>is it shipped?</b>"]
    assert new["direction"] == "inbound"
    assert new["conversation"]["id"] == str(conversation.id)
    assert new["conversation"]["unread"] == 2
    assert new["conversation"]["preview"] == "<b>is it shipped?</b>"
    assert new["conversation"]["window"] == "24 h 0 min left"
    assert feed.streams(api.acme.tenant.id) == 0, "the stream left the feed"


async def live_events(api: Api, feed: InboxFeed) -> Any:
    """The event stream of the signed-in browser of ``api.client``, its session checked as the page's."""
    ticket = api.client.cookies[CONSOLE_SESSION_COOKIE]
    resolve = api.container.resolve_principal()
    subscription = feed.join(api.acme.tenant.id, api.agent.id)
    return inbox_events(
        feed,
        subscription,
        lambda: resolve.browser(ticket),
        translator("en"),
        api.clock.now,
        sign_in_path="/console/login",
    )


async def test_the_stream_ends_when_the_user_signs_out(api: Api, feed: InboxFeed) -> None:
    console = await signed_in(api)
    events = await live_events(api, feed)
    assert (await anext(events)).retry is not None

    await console.submit("/console/logout", from_page="/console/inbox")

    async with asyncio.timeout(5):
        remaining = [event async for event in events]
    assert (remaining[-1].event, remaining[-1].data) == ("signed-out", "/console/login")
    assert feed.streams(api.acme.tenant.id) == 0


async def test_the_stream_ends_for_a_user_deactivated_meanwhile(api: Api, feed: InboxFeed) -> None:
    await signed_in(api)
    events = await live_events(api, feed)
    assert (await anext(events)).retry is not None

    admin = await api.login(api.acme)
    deactivated = await api.client.patch(
        f"/api/users/{api.agent.id}", json={"is_active": False}, headers=admin
    )
    assert deactivated.status_code == 200, deactivated.text

    async with asyncio.timeout(5):
        remaining = [event async for event in events]
    assert remaining[-1].event == "signed-out"


async def test_the_stream_serves_the_tenants_users_only(api: Api, feed: InboxFeed) -> None:
    anonymous = await api.client.get("/console/inbox/events", follow_redirects=False)
    await signed_in(api, "root")
    platform_admin = await api.client.get("/console/inbox/events")

    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/console/login")
    assert platform_admin.status_code == 403
    assert feed.streams(api.acme.tenant.id) == 0


async def test_the_events_say_status_changes_as_the_page_shows_them(api: Api) -> None:
    conversation = await conversation_with(api, CUSTOMER)
    sent = await sent_by_api(api, CUSTOMER, "On its way")
    fast = InboxFeed(api.container.read_inbox_changes, api.container.clock(), interval=0.01)
    subscription = fast.join(api.acme.tenant.id, api.agent.id)
    signed_out = False

    async def session() -> object:
        if signed_out:
            raise InvalidToken("signed out")
        return None

    events = inbox_events(
        fast, subscription, session, translator("es"), api.clock.now, sign_in_path="/console/login"
    )
    assert (await anext(events)).retry is not None
    async with FakeUnitOfWork(api.database) as uow:
        api.clock.advance()
        await uow.messages.advance_status(
            StatusChange(provider_sid=sent.provider_sid or "", status=MessageStatus.READ), api.clock.now()
        )
        await uow.commit()

    async with asyncio.timeout(5):
        while True:
            event = await anext(events)
            if event.event == "message" and json.loads(str(event.data))["status"] == "read":
                break
    shown = json.loads(str(event.data))
    assert (shown["symbol"], shown["status_text"]) == ("✓✓", "Leído")
    assert shown["conversation"]["id"] == str(conversation.id)
    signed_out = True
    async with asyncio.timeout(5):
        remaining = [item async for item in events]
    assert remaining[-1].event == "signed-out"
    assert fast.streams(api.acme.tenant.id) == 0


async def test_a_tenant_that_does_not_check_the_window_may_reply_freely_after_it_closed(
    make_api: Any,
) -> None:
    api = await make_api(ApiOptions(session_window_check=frozenset(), fixed_clock=True))
    conversation = await conversation_with(api, CUSTOMER, ago=timedelta(days=3))
    console = await signed_in(api)

    page = await console.get(f"/console/inbox/{conversation.id}")
    await console.submit(
        f"/console/inbox/{conversation.id}/messages",
        {"body": "Still here to help", "idempotency_key": composer_key(page)},
        from_page=f"/console/inbox/{conversation.id}",
    )

    assert [message.content.body for message in messages_to(api, CUSTOMER)] == ["Still here to help"]


async def test_a_nul_character_in_a_form_is_refused_and_sends_nothing(api: Api) -> None:
    conversation = await conversation_with(api, CUSTOMER)
    console = await signed_in(api)
    page = await console.get(f"/console/inbox/{conversation.id}")

    response = await console.submit(
        f"/console/inbox/{conversation.id}/messages",
        {"body": "a\x00b", "idempotency_key": composer_key(page)},
        from_page=f"/console/inbox/{conversation.id}",
        expect=422,
    )

    assert "NUL" in text_of(response.text)
    assert messages_to(api, CUSTOMER) == []
