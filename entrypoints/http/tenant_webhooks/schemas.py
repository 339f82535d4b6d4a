"""Tenant webhooks on the wire: endpoints (with their signing secret, shown once) and deliveries."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from application.tenant_webhooks.endpoints import DeliveriesPage, DeliveryDetails, EndpointWithSecret
from domain.tenant_webhooks.model import (
    MAX_DESCRIPTION_LENGTH,
    MAX_SECRET_OVERLAP,
    MAX_URL_LENGTH,
    DeliveryAttempt,
    DeliveryState,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)
from entrypoints.http.wire_types import Text

EventName = Literal[
    "message.received",
    "message.status",
    "message.failed",
    "message.media_stored",
    "message.media_not_kept",
    "sender.paused",
    "template.status",
    "consent.changed",
    "campaign.started",
    "campaign.paused",
    "campaign.completed",
    "campaign.canceled",
]
WebhookUrl = Annotated[
    Text,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        examples=["https://crm.example.com/hooks/whatsapp"],
        description="Where to POST events: http(s), a public address (private networks are refused)",
    ),
]
Events = Annotated[
    list[EventName],
    msgspec.Meta(
        min_length=1,
        max_length=len(WebhookEventType),
        examples=[["message.received", "message.status", "message.failed"]],
        description="The event types to receive",
    ),
]
Description = Annotated[Text, msgspec.Meta(max_length=MAX_DESCRIPTION_LENGTH)]


class WebhookEndpointCreate(msgspec.Struct, forbid_unknown_fields=True):
    url: WebhookUrl
    events: Events
    description: Description = ""
    enabled: bool = True


class WebhookEndpointUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields given (not null) change."""

    url: WebhookUrl | None = None
    events: Events | None = None
    description: Description | None = None
    enabled: bool | None = None


class RotateSecretRequest(msgspec.Struct, forbid_unknown_fields=True):
    overlap_seconds: (
        Annotated[
            int,
            msgspec.Meta(
                ge=0,
                le=int(MAX_SECRET_OVERLAP.total_seconds()),
                description="How long the replaced secret stays valid (default 24 hours; 0: not at all)",
            ),
        ]
        | None
    ) = None


class WebhookEndpointResource(msgspec.Struct):
    id: UUID
    url: str
    events: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None  # set when we disabled it (the endpoint answered 410 Gone)
    previous_secret_expires_at: datetime | None  # after a rotation: the old secret works until then
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> WebhookEndpointResource:
        return cls(**_endpoint_fields(endpoint))


class WebhookEndpointWithSecret(WebhookEndpointResource):
    """The endpoint and its signing secret (``whsec_…``): shown this once, store it now."""

    secret: str

    @classmethod
    def of_secret(cls, created: EndpointWithSecret) -> WebhookEndpointWithSecret:
        return cls(**_endpoint_fields(created.endpoint), secret=created.secret)


def _endpoint_fields(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": sorted(event.value for event in endpoint.events),
        "description": endpoint.description,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "previous_secret_expires_at": endpoint.previous_secret_expires_at,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
    }


class WebhookEndpointList(msgspec.Struct):
    items: list[WebhookEndpointResource]


class DeliveryAttemptResource(msgspec.Struct):
    attempted_at: datetime
    duration_ms: int
    status_code: int | None  # null: no answer (see error)
    error: str | None  # a timeout, a refused connection or address, …
    response_excerpt: str | None  # the first kilobyte of the answer

    @classmethod
    def of(cls, attempt: DeliveryAttempt) -> DeliveryAttemptResource:
        return cls(
            attempted_at=attempt.attempted_at,
            duration_ms=attempt.duration_ms,
            status_code=attempt.status_code,
            error=attempt.error,
            response_excerpt=attempt.response_excerpt,
        )


class WebhookDeliveryResource(msgspec.Struct):
    id: str  # the webhook-id header: the same on every attempt and replay
    endpoint_id: UUID
    event_type: str
    state: DeliveryState
    payload: dict[str, Any]  # the body sent
    created_at: datetime
    next_attempt_at: datetime | None  # while pending
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    finished_at: datetime | None  # when delivered or given up on
    attempts: list[DeliveryAttemptResource]

    @classmethod
    def of(cls, delivery: WebhookDelivery, attempts: list[DeliveryAttempt]) -> WebhookDeliveryResource:
        return cls(
            id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            event_type=delivery.event_type.value,
            state=delivery.state,
            payload=json.loads(delivery.payload),
            created_at=delivery.created_at,
            next_attempt_at=delivery.next_attempt_at if delivery.state is DeliveryState.PENDING else None,
            last_attempt_at=delivery.last_attempt_at,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            finished_at=delivery.finished_at,
            attempts=[DeliveryAttemptResource.of(attempt) for attempt in attempts],
        )

    @classmethod
    def of_details(cls, details: DeliveryDetails) -> WebhookDeliveryResource:
        return cls.of(details.delivery, details.attempts)


class WebhookDeliveryPage(msgspec.Struct):
    items: list[WebhookDeliveryResource]
    next_cursor: str | None

    @classmethod
    def of(cls, page: DeliveriesPage) -> WebhookDeliveryPage:
        return cls(
            items=[WebhookDeliveryResource.of_details(item) for item in page.items],
            next_cursor=page.next_cursor,
        )
