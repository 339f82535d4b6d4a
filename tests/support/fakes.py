"""Hand-written stand-ins for every port of ``application/ports/``.

The fakes keep their data in memory and behave like the real adapters where a use case could tell the
difference: unique constraints raise ``AlreadyExists``, every tenant-scoped query filters on the tenant,
history pages follow the keyset order of ``HistoryQuery``, statuses only move forward, and the unit of
work throws away whatever a block did not commit. The repositories' fakes pass the same contract tests
as the SQL adapters (tests/integration/contract/), so they cannot drift from them unnoticed.

Typical use::

    uow = FakeUnitOfWork()
    provider = FakeMessagingProvider()
    account = await provision_account(uow, FakePasswordHasher(), FixedClock())
    send = SendMessage(uow, dispatcher, clock, wait_seconds=5, metrics=FakeMetrics(), provider=provider)
    result = await send(SendMessageCommand(...))
    assert provider.requests[0].message.contact == ...
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import math
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Self, TypeVar
from urllib.parse import urlsplit
from uuid import UUID, uuid4

from adapters.database.errors import PersistenceError
from adapters.database.rows import message_values
from application.errors import (
    AccountInUse,
    AlreadyExists,
    CredentialsUnreadable,
    InvalidToken,
    NotFound,
    StorageUnavailable,
    TransactionConflict,
    WebhookUrlRefused,
)
from application.ports.audit import AuditQuery
from application.ports.campaigns import CampaignPosition, RecipientQuery
from application.ports.clock import Clock
from application.ports.consent import LedgerQuery, SendConsent
from application.ports.contacts import ContactQuery
from application.ports.dashboard import (
    ActivityPeriods,
    DeliveryCounts,
    FailingEndpoint,
    TenantActivity,
    TenantUsage,
)
from application.ports.dispatch_queue import DispatchCompletion, DispatchJob, JobPhase, LeasedAttempt
from application.ports.identity import AccessClaims, IssuedToken, PasswordHasher, SessionAccess, TokenService
from application.ports.media import KeptMedia, MediaDownload
from application.ports.messages import (
    ChangePosition,
    ConversationQuery,
    HistoryQuery,
    IdempotencyRecord,
    MessageView,
    ScheduledPosition,
    SendingProfile,
    StatusAdvance,
    StatusChange,
    StoredMessageRow,
    WriteRefused,
)
from application.ports.providers import (
    LookupResult,
    MessagingProvider,
    OutboundRequest,
    OutcomeKind,
    ProviderLookup,
    ReadReceipt,
    ReadReceiptOutcome,
    SendOutcome,
)
from application.ports.rate_limits import RateLimit, RateLimiter, RateLimitState, Reservation
from application.ports.retention import ContactRecords
from application.ports.templates import TemplateQuery
from application.ports.tenancy import MetaApp, MetaNumber, TwilioSigner
from application.ports.tenant_webhooks import (
    DeliveryQuery,
    EndpointForDelivery,
    OutboxEvent,
    WebhookRequest,
    WebhookResponse,
    WebhookSender,
    WebhookUrlGuard,
)
from application.ports.unit_of_work import UnitOfWork
from domain.administration.audit import MIN_RETENTION, AuditEntry
from domain.administration.tenancy import (
    MetaCredentials,
    ProviderAccount,
    ProviderName,
    Role,
    Sender,
    Tenant,
    TwilioCredentials,
    User,
)
from domain.campaigns.model import (
    AudienceKind,
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    NewRecipient,
    RecipientState,
    SkipReason,
)
from domain.campaigns.progress import CampaignProgress
from domain.consent.model import ConsentChange, ConsentPolicy, ConsentRecord, ConsentState
from domain.contacts.contact import Contact, profile_name_kept
from domain.identity.credentials import ApiKey, AuthSession, RefreshToken, RevocationReason
from domain.messaging.content import Media, MessageKind
from domain.messaging.conversations import Conversation, preview_of
from domain.messaging.messages import Direction, Message, MessageContent, MessageStatus, StatusEvent
from domain.messaging.retention import RETAINABLE_STATUSES, RemovedData, RetentionPolicy
from domain.phone import PhoneNumber
from domain.templates.catalogue import CatalogueTemplate, TemplateListing, TemplateStatus
from domain.tenant_webhooks.model import (
    DeliveryAttempt,
    DeliveryState,
    SigningSecrets,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
    new_delivery_id,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Restore = Callable[[], None]
Row = TypeVar("Row", bound="DataclassInstance")


# -------------------------------------------------------------------------------------- access cache


class FakeAccessCache:
    """An access cache told of changes through ``invalidate`` (the notification); one not ``listening``
    is never told, so it keeps and serves nothing (as when the cache is off)."""

    def __init__(self, *, listening: bool = True) -> None:
        self.entries: dict[UUID, SessionAccess] = {}
        self.current_version = 0
        self.listening = listening

    def version(self) -> int | None:
        return self.current_version if self.listening else None

    def get(self, session_id: UUID) -> SessionAccess | None:
        return self.entries.get(session_id)

    def put(self, session_id: UUID, access: SessionAccess, version: int) -> None:
        if version == self.current_version:
            self.entries[session_id] = access

    def invalidate(self) -> None:
        self.current_version += 1
        self.entries.clear()


# --------------------------------------------------------------------------------------------- clock


class FixedClock:
    """A clock that stands still until a test moves it; always timezone-aware UTC."""

    DEFAULT_START = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)

    def __init__(self, start: datetime = DEFAULT_START) -> None:
        self._now = _as_utc(start)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = _as_utc(moment)

    def advance(self, delta: timedelta = timedelta(seconds=1)) -> datetime:
        """Move the clock forward by ``delta`` and return the new time."""
        if delta < timedelta(0):
            raise ValueError("a clock does not go backwards; use set() to jump to an earlier moment")
        self._now += delta
        return self._now


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("FixedClock needs a timezone-aware datetime")
    return moment.astimezone(UTC)


# --------------------------------------------------------------------------------------- repositories


def _utc(moment: datetime) -> datetime:
    """A timestamp as a column keeps it: in UTC. A naive one is refused, as the real column type refuses
    it (guessing its zone would corrupt the ordering silently)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise PersistenceError("a database operation failed")
    return moment.astimezone(UTC)


def _stored(row: Row) -> Row:
    """``row`` as it reads back once stored: every timestamp in UTC (see ``_utc``)."""
    moments = {f.name: value for f in fields(row) if isinstance(value := getattr(row, f.name), datetime)}
    in_utc = {name: _utc(moment) for name, moment in moments.items()}
    moved = {name: moment for name, moment in in_utc.items() if moment.tzinfo is not moments[name].tzinfo}
    return replace(row, **moved) if moved else row


class FakeTenantRepository:
    def __init__(self) -> None:
        self._tenants: dict[UUID, Tenant] = {}

    async def add(self, tenant: Tenant) -> None:
        if tenant.id in self._tenants:
            raise AlreadyExists(f"tenant {tenant.id} exists already")
        if any(existing.name == tenant.name for existing in self._tenants.values()):
            raise AlreadyExists(f"a tenant named {tenant.name!r} exists already")
        self._tenants[tenant.id] = _stored(tenant)

    async def get(self, tenant_id: UUID) -> Tenant | None:
        return self._tenants.get(tenant_id)

    async def get_by_name(self, name: str) -> Tenant | None:
        return next((tenant for tenant in self._tenants.values() if tenant.name == name), None)

    async def count(self) -> int:
        return len(self._tenants)

    async def update(self, tenant: Tenant) -> None:
        if tenant.id not in self._tenants:
            raise NotFound("the tenant does not exist")
        if any(other.name == tenant.name and other.id != tenant.id for other in self._tenants.values()):
            raise AlreadyExists(f"a tenant named {tenant.name!r} exists already")
        self._tenants[tenant.id] = _stored(tenant)

    async def list_page(self, limit: int, after_name: str | None = None) -> list[Tenant]:
        ordered = sorted(self._tenants.values(), key=lambda tenant: tenant.name)
        return [t for t in ordered if after_name is None or t.name > after_name][:limit]

    # Test helpers: not part of the port.

    def all(self) -> list[Tenant]:
        return list(self._tenants.values())

    def save(self, tenant: Tenant) -> None:
        """Insert or overwrite ``tenant`` without any check, as an operator's SQL would."""
        self._tenants[tenant.id] = tenant

    def snapshot(self) -> Restore:
        tenants = dict(self._tenants)

        def restore() -> None:
            self._tenants = dict(tenants)

        return restore


class FakeProviderAccountRepository:
    """``signer_loads`` counts the calls of ``twilio_signers``, ``meta_app_loads`` those of ``meta_apps``,
    ``meta_number_loads`` those of ``meta_numbers`` and ``meta_number_lookups`` those of ``meta_number``;
    ``resealed`` those of ``reseal`` (nothing is sealed in memory). It reads the senders of ``senders``
    and the tenants of ``tenants``."""

    def __init__(self, tenants: FakeTenantRepository, senders: FakeSenderRepository) -> None:
        self._accounts: dict[UUID, ProviderAccount] = {}
        self._tenants = tenants
        self._senders = senders
        self.resealed = 0
        self.signer_loads = 0
        self.meta_app_loads = 0
        self.meta_number_loads = 0
        self.meta_number_lookups = 0

    async def add(self, account: ProviderAccount) -> None:
        if await self._tenants.get(account.tenant_id) is None:
            raise NotFound("the tenant does not exist")
        if account.id in self._accounts:
            raise AlreadyExists(f"account {account.id} exists already")
        self._accounts[account.id] = _stored(account)

    async def get(self, tenant_id: UUID, account_id: UUID) -> ProviderAccount | None:
        account = self._accounts.get(account_id)
        return account if account is not None and account.tenant_id == tenant_id else None

    async def list_for_tenant(self, tenant_id: UUID) -> list[ProviderAccount]:
        return sorted(
            (a for a in self._accounts.values() if a.tenant_id == tenant_id),
            key=lambda account: (account.created_at, account.id),
        )

    async def first_of(self, tenant_id: UUID, provider: ProviderName) -> ProviderAccount | None:
        return next((a for a in await self.list_for_tenant(tenant_id) if a.provider is provider), None)

    async def update(self, account: ProviderAccount) -> None:
        if await self.get(account.tenant_id, account.id) is None:
            raise NotFound("the tenant has no such provider account")
        self._accounts[account.id] = _stored(account)

    async def remove(self, tenant_id: UUID, account_id: UUID) -> bool:
        if await self.get(tenant_id, account_id) is None:
            return False
        tenant = await self._tenants.get(tenant_id)
        first_twilio = await self.first_of(tenant_id, ProviderName.TWILIO)
        # A Twilio tenant's senders without an account send through its first Twilio account.
        fallback = tenant is not None and tenant.provider is ProviderName.TWILIO and first_twilio is not None
        users = (
            {account_id, None}
            if fallback and first_twilio is not None and first_twilio.id == account_id
            else {account_id}
        )
        if any(s.account_id in users for s in await self._senders.list_for_tenant(tenant_id)):
            raise AccountInUse("senders send through this account: move or remove them first")
        del self._accounts[account_id]
        if self.on_remove is not None:
            self.on_remove(account_id)
        return True

    async def of_sender(self, sender: Sender) -> ProviderAccount | None:
        stored = await self._senders.get(sender.tenant_id, sender.id)
        if stored is None:
            return None
        if stored.account_id is not None:
            return await self.get(stored.tenant_id, stored.account_id)
        return await self.first_of(stored.tenant_id, ProviderName.TWILIO)

    async def reseal(self) -> int:
        self.resealed += 1
        return len(self._accounts)

    async def twilio_signers(self) -> list[TwilioSigner]:
        self.signer_loads += 1
        signers = []
        for sender in sorted(self._senders.all(), key=lambda sender: sender.created_at):
            for account in await self.list_for_tenant(sender.tenant_id):
                if isinstance(account.credentials, TwilioCredentials):
                    signers.append(
                        TwilioSigner(
                            sender.tenant_id,
                            sender.phone_number,
                            account.credentials.account_sid,
                            account.credentials.auth_token,
                        )
                    )
        return signers

    async def meta_apps(self) -> list[MetaApp]:
        self.meta_app_loads += 1
        return [
            MetaApp(
                tenant_id=account.tenant_id,
                account_id=account.id,
                app_secret=account.credentials.app_secret,
                verify_token=account.credentials.verify_token,
                business_account_id=account.credentials.business_account_id,
            )
            for account in self._accounts.values()
            if isinstance(account.credentials, MetaCredentials)
        ]

    async def meta_number(self, provider_number_id: str) -> MetaNumber | None:
        self.meta_number_lookups += 1
        return await self._meta_number(provider_number_id)

    async def _meta_number(self, provider_number_id: str) -> MetaNumber | None:
        for sender in self._senders.all():
            if sender.provider_number_id != provider_number_id or sender.account_id is None:
                continue
            account = await self.get(sender.tenant_id, sender.account_id)
            if account is not None and isinstance(account.credentials, MetaCredentials):
                return MetaNumber(
                    tenant_id=sender.tenant_id,
                    provider_number_id=provider_number_id,
                    phone_number=sender.phone_number,
                    business_account_id=account.credentials.business_account_id,
                    app_secret=account.credentials.app_secret,
                    verify_token=account.credentials.verify_token,
                )
        return None

    async def meta_numbers(self) -> list[MetaNumber]:
        self.meta_number_loads += 1
        ids = {sender.provider_number_id for sender in self._senders.all() if sender.provider_number_id}
        numbers = [await self._meta_number(provider_number_id) for provider_number_id in sorted(ids)]
        return [number for number in numbers if number is not None]

    # Test helpers: not part of the port.

    on_remove: Callable[[UUID], None] | None = None

    def snapshot(self) -> Restore:
        accounts = dict(self._accounts)

        def restore() -> None:
            self._accounts = dict(accounts)

        return restore


