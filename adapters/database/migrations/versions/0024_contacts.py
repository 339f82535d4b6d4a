"""A tenant's contacts: one row per person, by the identity of their number (as conversations are), with
the tenant's name, attributes, tags and notes for them and the profile name from their messages.

Tags and attributes are JSON documents (JSONB on PostgreSQL). The table holds tenant data: row-level
security forced, with the policy every tenant table has. The downgrade drops it, and the contacts with it.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0024"
down_revision: str | Sequence[str] | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)
Document = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

# As 0009's policies: the settings read once per statement.
_VISIBLE = (
    "(CASE WHEN (SELECT current_setting('app.cross_tenant', true) = 'on') "
    "OR tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid) "
    "THEN true END) IS NOT UNKNOWN"
)


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("identity", sa.String(16), nullable=False),
        sa.Column("phone_number", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("profile_name", sa.Text(), nullable=True),
        sa.Column("attributes", Document, nullable=False),
        sa.Column("tags", Document, nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_contacts"),
        sa.UniqueConstraint("tenant_id", "identity", name="uq_contacts_tenant_id_identity"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_contacts_tenant_id_tenants", ondelete="CASCADE"
        ),
    )
    op.create_index(
        "ix_contacts_recent",
        "contacts",
        ["tenant_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE contacts ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE contacts FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON contacts USING ({_VISIBLE}) WITH CHECK ({_VISIBLE})")


def downgrade() -> None:
    op.drop_index("ix_contacts_recent", table_name="contacts")
    op.drop_table("contacts")
