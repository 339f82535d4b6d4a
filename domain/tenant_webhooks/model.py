"""Webhooks to a tenant's own systems: endpoints, signing secrets, events and their deliveries.

Deliveries follow the Standard Webhooks specification (https://www.standardwebhooks.com): each one is
POSTed with ``webhook-id`` (the same on every retry), ``webhook-timestamp`` (of the attempt) and
``webhook-signature``: ``v1,`` + base64(HMAC-SHA256(secret, "<id>.<timestamp>.<body>")), one entry
per currently valid secret, space-separated, so a receiver keeps verifying while a secret is rotated.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from uuid import UUID, uuid4

from domain.errors import DomainError
from domain.retry_policy import RetryPolicy

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 32
MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 500
DELIVERY_ID_PREFIX = "msg_"
# Standard Webhooks: retries spread over about a day. With full jitter each wait is drawn from
# 0..min(8 h, 30 s x 2^(n-1)): 15 retries after the first attempt add up to about 24 hours on average.
DEFAULT_DELIVERY_POLICY = RetryPolicy(
    max_attempts=16, base_delay=timedelta(seconds=30), max_delay=timedelta(hours=8)
)
DEFAULT_SECRET_OVERLAP = timedelta(hours=24)
MAX_SECRET_OVERLAP = timedelta(days=7)


class InvalidWebhookEndpoint(DomainError):
    pass


class WebhookEventType(enum.StrEnum):
    MESSAGE_RECEIVED = "message.received"  # a customer wrote to one of the tenant's numbers
    MESSAGE_STATUS = "message.status"  # one of the tenant's messages moved forward
    MESSAGE_FAILED = "message.failed"  # ... and ended failed or undelivered
    # A media item a customer sent is kept: GET /api/media/{id} serves it (its stored_media_url).
    MESSAGE_MEDIA_STORED = "message.media_stored"
    # ... or the gateway gave up keeping it (too large, a type WhatsApp does not send, refused): not_kept.
    MESSAGE_MEDIA_NOT_KEPT = "message.media_not_kept"
    # One of the tenant's numbers stopped sending for a while: its provider account has a problem (a
    # revoked token, a restricted account) or the number hit WhatsApp's messaging limit.
    SENDER_PAUSED = "sender.paused"
    # One of the tenant's templates changed status at a provider account: approved, rejected (with the
    # provider's reason), paused or disabled for low quality.
    TEMPLATE_STATUS = "template.status"
    # A person's consent changed: they opted out or back in (by keyword, by the provider's opt-out
    # button, or set over the API). A repeated opt-out that changes nothing sends no event.
    CONSENT_CHANGED = "consent.changed"
    # A campaign began sending, was paused (by the tenant, or by the gateway when the provider signalled
    # a limit: with the reason), sent its last message, or was canceled.
    CAMPAIGN_STARTED = "campaign.started"
    CAMPAIGN_PAUSED = "campaign.paused"
    CAMPAIGN_COMPLETED = "campaign.completed"
    CAMPAIGN_CANCELED = "campaign.canceled"


class DeliveryState(enum.StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    DELIVERED = "delivered"  # the endpoint answered 2xx
    DEAD = "dead"  # given up on: attempts exhausted, the endpoint gone (410) or disabled


# ---------------------------------------------------------------------------------------- secrets


def new_signing_secret() -> str:
    """A fresh secret in the Standard Webhooks format: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def _secret_key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidWebhookEndpoint("a signing secret is 'whsec_' and base64") from error
    if not key:
        raise InvalidWebhookEndpoint("a signing secret is not empty")
    return key