class FakeSenderRepository:
    """``conflicts_ahead``: how many of the next ``make_default`` calls the database gives up for a
    concurrent transaction (TransactionConflict, after the old default was unset, as a deadlock would
    come); ``make_default_calls`` counts the calls."""

    def __init__(self) -> None:
        self._senders: dict[UUID, Sender] = {}
        self.tenants: FakeTenantRepository | None = None  # whose tenants a sender must belong to
        self.paused_until: dict[tuple[UUID, str], datetime] = {}
        self.conflicts_ahead = 0
        self.make_default_calls = 0

    async def add(self, sender: Sender) -> None:
        if self.tenants is not None and await self.tenants.get(sender.tenant_id) is None:
            raise NotFound("the tenant does not exist")
        if sender.id in self._senders:
            raise AlreadyExists(f"sender {sender.id} exists already")
        # The unique index compares numbers as written.
        if any(s.phone_number == sender.phone_number for s in self._for_tenant(sender.tenant_id)):
            raise AlreadyExists(f"{sender.phone_number} is already a sender of this tenant")
        if sender.is_default and await self.get_default(sender.tenant_id) is not None:
            raise AlreadyExists("the tenant has a default sender already")
        number_id = sender.provider_number_id
        if number_id is not None and self._number_id_taken(number_id, sender.id):
            raise AlreadyExists("this phone number id is another sender's")
        self._senders[sender.id] = _stored(sender)

    async def get_default(self, tenant_id: UUID) -> Sender | None:
        return next((s for s in self._for_tenant(tenant_id) if s.is_default), None)

    async def get_by_number(self, tenant_id: UUID, phone_number: PhoneNumber) -> Sender | None:
        found = [s for s in self._for_tenant(tenant_id) if s.phone_number.is_same_contact_as(phone_number)]
        return min(found, key=lambda sender: sender.created_at, default=None)

    async def pause(
        self, tenant_id: UUID, phone_number: PhoneNumber, until: datetime, *, now: datetime | None = None
    ) -> bool:
        key = (tenant_id, phone_number.e164)
        current = self.paused_until.get(key)
        if now is not None and current is not None and current > _utc(now):
            return False
        if not any(s.phone_number == phone_number for s in self._for_tenant(tenant_id)):
            return False
        self.paused_until[key] = _utc(until)
        return True

    async def find_all_by_number(self, phone_number: PhoneNumber) -> list[Sender]:
        found = [sender for sender in self.all() if sender.phone_number.is_same_contact_as(phone_number)]
        return sorted(found, key=lambda sender: sender.created_at)

    async def list_for_tenant(self, tenant_id: UUID) -> list[Sender]:
        return sorted(self._for_tenant(tenant_id), key=lambda sender: sender.created_at)

    async def get(self, tenant_id: UUID, sender_id: UUID) -> Sender | None:
        sender = self._senders.get(sender_id)
        return sender if sender is not None and sender.tenant_id == tenant_id else None

    async def update_label(self, tenant_id: UUID, sender_id: UUID, label: str) -> None:
        sender = await self.get(tenant_id, sender_id)
        if sender is not None:
            self._senders[sender_id] = replace(sender, label=label)

    async def move(
        self, tenant_id: UUID, sender_id: UUID, account_id: UUID | None, provider_number_id: str | None
    ) -> None:
        sender = await self.get(tenant_id, sender_id)
        if sender is None:
            return
        if provider_number_id is not None and self._number_id_taken(provider_number_id, sender_id):
            raise AlreadyExists("this phone number id is another sender's")
        self._senders[sender_id] = replace(
            sender, account_id=account_id, provider_number_id=provider_number_id
        )

    async def make_default(self, tenant_id: UUID, sender_id: UUID) -> None:
        self.make_default_calls += 1
        for sender in self._for_tenant(tenant_id):
            self._senders[sender.id] = replace(sender, is_default=sender.id == sender_id)
            if self.conflicts_ahead:
                self.conflicts_ahead -= 1
                raise TransactionConflict()

    async def remove(self, tenant_id: UUID, sender_id: UUID) -> bool:
        if await self.get(tenant_id, sender_id) is None:
            return False
        del self._senders[sender_id]
        return True

    def _for_tenant(self, tenant_id: UUID) -> list[Sender]:
        return [sender for sender in self._senders.values() if sender.tenant_id == tenant_id]

    def _number_id_taken(self, provider_number_id: str, by_other_than: UUID) -> bool:
        """Whether another sender, of any tenant, has this phone number id (the unique index)."""
        return any(
            other.provider_number_id == provider_number_id and other.id != by_other_than
            for other in self._senders.values()
        )

    # Test helpers: not part of the port.

    def all(self) -> list[Sender]:
        return list(self._senders.values())

    def snapshot(self) -> Restore:
        senders, paused = dict(self._senders), dict(self.paused_until)

        def restore() -> None:
            self._senders = dict(senders)
            self.paused_until = dict(paused)

        return restore


class FakeUserRepository:
    def __init__(self) -> None:
        self._users: dict[UUID, User] = {}

    async def add(self, user: User) -> None:
        if user.id in self._users:
            raise AlreadyExists(f"user {user.id} exists already")
        if await self.get_by_username(user.username) is not None:
            raise AlreadyExists(f"the username {user.username!r} is taken")
        self._users[user.id] = _stored(user)

    async def get_by_username(self, username: str) -> User | None:
        return next((user for user in self._users.values() if user.username == username), None)

    async def update_password_hash(self, user_id: UUID, password_hash: str) -> None:
        user = self._users.get(user_id)
        if user is None:
            raise NotFound("the user does not exist")
        self._users[user_id] = user.with_password_hash(password_hash)

    async def get_in_tenant(self, tenant_id: UUID, user_id: UUID) -> User | None:
        user = self._users.get(user_id)
        return user if user is not None and user.tenant_id == tenant_id else None

    async def list_for_tenant(self, tenant_id: UUID) -> list[User]:
        mine = [user for user in self._users.values() if user.tenant_id == tenant_id]
        return sorted(mine, key=lambda user: user.username)

    async def update(self, user: User) -> None:
        if await self.get_in_tenant(user.tenant_id, user.id) is None:
            raise NotFound("no such user")
        self._users[user.id] = _stored(user)

    # Test helpers: not part of the port.

    def get(self, user_id: UUID) -> User | None:
        return self._users.get(user_id)

    def all(self) -> list[User]:
        return list(self._users.values())

    def save(self, user: User) -> None:
        """Insert or overwrite ``user`` without any check, as an operator's SQL would."""
        self._users[user.id] = user

    def snapshot(self) -> Restore:
        users = dict(self._users)

        def restore() -> None:
            self._users = dict(users)

        return restore


class FakeMessageRepository:
    def __init__(self) -> None:
        self._messages: dict[UUID, Message] = {}
        self._events: list[tuple[UUID, StatusEvent]] = []
        # Each logged report's identity (message, provider id, status, error code), as the real index.
        self._reports: set[tuple[UUID, str, MessageStatus, int | None]] = set()

    async def add(self, message: Message) -> None:
        if message.id in self._messages:
            raise AlreadyExists(f"message {message.id} exists already")
        if message.provider_sid is not None and self.find_by_provider_sid(message.provider_sid) is not None:
            raise AlreadyExists("another message has this provider id")  # the unique index of the real table
        self._messages[message.id] = _stored(message)

    async def update(self, message: Message) -> None:
        stored = self._messages.get(message.id)
        if stored is None or stored.tenant_id != message.tenant_id:
            raise NotFound("no such message")
        if message.provider_sid is not None and (
            (holder := self.find_by_provider_sid(message.provider_sid)) is not None
            and holder.id != message.id
        ):
            raise AlreadyExists("another message has this provider id")  # the unique index of the real table
        self._messages[message.id] = _stored(message)

    async def get(self, tenant_id: UUID, message_id: UUID) -> Message | None:
        message = self._messages.get(message_id)
        return message if message is not None and message.tenant_id == tenant_id else None

    async def get_by_provider_sid(self, provider_sid: str) -> Message | None:
        return self.find_by_provider_sid(provider_sid)

    async def attach_provider_sid(self, tenant_id: UUID, message_id: UUID, provider_sid: str) -> bool:
        message = await self.get(tenant_id, message_id)
        if message is None or message.provider_sid is not None:
            return False
        if self.find_by_provider_sid(provider_sid) is not None:
            raise AlreadyExists("another message has this provider id")
        self._messages[message_id] = replace(message, provider_sid=provider_sid)
        return True

    async def list_status_events(self, tenant_id: UUID, message_id: UUID) -> list[StatusEvent]:
        return [
            event for owner, event in self._events if owner == tenant_id and event.message_id == message_id
        ]

    async def list_views(self, query: HistoryQuery) -> list[MessageView]:
        """Newest first by (created_at, id); ``after`` exclusive, ``since`` inclusive, ``until`` exclusive."""
        matching = [message for message in self._messages.values() if _matches(message, query)]
        matching.sort(key=lambda message: (message.created_at, message.id), reverse=True)
        return [MessageView.of(message) for message in matching[: query.limit]]

    async def list_stored(self, query: HistoryQuery) -> list[StoredMessageRow]:
        """``list_views``'s page as stored rows: each enum as its stored word."""
        return [
            tuple(value.value if isinstance(value, enum.Enum) else value for value in view)
            for view in await self.list_views(query)
        ]

    async def list_scheduled(
        self, tenant_id: UUID, limit: int, after: ScheduledPosition | None = None
    ) -> list[MessageView]:
        """Soonest first by (send_at, id), ``after`` exclusive."""
        pending = sorted(
            (
                (m.send_at, m.id, m)
                for m in self._messages.values()
                if m.tenant_id == tenant_id and m.status is MessageStatus.SCHEDULED and m.send_at is not None
                if after is None or (m.send_at, m.id) > (after.send_at, after.message_id)
            ),
            key=lambda entry: (entry[0], entry[1]),
        )
        return [MessageView.of(message) for _, _, message in pending[:limit]]

    async def list_changed(
        self, tenant_id: UUID, since: datetime, limit: int, after: ChangePosition | None = None
    ) -> list[MessageView]:
        """Oldest change first by (updated_at, id), ``since`` and ``after`` exclusive."""
        changed = [
            m
            for m in self._messages.values()
            if m.tenant_id == tenant_id
            and m.updated_at > since
            and (after is None or (m.updated_at, m.id) > (after.updated_at, after.message_id))
        ]
        changed.sort(key=lambda message: (message.updated_at, message.id))
        return [MessageView.of(message) for message in changed[:limit]]

    async def advance_status(self, change: StatusChange, now: datetime) -> Message | None:
        now = _utc(now)
        message = self.find_by_provider_sid(change.provider_sid)
        if message is None:
            return None
        identity = (message.id, change.provider_sid, change.status, change.error_code)
        if identity in self._reports:  # a repeat: the same report, logged once
            return None
        self._reports.add(identity)
        applies = message.status.can_advance_to(change.status)
        event = StatusEvent(
            message_id=message.id,
            status=change.status,
            received_at=now,
            applied=applies,
            error_code=change.error_code,
            error_message=change.error_message,
            pricing_category=change.pricing_category,
        )
        self._events.append((message.tenant_id, event))
        if not applies:
            return None
        advanced = replace(
            message,
            status=change.status,
            error_code=change.error_code if change.error_code is not None else message.error_code,
            error_message=change.error_message if change.error_message is not None else message.error_message,
            failure_code=change.failure_code_to_store or message.failure_code,
            provider_error_message=change.provider_error_message or message.provider_error_message,
            provider=change.provider or message.provider,
            updated_at=now,
        )
        self._messages[message.id] = advanced
        return advanced

    async def advance_status_of(
        self, tenant_ids: Sequence[UUID], change: StatusChange, now: datetime, *, commit: bool = False
    ) -> StatusAdvance:
        # As SQLite: the caller records the webhook events and commits (``commit`` changes nothing).
        message = self.find_by_provider_sid(change.provider_sid)
        if message is None or message.tenant_id not in tenant_ids:
            return StatusAdvance(found=False)
        return StatusAdvance(found=True, moved=await self.advance_status(change, now))

    async def replace_media(
        self, tenant_id: UUID, message_id: UUID, item: int, media: Media, now: datetime
    ) -> Message | None:
        message = await self.get(tenant_id, message_id)
        if message is None or not 0 <= item < len(message.content.media):
            return None
        items = list(message.content.media)
        items[item] = media
        changed = replace(message, content=replace(message.content, media=tuple(items)), updated_at=_utc(now))
        self._messages[message_id] = changed
        return changed

    # Test helpers: not part of the port.

    def all(self) -> list[Message]:
        return list(self._messages.values())

    def find(self, message_id: UUID) -> Message | None:
        return self._messages.get(message_id)

    def find_by_provider_sid(self, provider_sid: str) -> Message | None:
        return next((m for m in self._messages.values() if m.provider_sid == provider_sid), None)

    def put(self, message: Message) -> None:
        self._messages[message.id] = _stored(message)

    def remove(self, ids: Collection[UUID]) -> int:
        """Delete messages ``ids`` and their status events: how many events went."""
        for message_id in ids:
            self._messages.pop(message_id, None)
        kept = [(owner, event) for owner, event in self._events if event.message_id not in ids]
        removed, self._events = len(self._events) - len(kept), kept
        return removed

    def status_events(self) -> list[StatusEvent]:
        """Every report logged, about any message of any tenant, in the order logged."""
        return [event for _, event in self._events]

    def snapshot(self) -> Restore:
        messages, events, reports = dict(self._messages), list(self._events), set(self._reports)

        def restore() -> None:
            self._messages = dict(messages)
            self._events = list(events)
            self._reports = set(reports)

        return restore


class FakeConversationRepository:
    """One conversation per (tenant, contact's identity), moved forward by newer messages only; its
    contact is the form the contact last wrote from (until they write, the form last written to)."""

    def __init__(self) -> None:
        self._conversations: dict[tuple[UUID, str], Conversation] = {}

    async def record_message(self, message: Message) -> None:
        message = _stored(message)
        key = (message.tenant_id, message.contact.identity)
        existing = self._conversations.get(key)
        inbound_at = message.created_at if message.direction is Direction.INBOUND else None
        if existing is None:
            self._conversations[key] = Conversation(
                tenant_id=message.tenant_id,
                contact=message.contact,
                sender=message.sender,
                last_message_id=message.id,
                last_message_at=message.created_at,
                last_direction=message.direction,
                last_message_preview=preview_of(message),
                created_at=message.created_at,
                last_inbound_at=inbound_at,
                profile_name=message.profile_name,
                unread_count=1 if inbound_at is not None else 0,
            )
            return
        latest_inbound = max(
            (moment for moment in (existing.last_inbound_at, inbound_at) if moment is not None), default=None
        )
        updated = replace(
            existing,
            last_inbound_at=latest_inbound,
            profile_name=message.profile_name or existing.profile_name,
            unread_count=existing.unread_count + (1 if inbound_at is not None else 0),
        )
        newer = message.created_at >= existing.last_message_at
        if (inbound_at is not None and inbound_at == latest_inbound) or (
            existing.last_inbound_at is None and newer
        ):
            updated = replace(updated, contact=message.contact)
        if newer:
            updated = replace(
                updated,
                sender=message.sender,
                last_message_id=message.id,
                last_message_at=message.created_at,
                last_direction=message.direction,
                last_message_preview=preview_of(message),
            )
        self._conversations[key] = updated

    async def get(self, tenant_id: UUID, contact: PhoneNumber) -> Conversation | None:
        return self._conversations.get((tenant_id, contact.identity))

    async def get_many(self, tenant_id: UUID, identities: Collection[str]) -> dict[str, Conversation]:
        found = ((identity, self._conversations.get((tenant_id, identity))) for identity in identities)
        return {identity: conversation for identity, conversation in found if conversation is not None}

    async def get_by_id(self, tenant_id: UUID, conversation_id: UUID) -> Conversation | None:
        return next(
            (c for c in self._conversations.values() if c.tenant_id == tenant_id and c.id == conversation_id),
            None,
        )

    async def mark_seen(self, tenant_id: UUID, conversation_id: UUID) -> bool:
        conversation = await self.get_by_id(tenant_id, conversation_id)
        if conversation is None:
            return False
        key = (tenant_id, conversation.contact.identity)
        self._conversations[key] = replace(conversation, unread_count=0)
        return True

    async def list_page(self, query: ConversationQuery) -> list[Conversation]:
        after = query.after
        matching = [
            conversation
            for conversation in self._conversations.values()
            if conversation.tenant_id == query.tenant_id
            and (
                after is None
                or (conversation.last_message_at, conversation.id)
                < (after.last_message_at, after.conversation_id)
            )
        ]
        matching.sort(key=lambda conversation: (conversation.last_message_at, conversation.id), reverse=True)
        return matching[: query.limit]

    # Test helpers: not part of the port.

    def clear_previews(self, message_ids: Collection[UUID]) -> None:
        """Test helper (the retention): empty the preview of conversations whose last message is one of
        ``message_ids``."""
        for key, conversation in self._conversations.items():
            if conversation.last_message_id in message_ids:
                self._conversations[key] = replace(conversation, last_message_preview="")

    def remove(self, tenant_id: UUID, identity: str) -> int:
        return 0 if self._conversations.pop((tenant_id, identity), None) is None else 1

    def all(self) -> list[Conversation]:
        return list(self._conversations.values())

    def snapshot(self) -> Restore:
        conversations = dict(self._conversations)

        def restore() -> None:
            self._conversations = dict(conversations)

        return restore


