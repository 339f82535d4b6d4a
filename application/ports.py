"""The ports: what the use cases need from the outside world, as Protocols the adapters implement."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import NamedTuple, Protocol, Self, runtime_checkable
from uuid import UUID

from domain.administration.audit import AuditAction, AuditEntry
from domain.administration.tenancy import Role, Sender, Tenant, TwilioCredentials, User
from domain.identity.credentials import ApiKey, AuthSession, RefreshToken, RevocationReason
from domain.messaging.conversations import Conversation
from domain.messaging.messages import Direction, Message, MessageStatus, StatusEvent
from domain.phone import PhoneNumber
from domain.tenant_webhooks.model import (
    DeliveryAttempt,
    DeliveryState,
    SigningSecrets,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)


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


class MessageView(NamedTuple):
    """A message as a history page shows it: the read model of the list, straight from storage.

    Not a domain ``Message``: a page has up to 100 of them, and building entities (validated content,
    phone numbers) only to flatten them again cost more CPU than the query. A NamedTuple: immutable
    and cheap to build from a row.
    """

    id: UUID
    direction: Direction
    status: MessageStatus
    from_number: str
    to_number: str
    body: str
    media_urls: list[str]
    content_sid: str | None
    content_variables: dict[str, str] | None
    profile_name: str | None
    provider_sid: str | None
    error_code: int | None
    error_message: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, message: Message) -> MessageView:
        template = message.content.template
        return cls(
            id=message.id,
            direction=message.direction,
            status=message.status,
            from_number=message.from_number.e164,
            to_number=message.to_number.e164,
            body=message.content.body,
            media_urls=list(message.content.media_urls),
            content_sid=template.content_sid if template else None,
            content_variables=template.variables_dict if template else None,
            profile_name=message.profile_name,
            provider_sid=message.provider_sid,
            error_code=message.error_code,
            error_message=message.error_message,
            created_at=message.created_at,
            updated_at=message.updated_at,
        )


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


@dataclass(frozen=True, slots=True)
class TwilioSigner:
    """Who signs a sender's Twilio webhooks: its number, its tenant's Twilio account and auth token."""

    tenant_id: UUID
    phone_number: PhoneNumber
    account_sid: str
    auth_token: str


class TenantRepository(Protocol):
    async def add(self, tenant: Tenant) -> None: ...
    async def get(self, tenant_id: UUID) -> Tenant | None: ...
    async def get_by_name(self, name: str) -> Tenant | None: ...
    async def count(self) -> int: ...
    async def set_twilio_credentials(self, tenant_id: UUID, credentials: TwilioCredentials) -> None: ...
    async def get_twilio_credentials(self, tenant_id: UUID) -> TwilioCredentials | None: ...
    async def update(self, tenant: Tenant) -> None:
        """Store the tenant's name, provider, status and session window check; NotFound if it is gone."""
        ...

    async def list_page(self, limit: int, after_name: str | None = None) -> list[Tenant]:
        """Every tenant (the platform tenant included), by name; ``after_name`` exclusive."""
        ...

    async def reseal_credentials(self) -> int:
        """Re-encrypt every tenant's stored credentials under the newest key; return how many changed."""
        ...

    async def twilio_signers(self) -> list[TwilioSigner]:
        """Every sender of every tenant that has Twilio credentials, with them (one query). A tenant
        whose credentials do not open is left out (and logged)."""
        ...


class SenderRepository(Protocol):
    async def add(self, sender: Sender) -> None: ...
    async def get_default(self, tenant_id: UUID) -> Sender | None: ...
    async def get_by_number(self, tenant_id: UUID, phone_number: PhoneNumber) -> Sender | None:
        """The tenant's sender of this number, in whichever of its forms it was added."""
        ...

    async def list_for_tenant(self, tenant_id: UUID) -> list[Sender]: ...
    async def pause(self, tenant_id: UUID, phone_number: PhoneNumber, until: datetime) -> None:
        """Claim none of this sender's jobs before ``until`` (WhatsApp's messaging limit was hit)."""
        ...

    async def find_all_by_number(self, phone_number: PhoneNumber) -> list[Sender]:
        """Every tenant's sender with this number (Twilio's shared sandbox number serves many)."""
        ...

    async def get(self, tenant_id: UUID, sender_id: UUID) -> Sender | None: ...
    async def update_label(self, tenant_id: UUID, sender_id: UUID, label: str) -> None: ...
    async def make_default(self, tenant_id: UUID, sender_id: UUID) -> None:
        """Make this sender the tenant's only default one."""
        ...

    async def remove(self, tenant_id: UUID, sender_id: UUID) -> bool:
        """Delete the sender; False if the tenant has no such sender."""
        ...


