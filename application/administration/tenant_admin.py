"""What tenant admins do for their own tenant: users, senders and Twilio credentials.

Every use case takes the caller's principal, refuses anyone but a tenant admin, and takes the tenant id
from the principal; every query is scoped by it, so an admin of one tenant finds nothing of another's
(404, never 403: existence is not disclosed). Users and credentials need a person
(application/authorization.py); each change to them is recorded in the audit trail in its own
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from uuid import UUID

from application.administration.provider_accounts import checked_sender_account, store_twilio_credentials
from application.audit_entries import audit_entry
from application.authorization import PersonOnly, check_tenant_role, require_person, require_tenant_admin
from application.errors import AccessDenied, InvalidInput, NotFound, SenderBusy
from application.passwords import check_password_rules
from application.ports.clock import Clock
from application.ports.identity import PasswordHasher
from application.ports.unit_of_work import UnitOfWork
from application.principal import Principal
from application.transactions import ConflictRetry
from domain.administration.audit import AuditAction, TargetKind
from domain.administration.tenancy import (
    ProviderAccount,
    ProviderName,
    Role,
    Sender,
    TwilioCredentials,
    User,
)
from domain.identity.credentials import RevocationReason

MAX_SENDER_LABEL = 200

# Why a caller who is not a tenant admin is refused.
_USERS_ADMINS_ONLY = "only tenant admins manage their tenant's users"
_SENDERS_ADMINS_ONLY = "only tenant admins manage their tenant's senders"
_CREDENTIALS_ADMINS_ONLY = "only tenant admins manage their tenant's Twilio credentials"

# ------------------------------------------------------------------------------------------------ users


class ListUsers:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, actor: Principal) -> list[User]:
        require_tenant_admin(actor, _USERS_ADMINS_ONLY)
        async with self._uow:
            return await self._uow.users.list_for_tenant(actor.tenant_id)


class GetUser:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, actor: Principal, user_id: UUID) -> User:
        require_tenant_admin(actor, _USERS_ADMINS_ONLY)
        async with self._uow:
            user = await self._uow.users.get_in_tenant(actor.tenant_id, user_id)
        if user is None:
            raise NotFound("no such user")
        return user


@dataclass(frozen=True, slots=True)
class UpdateUserCommand:
    """The fields to change; None leaves a field as it is."""

    role: Role | None = None
    is_active: bool | None = None
    password: str | None = None


class UpdateUser:
    """Change a user's role, deactivate or reactivate them, or set a new password.

    Each of these ends the user's sessions: tokens issued for the old role or password stop working at
    once. An admin cannot change their own role or deactivate themselves, so a tenant keeps an admin,
    nor set their own password here (that needs the current one: ``ChangeOwnPassword``). Needs a person.
    """

    def __init__(self, uow: UnitOfWork, hasher: PasswordHasher, clock: Clock) -> None:
        self._uow = uow
        self._hasher = hasher
        self._clock = clock

    async def __call__(self, actor: Principal, user_id: UUID, command: UpdateUserCommand) -> User:
        require_person(actor, PersonOnly.MANAGE_USERS)
        require_tenant_admin(actor, _USERS_ADMINS_ONLY)
        if command.role is not None:
            check_tenant_role(command.role)
        if actor.user_id == user_id and (
            (command.role is not None and command.role is not actor.role) or command.is_active is False
        ):
            raise AccessDenied("you cannot change your own role or deactivate yourself; ask another admin")
        if actor.user_id == user_id and command.password is not None:
            # Without the current password a stolen token would be enough to take the account over.
            raise AccessDenied("change your own password with POST /api/me/password")
        new_hash = None
        if command.password is not None:
            check_password_rules(command.password)
            new_hash = await self._hasher.hash(command.password)
        async with self._uow:
            user = await self._uow.users.get_in_tenant(actor.tenant_id, user_id)
            if user is None:
                raise NotFound("no such user")
            changed = user
            reason = None
            actions: list[tuple[AuditAction, dict[str, object]]] = []
            if new_hash is not None:
                changed, reason = changed.with_password_hash(new_hash), RevocationReason.PASSWORD_CHANGED
                actions.append((AuditAction.USER_PASSWORD_SET, {}))
            if command.role is not None and command.role is not user.role:
                changed, reason = replace(changed, role=command.role), RevocationReason.ROLE_CHANGED
                actions.append(
                    (AuditAction.USER_ROLE_CHANGED, {"role": command.role, "previous_role": user.role})
                )
            if command.is_active is not None and command.is_active is not user.is_active:
                changed = replace(changed, is_active=command.is_active)
                if not command.is_active:
                    reason = RevocationReason.USER_DEACTIVATED
                actions.append(
                    (
                        AuditAction.USER_DEACTIVATED
                        if not command.is_active
                        else AuditAction.USER_REACTIVATED,
                        {},
                    )
                )
            if changed != user:
                await self._uow.users.update(changed)
            now = self._clock.now()
            ended = (
                await self._uow.sessions.revoke_for_user(user.id, now, reason) if reason is not None else 0
            )
            for action, details in actions:
                await self._uow.audit.record(
                    audit_entry(
                        action,
                        actor,
                        now=now,
                        tenant_id=user.tenant_id,
                        target=(TargetKind.USER, user.id),
                        details={"username": user.username, **details, "sessions_ended": ended},
                    )
                )
            await self._uow.commit()
        return changed


# ---------------------------------------------------------------------------------------------- senders


class ListSenders:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, actor: Principal) -> list[Sender]:
        require_tenant_admin(actor, _SENDERS_ADMINS_ONLY)
        async with self._uow:
            return await self._uow.senders.list_for_tenant(actor.tenant_id)


@dataclass(frozen=True, slots=True)
class UpdateSenderCommand:
    label: str | None = None
    make_default: bool = False
    # Move the sender to another provider account (with its phone number id there, for Meta);
    # ``to_tenant_provider``: to none of its own, so it sends through the tenant's provider.
    account_id: UUID | None = None
    provider_number_id: str | None = None
    to_tenant_provider: bool = False


class UpdateSender:
    """Change a sender's label, or make it the tenant's default (the old default stops being one).

    Concurrent changes of the default conflict in the database; the transaction is then run again
    (``ConflictRetry``), and a conflict that outlasts the retries is TransactionConflict.
    """

    def __init__(self, uow: UnitOfWork, retry: ConflictRetry | None = None) -> None:
        self._uow = uow
        self._retry = retry or ConflictRetry()

    async def __call__(self, actor: Principal, sender_id: UUID, command: UpdateSenderCommand) -> Sender:
        require_tenant_admin(actor, _SENDERS_ADMINS_ONLY)
        tenant_id = actor.tenant_id
        if command.label is not None and len(command.label) > MAX_SENDER_LABEL:
            raise InvalidInput(f"a sender label is at most {MAX_SENDER_LABEL} characters")
        return await self._retry.run(lambda: self._update(tenant_id, sender_id, command))

    async def _update(self, tenant_id: UUID, sender_id: UUID, command: UpdateSenderCommand) -> Sender:
        async with self._uow:
            sender = await self._uow.senders.get(tenant_id, sender_id)
            if sender is None:
                raise NotFound("no such sender")
            # The default first: it locks the old default, then this sender, the order every change of
            # the default takes; the label's lock first would let two of them deadlock.
            if command.make_default and not sender.is_default:
                await self._uow.senders.make_default(tenant_id, sender_id)
            if command.label is not None and command.label != sender.label:
                await self._uow.senders.update_label(tenant_id, sender_id, command.label)
            if command.account_id is not None or command.to_tenant_provider:
                account_id, provider_number_id = await checked_sender_account(
                    self._uow, tenant_id, command.account_id, command.provider_number_id
                )
                if (account_id, provider_number_id) != (sender.account_id, sender.provider_number_id):
                    await self._refuse_moving_messages_in_flight(sender)
                    await self._uow.senders.move(tenant_id, sender_id, account_id, provider_number_id)
            elif command.provider_number_id is not None:
                raise InvalidInput("a phone number id goes with a Meta account: pass its account_id too")
            updated = await self._uow.senders.get(tenant_id, sender_id)
            await self._uow.commit()
        if updated is None:  # pragma: no cover - it was there a moment ago, in this transaction
            raise NotFound("no such sender")
        return updated

    async def _refuse_moving_messages_in_flight(self, sender: Sender) -> None:
        """A message being sent, or whose last send got no answer, is settled by the provider it went
        to: moved to another, its confirmation would be sought there, not found, and the message sent
        twice. Such messages settle within minutes (an hour at most, for Meta)."""
        in_flight = await self._uow.jobs.in_flight_from(sender.tenant_id, sender.phone_number)
        if in_flight:
            raise SenderBusy(
                f"{in_flight} of this sender's messages are being sent or wait for their provider's "
                "confirmation; move it once they are settled"
            )


class RemoveSender:
    """Remove a sender. The default one goes last: choose another default first."""

    def __init__(self, uow: UnitOfWork, retry: ConflictRetry | None = None) -> None:
        self._uow = uow
        self._retry = retry or ConflictRetry()

    async def __call__(self, actor: Principal, sender_id: UUID) -> None:
        require_tenant_admin(actor, _SENDERS_ADMINS_ONLY)
        tenant_id = actor.tenant_id
        await self._retry.run(lambda: self._remove(tenant_id, sender_id))

    async def _remove(self, tenant_id: UUID, sender_id: UUID) -> None:
        async with self._uow:
            sender = await self._uow.senders.get(tenant_id, sender_id)
            if sender is None:
                raise NotFound("no such sender")
            if sender.is_default and len(await self._uow.senders.list_for_tenant(tenant_id)) > 1:
                raise InvalidInput("this is the default sender: make another sender the default first")
            await self._uow.senders.remove(tenant_id, sender_id)
            await self._uow.commit()


# ------------------------------------------------------------------------------------------ credentials


@dataclass(frozen=True, slots=True)
class CredentialsSummary:
    """What may be shown of a tenant's Twilio credentials: never a secret."""

    configured: bool
    account_sid: str | None = None
    api_key_sid: str | None = None


