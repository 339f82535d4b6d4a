"""The one-round-trip statements (adapters/database/pipeline.py) when something goes wrong: a failing
statement, a request cancelled while its statements run, prepared statements that vanished. Each time
the pool's next user gets a connection that works, and nothing half-done is stored."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.database.errors import PersistenceError
from adapters.database.tenant_scope import TenantScope

pytestmark = pytest.mark.postgres

SERIES: sa.Select[Any] = sa.select(sa.literal_column("n")).select_from(
    sa.text("generate_series(1, :last) AS n")
)
SLOW: sa.Select[Any] = sa.select(sa.literal_column("1")).select_from(sa.text("pg_sleep(:seconds) AS slept"))
FAILING: sa.Select[Any] = sa.select(sa.literal_column("n")).select_from(
    sa.text("(SELECT 1 / (:divisor - :divisor) AS n) AS q")
)
PERCENT: sa.Select[Any] = sa.select(sa.literal_column("t")).select_from(
    sa.text("(SELECT '100%' || :suffix AS t) AS q")
)


async def read(engine: AsyncEngine, statement: sa.Select[Any], parameters: dict[str, Any]) -> list[Any]:
    async with engine.connect() as connection:
        rows = await TenantScope(connection).read_alone(uuid4(), statement, parameters)
    assert rows is not None
    return [row[0] for row in rows]


async def test_a_statement_that_fails_leaves_the_connection_usable(one_connection: AsyncEngine) -> None:
    with pytest.raises(PersistenceError) as failed:
        await read(one_connection, FAILING, {"divisor": 3})
    assert isinstance(failed.value.__cause__, psycopg.errors.DivisionByZero)

    assert await read(one_connection, SERIES, {"last": 2}) == [1, 2]


async def test_a_request_cancelled_while_its_statements_run_leaves_no_broken_connection_behind(
    one_connection: AsyncEngine,
) -> None:
    reading = asyncio.create_task(read(one_connection, SLOW, {"seconds": 5}))
    await asyncio.sleep(0.3)
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading

    # The pool's only connection was mid-protocol: it was dropped, and the next read gets a new one.
    assert await asyncio.wait_for(read(one_connection, SERIES, {"last": 3}), timeout=5) == [1, 2, 3]


async def test_statements_deallocated_behind_its_back_are_prepared_again(one_connection: AsyncEngine) -> None:
    assert await read(one_connection, SERIES, {"last": 1}) == [1]
    async with one_connection.connect() as connection:
        await connection.execute(sa.text("DEALLOCATE ALL"))
        await connection.commit()

    with pytest.raises(PersistenceError):  # the one request that finds them gone
        await read(one_connection, SERIES, {"last": 1})
    assert await read(one_connection, SERIES, {"last": 2}) == [1, 2]


async def test_a_percent_sign_in_a_statement_is_sent_as_written(one_connection: AsyncEngine) -> None:
    assert await read(one_connection, PERCENT, {"suffix": " sure"}) == ["100% sure"]