class UserRepository(Protocol):
    async def add(self, user: User) -> None: ...
    async def get_by_username(self, username: str) -> User | None: ...
    async def update_password_hash(self, user_id: UUID, password_hash: str) -> None: ...
    async def get_in_tenant(self, tenant_id: UUID, user_id: UUID) -> User | None: ...
    async def list_for_tenant(self, tenant_id: UUID) -> list[User]:
        """By username."""
        ...

    async def update(self, user: User) -> None:
        """Store the user's role, active flag and password hash; NotFound if it is not in its tenant."""
        ...


@dataclass(frozen=True, slots=True)
class SessionAccess:
    """A session with its user and the user's tenant: what each request's token is checked against."""

    session: AuthSession
    user: User
    tenant: Tenant


class AccessCache(Protocol):
    """Session checks this process made recently, kept only while nothing that could revoke them changed.

    ``version()`` is None while the cache cannot be trusted (it is not told of changes right now):
    then nothing is served from it. A check read from the database is kept with ``put`` only under the
    version read before the query, so a revocation that lands while the query runs is not undone by
    storing what the query saw.
    """

    def version(self) -> int | None: ...

    def get(self, session_id: UUID) -> SessionAccess | None: ...

    def put(self, session_id: UUID, access: SessionAccess, version: int) -> None: ...


class NoAccessCache:
    """Keeps nothing: every request's session is checked in the database."""

    def version(self) -> int | None:
        return None

    def get(self, session_id: UUID) -> SessionAccess | None:
        return None

    def put(self, session_id: UUID, access: SessionAccess, version: int) -> None:
        return None


NO_ACCESS_CACHE = NoAccessCache()


class SessionRepository(Protocol):
    """Login sessions and their refresh tokens (stored by hash only)."""

    async def add(self, session: AuthSession) -> None: ...
    async def get_access(self, session_id: UUID) -> SessionAccess | None:
        """The session, its user and its tenant in one indexed query (run on every request)."""
        ...

    async def revoke(self, session_id: UUID, now: datetime, reason: RevocationReason) -> None: ...
    async def revoke_for_user(self, user_id: UUID, now: datetime, reason: RevocationReason) -> int:
        """End every live session of the user; return how many."""
        ...

    async def revoke_for_tenant(self, tenant_id: UUID, now: datetime, reason: RevocationReason) -> int: ...
    async def add_refresh_token(self, token: RefreshToken) -> None: ...
    async def get_refresh_token(self, token_hash: str) -> RefreshToken | None: ...
    async def use_refresh_token(self, token_hash: str, now: datetime) -> bool:
        """Mark the token used; False if it was used already (one conditional UPDATE: race-safe)."""
        ...

    async def purge_expired(self, now: datetime) -> int:
        """Delete sessions (with their refresh tokens) that expired before ``now``; return how many."""
        ...


class ApiKeyRepository(Protocol):
    async def add(self, key: ApiKey) -> None: ...
    async def get_by_prefix(self, prefix: str) -> ApiKey | None:
        """Any tenant's key with this prefix (unique, indexed): how a presented key is found."""
        ...

    async def get(self, tenant_id: UUID, key_id: UUID) -> ApiKey | None: ...
    async def list_for_tenant(self, tenant_id: UUID) -> list[ApiKey]:
        """Oldest first, revoked ones included."""
        ...

    async def revoke(self, tenant_id: UUID, key_id: UUID, now: datetime) -> bool:
        """False if the tenant has no such key or it was revoked already."""
        ...

    async def record_use(self, key_id: UUID, now: datetime) -> None:
        """Set ``last_used_at``."""
        ...


@dataclass(frozen=True, slots=True)
class AuditPosition:
    """Where a page of the audit trail ends: the last entry's sort key."""

    occurred_at: datetime
    entry_id: UUID


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """A page of the audit trail, newest first, keyset on (occurred_at, id), ``after`` exclusive.

    ``tenant_id`` None: every tenant's entries, and those of no tenant (the platform admins' view).
    """

    limit: int
    tenant_id: UUID | None
    after: AuditPosition | None = None
    action: AuditAction | None = None
    actor_id: UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