def _matches(message: Message, query: HistoryQuery) -> bool:
    after = query.after
    return (
        message.tenant_id == query.tenant_id
        and (after is None or (message.created_at, message.id) < (after.created_at, after.message_id))
        and (query.direction is None or message.direction is query.direction)
        and (query.status is None or message.status is query.status)
        and (query.contact is None or message.contact.is_same_contact_as(query.contact))
        and (query.since is None or message.created_at >= query.since)
        and (query.until is None or message.created_at < query.until)
        and (query.kind is None or message.content.kind is query.kind)
        and (query.failure_code is None or message.failure_code is query.failure_code)
        and (not query.failures_only or message.status.is_failure)
    )


class FakeDispatchQueue:
    """Leases like the real queue: a claimed job is invisible to other owners until its lease ends."""

    def __init__(
        self,
        senders: FakeSenderRepository,
        messages: FakeMessageRepository,
        tenants: FakeTenantRepository,
        accounts: FakeProviderAccountRepository,
    ) -> None:
        self._senders = senders
        self._messages = messages  # read with a renewed lease, written when a job completes
        self._tenants = tenants
        self.accounts = accounts
        self._jobs: dict[UUID, DispatchJob] = {}
        self._leases: dict[UUID, tuple[str, datetime]] = {}

    async def enqueue(self, job: DispatchJob) -> None:
        if job.message_id in self._jobs:
            raise AlreadyExists("the message has a dispatch job already")
        self._jobs[job.message_id] = _stored(job)

    def _claimable(self, job: DispatchJob, now: datetime) -> bool:
        lease = self._leases.get(job.message_id)
        paused = self._senders.paused_until.get((job.tenant_id, job.sender.e164))
        return (
            job.available_at <= now and (lease is None or lease[1] <= now) and not (paused and paused > now)
        )

    async def claim_due(
        self,
        *,
        owner: str,
        now: datetime,
        lease_seconds: float,
        limit: int,
        skip_senders: Collection[PhoneNumber] = (),
        skip_tenants: Collection[UUID] = (),
        load: bool = False,
    ) -> list[DispatchJob]:
        due = sorted(
            (
                j
                for j in self._jobs.values()
                if self._claimable(j, now)
                and j.sender not in skip_senders
                and j.tenant_id not in skip_tenants
            ),
            key=lambda j: j.available_at,
        )
        leased = [self._lease(job, owner, now, lease_seconds) for job in due[:limit]]
        if not load:
            return leased
        until = now + timedelta(seconds=lease_seconds)
        return [
            replace(job, loaded=await self._attempt(job.message_id, job.tenant_id), leased_until=until)
            for job in leased
        ]

    async def claim(
        self, message_id: UUID, *, owner: str, now: datetime, lease_seconds: float
    ) -> DispatchJob | None:
        job = self._jobs.get(message_id)
        if job is None or not self._claimable(job, now):
            return None
        return self._lease(job, owner, now, lease_seconds)

    async def extend_lease_and_load(
        self, message_id: UUID, tenant_id: UUID, *, owner: str, until: datetime
    ) -> LeasedAttempt | None:
        job, lease = self._jobs.get(message_id), self._leases.get(message_id)
        if job is None or job.tenant_id != tenant_id or lease is None or lease[0] != owner:
            return None
        self._leases[message_id] = (owner, _utc(until))
        return await self._attempt(message_id, tenant_id)

    async def _attempt(self, message_id: UUID, tenant_id: UUID) -> LeasedAttempt:
        message = await self._messages.get(tenant_id, message_id)
        sender = await self._senders.get_by_number(tenant_id, message.sender) if message else None
        account = None
        if sender is not None:
            account = await self.accounts.of_sender(sender)
        elif message is not None:  # its sender is gone: it has no account of its own
            account = await self.accounts.first_of(tenant_id, ProviderName.TWILIO)
        return LeasedAttempt(
            message=message,
            tenant=await self._tenants.get(tenant_id),
            account=account,
            provider_number_id=sender.provider_number_id if sender is not None else None,
            sender_has_account=sender is not None and sender.account_id is not None,
        )

    def _lease(self, job: DispatchJob, owner: str, now: datetime, lease_seconds: float) -> DispatchJob:
        if job.message_id in self._leases:  # its lease ran out mid-attempt: reconcile before sending
            lease_ended = self._leases[job.message_id][1]
            job = self._jobs[job.message_id] = replace(
                job, phase=JobPhase.RECONCILE, unconfirmed_since=job.unconfirmed_since or lease_ended
            )
        self._leases[job.message_id] = (owner, now + timedelta(seconds=lease_seconds))
        return job

    async def reschedule(
        self,
        message_id: UUID,
        *,
        owner: str,
        attempts: int,
        phase: JobPhase,
        available_at: datetime,
        last_error: str | None,
        unconfirmed_since: datetime | None,
    ) -> bool:
        job, lease = self._jobs.get(message_id), self._leases.get(message_id)
        if job is None or lease is None or lease[0] != owner:
            return False
        self._jobs[message_id] = replace(
            job,
            attempts=attempts,
            phase=phase,
            available_at=_utc(available_at),
            last_error=last_error,
            unconfirmed_since=_utc(unconfirmed_since) if unconfirmed_since is not None else None,
        )
        del self._leases[message_id]
        return True

    async def complete(self, message_id: UUID, *, owner: str | None) -> bool:
        lease = self._leases.get(message_id)
        if message_id not in self._jobs or (owner is not None and (lease is None or lease[0] != owner)):
            return False
        del self._jobs[message_id]
        self._leases.pop(message_id, None)
        return True

    async def in_flight_from(self, tenant_id: UUID, sender: PhoneNumber) -> int:
        return sum(
            1
            for job in self._jobs.values()
            if job.tenant_id == tenant_id
            and job.sender == sender
            and (job.message_id in self._leases or job.unconfirmed_since is not None)
        )

    async def complete_dispatch(self, message: Message, *, owner: str) -> DispatchCompletion:
        if not await self.complete(message.id, owner=owner):
            return DispatchCompletion.LEASE_LOST
        stored = await self._messages.get(message.tenant_id, message.id)
        if stored is not None and stored.status is MessageStatus.ACCEPTED:
            # The provider's answer, on a message still accepted (a SID it had already is kept).
            provider_sid = stored.provider_sid or message.provider_sid
            await self._messages.update(replace(message, provider_sid=provider_sid))
            return DispatchCompletion.RECORDED
        if message.provider_sid:
            await self._messages.attach_provider_sid(message.tenant_id, message.id, message.provider_sid)
        return DispatchCompletion.SETTLED_ELSEWHERE

    async def complete_dispatches(self, outcomes: Sequence[tuple[Message, str]]) -> list[DispatchCompletion]:
        return [await self.complete_dispatch(message, owner=owner) for message, owner in outcomes]

    async def depth(self, now: datetime) -> tuple[int, datetime | None]:
        waiting = [job for job in self._jobs.values() if job.created_at <= now]
        return len(waiting), min((job.created_at for job in waiting), default=None)

    async def start_scheduled(self, message_id: UUID, tenant_id: UUID, *, owner: str, now: datetime) -> bool:
        lease = self._leases.get(message_id)
        message = await self._messages.get(tenant_id, message_id)
        if (
            message is None
            or message.status is not MessageStatus.SCHEDULED
            or message_id not in self._jobs
            or lease is None
            or lease[0] != owner
            or lease[1] <= now
        ):
            return False
        await self._messages.update(message.due(now))
        return True

    def _free_job_of_scheduled(self, tenant_id: UUID, message_id: UUID, now: datetime) -> Message | None:
        job, lease = self._jobs.get(message_id), self._leases.get(message_id)
        message = self._messages.find(message_id)  # any tenant's: checked below
        if (
            job is None
            or job.tenant_id != tenant_id
            or (lease is not None and lease[1] > now)
            or message is None
            or message.tenant_id != tenant_id
            or message.status is not MessageStatus.SCHEDULED
        ):
            return None
        return message

    async def reschedule_scheduled(
        self, tenant_id: UUID, message_id: UUID, *, send_at: datetime, now: datetime
    ) -> bool:
        message = self._free_job_of_scheduled(tenant_id, message_id, now)
        if message is None:
            return False
        job = self._jobs[message_id]
        self._jobs[message_id] = replace(
            job,
            available_at=_utc(send_at),
            created_at=_utc(send_at),
            phase=JobPhase.SEND,
            unconfirmed_since=None,
        )
        self._leases.pop(message_id, None)
        await self._messages.update(message.rescheduled(_utc(send_at), now))
        return True

    async def cancel_scheduled(self, tenant_id: UUID, message_id: UUID, *, now: datetime) -> bool:
        message = self._free_job_of_scheduled(tenant_id, message_id, now)
        if message is None:
            return False
        del self._jobs[message_id]
        self._leases.pop(message_id, None)
        await self._messages.update(message.canceled(now))
        return True

    # Test helpers: not part of the port.

    def all(self) -> list[DispatchJob]:
        return list(self._jobs.values())

    def remove(self, message_ids: Collection[UUID]) -> int:
        """Test helper (retention, erasure): drop the jobs of messages ``message_ids``."""
        removed = [message_id for message_id in message_ids if self._jobs.pop(message_id, None) is not None]
        for message_id in removed:
            self._leases.pop(message_id, None)
        return len(removed)

    def snapshot(self) -> Restore:
        jobs, leases = dict(self._jobs), dict(self._leases)

        def restore() -> None:
            self._jobs = dict(jobs)
            self._leases = dict(leases)

        return restore


class FakeIdempotencyRepository:
    def __init__(self) -> None:
        self._records: dict[tuple[UUID, str], IdempotencyRecord] = {}

    async def get(self, tenant_id: UUID, key: str, now: datetime) -> IdempotencyRecord | None:
        record = self._records.get((tenant_id, key))
        return record if record is not None and record.expires_at > now else None

    async def complete(self, tenant_id: UUID, key: str, response_status: int) -> None:
        record = self._records.get((tenant_id, key))
        if record is not None:
            self._records[(tenant_id, key)] = replace(record, response_status=response_status)

    async def purge_expired(self, now: datetime) -> int:
        expired = [k for k, record in self._records.items() if record.expires_at <= now]
        for k in expired:
            del self._records[k]
        return len(expired)

    def forget_messages(self, ids: Collection[UUID]) -> int:
        """Test helper (the erasure): remove the keys of messages ``ids``."""
        held = [k for k, record in self._records.items() if record.message_id in ids]
        for k in held:
            del self._records[k]
        return len(held)

    # Not part of the port: how FakeMessageAcceptance holds a key.

    def hold(self, record: IdempotencyRecord) -> None:
        existing = self._records.get((record.tenant_id, record.key))
        if existing is not None and existing.expires_at > record.created_at:
            raise AlreadyExists("this idempotency key is in use")
        self._records[(record.tenant_id, record.key)] = _stored(record)

    def snapshot(self) -> Restore:
        records = dict(self._records)

        def restore() -> None:
            self._records = dict(records)

        return restore


class FakeWebhookEndpointRepository:
    """Endpoints and their secrets (kept plain: there is nothing to seal in memory)."""

    def __init__(self) -> None:
        self._endpoints: dict[UUID, WebhookEndpoint] = {}
        self._secrets: dict[UUID, SigningSecrets] = {}
        self._unreadable: set[UUID] = set()

    async def add(self, endpoint: WebhookEndpoint, secret: str, *, at_most: int) -> bool:
        if endpoint.id in self._endpoints:
            raise AlreadyExists("the webhook endpoint exists already")
        if len(await self.list_for_tenant(endpoint.tenant_id)) >= at_most:
            return False
        self._endpoints[endpoint.id] = _stored(endpoint)
        self._secrets[endpoint.id] = SigningSecrets(current=secret)
        return True

    async def get(self, tenant_id: UUID, endpoint_id: UUID) -> WebhookEndpoint | None:
        endpoint = self._endpoints.get(endpoint_id)
        return endpoint if endpoint is not None and endpoint.tenant_id == tenant_id else None

    async def list_for_tenant(self, tenant_id: UUID) -> list[WebhookEndpoint]:
        mine = [e for e in self._endpoints.values() if e.tenant_id == tenant_id]
        return sorted(mine, key=lambda endpoint: (endpoint.created_at, endpoint.id))

    async def update(self, endpoint: WebhookEndpoint) -> None:
        stored = await self.get(endpoint.tenant_id, endpoint.id)
        if stored is None:
            raise NotFound("no such webhook endpoint")
        # The previous secret's expiry belongs to the secrets, not to what update() stores.
        self._endpoints[endpoint.id] = _stored(
            replace(endpoint, previous_secret_expires_at=stored.previous_secret_expires_at)
        )

    async def delete(self, tenant_id: UUID, endpoint_id: UUID) -> bool:
        if await self.get(tenant_id, endpoint_id) is None:
            return False
        del self._endpoints[endpoint_id]
        del self._secrets[endpoint_id]
        if self.on_delete is not None:
            self.on_delete(endpoint_id)
        return True

    async def rotate_secret(
        self, tenant_id: UUID, endpoint_id: UUID, new_secret: str, previous_expires_at: datetime
    ) -> None:
        endpoint = await self.get(tenant_id, endpoint_id)
        if endpoint is None:
            raise NotFound("no such webhook endpoint")
        previous_expires_at = _utc(previous_expires_at)
        self._secrets[endpoint_id] = SigningSecrets(
            current=new_secret,
            previous=self._secrets[endpoint_id].current,
            previous_expires_at=previous_expires_at,
        )
        self._endpoints[endpoint_id] = replace(endpoint, previous_secret_expires_at=previous_expires_at)

    async def signing_secrets(self, tenant_id: UUID, endpoint_id: UUID) -> SigningSecrets | None:
        if await self.get(tenant_id, endpoint_id) is None:
            return None
        if endpoint_id in self._unreadable:
            raise CredentialsUnreadable()
        return self._secrets[endpoint_id]

    async def for_delivery(self, tenant_id: UUID, endpoint_id: UUID) -> EndpointForDelivery | None:
        self.for_delivery_calls += 1
        return self._for_delivery(tenant_id, endpoint_id)

    async def for_deliveries(
        self, keys: Sequence[tuple[UUID, UUID]]
    ) -> dict[tuple[UUID, UUID], EndpointForDelivery]:
        found = {key: self._for_delivery(*key) for key in keys}
        return {key: each for key, each in found.items() if each is not None}

    def _for_delivery(self, tenant_id: UUID, endpoint_id: UUID) -> EndpointForDelivery | None:
        endpoint = self._endpoints.get(endpoint_id)
        if endpoint is None or endpoint.tenant_id != tenant_id:
            return None
        secrets = None if endpoint_id in self._unreadable else self._secrets[endpoint_id]
        return EndpointForDelivery(endpoint, secrets)

    async def reseal_secrets(self) -> int:
        """Nothing is sealed in memory."""
        return 0

    # Test helpers: not part of the port.

    on_delete: Callable[[UUID], None] | None = None
    # How many times ``for_delivery`` was called (all the fake's units of work share one repository).
    for_delivery_calls = 0

    def all(self) -> list[WebhookEndpoint]:
        return list(self._endpoints.values())

    def lose_the_key_of(self, endpoint_id: UUID) -> None:
        """Make the endpoint's secrets unreadable, as when the key they were sealed with is gone."""
        self._unreadable.add(endpoint_id)

    def snapshot(self) -> Restore:
        endpoints, secrets = dict(self._endpoints), dict(self._secrets)

        def restore() -> None:
            self._endpoints = dict(endpoints)
            self._secrets = dict(secrets)

        return restore


