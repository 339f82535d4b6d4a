"""The initial schema: tenants, credentials, senders, users, messages and their status events.

Revision ID: 0001
Revises:
Create Date: 2026-01-01

Written by hand and frozen: it spells out plain SQLAlchemy types instead of importing the application's
tables, so later changes to adapters/database/tables.py can never alter what this revision did.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What tables.UtcDateTime and BigIntegerIdentity render as (timestamptz / DATETIME text in SQLite).
Timestamp = sa.DateTime(timezone=True)
BigIntegerIdentity = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("session_window_check", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        sa.UniqueConstraint("name", name="uq_tenants_name"),
    )

    op.create_table(
        "tenant_credentials",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("account_sid", sa.String(34), nullable=False),
        sa.Column("auth_token_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("api_key_sid", sa.String(34), nullable=True),
        sa.Column("api_key_secret_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_tenant_credentials"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name="fk_tenant_credentials_tenant_id_tenants",
            ondelete="CASCADE",
        ),
    )

    op.create_table(
        "senders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("phone_number", sa.String(16), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_senders"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_senders_tenant_id_tenants"),
        sa.UniqueConstraint("tenant_id", "phone_number", name="uq_senders_tenant_id_phone_number"),
    )
    op.create_index(
        "uq_senders_one_default_per_tenant",
        "senders",
        ["tenant_id"],
        unique=True,
        postgresql_where=sa.text("is_default"),
        sqlite_where=sa.text("is_default"),
    )

    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_users_tenant_id_tenants"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_index("ix_users_tenant_id", "users", ["tenant_id"])

    op.create_table(
        "messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sender_number", sa.String(16), nullable=False),
        sa.Column("contact_number", sa.String(16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("media_urls", sa.JSON(), nullable=False),
        sa.Column("provider_sid", sa.String(64), nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("content_sid", sa.String(34), nullable=True),
        sa.Column("content_variables", sa.JSON(), nullable=True),
        sa.Column("profile_name", sa.Text(), nullable=True),
        sa.Column("wa_id", sa.String(32), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_messages_tenant_id_tenants"),
    )
    op.create_index(
        "ix_messages_history",
        "messages",
        ["tenant_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    op.create_index(
        "ix_messages_contact_history",
        "messages",
        ["tenant_id", "contact_number", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    op.create_index(
        "uq_messages_provider_sid",
        "messages",
        ["provider_sid"],
        unique=True,
        postgresql_where=sa.text("provider_sid IS NOT NULL"),
        sqlite_where=sa.text("provider_sid IS NOT NULL"),
    )

    op.create_table(
        "message_status_events",
        sa.Column("id", BigIntegerIdentity, autoincrement=True, nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column("received_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_message_status_events"),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name="fk_message_status_events_message_id_messages"
        ),
    )
    op.create_index("ix_message_status_events_message_id", "message_status_events", ["message_id"])

    op.create_table(
        "conversations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("contact_number", sa.String(16), nullable=False),
        sa.Column("sender_number", sa.String(16), nullable=False),
        sa.Column("last_message_id", sa.Uuid(), nullable=False),
        sa.Column("last_message_at", Timestamp, nullable=False),
        sa.Column("last_direction", sa.String(16), nullable=False),
        sa.Column("last_message_preview", sa.Text(), nullable=False),
        sa.Column("last_inbound_at", Timestamp, nullable=True),
        sa.Column("profile_name", sa.Text(), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_conversations"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_conversations_tenant_id_tenants"),
        sa.UniqueConstraint("tenant_id", "contact_number", name="uq_conversations_tenant_id_contact_number"),
    )
    op.create_index(
        "ix_conversations_recent",
        "conversations",
        ["tenant_id", sa.text("last_message_at DESC"), sa.text("id DESC")],
    )


def downgrade() -> None:
    op.drop_index("ix_conversations_recent", table_name="conversations")
    op.drop_table("conversations")
    op.drop_index("ix_message_status_events_message_id", table_name="message_status_events")
    op.drop_table("message_status_events")
    op.drop_index("uq_messages_provider_sid", table_name="messages")
    op.drop_index("ix_messages_contact_history", table_name="messages")
    op.drop_index("ix_messages_history", table_name="messages")
    op.drop_table("messages")
    op.drop_index("ix_users_tenant_id", table_name="users")
    op.drop_table("users")
    op.drop_index("uq_senders_one_default_per_tenant", table_name="senders")
    op.drop_table("senders")
    op.drop_table("tenant_credentials")
    op.drop_table("tenants")
