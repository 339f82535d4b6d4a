"""Running the Alembic migrations from code, without an alembic.ini.

Migrations use a blocking engine (psycopg 3 serves both modes; aiosqlite becomes the stdlib sqlite3
driver) and run in one transaction, which PostgreSQL makes atomic, DDL included.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from adapters.database.engine import sync_connection

MIGRATIONS_DIRECTORY = Path(__file__).parent / "migrations"

# Any constant will do: it only has to be the same in every process that migrates this database.
_MIGRATION_LOCK_ID = 0x7761_6777  # "wagw"


def upgrade(url: str, revision: str = "head") -> None:
    with _migration_config(url) as config:
        command.upgrade(config, revision)


def downgrade(url: str, revision: str) -> None:
    with _migration_config(url) as config:
        command.downgrade(config, revision)


def current_revision(url: str) -> str | None:
    """The revision the database is at, or None for a database never migrated."""
    with sync_connection(url) as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _migration_config(url: str) -> Iterator[Config]:
    with sync_connection(url) as connection:
        if connection.dialect.name == "postgresql":
            # Two instances starting together would otherwise both try to create the same tables.
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK_ID)))
        config = Config()
        # '%' is ConfigParser's interpolation character; a path could contain one
        config.set_main_option("script_location", str(MIGRATIONS_DIRECTORY).replace("%", "%%"))
        config.attributes["connection"] = connection
        yield config