def _summary(account: ProviderAccount | None) -> CredentialsSummary:
    if account is None or not isinstance(account.credentials, TwilioCredentials):
        return CredentialsSummary(configured=False)
    return CredentialsSummary(
        configured=True,
        account_sid=account.credentials.account_sid,
        api_key_sid=account.credentials.api_key_sid,
    )


class SetTwilioCredentials:
    """Store (replace) the tenant's Twilio credentials, sealed; the secrets are never returned. Needs a
    person. They are the tenant's first Twilio account (see ``store_twilio_credentials``)."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, actor: Principal, credentials: TwilioCredentials) -> CredentialsSummary:
        require_person(actor, PersonOnly.SET_PROVIDER_CREDENTIALS)
        require_tenant_admin(actor, _CREDENTIALS_ADMINS_ONLY)
        async with self._uow:
            account = await store_twilio_credentials(
                self._uow, actor, actor.tenant_id, credentials, self._clock.now()
            )
            await self._uow.commit()
        return _summary(account)


class GetCredentialsSummary:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, actor: Principal) -> CredentialsSummary:
        require_tenant_admin(actor, _CREDENTIALS_ADMINS_ONLY)
        async with self._uow:
            return _summary(await self._uow.provider_accounts.first_of(actor.tenant_id, ProviderName.TWILIO))


# --------------------------------------------------------------------------------------------- API keys
