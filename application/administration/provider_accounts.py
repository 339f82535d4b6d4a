"""A tenant's provider accounts (Twilio, Meta's Cloud API), kept by its admins, and which account each
sender sends through.

Secrets are write-only: they are sealed at rest and no answer carries one. Setting or replacing them
needs a person (an API key cannot), and each change is in the audit trail with the account's public ids.
A sender sends through its own account, or, with none, through its tenant's provider (the sandbox, or
the tenant's first Twilio account): so a tenant may have Twilio and Meta numbers side by side, and a
number moved from one account to another keeps its conversations and history (they are keyed by the
number, not by the account).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from application.audit_entries import audit_entry
from application.authorization import Actor, PersonOnly, require_person, require_tenant_admin
from application.errors import InvalidInput, NotFound
from application.ports.clock import Clock
from application.ports.unit_of_work import UnitOfWork
from application.principal import Principal
from domain.administration.audit import AuditAction, TargetKind
from domain.administration.tenancy import (
    MetaCredentials,
    ProviderAccount,
    ProviderCredentials,
    ProviderName,
    TwilioCredentials,
)

MAX_ACCOUNT_LABEL = 200
_ADMINS_ONLY = "only tenant admins manage their tenant's provider accounts"
_NO_SUCH_ACCOUNT = "the tenant has no such provider account"


def credentials_details(credentials: ProviderCredentials) -> dict[str, object]:
    """What the audit trail keeps of credentials that were set: the public ids (never a secret)."""
    if isinstance(credentials, MetaCredentials):
        return {"provider": ProviderName.META, "business_account_id": credentials.business_account_id}
    details: dict[str, object] = {"provider": ProviderName.TWILIO, "account_sid": credentials.account_sid}
    if credentials.api_key_sid is not None:
        details["api_key_sid"] = credentials.api_key_sid
    return details


def _check_label(label: str) -> str:
    label = label.strip()
    if len(label) > MAX_ACCOUNT_LABEL:
        raise InvalidInput(f"an account label is at most {MAX_ACCOUNT_LABEL} characters")
    return label


async def store_twilio_credentials(
    uow: UnitOfWork, actor: Actor, tenant_id: UUID, credentials: TwilioCredentials, now: datetime
) -> ProviderAccount:
    """Inside ``uow``'s transaction: the tenant's first Twilio account gets ``credentials`` (it is created
    if the tenant has none), with its audit entry. The tenant-level credentials of earlier versions are
    this account: ``PUT /api/credentials`` and ``tenant create --account-sid`` set it."""
    account = await uow.provider_accounts.first_of(tenant_id, ProviderName.TWILIO)
    if account is None:
        account = ProviderAccount(
            tenant_id=tenant_id, credentials=credentials, created_at=now, label="Twilio"
        )
        await uow.provider_accounts.add(account)
    else:
        account = account.with_credentials(credentials)
        await uow.provider_accounts.update(account)
    await uow.audit.record(
        audit_entry(
            AuditAction.CREDENTIALS_SET,
            actor,
            now=now,
            tenant_id=tenant_id,
            target=(TargetKind.PROVIDER_ACCOUNT, account.id),
            details=credentials_details(credentials),
        )
    )
    return account


class ListProviderAccounts:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, actor: Principal) -> list[ProviderAccount]:
        require_tenant_admin(actor, _ADMINS_ONLY)
        async with self._uow:
            return await self._uow.provider_accounts.list_for_tenant(actor.tenant_id)


class GetProviderAccount:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, actor: Principal, account_id: UUID) -> ProviderAccount:
        require_tenant_admin(actor, _ADMINS_ONLY)
        async with self._uow:
            account = await self._uow.provider_accounts.get(actor.tenant_id, account_id)
        if account is None:
            raise NotFound(_NO_SUCH_ACCOUNT)
        return account


class AddProviderAccount:
    """A new account at Twilio or Meta; its senders are added (or moved) onto it afterwards."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(
        self, actor: Principal, credentials: ProviderCredentials, *, label: str = ""
    ) -> ProviderAccount:
        require_person(actor, PersonOnly.SET_PROVIDER_CREDENTIALS)
        require_tenant_admin(actor, _ADMINS_ONLY)
        now = self._clock.now()
        account = ProviderAccount(
            tenant_id=actor.tenant_id, credentials=credentials, created_at=now, label=_check_label(label)
        )
        async with self._uow:
            await self._uow.provider_accounts.add(account)
            await self._uow.audit.record(
                audit_entry(
                    AuditAction.PROVIDER_ACCOUNT_ADDED,
                    actor,
                    now=now,
                    tenant_id=actor.tenant_id,
                    target=(TargetKind.PROVIDER_ACCOUNT, account.id),
                    details=credentials_details(credentials),
                )
            )
            await self._uow.commit()
        return account


