"""Round trips to PostgreSQL, counted in libpq's trace of the protocol."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg.pq import Trace
from sqlalchemy.ext.asyncio import AsyncEngine

# A round trip ends with the client's Query (simple protocol) or Sync (extended protocol) message.
_ROUND_TRIP_END = re.compile(r"^F\t\d+\t(Query|Sync)\b", re.MULTILINE)


async def the_driver(engine: AsyncEngine) -> psycopg.AsyncConnection[Any]:
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
    assert isinstance(driver, psycopg.AsyncConnection)
    return driver


@contextmanager
def traced(driver: psycopg.AsyncConnection[Any], path: Path) -> Iterator[list[int]]:
    """Count the round trips ``driver`` makes inside the block (the count is set on leaving it)."""
    counted: list[int] = []
    with path.open("w") as trace:
        driver.pgconn.trace(trace.fileno())
        driver.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)
        try:
            yield counted
        finally:
            driver.pgconn.untrace()
    counted.append(len(_ROUND_TRIP_END.findall(path.read_text())))
