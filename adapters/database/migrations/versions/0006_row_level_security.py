"""Row-level security on every table holding tenant data (PostgreSQL only; SQLite has none).

Each table with a ``tenant_id`` column shows a row only while the transaction has ``app.tenant_id``
set to that tenant, or ``app.cross_tenant`` set to ``on`` (adapters/database/tenant_scope.py sets
them, transaction-local). A setting that is unset or empty matches no row and raises nothing.
Tables that belong to a tenant through a parent (refresh tokens, delivery attempts) show a row while
its parent row is visible. FORCE makes the policies apply to the tables' owner too.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The schema as of this revision; a later table with tenant data enables RLS in its own migration
# (tests/integration/test_row_level_security.py fails any tenant table without it).
TENANT_TABLES = (
    "tenant_credentials",
    "senders",
    "users",
    "messages",
    "message_status_events",
    "conversations",
    "dispatch_jobs",
    "idempotency_keys",
    "webhook_endpoints",
    "webhook_deliveries",
    "auth_sessions",
    "api_keys",
)
# child table -> (parent table, the child's column referring to the parent's id)
CHILD_TABLES = {
    "refresh_tokens": ("auth_sessions", "session_id"),
    "webhook_delivery_attempts": ("webhook_deliveries", "delivery_id"),
}

# Visible: cross-tenant access is on, or the row is the bound tenant's. An unset or empty setting makes
# the CASE NULL, so the row is hidden and nothing raises. Spelled as "CASE ... END IS NOT UNKNOWN", not
# as a plain OR, for the planner: it estimates an OR with the tenant column at 1/(number of tenants)
# of the rows, which turns history pages into bitmap scans and sorts; this form it estimates at ~1, so
# plans stay what they are without RLS (the query's own tenant filter drives the index).
_VISIBLE = (
    "(CASE WHEN current_setting('app.cross_tenant', true) = 'on' "
    "OR tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid THEN true END) IS NOT UNKNOWN"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TENANT_TABLES:
        _protect(table)
        _policy(table, "tenant_isolation", _VISIBLE)
    for table, (parent, column) in CHILD_TABLES.items():
        _protect(table)
        # The parent's own policies decide whether the parent row is visible.
        parent_visible = f"EXISTS (SELECT 1 FROM {parent} WHERE {parent}.id = {table}.{column})"  # noqa: S608
        _policy(table, "tenant_isolation", parent_visible)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in (*TENANT_TABLES, *CHILD_TABLES):
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")


def _protect(table: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def _policy(table: str, name: str, condition: str) -> None:
    op.execute(f"CREATE POLICY {name} ON {table} USING ({condition}) WITH CHECK ({condition})")
