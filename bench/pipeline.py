"""Client CPU of one round trip of several statements: psycopg's pipeline mode against the gateway's
own pipeline (adapters/database/pipeline.py: the statements queued in libpq and flushed once with
their Sync), on one connection, with no other load.

    uv run python -m bench.pipeline
    uv run python -m bench.pipeline --database-url postgresql://postgres@127.0.0.1/test --rounds 5000

The transaction measured is the accept's shape: BEGIN, the tenant setting, an INSERT ... RETURNING
into a temporary table, COMMIT. CPU is this process's (``time.process_time``), per transaction.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import uuid4

import psycopg
import uvloop
from psycopg.rows import tuple_row

from adapters.database.pipeline import native_statement, run_in_one_round_trip

STATEMENTS = (
    "BEGIN",
    "SELECT set_config('app.tenant_id', %(tenant)s, true)",
    "INSERT INTO pipeline_bench (id, tenant_id, body, created_at) "
    "VALUES (%(id)s, %(tenant)s, %(body)s, now()) RETURNING id, created_at",
    "COMMIT",
)
Transaction = Callable[[psycopg.AsyncConnection[Any], dict[str, Any]], Awaitable[list[Any]]]


async def psycopg_pipeline(driver: psycopg.AsyncConnection[Any], arguments: dict[str, Any]) -> list[Any]:
    cursors = []
    async with driver.pipeline():
        for statement in STATEMENTS:
            cursor = driver.cursor(row_factory=tuple_row)
            _, used = native_statement(statement)
            await cursor.execute(statement, {name: arguments[name] for name in used} or None)
            cursors.append(cursor)
    return await cursors[2].fetchall()


async def one_flush(driver: psycopg.AsyncConnection[Any], arguments: dict[str, Any]) -> list[Any]:
    return await run_in_one_round_trip(driver, STATEMENTS, arguments, result=2, as_dicts=False, prepares=True)


def _arguments() -> dict[str, Any]:
    return {"tenant": str(uuid4()), "id": uuid4(), "body": "Your order has shipped."}


async def _measure(
    driver: psycopg.AsyncConnection[Any], transaction: Transaction, rounds: int
) -> tuple[float, float]:
    for _ in range(rounds // 10):  # warm-up: statements prepared, caches filled
        await transaction(driver, _arguments())
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(rounds):
        await transaction(driver, _arguments())
    return (time.process_time() - cpu) / rounds * 1e6, (time.perf_counter() - wall) / rounds * 1e6


async def main(database_url: str, rounds: int, repeats: int) -> None:
    driver = await psycopg.AsyncConnection.connect(database_url, autocommit=True, prepare_threshold=0)
    try:
        await driver.execute(
            "CREATE TEMPORARY TABLE pipeline_bench "
            "(id uuid PRIMARY KEY, tenant_id text, body text, created_at timestamptz)"
        )
        print(f"{rounds:,} transactions of {len(STATEMENTS)} statements each, best of {repeats}")
        print(f"{'way':<28}{'client CPU µs':>14}{'wall µs':>10}")
        for name, transaction in (
            ("psycopg pipeline mode", psycopg_pipeline),
            ("one flush (pipeline.py)", one_flush),
        ):
            cpu, wall = min([await _measure(driver, transaction, rounds) for _ in range(repeats)])
            print(f"{name:<28}{cpu:>14.1f}{wall:>10.1f}")
    finally:
        await driver.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1/test")
    parser.add_argument("--rounds", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    uvloop.run(main(options.database_url, options.rounds, options.repeats))
