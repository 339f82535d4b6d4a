"""Webhook endpoints, secrets and signatures: the Standard Webhooks format, checked with its library."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
import standardwebhooks

from domain.tenant_webhooks.model import (
    DEFAULT_DELIVERY_POLICY,
    InvalidWebhookEndpoint,
    SigningSecrets,
    WebhookEndpoint,
    WebhookEventType,
    check_url,
    is_delivery_id,
    new_delivery_id,
    new_signing_secret,
    signature_header,
)

T0 = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)


def test_a_secret_is_whsec_and_base64_of_32_random_bytes() -> None:
    secret = new_signing_secret()

    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_signing_secret() != secret


def test_the_signature_verifies_with_the_standard_webhooks_library() -> None:
    secret = new_signing_secret()
    now = datetime.now(UTC)
    timestamp = int(now.timestamp())
    body = '{"type":"message.received","timestamp":"…","data":{"body":"¿Dónde está mi pedido?"}}'
    headers = {
        "webhook-id": "msg_01HZY",
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header([secret], "msg_01HZY", timestamp, body),
    }

    payload = standardwebhooks.Webhook(secret).verify(body.encode(), headers)

    assert payload["type"] == "message.received"
    assert headers["webhook-signature"] == standardwebhooks.Webhook(secret).sign("msg_01HZY", now, body)


def test_a_signature_made_with_another_secret_does_not_verify() -> None:
    timestamp = int(datetime.now(UTC).timestamp())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header([new_signing_secret()], "msg_1", timestamp, "{}"),
    }

    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(new_signing_secret()).verify(b"{}", headers)


def test_during_a_rotation_both_secrets_sign_and_either_verifies() -> None:
    old, new = new_signing_secret(), new_signing_secret()
    now = datetime.now(UTC)
    secrets = SigningSecrets(current=new, previous=old, previous_expires_at=now + timedelta(hours=1))
    timestamp = int(now.timestamp())
    header = signature_header(secrets.in_force(now), "msg_1", timestamp, "{}")
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(timestamp), "webhook-signature": header}

    assert len(header.split(" ")) == 2
    assert all(entry.startswith("v1,") for entry in header.split(" "))
    for secret in (old, new):
        standardwebhooks.Webhook(secret).verify(b"{}", headers)


def test_the_previous_secret_stops_signing_when_the_overlap_ends() -> None:
    secrets = SigningSecrets(current="whsec_bmV3", previous="whsec_b2xk", previous_expires_at=T0)

    assert secrets.in_force(T0 - timedelta(seconds=1)) == ("whsec_bmV3", "whsec_b2xk")
    assert secrets.in_force(T0) == ("whsec_bmV3",)
    assert "whsec_bmV3" not in repr(secrets)


@pytest.mark.parametrize(
    "url",
    [
        "https://crm.example.com/hooks/whatsapp",
        "http://crm.example.com:8080/hooks?tenant=acme",
        "https://[2001:db8::1]/hook",
    ],
)
def test_http_and_https_urls_are_accepted(url: str) -> None:
    assert check_url(f"  {url} ") == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("", "1 to"),
        ("ftp://example.com/hook", "https://"),
        ("example.com/hook", "https://"),
        ("https:///hook", "no host"),
        ("https://user:pass@example.com/hook", "credentials"),
        ("https://example.com/hook#part", "fragment"),
        ("https://example.com/a b", "spaces"),
        ("https://example.com:99999/hook", "not valid"),
        ("https://example.com/" + "a" * 2048, "1 to"),
    ],
)
def test_malformed_urls_are_refused(url: str, why: str) -> None:
    with pytest.raises(InvalidWebhookEndpoint, match=why):
        check_url(url)


def test_an_endpoint_subscribes_to_known_events_only() -> None:
    endpoint = WebhookEndpoint.new(
        tenant_id=uuid4(), url="https://example.com/h", events=["message.received"], now=T0
    )

    assert endpoint.subscribes_to(WebhookEventType.MESSAGE_RECEIVED)
    assert not endpoint.subscribes_to(WebhookEventType.MESSAGE_STATUS)
    assert not endpoint.changed(now=T0, enabled=False).subscribes_to(WebhookEventType.MESSAGE_RECEIVED)
    with pytest.raises(InvalidWebhookEndpoint, match="unknown event type"):
        WebhookEndpoint.new(tenant_id=uuid4(), url="https://example.com/h", events=["message.sent"], now=T0)
    with pytest.raises(InvalidWebhookEndpoint, match="at least one"):
        WebhookEndpoint.new(tenant_id=uuid4(), url="https://example.com/h", events=[], now=T0)


def test_enabling_an_endpoint_again_clears_why_it_was_disabled() -> None:
    endpoint = WebhookEndpoint.new(
        tenant_id=uuid4(), url="https://example.com/h", events=["message.status"], now=T0
    ).disabled_because("410 Gone", T0)

    enabled = endpoint.changed(now=T0 + timedelta(minutes=1), enabled=True)

    assert (endpoint.enabled, endpoint.disabled_reason) == (False, "410 Gone")
    assert (enabled.enabled, enabled.disabled_reason) == (True, None)


def test_delivery_ids_are_msg_ulids_that_sort_by_time() -> None:
    earlier = new_delivery_id(T0)
    later = new_delivery_id(T0 + timedelta(milliseconds=1))

    assert earlier.startswith("msg_")
    assert len(earlier) == 30
    assert is_delivery_id(earlier)
    assert earlier < later
    assert not is_delivery_id("msg_short")
    assert not is_delivery_id("evt_" + earlier[4:])


def test_the_default_retries_spread_over_about_a_day() -> None:
    policy = DEFAULT_DELIVERY_POLICY
    ceilings = [
        min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1))
        for attempt in range(1, policy.max_attempts)
    ]
    # Full jitter: each wait is uniform in 0..ceiling, so the expected total is half the ceilings.
    expected = sum(ceilings, timedelta()) / 2
    assert timedelta(hours=20) < expected < timedelta(hours=30)
