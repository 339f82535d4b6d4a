"""The ports: what the use cases need from the outside world, as Protocols the adapters implement."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self, runtime_checkable
from uuid import UUID

from domain.conversations import Conversation
from domain.messages import Direction, Message, MessageStatus, StatusEvent
from domain.phone import PhoneNumber
from domain.tenancy import Role, Sender, Tenant, TwilioCredentials, User


@dataclass(frozen=True, slots=True)
class HistoryPosition:
    """Where a page of history ends: the last message's sort key."""

    created_at: datetime
    message_id: UUID


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    tenant_id: UUID
    limit: int
    after: HistoryPosition | None = None
    direction: Direction | None = None
    status: MessageStatus | None = None
    contact: PhoneNumber | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class ConversationPosition:
    """Where a page of conversations ends: the last one's sort key."""

    last_message_at: datetime
    conversation_id: UUID


@dataclass(frozen=True, slots=True)
class ConversationQuery:
    tenant_id: UUID
    limit: int
    after: ConversationPosition | None = None


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A delivery status reported by the provider for one of our messages."""

    provider_sid: str
    status: MessageStatus
    error_code: int | None = None
    error_message: str | None = None


class TenantRepository(Protocol):
    async def add(self, tenant: Tenant) -> None: ...
    async def get(self, tenant_id: UUID) -> Tenant | None: ...
    async def get_by_name(self, name: str) -> Tenant | None: ...
    async def count(self) -> int: ...
    async def set_twilio_credentials(self, tenant_id: UUID, credentials: TwilioCredentials) -> None: ...
    async def get_twilio_credentials(self, tenant_id: UUID) -> TwilioCredentials | None: ...
    async def reseal_credentials(self) -> int:
        """Re-encrypt every tenant's stored credentials under the newest key; return how many changed."""
        ...


class SenderRepository(Protocol):
    async def add(self, sender: Sender) -> None: ...
    async def get_default(self, tenant_id: UUID) -> Sender | None: ...
    async def get_by_number(self, tenant_id: UUID, phone_number: PhoneNumber) -> Sender | None: ...
    async def list_for_tenant(self, tenant_id: UUID) -> list[Sender]: ...
    async def pause(self, tenant_id: UUID, phone_number: PhoneNumber, until: datetime) -> None:
        """Claim none of this sender's jobs before ``until`` (WhatsApp's messaging limit was hit)."""
        ...

    async def find_all_by_number(self, phone_number: PhoneNumber) -> list[Sender]:
        """Every tenant's sender with this number (Twilio's shared sandbox number serves many)."""
        ...


class UserRepository(Protocol):
    async def add(self, user: User) -> None: ...
    async def get_by_username(self, username: str) -> User | None: ...
    async def update_password_hash(self, user_id: UUID, password_hash: str) -> None: ...


class MessageRepository(Protocol):
    async def add(self, message: Message) -> None: ...
    async def update(self, message: Message) -> None: ...
    async def get(self, tenant_id: UUID, message_id: UUID) -> Message | None: ...
    async def get_by_provider_sid(self, provider_sid: str) -> Message | None:
        """Provider ids are unique across tenants: the message a provider callback is about."""
        ...

    async def attach_provider_sid(self, tenant_id: UUID, message_id: UUID, provider_sid: str) -> bool:
        """Record the provider's id on a message that has none yet; False if it had one already."""
        ...

    async def list_page(self, query: HistoryQuery) -> list[Message]: ...
    async def list_status_events(self, tenant_id: UUID, message_id: UUID) -> list[StatusEvent]:
        """The message's status reports in the order they were received."""
        ...

    async def advance_status(self, change: StatusChange, now: datetime) -> Message | None:
        """Apply ``change`` only if it moves the message forward; return the message if it did."""
        ...

    async def record_dispatch(self, message: Message) -> bool:
        """Store the provider's answer (sid, status, error) on a message still ``accepted``.

        False if a status callback got there first: the message has moved on and is left as it is.
        """
        ...


class ConversationRepository(Protocol):
    async def record_message(self, message: Message) -> None:
        """Make ``message`` the conversation's latest (creating the conversation on its first message);
        an inbound message also opens the session window. An older message never overrides a newer one."""
        ...

    async def get(self, tenant_id: UUID, contact: PhoneNumber) -> Conversation | None: ...
    async def list_page(self, query: ConversationQuery) -> list[Conversation]:
        """Newest activity first, keyset on (last_message_at, id) descending, ``after`` exclusive."""
        ...


class JobPhase(enum.StrEnum):
    SEND = "send"  # call the provider
    RECONCILE = "reconcile"  # the last call's outcome is unknown: find out before sending again


@dataclass(frozen=True, slots=True)
class DispatchJob:
    """The durable promise to get one accepted message to its provider."""

    message_id: UUID
    tenant_id: UUID
    sender: PhoneNumber
    available_at: datetime
    created_at: datetime
    attempts: int = 0
    phase: JobPhase = JobPhase.SEND
    last_error: str | None = None