@dataclass(frozen=True, slots=True)
class UpdateProviderAccountCommand:
    label: str | None = None
    credentials: ProviderCredentials | None = None  # replaces every secret; the provider stays


class UpdateProviderAccount:
    """Rename an account or replace its credentials (a rotated token, say): its senders keep it."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(
        self, actor: Principal, account_id: UUID, command: UpdateProviderAccountCommand
    ) -> ProviderAccount:
        if command.credentials is not None:
            require_person(actor, PersonOnly.SET_PROVIDER_CREDENTIALS)
        require_tenant_admin(actor, _ADMINS_ONLY)
        async with self._uow:
            account = await self._uow.provider_accounts.get(actor.tenant_id, account_id)
            if account is None:
                raise NotFound(_NO_SUCH_ACCOUNT)
            changed = account
            if command.label is not None:
                changed = replace(changed, label=_check_label(command.label))
            if command.credentials is not None:
                changed = changed.with_credentials(command.credentials)
                await self._uow.audit.record(
                    audit_entry(
                        AuditAction.CREDENTIALS_SET,
                        actor,
                        now=self._clock.now(),
                        tenant_id=actor.tenant_id,
                        target=(TargetKind.PROVIDER_ACCOUNT, account.id),
                        details=credentials_details(command.credentials),
                    )
                )
            if changed != account:
                await self._uow.provider_accounts.update(changed)
            await self._uow.commit()
        return changed


class RemoveProviderAccount:
    """Remove an account no sender sends through (AccountInUse otherwise)."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, actor: Principal, account_id: UUID) -> None:
        require_tenant_admin(actor, _ADMINS_ONLY)
        async with self._uow:
            account = await self._uow.provider_accounts.get(actor.tenant_id, account_id)
            if account is None or not await self._uow.provider_accounts.remove(actor.tenant_id, account_id):
                raise NotFound(_NO_SUCH_ACCOUNT)
            await self._uow.audit.record(
                audit_entry(
                    AuditAction.PROVIDER_ACCOUNT_REMOVED,
                    actor,
                    now=self._clock.now(),
                    tenant_id=actor.tenant_id,
                    target=(TargetKind.PROVIDER_ACCOUNT, account_id),
                    details=credentials_details(account.credentials),
                )
            )
            await self._uow.commit()


async def checked_sender_account(
    uow: UnitOfWork, tenant_id: UUID, account_id: UUID | None, provider_number_id: str | None
) -> tuple[UUID | None, str | None]:
    """Inside ``uow``'s transaction: the account a sender is to send through and its number's id there,
    checked. A Meta account needs the number's phone-number id; other providers take none."""
    if account_id is None:
        if provider_number_id is not None:
            raise InvalidInput("a phone number id goes with a Meta account: pass its account_id too")
        return None, None
    account = await uow.provider_accounts.get(tenant_id, account_id)
    if account is None:
        raise InvalidInput(_NO_SUCH_ACCOUNT)
    if account.provider is ProviderName.META and provider_number_id is None:
        raise InvalidInput("a sender on a Meta account needs its phone number id (provider_number_id)")
    if account.provider is not ProviderName.META and provider_number_id is not None:
        raise InvalidInput(f"a sender on a {account.provider} account has no phone number id")
    return account_id, provider_number_id
