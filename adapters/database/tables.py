"""The schema as SQLAlchemy Core tables; migrations/versions must create exactly this."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

# Stable constraint names, so a later migration can drop or alter a constraint by name on every dialect.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Fixed width with microseconds: in SQLite timestamps are text, and this keeps text order chronological.
SQLITE_TIMESTAMP_FORMAT = (
    "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back as a timezone-aware UTC datetime.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so it stores naive UTC text. Naive
    datetimes are refused when binding: guessing their zone would corrupt the ordering silently.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[datetime]:
        if dialect.name == "sqlite":
            sqlite_text = sqlite.DATETIME(storage_format=SQLITE_TIMESTAMP_FORMAT)  # type: ignore[no-untyped-call]
            return dialect.type_descriptor(sqlite_text)
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("a timestamp must be timezone-aware to be stored")
        in_utc = value.astimezone(UTC)
        return in_utc.replace(tzinfo=None) if dialect.name == "sqlite" else in_utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias), never a BIGINT one.
BigIntegerIdentity = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("session_window_check", sa.Boolean(), server_default=sa.true(), nullable=False),
    # Send limits of this tenant; NULL: the gateway's defaults.
    sa.Column("sends_per_minute", sa.Integer(), nullable=True),
    sa.Column("sends_per_day", sa.Integer(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    # The IANA zone of the tenant's calendar (campaigns' quiet hours and daily caps).
    sa.Column("time_zone", sa.String(64), server_default="UTC", nullable=False),
    sa.UniqueConstraint("name"),
)

provider_accounts = sa.Table(
    "provider_accounts",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("label", sa.Text(), nullable=False),
    # Who the account is at its provider: Twilio's Account SID, Meta's WhatsApp Business Account id.
    sa.Column("external_id", sa.String(64), nullable=False),
    sa.Column("api_key_sid", sa.String(34), nullable=True),  # Twilio
    sa.Column("graph_api_version", sa.String(16), nullable=True),  # Meta
    # SecretBox output bound to the tenant id; no plaintext secret is ever stored. Twilio: the auth token
    # and the API key's secret; Meta: the access token and the app secret.
    sa.Column("secret_sealed", sa.LargeBinary(), nullable=False),
    sa.Column("second_secret_sealed", sa.LargeBinary(), nullable=True),
    sa.Column("verify_token_sealed", sa.LargeBinary(), nullable=True),  # Meta's webhook handshake
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    # Senders reference an account together with its tenant: one tenant's sender never uses another's.
    sa.UniqueConstraint("tenant_id", "id"),
)
sa.Index("ix_provider_accounts_tenant", provider_accounts.c.tenant_id, provider_accounts.c.provider)

senders = sa.Table(
    "senders",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("phone_number", sa.String(16), nullable=False),  # E.164: '+' and at most 15 digits
    sa.Column("is_default", sa.Boolean(), nullable=False),
    sa.Column("label", sa.Text(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    # Set when WhatsApp's messaging limit (63018) is hit: no job of this sender is claimed before then.
    sa.Column("paused_until", UtcDateTime(), nullable=True),
    # The provider account it sends through; NULL: the tenant's provider (domain Sender.account_id).
    sa.Column("account_id", sa.Uuid(), nullable=True),
    # The provider's own id of the number (Meta's phone-number id), which its webhooks route by.
    sa.Column("provider_number_id", sa.String(32), nullable=True),
    sa.UniqueConstraint("tenant_id", "phone_number"),
    sa.ForeignKeyConstraint(
        ["tenant_id", "account_id"], ["provider_accounts.tenant_id", "provider_accounts.id"]
    ),
)
sa.Index(
    "uq_senders_provider_number_id",
    senders.c.provider_number_id,
    unique=True,
    postgresql_where=sa.text("provider_number_id IS NOT NULL"),
    sqlite_where=sa.text("provider_number_id IS NOT NULL"),
)
sa.Index(
    "uq_senders_one_default_per_tenant",
    senders.c.tenant_id,
    unique=True,
    postgresql_where=sa.text("is_default"),
    sqlite_where=sa.text("is_default"),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("password_hash", sa.Text(), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("is_active", sa.Boolean(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("username"),
)
sa.Index("ix_users_tenant_id", users.c.tenant_id)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("direction", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("sender_number", sa.String(16), nullable=False),
    sa.Column("contact_number", sa.String(16), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("media_urls", sa.JSON(), nullable=False),
    sa.Column("provider_sid", sa.String(256), nullable=True),
    sa.Column("error_code", sa.Integer(), nullable=True),
    sa.Column("error_message", sa.Text(), nullable=True),
    sa.Column("content_sid", sa.String(34), nullable=True),
    sa.Column("content_variables", sa.JSON(), nullable=True),
    sa.Column("profile_name", sa.Text(), nullable=True),
    sa.Column("wa_id", sa.String(32), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    # MessageKind: what the message is, for the history and its filter.
    sa.Column("kind", sa.String(16), nullable=False, server_default="text"),
    # What the columns above do not hold (typed media, interactive, a location, …): a document of
    # adapters/database/content_document.py; NULL for text, media by URL and Content SID templates.
    sa.Column("content", sa.JSON(none_as_null=True), nullable=True),
    # Why a failed message failed: domain FailureCode, whichever provider refused it.
    sa.Column("failure_code", sa.String(32), nullable=True),
    # The provider that handled the message last (ProviderName); NULL: not handed to one, or before this
    # was recorded.
    sa.Column("provider", sa.String(32), nullable=True),
    # The provider's own words for its error (error_message holds ours).
    sa.Column("provider_error_message", sa.Text(), nullable=True),
    # When a scheduled message is (or was) to be sent; NULL for a message sent at once.
    sa.Column("send_at", UtcDateTime(), nullable=True),
    # When the retention (or an erasure that keeps the row) removed the body and media; NULL: intact.
    sa.Column("redacted_at", UtcDateTime(), nullable=True),
)
# The retention batch: a tenant's messages older than its horizon not redacted yet, without reading the
# rows redacted already (migration 0027).
sa.Index(
    "ix_messages_retention",
    messages.c.tenant_id,
    messages.c.created_at,
    postgresql_where=sa.text("redacted_at IS NULL"),
    sqlite_where=sa.text("redacted_at IS NULL"),
)
# The pending scheduled sends, soonest first: WHERE tenant_id = ? AND status = 'scheduled'
# ORDER BY send_at, id.
sa.Index("ix_messages_scheduled", messages.c.tenant_id, messages.c.send_at, messages.c.id)
# The history page: WHERE tenant_id = ? AND (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC.
sa.Index(
    "ix_messages_history",
    messages.c.tenant_id,
    messages.c.created_at.desc(),
    messages.c.id.desc(),
)
sa.Index(
    "ix_messages_contact_history",
    messages.c.tenant_id,
    messages.c.contact_number,
    messages.c.created_at.desc(),
    messages.c.id.desc(),
)
# The inbox's live view: WHERE tenant_id = ? AND updated_at > ? ORDER BY updated_at, id.
sa.Index("ix_messages_changes", messages.c.tenant_id, messages.c.updated_at, messages.c.id)
sa.Index(
    "uq_messages_provider_sid",
    messages.c.provider_sid,
    unique=True,
    postgresql_where=sa.text("provider_sid IS NOT NULL"),
    sqlite_where=sa.text("provider_sid IS NOT NULL"),
)

message_status_events = sa.Table(
    "message_status_events",
    metadata,
    sa.Column("id", BigIntegerIdentity, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.Uuid(), sa.ForeignKey("messages.id"), nullable=False),
    sa.Column("tenant_id", sa.Uuid(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error_code", sa.Integer(), nullable=True),
    sa.Column("error_message", sa.Text(), nullable=True),
    # Whether the report moved the message forward; stale reports are kept too.
    sa.Column("applied", sa.Boolean(), nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    # The provider's message the report is about (a retried message gets a new one); NULL on reports
    # logged before it was kept.
    sa.Column("provider_sid", sa.String(256), nullable=True),
    # The provider's pricing category of the message, as the report gave it (Meta's), for cost reports.
    sa.Column("pricing_category", sa.String(32), nullable=True),
)
sa.Index("ix_message_status_events_message_id", message_status_events.c.message_id)
# A report's identity: a repeated report is the same row (NULLs are distinct in an index, hence -1).
# SQLite's reflection skips expression indexes: a migration that batch-alters this table there drops
# this one silently, and must create it again (see migration 0011).
sa.Index(
    "uq_message_status_events_report",
    message_status_events.c.message_id,
    message_status_events.c.provider_sid,
    message_status_events.c.status,
    sa.func.coalesce(message_status_events.c.error_code, -1),
    unique=True,
)

conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id"), nullable=False),
    # The form the contact last wrote from (replies go there), or, until they write, the form last
    # written to; the conversation is the person's whatever the form: see domain/phone.py.
    sa.Column("contact_number", sa.String(16), nullable=False),
    sa.Column("contact_identity", sa.String(16), nullable=False),
    sa.Column("sender_number", sa.String(16), nullable=False),
    sa.Column("last_message_id", sa.Uuid(), nullable=False),
    sa.Column("last_message_at", UtcDateTime(), nullable=False),
    sa.Column("last_direction", sa.String(16), nullable=False),
    sa.Column("last_message_preview", sa.Text(), nullable=False),
    sa.Column("last_inbound_at", UtcDateTime(), nullable=True),
    sa.Column("profile_name", sa.Text(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    # The customer's messages no agent has seen yet: one more per inbound message, 0 once seen.
    sa.Column("unread_count", sa.Integer(), server_default="0", nullable=False),
    sa.UniqueConstraint("tenant_id", "contact_identity"),
)
# GET /api/conversations: WHERE tenant_id = ? AND (last_message_at, id) < (?, ?) ORDER BY ... DESC.
sa.Index(
    "ix_conversations_recent",
    conversations.c.tenant_id,
    conversations.c.last_message_at.desc(),
    conversations.c.id.desc(),
)

dispatch_jobs = sa.Table(
    "dispatch_jobs",
    metadata,
    sa.Column("message_id", sa.Uuid(), sa.ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tenant_id", sa.Uuid(), nullable=False),
    sa.Column("sender_number", sa.String(16), nullable=False),
    sa.Column("phase", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("available_at", UtcDateTime(), nullable=False),
    # A claimed job is leased, not locked: when the lease runs out another worker may take it.
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_expires_at", UtcDateTime(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    # When the last send's outcome became unknown (its answer lost, or its worker vanished); NULL while
    # the job's next step is a send.
    sa.Column("unconfirmed_since", UtcDateTime(), nullable=True),
)
sa.Index("ix_dispatch_jobs_due", dispatch_jobs.c.available_at)
# Claims that skip busy senders walk the queue sender by sender (adapters/database/dispatch_queue.py).
sa.Index(
    "ix_dispatch_jobs_sender_due",
    dispatch_jobs.c.tenant_id,
    dispatch_jobs.c.sender_number,
    dispatch_jobs.c.available_at,
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("request_fingerprint", sa.String(64), nullable=False),
    sa.Column("message_id", sa.Uuid(), nullable=True),
    sa.Column("response_status", sa.Integer(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
)
sa.Index("ix_idempotency_keys_expires_at", idempotency_keys.c.expires_at)

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("description", sa.Text(), nullable=False),
    sa.Column("events", sa.JSON(), nullable=False),  # the event types, sorted
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("disabled_reason", sa.Text(), nullable=True),
    # SecretBox output bound to the tenant and the endpoint; the secret is shown once and never stored plain.
    sa.Column("secret_sealed", sa.LargeBinary(), nullable=False),
    sa.Column("previous_secret_sealed", sa.LargeBinary(), nullable=True),
    sa.Column("previous_secret_expires_at", UtcDateTime(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)
sa.Index("ix_webhook_endpoints_tenant_id", webhook_endpoints.c.tenant_id, webhook_endpoints.c.created_at)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),  # the webhook-id: msg_<ULID>
    sa.Column("tenant_id", sa.Uuid(), nullable=False),
    sa.Column(
        "endpoint_id", sa.Uuid(), sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("event_type", sa.String(32), nullable=False),
    sa.Column("payload", sa.Text(), nullable=True),  # the exact body, sent byte for byte on every attempt
    # Or, for a status event recorded by the change's own statement, the moved message's row (to_jsonb):
    # its body is built from it when the delivery is read (messages.py, webhook_deliveries.py).
    sa.Column("message_snapshot", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),  # since created or last replayed
    sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_expires_at", UtcDateTime(), nullable=True),
    sa.Column("last_attempt_at", UtcDateTime(), nullable=True),
    sa.Column("last_status_code", sa.Integer(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("last_response_excerpt", sa.Text(), nullable=True),
    sa.Column("finished_at", UtcDateTime(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.CheckConstraint("payload IS NOT NULL OR message_snapshot IS NOT NULL", name="body_or_snapshot"),
)
# The worker's claim: WHERE state = 'pending' AND next_attempt_at <= now ORDER BY next_attempt_at.
sa.Index(
    "ix_webhook_deliveries_due",
    webhook_deliveries.c.next_attempt_at,
    postgresql_where=sa.text("state = 'pending'"),
    sqlite_where=sa.text("state = 'pending'"),
)
# An endpoint's deliveries, newest first (ids are ULIDs: they sort by creation time).
sa.Index("ix_webhook_deliveries_endpoint", webhook_deliveries.c.endpoint_id, webhook_deliveries.c.id)
sa.Index("ix_webhook_deliveries_finished_at", webhook_deliveries.c.finished_at)

webhook_delivery_attempts = sa.Table(
    "webhook_delivery_attempts",
    metadata,
    sa.Column("id", BigIntegerIdentity, primary_key=True, autoincrement=True),
    sa.Column(
        "delivery_id",
        sa.String(40),
        sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("attempted_at", UtcDateTime(), nullable=False),
    sa.Column("status_code", sa.Integer(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("response_excerpt", sa.Text(), nullable=True),
    sa.Column("duration_ms", sa.Integer(), nullable=False),
)
sa.Index("ix_webhook_delivery_attempts_delivery_id", webhook_delivery_attempts.c.delivery_id)

# A login session: its refresh tokens are one family, and its access tokens carry its id (``sid``).
auth_sessions = sa.Table(
    "auth_sessions",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Column("revoked_at", UtcDateTime(), nullable=True),
    sa.Column("revoked_reason", sa.String(32), nullable=True),
)
sa.Index("ix_auth_sessions_user_id", auth_sessions.c.user_id)
sa.Index("ix_auth_sessions_tenant_id", auth_sessions.c.tenant_id)
sa.Index("ix_auth_sessions_expires_at", auth_sessions.c.expires_at)

# Refresh tokens by their SHA-256 only; used_at is set when one is exchanged (a second use is a reuse).
refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("session_id", sa.Uuid(), sa.ForeignKey("auth_sessions.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("used_at", UtcDateTime(), nullable=True),
)
sa.Index("ix_refresh_tokens_session_id", refresh_tokens.c.session_id)

# API keys: found by their visible prefix (unique), checked against the SHA-256 of the whole key.
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("created_by", sa.Uuid(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("last_used_at", UtcDateTime(), nullable=True),
    sa.Column("revoked_at", UtcDateTime(), nullable=True),
    sa.UniqueConstraint("prefix"),
)
sa.Index("ix_api_keys_tenant_id", api_keys.c.tenant_id, api_keys.c.created_at)

# The audit trail: appended to, never updated; deleted only past the retention (migration 0012 makes
# it so for the application's role). No foreign keys: an entry outlives what it names.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("occurred_at", UtcDateTime(), nullable=False),
    sa.Column("tenant_id", sa.Uuid(), nullable=True),  # NULL: no tenant known (an unknown username)
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("actor_type", sa.String(16), nullable=False),
    sa.Column("actor_id", sa.Uuid(), nullable=True),
    sa.Column("actor_role", sa.String(32), nullable=True),
    sa.Column("target_type", sa.String(32), nullable=True),
    sa.Column("target_id", sa.String(64), nullable=True),
    sa.Column("client_address", sa.String(100), nullable=True),
    sa.Column("request_id", sa.String(128), nullable=True),
    sa.Column("details", sa.JSON(), nullable=False),
)
# A tenant's trail, newest first (keyset on occurred_at, id); every tenant's, and the purge.
sa.Index("ix_audit_log_tenant", audit_log.c.tenant_id, audit_log.c.occurred_at, audit_log.c.id)
sa.Index("ix_audit_log_occurred_at", audit_log.c.occurred_at, audit_log.c.id)

# Media customers send, one download per media item of an inbound message, queued with the message and
# leased by the media worker like dispatch jobs; gone once settled (adapters/database/media_downloads.py).
media_downloads = sa.Table(
    "media_downloads",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),  # the id its file is kept under (media.id)
    sa.Column("tenant_id", sa.Uuid(), nullable=False),
    sa.Column("message_id", sa.Uuid(), sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    sa.Column("item", sa.Integer(), nullable=False),  # the media item's place in the message's content
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("available_at", UtcDateTime(), nullable=False),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_expires_at", UtcDateTime(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("message_id", "item"),
)
sa.Index("ix_media_downloads_due", media_downloads.c.available_at)

# The files kept of those media items (the bytes are in the media store under "{tenant_id}/{id}").
media = sa.Table(
    "media",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("message_id", sa.Uuid(), sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    sa.Column("content_type", sa.String(255), nullable=False),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("filename", sa.Text(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)
sa.Index("ix_media_message_id", media.c.message_id)

# A tenant's template catalogue (adapters/database/templates.py): each template by name and language, its
# components and examples a document of adapters/database/template_document.py.
templates = sa.Table(
    "templates",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(512), nullable=False),
    sa.Column("language", sa.String(35), nullable=False),  # a BCP 47 tag at most ("pt_BR", "zh_HK")
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("definition", sa.JSON(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    # What names a template within a tenant; also the catalogue's page order (keyset on name, language).
    sa.UniqueConstraint("tenant_id", "name", "language"),
    # Listings reference a template together with its tenant: one tenant's listing never names another's.
    sa.UniqueConstraint("tenant_id", "id"),
)

# Where each template exists: one row per provider account it was created on (account_id NULL: the
# sandbox), with the provider's id for it, its status and its quality. A provider's template is listed
# once (its id is the key a provider's status webhook finds it by); removing the account or the template
# removes its listings.
template_listings = sa.Table(
    "template_listings",
    metadata,
    sa.Column("provider", sa.String(32), primary_key=True),
    sa.Column("provider_template_id", sa.String(64), primary_key=True),  # Meta's id, Twilio's Content SID
    sa.Column("template_id", sa.Uuid(), nullable=False),
    sa.Column("tenant_id", sa.Uuid(), nullable=False),
    sa.Column("account_id", sa.Uuid(), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("rejection_reason", sa.Text(), nullable=True),
    sa.Column("quality", sa.String(16), nullable=True),
    sa.Column("status_changed_at", UtcDateTime(), nullable=False),
    # One listing per account; NULLs are distinct here, hence the sandbox's own index below.
    sa.UniqueConstraint("template_id", "account_id"),
    sa.ForeignKeyConstraint(
        ["tenant_id", "template_id"], ["templates.tenant_id", "templates.id"], ondelete="CASCADE"
    ),
    sa.ForeignKeyConstraint(
        ["tenant_id", "account_id"],
        ["provider_accounts.tenant_id", "provider_accounts.id"],
        ondelete="CASCADE",
    ),
)
sa.Index(
    "uq_template_listings_sandbox",
    template_listings.c.template_id,
    unique=True,
    postgresql_where=sa.text("account_id IS NULL"),
    sqlite_where=sa.text("account_id IS NULL"),
)
# An account's listings, which go when it does.
sa.Index("ix_template_listings_account", template_listings.c.tenant_id, template_listings.c.account_id)

# When each tenant's templates were last claimed for the periodic sync (adapters/database/templates.py):
# a process syncs a tenant only after moving this forward, which one process can do per interval.
template_sync_claims = sa.Table(
    "template_sync_claims",
    metadata,
    sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("claimed_at", UtcDateTime(), nullable=False),
)

# A tenant's contacts (adapters/database/contacts.py): one per person, by the identity of their number
# (domain/phone.py), as conversations are. Tags (a sorted array) and attributes (an object of text) are
# JSON, JSONB on PostgreSQL, whose containment (@>) the filters use.
Document = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("identity", sa.String(16), nullable=False),
    sa.Column("phone_number", sa.String(16), nullable=False),
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("profile_name", sa.Text(), nullable=True),
    sa.Column("attributes", Document, nullable=False),
    sa.Column("tags", Document, nullable=False),
    sa.Column("notes", sa.Text(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    # One contact per person; also the audience's and the export's order (keyset on identity).
    sa.UniqueConstraint("tenant_id", "identity"),
)
# GET /api/contacts: newest first (keyset on created_at, id).
sa.Index("ix_contacts_recent", contacts.c.tenant_id, contacts.c.created_at.desc(), contacts.c.id.desc())
# Each tenant's retention policy (adapters/database/retention.py); no row: every message is kept.
retention_policies = sa.Table(
    "retention_policies",
    metadata,
    sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("days", sa.Integer(), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),  # RetentionMode
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# What the per-request session check reads: a write to any of them may revoke access (access_cache.py).
# Consent (domain/consent/model.py): each tenant's policy (no row: the defaults), each person's current
# state by identity (no row: never asked), and the append-only ledger of every change, in order.
consent_policies = sa.Table(
    "consent_policies",
    metadata,
    sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("opt_out_keywords", sa.JSON(), nullable=False),
    sa.Column("opt_in_keywords", sa.JSON(), nullable=False),
    sa.Column("keyword_mode", sa.String(16), nullable=False),
    sa.Column("opt_out_reply", sa.Text(), nullable=True),
    sa.Column("opt_in_reply", sa.Text(), nullable=True),
    sa.Column("allowed_categories", sa.JSON(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

consent_states = sa.Table(
    "consent_states",
    metadata,
    sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("identity", sa.String(16), primary_key=True),  # PhoneNumber.identity
    sa.Column("number", sa.String(16), nullable=False),  # the form the last change named
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("changed_at", UtcDateTime(), nullable=False),
)

consent_ledger = sa.Table(
    "consent_ledger",
    metadata,
    sa.Column("sequence", BigIntegerIdentity, primary_key=True, autoincrement=True),
    sa.Column("id", sa.Uuid(), nullable=False, unique=True),
    sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("identity", sa.String(16), nullable=False),
    sa.Column("number", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    # The customer's message that said it; no foreign key: the evidence outlives a message's purge.
    sa.Column("evidence_message_id", sa.Uuid(), nullable=True),
    sa.Column("note", sa.Text(), nullable=True),
    sa.Column("changed", sa.Boolean(), nullable=False),
    sa.Column("at", UtcDateTime(), nullable=False),
)
# A tenant's ledger in order, and one person's.
sa.Index("ix_consent_ledger_tenant", consent_ledger.c.tenant_id, consent_ledger.c.sequence)
sa.Index(
    "ix_consent_ledger_identity",
    consent_ledger.c.tenant_id,
    consent_ledger.c.identity,
    consent_ledger.c.sequence,
)

ACCESS_TABLES = frozenset({auth_sessions, users, tenants})
# What TwilioSigners (adapters/twilio/callback_authentication.py) and MetaApps (adapters/meta/
# callback_authentication.py) are read from, and the sender an accept sends from (application/messaging/
# sending_profiles.py); migrations 0029 to 0031 announce their changes (of a sender, only those of its
# tenant, number, account, Meta phone-number id and default flag).
SIGNER_TABLES = frozenset({senders, provider_accounts})
# What sends by template name resolve through (application/messaging/template_sends.py); migration 0032
# announces every write to them.
CATALOGUE_TABLES = frozenset({templates, template_listings})

# Campaigns: one template sent to many recipients at a pace (domain/campaigns). The schedule's state
# (next_send_at, schedule_day, sent_on_day) is moved on by a conditional update on version.
campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("sender_number", sa.String(16), nullable=False),
    sa.Column("template_name", sa.String(512), nullable=False),
    sa.Column("template_language", sa.String(35), nullable=False),
    sa.Column("variables", sa.JSON(), nullable=False),  # [[variable, attribute, constant], ...]
    sa.Column("audience", sa.String(16), nullable=False),
    sa.Column("audience_filter", sa.JSON(none_as_null=True), nullable=True),  # {"tags": [], "attributes": {}}
    sa.Column("audience_complete", sa.Boolean(), nullable=False),
    sa.Column("audience_cursor", sa.String(64), nullable=True),
    sa.Column("messages_per_second", sa.Float(), nullable=False),
    sa.Column("daily_cap", sa.Integer(), nullable=True),
    sa.Column("quiet_start", sa.String(5), nullable=True),  # HH:MM, local to the tenant's time zone
    sa.Column("quiet_end", sa.String(5), nullable=True),
    sa.Column("start_at", UtcDateTime(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("pause_reason", sa.Text(), nullable=True),
    sa.Column("next_send_at", UtcDateTime(), nullable=True),
    sa.Column("schedule_day", sa.String(10), nullable=True),  # the local day sent_on_day counts (ISO)
    sa.Column("sent_on_day", sa.Integer(), nullable=False),
    sa.Column("duplicates", sa.Integer(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("idempotency_key", sa.String(255), nullable=True),
    sa.Column("request_fingerprint", sa.String(64), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=True),
    sa.Column("finished_at", UtcDateTime(), nullable=True),
    # Recipients reference a campaign together with its tenant.
    sa.UniqueConstraint("tenant_id", "id"),
    sa.UniqueConstraint("tenant_id", "idempotency_key"),
)
# GET /api/campaigns: newest first, on the (created_at, id) keyset.
sa.Index("ix_campaigns_recent", campaigns.c.tenant_id, campaigns.c.created_at.desc(), campaigns.c.id.desc())
# The runner's look for due campaigns.
sa.Index("ix_campaigns_due", campaigns.c.status, campaigns.c.next_send_at)

campaign_recipients = sa.Table(
    "campaign_recipients",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("campaign_id", sa.Uuid(), nullable=False),
    sa.Column("tenant_id", sa.Uuid(), nullable=False),
    sa.Column("position", sa.Integer(), nullable=False),  # its place in the audience (a CSV line)
    sa.Column("number", sa.String(32), nullable=False),
    sa.Column("identity", sa.String(16), nullable=True),  # NULL: an invalid number (skipped)
    sa.Column("variables", sa.JSON(), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # pending, skipped, accepted (the message tells on)
    sa.Column("skip_reason", sa.String(16), nullable=True),
    sa.Column("detail", sa.Text(), nullable=True),
    sa.Column("message_id", sa.Uuid(), nullable=True),
    sa.Column("accepted_at", UtcDateTime(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    # One recipient per person (identity) per campaign: a duplicate is left out as it is inserted.
    sa.UniqueConstraint("campaign_id", "identity"),
    sa.ForeignKeyConstraint(
        ["tenant_id", "campaign_id"], ["campaigns.tenant_id", "campaigns.id"], ondelete="CASCADE"
    ),
)
# Claims (pending ones in audience order) and the recipients' pages.
sa.Index(
    "ix_campaign_recipients_state",
    campaign_recipients.c.campaign_id,
    campaign_recipients.c.state,
    campaign_recipients.c.position,
)
sa.Index("ix_campaign_recipients_order", campaign_recipients.c.campaign_id, campaign_recipients.c.position)
sa.Index("ix_campaign_recipients_message", campaign_recipients.c.message_id)
