"""Throwaway databases on the local PostgreSQL, and fast seeding of message histories."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg
from psycopg import sql

ADMIN_URL = os.environ.get("BENCH_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def database_url(name: str, role: AppRole | None = None) -> str:
    """The database as the server's admin, or as ``role``."""
    base, _, _ = ADMIN_URL.rpartition("/")
    if role is None:
        return f"{base}/{name}"
    scheme, _, rest = base.partition("://")
    host = rest.rpartition("@")[2]
    return f"{scheme}://{role.name}:{role.password}@{host}/{name}"


@dataclass(frozen=True)
class AppRole:
    """The role the gateway connects as, as in production: no superuser, no BYPASSRLS, owns nothing."""

    name: str
    password: str


@contextmanager
def throwaway_app_role(prefix: str, keep: bool = False) -> Iterator[AppRole]:
    """A role name and password for `wa-gateway db upgrade --grant-app-role` to create; dropped on
    leaving (unless ``keep``), which must come after every database it was granted in is gone."""
    role = AppRole(name=f"{prefix}_{secrets.token_hex(4)}", password=secrets.token_hex(16))
    try:
        yield role
    finally:
        if not keep:
            with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
                connection.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role.name)))


@contextmanager
def throwaway_database(prefix: str, keep: bool = False) -> Iterator[str]:
    """A new database with a random name, dropped on leaving (unless ``keep``)."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        if not keep:
            with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
                connection.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


def server_facts() -> dict[str, str]:
    """The server's version and the settings that matter for these numbers."""
    names = (
        "shared_buffers",
        "max_connections",
        "synchronous_commit",
        "fsync",
        "wal_level",
        "work_mem",
        "effective_cache_size",
    )
    with psycopg.connect(ADMIN_URL) as connection:
        version = connection.execute("SHOW server_version").fetchone()
        rows = connection.execute(
            "SELECT name, setting, coalesce(unit, '') FROM pg_settings WHERE name = ANY(%s)", (list(names),)
        ).fetchall()
    facts = {"server_version": str(version[0]) if version else "?"}
    facts.update({name: f"{setting}{' ' + unit if unit else ''}" for name, setting, unit in rows})
    return facts


def other_activity() -> int:
    """Sessions on the server that are not ours and not idle: they would skew the numbers."""
    with psycopg.connect(ADMIN_URL) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() "
            "AND datname IS NOT NULL AND datname NOT LIKE 'wa\\_bench%%'"
        ).fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True, slots=True)
class HistoryTenant:
    tenant_id: UUID
    sender: str
    messages: int


# One row of the messages table as the gateway's schema has it (adapters/database/tables.py).
# 70 % outbound (mostly delivered or read, some failed), 30 % inbound; 1,000 contacts per tenant.
_ROWS = """
SELECT gen_random_uuid() AS id, t.tenant_id, s.i, t.sender, t.step, t.origin
FROM (VALUES {values}) AS t(tenant_id, sender, total, step, origin)
CROSS JOIN LATERAL generate_series(
    (t.total::bigint * %(lo)s) / %(chunks)s + 1, (t.total::bigint * %(hi)s) / %(chunks)s) AS s(i)
"""

