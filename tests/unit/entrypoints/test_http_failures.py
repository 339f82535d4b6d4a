"""Why a message failed, over HTTP: the send's answer, the message, the history and its filter, and the
tenant webhooks' events all show the same ``failure``."""

from __future__ import annotations

import json
from typing import Any

from application.ports.messages import StatusChange
from application.ports.providers import OutcomeKind, SendOutcome
from domain.messaging.failures import FailureCode
from domain.messaging.messages import MessageStatus
from domain.tenant_webhooks.model import WebhookEventType
from tests.support.api import Api, assert_problem

OPTED_OUT = SendOutcome(
    kind=OutcomeKind.REJECTED,
    error_code=21610,
    reason="the recipient has opted out of messages from this sender",
    failure_code=FailureCode.RECIPIENT_OPTED_OUT,
    provider_error_message="Attempt to send to unsubscribed recipient",
)


def expected_failure(api: Api) -> dict[str, Any]:
    return {
        "code": "recipient-opted-out",
        "provider": api.acme.tenant.provider.value,
        "provider_code": 21610,
        "provider_message": "Attempt to send to unsubscribed recipient",
        "reason": "the recipient has opted out of messages from this sender",
        "retryable": False,
        "advice": FailureCode.RECIPIENT_OPTED_OUT.advice,
    }


async def test_a_refused_send_answers_with_its_failure_and_keeps_its_error_fields(api: Api) -> None:
    api.provider.will_return(OPTED_OUT)
    headers = await api.login(api.acme)

    response = await api.send(headers, to_number="+14155550123", body="hi")

    assert response.status_code == 201, response.text
    sent = response.json()
    assert sent["status"] == "failed"
    assert sent["failure"] == expected_failure(api)
    assert (sent["error_code"], sent["error_message"]) == (21610, OPTED_OUT.reason)


async def test_the_message_and_its_history_show_the_same_failure(api: Api) -> None:
    api.provider.will_return(OPTED_OUT)
    headers = await api.login(api.acme)
    failed = (await api.send(headers, to_number="+14155550123", body="hi")).json()

    one = (await api.client.get(f"/api/messages/{failed['id']}", headers=headers)).json()
    history = (await api.client.get("/api/messages", headers=headers)).json()

    assert one["failure"] == expected_failure(api)
    assert [item["failure"] for item in history["items"]] == [expected_failure(api)]


async def test_a_message_that_did_not_fail_has_no_failure(api: Api) -> None:
    headers = await api.login(api.acme)

    sent = (await api.send(headers, to_number="+14155550123", body="hi")).json()

    assert sent["status"] == "queued"
    assert sent["failure"] is None


async def test_an_undelivered_report_sets_the_failure_and_keeps_the_timeline_as_it_was(api: Api) -> None:
    headers = await api.login(api.acme)
    sent = (await api.send(headers, to_number="+14155550123", body="hi")).json()
    change = StatusChange(
        provider_sid=sent["provider_sid"],
        status=MessageStatus.UNDELIVERED,
        error_code=63016,
        error_message="outside the 24-hour window",
        failure_code=FailureCode.SESSION_WINDOW_CLOSED,
    )
    await api.database.messages.advance_status(change, api.clock.advance())

    message = (await api.client.get(f"/api/messages/{sent['id']}", headers=headers)).json()

    assert message["failure"]["code"] == "session-window-closed"
    assert message["failure"]["retryable"] is False
    assert set(message["timeline"][0]) == {
        "status",
        "received_at",
        "applied",
        "error_code",
        "error_message",
        "pricing_category",
    }


async def test_the_history_filters_by_failure_code(api: Api) -> None:
    headers = await api.login(api.acme)
    queued = (await api.send(headers, to_number="+14155550123", body="one")).json()
    api.provider.will_return(OPTED_OUT)
    opted_out = (await api.send(headers, to_number="+14155550124", body="two")).json()

    def ids(page: dict[str, Any]) -> list[str]:
        return [item["id"] for item in page["items"]]

    matching = await api.client.get("/api/messages?failure_code=recipient-opted-out", headers=headers)
    none = await api.client.get("/api/messages?failure_code=rate-limited", headers=headers)
    conversation = await api.client.get(
        "/api/conversations/+14155550124/messages?failure_code=recipient-opted-out", headers=headers
    )

    assert ids(matching.json()) == [opted_out["id"]]
    assert ids(none.json()) == []
    assert ids(conversation.json()) == [opted_out["id"]]
    assert queued["id"] not in ids(matching.json())


async def test_an_unknown_failure_code_filter_is_a_400(api: Api) -> None:
    headers = await api.login(api.acme)

    response = await api.client.get("/api/messages?failure_code=gremlins", headers=headers)

    assert_problem(response, 400, "validation-failed")


async def test_a_tenant_webhooks_failed_event_shows_the_failure_as_the_api_does(api: Api) -> None:
    headers = await api.login(api.acme)
    created = await api.client.post(
        "/api/webhooks",
        json={"url": "https://crm.example.com/hooks", "events": ["message.failed"]},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    api.provider.will_return(OPTED_OUT)

    sent = (await api.send(headers, to_number="+14155550123", body="hi")).json()

    (delivery,) = api.database.webhook_deliveries.all()
    event = json.loads(delivery.payload)
    assert (delivery.event_type, event["data"]["id"]) == (WebhookEventType.MESSAGE_FAILED, sent["id"])
    assert event["data"]["failure"] == sent["failure"] == expected_failure(api)
    assert set(event["data"]) == set(sent) - {"fallback_sent"}  # an answer to the send only
