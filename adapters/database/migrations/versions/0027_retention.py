"""Retention and erasure: each tenant's retention policy in a table of its own, and messages marked when
their content was removed.

``retention_policies`` holds at most one row per tenant (none: everything is kept). It is tenant data,
so row-level security is forced on it with the policy every tenant table has.

``messages.redacted_at`` is set when a message's body and media were removed and its metadata kept. The
retention batch looks for a tenant's messages older than its horizon that are not redacted yet: the
partial index ``ix_messages_retention`` (tenant_id, created_at) WHERE redacted_at IS NULL finds them
without reading the rows redacted already, so a batch costs the same however much was redacted before.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | Sequence[str] | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)

# As 0009's policies: the settings read once per statement.
_VISIBLE = (
    "(CASE WHEN (SELECT current_setting('app.cross_tenant', true) = 'on') "
    "OR tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid) "
    "THEN true END) IS NOT UNKNOWN"
)
_TABLE = "retention_policies"


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_retention_policies"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_retention_policies_tenant_id_tenants", ondelete="CASCADE"
        ),
    )
    op.add_column("messages", sa.Column("redacted_at", Timestamp, nullable=True))
    op.create_index(
        "ix_messages_retention",
        "messages",
        ["tenant_id", "created_at"],
        postgresql_where=sa.text("redacted_at IS NULL"),
        sqlite_where=sa.text("redacted_at IS NULL"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {_TABLE} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {_TABLE} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {_TABLE} USING ({_VISIBLE}) WITH CHECK ({_VISIBLE})")


def downgrade() -> None:
    op.drop_index("ix_messages_retention", table_name="messages")
    # SQLite drops a column in place (3.35 and later): no rebuild there either.
    op.drop_column("messages", "redacted_at")
    op.drop_table(_TABLE)
