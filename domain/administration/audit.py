"""The audit trail: who did what to whom, from where and when — security-relevant actions only.

An entry is written in the transaction of the action it records, so there is never an action without
its entry nor an entry for an action that was rolled back; a refused login, which changes nothing
else, is a transaction of its own. Entries are appended and never changed; they are deleted only when
older than the retention (and never younger than ``MIN_RETENTION``).

An entry never holds a secret: no password, token, key or credential, and no free text a client could
have put one in (a refused login's typed username may be a mistyped password, so it is not kept). Its
details are a few named values from a fixed vocabulary (``DETAIL_NAMES``), so nothing else gets in.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from uuid import UUID, uuid4

from domain.administration.tenancy import Role
from domain.errors import DomainError

# However long the retention is set, an entry younger than this is never purged (the database
# enforces it too, for the application's role: migration 0012).
MIN_RETENTION = timedelta(days=30)
MAX_DETAIL_LENGTH = 200
MAX_ADDRESS_LENGTH = 100
# The longest request id an entry keeps, and the longest X-Request-ID a client's request may carry.
MAX_REQUEST_ID_LENGTH = 128


class AuditAction(enum.StrEnum):
    LOGIN_SUCCEEDED = "login.succeeded"
    LOGIN_REFUSED = "login.refused"
    SESSION_ENDED = "session.ended"  # logged out, or ended because its refresh token was reused
    USER_CREATED = "user.created"
    USER_ROLE_CHANGED = "user.role_changed"
    USER_PASSWORD_SET = "user.password_set"  # noqa: S105 - an action's name: an admin set it
    USER_PASSWORD_CHANGED = "user.password_changed"  # noqa: S105 - an action's name: by the user
    USER_DEACTIVATED = "user.deactivated"
    USER_REACTIVATED = "user.reactivated"
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
    CREDENTIALS_SET = "credentials.set"
    PROVIDER_ACCOUNT_ADDED = "provider_account.added"
    PROVIDER_ACCOUNT_REMOVED = "provider_account.removed"
    WEBHOOK_ENDPOINT_CREATED = "webhook_endpoint.created"  # with its first signing secret
    WEBHOOK_SECRET_ROTATED = "webhook_secret.rotated"  # noqa: S105 - an action's name
    TENANT_CREATED = "tenant.created"
    TENANT_UPDATED = "tenant.updated"
    TENANT_SUSPENDED = "tenant.suspended"
    TENANT_REACTIVATED = "tenant.reactivated"
    TEMPLATE_CREATED = "template.created"
    TEMPLATE_UPDATED = "template.updated"
    TEMPLATE_DELETED = "template.deleted"
    TEMPLATE_STATUS_CHANGED = "template.status_changed"  # a provider approved, rejected, paused it …
    CONTACTS_IMPORTED = "contacts.imported"
    CONTACT_DELETED = "contact.deleted"
    CONSENT_SET = "consent.set"  # a person's consent set over the API
    CONSENT_POLICY_SET = "consent_policy.set"
    RETENTION_SET = "retention.set"  # a tenant's retention policy set, changed or removed
    CONTACT_ERASED = "contact.erased"  # everything held about a person removed (an erasure request)
    CONTACT_EXPORTED = "contact.exported"  # everything held about a person handed over (an access request)
    CAMPAIGN_CREATED = "campaign.created"
    CAMPAIGN_PAUSED = "campaign.paused"  # by a tenant admin, or by the gateway on the provider's signal
    CAMPAIGN_RESUMED = "campaign.resumed"
    CAMPAIGN_CANCELED = "campaign.canceled"


class ActorKind(enum.StrEnum):
    USER = "user"  # a person, with an access token
    API_KEY = "api_key"
    OPERATOR = "operator"  # the command line (or the demo set-up on first start)
    ANONYMOUS = "anonymous"  # nobody proven: a refused login
    SYSTEM = "system"  # the gateway itself, on a provider's word (a template's status changed)


class TargetKind(enum.StrEnum):
    TENANT = "tenant"
    USER = "user"
    SESSION = "session"
    API_KEY = "api_key"
    CREDENTIALS = "credentials"  # a tenant's Twilio credentials, before they were a provider account
    PROVIDER_ACCOUNT = "provider_account"
    WEBHOOK_ENDPOINT = "webhook_endpoint"
    TEMPLATE = "template"
    CONSENT = "consent"  # a person's consent, by their number's identity
    CONSENT_POLICY = "consent_policy"  # a tenant's consent policy, by the tenant's id
    RETENTION_POLICY = "retention_policy"
    # A person of the tenant's: a contact by its id; an erasure's or export's entry names no number (an
    # erased person's number is not kept anywhere, the audit trail included): the request id ties it to
    # the caller's records.
    CONTACT = "contact"
    CAMPAIGN = "campaign"


# The only names an entry's details may have: none of them is, or could hold, a secret.
DETAIL_NAMES = frozenset(
    {
        "username",  # an existing user's name, never a refused login's typed one
        "role",
        "previous_role",
        "name",  # a tenant's or an API key's name
        "prefix",  # an API key's visible prefix
        "provider",
        "account_sid",
        "api_key_sid",
        "business_account_id",
        "reason",
        "sessions_ended",
        "changed",  # which fields of a tenant changed, comma-separated
        "overlap_seconds",
        "events",
        "language",  # a template's
        "account_id",  # the provider account a template is listed on
        "status",  # a template's status at a provider account
        "previous_status",
        "quality",
        "rows",  # a contact import's figures: rows read, and of them
        "created",
        "updated",
        "unchanged",
        "rejected",
        "state",  # a person's consent
        "previous_state",
        "keyword_mode",  # a consent policy's
        "allowed_categories",
        "days",  # a retention policy's
        "mode",
        "removed",  # what an erasure removed: kind=count, comma-separated
        "kept",  # what an erasure kept on purpose (a person's opt-out): kind=count
        "exported",  # what an export handed over: kind=count, comma-separated
    }
)


class InvalidAuditEntry(DomainError):
    pass


@dataclass(frozen=True, slots=True)
class AuditActor:
    kind: ActorKind
    id: UUID | None = None  # the user's or the API key's id
    role: Role | None = None  # the role it acted with


ANONYMOUS = AuditActor(kind=ActorKind.ANONYMOUS)
OPERATOR_ACTOR = AuditActor(kind=ActorKind.OPERATOR)
SYSTEM_ACTOR = AuditActor(kind=ActorKind.SYSTEM)


@dataclass(frozen=True, slots=True)
class AuditTarget:
    kind: TargetKind
    id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One security-relevant action. ``tenant_id`` is the tenant it happened in (for a platform admin's
    action, the tenant acted on); None only where no tenant is known (a login refused for a username
    that does not exist)."""

    action: AuditAction
    occurred_at: datetime
    actor: AuditActor
    tenant_id: UUID | None
    target: AuditTarget | None = None
    client_address: str | None = None
    request_id: str | None = None
    details: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    id: UUID = field(default_factory=uuid4)

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None:
            raise InvalidAuditEntry("an audit entry's time must be timezone-aware")
        unknown = sorted(set(self.details) - DETAIL_NAMES)
        if unknown:
            raise InvalidAuditEntry(f"audit details may not be named {', '.join(unknown)}")
        # Bounded, so a long value cannot make an entry (or a page of them) large; read-only.
        object.__setattr__(
            self,
            "details",
            MappingProxyType({name: str(value)[:MAX_DETAIL_LENGTH] for name, value in self.details.items()}),
        )
        if self.client_address is not None:
            object.__setattr__(self, "client_address", self.client_address[:MAX_ADDRESS_LENGTH])
        if self.request_id is not None:
            object.__setattr__(self, "request_id", self.request_id[:MAX_REQUEST_ID_LENGTH])
