"""Status webhooks of sent messages: Meta's envelope, signed with the app secret, carrying the message's
opaque data; failures at delivery; duplicates, disorder, batching and retries."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec
import pytest

from emulators.meta import (
    ForcedError,
    RunningEmulator,
    Stage,
    WebhookOrder,
    running_emulator,
)
from tests.support.meta_emulator import (
    APP_SECRET,
    CUSTOMER,
    CUSTOMER_WA_ID,
    DISPLAY_PHONE_NUMBER,
    OTHER_CUSTOMER_WA_ID,
    OTHER_PHONE_NUMBER_ID,
    OTHER_TOKEN,
    OTHER_WABA_ID,
    PHONE_NUMBER_ID,
    WABA_ID,
    GraphClient,
    WebhookReceiver,
    emulator_config,
)


async def send(graph: GraphClient, **extra: Any) -> str:
    answer = await graph.send_text(**extra)
    assert answer.status == 200, answer.body
    message_id: str = answer.body["messages"][0]["id"]
    return message_id


async def test_a_message_goes_sent_delivered_read_in_metas_signed_envelope(
    emulator: RunningEmulator, graph: GraphClient, receiver: WebhookReceiver
) -> None:
    message_id = await send(graph, biz_opaque_callback_data="message=42;tenant=acme")
    await emulator.state.settle()

    assert receiver.statuses() == ["sent", "delivered", "read"]
    for webhook in receiver.received:
        signature = "sha256=" + hmac.new(APP_SECRET.encode(), webhook.body, hashlib.sha256).hexdigest()
        assert webhook.headers["X-Hub-Signature-256"] == signature
        assert webhook.headers["X-Hub-Signature"].startswith("sha1=")
        assert webhook.headers["Content-Type"] == "application/json"
        assert not webhook.signed_with("another-secret")
        (status,) = webhook.statuses()
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
                                "statuses": [status],
                            },
                            "field": "messages",
                        }
                    ],
                }
            ],
        }
        assert (status["id"], status["recipient_id"]) == (message_id, CUSTOMER_WA_ID)
        assert status["biz_opaque_callback_data"] == "message=42;tenant=acme"
        assert status["timestamp"].isdigit()
    sent, delivered, read = receiver.status_items()
    assert sent["pricing"] == {
        "billable": False,
        "pricing_model": "PMP",
        "category": "service",
        "type": "free_customer_service",
    }
    assert sent["conversation"]["origin"] == {"type": "service"}
    assert sent["conversation"]["expiration_timestamp"].isdigit()
    assert delivered["conversation"]["id"] == sent["conversation"]["id"]
    assert "expiration_timestamp" not in delivered["conversation"]
    assert "pricing" not in read
    assert "conversation" not in read
    message = emulator.state.messages[message_id]
    assert [event.status for event in message.history] == ["sent", "delivered", "read"]
    assert [d.http_status for d in emulator.state.status_webhooks(message_id)] == [200, 200, 200]


async def test_a_message_without_opaque_data_has_none_in_its_statuses(
    emulator: RunningEmulator, graph: GraphClient, receiver: WebhookReceiver
) -> None:
    await send(graph)
    await emulator.state.settle()

    assert all("biz_opaque_callback_data" not in status for status in receiver.status_items())


async def test_a_marketing_template_is_billable(
    emulator: RunningEmulator, graph: GraphClient, receiver: WebhookReceiver
) -> None:
    template = {"name": "spring_sale", "language": {"code": "en_US"}}
    await graph.send(
        {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "template", "template": template}
    )
    await emulator.state.settle()

    pricing = receiver.status_items()[0]["pricing"]
    assert (pricing["billable"], pricing["category"], pricing["type"]) == (True, "marketing", "regular")


@pytest.mark.parametrize("code", [131026, 131047, 131049, 130472])
async def test_an_error_at_delivery_is_a_failed_status_after_a_200(
    emulator: RunningEmulator, graph: GraphClient, receiver: WebhookReceiver, code: int
) -> None:
    emulator.state.update_faults(recipient_errors={CUSTOMER: ForcedError(code)})

    message_id = await send(graph, biz_opaque_callback_data="m-1")
    await emulator.state.settle()

    assert receiver.statuses() == ["failed"]
    (failed,) = receiver.status_items()
    assert failed["biz_opaque_callback_data"] == "m-1"
    (error,) = failed["errors"]
    assert set(error) == {"code", "title", "message", "error_data", "href"}
    assert error["code"] == code
    assert error["title"] == error["message"]
    assert error["error_data"]["details"]
    assert "pricing" not in failed
    assert emulator.state.messages[message_id].status == "failed"


async def test_a_delivery_error_can_be_told_to_strike_at_the_request(
    emulator: RunningEmulator, graph: GraphClient
) -> None:
    emulator.state.update_faults(
        recipient_errors={CUSTOMER_WA_ID: ForcedError(131026, stage=Stage.REQUEST, details="Not on WhatsApp")}
    )

    answer = await graph.send_text()

    assert answer.status == 400
    assert answer.error["code"] == 131026
    assert answer.error["message"] == "(#131026) Message undeliverable"
    assert answer.error["error_data"] == {"messaging_product": "whatsapp", "details": "Not on WhatsApp"}
    assert emulator.state.messages == {}


async def test_duplicate_webhooks(
    emulator: RunningEmulator, graph: GraphClient, receiver: WebhookReceiver
) -> None:
    emulator.state.update_faults(duplicate_webhooks=1)

    await send(graph)
    await emulator.state.settle()

    assert receiver.statuses() == ["sent", "sent", "delivered", "delivered", "read", "read"]
    assert receiver.received[0].body == receiver.received[1].body


async def test_webhooks_out_of_order(
    emulator: RunningEmulator, graph: GraphClient, receiver: WebhookReceiver
) -> None:
    emulator.state.update_faults(webhook_order=WebhookOrder.REVERSED)
    message_id = await send(graph)
    await emulator.state.settle()

    assert receiver.statuses() == ["read", "delivered", "sent"]
    assert emulator.state.messages[message_id].status == "read"  # the message itself moved forward

    emulator.state.update_faults(webhook_order=WebhookOrder.SHUFFLED)
    receiver.received.clear()
    await send(graph)
    await emulator.state.settle()
    assert sorted(receiver.statuses()) == ["delivered", "read", "sent"]


async def test_which_statuses_a_message_goes_through_is_configurable(
    emulator: RunningEmulator, graph: GraphClient, receiver: WebhookReceiver
) -> None:
    emulator.state.update_webhooks(statuses=("sent", "read"))

    await send(graph)
    await emulator.state.settle()

    assert receiver.statuses() == ["sent", "read"]


async def test_statuses_within_the_batch_window_share_one_post(
    emulator: RunningEmulator, graph: GraphClient, receiver: WebhookReceiver
) -> None:
    # Long enough for the three sends to fall in one window on a loaded machine.
    emulator.state.update_webhooks(batch_window_seconds=1.0, step_delay_seconds=0)
    first = await send(graph)
    second = await send(graph, to="+14155550123")
    third = (await graph.send_text(phone_number_id=OTHER_PHONE_NUMBER_ID, token=OTHER_TOKEN)).body[
        "messages"
    ][0]["id"]
    await emulator.state.settle()

    (webhook,) = receiver.received
    assert webhook.signed_with()
    entries = webhook.payload["entry"]
    assert [entry["id"] for entry in entries] == [WABA_ID, OTHER_WABA_ID]
    assert len(entries[0]["changes"]) == 6  # one change per status
    assert {s["id"] for s in webhook.statuses()} == {first, second, third}
    assert sorted(s["recipient_id"] for s in webhook.statuses() if s["status"] == "sent") == sorted(
        [CUSTOMER_WA_ID, OTHER_CUSTOMER_WA_ID, CUSTOMER_WA_ID]
    )
    (delivery,) = emulator.state.deliveries
    assert delivery.kind == "batch"
    assert len(delivery.statuses) == 9


async def test_merged_changes_hold_every_status_of_a_number(
    emulator: RunningEmulator, graph: GraphClient, receiver: WebhookReceiver
) -> None:
    emulator.state.update_webhooks(batch_window_seconds=0.2, step_delay_seconds=0, merge_changes=True)
    await send(graph)
    await emulator.state.settle()

    (webhook,) = receiver.received
    ((change,),) = [entry["changes"] for entry in webhook.payload["entry"]]
    assert [status["status"] for status in change["value"]["statuses"]] == ["sent", "delivered", "read"]


async def test_a_webhook_the_receiver_refuses_is_posted_again_a_bounded_number_of_times(
    emulator: RunningEmulator, graph: GraphClient, receiver: WebhookReceiver
) -> None:
    emulator.state.update_webhooks(statuses=("sent",), retry_attempts=2)
    receiver.answers = [500, 503]

    await send(graph)
    await emulator.state.settle()

    assert [d.http_status for d in emulator.state.deliveries] == [500, 503, 200]
    assert [d.attempt for d in emulator.state.deliveries] == [1, 2, 3]
    assert len({webhook.body for webhook in receiver.received}) == 1  # the same body, the same signature
    assert len({webhook.signature for webhook in receiver.received}) == 1

    receiver.received.clear()
    receiver.answers = [500] * 5
    await send(graph)
    await emulator.state.settle()
    assert len(receiver.received) == 3  # then it gives up


async def test_without_a_callback_url_no_status_is_posted(
    receiver: WebhookReceiver, http: aiohttp.ClientSession
) -> None:
    async with running_emulator(emulator_config(None)) as emulator:
        answer = await GraphClient(http, emulator.base_url).send_text()
        await emulator.state.settle()

        assert answer.status == 200
        assert receiver.received == []
        assert emulator.state.stats["webhooks.status.unconfigured"] == 3


async def test_statuses_can_be_posted_one_by_one_by_the_test(
    emulator: RunningEmulator, graph: GraphClient, receiver: WebhookReceiver, http: aiohttp.ClientSession
) -> None:
    emulator.state.update_webhooks(statuses=())
    message_id = await send(graph, biz_opaque_callback_data="m-7")
    await emulator.state.settle()
    assert receiver.received == []

    read = await emulator.send_status(message_id, "read")
    async with http.post(
        emulator.url("/_emulator/statuses"),
        json={"message_id": message_id, "status": "failed", "error": {"code": 131026}},
    ) as response:
        assert response.status == 201
        failed = await response.json()

    assert read.http_status == 200
    assert failed["statuses"] == ["failed"]
    first, second = receiver.status_items()
    assert (first["status"], first["biz_opaque_callback_data"]) == ("read", "m-7")
    assert (second["status"], second["errors"][0]["code"]) == ("failed", 131026)


async def test_proxy_variables_do_not_divert_webhooks(
    emulator: RunningEmulator,
    graph: GraphClient,
    receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    await send(graph)
    await emulator.state.settle()

    assert receiver.statuses() == ["sent", "delivered", "read"]


@pytest.fixture
async def business_callback(receiver: WebhookReceiver) -> AsyncIterator[RunningEmulator]:
    """Globex overrides the app's callback URL with one of its own."""
    config = emulator_config(receiver.url("/app"))
    globex = msgspec.structs.replace(config.businesses[OTHER_WABA_ID], callback_url=receiver.url("/globex"))
    businesses = {**config.businesses, OTHER_WABA_ID: globex}
    async with running_emulator(msgspec.structs.replace(config, businesses=businesses)) as emulator:
        yield emulator


async def test_a_business_may_override_its_apps_callback_url(
    business_callback: RunningEmulator, receiver: WebhookReceiver, http: aiohttp.ClientSession
) -> None:
    graph = GraphClient(http, business_callback.base_url)
    await graph.send_text()
    await graph.send_text(phone_number_id=OTHER_PHONE_NUMBER_ID, token=OTHER_TOKEN)
    await business_callback.state.settle()

    assert sorted({webhook.path for webhook in receiver.received}) == ["/app", "/globex"]
