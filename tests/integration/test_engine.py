"""Database URLs and the connection settings the engine applies."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.database.engine import create_database_engine, normalize_database_url, sync_database_url
from adapters.database.tenant_scope import TenantScope


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/app", "postgresql+psycopg://u:p@db:5432/app"),
        ("postgresql://u@db/app?sslmode=require", "postgresql+psycopg://u@db/app?sslmode=require"),
        ("postgresql+psycopg://u@db/app", "postgresql+psycopg://u@db/app"),
        ("sqlite:///data/app.db", "sqlite+aiosqlite:///data/app.db"),
        ("sqlite:////abs/app.db", "sqlite+aiosqlite:////abs/app.db"),
        ("sqlite+aiosqlite:///app.db", "sqlite+aiosqlite:///app.db"),
    ],
)
def test_urls_get_the_async_driver(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected


def test_a_url_without_a_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="postgresql://"):
        normalize_database_url("localhost/app")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p%40ss@db/app", "postgresql+psycopg://u:p%40ss@db/app"),
        ("sqlite:///data/app.db", "sqlite:///data/app.db"),
        ("sqlite+aiosqlite:///data/app.db", "sqlite:///data/app.db"),
    ],
)
def test_migrations_use_a_blocking_driver(given: str, expected: str) -> None:
    assert sync_database_url(given) == expected


async def test_sqlite_gets_its_directory_foreign_keys_wal_and_a_busy_timeout(tmp_path: Path) -> None:
    database = tmp_path / "not" / "yet" / "there.db"
    engine = create_database_engine(f"sqlite:///{database}")
    try:
        async with engine.connect() as connection:
            settings = [
                (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("foreign_keys", "journal_mode", "busy_timeout")
            ]
    finally:
        await engine.dispose()
    assert database.is_file()
    assert settings == [1, "wal", 5000]


async def test_an_in_memory_sqlite_database_works() -> None:
    engine = create_database_engine("sqlite://")
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(sa.select(sa.literal(1)))).scalar() == 1
    finally:
        await engine.dispose()


async def test_a_failed_statement_does_not_quote_its_parameters(tmp_path: Path) -> None:
    # A statement's error goes into tracebacks, and so into the log: it must not carry message bodies
    # or password hashes.
    engine = create_database_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    try:
        async with engine.connect() as connection:
            with pytest.raises(sa.exc.OperationalError) as failure:
                await connection.execute(
                    sa.text("INSERT INTO no_such_table (body) VALUES (:body)"), {"body": "a private message"}
                )
    finally:
        await engine.dispose()
    assert "no_such_table" in str(failure.value)
    assert "a private message" not in str(failure.value)


@pytest.mark.postgres
@pytest.mark.parametrize(("prepared", "threshold"), [(True, 5), (False, None)])
async def test_prepared_statements_can_be_turned_off_for_a_pooler_that_cannot_keep_them(
    postgres_url: str, prepared: bool, threshold: int | None
) -> None:
    engine = create_database_engine(postgres_url, prepared_statements=prepared)
    try:
        async with engine.connect() as connection:
            assert await read_a_page(connection) == [1, 2, 3]
            for _ in range(6):  # past psycopg's threshold: the statement would be prepared by now
                assert (await connection.execute(sa.text("SELECT 1"))).scalar() == 1
            prepared_names = await prepared_statements(connection)
            driver = (await connection.get_raw_connection()).driver_connection
    finally:
        await engine.dispose()
    assert driver is not None
    assert driver.prepare_threshold == threshold
    assert prepared_names > 0 if prepared else prepared_names == 0


@pytest.mark.postgres
async def test_the_one_round_trip_statements_are_prepared_again_after_psycopg_deallocates_them(
    postgres_url: str,
) -> None:
    engine = create_database_engine(postgres_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            assert await read_a_page(connection) == [1, 2, 3]
        async with engine.connect() as connection:  # the same connection, back from the pool
            for _ in range(6):  # psycopg prepares this one, so its ROLLBACK is followed by DEALLOCATE ALL
                assert (await connection.execute(sa.text("SELECT 1"))).scalar() == 1
            await connection.rollback()
            assert await prepared_statements(connection) == 0

            assert await read_a_page(connection) == [1, 2, 3]
            assert await prepared_statements(connection) > 0
    finally:
        await engine.dispose()


PAGE: sa.Select[Any] = sa.select(sa.literal_column("n")).select_from(
    sa.text("generate_series(1, :last) AS n")
)


async def read_a_page(connection: AsyncConnection) -> list[int]:
    rows = await TenantScope(connection).read_alone(uuid4(), PAGE, {"last": 3})
    assert rows is not None
    return [row[0] for row in rows]


async def prepared_statements(connection: AsyncConnection) -> int:
    """The one-round-trip statements prepared on ``connection`` (pipeline.py names them)."""
    counted = await connection.execute(
        sa.text("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'wa_gateway_%'")
    )
    await connection.rollback()
    return int(counted.scalar_one())