def signature(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """One ``v1,<base64>`` entry of the ``webhook-signature`` header."""
    signed = f"{message_id}.{timestamp}.{body}".encode()
    digest = hmac.new(_secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(secrets_in_force: Iterable[str], message_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` header: one entry per valid secret, space-separated."""
    return " ".join(signature(secret, message_id, timestamp, body) for secret in secrets_in_force)


@dataclass(frozen=True, slots=True)
class SigningSecrets:
    """An endpoint's secrets: the current one, and during a rotation's overlap the one it replaced."""

    current: str
    previous: str | None = None
    previous_expires_at: datetime | None = None

    def in_force(self, now: datetime) -> tuple[str, ...]:
        """The secrets deliveries are signed with now: the current one first."""
        if (
            self.previous is not None
            and self.previous_expires_at is not None
            and now < self.previous_expires_at
        ):
            return (self.current, self.previous)
        return (self.current,)

    def __repr__(self) -> str:
        return "SigningSecrets(current='whsec_****', previous=...)"


# --------------------------------------------------------------------------------------- endpoints


def check_url(url: str) -> str:
    """An absolute http(s) URL with a host, no credentials and no fragment; returned stripped."""
    url = url.strip()
    if not url or len(url) > MAX_URL_LENGTH or any(c.isspace() or ord(c) < 32 for c in url):
        raise InvalidWebhookEndpoint(f"the URL is 1 to {MAX_URL_LENGTH} characters without spaces")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise InvalidWebhookEndpoint("the URL is not valid") from error
    if parts.scheme.lower() not in {"http", "https"}:
        raise InvalidWebhookEndpoint("the URL must start with https:// (or http://)")
    if not parts.hostname:
        raise InvalidWebhookEndpoint("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhookEndpoint("the URL may not carry credentials (user:password@)")
    if parts.fragment or url.endswith("#"):
        raise InvalidWebhookEndpoint("the URL may not have a fragment (#...)")
    if port == 0:
        raise InvalidWebhookEndpoint("the URL's port is not valid")
    return url


def check_events(events: Iterable[WebhookEventType | str]) -> frozenset[WebhookEventType]:
    try:
        chosen = frozenset(WebhookEventType(event) for event in events)
    except ValueError as error:
        known = ", ".join(event.value for event in WebhookEventType)
        raise InvalidWebhookEndpoint(f"unknown event type; the events are {known}") from error
    if not chosen:
        raise InvalidWebhookEndpoint("an endpoint subscribes to at least one event type")
    return chosen


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    """Where a tenant wants to hear about its messages. Its secrets are kept apart (SigningSecrets)."""

    tenant_id: UUID
    url: str
    events: frozenset[WebhookEventType]
    created_at: datetime
    updated_at: datetime
    enabled: bool = True
    description: str = ""
    disabled_reason: str | None = None  # why we disabled it (the endpoint answered 410)
    previous_secret_expires_at: datetime | None = None  # the replaced secret works until then
    id: UUID = field(default_factory=uuid4)

    def __post_init__(self) -> None:
        check_url(self.url)
        check_events(self.events)
        if len(self.description) > MAX_DESCRIPTION_LENGTH:
            raise InvalidWebhookEndpoint(f"the description is at most {MAX_DESCRIPTION_LENGTH} characters")

    @classmethod
    def new(
        cls,
        *,
        tenant_id: UUID,
        url: str,
        events: Iterable[WebhookEventType | str],
        now: datetime,
        description: str = "",
        enabled: bool = True,
    ) -> WebhookEndpoint:
        return cls(
            tenant_id=tenant_id,
            url=check_url(url),
            events=check_events(events),
            description=description.strip(),
            enabled=enabled,
            created_at=now,
            updated_at=now,
        )

    def subscribes_to(self, event_type: WebhookEventType) -> bool:
        return self.enabled and event_type in self.events

    def changed(
        self,
        *,
        now: datetime,
        url: str | None = None,
        events: Iterable[WebhookEventType | str] | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> WebhookEndpoint:
        updated = replace(self, updated_at=now)
        if url is not None:
            updated = replace(updated, url=check_url(url))
        if events is not None:
            updated = replace(updated, events=check_events(events))
        if description is not None:
            updated = replace(updated, description=description.strip())
        if enabled is not None:
            # Enabling again clears why it was disabled; disabling by hand gives no reason of ours.
            updated = replace(updated, enabled=enabled, disabled_reason=None)
        return updated

    def disabled_because(self, reason: str, now: datetime) -> WebhookEndpoint:
        return replace(self, enabled=False, disabled_reason=reason, updated_at=now)


# -------------------------------------------------------------------------------------- deliveries

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_delivery_id(now: datetime) -> str:
    """``msg_`` + a ULID: 48 bits of milliseconds then 80 random bits, Crockford base32 (26 characters).

    Ids sort by creation time, so a page of deliveries can be ordered (and continued) by id alone.
    """
    milliseconds = int(now.timestamp() * 1000) & ((1 << 48) - 1)
    value = (milliseconds << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return DELIVERY_ID_PREFIX + "".join(reversed(chars))


def is_delivery_id(text: str) -> bool:
    body = text.removeprefix(DELIVERY_ID_PREFIX)
    return text.startswith(DELIVERY_ID_PREFIX) and len(body) == 26 and all(c in _CROCKFORD for c in body)


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One POST to the endpoint, as it went: the response's status and the start of its body, or why
    there was no response (a timeout, a refused connection, an address we do not deliver to)."""

    delivery_id: str
    attempted_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    response_excerpt: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One event on its way to one endpoint. ``id`` is the ``webhook-id``: the same on every attempt.

    ``attempts`` counts the attempts since the delivery was created or last replayed: the retry policy
    gives up after its ``max_attempts``. ``payload`` is the exact body sent, the same on every attempt.
    """

    id: str
    tenant_id: UUID
    endpoint_id: UUID
    event_type: WebhookEventType
    payload: str
    created_at: datetime
    next_attempt_at: datetime
    state: DeliveryState = DeliveryState.PENDING
    attempts: int = 0
    last_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    last_response_excerpt: str | None = None
    finished_at: datetime | None = None  # when it was delivered or given up on

    def after(
        self,
        attempt: DeliveryAttempt,
        *,
        state: DeliveryState,
        next_attempt_at: datetime,
        error: str | None = None,
    ) -> WebhookDelivery:
        """The delivery once ``attempt`` is settled: delivered, dead, or pending until ``next_attempt_at``."""
        return replace(
            self,
            state=state,
            attempts=self.attempts + 1,
            next_attempt_at=next_attempt_at,
            last_attempt_at=attempt.attempted_at,
            last_status_code=attempt.status_code,
            last_error=error if error is not None else attempt.error,
            last_response_excerpt=attempt.response_excerpt,
            finished_at=None if state is DeliveryState.PENDING else attempt.attempted_at,
        )
