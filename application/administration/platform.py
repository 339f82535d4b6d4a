"""What platform admins do: list, read, change, suspend and reactivate tenants. Every use case takes the
caller and refuses anyone but a platform admin (or the operator).

The platform tenant (see ``domain.identity.credentials``) is not a customer: it is never listed, read
or changed here.
Every change is recorded in the audit trail, in the tenant it was made to: its own admins see what a
platform admin did to it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from application.administration.onboarding import META_IS_PER_SENDER, is_customer_tenant
from application.audit_entries import audit_entry
from application.authorization import Actor, require_platform_admin
from application.errors import InvalidInput, NotFound
from application.pagination import MAX_PAGE_SIZE, decode_tenant_cursor, encode_tenant_cursor
from application.ports.clock import Clock
from application.ports.unit_of_work import UnitOfWork
from domain.administration.audit import AuditAction, AuditEntry, TargetKind
from domain.administration.tenancy import ProviderName, Tenant, TenantStatus
from domain.campaigns.schedule import checked_time_zone
from domain.identity.credentials import PLATFORM_TENANT_NAME, RevocationReason


@dataclass(frozen=True, slots=True)
class TenantPage:
    items: list[Tenant]
    next_cursor: str | None


class ListTenants:
    """Every customer tenant, by name, a page at a time (keyset on the unique name)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, actor: Actor, limit: int, cursor: str | None = None) -> TenantPage:
        require_platform_admin(actor)
        limit = max(1, min(limit, MAX_PAGE_SIZE))
        after = decode_tenant_cursor(cursor) if cursor else None
        async with self._uow:
            # one more to know whether a next page exists, one more for the platform tenant
            rows = await self._uow.tenants.list_page(limit + 2, after)
        customers = [tenant for tenant in rows if is_customer_tenant(tenant)]
        items = customers[:limit]
        has_more = len(customers) > limit
        return TenantPage(items=items, next_cursor=encode_tenant_cursor(items[-1].name) if has_more else None)


async def _customer_tenant(uow: UnitOfWork, tenant_id: UUID) -> Tenant:
    tenant = await uow.tenants.get(tenant_id)
    if tenant is None or not is_customer_tenant(tenant):
        raise NotFound("no such tenant")
    return tenant


class GetTenant:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, actor: Actor, tenant_id: UUID) -> Tenant:
        require_platform_admin(actor)
        async with self._uow:
            return await _customer_tenant(self._uow, tenant_id)


@dataclass(frozen=True, slots=True)
class UpdateTenantCommand:
    """The fields to change; None leaves a field as it is."""

    name: str | None = None
    provider: ProviderName | None = None
    session_window_check: bool | None = None
    # A send limit; 0 puts the limit back to the gateway's default.
    sends_per_minute: int | None = None
    sends_per_day: int | None = None
    time_zone: str | None = None  # an IANA name ("Europe/Madrid")


def _send_limit(value: int) -> int | None:
    if value < 0:
        raise InvalidInput("a send limit is a positive number, or 0 for the gateway's default")
    return value or None


def _tenant_entry(
    action: AuditAction, actor: Actor, tenant: Tenant, now: datetime, details: dict[str, object]
) -> AuditEntry:
    return audit_entry(
        action, actor, now=now, tenant_id=tenant.id, target=(TargetKind.TENANT, tenant.id), details=details
    )


class UpdateTenant:
    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, actor: Actor, tenant_id: UUID, command: UpdateTenantCommand) -> Tenant:
        require_platform_admin(actor)
        async with self._uow:
            tenant = await _customer_tenant(self._uow, tenant_id)
            changed = _with_changes(tenant, command)
            moves_to_twilio = (
                changed.provider is ProviderName.TWILIO and tenant.provider is not ProviderName.TWILIO
            )
            if changed.provider is ProviderName.META:
                raise InvalidInput(META_IS_PER_SENDER)
            if (
                moves_to_twilio
                and await self._uow.provider_accounts.first_of(tenant_id, ProviderName.TWILIO) is None
            ):
                raise InvalidInput("set the tenant's Twilio credentials before moving it to Twilio")
            if not changed.session_window_check and changed.provider is not ProviderName.SANDBOX:
                raise InvalidInput("only a sandbox tenant can switch the 24-hour session window check off")
            if changed != tenant:
                await self._uow.tenants.update(changed)
                fields = [name for name in _AUDITED_FIELDS if getattr(changed, name) != getattr(tenant, name)]
                details: dict[str, object] = {"changed": ",".join(fields), "name": changed.name}
                if "provider" in fields:
                    details["provider"] = changed.provider
                await self._uow.audit.record(
                    _tenant_entry(AuditAction.TENANT_UPDATED, actor, changed, self._clock.now(), details)
                )
                await self._uow.commit()
        return changed


def _with_changes(tenant: Tenant, command: UpdateTenantCommand) -> Tenant:
    """``tenant`` with the fields ``command`` sets, each checked."""
    changed = tenant
    if command.name is not None:
        name = command.name.strip()
        if not 1 <= len(name) <= 200:
            raise InvalidInput("a tenant name is 1 to 200 characters")
        if name.lower() == PLATFORM_TENANT_NAME:
            raise InvalidInput(f"the tenant name {name!r} is reserved")
        changed = replace(changed, name=name)
    if command.provider is not None:
        changed = replace(changed, provider=command.provider)
    if command.session_window_check is not None:
        changed = replace(changed, session_window_check=command.session_window_check)
    if command.sends_per_minute is not None:
        changed = replace(changed, sends_per_minute=_send_limit(command.sends_per_minute))
    if command.sends_per_day is not None:
        changed = replace(changed, sends_per_day=_send_limit(command.sends_per_day))
    if command.time_zone is not None:
        changed = replace(changed, time_zone=checked_time_zone(command.time_zone))
    return changed


_AUDITED_FIELDS = (
    "name",
    "provider",
    "session_window_check",
    "sends_per_minute",
    "sends_per_day",
    "time_zone",
)


class SuspendTenant:
    """A suspended tenant's users cannot log in, its sessions end and its API keys stop working.

    Its sessions are revoked, so reactivating it asks everyone to log in again; its API keys are kept
    (refused while it is suspended) so its integrations work again after reactivation.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, actor: Actor, tenant_id: UUID) -> Tenant:
        require_platform_admin(actor)
        now = self._clock.now()
        async with self._uow:
            tenant = await _customer_tenant(self._uow, tenant_id)
            suspended = replace(tenant, status=TenantStatus.SUSPENDED)
            if tenant.status is not TenantStatus.SUSPENDED:
                await self._uow.tenants.update(suspended)
            ended = await self._uow.sessions.revoke_for_tenant(
                tenant_id, now, RevocationReason.TENANT_SUSPENDED
            )
            if tenant.status is not TenantStatus.SUSPENDED:
                await self._uow.audit.record(
                    _tenant_entry(
                        AuditAction.TENANT_SUSPENDED, actor, suspended, now, {"sessions_ended": ended}
                    )
                )
            await self._uow.commit()
        return suspended


class ReactivateTenant:
    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, actor: Actor, tenant_id: UUID) -> Tenant:
        require_platform_admin(actor)
        async with self._uow:
            tenant = await _customer_tenant(self._uow, tenant_id)
            active = replace(tenant, status=TenantStatus.ACTIVE)
            if tenant.status is not TenantStatus.ACTIVE:
                await self._uow.tenants.update(active)
                await self._uow.audit.record(
                    _tenant_entry(AuditAction.TENANT_REACTIVATED, actor, active, self._clock.now(), {})
                )
                await self._uow.commit()
        return active