class AuditLog(Protocol):
    """The audit trail: appended to in the transaction of the action it records, never changed."""

    async def record(self, entry: AuditEntry) -> None: ...
    async def list_page(self, query: AuditQuery) -> list[AuditEntry]: ...
    async def purge_older_than(self, before: datetime) -> int:
        """Delete the entries that occurred before ``before`` — but none younger than the domain's
        ``MIN_RETENTION``, whatever ``before`` says; return how many."""
        ...


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
    async def list_views(self, query: HistoryQuery) -> list[MessageView]:
        """The page ``list_page`` returns, as the read model a history response needs."""
        ...

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

    @classmethod
    def due_now(cls, message: Message, now: datetime) -> DispatchJob:
        """The job for a message just accepted (or accepted again): due at once."""
        return cls(
            message_id=message.id,
            tenant_id=message.tenant_id,
            sender=message.sender,
            available_at=now,
            created_at=now,
        )


@dataclass(frozen=True, slots=True)
class LeasedAttempt:
    """What one attempt at a leased job needs, read as its lease is renewed; None where missing."""

    message: Message | None
    tenant: Tenant | None
    credentials: TwilioCredentials | None  # sealed at rest, opened for the provider call


class DispatchCompletion(enum.Enum):
    """How completing a job with its message's outcome went."""

    LEASE_LOST = "lease_lost"  # another worker holds the job now: nothing was written
    RECORDED = "recorded"  # the job is gone and the message moved from accepted to its outcome
    # The job is gone; the message had been settled elsewhere and kept its status (its provider SID
    # was attached if it had none).
    SETTLED_ELSEWHERE = "settled_elsewhere"


class DispatchQueue(Protocol):
    """Jobs are leased, not locked: a worker that dies loses its lease and the job becomes due again."""

    async def enqueue(self, job: DispatchJob) -> None: ...
    async def claim_due(
        self,
        *,
        owner: str,
        now: datetime,
        lease_seconds: float,
        limit: int,
        skip_senders: Collection[PhoneNumber] = (),
        skip_tenants: Collection[UUID] = (),
    ) -> list[DispatchJob]:
        """Lease up to ``limit`` due jobs whose sender is not paused, oldest first, skipping leased ones.

        Jobs of ``skip_senders`` and ``skip_tenants`` stay queued: the claimer could not start them soon
        (their sender's rate or their tenant's in-flight cap is used up), and holding them would keep
        other tenants' jobs waiting behind them.

        A job whose lease ran out comes back in the ``RECONCILE`` phase: its owner vanished mid-attempt
        and may have reached the provider.
        """
        ...

    async def claim(
        self, message_id: UUID, *, owner: str, now: datetime, lease_seconds: float
    ) -> DispatchJob | None:
        """Lease this message's job if it is due and free."""
        ...

    async def extend_lease_and_load(
        self, message_id: UUID, tenant_id: UUID, *, owner: str, until: datetime
    ) -> LeasedAttempt | None:
        """Keep the lease until ``until``, and read the message, its tenant and the tenant's Twilio
        credentials in the same step; None if ``owner`` no longer holds the lease (it must not send,
        and nothing is read)."""
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

    async def complete_dispatch(self, message: Message, *, owner: str) -> DispatchCompletion:
        """Remove the message's job and record its outcome (the provider's answer: sid, status, error)
        together, only if ``owner`` still holds the lease. The outcome is written on a message still
        ``accepted``; one that a status callback moved on keeps its status, and gets the SID if it had
        none (``SETTLED_ELSEWHERE``).

        Written in the caller's transaction, so a crash leaves both or neither.
        """
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


class MessageAcceptance(Protocol):
    """What accepting an outbound message reads and writes, in as few round trips as the database allows."""

    async def sending_profile(
        self, tenant_id: UUID, sender_number: PhoneNumber | None
    ) -> tuple[Tenant, Sender | None] | None:
        """The tenant and the sender it would send from: ``sender_number`` if it is one of the tenant's,
        its default sender otherwise (None if there is no such sender); None if there is no tenant."""
        ...

    async def add(self, message: Message, job: DispatchJob, idempotency: IdempotencyRecord | None) -> None:
        """Store a new outbound message, make it its conversation's latest, queue its dispatch job and
        hold its idempotency key, all in the caller's transaction. Raise AlreadyExists if the tenant
        holds the key already (unexpired): the caller then rolls back, and nothing was stored."""
        ...


@dataclass(frozen=True, slots=True)
class DeliveryQuery:
    """A page of one endpoint's deliveries, newest first; ``after`` is the last id of the page before."""

    tenant_id: UUID
    endpoint_id: UUID
    limit: int
    after: str | None = None
    state: DeliveryState | None = None


