"""Row-level security policies read their settings once per statement, not once per row.

Migration 0006's policies call ``current_setting()`` (and cast the tenant id to uuid) in the row
condition, so PostgreSQL evaluates them for every row a scan fetches: ``count(*)`` over 85,200
messages took 23-56 ms as the application's role against 4-6 ms as the owner. The same condition with
each setting in a scalar sub-select is computed once per statement (an InitPlan): 9-10 ms, with the
same plans and row estimates. Which rows are visible does not change. The settings are set by a
statement of their own before the statements that read them (tenant_scope.py), so a statement's
InitPlan always sees its transaction's setting.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables of 0006 whose rows carry their tenant (the child tables' policies follow their parents).
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

_VISIBLE_ONCE_PER_STATEMENT = (
    "(CASE WHEN (SELECT current_setting('app.cross_tenant', true) = 'on') "
    "OR tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid) "
    "THEN true END) IS NOT UNKNOWN"
)
# 0006's condition, for the downgrade.
_VISIBLE_PER_ROW = (
    "(CASE WHEN current_setting('app.cross_tenant', true) = 'on' "
    "OR tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid THEN true END) IS NOT UNKNOWN"
)


def upgrade() -> None:
    _set_condition(_VISIBLE_ONCE_PER_STATEMENT)


def downgrade() -> None:
    _set_condition(_VISIBLE_PER_ROW)


def _set_condition(condition: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TENANT_TABLES:
        op.execute(f"ALTER POLICY tenant_isolation ON {table} USING ({condition}) WITH CHECK ({condition})")
