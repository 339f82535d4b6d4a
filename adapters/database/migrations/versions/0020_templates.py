"""The template catalogue: each tenant's templates, and where each one exists.

``templates`` holds a template by tenant, name and language, its components and examples as a document
(adapters/database/template_document.py). ``template_listings`` holds one row per provider account the
template was created on (account NULL: the sandbox), keyed by the provider's id for it, with its status
and quality. A listing goes with its template and with its account (ON DELETE CASCADE): the provider's
template is out of reach once the account is. Both hold tenant data, so both have row-level security
forced, with the policy every tenant table has. The downgrade drops both, and the catalogue with them.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)

# As 0009's policies: the settings read once per statement.
_VISIBLE = (
    "(CASE WHEN (SELECT current_setting('app.cross_tenant', true) = 'on') "
    "OR tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid) "
    "THEN true END) IS NOT UNKNOWN"
)
_TABLES = ("templates", "template_listings")


def upgrade() -> None:
    op.create_table(
        "templates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_templates"),
        sa.UniqueConstraint("tenant_id", "name", "language", name="uq_templates_tenant_id_name_language"),
        sa.UniqueConstraint("tenant_id", "id", name="uq_templates_tenant_id_id"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_templates_tenant_id_tenants", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "template_listings",
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("provider_template_id", sa.String(64), nullable=False),
        sa.Column("template_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("quality", sa.String(16), nullable=True),
        sa.Column("status_changed_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("provider", "provider_template_id", name="pk_template_listings"),
        sa.UniqueConstraint("template_id", "account_id", name="uq_template_listings_template_id_account_id"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "template_id"],
            ["templates.tenant_id", "templates.id"],
            name="fk_template_listings_tenant_id_templates",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "account_id"],
            ["provider_accounts.tenant_id", "provider_accounts.id"],
            name="fk_template_listings_tenant_id_provider_accounts",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "uq_template_listings_sandbox",
        "template_listings",
        ["template_id"],
        unique=True,
        postgresql_where=sa.text("account_id IS NULL"),
        sqlite_where=sa.text("account_id IS NULL"),
    )
    op.create_index("ix_template_listings_account", "template_listings", ["tenant_id", "account_id"])
    if op.get_bind().dialect.name == "postgresql":
        for table in _TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} USING ({_VISIBLE}) WITH CHECK ({_VISIBLE})"
            )


def downgrade() -> None:
    op.drop_index("ix_template_listings_account", table_name="template_listings")
    op.drop_index("uq_template_listings_sandbox", table_name="template_listings")
    op.drop_table("template_listings")
    op.drop_table("templates")
