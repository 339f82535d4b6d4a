"""Campaigns: a template sent to many recipients at a pace, and the tenant's time zone they keep to.

``campaigns`` holds a campaign, its pace and quiet hours, and its schedule's state (next_send_at and the
day's count), moved on by conditional updates on ``version``. ``campaign_recipients`` holds one row per
person (identity unique per campaign), pending until its message is accepted. Both hold tenant data:
row-level security forced, with the policy every tenant table has. ``tenants.time_zone`` is the IANA
zone quiet hours and daily caps are told in ("UTC" for every existing tenant).

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | Sequence[str] | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)

# As 0009's policies: the settings read once per statement.
_VISIBLE = (
    "(CASE WHEN (SELECT current_setting('app.cross_tenant', true) = 'on') "
    "OR tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid) "
    "THEN true END) IS NOT UNKNOWN"
)
_TABLES = ("campaigns", "campaign_recipients")


def upgrade() -> None:
    # A plain ADD COLUMN on both databases: SQLite's batch mode would copy the table, and dropping the
    # old one trips the foreign keys of every table that refers to tenants.
    op.add_column("tenants", sa.Column("time_zone", sa.String(64), server_default="UTC", nullable=False))
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("sender_number", sa.String(16), nullable=False),
        sa.Column("template_name", sa.String(512), nullable=False),
        sa.Column("template_language", sa.String(35), nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("audience", sa.String(16), nullable=False),
        sa.Column("audience_filter", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("audience_complete", sa.Boolean(), nullable=False),
        sa.Column("audience_cursor", sa.String(64), nullable=True),
        sa.Column("messages_per_second", sa.Float(), nullable=False),
        sa.Column("daily_cap", sa.Integer(), nullable=True),
        sa.Column("quiet_start", sa.String(5), nullable=True),
        sa.Column("quiet_end", sa.String(5), nullable=True),
        sa.Column("start_at", Timestamp, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("pause_reason", sa.Text(), nullable=True),
        sa.Column("next_send_at", Timestamp, nullable=True),
        sa.Column("schedule_day", sa.String(10), nullable=True),
        sa.Column("sent_on_day", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("request_fingerprint", sa.String(64), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("started_at", Timestamp, nullable=True),
        sa.Column("finished_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_campaigns"),
        sa.UniqueConstraint("tenant_id", "id", name="uq_campaigns_tenant_id_id"),
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_campaigns_tenant_id_idempotency_key"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_campaigns_tenant_id_tenants", ondelete="CASCADE"
        ),
    )
    op.create_index(
        "ix_campaigns_recent", "campaigns", ["tenant_id", sa.text("created_at DESC"), sa.text("id DESC")]
    )
    op.create_index("ix_campaigns_due", "campaigns", ["status", "next_send_at"])
    op.create_table(
        "campaign_recipients",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("identity", sa.String(16), nullable=True),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("skip_reason", sa.String(16), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("accepted_at", Timestamp, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_campaign_recipients"),
        sa.UniqueConstraint("campaign_id", "identity", name="uq_campaign_recipients_campaign_id_identity"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "campaign_id"],
            ["campaigns.tenant_id", "campaigns.id"],
            name="fk_campaign_recipients_tenant_id_campaigns",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_campaign_recipients_state", "campaign_recipients", ["campaign_id", "state", "position"]
    )
    op.create_index("ix_campaign_recipients_order", "campaign_recipients", ["campaign_id", "position"])
    op.create_index("ix_campaign_recipients_message", "campaign_recipients", ["message_id"])
    if op.get_bind().dialect.name == "postgresql":
        for table in _TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} USING ({_VISIBLE}) WITH CHECK ({_VISIBLE})"
            )


def downgrade() -> None:
    op.drop_index("ix_campaign_recipients_message", table_name="campaign_recipients")
    op.drop_index("ix_campaign_recipients_order", table_name="campaign_recipients")
    op.drop_index("ix_campaign_recipients_state", table_name="campaign_recipients")
    op.drop_table("campaign_recipients")
    op.drop_index("ix_campaigns_due", table_name="campaigns")
    op.drop_index("ix_campaigns_recent", table_name="campaigns")
    op.drop_table("campaigns")
    if op.get_bind().dialect.name == "sqlite":  # DROP COLUMN in place (SQLite 3.35+), as above
        op.execute("ALTER TABLE tenants DROP COLUMN time_zone")
    else:
        op.drop_column("tenants", "time_zone")
