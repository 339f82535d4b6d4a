"""API keys: credentials for a tenant's servers, created, listed and revoked by its admins.

A key is shown once, when it is created; only its hash is kept. Creating and revoking one needs a person
(application/authorization.py) and is recorded in the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from application.audit_entries import audit_entry
from application.authorization import PersonOnly, check_tenant_role, require_person, require_tenant_admin
from application.errors import InvalidInput, NotFound
from application.ports.clock import Clock
from application.ports.unit_of_work import UnitOfWork
from application.principal import Principal
from domain.administration.audit import AuditAction, AuditEntry, TargetKind
from domain.administration.tenancy import Role
from domain.identity.credentials import ApiKey, new_api_key_secret

MAX_API_KEY_NAME = 100
_ADMINS_ONLY = "only tenant admins manage their tenant's API keys"


@dataclass(frozen=True, slots=True)
class CreatedApiKey:
    api_key: ApiKey
    key: str  # the whole key: shown this once, stored only as a hash


class CreateApiKey:
    """A new API key of the actor's tenant; needs a person (a key cannot mint its successors)."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, actor: Principal, name: str, role: Role) -> CreatedApiKey:
        require_person(actor, PersonOnly.MANAGE_API_KEYS)
        require_tenant_admin(actor, _ADMINS_ONLY)
        name = name.strip()
        if not 1 <= len(name) <= MAX_API_KEY_NAME:
            raise InvalidInput(f"an API key's name is 1 to {MAX_API_KEY_NAME} characters")
        check_tenant_role(role)
        secret = new_api_key_secret()
        key = ApiKey(
            tenant_id=actor.tenant_id,
            name=name,
            prefix=secret.prefix,
            secret_hash=secret.secret_hash,
            role=role,
            created_at=self._clock.now(),
            created_by=actor.user_id,
        )
        async with self._uow:
            await self._uow.api_keys.add(key)
            await self._uow.audit.record(_key_entry(AuditAction.API_KEY_CREATED, actor, key, key.created_at))
            await self._uow.commit()
        return CreatedApiKey(api_key=key, key=secret.key)


class ListApiKeys:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, actor: Principal) -> list[ApiKey]:
        require_person(actor, PersonOnly.MANAGE_API_KEYS)
        require_tenant_admin(actor, _ADMINS_ONLY)
        async with self._uow:
            return await self._uow.api_keys.list_for_tenant(actor.tenant_id)


class RevokeApiKey:
    """Revoke a key: it stops working at the next request. Revoking a revoked key changes nothing (and
    is not recorded again). Needs a person: a leaked key cannot revoke the keys that replace it."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, actor: Principal, key_id: UUID) -> None:
        require_person(actor, PersonOnly.MANAGE_API_KEYS)
        require_tenant_admin(actor, _ADMINS_ONLY)
        now = self._clock.now()
        async with self._uow:
            key = await self._uow.api_keys.get(actor.tenant_id, key_id)
            if key is None:
                raise NotFound("no such API key")
            if await self._uow.api_keys.revoke(actor.tenant_id, key_id, now):
                await self._uow.audit.record(_key_entry(AuditAction.API_KEY_REVOKED, actor, key, now))
            await self._uow.commit()


def _key_entry(action: AuditAction, actor: Principal, key: ApiKey, now: datetime) -> AuditEntry:
    return audit_entry(
        action,
        actor,
        now=now,
        tenant_id=key.tenant_id,
        target=(TargetKind.API_KEY, key.id),
        details={"name": key.name, "role": key.role, "prefix": key.prefix},
    )