class FakeWebhookDeliveryQueue:
    """Leases like the real queue; attempts are logged per delivery, oldest first."""

    def __init__(self) -> None:
        self._deliveries: dict[str, WebhookDelivery] = {}
        self._leases: dict[str, tuple[str, datetime]] = {}
        self._attempts: list[DeliveryAttempt] = []
        # How many times ``settle_all`` was called: a test helper, not part of the port.
        self.settle_all_calls = 0

    def add(self, delivery: WebhookDelivery) -> None:
        """What the outbox does: not part of the port."""
        self._deliveries[delivery.id] = _stored(delivery)

    async def claim_due(
        self, *, owner: str, now: datetime, lease_seconds: float, limit: int
    ) -> list[WebhookDelivery]:
        due = sorted(
            (
                d
                for d in self._deliveries.values()
                if d.state is DeliveryState.PENDING
                and d.next_attempt_at <= now
                and (d.id not in self._leases or self._leases[d.id][1] <= now)
            ),
            key=lambda d: (d.next_attempt_at, d.id),
        )[:limit]
        for delivery in due:
            self._leases[delivery.id] = (owner, now + timedelta(seconds=lease_seconds))
        return due

    async def settle(
        self, delivery: WebhookDelivery, attempt: DeliveryAttempt | None, *, owner: str, commit: bool = False
    ) -> bool:
        lease = self._leases.get(delivery.id)
        if delivery.id not in self._deliveries or lease is None or lease[0] != owner:
            return False
        self._deliveries[delivery.id] = _stored(delivery)
        del self._leases[delivery.id]
        if attempt is not None:
            self._attempts.append(_stored(attempt))
        return True

    async def settle_all(
        self,
        settlements: Sequence[tuple[WebhookDelivery, DeliveryAttempt | None]],
        *,
        owner: str,
        commit: bool = False,
    ) -> list[bool]:
        self.settle_all_calls += 1
        return [await self.settle(delivery, attempt, owner=owner) for delivery, attempt in settlements]

    async def get(self, tenant_id: UUID, delivery_id: str) -> WebhookDelivery | None:
        delivery = self._deliveries.get(delivery_id)
        return delivery if delivery is not None and delivery.tenant_id == tenant_id else None

    async def list_page(self, query: DeliveryQuery) -> list[WebhookDelivery]:
        matching = [
            d
            for d in self._deliveries.values()
            if d.tenant_id == query.tenant_id
            and d.endpoint_id == query.endpoint_id
            and (query.after is None or d.id < query.after)
            and (query.state is None or d.state is query.state)
        ]
        return sorted(matching, key=lambda d: d.id, reverse=True)[: query.limit]

    async def list_attempts(
        self, tenant_id: UUID, delivery_ids: Sequence[str]
    ) -> dict[str, list[DeliveryAttempt]]:
        wanted = {i for i in delivery_ids if (d := self._deliveries.get(i)) and d.tenant_id == tenant_id}
        attempts: dict[str, list[DeliveryAttempt]] = {}
        for attempt in self._attempts:
            if attempt.delivery_id in wanted:
                attempts.setdefault(attempt.delivery_id, []).append(attempt)
        return attempts

    async def replay(self, tenant_id: UUID, delivery_id: str, now: datetime) -> WebhookDelivery | None:
        delivery = await self.get(tenant_id, delivery_id)
        if delivery is None:
            return None
        replayed = replace(
            delivery, state=DeliveryState.PENDING, attempts=0, next_attempt_at=_utc(now), finished_at=None
        )
        self._deliveries[delivery_id] = replayed
        return replayed

    async def purge_finished(self, before: datetime) -> int:
        finished = [
            d.id
            for d in self._deliveries.values()
            if d.state is not DeliveryState.PENDING and d.finished_at is not None and d.finished_at < before
        ]
        for delivery_id in finished:
            self.forget(delivery_id)
        return len(finished)

    # Test helpers: not part of the port.

    def all(self) -> list[WebhookDelivery]:
        return sorted(self._deliveries.values(), key=lambda d: d.id)

    def all_attempts(self) -> list[DeliveryAttempt]:
        return list(self._attempts)

    def attempts_of(self, delivery_id: str) -> list[DeliveryAttempt]:
        return [attempt for attempt in self._attempts if attempt.delivery_id == delivery_id]

    def forget(self, delivery_id: str) -> None:
        self._deliveries.pop(delivery_id, None)
        self._leases.pop(delivery_id, None)
        self._attempts = [a for a in self._attempts if a.delivery_id != delivery_id]

    def forget_endpoint(self, endpoint_id: UUID) -> None:
        """ON DELETE CASCADE."""
        for delivery in [d for d in self._deliveries.values() if d.endpoint_id == endpoint_id]:
            self.forget(delivery.id)

    def snapshot(self) -> Restore:
        deliveries, leases, attempts = dict(self._deliveries), dict(self._leases), list(self._attempts)

        def restore() -> None:
            self._deliveries = dict(deliveries)
            self._leases = dict(leases)
            self._attempts = list(attempts)

        return restore


class FakeMediaDownloadQueue:
    """Leases like the real queue; a download's (message, item) is unique, as the real table's is."""

    def __init__(self) -> None:
        self._downloads: dict[UUID, MediaDownload] = {}
        self._leases: dict[UUID, tuple[str, datetime]] = {}

    async def enqueue(self, download: MediaDownload) -> None:
        if download.id in self._downloads or any(
            (queued.message_id, queued.item) == (download.message_id, download.item)
            for queued in self._downloads.values()
        ):
            raise AlreadyExists("the media item has a download queued already")
        self._downloads[download.id] = _stored(download)

    async def claim_due(
        self, *, owner: str, now: datetime, lease_seconds: float, limit: int
    ) -> list[MediaDownload]:
        due = sorted(
            (
                d
                for d in self._downloads.values()
                if d.available_at <= now and (d.id not in self._leases or self._leases[d.id][1] <= now)
            ),
            key=lambda d: (d.available_at, d.created_at),
        )[:limit]
        for download in due:
            self._leases[download.id] = (owner, now + timedelta(seconds=lease_seconds))
        return due

    def _held_by(self, download_id: UUID, owner: str) -> bool:
        lease = self._leases.get(download_id)
        return download_id in self._downloads and lease is not None and lease[0] == owner

    async def reschedule(
        self,
        download_id: UUID,
        *,
        owner: str,
        attempts: int,
        available_at: datetime,
        last_error: str,
    ) -> bool:
        if not self._held_by(download_id, owner):
            return False
        self._downloads[download_id] = replace(
            self._downloads[download_id],
            attempts=attempts,
            available_at=_utc(available_at),
            last_error=last_error,
        )
        del self._leases[download_id]
        return True

    async def complete(self, download_id: UUID, *, owner: str) -> bool:
        if not self._held_by(download_id, owner):
            return False
        del self._downloads[download_id]
        del self._leases[download_id]
        return True

    # Test helpers: not part of the port.

    def all(self) -> list[MediaDownload]:
        return sorted(self._downloads.values(), key=lambda d: (d.created_at, d.item))

    def remove(self, message_ids: Collection[UUID]) -> int:
        """Test helper (retention, erasure): drop the downloads of messages ``message_ids``."""
        gone = [d.id for d in self._downloads.values() if d.message_id in message_ids]
        for download_id in gone:
            del self._downloads[download_id]
            self._leases.pop(download_id, None)
        return len(gone)

    def snapshot(self) -> Restore:
        downloads, leases = dict(self._downloads), dict(self._leases)

        def restore() -> None:
            self._downloads = dict(downloads)
            self._leases = dict(leases)

        return restore


class FakeMediaRepository:
    def __init__(self) -> None:
        self._media: dict[UUID, KeptMedia] = {}

    async def add(self, media: KeptMedia) -> None:
        if media.id in self._media:
            raise AlreadyExists("the media file is kept already")
        self._media[media.id] = _stored(media)

    async def get(self, tenant_id: UUID, media_id: UUID) -> KeptMedia | None:
        media = self._media.get(media_id)
        return media if media is not None and media.tenant_id == tenant_id else None

    # Test helpers: not part of the port.

    def all(self) -> list[KeptMedia]:
        return sorted(self._media.values(), key=lambda m: m.created_at)

    def remove(self, message_ids: Collection[UUID]) -> list[KeptMedia]:
        gone = [kept for kept in self._media.values() if kept.message_id in message_ids]
        for kept in gone:
            del self._media[kept.id]
        return gone

    def snapshot(self) -> Restore:
        media = dict(self._media)

        def restore() -> None:
            self._media = dict(media)

        return restore


class FakeWebhookOutbox:
    """Fans an event out to the tenant's enabled endpoints subscribed to it, like the real outbox."""

    def __init__(
        self, endpoints: FakeWebhookEndpointRepository, deliveries: FakeWebhookDeliveryQueue
    ) -> None:
        self._endpoints = endpoints
        self._deliveries = deliveries

    async def record(self, tenant_id: UUID, event_type: WebhookEventType, payload: str, now: datetime) -> int:
        targets = [e for e in await self._endpoints.list_for_tenant(tenant_id) if e.subscribes_to(event_type)]
        for endpoint in targets:
            self._deliveries.add(
                WebhookDelivery(
                    id=new_delivery_id(now),
                    tenant_id=tenant_id,
                    endpoint_id=endpoint.id,
                    event_type=event_type,
                    payload=payload,
                    created_at=now,
                    next_attempt_at=now,
                )
            )
        return len(targets)

    async def record_all(self, events: Sequence[OutboxEvent], now: datetime, *, commit: bool = False) -> int:
        recorded = 0
        for event in events:
            recorded += await self.record(event.tenant_id, event.event_type, event.payload, now)
        return recorded


class FakeSessionRepository:
    """Sessions and refresh tokens; ``get_access`` joins them with the users and tenants, as the SQL does."""

    def __init__(self, users: FakeUserRepository, tenants: FakeTenantRepository) -> None:
        self._users = users
        self._tenants = tenants
        self._sessions: dict[UUID, AuthSession] = {}
        self._tokens: dict[str, RefreshToken] = {}
        self.access_checks = 0  # how many times get_access ran: once per request with a token

    async def add(self, session: AuthSession) -> None:
        if session.id in self._sessions:
            raise AlreadyExists("the session exists already")
        if self._users.get(session.user_id) is None:
            raise NotFound("the user does not exist")
        if await self._tenants.get(session.tenant_id) is None:
            raise NotFound("the tenant does not exist")
        self._sessions[session.id] = _stored(session)

    async def get_access(self, session_id: UUID) -> SessionAccess | None:
        self.access_checks += 1
        session = self._sessions.get(session_id)
        user = self._users.get(session.user_id) if session else None
        tenant = await self._tenants.get(user.tenant_id) if user else None
        if session is None or user is None or tenant is None:
            return None
        return SessionAccess(session=session, user=user, tenant=tenant)

    async def revoke(self, session_id: UUID, now: datetime, reason: RevocationReason) -> None:
        session = self._sessions.get(session_id)
        if session is not None and session.revoked_at is None:
            self._sessions[session_id] = replace(session, revoked_at=_utc(now), revoked_reason=reason)

    async def revoke_for_user(self, user_id: UUID, now: datetime, reason: RevocationReason) -> int:
        return self._revoke_where(lambda session: session.user_id == user_id, now, reason)

    async def revoke_for_tenant(self, tenant_id: UUID, now: datetime, reason: RevocationReason) -> int:
        return self._revoke_where(lambda session: session.tenant_id == tenant_id, now, reason)

    def _revoke_where(
        self, matches: Callable[[AuthSession], bool], now: datetime, reason: RevocationReason
    ) -> int:
        live = [s for s in self._sessions.values() if matches(s) and s.revoked_at is None]
        for session in live:
            self._sessions[session.id] = replace(session, revoked_at=_utc(now), revoked_reason=reason)
        return len(live)

    async def add_refresh_token(self, token: RefreshToken) -> None:
        if token.token_hash in self._tokens:
            raise AlreadyExists("the refresh token exists already")
        self._tokens[token.token_hash] = _stored(token)

    async def get_refresh_token(self, token_hash: str) -> RefreshToken | None:
        return self._tokens.get(token_hash)

    async def use_refresh_token(self, token_hash: str, now: datetime) -> bool:
        token = self._tokens.get(token_hash)
        if token is None or token.used_at is not None:
            return False
        self._tokens[token_hash] = replace(token, used_at=_utc(now))
        return True

    async def purge_expired(self, now: datetime) -> int:
        expired = {sid for sid, session in self._sessions.items() if session.expires_at < now}
        self._sessions = {sid: s for sid, s in self._sessions.items() if sid not in expired}
        self._tokens = {h: t for h, t in self._tokens.items() if t.session_id not in expired}
        return len(expired)

    # Test helpers: not part of the port.

    def all(self) -> list[AuthSession]:
        return list(self._sessions.values())

    def get(self, session_id: UUID) -> AuthSession | None:
        return self._sessions.get(session_id)

    def tokens(self) -> list[RefreshToken]:
        return list(self._tokens.values())

    def snapshot(self) -> Restore:
        sessions, tokens = dict(self._sessions), dict(self._tokens)

        def restore() -> None:
            self._sessions = dict(sessions)
            self._tokens = dict(tokens)

        return restore


