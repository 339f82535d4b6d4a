"""Consent: each tenant's consent policy, each person's current consent state, and the ledger of every
change.

``consent_policies`` holds a tenant's keywords, confirmation replies and the template categories that
still reach a person who opted out (no row: the defaults). ``consent_states`` holds a person's current
state by their number's identity (no row: never asked). ``consent_ledger`` is appended to on every
change and never changed. All three hold tenant data, so all have row-level security forced with the
policy every tenant table has. The downgrade drops them, and every recorded consent with them.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-12
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | Sequence[str] | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)
BigIntegerIdentity = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# As 0009's policies: the settings read once per statement.
_VISIBLE = (
    "(CASE WHEN (SELECT current_setting('app.cross_tenant', true) = 'on') "
    "OR tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid) "
    "THEN true END) IS NOT UNKNOWN"
)
_TABLES = ("consent_policies", "consent_states", "consent_ledger")


def upgrade() -> None:
    op.create_table(
        "consent_policies",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("opt_out_keywords", sa.JSON(), nullable=False),
        sa.Column("opt_in_keywords", sa.JSON(), nullable=False),
        sa.Column("keyword_mode", sa.String(16), nullable=False),
        sa.Column("opt_out_reply", sa.Text(), nullable=True),
        sa.Column("opt_in_reply", sa.Text(), nullable=True),
        sa.Column("allowed_categories", sa.JSON(), nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_consent_policies"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_consent_policies_tenant_id_tenants", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "consent_states",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("identity", sa.String(16), nullable=False),
        sa.Column("number", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("changed_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "identity", name="pk_consent_states"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_consent_states_tenant_id_tenants", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "consent_ledger",
        sa.Column("sequence", BigIntegerIdentity, autoincrement=True, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("identity", sa.String(16), nullable=False),
        sa.Column("number", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("evidence_message_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("changed", sa.Boolean(), nullable=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("sequence", name="pk_consent_ledger"),
        sa.UniqueConstraint("id", name="uq_consent_ledger_id"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_consent_ledger_tenant_id_tenants", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_consent_ledger_tenant", "consent_ledger", ["tenant_id", "sequence"])
    op.create_index("ix_consent_ledger_identity", "consent_ledger", ["tenant_id", "identity", "sequence"])
    if op.get_bind().dialect.name == "postgresql":
        for table in _TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} USING ({_VISIBLE}) WITH CHECK ({_VISIBLE})"
            )


def downgrade() -> None:
    op.drop_index("ix_consent_ledger_identity", table_name="consent_ledger")
    op.drop_index("ix_consent_ledger_tenant", table_name="consent_ledger")
    op.drop_table("consent_ledger")
    op.drop_table("consent_states")
    op.drop_table("consent_policies")