class WebhookEndpointRepository(Protocol):
    """A tenant's webhook endpoints; their signing secrets are stored sealed and read only to sign."""

    async def add(self, endpoint: WebhookEndpoint, secret: str, *, at_most: int) -> bool:
        """Store the endpoint unless its tenant has ``at_most`` already; whether it was stored.

        Concurrent adds for one tenant never take it past ``at_most``."""
        ...

    async def get(self, tenant_id: UUID, endpoint_id: UUID) -> WebhookEndpoint | None: ...
    async def list_for_tenant(self, tenant_id: UUID) -> list[WebhookEndpoint]:
        """Oldest first."""
        ...

    async def update(self, endpoint: WebhookEndpoint) -> None:
        """Store url, events, description, enabled and disabled_reason; NotFound if there is no such one."""
        ...

    async def delete(self, tenant_id: UUID, endpoint_id: UUID) -> bool:
        """Remove the endpoint with its deliveries; False if the tenant has no such endpoint."""
        ...

    async def rotate_secret(
        self, tenant_id: UUID, endpoint_id: UUID, new_secret: str, previous_expires_at: datetime
    ) -> None:
        """Make ``new_secret`` current; the current one stays valid until ``previous_expires_at``."""
        ...

    async def signing_secrets(self, tenant_id: UUID, endpoint_id: UUID) -> SigningSecrets | None: ...
    async def reseal_secrets(self) -> int:
        """Re-encrypt every endpoint's signing secrets under the newest key; return how many changed."""
        ...


class WebhookOutbox(Protocol):
    """Events for tenants' webhooks, written in the transaction of the change that caused them."""

    async def record(self, tenant_id: UUID, event_type: WebhookEventType, payload: str, now: datetime) -> int:
        """Queue one delivery of ``payload`` to each of the tenant's enabled endpoints subscribed to
        ``event_type``, due at once; return how many."""
        ...


class WebhookDeliveryQueue(Protocol):
    """Deliveries are leased like dispatch jobs: a worker that dies loses its lease, not the delivery."""

    async def claim_due(
        self, *, owner: str, now: datetime, lease_seconds: float, limit: int
    ) -> list[WebhookDelivery]:
        """Lease up to ``limit`` pending deliveries that are due, oldest due first, skipping leased ones."""
        ...

    async def settle(self, delivery: WebhookDelivery, attempt: DeliveryAttempt | None, *, owner: str) -> bool:
        """Store ``delivery``'s new state (and ``attempt`` in its log) and release the lease; False if
        ``owner`` no longer holds it (then nothing is stored)."""
        ...

    async def get(self, tenant_id: UUID, delivery_id: str) -> WebhookDelivery | None: ...
    async def list_page(self, query: DeliveryQuery) -> list[WebhookDelivery]: ...
    async def list_attempts(
        self, tenant_id: UUID, delivery_ids: Sequence[str]
    ) -> dict[str, list[DeliveryAttempt]]:
        """Each delivery's attempts, oldest first (deliveries without attempts are left out)."""
        ...

    async def replay(self, tenant_id: UUID, delivery_id: str, now: datetime) -> WebhookDelivery | None:
        """Make the delivery pending again, due ``now``, with a fresh count of attempts (same id)."""
        ...

    async def purge_finished(self, before: datetime) -> int:
        """Delete delivered and dead deliveries that finished before ``before``; return how many."""
        ...


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    url: str
    body: bytes
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class WebhookResponse:
    """What came of one POST: a status (and the start of the body), or the reason there was none."""

    duration_ms: int
    status_code: int | None = None
    body_excerpt: str | None = None
    retry_after_seconds: float | None = None
    error: str | None = None


@runtime_checkable
class WebhookSender(Protocol):
    async def send(self, request: WebhookRequest) -> WebhookResponse:
        """POST once, following no redirect; never raises for what the far end does."""
        ...


@runtime_checkable
class WebhookUrlGuard(Protocol):
    async def check(self, url: str) -> None:
        """Raise WebhookUrlRefused if the URL's host is, or resolves to, an address webhooks may not
        reach (loopback, link-local, private, reserved ...), unless private networks are allowed."""
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
    @property
    def jobs(self) -> DispatchQueue: ...
    @property
    def idempotency(self) -> IdempotencyRepository: ...
    @property
    def acceptance(self) -> MessageAcceptance: ...
    @property
    def sessions(self) -> SessionRepository: ...
    @property
    def api_keys(self) -> ApiKeyRepository: ...
    @property
    def webhook_endpoints(self) -> WebhookEndpointRepository: ...
    @property
    def webhook_events(self) -> WebhookOutbox: ...
    @property
    def webhook_deliveries(self) -> WebhookDeliveryQueue: ...
    @property
    def audit(self) -> AuditLog: ...

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


