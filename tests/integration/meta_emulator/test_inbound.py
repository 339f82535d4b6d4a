"""Customers writing to a business number (the inbound simulation): Meta's webhook for every kind of
message, media the emulator serves, redeliveries, batches, and the customer-service window they open."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
import pytest

from emulators.meta import InboundMessage, RunningEmulator, Stage
from tests.support.meta_emulator import (
    CUSTOMER,
    CUSTOMER_WA_ID,
    DISPLAY_PHONE_NUMBER,
    MEXICAN_NUMBER,
    MEXICAN_WA_ID,
    OTHER_PHONE_NUMBER_ID,
    OTHER_WABA_ID,
    PHONE_NUMBER_ID,
    WABA_ID,
    GraphClient,
    WebhookReceiver,
)


def inbound(**fields: Any) -> InboundMessage:
    return InboundMessage(**{"from_": CUSTOMER, "phone_number_id": PHONE_NUMBER_ID, **fields})


async def test_a_text_message_comes_in_metas_signed_envelope(
    emulator: RunningEmulator, receiver: WebhookReceiver
) -> None:
    delivery = await emulator.send_inbound(inbound(profile_name="Ana", text={"body": "Where is my order?"}))

    assert (delivery.kind, delivery.http_status, delivery.response_body) == ("inbound", 200, "EVENT_RECEIVED")
    (webhook,) = receiver.received
    assert webhook.signed_with()
    (message,) = webhook.messages()
    assert webhook.payload == {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA_ID,
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": DISPLAY_PHONE_NUMBER,
                                "phone_number_id": PHONE_NUMBER_ID,
                            },
                            "contacts": [{"profile": {"name": "Ana"}, "wa_id": CUSTOMER_WA_ID}],
                            "messages": [
                                {
                                    "from": CUSTOMER_WA_ID,
                                    "id": message["id"],
                                    "timestamp": message["timestamp"],
                                    "type": "text",
                                    "text": {"body": "Where is my order?"},
                                }
                            ],
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }
    assert message["id"].startswith("wamid.")
    assert message["timestamp"].isdigit()
    assert delivery.message_ids == (message["id"],)
    assert emulator.state.inbound[message["id"]].wa_id == CUSTOMER_WA_ID


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param(
            {"interactive": {"type": "button_reply", "button_reply": {"id": "change", "title": "Change"}}},
            {
                "type": "interactive",
                "interactive": {"type": "button_reply", "button_reply": {"id": "change", "title": "Change"}},
            },
            id="button-reply",
        ),
        pytest.param(
            {
                "interactive": {
                    "type": "list_reply",
                    "list_reply": {"id": "14", "title": "14:00", "description": "PM"},
                }
            },
            {
                "type": "interactive",
                "interactive": {
                    "type": "list_reply",
                    "list_reply": {"id": "14", "title": "14:00", "description": "PM"},
                },
            },
            id="list-reply",
        ),
        pytest.param(
            {"button": {"payload": "TRACK-42", "text": "Track"}},
            {"type": "button", "button": {"payload": "TRACK-42", "text": "Track"}},
            id="template-quick-reply",
        ),
        pytest.param(
            {"location": {"latitude": 19.43, "longitude": -99.13, "name": "Zócalo"}},
            {"type": "location", "location": {"latitude": 19.43, "longitude": -99.13, "name": "Zócalo"}},
            id="location",
        ),
        pytest.param(
            {
                "contacts": [
                    {"name": {"formatted_name": "Ana Lima"}, "phones": [{"phone": "+1 415 555 0199"}]}
                ]
            },
            {
                "type": "contacts",
                "contacts": [
                    {"name": {"formatted_name": "Ana Lima"}, "phones": [{"phone": "+1 415 555 0199"}]}
                ],
            },
            id="contacts",
        ),
        pytest.param(
            {"reaction": {"message_id": "wamid.OURS", "emoji": "❤️"}},
            {"type": "reaction", "reaction": {"message_id": "wamid.OURS", "emoji": "❤️"}},
            id="reaction",
        ),
    ],
)
async def test_every_kind_of_customer_message_has_metas_shape(
    emulator: RunningEmulator, receiver: WebhookReceiver, fields: dict[str, Any], expected: dict[str, Any]
) -> None:
    await emulator.send_inbound(inbound(**fields))

    (message,) = receiver.received[0].messages()
    assert {
        key: value for key, value in message.items() if key not in ("from", "id", "timestamp")
    } == expected


async def test_a_reply_to_a_business_message_names_it_in_its_context(
    emulator: RunningEmulator, receiver: WebhookReceiver
) -> None:
    await emulator.send_inbound(
        inbound(button={"payload": "YES", "text": "Yes"}, context={"id": "wamid.OUR-TEMPLATE"})
    )

    (message,) = receiver.received[0].messages()
    assert message["context"] == {"from": DISPLAY_PHONE_NUMBER, "id": "wamid.OUR-TEMPLATE"}


async def test_an_unsupported_message_carries_metas_error(
    emulator: RunningEmulator, receiver: WebhookReceiver
) -> None:
    await emulator.send_inbound(inbound(type="unsupported"))

    (message,) = receiver.received[0].messages()
    assert message["type"] == "unsupported"
    assert [error["code"] for error in message["errors"]] == [131051]


async def test_a_customers_image_is_a_media_id_whose_bytes_the_business_downloads(
    emulator: RunningEmulator, receiver: WebhookReceiver, graph: GraphClient, http: aiohttp.ClientSession
) -> None:
    photo = b"\xff\xd8\xff\xe0 a photo of a parcel"
    await emulator.send_inbound(
        inbound(image={"caption": "It arrived broken"}, media_content_base64=base64.b64encode(photo).decode())
    )

    (message,) = receiver.received[0].messages()
    image = message["image"]
    assert (message["type"], image["caption"], image["mime_type"]) == (
        "image",
        "It arrived broken",
        "image/jpeg",
    )
    described = await graph.call("GET", f"/{image['id']}")
    assert described.body["file_size"] == len(photo)
    async with http.get(
        described.body["url"], headers={"Authorization": "Bearer access-token-of-acme"}
    ) as response:
        assert await response.read() == photo
    async with http.get(described.body["url"]) as response:
        assert response.status == 401


@pytest.mark.parametrize(
    ("kind", "mime_type"),
    [
        ("video", "video/mp4"),
        ("audio", "audio/ogg; codecs=opus"),
        ("document", "application/pdf"),
        ("sticker", "image/webp"),
    ],
)
async def test_every_media_kind_gets_a_served_media_id(
    emulator: RunningEmulator, receiver: WebhookReceiver, graph: GraphClient, kind: str, mime_type: str
) -> None:
    await emulator.send_inbound(inbound(**{kind: {}}))

    (message,) = receiver.received[0].messages()
    assert message[kind]["mime_type"] == mime_type
    assert message[kind]["sha256"]
    assert (await graph.call("GET", f"/{message[kind]['id']}")).status == 200


async def test_a_redelivered_message_keeps_its_wamid(
    emulator: RunningEmulator, receiver: WebhookReceiver
) -> None:
    first = await emulator.send_inbound(inbound(text={"body": "Hi"}))
    again = await emulator.send_inbound(inbound(text={"body": "Hi"}, id=first.message_ids[0]))

    assert first.message_ids == again.message_ids
    ids = [webhook.messages()[0]["id"] for webhook in receiver.received]
    assert ids[0] == ids[1]


async def test_a_number_whatsapp_knows_by_another_id_writes_with_that_id(
    emulator: RunningEmulator, receiver: WebhookReceiver
) -> None:
    await emulator.send_inbound(inbound(from_=MEXICAN_NUMBER, text={"body": "Hola"}))

    (message,) = receiver.received[0].messages()
    assert message["from"] == MEXICAN_WA_ID


async def test_a_batch_puts_several_messages_in_one_post(
    emulator: RunningEmulator, receiver: WebhookReceiver
) -> None:
    delivery = await emulator.send_inbound_batch(
        [
            inbound(text={"body": "one"}),
            inbound(from_="+14155550123", text={"body": "two"}),
            inbound(phone_number_id=OTHER_PHONE_NUMBER_ID, text={"body": "three"}),
        ]
    )

    assert delivery.kind == "batch"
    (webhook,) = receiver.received
    assert webhook.signed_with()
    assert [entry["id"] for entry in webhook.payload["entry"]] == [WABA_ID, OTHER_WABA_ID]
    assert [len(entry["changes"]) for entry in webhook.payload["entry"]] == [2, 1]
    assert [m["text"]["body"] for m in webhook.messages()] == ["one", "two", "three"]


async def test_a_merged_batch_holds_every_message_and_contact_of_a_number_in_one_change(
    emulator: RunningEmulator, receiver: WebhookReceiver
) -> None:
    await emulator.send_inbound_batch(
        [inbound(text={"body": "one"}), inbound(from_="+14155550123", text={"body": "two"})], merge=True
    )

    ((change,),) = [entry["changes"] for entry in receiver.received[0].payload["entry"]]
    assert [c["wa_id"] for c in change["value"]["contacts"]] == [CUSTOMER_WA_ID, "14155550123"]
    assert len(change["value"]["messages"]) == 2


async def test_the_control_api_makes_a_customer_write(
    emulator: RunningEmulator, receiver: WebhookReceiver, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        emulator.url("/_emulator/inbound"),
        json={
            "from": CUSTOMER,
            "phone_number_id": PHONE_NUMBER_ID,
            "profile_name": "Ana",
            "text": {"body": "Hi"},
        },
    ) as response:
        assert response.status == 201
        delivery = await response.json()

    assert delivery["http_status"] == 200
    assert delivery["payload"] == receiver.received[0].payload
    assert delivery["signature"] == receiver.received[0].signature
    async with http.post(
        emulator.url("/_emulator/inbound"), json={"from": CUSTOMER, "text": {"body": "?"}}
    ) as response:
        assert response.status == 400  # two numbers: name one
        assert "phone_number_id" in (await response.json())["error"]


async def test_a_webhook_can_be_signed_with_the_wrong_secret(
    emulator: RunningEmulator, receiver: WebhookReceiver
) -> None:
    await emulator.send_inbound(inbound(text={"body": "forged"}, sign_with="not-the-app-secret"))

    (webhook,) = receiver.received
    assert not webhook.signed_with()
    assert webhook.signed_with("not-the-app-secret")


async def test_a_customer_message_to_an_unreachable_gateway_is_recorded_as_failed(
    emulator: RunningEmulator,
) -> None:
    delivery = await emulator.send_inbound(
        inbound(text={"body": "hi"}, url="http://127.0.0.1:9/webhooks/meta")
    )

    assert delivery.http_status is None
    assert delivery.error
    assert emulator.state.stats["webhooks.inbound.failed"] == 1


# -- the customer-service window --------------------------------------------------------------------------


async def test_the_customer_writing_opens_the_24_hour_window(
    emulator: RunningEmulator, graph: GraphClient, receiver: WebhookReceiver
) -> None:
    emulator.state.update_session_window(enforced=True)

    await graph.send_text("Before they wrote")
    await emulator.state.settle()
    assert receiver.statuses() == ["failed"]
    assert receiver.status_items()[0]["errors"][0]["code"] == 131047

    receiver.received.clear()
    await emulator.send_inbound(inbound(text={"body": "Hi"}))
    await graph.send_text("Within the window")
    await emulator.state.settle()
    assert receiver.statuses() == ["sent", "delivered", "read"]

    receiver.received.clear()
    emulator.state.advance_clock(24 * 3600 + 1)
    await graph.send_text("A day later")
    template = {
        "name": "order_update",
        "language": {"code": "en_US"},
        "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
        ],
    }
    await graph.send(
        {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "template", "template": template}
    )
    await emulator.state.settle()
    assert sorted(receiver.statuses()) == ["delivered", "failed", "read", "sent"]  # the template goes through


async def test_a_closed_window_can_be_refused_at_the_request(
    emulator: RunningEmulator, graph: GraphClient
) -> None:
    emulator.state.update_session_window(enforced=True, stage=Stage.REQUEST)

    answer = await graph.send_text()

    assert (answer.status, answer.error["code"]) == (400, 131047)
    assert answer.error["message"] == "(#131047) Re-engagement message"


async def test_the_window_is_per_business_number(emulator: RunningEmulator, graph: GraphClient) -> None:
    emulator.state.update_session_window(enforced=True, stage=Stage.REQUEST)
    await emulator.send_inbound(inbound(phone_number_id=OTHER_PHONE_NUMBER_ID, text={"body": "Hi Globex"}))

    assert (await graph.send_text()).status == 400


async def test_the_control_api_says_when_a_customer_last_wrote(
    emulator: RunningEmulator, graph: GraphClient, http: aiohttp.ClientSession
) -> None:
    async with http.patch(
        emulator.url("/_emulator/session_window"), json={"enforced": True, "stage": "request"}
    ):
        pass

    for hours_ago, expected in ((23, 200), (25, 400)):
        async with http.post(
            emulator.url("/_emulator/customer_windows"),
            json={"phone_number_id": PHONE_NUMBER_ID, "wa_id": CUSTOMER, "hours_ago": hours_ago},
        ) as response:
            assert (await response.json())["open"] is (expected == 200)
        assert (await graph.send_text()).status == expected