class FakeApiKeyRepository:
    def __init__(self) -> None:
        self._keys: dict[UUID, ApiKey] = {}

    async def add(self, key: ApiKey) -> None:
        if key.id in self._keys or any(k.prefix == key.prefix for k in self._keys.values()):
            raise AlreadyExists("an API key with this prefix exists already")
        self._keys[key.id] = _stored(key)

    async def get_by_prefix(self, prefix: str) -> ApiKey | None:
        return next((key for key in self._keys.values() if key.prefix == prefix), None)

    async def get(self, tenant_id: UUID, key_id: UUID) -> ApiKey | None:
        key = self._keys.get(key_id)
        return key if key is not None and key.tenant_id == tenant_id else None

    async def list_for_tenant(self, tenant_id: UUID) -> list[ApiKey]:
        mine = [key for key in self._keys.values() if key.tenant_id == tenant_id]
        return sorted(mine, key=lambda key: (key.created_at, key.id))

    async def revoke(self, tenant_id: UUID, key_id: UUID, now: datetime) -> bool:
        key = await self.get(tenant_id, key_id)
        if key is None or key.revoked_at is not None:
            return False
        self._keys[key_id] = replace(key, revoked_at=_utc(now))
        return True

    async def record_use(self, key_id: UUID, now: datetime) -> None:
        key = self._keys.get(key_id)
        if key is not None:
            self._keys[key_id] = replace(key, last_used_at=_utc(now))

    # Test helpers: not part of the port.

    def all(self) -> list[ApiKey]:
        return list(self._keys.values())

    def snapshot(self) -> Restore:
        keys = dict(self._keys)

        def restore() -> None:
            self._keys = dict(keys)

        return restore


class FakeAuditLog:
    """Entries in memory, newest first on every page; appended and never changed.

    ``now`` stands for the database's own clock, which the real adapters measure ``MIN_RETENTION``
    against: set it to check that floor (None: no floor).
    """

    def __init__(self) -> None:
        self._entries: list[AuditEntry] = []
        self.now: Callable[[], datetime] | None = None

    async def record(self, entry: AuditEntry) -> None:
        if any(existing.id == entry.id for existing in self._entries):
            raise AlreadyExists("the audit entry exists already")
        self._entries.append(_stored(entry))

    async def list_page(self, query: AuditQuery) -> list[AuditEntry]:
        def matches(entry: AuditEntry) -> bool:
            return (
                (query.tenant_id is None or entry.tenant_id == query.tenant_id)
                and (
                    query.after is None
                    or (entry.occurred_at, entry.id) < (query.after.occurred_at, query.after.entry_id)
                )
                and (query.action is None or entry.action is query.action)
                and (query.actor_id is None or entry.actor.id == query.actor_id)
                and (query.since is None or entry.occurred_at >= query.since)
                and (query.until is None or entry.occurred_at < query.until)
            )

        found = sorted(filter(matches, self._entries), key=lambda e: (e.occurred_at, e.id), reverse=True)
        return found[: query.limit]

    async def purge_older_than(self, before: datetime) -> int:
        if self.now is not None:
            before = min(before, self.now() - MIN_RETENTION)
        kept = [entry for entry in self._entries if entry.occurred_at >= before]
        purged = len(self._entries) - len(kept)
        self._entries = kept
        return purged

    # Test helpers: not part of the port.

    def all(self) -> list[AuditEntry]:
        """Oldest first, as recorded."""
        return list(self._entries)

    def snapshot(self) -> Restore:
        entries = list(self._entries)

        def restore() -> None:
            self._entries = list(entries)

        return restore


class FakeConsentRepository:
    """Current states by (tenant, identity), the ledger in order, and policies by tenant; like the SQL
    adapter, a change that repeats the current state is ledgered with ``changed`` false. Sequences are
    never given twice, even after entries are erased or a block rolled back (as an identity column)."""

    def __init__(self) -> None:
        self._states: dict[tuple[UUID, str], ConsentRecord] = {}
        self._ledger: list[ConsentChange] = []
        self._policies: dict[UUID, ConsentPolicy] = {}
        self._sequences = itertools.count(1)

    async def current(self, tenant_id: UUID, identity: str) -> ConsentRecord | None:
        return self._states.get((tenant_id, identity))

    async def record(self, change: ConsentChange) -> ConsentChange:
        if any(entry.id == change.id for entry in self._ledger):
            raise AlreadyExists("the consent change is recorded already")
        previous = self._states.get((change.tenant_id, change.identity))
        changed = previous is None or previous.state is not change.state
        stored = _stored(replace(change, changed=changed, sequence=next(self._sequences)))
        if changed:
            self._states[(change.tenant_id, change.identity)] = stored.as_record()
        self._ledger.append(stored)
        return stored

    async def ledger_page(self, query: LedgerQuery) -> list[ConsentChange]:
        found = [
            entry
            for entry in self._ledger
            if entry.tenant_id == query.tenant_id
            and (query.identity is None or entry.identity == query.identity)
        ]
        if query.newest_first:
            return found[::-1][: query.limit]
        return [entry for entry in found if query.after is None or (entry.sequence or 0) > query.after][
            : query.limit
        ]

    async def policy(self, tenant_id: UUID) -> ConsentPolicy | None:
        return self._policies.get(tenant_id)

    async def save_policy(self, policy: ConsentPolicy) -> None:
        self._policies[policy.tenant_id] = _stored(policy)

    async def refusal_for(self, tenant_id: UUID, identity: str) -> SendConsent | None:
        record = self._states.get((tenant_id, identity))
        if record is None or record.state is not ConsentState.OPTED_OUT:
            return None
        return SendConsent(self._policies.get(tenant_id) or ConsentPolicy(tenant_id=tenant_id))

    async def opted_out_among(self, tenant_id: UUID, identities: Collection[str]) -> frozenset[str]:
        return frozenset(
            identity
            for identity in identities
            if (record := self._states.get((tenant_id, identity))) is not None
            and record.state is ConsentState.OPTED_OUT
        )

    # Test helpers: not part of the port.

    def ledger(self) -> list[ConsentChange]:
        return list(self._ledger)

    def erase(self, tenant_id: UUID, identity: str) -> tuple[int, int]:
        """Remove the person's ledger entries, and their state unless it is an opt-out, as an erasure
        does: how many entries and states went."""
        kept = [entry for entry in self._ledger if (entry.tenant_id, entry.identity) != (tenant_id, identity)]
        entries = len(self._ledger) - len(kept)
        self._ledger = kept
        record = self._states.get((tenant_id, identity))
        if record is None or record.state is ConsentState.OPTED_OUT:
            return entries, 0
        del self._states[(tenant_id, identity)]
        return entries, 1

    def snapshot(self) -> Restore:
        states, ledger, policies = dict(self._states), list(self._ledger), dict(self._policies)

        def restore() -> None:
            self._states, self._ledger, self._policies = dict(states), list(ledger), dict(policies)

        return restore


class FakeTemplateRepository:
    """A tenant's template catalogue, kept as the SQL adapter keeps it: one template per tenant, name and
    language; a listing per account (one for the sandbox), on an account of the template's tenant; a
    provider's template id listed once across all tenants. A provider account's removal takes its
    listings with it (``forget_account``). Listings read back by account, the sandbox's first. Each
    tenant's periodic sync is claimed at most once per interval (``claim_sync``)."""

    def __init__(self, tenants: FakeTenantRepository, accounts: FakeProviderAccountRepository) -> None:
        self._templates: dict[UUID, CatalogueTemplate] = {}
        self._sync_claims: dict[UUID, datetime] = {}  # tenant id -> its sync last claimed at
        self._tenants = tenants
        self._accounts = accounts

    async def add(self, template: CatalogueTemplate) -> None:
        if template.id in self._templates:
            raise AlreadyExists("the template exists already")
        await self._check(template)
        self._templates[template.id] = _stored_template(template)

    async def get(self, tenant_id: UUID, template_id: UUID) -> CatalogueTemplate | None:
        template = self._templates.get(template_id)
        return template if template is not None and template.tenant_id == tenant_id else None

    async def find(self, tenant_id: UUID, name: str, language: str) -> CatalogueTemplate | None:
        return next(
            (t for t in self._of_tenant(tenant_id) if t.definition.key == (name, language)),
            None,
        )

    async def list_page(self, query: TemplateQuery) -> list[CatalogueTemplate]:
        def listing_matches(listing: TemplateListing) -> bool:
            at = query.listed_at
            return (query.status is None or listing.status is query.status) and (
                at is None or (listing.provider is at.provider and listing.account_id == at.account_id)
            )

        def matches(template: CatalogueTemplate) -> bool:
            return (
                (query.after is None or template.definition.key > query.after)
                and (query.name is None or template.definition.name == query.name)
                and (
                    (query.status is None and query.listed_at is None)
                    or any(listing_matches(listing) for listing in template.listings)
                )
            )

        return list(filter(matches, self._of_tenant(query.tenant_id)))[: query.limit]

    async def list_all(self, tenant_id: UUID) -> list[CatalogueTemplate]:
        return self._of_tenant(tenant_id)

    async def update(self, template: CatalogueTemplate) -> None:
        if await self.get(template.tenant_id, template.id) is None:
            raise NotFound("the tenant has no such template")
        await self._check(template)
        self._templates[template.id] = _stored_template(template)

    async def remove(self, tenant_id: UUID, template_id: UUID) -> bool:
        if await self.get(tenant_id, template_id) is None:
            return False
        del self._templates[template_id]
        return True

    async def with_provider_id(
        self, provider: ProviderName, provider_template_id: str
    ) -> CatalogueTemplate | None:
        return next(
            (
                template
                for template in self._templates.values()
                for listing in template.listings
                if (listing.provider, listing.provider_template_id) == (provider, provider_template_id)
            ),
            None,
        )

    async def claim_sync(self, tenant_id: UUID, now: datetime, every: timedelta) -> bool:
        if await self._tenants.get(tenant_id) is None:
            raise NotFound("the tenant does not exist")
        claimed_at = self._sync_claims.get(tenant_id)
        if claimed_at is not None and claimed_at > now - every:
            return False
        self._sync_claims[tenant_id] = now
        return True

    def _of_tenant(self, tenant_id: UUID) -> list[CatalogueTemplate]:
        mine = (t for t in self._templates.values() if t.tenant_id == tenant_id)
        return sorted(mine, key=lambda template: template.definition.key)

    async def _check(self, template: CatalogueTemplate) -> None:
        """The table's constraints, in the order a reader would hit them."""
        if await self._tenants.get(template.tenant_id) is None:
            raise NotFound("the tenant does not exist")
        others = [t for t in self._templates.values() if t.id != template.id]
        if any(
            (other.tenant_id, other.definition.key) == (template.tenant_id, template.definition.key)
            for other in others
        ):
            raise AlreadyExists(f"the template {template.definition.label} exists already")
        accounts = [listing.account_id for listing in template.listings]
        if len(set(accounts)) != len(accounts):
            raise AlreadyExists(_LISTED_ALREADY)
        listed_elsewhere = {
            (listing.provider, listing.provider_template_id) for other in others for listing in other.listings
        }
        ids = [(listing.provider, listing.provider_template_id) for listing in template.listings]
        if len(set(ids)) != len(ids) or listed_elsewhere.intersection(ids):
            raise AlreadyExists(_LISTED_ALREADY)
        for account_id in accounts:
            if account_id is not None and await self._accounts.get(template.tenant_id, account_id) is None:
                raise NotFound("the tenant has no such provider account")

    # Test helpers: not part of the port.

    def forget_account(self, account_id: UUID) -> None:
        """A provider account was removed: its listings go with it (as ON DELETE CASCADE does)."""
        for template in list(self._templates.values()):
            if template.listing_for(account_id) is not None:
                self._templates[template.id] = replace(
                    template,
                    listings=tuple(item for item in template.listings if item.account_id != account_id),
                )

    def all(self) -> list[CatalogueTemplate]:
        return list(self._templates.values())

    def snapshot(self) -> Restore:
        templates, sync_claims = dict(self._templates), dict(self._sync_claims)

        def restore() -> None:
            self._templates, self._sync_claims = dict(templates), dict(sync_claims)

        return restore


_LISTED_ALREADY = "the template is listed already at that account, or the provider's template is"


def _stored_template(template: CatalogueTemplate) -> CatalogueTemplate:
    """``template`` as it reads back: timestamps in UTC, listings by account with the sandbox's first."""
    listings = sorted(map(_stored, template.listings), key=_by_account)
    return replace(_stored(template), listings=tuple(listings))


def _by_account(listing: TemplateListing) -> tuple[bool, UUID]:
    return (listing.account_id is not None, listing.account_id or UUID(int=0))


