"""Tenant webhooks over HTTP: endpoints, their signing secrets, and their deliveries.

Tenant admins only (agents and platform admins get 403); another tenant's endpoint or delivery is a 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.openapi.spec import Operation, RequestBody
from litestar.params import FromPath, JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from application.authorization import PersonOnly
from application.pagination import DEFAULT_PAGE_SIZE
from application.principal import Principal
from application.tenant_webhooks.endpoints import (
    DeleteWebhookEndpoint,
    DeliveriesRequest,
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
from domain.tenant_webhooks.model import DeliveryState
from entrypoints.http.access import BEARER, TENANT_ADMINS, tenant_admin_in_person
from entrypoints.http.dependencies import provide
from entrypoints.http.problems import problem_responses
from entrypoints.http.tenant_webhooks.schemas import (
    RotateSecretRequest,
    WebhookDeliveryPage,
    WebhookDeliveryResource,
    WebhookEndpointCreate,
    WebhookEndpointList,
    WebhookEndpointResource,
    WebhookEndpointUpdate,
    WebhookEndpointWithSecret,
)
from entrypoints.http.wire_types import PageCursor, PageLimit


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


class WebhookEndpointsController(Controller):
    path = "/api/webhooks"
    tags = ["webhook endpoints"]
    security = BEARER
    opt = TENANT_ADMINS
    dependencies = {
        "register_webhook_endpoint": provide(lambda c: c.register_webhook_endpoint),
        "list_webhook_endpoints": provide(lambda c: c.list_webhook_endpoints),
        "get_webhook_endpoint": provide(lambda c: c.get_webhook_endpoint),
        "update_webhook_endpoint": provide(lambda c: c.update_webhook_endpoint),
        "delete_webhook_endpoint": provide(lambda c: c.delete_webhook_endpoint),
        "rotate_webhook_secret": provide(lambda c: c.rotate_webhook_secret),
        "list_webhook_deliveries": provide(lambda c: c.list_webhook_deliveries),
        "get_webhook_delivery": provide(lambda c: c.get_webhook_delivery),
        "replay_webhook_delivery": provide(lambda c: c.replay_webhook_delivery),
    }

    @post(
        "/",
        operation_id="createWebhookEndpoint",
        summary="Register an endpoint of your own system to receive events",
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
        """Events: `message.received` (a customer wrote), `message.status` (a message moved on: queued, sent,
        delivered, read, failed …), `message.failed` (it ended failed or undelivered), and
        `message.media_stored` / `message.media_not_kept` (a media item a customer sent is kept and served
        at its `stored_media_url`, or was given up on, with the reason in `not_kept`). The answer
        carries the endpoint's signing `secret`, shown this once. Deliveries follow the Standard Webhooks
        specification: `webhook-id` (the same on every retry: deduplicate on it), `webhook-timestamp` and
        `webhook-signature` (`v1,<base64 HMAC-SHA256>`, one per valid secret); verify them with a Standard
        Webhooks library and the endpoint's secret. The URL must reach a public address: loopback,
        link-local and private addresses (and names resolving to them) are refused with 422. Needs a person
        (the answer holds a secret): an API key gets 403 `person-required`."""
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
        responses=problem_responses(400, 401, 403, 404, 413, 422, 503),
    )
    async def update_endpoint(
        self,
        endpoint_id: FromPath[UUID],
        data: JSONBody[WebhookEndpointUpdate],
        principal: NamedDependency[Principal],
        update_webhook_endpoint: NamedDependency[UpdateWebhookEndpoint],
    ) -> WebhookEndpointResource:
        """Fields left out (or null) keep their value. A new URL is checked like a new endpoint's.
        `enabled: true` brings back an endpoint disabled after a 410 (replay what it missed)."""
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
        """The new `secret` is shown this once. For `overlap_seconds` (default 24 hours, at most 7 days)
        deliveries are signed with both the new and the replaced secret, so the receiver can switch to the
        new one at its own pace. Needs a person: an API key gets 403 `person-required`."""
        overlap = data.overlap_seconds if data is not None else None
        rotated = await rotate_webhook_secret(
            principal, endpoint_id, timedelta(seconds=overlap) if overlap is not None else None
        )
        return WebhookEndpointWithSecret.of_secret(rotated)

    @get(
        "/{endpoint_id:uuid}/deliveries",
        operation_id="listWebhookDeliveries",
        summary="The endpoint's deliveries, newest first, with every attempt and answer",
        responses=problem_responses(400, 401, 403, 404, 422, 503),
    )
    async def list_deliveries(
        self,
        endpoint_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        list_webhook_deliveries: NamedDependency[ListWebhookDeliveries],
        limit: PageLimit = DEFAULT_PAGE_SIZE,
        cursor: PageCursor = None,
        delivery_state: Annotated[
            DeliveryState | None, QueryParameter(name="state", description="Only deliveries in this state")
        ] = None,
    ) -> WebhookDeliveryPage:
        """`state`: `pending` (waiting for its next attempt), `delivered` (a 2xx answer) or `dead` (attempts
        exhausted over about a day, a 410 Gone, or the endpoint disabled). Keyset pagination: pass
        `next_cursor` back as `cursor`."""
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
        """The same body and the same `webhook-id` (receivers deduplicate on it), with a fresh set of retries;
        it is sent within a second or so. The endpoint must be enabled (409 otherwise)."""
        replayed = await replay_webhook_delivery(principal, endpoint_id, delivery_id)
        return WebhookDeliveryResource.of_details(replayed)
