"""Tenant admins manage where their webhooks go, rotate signing secrets, and look at deliveries.

Every use case here takes the caller's ``Principal``: only tenant admins manage webhooks (platform
admins administer tenants, not what is in them), and everything is looked up within the caller's
tenant, so another tenant's endpoint or delivery is simply not found. What hands out a signing secret
(a new endpoint, a rotation) needs a person, and is recorded in the audit trail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from uuid import UUID

from application.audit_entries import audit_entry
from application.authorization import PersonOnly, require_person, require_tenant_admin
from application.errors import InvalidInput, NotFound, WebhookEndpointDisabled
from application.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    decode_delivery_cursor,
    encode_delivery_cursor,
)
from application.ports.clock import Clock
from application.ports.tenant_webhooks import DeliveryQuery, WebhookUrlGuard
from application.ports.unit_of_work import UnitOfWork
from application.principal import Principal
from domain.administration.audit import AuditAction, TargetKind
from domain.tenant_webhooks.model import (
    DEFAULT_SECRET_OVERLAP,
    MAX_SECRET_OVERLAP,
    DeliveryAttempt,
    DeliveryState,
    WebhookDelivery,
    WebhookEndpoint,
    is_delivery_id,
    new_signing_secret,
)

MAX_ENDPOINTS_PER_TENANT = 20
_ENDPOINT_MISSING = "no such webhook endpoint"
_DELIVERY_MISSING = "no such delivery of this webhook endpoint"
_ADMINS_ONLY = "only tenant administrators manage webhooks"


@dataclass(frozen=True, slots=True)
class EndpointWithSecret:
    """An endpoint and its new signing secret: shown this once, never again."""

    endpoint: WebhookEndpoint
    secret: str


@dataclass(frozen=True, slots=True)
class RegisterWebhookCommand:
    principal: Principal
    url: str
    events: Sequence[str]
    description: str = ""
    enabled: bool = True


class RegisterWebhookEndpoint:
    """Check the URL (form, then where it resolves to), then store the endpoint with a fresh secret."""

    def __init__(
        self,
        uow: UnitOfWork,
        guard: WebhookUrlGuard,
        clock: Clock,
        *,
        max_endpoints: int = MAX_ENDPOINTS_PER_TENANT,
    ) -> None:
        self._uow = uow
        self._guard = guard
        self._clock = clock
        self._max_endpoints = max_endpoints

    async def __call__(self, command: RegisterWebhookCommand) -> EndpointWithSecret:
        require_tenant_admin(command.principal, _ADMINS_ONLY)
        require_person(command.principal, PersonOnly.SET_WEBHOOK_SECRETS)
        endpoint = WebhookEndpoint.new(
            tenant_id=command.principal.tenant_id,
            url=command.url,
            events=command.events,
            description=command.description,
            enabled=command.enabled,
            now=self._clock.now(),
        )
        await self._guard.check(endpoint.url)
        secret = new_signing_secret()
        async with self._uow:
            # The count and the insert are one step in the repository: a count read first would let
            # concurrent registrations all see room for one more.
            if not await self._uow.webhook_endpoints.add(endpoint, secret, at_most=self._max_endpoints):
                raise InvalidInput(f"a tenant has at most {self._max_endpoints} webhook endpoints")
            await self._uow.audit.record(
                audit_entry(
                    AuditAction.WEBHOOK_ENDPOINT_CREATED,
                    command.principal,
                    now=endpoint.created_at,
                    tenant_id=endpoint.tenant_id,
                    target=(TargetKind.WEBHOOK_ENDPOINT, endpoint.id),
                    details={"events": ",".join(sorted(endpoint.events))},
                )
            )
            await self._uow.commit()
        return EndpointWithSecret(endpoint=endpoint, secret=secret)


class ListWebhookEndpoints:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal) -> list[WebhookEndpoint]:
        require_tenant_admin(principal, _ADMINS_ONLY)
        async with self._uow:
            return await self._uow.webhook_endpoints.list_for_tenant(principal.tenant_id)


class GetWebhookEndpoint:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, endpoint_id: UUID) -> WebhookEndpoint:
        require_tenant_admin(principal, _ADMINS_ONLY)
        async with self._uow:
            return await _endpoint(self._uow, principal, endpoint_id)


@dataclass(frozen=True, slots=True)
class UpdateWebhookCommand:
    """Only the fields given change."""

    principal: Principal
    endpoint_id: UUID
    url: str | None = None
    events: Sequence[str] | None = None
    description: str | None = None
    enabled: bool | None = None


class UpdateWebhookEndpoint:
    """Change an endpoint; a new URL is checked like a new endpoint's. Enabling one that was disabled
    after a 410 makes it receive new events again (replay the ones it missed)."""

    def __init__(self, uow: UnitOfWork, guard: WebhookUrlGuard, clock: Clock) -> None:
        self._uow = uow
        self._guard = guard
        self._clock = clock

    async def __call__(self, command: UpdateWebhookCommand) -> WebhookEndpoint:
        require_tenant_admin(command.principal, _ADMINS_ONLY)
        async with self._uow:
            endpoint = await _endpoint(self._uow, command.principal, command.endpoint_id)
        updated = endpoint.changed(
            now=self._clock.now(),
            url=command.url,
            events=command.events,
            description=command.description,
            enabled=command.enabled,
        )
        if updated.url != endpoint.url:
            await self._guard.check(updated.url)
        async with self._uow:
            await self._uow.webhook_endpoints.update(updated)
            await self._uow.commit()
        return updated


class DeleteWebhookEndpoint:
    """Remove an endpoint with its deliveries, pending or not."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, endpoint_id: UUID) -> None:
        require_tenant_admin(principal, _ADMINS_ONLY)
        async with self._uow:
            if not await self._uow.webhook_endpoints.delete(principal.tenant_id, endpoint_id):
                raise NotFound(_ENDPOINT_MISSING)
            await self._uow.commit()


