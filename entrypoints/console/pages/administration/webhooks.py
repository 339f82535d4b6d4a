"""The tenant's webhook endpoints and their deliveries (WebhookEndpointsController's use cases). A
signing secret, new or rotated, is shown once, on the page that answers the form (no redirect, no
cache)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery, QueryParameter
from litestar.response import Template
from litestar.status_codes import HTTP_200_OK

from application.errors import InvalidInput
from application.principal import Principal
from application.tenant_webhooks.endpoints import (
    DeleteWebhookEndpoint,
    DeliveriesRequest,
    EndpointWithSecret,
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
from domain.tenant_webhooks.model import DeliveryState, WebhookEventType
from entrypoints.console.pages.administration.common import (
    ADMIN_PATH,
    TENANT_ADMINS_ONLY,
    done,
    form_again,
    no_store,
)
from entrypoints.console.rendering import render
from entrypoints.http.dependencies import provide

WEBHOOKS_PATH = f"{ADMIN_PATH}/webhooks"
DELIVERIES_PER_PAGE = 25
EVENTS = tuple(WebhookEventType)
NOTICES = {
    "updated": "The endpoint was changed.",
    "deleted": "The endpoint was deleted, with its deliveries.",
    "replayed": "The delivery will be sent again within a few seconds.",
}


@dataclass(frozen=True, slots=True)
class EndpointForm:
    url: str = ""
    description: str = ""
    enabled: str = ""  # "on" when ticked
    # The events are checkboxes of one name: read from the form itself (see ``events_of``).


async def events_of(request: Request[Any, Any, Any]) -> tuple[str, ...]:
    """The ticked events (any number of fields named ``events``)."""
    return tuple((await request.form()).getall("events", []))


def delivery_state(value: str | None) -> DeliveryState | None:
    if not value:
        return None
    for state in DeliveryState:
        if value == state.value:
            return state
    raise InvalidInput("a delivery's state is pending, delivered or dead")


class WebhooksController(Controller):
    path = "/"
    include_in_schema = False
    dependencies = {
        "register_webhook_endpoint": provide(lambda c: c.register_webhook_endpoint),
        "list_webhook_endpoints": provide(lambda c: c.list_webhook_endpoints),
        "get_webhook_endpoint": provide(lambda c: c.get_webhook_endpoint),
        "update_webhook_endpoint": provide(lambda c: c.update_webhook_endpoint),
        "delete_webhook_endpoint": provide(lambda c: c.delete_webhook_endpoint),
        "rotate_webhook_secret": provide(lambda c: c.rotate_webhook_secret),
        "list_webhook_deliveries": provide(lambda c: c.list_webhook_deliveries),
        "replay_webhook_delivery": provide(lambda c: c.replay_webhook_delivery),
    }

    @get("/admin/webhooks", opt=TENANT_ADMINS_ONLY)
    async def endpoints(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        list_webhook_endpoints: NamedDependency[ListWebhookEndpoints],
    ) -> Template:
        return render(
            request,
            "administration/webhooks.html",
            principal=principal,
            notices=NOTICES,
            endpoints=await list_webhook_endpoints(principal),
            events=EVENTS,
            created=None,
            form={},
            error=None,
        )

    @post(
        "/admin/webhooks",
        opt=TENANT_ADMINS_ONLY,
        status_code=HTTP_200_OK,
        exception_handlers=form_again(
            "administration/_webhook_form.html",
            "New webhook endpoint",
            keep=("url", "description", "events"),
            context={"events": EVENTS},
        ),
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[EndpointForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        principal: NamedDependency[Principal],
        register_webhook_endpoint: NamedDependency[RegisterWebhookEndpoint],
    ) -> Template:
        created = await register_webhook_endpoint(
            RegisterWebhookCommand(
                principal=principal,
                url=data.url.strip(),
                events=await events_of(request),
                description=data.description,
            )
        )
        return self._secret_page(request, principal, created, "Webhook endpoint created")

    @get("/admin/webhooks/{endpoint_id:uuid}", opt=TENANT_ADMINS_ONLY)
    async def endpoint(
        self,
        request: Request[Any, Any, Any],
        endpoint_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_webhook_endpoint: NamedDependency[GetWebhookEndpoint],
        list_webhook_deliveries: NamedDependency[ListWebhookDeliveries],
        cursor: FromQuery[str | None] = None,
        state_filter: Annotated[str | None, QueryParameter(name="state")] = None,
    ) -> Template:
        endpoint = await get_webhook_endpoint(principal, endpoint_id)
        chosen_state = delivery_state(state_filter)
        deliveries = await list_webhook_deliveries(
            DeliveriesRequest(
                principal=principal,
                endpoint_id=endpoint_id,
                limit=DELIVERIES_PER_PAGE,
                cursor=cursor or None,
                state=chosen_state,
            )
        )
        return render(
            request,
            "administration/webhook.html",
            principal=principal,
            notices=NOTICES,
            endpoint=endpoint,
            events=EVENTS,
            deliveries=deliveries,
            states=tuple(DeliveryState),
            chosen_state=chosen_state.value if chosen_state else "",
            first_page=not cursor,
        )

    @post("/admin/webhooks/{endpoint_id:uuid}", opt=TENANT_ADMINS_ONLY)
    async def update(
        self,
        request: Request[Any, Any, Any],
        endpoint_id: FromPath[UUID],
        data: Annotated[EndpointForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        principal: NamedDependency[Principal],
        update_webhook_endpoint: NamedDependency[UpdateWebhookEndpoint],
    ) -> Response[Any]:
        await update_webhook_endpoint(
            UpdateWebhookCommand(
                principal=principal,
                endpoint_id=endpoint_id,
                url=data.url.strip(),
                events=await events_of(request),
                description=data.description,
                enabled=data.enabled == "on",
            )
        )
        return done(f"{WEBHOOKS_PATH}/{endpoint_id}", "updated")

    @post("/admin/webhooks/{endpoint_id:uuid}/delete", opt=TENANT_ADMINS_ONLY)
    async def delete(
        self,
        endpoint_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        delete_webhook_endpoint: NamedDependency[DeleteWebhookEndpoint],
    ) -> Response[Any]:
        await delete_webhook_endpoint(principal, endpoint_id)
        return done(WEBHOOKS_PATH, "deleted")

    @post("/admin/webhooks/{endpoint_id:uuid}/rotate-secret", opt=TENANT_ADMINS_ONLY, status_code=HTTP_200_OK)
    async def rotate_secret(
        self,
        request: Request[Any, Any, Any],
        endpoint_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        rotate_webhook_secret: NamedDependency[RotateWebhookSecret],
    ) -> Template:
        rotated = await rotate_webhook_secret(principal, endpoint_id)
        return self._secret_page(request, principal, rotated, "Signing secret rotated")

    @post(
        "/admin/webhooks/{endpoint_id:uuid}/deliveries/{delivery_id:str}/replay",
        opt=TENANT_ADMINS_ONLY,
    )
    async def replay(
        self,
        endpoint_id: FromPath[UUID],
        delivery_id: FromPath[str],
        principal: NamedDependency[Principal],
        replay_webhook_delivery: NamedDependency[ReplayWebhookDelivery],
    ) -> Response[Any]:
        await replay_webhook_delivery(principal, endpoint_id, delivery_id)
        return done(f"{WEBHOOKS_PATH}/{endpoint_id}", "replayed")

    @staticmethod
    def _secret_page(
        request: Request[Any, Any, Any], principal: Principal, shown: EndpointWithSecret, heading: str
    ) -> Template:
        return no_store(
            render(
                request,
                "administration/webhook_secret.html",
                principal=principal,
                endpoint=shown.endpoint,
                secret=shown.secret,
                heading=heading,
            )
        )