_INSERT = """
INSERT INTO messages (id, tenant_id, direction, status, sender_number, contact_number, body, media_urls,
                      provider_sid, error_code, error_message, content_sid, content_variables,
                      profile_name, wa_id, created_at, updated_at)
SELECT r.id, r.tenant_id,
       CASE WHEN r.i %% 10 < 7 THEN 'outbound' ELSE 'inbound' END,
       CASE WHEN r.i %% 10 >= 7 THEN 'received'
            WHEN r.i %% 50 = 0 THEN 'failed'
            WHEN r.i %% 10 < 4 THEN 'read'
            ELSE 'delivered' END,
       r.sender,
       '+1415555' || lpad((r.i %% 1000)::text, 4, '0'),
       'Message ' || r.i || ': your order #' || (r.i * 7919 %% 100000) || ' has shipped and arrives tomorrow',
       '[]'::json,
       'SM' || replace(r.id::text, '-', ''),
       CASE WHEN r.i %% 50 = 0 AND r.i %% 10 < 7 THEN 63016 END,
       CASE WHEN r.i %% 50 = 0 AND r.i %% 10 < 7 THEN 'Outside the allowed window' END,
       NULL, NULL,
       CASE WHEN r.i %% 10 >= 7 THEN 'Customer ' || (r.i %% 1000) END,
       CASE WHEN r.i %% 10 >= 7 THEN '1415555' || lpad((r.i %% 1000)::text, 4, '0') END,
       r.origin + make_interval(secs => r.i * r.step),
       r.origin + make_interval(secs => r.i * r.step + 2)
FROM ({rows}) AS r
ORDER BY 16
"""


def seed_histories(
    url: str,
    tenants: Sequence[HistoryTenant],
    *,
    origin: datetime,
    span_seconds: float,
    progress: Callable[[str], None] = print,
) -> float:
    """Insert each tenant's ``messages`` rows, interleaved in time over ``span_seconds`` after ``origin``
    (so one tenant's page is spread over the table as in real life); returns the seconds it took.

    Secondary indexes are dropped during the load and rebuilt after it (faster than maintaining them
    row by row), foreign-key triggers are skipped (the rows reference tenants that exist), and the table
    is vacuumed and analyzed at the end, so the benchmark does not measure hint-bit writes.
    """
    started = time.monotonic()
    total = sum(t.messages for t in tenants)
    chunks = max(1, total // 250_000)
    values = ", ".join(
        sql.SQL("({}::uuid, {}, {}, {}::float8, {}::timestamptz)")
        .format(
            sql.Literal(str(t.tenant_id)),
            sql.Literal(t.sender),
            sql.Literal(t.messages),
            sql.Literal(span_seconds / t.messages),
            sql.Literal(origin.isoformat()),
        )
        .as_string()
        for t in tenants
    )
    statement = _INSERT.replace("{rows}", _ROWS.replace("{values}", values))
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SET synchronous_commit = off")
        connection.execute("SET session_replication_role = replica")  # no FK trigger per row
        connection.execute("SET maintenance_work_mem = '512MB'")
        connection.execute("SET work_mem = '64MB'")
        indexes = connection.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "JOIN pg_class c ON c.relname = i.indexname "
            "LEFT JOIN pg_constraint k ON k.conindid = c.oid "
            "WHERE i.tablename = 'messages' AND i.schemaname = current_schema() AND k.oid IS NULL"
        ).fetchall()
        for name, _ in indexes:
            connection.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        for chunk in range(chunks):
            connection.execute(statement, {"lo": chunk, "hi": chunk + 1, "chunks": chunks})
            if chunks > 1 and (chunk + 1) % max(1, chunks // 10) == 0:
                progress(f"  seeded {total * (chunk + 1) // chunks:,} of {total:,} messages")
        for _, definition in indexes:
            connection.execute(definition)
        connection.execute("VACUUM (ANALYZE) messages")
    return time.monotonic() - started


def sample_positions(url: str, tenant_id: UUID, count: int) -> list[tuple[datetime, UUID]]:
    """``count`` random (created_at, id) positions of the tenant's messages, for history cursors."""
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT created_at, id FROM messages TABLESAMPLE SYSTEM (5) WHERE tenant_id = %s "
            "ORDER BY random() LIMIT %s",
            (tenant_id, count),
        ).fetchall()
        if len(rows) < count:
            rows = connection.execute(
                "SELECT created_at, id FROM messages WHERE tenant_id = %s ORDER BY random() LIMIT %s",
                (tenant_id, count),
            ).fetchall()
    return [(row[0], row[1]) for row in rows]


def sessions_opened(url: str) -> int:
    """Sessions ever opened on the database (pg_stat_database, PostgreSQL 14+): connection churn."""
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]) if row and row[0] is not None else 0
