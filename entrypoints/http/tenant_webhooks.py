"""Tenant webhooks over HTTP: endpoints, their signing secrets, and their deliveries.

Tenant admins only (agents get 403); another tenant's endpoint or delivery is a 404.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.spec import Operation, RequestBody
from litestar.params import FromPath, JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from application.identity.authorization import PersonOnly
from application.ports.principal import Principal
from application.tenant_webhooks.endpoints import (
    DEFAULT_PAGE_SIZE,
    DeleteWebhookEndpoint,
    DeliveriesPage,
    DeliveriesRequest,
    DeliveryDetails,
    EndpointWithSecret,
    GetWebhookDelivery,
    GetWebhookEndpoint,
    ListWebhookDeliveries,
    ListWebhookEndpoints,
    RegisterWebhookCommand,
    RegisterWebhookEndpoint,
    ReplayWebhookDelivery,
    RotateWebhookSecret,
    UpdateWebhookCommand,
    UpdateWebhookEndpoint,
)
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
from entrypoints.http.access import TENANT_ADMINS, tenant_admin_in_person
from entrypoints.http.dependencies import container_of
from entrypoints.http.problems import problem_responses
from entrypoints.http.routes import BEARER
from entrypoints.http.wire_types import Text

# --------------------------------------------------------------------------------------------- schemas

EventName = Literal["message.received", "message.status", "message.failed"]
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


# ---------------------------------------------------------------------------------------- dependencies


async def provide_register_webhook_endpoint(request: Request[Any, Any, Any]) -> RegisterWebhookEndpoint:
    return container_of(request).register_webhook_endpoint()


async def provide_list_webhook_endpoints(request: Request[Any, Any, Any]) -> ListWebhookEndpoints:
    return container_of(request).list_webhook_endpoints()


async def provide_get_webhook_endpoint(request: Request[Any, Any, Any]) -> GetWebhookEndpoint:
    return container_of(request).get_webhook_endpoint()


async def provide_update_webhook_endpoint(request: Request[Any, Any, Any]) -> UpdateWebhookEndpoint:
    return container_of(request).update_webhook_endpoint()


async def provide_delete_webhook_endpoint(request: Request[Any, Any, Any]) -> DeleteWebhookEndpoint:
    return container_of(request).delete_webhook_endpoint()


async def provide_rotate_webhook_secret(request: Request[Any, Any, Any]) -> RotateWebhookSecret:
    return container_of(request).rotate_webhook_secret()


async def provide_list_webhook_deliveries(request: Request[Any, Any, Any]) -> ListWebhookDeliveries:
    return container_of(request).list_webhook_deliveries()


async def provide_get_webhook_delivery(request: Request[Any, Any, Any]) -> GetWebhookDelivery:
    return container_of(request).get_webhook_delivery()


async def provide_replay_webhook_delivery(request: Request[Any, Any, Any]) -> ReplayWebhookDelivery:
    return container_of(request).replay_webhook_delivery()


# ------------------------------------------------------------------------------------------- handlers


@dataclass
class _OptionalBodyOperation(Operation):
    """Litestar documents every body as required; this one may be left out."""

    def __post_init__(self) -> None:
        if isinstance(self.request_body, RequestBody):
            self.request_body.required = False


DeliveryId = Annotated[
    str,
    PathParameter(
        pattern=r"^msg_[0-9A-Z]{26}$",
        description="A delivery's id, as in its webhook-id header",
    ),
]

_VERIFY = (
    "Deliveries follow the Standard Webhooks specification: `webhook-id` (the same on every retry: "
    "deduplicate on it), `webhook-timestamp` and `webhook-signature` (`v1,<base64 HMAC-SHA256>`, one "
    "per valid secret); verify them with a Standard Webhooks library and the endpoint's secret."
)


class WebhookEndpointsController(Controller):
    path = "/api/webhooks"
    tags = ["webhook endpoints"]
    security = BEARER
    opt = TENANT_ADMINS
    dependencies = {
        "register_webhook_endpoint": Provide(provide_register_webhook_endpoint),
        "list_webhook_endpoints": Provide(provide_list_webhook_endpoints),
        "get_webhook_endpoint": Provide(provide_get_webhook_endpoint),
        "update_webhook_endpoint": Provide(provide_update_webhook_endpoint),
        "delete_webhook_endpoint": Provide(provide_delete_webhook_endpoint),
        "rotate_webhook_secret": Provide(provide_rotate_webhook_secret),
        "list_webhook_deliveries": Provide(provide_list_webhook_deliveries),
        "get_webhook_delivery": Provide(provide_get_webhook_delivery),
        "replay_webhook_delivery": Provide(provide_replay_webhook_delivery),
    }

    @post(
        "/",
        operation_id="createWebhookEndpoint",
        summary="Register an endpoint of your own system to receive events",
        description=(
            "Events: `message.received` (a customer wrote), `message.status` (a message moved on: "
            "queued, sent, delivered, read, failed …) and `message.failed` (it ended failed or "
            "undelivered). The answer carries the endpoint's signing `secret`, shown this once. "
            + _VERIFY
            + " The URL must reach a public address: loopback, link-local and private addresses "
            "(and names resolving to them) are refused with 422. Needs a person (the answer holds a "
            "secret): an API key gets 403 `person-required`."
        ),
        status_code=HTTP_201_CREATED,
        responses=problem_responses(400, 401, 403, 413, 422, 503),
        opt=tenant_admin_in_person(PersonOnly.SET_WEBHOOK_SECRETS),
    )
    async def create(
        self,
        data: JSONBody[WebhookEndpointCreate],
        principal: NamedDependency[Principal],
        register_webhook_endpoint: NamedDependency[RegisterWebhookEndpoint],
    ) -> Response[WebhookEndpointWithSecret]:
        created = await register_webhook_endpoint(
            RegisterWebhookCommand(
                principal=principal,
                url=data.url,
                events=tuple(data.events),
                description=data.description,
                enabled=data.enabled,
            )
        )
        return Response(
            WebhookEndpointWithSecret.of_secret(created),
            status_code=HTTP_201_CREATED,
            headers={"Location": f"/api/webhooks/{created.endpoint.id}"},
        )

    @get(
        "/",
        operation_id="listWebhookEndpoints",
        summary="The tenant's webhook endpoints, oldest first",
        responses=problem_responses(400, 401, 403, 503),
    )
    async def list_endpoints(
        self,
        principal: NamedDependency[Principal],
        list_webhook_endpoints: NamedDependency[ListWebhookEndpoints],
    ) -> WebhookEndpointList:
        endpoints = await list_webhook_endpoints(principal)
        return WebhookEndpointList(items=[WebhookEndpointResource.of(e) for e in endpoints])

    @get(
        "/{endpoint_id:uuid}",
        operation_id="getWebhookEndpoint",
        summary="One webhook endpoint (never its secret)",
        responses=problem_responses(400, 401, 403, 404, 503),
    )
    async def get_endpoint(
        self,
        endpoint_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_webhook_endpoint: NamedDependency[GetWebhookEndpoint],
    ) -> WebhookEndpointResource:
        return WebhookEndpointResource.of(await get_webhook_endpoint(principal, endpoint_id))

    @patch(
        "/{endpoint_id:uuid}",
        operation_id="updateWebhookEndpoint",
        summary="Change an endpoint's URL, events, description, or enable/disable it",
        description=(
            "Fields left out (or null) keep their value. A new URL is checked like a new endpoint's. "
            "`enabled: true` brings back an endpoint disabled after a 410 (replay what it missed)."
        ),
        responses=problem_responses(400, 401, 403, 404, 413, 422, 503),
    )
    async def update_endpoint(
        self,
        endpoint_id: FromPath[UUID],
        data: JSONBody[WebhookEndpointUpdate],
        principal: NamedDependency[Principal],
        update_webhook_endpoint: NamedDependency[UpdateWebhookEndpoint],
    ) -> WebhookEndpointResource:
        updated = await update_webhook_endpoint(
            UpdateWebhookCommand(
                principal=principal,
                endpoint_id=endpoint_id,
                url=data.url,
                events=tuple(data.events) if data.events is not None else None,
                description=data.description,
                enabled=data.enabled,
            )
        )
        return WebhookEndpointResource.of(updated)

    @delete(
        "/{endpoint_id:uuid}",
        operation_id="deleteWebhookEndpoint",
        summary="Delete an endpoint, with its deliveries",
        status_code=HTTP_204_NO_CONTENT,
        responses=problem_responses(400, 401, 403, 404, 503),
    )
    async def delete_endpoint(
        self,
        endpoint_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        delete_webhook_endpoint: NamedDependency[DeleteWebhookEndpoint],
    ) -> None:
        await delete_webhook_endpoint(principal, endpoint_id)

    @post(
        "/{endpoint_id:uuid}/rotate-secret",
        operation_id="rotateWebhookSecret",
        summary="Replace the endpoint's signing secret",
        description=(
            "The new `secret` is shown this once. For `overlap_seconds` (default 24 hours, at most 7 "
            "days) deliveries are signed with both the new and the replaced secret, so the receiver "
            "can switch to the new one at its own pace. Needs a person: an API key gets 403 "
            "`person-required`."
        ),
        status_code=HTTP_200_OK,
        operation_class=_OptionalBodyOperation,
        responses=problem_responses(400, 401, 403, 404, 413, 422, 503),
        opt=tenant_admin_in_person(PersonOnly.SET_WEBHOOK_SECRETS),
    )
    async def rotate_secret(
        self,
        endpoint_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        rotate_webhook_secret: NamedDependency[RotateWebhookSecret],
        data: JSONBody[RotateSecretRequest | None] = None,
    ) -> WebhookEndpointWithSecret:
        overlap = data.overlap_seconds if data is not None else None
        rotated = await rotate_webhook_secret(
            principal, endpoint_id, timedelta(seconds=overlap) if overlap is not None else None
        )
        return WebhookEndpointWithSecret.of_secret(rotated)

    @get(
        "/{endpoint_id:uuid}/deliveries",
        operation_id="listWebhookDeliveries",
        summary="The endpoint's deliveries, newest first, with every attempt and answer",
        description=(
            "`state`: `pending` (waiting for its next attempt), `delivered` (a 2xx answer) or `dead` "
            "(attempts exhausted over about a day, a 410 Gone, or the endpoint disabled). "
            "Keyset pagination: pass `next_cursor` back as `cursor`."
        ),
        responses=problem_responses(400, 401, 403, 404, 422, 503),
    )
    async def list_deliveries(
        self,
        endpoint_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        list_webhook_deliveries: NamedDependency[ListWebhookDeliveries],
        limit: Annotated[
            int, QueryParameter(ge=1, description="1 to 100; larger values are capped at 100")
        ] = DEFAULT_PAGE_SIZE,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
        delivery_state: Annotated[
            DeliveryState | None, QueryParameter(name="state", description="Only deliveries in this state")
        ] = None,
    ) -> WebhookDeliveryPage:
        page = await list_webhook_deliveries(
            DeliveriesRequest(
                principal=principal,
                endpoint_id=endpoint_id,
                limit=limit,
                cursor=cursor,
                state=delivery_state,
            )
        )
        return WebhookDeliveryPage.of(page)

    @get(
        "/{endpoint_id:uuid}/deliveries/{delivery_id:str}",
        operation_id="getWebhookDelivery",
        summary="One delivery, with every attempt and answer",
        responses=problem_responses(400, 401, 403, 404, 503),
    )
    async def get_delivery(
        self,
        endpoint_id: FromPath[UUID],
        delivery_id: DeliveryId,
        principal: NamedDependency[Principal],
        get_webhook_delivery: NamedDependency[GetWebhookDelivery],
    ) -> WebhookDeliveryResource:
        return WebhookDeliveryResource.of_details(
            await get_webhook_delivery(principal, endpoint_id, delivery_id)
        )

    @post(
        "/{endpoint_id:uuid}/deliveries/{delivery_id:str}/replay",
        operation_id="replayWebhookDelivery",
        summary="Send a delivery again",
        description=(
            "The same body and the same `webhook-id` (receivers deduplicate on it), with a fresh set "
            "of retries; it is sent within a second or so. The endpoint must be enabled (409 "
            "otherwise)."
        ),
        status_code=HTTP_202_ACCEPTED,
        responses=problem_responses(400, 401, 403, 404, 409, 503),
    )
    async def replay_delivery(
        self,
        endpoint_id: FromPath[UUID],
        delivery_id: DeliveryId,
        principal: NamedDependency[Principal],
        replay_webhook_delivery: NamedDependency[ReplayWebhookDelivery],
    ) -> WebhookDeliveryResource:
        replayed = await replay_webhook_delivery(principal, endpoint_id, delivery_id)
        return WebhookDeliveryResource.of_details(replayed)