class FakeContactRepository:
    """A tenant's contacts, kept as the SQL adapter keeps them: one per tenant and identity, of an
    existing tenant; pages newest first, audiences by identity."""

    def __init__(self, tenants: FakeTenantRepository) -> None:
        self._contacts: dict[UUID, Contact] = {}
        self._tenants = tenants

    async def add(self, contact: Contact) -> None:
        if await self._tenants.get(contact.tenant_id) is None:
            raise NotFound("the tenant does not exist")
        if contact.id in self._contacts or self._by_identity(contact.tenant_id, contact.identity):
            raise AlreadyExists("the tenant has a contact of that number already")
        self._contacts[contact.id] = contact

    async def get(self, tenant_id: UUID, contact_id: UUID) -> Contact | None:
        contact = self._contacts.get(contact_id)
        return contact if contact is not None and contact.tenant_id == tenant_id else None

    async def get_many(self, tenant_id: UUID, identities: Collection[str]) -> dict[str, Contact]:
        return {
            identity: contact
            for identity in identities
            if (contact := self._by_identity(tenant_id, identity)) is not None
        }

    async def update(self, contact: Contact) -> None:
        stored = await self.get(contact.tenant_id, contact.id)
        if stored is None:
            raise NotFound("the tenant has no such contact")
        self._contacts[contact.id] = replace(
            stored,
            name=contact.name,
            attributes=contact.attributes,
            tags=contact.tags,
            notes=contact.notes,
            updated_at=contact.updated_at,
        )

    async def save_many(self, contacts: Sequence[Contact]) -> None:
        for contact in contacts:
            stored = self._by_identity(contact.tenant_id, contact.identity)
            if stored is None:
                await self.add(contact)
            else:
                await self.update(replace(contact, id=stored.id))

    async def remove(self, tenant_id: UUID, contact_id: UUID) -> Contact | None:
        contact = await self.get(tenant_id, contact_id)
        if contact is not None:
            del self._contacts[contact_id]
        return contact

    async def list_page(self, query: ContactQuery) -> list[Contact]:
        def matches(contact: Contact) -> bool:
            return (
                (
                    query.after is None
                    or (contact.created_at, contact.id) < (query.after.created_at, query.after.contact_id)
                )
                and _in_audience(contact, query.tags, query.attributes)
                and (not query.q or _found_by(contact, query.q))
            )

        found = sorted(
            (c for c in self._contacts.values() if c.tenant_id == query.tenant_id and matches(c)),
            key=lambda c: (c.created_at, c.id),
            reverse=True,
        )
        return found[: query.limit]

    async def audience_batch(
        self,
        tenant_id: UUID,
        *,
        tags: Sequence[str],
        attributes: Mapping[str, str],
        after_identity: str | None,
        limit: int,
    ) -> list[Contact]:
        found = sorted(
            (
                c
                for c in self._contacts.values()
                if c.tenant_id == tenant_id
                and (after_identity is None or c.identity > after_identity)
                and _in_audience(c, tags, attributes)
            ),
            key=lambda c: c.identity,
        )
        return found[:limit]

    async def attribute_keys(self, tenant_id: UUID) -> list[str]:
        return sorted(
            {key for c in self._contacts.values() if c.tenant_id == tenant_id for key in c.attributes}
        )

    async def record_message(self, message: Message) -> None:
        stored = self._by_identity(message.tenant_id, message.contact.identity)
        inbound = message.direction is Direction.INBOUND
        profile_name = profile_name_kept(message.profile_name) if inbound else None
        if stored is None:
            await self.add(
                Contact(
                    tenant_id=message.tenant_id,
                    identity=message.contact.identity,
                    phone_number=message.contact.e164,
                    profile_name=profile_name,
                    created_at=message.created_at,
                    updated_at=message.created_at,
                )
            )
            return
        if not inbound:
            return
        changed = replace(
            stored, phone_number=message.contact.e164, profile_name=profile_name or stored.profile_name
        )
        if changed != stored:
            self._contacts[stored.id] = replace(changed, updated_at=message.created_at)

    def all(self) -> list[Contact]:
        return list(self._contacts.values())

    def forget(self, tenant_id: UUID, identity: str) -> int:
        """Remove the contact of the person, as an erasure does: how many went (0 or 1)."""
        contact = self._by_identity(tenant_id, identity)
        if contact is None:
            return 0
        del self._contacts[contact.id]
        return 1

    def _by_identity(self, tenant_id: UUID, identity: str) -> Contact | None:
        return next(
            (c for c in self._contacts.values() if c.tenant_id == tenant_id and c.identity == identity), None
        )

    def snapshot(self) -> Restore:
        contacts = dict(self._contacts)

        def restore() -> None:
            self._contacts = dict(contacts)

        return restore


class FakeCampaignRepository:
    """Campaigns and their recipients in memory; a recipient's state past ``accepted`` is its message's
    status, and the held jobs are the fake queue's, as the SQL repository reads them through joins."""

    def __init__(
        self,
        tenants: FakeTenantRepository,
        messages: FakeMessageRepository,
        conversations: FakeConversationRepository,
        jobs: FakeDispatchQueue,
    ) -> None:
        self._tenants = tenants
        self._messages = messages
        self._conversations = conversations
        self._jobs = jobs
        self._campaigns: dict[UUID, Campaign] = {}
        self._keys: dict[tuple[UUID, str], tuple[UUID, str]] = {}
        self._recipients: dict[UUID, CampaignRecipient] = {}

    async def add(self, campaign: Campaign, idempotency: tuple[str, str] | None = None) -> None:
        if await self._tenants.get(campaign.tenant_id) is None:
            raise NotFound("the tenant does not exist")
        if idempotency is not None:
            key = (campaign.tenant_id, idempotency[0])
            if key in self._keys:
                raise AlreadyExists("a campaign was created with this Idempotency-Key already")
            self._keys[key] = (campaign.id, idempotency[1])
        self._campaigns[campaign.id] = _stored(campaign)

    async def by_idempotency_key(self, tenant_id: UUID, key: str) -> tuple[Campaign, str] | None:
        found = self._keys.get((tenant_id, key))
        if found is None:
            return None
        return self._campaigns[found[0]], found[1]

    async def get(self, tenant_id: UUID, campaign_id: UUID) -> Campaign | None:
        campaign = self._campaigns.get(campaign_id)
        return campaign if campaign is not None and campaign.tenant_id == tenant_id else None

    async def list_page(
        self, tenant_id: UUID, *, limit: int, after: CampaignPosition | None = None
    ) -> list[Campaign]:
        mine = sorted(
            (c for c in self._campaigns.values() if c.tenant_id == tenant_id),
            key=lambda c: (c.created_at, c.id),
            reverse=True,
        )
        if after is not None:
            mine = [c for c in mine if (c.created_at, c.id) < (after.created_at, after.campaign_id)]
        return mine[:limit]

    async def save(self, campaign: Campaign) -> bool:
        stored = self._campaigns.get(campaign.id)
        if stored is None or stored.tenant_id != campaign.tenant_id or stored.version != campaign.version:
            return False
        self._campaigns[campaign.id] = _stored(replace(campaign, version=campaign.version + 1))
        return True

    async def due(self, until: datetime, limit: int) -> list[Campaign]:
        def is_due(c: Campaign) -> bool:
            if c.status is CampaignStatus.SCHEDULED:
                return c.start_at <= until and (c.audience_complete or c.audience is not AudienceKind.CSV)
            if c.status is CampaignStatus.RUNNING:
                walking = not c.audience_complete and c.audience is AudienceKind.CONTACTS
                return walking or (c.schedule is not None and c.schedule.next_slot <= until)
            return False

        far = datetime.max.replace(tzinfo=UTC)
        due = [c for c in self._campaigns.values() if is_due(c)]
        return sorted(due, key=lambda c: c.schedule.next_slot if c.schedule else far)[:limit]

    async def add_recipients(
        self, tenant_id: UUID, campaign_id: UUID, recipients: Sequence[NewRecipient], now: datetime
    ) -> int:
        taken = {r.identity for r in self._recipients.values() if r.campaign_id == campaign_id and r.identity}
        stored = 0
        for new in recipients:
            if new.identity is not None and new.identity in taken:
                continue
            if new.identity is not None:
                taken.add(new.identity)
            recipient = CampaignRecipient(
                id=uuid4(),
                campaign_id=campaign_id,
                tenant_id=tenant_id,
                position=new.position,
                number=new.number[:32],
                identity=new.identity,
                variables=dict(new.variables),
                state=RecipientState.SKIPPED if new.skip_reason else RecipientState.PENDING,
                skip_reason=new.skip_reason,
                detail=new.detail,
            )
            self._recipients[recipient.id] = recipient
            stored += 1
        return stored

    def _of(self, tenant_id: UUID, campaign_id: UUID) -> list[CampaignRecipient]:
        mine = (
            r for r in self._recipients.values() if r.tenant_id == tenant_id and r.campaign_id == campaign_id
        )
        return sorted(mine, key=lambda r: (r.position, r.id))

    async def claim_pending(self, tenant_id: UUID, campaign_id: UUID, limit: int) -> list[CampaignRecipient]:
        claimed = [r for r in self._of(tenant_id, campaign_id) if r.state is RecipientState.PENDING][:limit]
        for recipient in claimed:  # taken until the transaction ends: given back by a rollback
            self._recipients[recipient.id] = replace(recipient, state=RecipientState.ACCEPTED)
        return claimed

    async def mark_accepted(
        self, tenant_id: UUID, accepted: Sequence[tuple[UUID, UUID]], now: datetime
    ) -> None:
        for recipient_id, message_id in accepted:
            recipient = self._recipients.get(recipient_id)
            if recipient is not None and recipient.tenant_id == tenant_id and recipient.message_id is None:
                self._recipients[recipient_id] = replace(
                    recipient, state=RecipientState.ACCEPTED, message_id=message_id, accepted_at=_utc(now)
                )

    async def mark_skipped(
        self, tenant_id: UUID, recipient_ids: Collection[UUID], reason: str, detail: str | None
    ) -> None:
        for recipient_id in recipient_ids:
            recipient = self._recipients.get(recipient_id)
            if recipient is not None and recipient.tenant_id == tenant_id and recipient.message_id is None:
                self._recipients[recipient_id] = replace(
                    recipient, state=RecipientState.SKIPPED, skip_reason=SkipReason(reason), detail=detail
                )

    async def has_pending(self, tenant_id: UUID, campaign_id: UUID) -> bool:
        return any(r.state is RecipientState.PENDING for r in self._of(tenant_id, campaign_id))

    def _as_read(self, recipient: CampaignRecipient) -> CampaignRecipient:
        if recipient.message_id is None:
            return recipient
        message = self._messages._messages.get(recipient.message_id)
        state = (
            _RECIPIENT_STATE_OF_STATUS.get(message.status, recipient.state) if message else recipient.state
        )
        conversation = (
            self._conversations._conversations.get((recipient.tenant_id, recipient.identity))
            if recipient.identity
            else None
        )
        replied = (
            conversation is not None
            and conversation.last_inbound_at is not None
            and recipient.accepted_at is not None
            and conversation.last_inbound_at > recipient.accepted_at
        )
        return replace(recipient, state=state, replied=replied)

    async def progress(self, tenant_id: UUID, campaign_id: UUID) -> CampaignProgress:
        counts: dict[str, int] = {}
        for recipient in map(self._as_read, self._of(tenant_id, campaign_id)):
            if recipient.state is RecipientState.SKIPPED:
                key = f"skipped_{recipient.skip_reason}"
            else:
                key = recipient.state.value
            counts[key] = counts.get(key, 0) + 1
            counts["targeted"] = counts.get("targeted", 0) + 1
            counts["replied"] = counts.get("replied", 0) + int(recipient.replied)
        return CampaignProgress(**counts)

    async def recipients_page(self, query: RecipientQuery) -> list[CampaignRecipient]:
        page = [
            r
            for r in map(self._as_read, self._of(query.tenant_id, query.campaign_id))
            if (query.state is None or r.state is query.state)
            and (query.after_position is None or r.position > query.after_position)
        ]
        return page[: query.limit]

    def _job_messages(self, tenant_id: UUID, campaign_id: UUID) -> list[UUID]:
        return [r.message_id for r in self._of(tenant_id, campaign_id) if r.message_id is not None]

    async def hold_unsent(self, tenant_id: UUID, campaign_id: UUID, hold_until: datetime) -> int:
        held = 0
        for message_id in self._job_messages(tenant_id, campaign_id):
            job = self._jobs._jobs.get(message_id)
            if job is None or message_id in self._jobs._leases or job.phase is not JobPhase.SEND:
                continue
            self._jobs._jobs[message_id] = _stored(replace(job, available_at=hold_until))
            held += 1
        return held

    async def held_messages(self, tenant_id: UUID, campaign_id: UUID, held_since: datetime) -> list[UUID]:
        return [
            message_id
            for message_id in self._job_messages(tenant_id, campaign_id)
            if (job := self._jobs._jobs.get(message_id)) is not None and job.available_at >= held_since
        ]

    async def reschedule_jobs(self, tenant_id: UUID, slots: Sequence[tuple[UUID, datetime]]) -> None:
        for message_id, at in slots:
            job = self._jobs._jobs.get(message_id)
            if job is not None and job.tenant_id == tenant_id and message_id not in self._jobs._leases:
                self._jobs._jobs[message_id] = _stored(replace(job, available_at=at))

    def recipients_of(self, tenant_id: UUID, identity: str) -> list[CampaignRecipient]:
        """A person's places on the tenant's campaigns, oldest first (what an export hands over)."""
        return [r for r in self._recipients.values() if (r.tenant_id, r.identity) == (tenant_id, identity)]

    def forget(self, tenant_id: UUID, identity: str) -> int:
        """Remove a person's places on the tenant's campaigns (an erasure): how many."""
        gone = [r.id for r in self.recipients_of(tenant_id, identity)]
        for recipient_id in gone:
            del self._recipients[recipient_id]
        return len(gone)

    async def active_of_sender(self, tenant_id: UUID, sender: PhoneNumber) -> list[Campaign]:
        return [
            c
            for c in self._campaigns.values()
            if c.tenant_id == tenant_id
            and c.sender.e164 == sender.e164
            and c.status in (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING)
        ]

    async def campaign_of_message(self, tenant_id: UUID, message_id: UUID) -> UUID | None:
        found = (
            r.campaign_id
            for r in self._recipients.values()
            if r.tenant_id == tenant_id and r.message_id == message_id
        )
        return next(found, None)

    def snapshot(self) -> Restore:
        campaigns, keys, recipients = dict(self._campaigns), dict(self._keys), dict(self._recipients)

        def restore() -> None:
            self._campaigns, self._keys, self._recipients = dict(campaigns), dict(keys), dict(recipients)

        return restore


def _in_audience(contact: Contact, tags: Sequence[str], attributes: Mapping[str, str]) -> bool:
    return set(tags) <= contact.tags and all(contact.attributes.get(k) == v for k, v in attributes.items())


def _found_by(contact: Contact, q: str) -> bool:
    text = q.lower()
    if any(text in (name or "").lower() for name in (contact.name, contact.profile_name)):
        return True
    digits = "".join(ch for ch in q if ch.isdigit() and ch.isascii())
    plain = q.strip().lstrip("+").replace(" ", "").replace("-", "")
    return (
        bool(digits)
        and len(digits) >= len(plain)
        and (digits in contact.phone_number or digits in contact.identity)
    )


_RECIPIENT_STATE_OF_STATUS = {
    MessageStatus.ACCEPTED: RecipientState.ACCEPTED,
    MessageStatus.QUEUED: RecipientState.SENT,
    MessageStatus.SENDING: RecipientState.SENT,
    MessageStatus.SENT: RecipientState.SENT,
    MessageStatus.DELIVERED: RecipientState.DELIVERED,
    MessageStatus.READ: RecipientState.READ,
    MessageStatus.FAILED: RecipientState.FAILED,
    MessageStatus.UNDELIVERED: RecipientState.FAILED,
}


# ------------------------------------------------------------------------------------- unit of work


class FakeMessageAcceptance:
    """The accept path's reads and writes, over the other fake tables (as one statement would)."""

    def __init__(self, database: FakeDatabase) -> None:
        self._database = database

    async def sending_profile(
        self, tenant_id: UUID, sender_number: PhoneNumber | None, recipient: str | None = None
    ) -> SendingProfile | None:
        tenant = await self._database.tenants.get(tenant_id)
        if tenant is None:
            return None
        senders = self._database.senders
        if sender_number is None:
            sender = await senders.get_default(tenant_id)
        else:
            # The number as written, as the statement compares it.
            named = (s for s in await senders.list_for_tenant(tenant_id) if s.phone_number == sender_number)
            sender = next(named, None)
        account = (
            await self._database.provider_accounts.get(tenant_id, sender.account_id)
            if sender is not None and sender.account_id is not None
            else None
        )
        refusal = await self._database.consent.refusal_for(tenant_id, recipient) if recipient else None
        return SendingProfile(tenant, sender, account.provider if account else tenant.provider, refusal)

    async def add(
        self,
        message: Message,
        job: DispatchJob,
        idempotency: IdempotencyRecord | None,
        *,
        commit: bool = False,  # the caller's commit() next commits it
        unless_opted_out: str | None = None,
        only_in_window_at: datetime | None = None,
    ) -> None:
        consent = self._database.consent
        if unless_opted_out is not None and await consent.refusal_for(message.tenant_id, unless_opted_out):
            raise WriteRefused()
        if only_in_window_at is not None:
            conversation = await self._database.conversations.get(message.tenant_id, message.contact)
            if conversation is None or not conversation.window_open(only_in_window_at):
                raise WriteRefused()
        checked = unless_opted_out is not None or only_in_window_at is not None
        try:
            if idempotency is not None:
                self._database.idempotency.hold(idempotency)
        except AlreadyExists as held:
            if not checked:
                raise
            raise WriteRefused() from held
        await self._database.messages.add(message)
        await self._database.conversations.record_message(message)
        await self._database.contacts.record_message(message)
        await self._database.jobs.enqueue(job)