class RotateWebhookSecret:
    """A new signing secret, shown once; the replaced one stays valid for ``overlap`` (deliveries carry
    a signature with each), so receivers can switch without missing a delivery."""

    def __init__(
        self, uow: UnitOfWork, clock: Clock, *, default_overlap: timedelta = DEFAULT_SECRET_OVERLAP
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._default_overlap = default_overlap

    async def __call__(
        self, principal: Principal, endpoint_id: UUID, overlap: timedelta | None = None
    ) -> EndpointWithSecret:
        require_tenant_admin(principal, _ADMINS_ONLY)
        require_person(principal, PersonOnly.SET_WEBHOOK_SECRETS)
        overlap = self._default_overlap if overlap is None else overlap
        if not timedelta(0) <= overlap <= MAX_SECRET_OVERLAP:
            raise InvalidInput(f"the overlap is 0 to {int(MAX_SECRET_OVERLAP.total_seconds())} seconds")
        secret = new_signing_secret()
        now = self._clock.now()
        async with self._uow:
            endpoint = await _endpoint(self._uow, principal, endpoint_id)
            expires_at = now + overlap
            await self._uow.webhook_endpoints.rotate_secret(
                principal.tenant_id, endpoint_id, secret, expires_at
            )
            await self._uow.audit.record(
                audit_entry(
                    AuditAction.WEBHOOK_SECRET_ROTATED,
                    principal,
                    now=now,
                    tenant_id=principal.tenant_id,
                    target=(TargetKind.WEBHOOK_ENDPOINT, endpoint_id),
                    details={"overlap_seconds": int(overlap.total_seconds())},
                )
            )
            await self._uow.commit()
        rotated = replace(endpoint, previous_secret_expires_at=expires_at, updated_at=now)
        return EndpointWithSecret(endpoint=rotated, secret=secret)


@dataclass(frozen=True, slots=True)
class DeliveryDetails:
    """A delivery and every attempt at it, oldest first, with what the endpoint answered."""

    delivery: WebhookDelivery
    attempts: list[DeliveryAttempt]


@dataclass(frozen=True, slots=True)
class DeliveriesRequest:
    principal: Principal
    endpoint_id: UUID
    limit: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None
    state: DeliveryState | None = None


@dataclass(frozen=True, slots=True)
class DeliveriesPage:
    items: list[DeliveryDetails]
    next_cursor: str | None


class ListWebhookDeliveries:
    """An endpoint's deliveries, newest first, one keyset page at a time, each with its attempts."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, request: DeliveriesRequest) -> DeliveriesPage:
        require_tenant_admin(request.principal, _ADMINS_ONLY)
        if request.limit < 1:
            raise InvalidInput("limit must be at least 1")
        limit = min(request.limit, MAX_PAGE_SIZE)
        query = DeliveryQuery(
            tenant_id=request.principal.tenant_id,
            endpoint_id=request.endpoint_id,
            limit=limit + 1,  # one extra row tells whether another page exists
            after=decode_delivery_cursor(request.cursor) if request.cursor else None,
            state=request.state,
        )
        async with self._uow:
            await _endpoint(self._uow, request.principal, request.endpoint_id)
            rows = await self._uow.webhook_deliveries.list_page(query)
            items = rows[:limit]
            attempts = await self._uow.webhook_deliveries.list_attempts(
                query.tenant_id, [delivery.id for delivery in items]
            )
        next_cursor = encode_delivery_cursor(items[-1].id) if len(rows) > limit else None
        return DeliveriesPage(
            items=[DeliveryDetails(delivery=d, attempts=attempts.get(d.id, [])) for d in items],
            next_cursor=next_cursor,
        )


class GetWebhookDelivery:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, endpoint_id: UUID, delivery_id: str) -> DeliveryDetails:
        require_tenant_admin(principal, _ADMINS_ONLY)
        async with self._uow:
            delivery = await _delivery(self._uow, principal, endpoint_id, delivery_id)
            attempts = await self._uow.webhook_deliveries.list_attempts(principal.tenant_id, [delivery.id])
        return DeliveryDetails(delivery=delivery, attempts=attempts.get(delivery.id, []))


class ReplayWebhookDelivery:
    """Send a delivery again, with the same ``webhook-id`` and body (receivers deduplicate on the id),
    and a fresh set of retries. The endpoint must be enabled."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal, endpoint_id: UUID, delivery_id: str) -> DeliveryDetails:
        require_tenant_admin(principal, _ADMINS_ONLY)
        async with self._uow:
            endpoint = await _endpoint(self._uow, principal, endpoint_id)
            await _delivery(self._uow, principal, endpoint_id, delivery_id)
            if not endpoint.enabled:
                raise WebhookEndpointDisabled(
                    "the endpoint is disabled: enable it (PATCH enabled=true) before replaying its deliveries"
                )
            replayed = await self._uow.webhook_deliveries.replay(
                principal.tenant_id, delivery_id, self._clock.now()
            )
            if replayed is None:
                raise NotFound(_DELIVERY_MISSING)
            attempts = await self._uow.webhook_deliveries.list_attempts(principal.tenant_id, [delivery_id])
            await self._uow.commit()
        return DeliveryDetails(delivery=replayed, attempts=attempts.get(delivery_id, []))


async def _endpoint(uow: UnitOfWork, principal: Principal, endpoint_id: UUID) -> WebhookEndpoint:
    endpoint = await uow.webhook_endpoints.get(principal.tenant_id, endpoint_id)
    if endpoint is None:
        raise NotFound(_ENDPOINT_MISSING)
    return endpoint


async def _delivery(
    uow: UnitOfWork, principal: Principal, endpoint_id: UUID, delivery_id: str
) -> WebhookDelivery:
    delivery = (
        await uow.webhook_deliveries.get(principal.tenant_id, delivery_id)
        if is_delivery_id(delivery_id)
        else None
    )
    if delivery is None or delivery.endpoint_id != endpoint_id:
        raise NotFound(_DELIVERY_MISSING)
    return delivery
