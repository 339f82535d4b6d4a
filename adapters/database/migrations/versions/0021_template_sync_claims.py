"""Who syncs a tenant's templates this round: one row per tenant, the moment its last sync was claimed.

Every process runs the periodic template sync (each ``serve`` worker's dispatcher, each ``worker``
replica): without a claim each of them called the providers for every tenant each interval, and two
syncs of one tenant at once both saw the same change and each told the tenant's webhooks of it. A
process now syncs a tenant only after moving its ``claimed_at`` forward, which one conditional upsert
lets one process do per interval (adapters/database/templates.py). A table of its own rather than a
column of ``tenants``: every update of ``tenants`` tells each API process to empty its access cache
(0008), and a claim revokes no one's access. The claim is tenant data, so the table has row-level
security forced, with the policy every tenant table has. The downgrade drops it: the next round of
every process then claims afresh.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)

# As 0009's policies: the settings read once per statement.
_VISIBLE = (
    "(CASE WHEN (SELECT current_setting('app.cross_tenant', true) = 'on') "
    "OR tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid) "
    "THEN true END) IS NOT UNKNOWN"
)
_TABLE = "template_sync_claims"


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("claimed_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_template_sync_claims"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name="fk_template_sync_claims_tenant_id_tenants",
            ondelete="CASCADE",
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {_TABLE} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {_TABLE} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {_TABLE} USING ({_VISIBLE}) WITH CHECK ({_VISIBLE})")


def downgrade() -> None:
    op.drop_table(_TABLE)