class DispatchQueue(Protocol):
    """Jobs are leased, not locked: a worker that dies loses its lease and the job becomes due again."""

    async def enqueue(self, job: DispatchJob) -> None: ...
    async def claim_due(
        self, *, owner: str, now: datetime, lease_seconds: float, limit: int
    ) -> list[DispatchJob]:
        """Lease up to ``limit`` due jobs whose sender is not paused, oldest first, skipping leased ones."""
        ...

    async def claim(
        self, message_id: UUID, *, owner: str, now: datetime, lease_seconds: float
    ) -> DispatchJob | None:
        """Lease this message's job if it is due and free."""
        ...

    async def reschedule(
        self,
        message_id: UUID,
        *,
        owner: str,
        attempts: int,
        phase: JobPhase,
        available_at: datetime,
        last_error: str | None,
    ) -> bool:
        """Release the lease and set when the job is due next; False if ``owner`` no longer holds it."""
        ...

    async def complete(self, message_id: UUID, *, owner: str | None) -> bool:
        """Remove the job (``owner`` None: whoever holds it); False if ``owner`` no longer holds it."""
        ...

    async def depth(self, now: datetime) -> tuple[int, datetime | None]:
        """How many jobs wait, and when the oldest was created."""
        ...


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    tenant_id: UUID
    key: str
    request_fingerprint: str
    created_at: datetime
    expires_at: datetime
    message_id: UUID | None = None
    response_status: int | None = None  # None while the first request is still running


class IdempotencyRepository(Protocol):
    async def add(self, record: IdempotencyRecord) -> None:
        """Raise AlreadyExists if the tenant used this key already (and it has not expired)."""
        ...

    async def get(self, tenant_id: UUID, key: str, now: datetime) -> IdempotencyRecord | None: ...
    async def complete(self, tenant_id: UUID, key: str, response_status: int) -> None: ...
    async def purge_expired(self, now: datetime) -> int: ...


class UnitOfWork(Protocol):
    """One database transaction: rolled back on leaving the block unless ``commit()`` was called."""

    @property
    def tenants(self) -> TenantRepository: ...
    @property
    def senders(self) -> SenderRepository: ...
    @property
    def users(self) -> UserRepository: ...
    @property
    def messages(self) -> MessageRepository: ...
    @property
    def conversations(self) -> ConversationRepository: ...
    @property
    def jobs(self) -> DispatchQueue: ...
    @property
    def idempotency(self) -> IdempotencyRepository: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    async def commit(self) -> None: ...
    async def ping(self) -> None:
        """Prove the database answers; raise StorageUnavailable otherwise."""
        ...


class OutcomeKind(enum.StrEnum):
    ACCEPTED = "accepted"  # the provider took the message and gave it an id
    REJECTED = "rejected"  # permanent: sending it again would fail the same way
    RETRYABLE = "retryable"  # the provider certainly did not take it; safe to try again
    UNKNOWN = "unknown"  # the request may have been processed; never resend blindly


@dataclass(frozen=True, slots=True)
class SendOutcome:
    kind: OutcomeKind
    provider_sid: str | None = None
    status: MessageStatus | None = None
    error_code: int | None = None
    reason: str | None = None
    retry_after_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class OutboundRequest:
    tenant: Tenant
    message: Message
    credentials: TwilioCredentials | None


class LookupResult(enum.StrEnum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class ProviderLookup:
    result: LookupResult
    provider_sid: str | None = None
    status: MessageStatus | None = None


@runtime_checkable
class MessagingProvider(Protocol):
    async def send(self, request: OutboundRequest) -> SendOutcome: ...
    async def lookup(self, request: OutboundRequest) -> ProviderLookup:
        """Find a message the provider may have created although we never heard its answer."""
        ...


StatusListener = Callable[[StatusChange], Awaitable[None]]


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str: ...
    async def verify(self, password_hash: str, password: str) -> bool: ...
    def needs_rehash(self, password_hash: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as proven by a token."""

    user_id: UUID
    tenant_id: UUID
    role: Role


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int


@runtime_checkable
class TokenService(Protocol):
    def issue(self, user: User) -> IssuedToken: ...
    def verify(self, token: str) -> Principal:
        """Return the principal; raise InvalidToken for anything but a valid, current token."""
        ...


class WebhookSignatureVerifier(Protocol):
    def is_valid(
        self, *, url: str, params: Mapping[str, Sequence[str]], signature: str, auth_token: str
    ) -> bool:
        """Whether ``signature`` is the provider's signature of this request, made with ``auth_token``."""
        ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware in UTC."""
        ...


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``amount`` events per ``per_seconds``."""

    amount: int
    per_seconds: int


@dataclass(frozen=True, slots=True)
class RateLimitState:
    allowed: bool
    limit: RateLimit
    remaining: int
    reset_after_seconds: int


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: RateLimit) -> RateLimitState:
        """Count one event under ``key``; ``allowed`` is False once the limit is exceeded."""
        ...

    async def peek(self, key: str, limit: RateLimit) -> RateLimitState:
        """The state of ``key`` without counting anything."""
        ...
