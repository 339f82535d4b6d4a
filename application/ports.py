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


class ConversationRepository(Protocol):
    async def record_message(self, message: Message) -> None:
        """Make ``message`` the conversation's latest (creating the conversation on its first message);
        an inbound message also opens the session window. An older message never overrides a newer one."""
        ...

    async def get(self, tenant_id: UUID, contact: PhoneNumber) -> Conversation | None: ...
    async def list_page(self, query: ConversationQuery) -> list[Conversation]:
        """Newest activity first, keyset on (last_message_at, id) descending, ``after`` exclusive."""
        ...


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


@runtime_checkable
class MessagingProvider(Protocol):
    async def send(self, request: OutboundRequest) -> SendOutcome: ...


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
