"""Announce every change that could revoke access: NOTIFY wa_gateway_access (PostgreSQL only).

API processes keep recent session checks in memory (adapters/database/access_cache.py) and empty them
when this channel speaks. A statement-level trigger on the tables a session check reads (sessions,
users, tenants) notifies after any UPDATE, DELETE or TRUNCATE, whoever runs it: no write path can
forget to. PostgreSQL sends the notification when the transaction commits, and folds identical ones
of one transaction into one. Inserts need none: a new row revokes nothing that was cached.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACCESS_TABLES = ("auth_sessions", "users", "tenants")
_FUNCTION = "wa_gateway_access_changed"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('wa_gateway_access', TG_TABLE_NAME);
            RETURN NULL;
        END
        $$
        """
    )
    for table in ACCESS_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_access_changed AFTER UPDATE OR DELETE OR TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {_FUNCTION}()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in ACCESS_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_access_changed ON {table}")
    op.execute(f"DROP FUNCTION IF EXISTS {_FUNCTION}()")
