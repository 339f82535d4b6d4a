"""The two PostgreSQL roles: the owner, that migrates, and the application's role, that RLS confines.

Row-level security binds a role only if it is not a superuser, has no BYPASSRLS and (unless the table
forces RLS, as ours do) owns no table. ``grant_app_role`` gives a role exactly what the gateway
needs, run as the owner; ``inspect_connected_role`` tells at start-up whether RLS is in force.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.database.engine import sync_connection


class RoleNotUsable(Exception):
    """The role cannot be the application's role; the message says why."""


@dataclass(frozen=True, slots=True)
class RoleCheck:
    name: str
    superuser: bool
    bypasses_rls: bool
    owned_tables: int

    @property
    def rls_in_force(self) -> bool:
        # Our tables force RLS, so owning one does not exempt the role; it could drop the policies, though.
        return not (self.superuser or self.bypasses_rls)

    @property
    def problems(self) -> list[str]:
        found = []
        if self.superuser:
            found.append("is a superuser")
        if self.bypasses_rls:
            found.append("has BYPASSRLS")
        if self.owned_tables:
            found.append(f"owns {self.owned_tables} table(s), so it may alter or disable their policies")
        return found


# The attributes that decide whether RLS binds a role.
_ROLE_ATTRIBUTES = (
    "SELECT r.rolname AS name, r.rolsuper AS superuser, r.rolbypassrls AS bypasses_rls, "
    "(SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid AND c.relkind IN ('r', 'p') "
    " AND c.relnamespace = 'public'::regnamespace) AS owned_tables "
    "FROM pg_roles r WHERE r.rolname = "
)
_CONNECTED_ROLE = sa.text(_ROLE_ATTRIBUTES + "current_user")
_NAMED_ROLE = sa.text(_ROLE_ATTRIBUTES + ":role")


def _check_from_row(row: sa.Row[Any]) -> RoleCheck:
    return RoleCheck(
        name=row.name,
        superuser=row.superuser,
        bypasses_rls=row.bypasses_rls,
        owned_tables=int(row.owned_tables),
    )


async def inspect_connected_role(engine: AsyncEngine) -> RoleCheck | None:
    """The role the engine connects as; None on SQLite, which has no roles."""
    if engine.dialect.name != "postgresql":
        return None
    async with engine.connect() as connection:
        row = (await connection.execute(_CONNECTED_ROLE)).one()
    return _check_from_row(row)


def grant_app_role(owner_url: str, role: str, *, create_with_password: str | None = None) -> RoleCheck:
    """As the owner of the schema: let ``role`` read and write every table, now and after later migrations
    (the audit trail: read and append only).

    With ``create_with_password``, a missing role is created first (the owner needs CREATEROLE for it).
    """
    with sync_connection(owner_url) as connection:
        if connection.dialect.name != "postgresql":
            raise RoleNotUsable("roles exist on PostgreSQL only; SQLite needs no grants")
        quoted = connection.dialect.identifier_preparer.quote(role)
        row = connection.execute(_NAMED_ROLE, {"role": role}).one_or_none()
        if row is None and create_with_password is not None:
            # CREATE ROLE takes no bind parameters: the password goes in as an escaped literal.
            password = sa.literal(create_with_password, sa.String()).compile(
                dialect=connection.dialect, compile_kwargs={"literal_binds": True}
            )
            connection.execute(
                sa.text(
                    f"CREATE ROLE {quoted} LOGIN PASSWORD {password} "
                    "NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"
                )
            )
            row = connection.execute(_NAMED_ROLE, {"role": role}).one()
        if row is None:
            raise RoleNotUsable(f"there is no role {role!r}: CREATE ROLE {role} LOGIN PASSWORD '...' first")
        check = _check_from_row(row)
        if check.problems:
            raise RoleNotUsable(
                f"{role!r} {' and '.join(check.problems)}: row-level security would not bind it"
            )
        quoted = connection.dialect.identifier_preparer.quote(role)
        for statement in (
            f"GRANT USAGE ON SCHEMA public TO {quoted}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}",
            # Tables and sequences later migrations create (as this same owner) are granted too.
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {quoted}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {quoted}",
        ):
            connection.execute(sa.text(statement))
        # The schema's version is the owner's to write; the application only reads it.
        if connection.execute(sa.text("SELECT to_regclass('alembic_version')")).scalar() is not None:
            connection.execute(
                sa.text(f"REVOKE INSERT, UPDATE, DELETE ON TABLE alembic_version FROM {quoted}")
            )
        # The audit trail is appended to, never changed; past the retention it is purged through the
        # owner's function only (migration 0012).
        if connection.execute(sa.text("SELECT to_regclass('audit_log')")).scalar() is not None:
            connection.execute(sa.text(f"REVOKE UPDATE, DELETE, TRUNCATE ON TABLE audit_log FROM {quoted}"))
            connection.execute(sa.text(f"GRANT EXECUTE ON FUNCTION purge_audit_log(timestamptz) TO {quoted}"))
        return check
