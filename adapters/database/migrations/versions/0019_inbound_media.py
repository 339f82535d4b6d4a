"""Inbound media: the downloads queued with customers' messages, and the files kept of them.

``media_downloads`` holds one leased download per media item of an inbound message until it is settled;
``media`` records each file kept (its bytes are in the media store). Both hold tenant data, so both have
row-level security forced, with the policy every tenant table has. Messages stored before this keep
their media as they were: nothing is queued for them.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)

# As 0009's policies: the settings read once per statement.
_VISIBLE = (
    "(CASE WHEN (SELECT current_setting('app.cross_tenant', true) = 'on') "
    "OR tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid) "
    "THEN true END) IS NOT UNKNOWN"
)
_TABLES = ("media_downloads", "media")


def upgrade() -> None:
    op.create_table(
        "media_downloads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("item", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", Timestamp, nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", Timestamp, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_media_downloads"),
        sa.UniqueConstraint("message_id", "item", name="uq_media_downloads_message_id_item"),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name="fk_media_downloads_message_id_messages",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_media_downloads_due", "media_downloads", ["available_at"])
    op.create_table(
        "media",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("filename", sa.Text(), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_media"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_media_tenant_id_tenants"),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name="fk_media_message_id_messages", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_media_message_id", "media", ["message_id"])
    if op.get_bind().dialect.name == "postgresql":
        for table in _TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} USING ({_VISIBLE}) WITH CHECK ({_VISIBLE})"
            )


def downgrade() -> None:
    op.drop_index("ix_media_message_id", table_name="media")
    op.drop_table("media")
    op.drop_index("ix_media_downloads_due", table_name="media_downloads")
    op.drop_table("media_downloads")