class FakeDashboardQueries:
    """The dashboards' figures, counted over the other fake tables (as the aggregate statements do)."""

    def __init__(self, database: FakeDatabase) -> None:
        self._database = database

    async def tenant_activity(self, tenant_id: UUID, periods: ActivityPeriods) -> TenantActivity:
        database = self._database
        mine = [m for m in database.messages.all() if m.tenant_id == tenant_id]
        outbound = [m for m in mine if m.direction is Direction.OUTBOUND]
        queued = [
            job for job in database.jobs.all() if job.tenant_id == tenant_id and job.created_at <= periods.now
        ]
        return TenantActivity(
            active_conversations=sum(
                1
                for c in database.conversations.all()
                if c.tenant_id == tenant_id
                and c.last_inbound_at is not None
                and c.last_inbound_at > periods.last_24_hours
            ),
            messages_today=sum(1 for m in mine if m.created_at >= periods.day_start),
            total_messages=len(mine),
            last_24_hours=_delivery_counts([m for m in outbound if m.created_at >= periods.last_24_hours]),
            last_7_days=_delivery_counts([m for m in outbound if m.created_at >= periods.last_7_days]),
            queue_waiting=len(queued),
            queue_oldest_at=min((job.created_at for job in queued), default=None),
            templates_pending=sum(
                1
                for template in database.templates.all()
                if template.tenant_id == tenant_id
                and any(listing.status is TemplateStatus.PENDING for listing in template.listings)
            ),
            failing_endpoints=self._failing_endpoints(tenant_id),
        )

    def _failing_endpoints(self, tenant_id: UUID) -> list[FailingEndpoint]:
        failing = []
        endpoints = [e for e in self._database.webhook_endpoints.all() if e.tenant_id == tenant_id]
        for endpoint in sorted(endpoints, key=lambda e: (e.created_at, e.id)):
            attempted = [
                d
                for d in self._database.webhook_deliveries.all()
                if d.endpoint_id == endpoint.id and d.last_attempt_at is not None
            ]
            newest = max(attempted, key=lambda d: d.id, default=None)
            last_failed = newest is not None and not (
                newest.last_status_code is not None and 200 <= newest.last_status_code < 300
            )
            if (not endpoint.enabled and endpoint.disabled_reason is not None) or (
                endpoint.enabled and last_failed
            ):
                failing.append(
                    FailingEndpoint(
                        id=endpoint.id,
                        url=endpoint.url,
                        enabled=endpoint.enabled,
                        disabled_reason=endpoint.disabled_reason,
                        last_attempt_at=newest.last_attempt_at if newest else None,
                        last_status_code=newest.last_status_code if newest else None,
                        last_error=newest.last_error if newest else None,
                    )
                )
        return failing

    async def platform_usage(self, day_start: datetime) -> list[TenantUsage]:
        tenants = sorted(self._database.tenants.all(), key=lambda t: t.name)
        return [self._usage_of(tenant, day_start) for tenant in tenants]

    async def tenant_usage(self, tenant_id: UUID, day_start: datetime) -> TenantUsage | None:
        tenant = next((t for t in self._database.tenants.all() if t.id == tenant_id), None)
        return self._usage_of(tenant, day_start) if tenant is not None else None

    def _usage_of(self, tenant: Tenant, day_start: datetime) -> TenantUsage:
        database = self._database
        messages = [m for m in database.messages.all() if m.tenant_id == tenant.id]
        return TenantUsage(
            tenant=tenant,
            messages_today=sum(1 for m in messages if m.created_at >= day_start),
            total_messages=len(messages),
            users=sum(1 for u in database.users.all() if u.tenant_id == tenant.id),
            senders=sum(1 for s in database.senders.all() if s.tenant_id == tenant.id),
        )


def _delivery_counts(outbound: list[Message]) -> DeliveryCounts:
    return DeliveryCounts(
        total=len(outbound),
        delivered=sum(1 for m in outbound if m.status in {MessageStatus.DELIVERED, MessageStatus.READ}),
        read=sum(1 for m in outbound if m.status is MessageStatus.READ),
        failed=sum(1 for m in outbound if m.status.is_failure),
    )


class FakeRetentionRepository:
    """Policies by tenant; the batches work on the database's messages as the SQL ones do on the tables
    (oldest settled messages past the horizon first, at most ``limit``)."""

    def __init__(self, database: FakeDatabase) -> None:
        self._database = database
        self._policies: dict[UUID, RetentionPolicy] = {}

    async def get_policy(self, tenant_id: UUID) -> RetentionPolicy | None:
        return self._policies.get(tenant_id)

    async def save_policy(self, policy: RetentionPolicy) -> None:
        self._policies[policy.tenant_id] = _stored(policy)

    async def remove_policy(self, tenant_id: UUID) -> bool:
        return self._policies.pop(tenant_id, None) is not None

    async def policies(self) -> list[RetentionPolicy]:
        return sorted(self._policies.values(), key=lambda policy: policy.tenant_id)

    async def redact_expired(self, policy: RetentionPolicy, now: datetime, limit: int) -> RemovedData:
        picked = self._pick(policy, now, limit, unredacted_only=True)
        keys, files = self._database.remove_media_of({m.id for m in picked})
        for message in picked:
            self._database.messages.put(
                replace(
                    message,
                    content=MessageContent(redacted=True),
                    profile_name=None,
                    redacted_at=_utc(now),
                    updated_at=_utc(now),
                )
            )
        self._database.conversations.clear_previews({m.id for m in picked})
        return RemovedData(
            counts={"messages": len(picked), "media": files} if picked else {}, media_keys=keys
        )

    async def delete_expired(self, policy: RetentionPolicy, now: datetime, limit: int) -> RemovedData:
        picked = self._pick(policy, now, limit, unredacted_only=False)
        if not picked:
            return RemovedData(counts={})
        ids = {m.id for m in picked}
        keys, files = self._database.remove_media_of(ids)
        events = self._database.messages.remove(ids)
        jobs = self._database.jobs.remove(ids)
        self._database.conversations.clear_previews(ids)
        counts = {"messages": len(picked), "status_events": events, "dispatch_jobs": jobs, "media": files}
        return RemovedData(counts=counts, media_keys=keys)

    def _pick(
        self, policy: RetentionPolicy, now: datetime, limit: int, *, unredacted_only: bool
    ) -> list[Message]:
        horizon = policy.horizon(now)
        candidates = [
            message
            for message in self._database.messages.all()
            if message.tenant_id == policy.tenant_id
            and message.created_at < horizon
            and message.status in RETAINABLE_STATUSES
            and not (unredacted_only and message.redacted_at is not None)
        ]
        return sorted(candidates, key=lambda message: message.created_at)[:limit]

    def snapshot(self) -> Restore:
        policies = dict(self._policies)

        def restore() -> None:
            self._policies = dict(policies)

        return restore


class FakeContactDataRepository:
    """Erases and exports a person's records across the database's fakes, in every form of the number."""

    def __init__(self, database: FakeDatabase) -> None:
        self._database = database

    async def erase(self, tenant_id: UUID, contact: PhoneNumber) -> RemovedData:
        ids = {message.id for message in self._messages_of(tenant_id, contact)}
        downloads = self._database.media_downloads.remove(ids)
        keys, files = self._database.remove_media_of(ids)
        events = self._database.messages.remove(ids)
        jobs = self._database.jobs.remove(ids)
        keys_held = self._database.idempotency.forget_messages(ids)
        conversations = self._database.conversations.remove(tenant_id, contact.identity)
        contacts = self._database.contacts.forget(tenant_id, contact.identity)
        entries, states = self._database.consent.erase(tenant_id, contact.identity)
        recipients = self._database.campaigns.forget(tenant_id, contact.identity)
        counts = {
            "media_downloads": downloads,
            "media": files,
            "status_events": events,
            "dispatch_jobs": jobs,
            "idempotency_keys": keys_held,
            "messages": len(ids),
            "conversations": conversations,
            "contacts": contacts,
            "consent_ledger": entries,
            "consent_states": states,
            "campaign_recipients": recipients,
        }
        opt_out = await self._database.consent.current(tenant_id, contact.identity)
        kept = {"consent_opt_out": 0 if opt_out is None else 1}
        return RemovedData(counts=counts, media_keys=keys, kept=kept)

    async def export(self, tenant_id: UUID, contact: PhoneNumber, max_messages: int) -> ContactRecords:
        newest = sorted(
            self._messages_of(tenant_id, contact), key=lambda m: (m.created_at, m.id), reverse=True
        )[:max_messages]
        exported = sorted(newest, key=lambda m: (m.created_at, m.id))
        ids = {message.id for message in exported}
        conversation = await self._database.conversations.get(tenant_id, contact)
        person = await self._database.contacts.get_many(tenant_id, [contact.identity])
        consent = await self._database.consent.current(tenant_id, contact.identity)
        ledger = [
            entry
            for entry in self._database.consent.ledger()
            if (entry.tenant_id, entry.identity) == (tenant_id, contact.identity)
        ]
        return {
            "contact": [_contact_record(kept) for kept in person.values()],
            "consent": [] if consent is None else [_consent_record(consent)],
            "consent_ledger": [_consent_record(entry) for entry in ledger],
            "conversations": [] if conversation is None else [_conversation_record(conversation)],
            "messages": [_message_record(message) for message in exported],
            "status_events": [
                _record(event, status=event.status.value)
                for event in self._database.messages.status_events()
                if event.message_id in ids
            ],
            "media": [_record(kept) for kept in self._database.media.all() if kept.message_id in ids],
            "campaign_recipients": [
                _record(recipient, state=recipient.state.value)
                for recipient in self._database.campaigns.recipients_of(tenant_id, contact.identity)
            ],
        }

    def _messages_of(self, tenant_id: UUID, contact: PhoneNumber) -> list[Message]:
        return [
            message
            for message in self._database.messages.all()
            if message.tenant_id == tenant_id and message.contact.is_same_contact_as(contact)
        ]


# The export's records as the SQL adapter gives them: the tables' columns, the tenant's id left out.


def _record(row: DataclassInstance, **columns: object) -> dict[str, object]:
    values = {item.name: getattr(row, item.name) for item in fields(row) if item.name != "tenant_id"}
    return {**values, **columns}


def _message_record(message: Message) -> dict[str, object]:
    values: dict[str, object] = {
        "id": message.id,
        **message_values(message),
        "redacted_at": message.redacted_at,
    }
    del values["tenant_id"]
    return values


def _contact_record(contact: Contact) -> dict[str, object]:
    return _record(contact, attributes=dict(contact.attributes), tags=sorted(contact.tags))


def _consent_record(row: ConsentRecord | ConsentChange) -> dict[str, object]:
    return _record(row, state=row.state.value, source=row.source.value)


def _conversation_record(conversation: Conversation) -> dict[str, object]:
    return _record(
        conversation,
        contact_number=conversation.contact.e164,
        contact_identity=conversation.contact.identity,
        sender_number=conversation.sender.e164,
        last_direction=conversation.last_direction.value,
    )


@dataclass(slots=True, eq=False)
class FakeDatabase:
    """The in-memory tables, one fake per repository of ``Repositories``; several units of work (one per
    request, say) can share one database."""

    tenants: FakeTenantRepository = field(default_factory=FakeTenantRepository)
    senders: FakeSenderRepository = field(default_factory=FakeSenderRepository)
    provider_accounts: FakeProviderAccountRepository = field(init=False)
    users: FakeUserRepository = field(default_factory=FakeUserRepository)
    messages: FakeMessageRepository = field(default_factory=FakeMessageRepository)
    conversations: FakeConversationRepository = field(default_factory=FakeConversationRepository)
    idempotency: FakeIdempotencyRepository = field(default_factory=FakeIdempotencyRepository)
    jobs: FakeDispatchQueue = field(init=False)
    webhook_endpoints: FakeWebhookEndpointRepository = field(default_factory=FakeWebhookEndpointRepository)
    webhook_deliveries: FakeWebhookDeliveryQueue = field(default_factory=FakeWebhookDeliveryQueue)
    webhook_events: FakeWebhookOutbox = field(init=False)
    api_keys: FakeApiKeyRepository = field(default_factory=FakeApiKeyRepository)
    audit: FakeAuditLog = field(default_factory=FakeAuditLog)
    sessions: FakeSessionRepository = field(init=False)
    acceptance: FakeMessageAcceptance = field(init=False)
    media: FakeMediaRepository = field(default_factory=FakeMediaRepository)
    media_downloads: FakeMediaDownloadQueue = field(default_factory=FakeMediaDownloadQueue)
    templates: FakeTemplateRepository = field(init=False)
    dashboard: FakeDashboardQueries = field(init=False)
    contacts: FakeContactRepository = field(init=False)
    consent: FakeConsentRepository = field(default_factory=FakeConsentRepository)
    retention: FakeRetentionRepository = field(init=False)
    contact_data: FakeContactDataRepository = field(init=False)
    campaigns: FakeCampaignRepository = field(init=False)

    def __post_init__(self) -> None:
        self.senders.tenants = self.tenants  # whose tenants a sender must belong to
        self.provider_accounts = FakeProviderAccountRepository(self.tenants, self.senders)
        self.acceptance = FakeMessageAcceptance(self)
        self.dashboard = FakeDashboardQueries(self)
        self.retention = FakeRetentionRepository(self)
        self.contact_data = FakeContactDataRepository(self)
        self.sessions = FakeSessionRepository(self.users, self.tenants)
        # The queue reads the senders' pauses.
        self.jobs = FakeDispatchQueue(self.senders, self.messages, self.tenants, self.provider_accounts)
        self.webhook_events = FakeWebhookOutbox(self.webhook_endpoints, self.webhook_deliveries)
        self.webhook_endpoints.on_delete = self.webhook_deliveries.forget_endpoint
        self.templates = FakeTemplateRepository(self.tenants, self.provider_accounts)
        self.provider_accounts.on_remove = self.templates.forget_account
        self.contacts = FakeContactRepository(self.tenants)
        self.campaigns = FakeCampaignRepository(self.tenants, self.messages, self.conversations, self.jobs)

    def remove_media_of(self, message_ids: Collection[UUID]) -> tuple[tuple[str, ...], int]:
        """Drop the media records and pending downloads of messages ``message_ids``: the kept files'
        keys and how many records went (as the SQL retention and erasure do)."""
        self.media_downloads.remove(message_ids)
        gone = self.media.remove(message_ids)
        return tuple(kept.key for kept in gone), len(gone)

    def snapshot(self) -> Restore:
        restores = [
            self.jobs.snapshot(),
            self.idempotency.snapshot(),
            self.tenants.snapshot(),
            self.senders.snapshot(),
            self.provider_accounts.snapshot(),
            self.users.snapshot(),
            self.messages.snapshot(),
            self.conversations.snapshot(),
            self.webhook_endpoints.snapshot(),
            self.webhook_deliveries.snapshot(),
            self.sessions.snapshot(),
            self.api_keys.snapshot(),
            self.audit.snapshot(),
            self.media.snapshot(),
            self.media_downloads.snapshot(),
            self.templates.snapshot(),
            self.contacts.snapshot(),
            self.consent.snapshot(),
            self.retention.snapshot(),
            self.campaigns.snapshot(),
        ]

        def restore() -> None:
            for restore_table in restores:
                restore_table()

        return restore


