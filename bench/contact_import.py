"""How long the contact import takes at its full size: 100,000 generated rows streamed through
``ImportContacts`` into a fresh database, then the same file again (every row unchanged).

    uv run python -m bench.contact_import                      # SQLite, in a temporary directory
    uv run python -m bench.contact_import --rows 20000
    uv run python -m bench.contact_import --database-url postgresql+psycopg://postgres@127.0.0.1/bench

A PostgreSQL database given by URL must exist and be empty; it is migrated first.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import uuid4

from adapters.database.engine import create_database_engine
from adapters.database.migrate import upgrade
from adapters.database.unit_of_work import SqlAlchemyUnitOfWork
from adapters.security.secret_box import SecretBox, parse_keys
from adapters.system_clock import SystemClock
from application.contacts.transfer import MAX_IMPORT_ROWS, ImportContacts
from application.principal import Principal
from domain.administration.tenancy import ProviderName, Role, Tenant


async def generated_file(rows: int) -> AsyncIterator[bytes]:
    yield b"phone,name,tags,attr.segment,attr.region\r\n"
    chunk: list[str] = []
    for n in range(rows):
        chunk.append(f"+491511{n:07d},Customer {n},{'vip;' if n % 10 == 0 else ''}news,s{n % 7},r{n % 3}\r\n")
        if len(chunk) == 1000:
            yield "".join(chunk).encode()
            chunk = []
    yield "".join(chunk).encode()


async def run(database_url: str, rows: int) -> None:
    upgrade(database_url)
    engine = create_database_engine(database_url)
    secret_box = SecretBox(parse_keys(base64.urlsafe_b64encode(os.urandom(32)).decode()))
    tenant = Tenant(
        name=f"bench {uuid4().hex[:8]}", provider=ProviderName.SANDBOX, created_at=datetime.now(UTC)
    )
    async with SqlAlchemyUnitOfWork(engine, secret_box) as uow:
        await uow.tenants.add(tenant)
        await uow.commit()
    admin = Principal(user_id=uuid4(), tenant_id=tenant.id, role=Role.TENANT_ADMIN)
    try:
        for label in ("first import", "same file again"):
            started = time.perf_counter()
            report = await ImportContacts(SqlAlchemyUnitOfWork(engine, secret_box), SystemClock())(
                admin, generated_file(rows)
            )
            seconds = time.perf_counter() - started
            print(
                f"{label}: {report.rows:,} rows in {seconds:.1f} s ({report.rows / seconds:,.0f} rows/s): "
                f"{report.created:,} created, {report.updated:,} updated, {report.unchanged:,} unchanged, "
                f"{report.rejected:,} rejected"
            )
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=MAX_IMPORT_ROWS)
    parser.add_argument("--database-url", default=None)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = arguments.database_url or f"sqlite+aiosqlite:///{directory}/bench.db"
        asyncio.run(run(url, arguments.rows))


if __name__ == "__main__":
    main()
