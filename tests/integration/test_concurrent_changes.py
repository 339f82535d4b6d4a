"""Changes that race each other on PostgreSQL: a transaction the database gives up for a concurrent one
(a deadlock, a serialization failure) is a conflict, run again, and at worst a 409: never a 503 ("the
database is unavailable") and never a 500."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from adapters.database.engine import create_database_engine
from adapters.database.unit_of_work import SqlAlchemyUnitOfWork
from adapters.security.secret_box import SecretBox
from application.errors import TransactionConflict
from domain.administration.tenancy import ProviderName, Sender, Tenant
from domain.phone import PhoneNumber
from tests.support.databases import empty_all_tables
from tests.support.gateways import PASSWORD, database_of_its_own, running_gateway

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
CONCURRENT_REQUESTS = 20
ROUNDS = 10


@pytest.mark.postgres
async def test_concurrent_make_default_requests_get_no_503_or_500_and_leave_exactly_one_default(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with database_of_its_own(request, "postgres") as database:
        async with running_gateway(tmp_path, database) as gateway:
            root = await gateway.create_platform_admin()
            tenant = (await gateway.call("POST", "/admin/tenants", root, {"name": "Acme"})).json()
            await gateway.call(
                "POST",
                f"/admin/tenants/{tenant['id']}/users",
                root,
                {"username": "acme-admin", "password": PASSWORD, "role": "tenant_admin"},
            )
            admin = await gateway.bearer_of("acme-admin")
            for number in ("+14155238886", "+14155238887"):
                await gateway.call("POST", "/api/senders", admin, {"phone_number": number})
            senders = [s["id"] for s in (await gateway.call("GET", "/api/senders", admin)).json()]

            # The test client answers one request at a time; an ASGI transport on the same app runs
            # them concurrently, each with its own connection from the pool. The same labels every
            # round: some requests change their sender's label, others find it set already, and that
            # mix is what made changes of the default deadlock.
            transport = httpx.ASGITransport(app=cast(Any, gateway.app))
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                responses: list[httpx.Response] = []
                for _ in range(ROUNDS):
                    responses += await asyncio.gather(
                        *(
                            client.patch(
                                f"/api/senders/{senders[n % 2]}",
                                json={"is_default": True, "label": f"request {n}"},
                                headers=admin,
                            )
                            for n in range(CONCURRENT_REQUESTS)
                        )
                    )
            final = (await gateway.call("GET", "/api/senders", admin)).json()

    statuses = Counter(response.status_code for response in responses)
    assert set(statuses) <= {200, 409}, statuses
    conflicts = [response.json() for response in responses if response.status_code == 409]
    assert all(problem["type"] == "/problems/concurrent-update" for problem in conflicts), conflicts
    assert [sender["is_default"] for sender in final].count(True) == 1, final


@pytest.mark.postgres
async def test_a_deadlock_between_two_transactions_is_a_conflict_not_an_outage(
    postgres_url: str, postgres_admin_url: str, secret_box: SecretBox
) -> None:
    empty_all_tables(postgres_admin_url)
    engine = create_database_engine(postgres_url, pool_size=2, max_overflow=0)
    tenant = Tenant(name="Acme", provider=ProviderName.SANDBOX, created_at=T0)
    first = Sender(
        tenant_id=tenant.id, phone_number=PhoneNumber.parse("+14155238886"), created_at=T0, is_default=True
    )
    second = Sender(tenant_id=tenant.id, phone_number=PhoneNumber.parse("+14155238887"), created_at=T0)
    try:
        async with SqlAlchemyUnitOfWork(engine, secret_box) as uow:
            await uow.tenants.add(tenant)
            await uow.senders.add(first)
            await uow.senders.add(second)
            await uow.commit()

        one, other = SqlAlchemyUnitOfWork(engine, secret_box), SqlAlchemyUnitOfWork(engine, secret_box)

        async def lock_then(uow: SqlAlchemyUnitOfWork, mine: Sender, theirs: Sender) -> str:
            async with uow:
                await uow.senders.update_label(tenant.id, mine.id, "mine")
                await both_hold_a_row.wait()
                try:
                    await uow.senders.update_label(tenant.id, theirs.id, "theirs")
                except TransactionConflict:
                    return "conflict"
                await uow.commit()
                return "committed"

        # Each holds one row and waits for the other's: PostgreSQL picks one to give up (40P01).
        both_hold_a_row = asyncio.Barrier(2)
        outcomes = await asyncio.gather(lock_then(one, first, second), lock_then(other, second, first))
    finally:
        await engine.dispose()

    assert sorted(outcomes) == ["committed", "conflict"]
