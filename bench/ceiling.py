"""The ceiling: a bare Litestar app on a psycopg AsyncConnectionPool, nothing else.

``POST /insert`` decodes a small JSON body and inserts one row (one statement, one commit);
``GET /page`` reads a 50-row keyset page (``?at=<iso>&id=<uuid>``, or the newest page) from a table
seeded with 200,000 rows. Both do what the gateway's accept and history paths do at the very least,
with no authentication, no ORM, no dependency injection: the fastest a Python process can answer
these requests on this machine. Run by the run's HTTP server (``--server``: granian or uvicorn) with
the gateway's worker count, e.g.:

    CEILING_DATABASE_URL=postgresql://... uvicorn bench.ceiling:create_app --factory --workers 2
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated

import msgspec
import psycopg
from litestar import Litestar, get, post
from litestar.params import QueryParameter
from psycopg_pool import AsyncConnectionPool

PAGE_SIZE = 50
TENANT = uuid.UUID("00000000-0000-4000-8000-00000000ce11")

SCHEMA = """
CREATE TABLE IF NOT EXISTS ceiling_rows (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    direction varchar(16) NOT NULL,
    status varchar(16) NOT NULL,
    sender_number varchar(16) NOT NULL,
    contact_number varchar(16) NOT NULL,
    body text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_ceiling_rows_page ON ceiling_rows (tenant_id, created_at DESC, id DESC);
"""

SEED = """
INSERT INTO ceiling_rows
SELECT gen_random_uuid(), %(tenant)s, CASE WHEN i %% 10 < 7 THEN 'outbound' ELSE 'inbound' END,
       'delivered', '+14155238886', '+1415555' || lpad((i %% 1000)::text, 4, '0'),
       'Seeded message number ' || i || ': your order has shipped and will arrive tomorrow',
       now() - make_interval(secs => (%(rows)s - i) * 10), now() - make_interval(secs => (%(rows)s - i) * 10)
FROM generate_series(1, %(rows)s) AS i
"""

INSERT = (
    "INSERT INTO ceiling_rows (id, tenant_id, direction, status, sender_number, contact_number, body, "
    "created_at, updated_at) VALUES (%s, %s, 'outbound', 'accepted', '+14155238886', %s, %s, %s, %s)"
)
PAGE = (
    "SELECT id, tenant_id, direction, status, sender_number, contact_number, body, created_at, updated_at "
    "FROM ceiling_rows WHERE tenant_id = %s AND (created_at, id) < (%s, %s) "
    "ORDER BY created_at DESC, id DESC LIMIT %s"
)
NEWEST = (
    "SELECT id, tenant_id, direction, status, sender_number, contact_number, body, created_at, updated_at "
    "FROM ceiling_rows WHERE tenant_id = %s ORDER BY created_at DESC, id DESC LIMIT %s"
)


class InsertRequest(msgspec.Struct, forbid_unknown_fields=True):
    to_number: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    body: Annotated[str, msgspec.Meta(max_length=4096)] = ""


class Row(msgspec.Struct):
    id: uuid.UUID
    tenant_id: uuid.UUID
    direction: str
    status: str
    sender_number: str
    contact_number: str
    body: str
    created_at: datetime
    updated_at: datetime


class Page(msgspec.Struct):
    items: list[Row]


def seed(url: str, rows: int) -> None:
    """Create the table and fill it with ``rows`` rows of one tenant (run once, before the server starts)."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(SCHEMA)
        connection.execute(SEED, {"tenant": TENANT, "rows": rows})
        connection.execute("VACUUM ANALYZE ceiling_rows")


def create_app() -> Litestar:
    url = os.environ["CEILING_DATABASE_URL"]
    pool = AsyncConnectionPool(
        url, min_size=1, max_size=int(os.environ.get("CEILING_POOL_SIZE", "10")), open=False
    )

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await pool.open()
        try:
            yield
        finally:
            await pool.close()

    @post("/insert", status_code=201)
    async def insert(data: InsertRequest) -> dict[str, str]:
        row_id = uuid.uuid4()
        now = datetime.now(UTC)
        async with pool.connection() as connection:
            await connection.execute(INSERT, (row_id, TENANT, data.to_number, data.body, now, now))
        return {"id": str(row_id), "status": "accepted"}

    @get("/page")
    async def page(
        at: Annotated[datetime | None, QueryParameter()] = None,
        id: Annotated[uuid.UUID | None, QueryParameter()] = None,
    ) -> Page:
        async with pool.connection() as connection:
            if at is not None and id is not None:
                cursor = await connection.execute(PAGE, (TENANT, at, id, PAGE_SIZE + 1))
            else:
                cursor = await connection.execute(NEWEST, (TENANT, PAGE_SIZE + 1))
            rows = await cursor.fetchall()
        return Page(items=[Row(*row) for row in rows[:PAGE_SIZE]])

    @get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return Litestar(route_handlers=[insert, page, healthz], lifespan=[lifespan], debug=False)
