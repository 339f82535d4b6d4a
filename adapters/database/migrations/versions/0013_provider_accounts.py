"""Provider accounts: a tenant holds accounts at Twilio and Meta, and each sender sends through one.

Each tenant's Twilio credentials (``tenant_credentials``, one row per tenant) become its first Twilio
account, with the same sealed secrets (they were sealed for the tenant, and still are), and the
senders of a tenant whose provider is Twilio send through it. Senders gain the account they send
through and the provider's id of their number (Meta's phone-number id, unique). The downgrade puts
each tenant's first Twilio account back as its credentials; Meta accounts have no place there and
are dropped, with their senders' links.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)

# As 0009's policies: the settings read once per statement.
_VISIBLE = (
    "(CASE WHEN (SELECT current_setting('app.cross_tenant', true) = 'on') "
    "OR tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid) "
    "THEN true END) IS NOT UNKNOWN"
)

# Untyped columns: values go across exactly as they were read (SQLite's timestamps are text). The new
# account's id is made here: typed, so it is written as each dialect stores a UUID (SQLite's driver
# takes no uuid.UUID).
_credentials = sa.table(
    "tenant_credentials",
    *(
        sa.column(name)
        for name in (
            "tenant_id",
            "account_sid",
            "auth_token_sealed",
            "api_key_sid",
            "api_key_secret_sealed",
            "updated_at",
        )
    ),
)
_accounts = sa.table(
    "provider_accounts",
    sa.column("id", sa.Uuid()),
    *(
        sa.column(name)
        for name in (
            "tenant_id",
            "provider",
            "label",
            "external_id",
            "api_key_sid",
            "secret_sealed",
            "second_secret_sealed",
            "created_at",
            "updated_at",
        )
    ),
)
_senders = sa.table("senders", sa.column("tenant_id"), sa.column("account_id", sa.Uuid()))
_tenants = sa.table("tenants", sa.column("id"), sa.column("provider"))


def upgrade() -> None:
    op.create_table(
        "provider_accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("api_key_sid", sa.String(34), nullable=True),
        sa.Column("graph_api_version", sa.String(16), nullable=True),
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("second_secret_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("verify_token_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_provider_accounts"),
        sa.UniqueConstraint("tenant_id", "id", name="uq_provider_accounts_tenant_id_id"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name="fk_provider_accounts_tenant_id_tenants",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_provider_accounts_tenant", "provider_accounts", ["tenant_id", "provider"])
    with op.batch_alter_table("senders") as batch:
        batch.add_column(sa.Column("account_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("provider_number_id", sa.String(32), nullable=True))
        batch.create_foreign_key(
            "fk_senders_tenant_id_provider_accounts",
            "provider_accounts",
            ["tenant_id", "account_id"],
            ["tenant_id", "id"],
        )
    op.create_index(
        "uq_senders_provider_number_id",
        "senders",
        ["provider_number_id"],
        unique=True,
        postgresql_where=sa.text("provider_number_id IS NOT NULL"),
        sqlite_where=sa.text("provider_number_id IS NOT NULL"),
    )
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        op.execute("ALTER TABLE provider_accounts ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE provider_accounts FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON provider_accounts USING ({_VISIBLE}) WITH CHECK ({_VISIBLE})"
        )
    # Row-level security is forced on the owner too: see every tenant's rows while migrating.
    was = _cross_tenant(connection, "on")
    for row in connection.execute(sa.select(_credentials)).mappings().all():
        account_id = uuid.uuid4()
        connection.execute(
            sa.insert(_accounts).values(
                id=account_id,
                tenant_id=row["tenant_id"],
                provider="twilio",
                label="Twilio",
                external_id=row["account_sid"],
                api_key_sid=row["api_key_sid"],
                secret_sealed=row["auth_token_sealed"],
                second_secret_sealed=row["api_key_secret_sealed"],
                created_at=row["updated_at"],
                updated_at=row["updated_at"],
            )
        )
        connection.execute(
            sa.update(_senders)
            .where(
                _senders.c.tenant_id == row["tenant_id"],
                sa.exists().where(_tenants.c.id == row["tenant_id"], _tenants.c.provider == "twilio"),
            )
            .values(account_id=account_id)
        )
    _cross_tenant(connection, was)
    op.drop_table("tenant_credentials")


def downgrade() -> None:
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
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        op.execute("ALTER TABLE tenant_credentials ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE tenant_credentials FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON tenant_credentials USING ({_VISIBLE}) WITH CHECK ({_VISIBLE})"
        )
    was = _cross_tenant(connection, "on")
    first_twilio_accounts = (
        sa.select(_accounts)
        .where(_accounts.c.provider == "twilio")
        .order_by(_accounts.c.tenant_id, _accounts.c.created_at, _accounts.c.id)
    )
    seen: set[object] = set()
    for row in connection.execute(first_twilio_accounts).mappings().all():
        if row["tenant_id"] in seen:
            continue
        seen.add(row["tenant_id"])
        connection.execute(
            sa.insert(_credentials).values(
                tenant_id=row["tenant_id"],
                account_sid=row["external_id"],
                auth_token_sealed=row["secret_sealed"],
                api_key_sid=row["api_key_sid"],
                api_key_secret_sealed=row["second_secret_sealed"],
                updated_at=row["updated_at"],
            )
        )
    _cross_tenant(connection, was)
    op.drop_index("uq_senders_provider_number_id", table_name="senders")
    with op.batch_alter_table("senders") as batch:
        batch.drop_constraint("fk_senders_tenant_id_provider_accounts", type_="foreignkey")
        batch.drop_column("provider_number_id")
        batch.drop_column("account_id")
    op.drop_index("ix_provider_accounts_tenant", table_name="provider_accounts")
    op.drop_table("provider_accounts")


def _cross_tenant(connection: sa.Connection, value: str) -> str:
    """Set ``app.cross_tenant`` for the rest of the transaction (PostgreSQL); returns what it was."""
    if connection.dialect.name != "postgresql":
        return ""
    was = connection.execute(sa.select(sa.func.current_setting("app.cross_tenant", True))).scalar()
    connection.execute(sa.select(sa.func.set_config("app.cross_tenant", value, True)))
    return str(was or "")
