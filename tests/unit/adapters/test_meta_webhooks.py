"""Meta's webhook deliveries, as the Cloud API sends them, read into our commands: per phone number, every
kind of message a customer sends, every status of one we sent, and what is odd or broken in them."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

import pytest

from adapters.meta.errors import META_ERRORS
from adapters.meta.webhooks import (
    MetaChange,
    MetaDelivery,
    parse_delivery,
    subscription_challenge,
)
from application.errors import InvalidInput
from application.inbound.commands import InboundMessage
from domain.consent.model import ConsentPolicy, ConsentSource, ConsentState
from domain.messaging.content import Choice, ContactCard, Location, Media, MediaKind, Reaction
from domain.messaging.failures import FailureCode
from domain.messaging.messages import MAX_BODY_LENGTH, MessageContent, MessageStatus
from domain.phone import PhoneNumber
from tests.support.meta import BUSINESS_ACCOUNT_ID, PHONE_NUMBER_ID, VERIFY_TOKEN

DISPLAY = "15550783881"
CUSTOMER = "16505551234"
WAMID = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTdBQ0M2RTVFRkFBNTlDQTk0NAA="
EARLIER = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"


def delivery(*entries: dict[str, Any]) -> bytes:
    return json.dumps({"object": "whatsapp_business_account", "entry": list(entries)}).encode()


def entry(*changes: dict[str, Any], account_id: str = BUSINESS_ACCOUNT_ID) -> dict[str, Any]:
    return {"id": account_id, "changes": list(changes)}


def messages_change(
    *,
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    number_id: str = PHONE_NUMBER_ID,
    display: str = DISPLAY,
    contacts: list[dict[str, Any]] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display, "phone_number_id": number_id},
    }
    if messages is not None:
        value["contacts"] = (
            contacts if contacts is not None else [{"profile": {"name": "Kerry Fisher"}, "wa_id": CUSTOMER}]
        )
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    if errors is not None:
        value["errors"] = errors
    return {"value": value, "field": "messages"}


def inbound(kind: str, payload: Any = None, *, wamid: str = WAMID, **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"from": CUSTOMER, "id": wamid, "timestamp": "1750263773", "type": kind}
    if payload is not None:
        message[kind] = payload
    message.update(extra)
    return message


def only_change(body: bytes) -> MetaChange:
    parsed = parse_delivery(body)
    assert parsed.other_changes == ()
    (change,) = parsed.changes
    return change


def content_of(message: dict[str, Any]) -> MessageContent:
    change = only_change(delivery(entry(messages_change(messages=[message]))))
    assert change.skipped == ()
    (received,) = change.inbound
    return received.content


# -- inbound messages -------------------------------------------------------------------------------


def test_a_text_message_names_our_number_the_customer_and_their_profile() -> None:
    change = only_change(delivery(entry(messages_change(messages=[inbound("text", {"body": "Hello!"})]))))

    assert (change.business_account_id, change.phone_number_id, change.display_phone_number) == (
        BUSINESS_ACCOUNT_ID,
        PHONE_NUMBER_ID,
        DISPLAY,
    )
    assert change.inbound == (
        InboundMessage(
            provider_message_id=WAMID,
            sender=PhoneNumber.parse("+15550783881"),
            contact=PhoneNumber.parse("+16505551234"),
            content=MessageContent(body="Hello!"),
            profile_name="Kerry Fisher",
            wa_id=CUSTOMER,
        ),
    )
    assert change.statuses == ()


def test_a_formatted_display_number_still_names_our_number() -> None:
    change = only_change(
        delivery(
            entry(messages_change(display="+1 555-078-3881", messages=[inbound("text", {"body": "Hi"})]))
        )
    )

    assert change.inbound[0].sender == PhoneNumber.parse("+15550783881")


def test_an_answer_to_one_of_our_messages_names_it() -> None:
    message = inbound("text", {"body": "Yes please"}, context={"from": DISPLAY, "id": EARLIER})

    assert content_of(message) == MessageContent(body="Yes please", reply_to=EARLIER)


@pytest.mark.parametrize(
    ("kind", "payload", "expected"),
    [
        (
            "image",
            {"caption": "My receipt", "mime_type": "image/jpeg", "sha256": "abc=", "id": "1003383421387256"},
            MessageContent(
                body="My receipt",
                media=(
                    Media(
                        kind=MediaKind.IMAGE, provider_media_id="1003383421387256", content_type="image/jpeg"
                    ),
                ),
            ),
        ),
        (
            "document",
            {
                "caption": "Signed",
                "filename": "contract.pdf",
                "mime_type": "application/pdf",
                "sha256": "abc=",
                "id": "1003383421387257",
            },
            MessageContent(
                body="Signed",
                media=(
                    Media(
                        kind=MediaKind.DOCUMENT,
                        provider_media_id="1003383421387257",
                        content_type="application/pdf",
                        filename="contract.pdf",
                    ),
                ),
            ),
        ),
        (
            "audio",
            {
                "mime_type": "audio/ogg; codecs=opus",
                "sha256": "abc=",
                "id": "1003383421387258",
                "voice": True,
            },
            MessageContent(
                media=(
                    Media(
                        kind=MediaKind.AUDIO,
                        provider_media_id="1003383421387258",
                        content_type="audio/ogg; codecs=opus",
                    ),
                ),
            ),
        ),
        (
            "video",
            {"mime_type": "video/mp4", "sha256": "abc=", "id": "1003383421387259"},
            MessageContent(
                media=(
                    Media(
                        kind=MediaKind.VIDEO, provider_media_id="1003383421387259", content_type="video/mp4"
                    ),
                )
            ),
        ),
        (
            "sticker",
            {"mime_type": "image/webp", "sha256": "abc=", "id": "1003383421387260", "animated": False},
            MessageContent(
                media=(
                    Media(
                        kind=MediaKind.STICKER,
                        provider_media_id="1003383421387260",
                        content_type="image/webp",
                    ),
                )
            ),
        ),
    ],
)
def test_media_arrive_as_typed_media_by_metas_media_id(
    kind: str, payload: dict[str, Any], expected: MessageContent
) -> None:
    assert content_of(inbound(kind, payload)) == expected


def test_a_tapped_reply_button_is_a_reply_whose_body_is_its_title() -> None:
    message = inbound(
        "interactive",
        {"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes"}},
        context={"from": DISPLAY, "id": EARLIER},
    )

    assert content_of(message) == MessageContent(body="Yes", reply=Choice("yes", "Yes"), reply_to=EARLIER)


def test_a_picked_list_row_is_a_reply_with_its_description() -> None:
    message = inbound(
        "interactive",
        {"type": "list_reply", "list_reply": {"id": "m1", "title": "8-10", "description": "Before work"}},
    )

    assert content_of(message) == MessageContent(body="8-10", reply=Choice("m1", "8-10", "Before work"))


def test_a_templates_quick_reply_button_is_a_reply_with_its_payload() -> None:
    message = inbound("button", {"payload": "STOP_PROMOTIONS", "text": "Stop promotions"})

    assert content_of(message) == MessageContent(
        body="Stop promotions", reply=Choice("STOP_PROMOTIONS", "Stop promotions")
    )


@pytest.mark.parametrize(
    ("payload", "text"),
    [
        ("Stop promotions", "Stop promotions"),
        ("STOP_PROMOTIONS", "Detener promociones"),
        ("x", "Parar promoções"),
    ],
)
def test_metas_marketing_opt_out_button_reads_as_an_opt_out_by_provider_button(
    payload: str, text: str
) -> None:
    content = content_of(inbound("button", {"payload": payload, "text": text}))

    assert ConsentPolicy(tenant_id=uuid4()).recognise(content) == (
        ConsentState.OPTED_OUT,
        ConsentSource.PROVIDER_BUTTON,
    )


def test_a_shared_location() -> None:
    message = inbound(
        "location",
        {"latitude": -23.5505, "longitude": -46.6333, "name": "Acme store", "address": "Av. Paulista 1000"},
    )

    assert content_of(message) == MessageContent(
        location=Location(
            latitude=-23.5505, longitude=-46.6333, name="Acme store", address="Av. Paulista 1000"
        )
    )


def test_shared_contact_cards() -> None:
    message = inbound("contacts")
    message["contacts"] = [
        {
            "name": {"formatted_name": "Ana Souza", "first_name": "Ana", "last_name": "Souza"},
            "phones": [{"phone": "+55 11 98765-4321", "wa_id": "5511987654321", "type": "CELL"}],
            "emails": [{"email": "ana@example.com", "type": "WORK"}],
            "org": {"company": "Acme"},
        },
        {"phones": [{"phone": "+1 650-555-0000", "type": "HOME"}]},
    ]

    assert content_of(message) == MessageContent(
        contacts=(
            ContactCard(
                name="Ana Souza",
                phones=("+55 11 98765-4321",),
                emails=("ana@example.com",),
                organization="Acme",
            ),
            ContactCard(name="+1 650-555-0000", phones=("+1 650-555-0000",)),
        )
    )


def test_a_reaction_and_a_reaction_taken_back() -> None:
    added = inbound("reaction", {"message_id": EARLIER, "emoji": "\u2764\ufe0f"})
    removed = inbound("reaction", {"message_id": EARLIER})

    assert content_of(added) == MessageContent(
        reaction=Reaction(provider_message_id=EARLIER, emoji="\u2764\ufe0f")
    )
    assert content_of(removed) == MessageContent(reaction=Reaction(provider_message_id=EARLIER, emoji=""))


def test_a_type_meta_does_not_pass_on_is_kept_and_marked_with_metas_words() -> None:
    message = inbound(
        "unsupported",
        errors=[
            {
                "code": 131051,
                "title": "Message type unknown",
                "message": "Message type unknown",
                "error_data": {"details": "Message type is currently not supported."},
            }
        ],
    )

    assert content_of(message) == MessageContent(
        body="Message type is currently not supported.", unsupported="unsupported"
    )


def test_a_system_message_is_kept_as_unsupported_with_its_text() -> None:
    message = inbound(
        "system",
        {
            "body": "User A changed from 16505551234 to 16505559999",
            "new_wa_id": "16505559999",
            "type": "user_changed_number",
        },
    )

    assert content_of(message) == MessageContent(
        body="User A changed from 16505551234 to 16505559999", unsupported="system"
    )


@pytest.mark.parametrize(
    ("message", "word"),
    [
        (inbound("order", {"catalog_id": "1", "product_items": []}), "order"),
        (inbound("request_welcome"), "request_welcome"),
        (
            inbound("interactive", {"type": "nfm_reply", "nfm_reply": {"response_json": "{}"}}),
            "interactive/nfm_reply",
        ),
        (inbound("image", {"mime_type": "image/jpeg"}), "image"),  # no media id: nothing to fetch
        (inbound("text", {"body": ""}), "text"),
        ({"from": CUSTOMER, "id": WAMID, "timestamp": "1750263773"}, "unknown"),
    ],
)
def test_an_unknown_kind_or_one_without_what_its_kind_needs_is_kept_as_unsupported(
    message: dict[str, Any], word: str
) -> None:
    content = content_of(message)

    assert content.unsupported == word


def test_a_nul_character_in_the_customers_text_is_replaced_and_the_message_kept() -> None:
    message = inbound("text", {"body": "ab\x00cd"})
    profile = [{"profile": {"name": "Ker\x00ry"}, "wa_id": CUSTOMER}]

    change = only_change(delivery(entry(messages_change(messages=[message], contacts=profile))))

    (received,) = change.inbound
    assert received.content.body == "ab\ufffdcd"
    assert received.profile_name == "Ker\ufffdry"


def test_a_text_longer_than_a_message_holds_is_cut_and_marked_not_lost() -> None:
    content = content_of(inbound("text", {"body": "x" * 4096}))

    assert len(content.body) == MAX_BODY_LENGTH
    assert content.body.endswith("\u2026")


def test_a_message_that_cannot_be_read_is_skipped_with_the_reason_and_the_rest_kept() -> None:
    good = inbound("text", {"body": "Hi"})
    no_id = inbound("text", {"body": "lost"}, wamid="")
    bad_number = inbound("text", {"body": "who?"}, wamid=EARLIER)
    bad_number["from"] = "12"

    change = only_change(delivery(entry(messages_change(messages=[no_id, good, bad_number]))))

    assert [message.provider_message_id for message in change.inbound] == [WAMID]
    assert len(change.skipped) == 2
    assert "wamid" in change.skipped[0]
    assert EARLIER in change.skipped[1]


def test_errors_meta_reports_on_a_change_are_kept_for_the_log() -> None:
    errors = [{"code": 131000, "title": "Something went wrong", "error_data": {"details": "Try again"}}]

    change = only_change(delivery(entry(messages_change(statuses=[], errors=errors))))

    assert change.skipped == ("Meta reported: error 131000: Try again",)


# -- statuses ---------------------------------------------------------------------------------------


def status(word: str, *, wamid: str = WAMID, **extra: Any) -> dict[str, Any]:
    return {"id": wamid, "status": word, "timestamp": "1750263773", "recipient_id": CUSTOMER, **extra}


def test_a_status_carries_our_message_id_back_and_metas_pricing_category() -> None:
    ours = uuid4()
    sent = status(
        "sent",
        biz_opaque_callback_data=str(ours),
        conversation={"id": "6f5e1a", "expiration_timestamp": "1750350173", "origin": {"type": "utility"}},
        pricing={"billable": True, "pricing_model": "PMP", "category": "utility", "type": "regular"},
    )

    (report,) = only_change(delivery(entry(messages_change(statuses=[sent])))).statuses

    assert report.provider_message_id == WAMID
    assert (report.status, report.reported) == (MessageStatus.SENT, "sent")
    assert report.message_id == ours
    assert report.pricing_category == "utility"
    assert (report.error_code, report.error_message) == (None, None)


def test_callback_data_that_is_not_our_id_ties_nothing() -> None:
    (report,) = only_change(
        delivery(
            entry(messages_change(statuses=[status("delivered", biz_opaque_callback_data="campaign-7")]))
        )
    ).statuses

    assert report.message_id is None
    assert report.status is MessageStatus.DELIVERED


def test_a_failed_status_keeps_metas_code_and_our_reason() -> None:
    failed = status(
        "failed",
        errors=[
            {
                "code": 131026,
                "title": "Message undeliverable",
                "message": "Message undeliverable",
                "error_data": {"details": "Message Undeliverable."},
            }
        ],
    )

    (report,) = only_change(delivery(entry(messages_change(statuses=[failed])))).statuses

    assert (report.status, report.error_code) == (MessageStatus.FAILED, 131026)
    assert report.error_message is not None
    assert report.error_message.startswith(META_ERRORS[131026].reason)
    assert report.failure_code is FailureCode.RECIPIENT_UNAVAILABLE
    assert report.provider_error_message == "Message Undeliverable."


def test_a_failed_status_outside_the_session_window_is_session_window_closed() -> None:
    failed = status(
        "failed",
        errors=[
            {
                "code": 131047,
                "title": "Re-engagement message",
                "message": "Re-engagement message",
                "error_data": {"details": "Message failed to send because more than 24 hours have passed"},
            }
        ],
    )

    (report,) = only_change(delivery(entry(messages_change(statuses=[failed])))).statuses

    assert (report.error_code, report.failure_code) == (131047, FailureCode.SESSION_WINDOW_CLOSED)
    assert report.provider_error_message == "Message failed to send because more than 24 hours have passed"


def test_a_failed_status_with_a_code_we_do_not_know_keeps_metas_words() -> None:
    failed = status("failed", errors=[{"code": 139999, "title": "A new failure"}])

    (report,) = only_change(delivery(entry(messages_change(statuses=[failed])))).statuses

    assert (report.error_code, report.error_message) == (139999, "A new failure")
    assert (report.failure_code, report.provider_error_message) == (FailureCode.UNKNOWN, "A new failure")


def test_a_status_that_is_not_news_of_delivery_is_reported_without_a_status() -> None:
    (report,) = only_change(delivery(entry(messages_change(statuses=[status("deleted")])))).statuses

    assert (report.status, report.reported) == (None, "deleted")


def test_a_status_without_an_id_is_skipped() -> None:
    change = only_change(
        delivery(entry(messages_change(statuses=[status("sent", wamid=""), status("read")])))
    )

    assert [report.status for report in change.statuses] == [MessageStatus.READ]
    assert len(change.skipped) == 1


# -- batches and repeats ----------------------------------------------------------------------------


def test_a_batch_of_entries_and_changes_is_split_per_phone_number_in_order() -> None:
    other_number = "106540352242923"
    body = delivery(
        entry(
            messages_change(messages=[inbound("text", {"body": "to the first number"})]),
            messages_change(statuses=[status("delivered")], number_id=other_number, display="15550783882"),
        ),
        entry(
            messages_change(messages=[inbound("text", {"body": "another account"}, wamid=EARLIER)]),
            account_id="102290129340399",
        ),
    )

    parsed = parse_delivery(body)

    assert [(c.business_account_id, c.phone_number_id) for c in parsed.changes] == [
        (BUSINESS_ACCOUNT_ID, PHONE_NUMBER_ID),
        (BUSINESS_ACCOUNT_ID, other_number),
        ("102290129340399", PHONE_NUMBER_ID),
    ]
    assert [len(c.inbound) for c in parsed.changes] == [1, 0, 1]
    assert parsed.changes[1].statuses[0].status is MessageStatus.DELIVERED
    assert parsed.changes[2].inbound[0].content.body == "another account"


def test_one_change_can_hold_several_messages_and_statuses() -> None:
    change = only_change(
        delivery(
            entry(
                messages_change(
                    messages=[
                        inbound("text", {"body": "one"}),
                        inbound("text", {"body": "two"}, wamid=EARLIER),
                    ],
                    statuses=[status("sent"), status("delivered")],
                )
            )
        )
    )

    assert [m.content.body for m in change.inbound] == ["one", "two"]
    assert [s.reported for s in change.statuses] == ["sent", "delivered"]


def test_a_repeat_within_a_delivery_is_read_once() -> None:
    message = inbound("text", {"body": "Hello!"})
    body = delivery(
        entry(messages_change(messages=[message, message], statuses=[status("read"), status("read")])),
        entry(messages_change(messages=[message])),
    )

    parsed = parse_delivery(body)

    assert sum(len(change.inbound) for change in parsed.changes) == 1
    assert sum(len(change.statuses) for change in parsed.changes) == 1


def test_a_repeated_delivery_reads_the_same_so_the_wamid_recognises_it() -> None:
    body = delivery(entry(messages_change(messages=[inbound("text", {"body": "Hello!"})])))

    assert parse_delivery(body) == parse_delivery(body)


def test_a_change_of_another_field_is_kept_as_it_came() -> None:
    template_update = {
        "field": "message_template_status_update",
        "value": {
            "event": "APPROVED",
            "message_template_id": 594425479261596,
            "message_template_name": "order_shipped",
            "message_template_language": "en_US",
            "reason": "NONE",
        },
    }

    parsed = parse_delivery(delivery(entry(template_update)))

    assert parsed.changes == ()
    (other,) = parsed.other_changes
    assert (other.business_account_id, other.field) == (BUSINESS_ACCOUNT_ID, "message_template_status_update")
    assert other.value["event"] == "APPROVED"


def test_an_empty_batch_is_an_empty_delivery() -> None:
    assert parse_delivery(delivery()) == MetaDelivery()


# -- what is not a delivery -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        json.dumps({"object": "page", "entry": []}).encode(),
        json.dumps({"object": "whatsapp_business_account"}).encode(),
        b'{"object": "whatsapp_business_account", "entry": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
)
def test_a_body_that_is_not_a_whatsapp_delivery_is_invalid_input(body: bytes) -> None:
    with pytest.raises(InvalidInput):
        parse_delivery(body)


# -- the subscription handshake ---------------------------------------------------------------------


def test_the_handshake_echoes_the_challenge_when_the_verify_token_matches() -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}

    assert subscription_challenge(query, VERIFY_TOKEN) == "1158201444"


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1158201444"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"},
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN},
        {},
    ],
)
def test_the_handshake_answers_nothing_otherwise(query: dict[str, str]) -> None:
    assert subscription_challenge(query, VERIFY_TOKEN) is None


@pytest.mark.parametrize(
    "malformed",
    [
        {"id": "1"},  # an entry without changes
        {"id": "1", "changes": [{"field": "messages"}]},
        {"id": "1", "changes": [{"value": {}}]},
        {"id": "1", "changes": [{"field": "messages", "value": {"messages": []}}]},
        entry(messages_change(number_id="not-an-id", statuses=[])),
        entry(messages_change(statuses=[{"id": "wamid.x", "status": "sent", "timestamp": 10**400}])),
    ],
)
def test_a_malformed_entry_or_change_is_left_out_and_the_rest_of_the_batch_kept(
    malformed: dict[str, Any],
) -> None:
    good = entry(messages_change(messages=[inbound("text", {"body": "hello"}, wamid="wamid.good")]))
    body = json.dumps({"object": "whatsapp_business_account", "entry": [malformed, good]}).encode()

    parsed = parse_delivery(body)

    assert [message.provider_message_id for change in parsed.changes for message in change.inbound] == [
        "wamid.good"
    ]