# The client address of a request whose connection's peer is not known.
UNKNOWN_CLIENT_ADDRESS = "unknown"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as proven by an access token (a user in a session) or an API key (no user)."""

    user_id: UUID | None
    tenant_id: UUID
    role: Role
    session_id: UUID | None = None
    api_key_id: UUID | None = None
    # The address the request came from, where the entrypoint knows it: for the audit trail.
    client_address: str | None = None

    @property
    def is_user(self) -> bool:
        return self.user_id is not None


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a verified access token says; whether it still grants access is checked against the session."""

    user_id: UUID
    tenant_id: UUID
    role: Role
    session_id: UUID
    token_id: str


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class SessionTokens:
    """What a login or a refresh returns: a short-lived access token and the session's next refresh token."""

    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


@runtime_checkable
class TokenService(Protocol):
    def issue(self, user: User, session_id: UUID) -> IssuedToken: ...
    def verify(self, token: str) -> AccessClaims:
        """Return the token's claims; raise InvalidToken unless it is a valid, unexpired access token."""
        ...


class WebhookSignatureVerifier(Protocol):
    def is_well_formed(self, signature: str) -> bool:
        """Whether ``signature`` has the form of one of the provider's signatures (no secret needed):
        a screen that costs nothing, before anything is looked up to check it."""
        ...

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
class Reservation:
    """One event a limiter counted, as it needs it to uncount exactly that one: the key, its limit,
    the window that counted it and whether it was counted in shared storage. Opaque outside the
    limiter: only ``give_back`` reads it."""

    key: str
    limit: RateLimit
    window: int
    shared: bool


@dataclass(frozen=True, slots=True)
class RateLimitState:
    allowed: bool
    limit: RateLimit
    remaining: int
    reset_after_seconds: int
    reservation: Reservation | None = None  # what was counted, when allowed


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: RateLimit) -> RateLimitState:
        """Count one event under ``key``; ``allowed`` is False once the limit is exceeded (and then
        nothing was counted). Atomic: of any number of concurrent hits, at most the limit are allowed."""
        ...

    async def give_back(self, reservation: Reservation) -> None:
        """Uncount one event that ``hit`` allowed: an attempt reserved before it was known whether it
        counts, that turned out not to (a login that succeeded). Only from the window and the storage
        that counted it, and never below zero: given back after its window has gone, it changes nothing."""
        ...


@runtime_checkable
class Metrics(Protocol):
    """What the service counts for its operators (Prometheus, in production).

    Every label comes from a small fixed set: provider names, statuses, outcomes, scopes. A tenant id is
    passed along where it is known; whether it becomes a label is the adapter's choice, made by
    configuration, so that the number of series stays bounded.
    """

    def message_accepted(self, provider: str, tenant_id: UUID) -> None:
        """An outbound message was stored with its dispatch job."""
        ...

    def message_status(self, provider: str, status: MessageStatus, tenant_id: UUID) -> None:
        """An outbound message moved to ``status`` (``queued`` or ``failed`` when dispatched, then the
        statuses the provider reports that moved it forward)."""
        ...

    def provider_call(self, provider: str, operation: str, outcome: str, seconds: float) -> None:
        """One call to a provider (``send`` or ``lookup``) ended with ``outcome`` after ``seconds``."""
        ...

    def rate_limited(self, scope: str) -> None:
        """A rate limit refused a request (``scope``: which limit, e.g. ``address`` or ``login``)."""
        ...

    def webhook_delivery(self, outcome: str, tenant_id: UUID) -> None:
        """One attempt to POST an event to a tenant's webhook endpoint ended with ``outcome``
        (e.g. ``delivered``, ``retrying``, ``dead``)."""
        ...

    def dispatch_queue(self, depth: int | None, oldest_age_seconds: float | None) -> None:
        """The dispatch queue as just measured: jobs waiting and the age of the oldest (None: unknown)."""
        ...


class NoMetrics:
    """Counts nothing: the default of use cases built without a ``Metrics``."""

    def message_accepted(self, provider: str, tenant_id: UUID) -> None:
        pass

    def message_status(self, provider: str, status: MessageStatus, tenant_id: UUID) -> None:
        pass

    def provider_call(self, provider: str, operation: str, outcome: str, seconds: float) -> None:
        pass

    def rate_limited(self, scope: str) -> None:
        pass

    def webhook_delivery(self, outcome: str, tenant_id: UUID) -> None:
        pass

    def dispatch_queue(self, depth: int | None, oldest_age_seconds: float | None) -> None:
        pass


NO_METRICS: Metrics = NoMetrics()
