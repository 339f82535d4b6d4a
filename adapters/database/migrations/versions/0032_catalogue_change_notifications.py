"""Announce every change to a tenant's template catalogue: NOTIFY wa_gateway_access (PostgreSQL only).

API processes keep the catalogue templates that sends by template name resolve through
(application/messaging/template_sends.py), and trust them while nothing has changed since they were
read. Statement-level triggers on ``templates`` and ``template_listings`` call 0008's function, whose
payload is the table's name, on every write: a template edited, deleted or synced, a listing approved,
paused or disabled by the provider.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0032"
down_revision: str | Sequence[str] | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTION = "wa_gateway_access_changed"  # 0008's: pg_notify('wa_gateway_access', TG_TABLE_NAME)
_TABLES = ("templates", "template_listings")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_catalogue_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {_FUNCTION}()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_catalogue_changed ON {table}")