class FakeUnitOfWork(FakeDatabase):
    """A transaction over a ``FakeDatabase``: leaving the block without ``commit()`` undoes its changes.

    Its repositories are its database's: each field of FakeDatabase is one here too, the same object.
    ``committed`` tells whether any block was committed, ``commits`` how many times. Set ``available`` to
    False to make the database unreachable: entering a block and ``ping()`` then raise StorageUnavailable.
    Units of work sharing a database are not isolated from each other: run their blocks one at a time.
    """

    def __init__(self, database: FakeDatabase | None = None) -> None:
        self.database = database if database is not None else FakeDatabase()
        for repository in fields(FakeDatabase):
            setattr(self, repository.name, getattr(self.database, repository.name))
        self.committed = False
        self.commits = 0
        self.available = True
        self._rollback: Restore | None = None

    @property
    def in_transaction(self) -> bool:
        return self._rollback is not None

    async def __aenter__(self) -> Self:
        if self._rollback is not None:
            raise RuntimeError("this unit of work is in a transaction already")
        self._check_available()
        self._rollback = self.database.snapshot()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._rollback is None:
            raise RuntimeError("leaving a unit of work that was never entered")
        # After a commit the snapshot is the committed state, so this undoes only what came later.
        self._rollback()
        self._rollback = None

    async def commit(self) -> None:
        if self._rollback is None:
            raise RuntimeError("commit() outside an 'async with uow:' block")
        self._rollback = self.database.snapshot()
        self.committed = True
        self.commits += 1

    async def ping(self) -> None:
        self._check_available()

    def _check_available(self) -> None:
        if not self.available:
            raise StorageUnavailable("the database is not reachable")


# --------------------------------------------------------------------------------- outside services


class FakeMessagingProvider:
    """Records every request and answers with ``outcome`` (or raises ``error``).

    By default each message is accepted with a fresh sid (``SM00000001``, ...) and status ``queued``.
    ``on_send`` runs before the answer, to look at the world as the provider sees it. Every kind of
    message can be sent, but those ``cannot_send`` names for a provider (with the reason given).
    """

    def __init__(self, outcome: SendOutcome | None = None, *, error: Exception | None = None) -> None:
        self.outcome = outcome
        self.error = error
        self.cannot_send: dict[tuple[ProviderName, MessageKind], str] = {}
        self.requests: list[OutboundRequest] = []
        self.on_send: Callable[[OutboundRequest], Awaitable[None]] | None = None
        self.lookups: list[OutboundRequest] = []
        self.lookup_result = ProviderLookup(result=LookupResult.NOT_FOUND)
        self.read_receipts: list[tuple[OutboundRequest, bool]] = []
        self.read_receipt = ReadReceipt(ReadReceiptOutcome.MARKED)
        self._sids = itertools.count(1)

    def will_return(self, outcome: SendOutcome) -> None:
        self.outcome, self.error = outcome, None

    def will_raise(self, error: Exception) -> None:
        self.outcome, self.error = None, error

    def unsupported(self, provider: ProviderName, content: MessageContent) -> str | None:
        return self.cannot_send.get((provider, content.kind))

    async def mark_read(self, request: OutboundRequest, *, typing_indicator: bool) -> ReadReceipt:
        self.read_receipts.append((request, typing_indicator))
        return self.read_receipt

    async def lookup(self, request: OutboundRequest) -> ProviderLookup:
        self.lookups.append(request)
        return self.lookup_result

    async def send(self, request: OutboundRequest) -> SendOutcome:
        self.requests.append(request)
        if self.on_send is not None:
            await self.on_send(request)
        if self.error is not None:
            raise self.error
        if self.outcome is not None:
            return self.outcome
        return SendOutcome(
            kind=OutcomeKind.ACCEPTED, provider_sid=f"SM{next(self._sids):08d}", status=MessageStatus.QUEUED
        )


class FakeSleep:
    """Stands in for ``asyncio.sleep``: remembers each pause and waits for none."""

    def __init__(self) -> None:
        self.pauses: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)


class FakeWebhookSender:
    """Records every request and answers with the next scripted response (then ``default``: a 200)."""

    def __init__(self) -> None:
        self.requests: list[WebhookRequest] = []
        self.responses: list[WebhookResponse] = []
        self.default = WebhookResponse(duration_ms=3, status_code=200, body_excerpt="ok")

    def will_answer(self, *responses: WebhookResponse) -> None:
        self.responses.extend(responses)

    async def send(self, request: WebhookRequest) -> WebhookResponse:
        self.requests.append(request)
        return self.responses.pop(0) if self.responses else self.default


class FakeWebhookUrlGuard:
    """Refuses URLs whose host is in ``refused``; records every URL checked."""

    def __init__(self, *refused: str) -> None:
        self.refused = set(refused)
        self.checked: list[str] = []

    async def check(self, url: str) -> None:
        self.checked.append(url)
        host = urlsplit(url).hostname or ""
        if host in self.refused:
            raise WebhookUrlRefused(
                f"{host} resolves to 127.0.0.1 (loopback): webhooks are delivered to public addresses only"
            )


class FakePasswordHasher:
    """Deterministic hashes: ``fake-v<version>$<password>``.

    Raising ``version`` stands for stronger hashing parameters: hashes of an older version still verify,
    but ``needs_rehash`` says they should be replaced.
    """

    def __init__(self, version: int = 1) -> None:
        self.version = version
        self.verified_hashes: list[str] = []

    async def hash(self, password: str) -> str:
        return f"fake-v{self.version}${password}"

    async def verify(self, password_hash: str, password: str) -> bool:
        self.verified_hashes.append(password_hash)
        # The real hasher works in a thread: other requests run meanwhile, and so they do here.
        await asyncio.sleep(0)
        scheme, separator, stored_password = password_hash.partition("$")
        return separator == "$" and scheme.startswith("fake-v") and stored_password == password

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(f"fake-v{self.version}$")


class FakeTokenService:
    """Issues ``token-1``, ``token-2``, ... and verifies only tokens it issued and did not revoke.

    Like a signed token, a fake token keeps the claims it was issued with: whether they still grant
    access is for the session check to say.
    """

    def __init__(self, expires_in: int = 900) -> None:
        self.expires_in = expires_in
        self.issued: dict[str, AccessClaims] = {}
        self.tickets: dict[str, AccessClaims] = {}
        self._numbers = itertools.count(1)

    def issue(self, user: User, session_id: UUID) -> IssuedToken:
        number = next(self._numbers)
        token = f"token-{number}"
        self.issued[token] = AccessClaims(
            user_id=user.id,
            tenant_id=user.tenant_id,
            role=user.role,
            session_id=session_id,
            token_id=f"jti-{number}",
        )
        return IssuedToken(access_token=token, expires_in=self.expires_in)

    def verify(self, token: str) -> AccessClaims:
        claims = self.issued.get(token)
        if claims is None:
            raise InvalidToken("the access token is not valid")
        return claims

    def issue_browser_ticket(self, user: User, session_id: UUID, expires_at: datetime) -> str:
        number = next(self._numbers)
        ticket = f"ticket-{number}"
        self.tickets[ticket] = AccessClaims(
            user_id=user.id,
            tenant_id=user.tenant_id,
            role=user.role,
            session_id=session_id,
            token_id=f"jti-{number}",
        )
        return ticket

    def verify_browser_ticket(self, ticket: str) -> AccessClaims:
        claims = self.tickets.get(ticket)
        if claims is None:
            raise InvalidToken("the ticket is not valid")
        return claims

    def revoke(self, token: str) -> None:
        self.issued.pop(token, None)


class FakeRateLimiter:
    """A moving window on a clock: a hit counts for ``limit.per_seconds``.

    A ``hit`` beyond the limit is refused and not counted; ``give_back`` uncounts the hit its
    reservation names (if it is still in the window). ``hits`` lists every key counted (and not given
    back), in order.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._moments: dict[str, list[tuple[int, datetime]]] = {}
        self._counted = 0
        self.hits: list[str] = []

    async def hit(self, key: str, limit: RateLimit) -> RateLimitState:
        moments = self._in_window(key, limit)
        allowed = len(moments) < limit.amount
        reservation = None
        if allowed:
            self._counted += 1
            moments.append((self._counted, self._clock.now()))
            self.hits.append(key)
            reservation = Reservation(key=key, limit=limit, window=self._counted, shared=False)
        return self._state(moments, limit, reservation)

    async def give_back(self, reservation: Reservation) -> None:
        moments = self._in_window(reservation.key, reservation.limit)
        for index, (number, _) in enumerate(moments):
            if number == reservation.window:
                del moments[index]
                key = reservation.key
                del self.hits[len(self.hits) - 1 - self.hits[::-1].index(key)]
                return

    def _in_window(self, key: str, limit: RateLimit) -> list[tuple[int, datetime]]:
        window_start = self._clock.now() - timedelta(seconds=limit.per_seconds)
        moments = [(number, moment) for number, moment in self._moments.get(key, []) if moment > window_start]
        self._moments[key] = moments
        return moments

    def _state(
        self, moments: list[tuple[int, datetime]], limit: RateLimit, reservation: Reservation | None
    ) -> RateLimitState:
        oldest = moments[0][1] if moments else self._clock.now()
        frees_in = oldest + timedelta(seconds=limit.per_seconds) - self._clock.now()
        return RateLimitState(
            allowed=reservation is not None,
            limit=limit,
            remaining=max(0, limit.amount - len(moments)),
            reset_after_seconds=max(1, math.ceil(frees_in.total_seconds())),
            reservation=reservation,
        )


# ------------------------------------------------------------------------------------------- builders


@dataclass(frozen=True, slots=True)
class TenantAccount:
    """A tenant ready to send: its default sender and a user who can log in with ``password``."""

    tenant: Tenant
    sender: Sender
    user: User
    password: str


async def provision_account(
    uow: FakeUnitOfWork,
    hasher: FakePasswordHasher,
    clock: FixedClock,
    *,
    name: str = "Acme",
    sender_number: str = "+14155238886",
    username: str = "alice",
    password: str = "correct horse battery",  # noqa: S107 - a test account's password
    role: Role = Role.TENANT_ADMIN,
    provider: ProviderName = ProviderName.SANDBOX,
    session_window_check: bool = True,
) -> TenantAccount:
    """Write a tenant, its default sender and a user straight into the fake database.

    With ``session_window_check=False`` (sandbox tenants only) free-form messages go to anyone, as for
    the demo tenant; otherwise a contact must have written within 24 hours (see ``open_window``).
    """
    now = clock.now()
    tenant = Tenant(name=name, provider=provider, created_at=now, session_window_check=session_window_check)
    sender = Sender(
        tenant_id=tenant.id, phone_number=PhoneNumber.parse(sender_number), created_at=now, is_default=True
    )
    hashed = await hasher.hash(password)
    user = User(tenant_id=tenant.id, username=username, password_hash=hashed, created_at=now, role=role)
    await uow.tenants.add(tenant)
    await uow.senders.add(sender)
    await uow.users.add(user)
    return TenantAccount(tenant=tenant, sender=sender, user=user, password=password)


async def open_window(
    uow: FakeUnitOfWork, account: TenantAccount, contact: str | PhoneNumber, at: datetime, body: str = "hi"
) -> Message:
    """Record an inbound message from ``contact`` at ``at``: its 24-hour session window opens then."""
    message = Message.new_inbound(
        tenant_id=account.tenant.id,
        sender=account.sender.phone_number,
        contact=contact if isinstance(contact, PhoneNumber) else PhoneNumber.parse(contact),
        content=MessageContent(body=body),
        provider_sid=f"SM{uuid4().hex}",
        now=at,
    )
    await uow.messages.add(message)
    await uow.conversations.record_message(message)
    return message


if TYPE_CHECKING:
    # mypy --strict proves here that each fake can stand in for its port.
    def _fakes_implement_the_ports(
        uow: FakeUnitOfWork,
        provider: FakeMessagingProvider,
        hasher: FakePasswordHasher,
        tokens: FakeTokenService,
        clock: FixedClock,
        limiter: FakeRateLimiter,
    ) -> tuple[UnitOfWork, MessagingProvider, PasswordHasher, TokenService, Clock, RateLimiter]:
        return uow, provider, hasher, tokens, clock, limiter

    def _webhook_fakes_implement_the_ports(
        sender: FakeWebhookSender, guard: FakeWebhookUrlGuard
    ) -> tuple[WebhookSender, WebhookUrlGuard]:
        return sender, guard


# ------------------------------------------------------------------------------------------- metrics


@dataclass
class FakeMetrics:
    """Records what the application reports, as (method, arguments) pairs, in order."""

    events: list[tuple[str, tuple[object, ...]]] = field(default_factory=list)

    def named(self, method: str) -> list[tuple[object, ...]]:
        return [arguments for name, arguments in self.events if name == method]

    def message_accepted(self, provider: str, tenant_id: UUID) -> None:
        self.events.append(("message_accepted", (str(provider), tenant_id)))

    def message_status(self, provider: str, status: MessageStatus, tenant_id: UUID) -> None:
        self.events.append(("message_status", (str(provider), status, tenant_id)))

    def provider_call(self, provider: str, operation: str, outcome: str, seconds: float) -> None:
        assert seconds >= 0
        self.events.append(("provider_call", (str(provider), operation, outcome)))

    def rate_limited(self, scope: str) -> None:
        self.events.append(("rate_limited", (scope,)))

    def webhook_delivery(self, outcome: str, tenant_id: UUID) -> None:
        self.events.append(("webhook_delivery", (outcome, tenant_id)))

    def dispatch_queue(self, depth: int | None, oldest_age_seconds: float | None) -> None:
        self.events.append(("dispatch_queue", (depth, oldest_age_seconds)))


if TYPE_CHECKING:
    from application.ports.metrics import Metrics

    def _fake_metrics_implement_the_port(metrics: FakeMetrics) -> Metrics:
        return metrics
