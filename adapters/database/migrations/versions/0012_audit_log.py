"""The audit trail: an append-only table, with row-level security like every table of tenant data.

On PostgreSQL the application's role may read (its tenant's rows, as everywhere) and append, but not
change or delete: UPDATE, DELETE and TRUNCATE are revoked from every role but the owner, and no
row-level policy admits an UPDATE. Entries past the retention are deleted through one function,
``purge_audit_log(before)``, which runs as the owner (SECURITY DEFINER) and never deletes an entry
younger than 30 days, whatever it is asked (domain.administration.audit.MIN_RETENTION); only the
roles that may append may call it. The owner's own DELETE is bound by the same 30 days (a policy for
it alone), so a purge cannot reach further through the function either. SQLite has no roles: the table only.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)

# As 0009's policies: the settings read once per statement.
_VISIBLE = (
    "(CASE WHEN (SELECT current_setting('app.cross_tenant', true) = 'on') "
    "OR tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid) "
    "THEN true END) IS NOT UNKNOWN"
)
_MIN_RETENTION = "interval '30 days'"

_PURGE_FUNCTION = """
CREATE FUNCTION purge_audit_log(before timestamptz) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH purged AS (
        DELETE FROM public.audit_log WHERE occurred_at < least(before, now() - interval '30 days')
        RETURNING 1
    )
    SELECT count(*) FROM purged
$$
"""

# The roles other than the owner that were granted the table (by default privileges the owner set with
# `db grant-app-role`): they lose UPDATE, DELETE and TRUNCATE, and may call the purge.
_CONFINE_GRANTEES = """
DO $$
DECLARE
    grantee_name text;
BEGIN
    FOR grantee_name IN
        SELECT DISTINCT grantee FROM information_schema.role_table_grants
        WHERE table_schema = 'public' AND table_name = 'audit_log'
          AND grantee NOT IN (current_user, 'PUBLIC')
    LOOP
        EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM %I', grantee_name);
        EXECUTE format('GRANT EXECUTE ON FUNCTION purge_audit_log(timestamptz) TO %I', grantee_name);
    END LOOP;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", Timestamp, nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("actor_type", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_role", sa.String(32), nullable=True),
        sa.Column("target_type", sa.String(32), nullable=True),
        sa.Column("target_id", sa.String(64), nullable=True),
        sa.Column("client_address", sa.String(100), nullable=True),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_tenant", "audit_log", ["tenant_id", "occurred_at", "id"])
    op.create_index("ix_audit_log_occurred_at", "audit_log", ["occurred_at", "id"])
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE audit_log FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON audit_log FOR SELECT USING ({_VISIBLE})")
    op.execute(f"CREATE POLICY tenant_isolation_append ON audit_log FOR INSERT WITH CHECK ({_VISIBLE})")
    # No policy admits an UPDATE; a DELETE only by the owner (through purge_audit_log) and only of
    # entries past the minimum retention.
    op.execute(
        "CREATE POLICY purge_past_retention ON audit_log FOR DELETE TO CURRENT_USER "
        f"USING (occurred_at < now() - {_MIN_RETENTION})"
    )
    op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC")
    op.execute(_PURGE_FUNCTION)
    op.execute("REVOKE ALL ON FUNCTION purge_audit_log(timestamptz) FROM PUBLIC")
    op.execute(_CONFINE_GRANTEES)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS purge_audit_log(timestamptz)")
    op.drop_index("ix_audit_log_occurred_at", table_name="audit_log")
    op.drop_index("ix_audit_log_tenant", table_name="audit_log")
    op.drop_table("audit_log")
