"""The audit trail's repository contract, on the fakes, SQLite and PostgreSQL alike (see conftest.py),
and its append-only guarantee on PostgreSQL, where the application's role may read and append only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.database.engine import create_database_engine
from adapters.database.migrate import upgrade
from adapters.database.roles import grant_app_role
from adapters.database.unit_of_work import SqlAlchemyUnitOfWork
from adapters.security.secret_box import SecretBox
from application.ports.audit import AuditPosition, AuditQuery
from domain.administration.audit import (
    ANONYMOUS,
    MIN_RETENTION,
    OPERATOR_ACTOR,
    ActorKind,
    AuditAction,
    AuditActor,
    AuditEntry,
    AuditTarget,
    TargetKind,
)
from domain.administration.tenancy import Role
from tests.support.cross_tenant import cross_tenant_connection
from tests.support.databases import PostgresRoles, UowFactory
from tests.support.postgres_server import PostgresServer

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
ACME = UUID("00000000-0000-4000-8000-00000000acde")
GLOBEX = UUID("00000000-0000-4000-8000-0000000091b0")


def entry(
    action: AuditAction = AuditAction.USER_CREATED,
    *,
    tenant_id: UUID | None = ACME,
    at: datetime = T0,
    actor: AuditActor | None = None,
) -> AuditEntry:
    return AuditEntry(
        action=action,
        occurred_at=at,
        actor=actor or AuditActor(kind=ActorKind.USER, id=uuid4(), role=Role.TENANT_ADMIN),
        tenant_id=tenant_id,
        target=AuditTarget(kind=TargetKind.USER, id=str(uuid4())),
        client_address="203.0.113.7",
        request_id="req-1",
        details={"username": "ana", "role": "agent"},
    )


async def record(uow_factory: UowFactory, *entries: AuditEntry) -> None:
    async with uow_factory() as uow:
        for one in entries:
            await uow.audit.record(one)
        await uow.commit()


async def page(
    uow_factory: UowFactory, *, limit: int = 100, tenant_id: UUID | None = ACME, **filters: Any
) -> list[AuditEntry]:
    async with uow_factory() as uow:
        return await uow.audit.list_page(AuditQuery(limit=limit, tenant_id=tenant_id, **filters))


async def test_an_entry_reads_back_as_it_was_recorded(uow_factory: UowFactory) -> None:
    recorded = entry()

    await record(uow_factory, recorded)

    assert await page(uow_factory) == [recorded]


async def test_an_entry_of_no_tenant_is_seen_only_across_tenants(uow_factory: UowFactory) -> None:
    refused = AuditEntry(
        action=AuditAction.LOGIN_REFUSED,
        occurred_at=T0,
        actor=ANONYMOUS,
        tenant_id=None,
        details={"reason": "unknown_user"},
    )

    mine = entry()
    await record(uow_factory, refused, mine)

    assert {e.id for e in await page(uow_factory, tenant_id=None)} == {refused.id, mine.id}
    assert refused in await page(uow_factory, tenant_id=None)
    assert refused not in await page(uow_factory)


async def test_a_tenants_trail_holds_nothing_of_another_tenant(uow_factory: UowFactory) -> None:
    mine, theirs = entry(tenant_id=ACME), entry(tenant_id=GLOBEX)

    await record(uow_factory, mine, theirs)

    assert await page(uow_factory, tenant_id=ACME) == [mine]
    assert await page(uow_factory, tenant_id=GLOBEX) == [theirs]
    assert {e.id for e in await page(uow_factory, tenant_id=None)} == {mine.id, theirs.id}


async def test_pages_are_newest_first_and_continue_after_the_cursor(uow_factory: UowFactory) -> None:
    # Two entries in the same microsecond: the id breaks the tie, and neither is skipped nor repeated.
    entries = [entry(at=T0 + timedelta(minutes=n // 2)) for n in range(7)]
    await record(uow_factory, *entries)
    expected = sorted(entries, key=lambda e: (e.occurred_at, e.id), reverse=True)

    seen: list[AuditEntry] = []
    after = None
    while True:
        rows = await page(uow_factory, limit=3, after=after)
        seen.extend(rows)
        if len(rows) < 3:
            break
        after = AuditPosition(occurred_at=rows[-1].occurred_at, entry_id=rows[-1].id)

    assert seen == expected


async def test_the_filters_narrow_the_page(uow_factory: UowFactory) -> None:
    admin = AuditActor(kind=ActorKind.USER, id=uuid4(), role=Role.TENANT_ADMIN)
    early = entry(AuditAction.LOGIN_SUCCEEDED, at=T0, actor=admin)
    key_created = entry(AuditAction.API_KEY_CREATED, at=T0 + timedelta(hours=1), actor=admin)
    by_someone_else = entry(AuditAction.API_KEY_CREATED, at=T0 + timedelta(hours=2))
    await record(uow_factory, early, key_created, by_someone_else)

    assert await page(uow_factory, action=AuditAction.API_KEY_CREATED) == [by_someone_else, key_created]
    assert await page(uow_factory, actor_id=admin.id) == [key_created, early]
    assert await page(uow_factory, since=T0 + timedelta(hours=1)) == [by_someone_else, key_created]
    assert await page(uow_factory, until=T0 + timedelta(hours=1)) == [early]
    assert await page(uow_factory, action=AuditAction.API_KEY_CREATED, actor_id=admin.id) == [key_created]


async def test_an_entry_rolled_back_with_its_action_is_not_kept(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        await uow.audit.record(entry())  # no commit: the action failed

    assert await page(uow_factory) == []


async def test_a_purge_deletes_what_is_older_than_asked_but_never_a_recent_entry(
    uow_factory: UowFactory,
) -> None:
    now = datetime.now(UTC)
    old = entry(at=now - timedelta(days=400))
    kept = entry(at=now - timedelta(days=200))
    recent = entry(at=now - MIN_RETENTION + timedelta(days=1))
    await record(uow_factory, old, kept, recent)

    async with uow_factory() as uow:
        purged = await uow.audit.purge_older_than(now - timedelta(days=365))
        await uow.commit()
    assert purged == 1
    assert await page(uow_factory) == [recent, kept]

    async with uow_factory() as uow:  # asked for everything: the last 30 days stay
        purged = await uow.audit.purge_older_than(now + timedelta(days=1))
        await uow.commit()
    assert purged == 1
    assert await page(uow_factory) == [recent]


# ------------------------------------------------------------------ append-only, on PostgreSQL


_CHANGES = [
    "UPDATE audit_log SET details = '{}'",
    "UPDATE audit_log SET occurred_at = now() - interval '10 years'",
    "DELETE FROM audit_log",
    "TRUNCATE audit_log",
]


@pytest.mark.parametrize("statement", _CHANGES)
@pytest.mark.sql_only("the database's privileges of its roles")
async def test_the_application_role_cannot_change_or_delete_an_entry(
    one_connection: AsyncEngine, secret_box: SecretBox, statement: str
) -> None:
    await record(lambda: SqlAlchemyUnitOfWork(one_connection, secret_box), entry(at=T0 - timedelta(days=999)))

    with pytest.raises(sa.exc.ProgrammingError) as refused:
        async with cross_tenant_connection(one_connection) as connection:
            await connection.execute(sa.text(statement))

    assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege)
    assert len(await page(lambda: SqlAlchemyUnitOfWork(one_connection, secret_box))) == 1


@pytest.mark.sql_only("the database's privileges of its roles")
async def test_even_the_owner_deletes_no_entry_younger_than_the_minimum_retention(
    postgres_owner_url: str, postgres_admin_url: str, one_connection: AsyncEngine, secret_box: SecretBox
) -> None:
    now = datetime.now(UTC)
    await record(
        lambda: SqlAlchemyUnitOfWork(one_connection, secret_box),
        entry(at=now - timedelta(days=1)),
        entry(at=now - timedelta(days=400)),
    )
    owner = create_database_engine(postgres_owner_url, pool_size=1, max_overflow=0)
    try:
        async with cross_tenant_connection(owner) as connection:
            deleted = await connection.execute(sa.text("DELETE FROM audit_log"))
            updated = await connection.execute(sa.text("UPDATE audit_log SET request_id = 'forged'"))
    finally:
        await owner.dispose()

    assert (deleted.rowcount, updated.rowcount) == (1, 0)


@pytest.fixture
def database_upgraded_after_the_grant(
    postgres_server: PostgresServer, postgres_roles: PostgresRoles
) -> Iterator[tuple[str, str]]:
    """A deployment granted before the audit trail existed, then upgraded: its application's role got
    the new table through the owner's default privileges. (owner URL, application role's URL)"""
    name = postgres_server.create_database(owner=postgres_roles.owner)
    owner_url = postgres_server.url_for(name, postgres_roles.owner)
    try:
        upgrade(owner_url, "0009")
        grant_app_role(owner_url, postgres_roles.app.name)
        upgrade(owner_url)
        yield owner_url, postgres_server.url_for(name, postgres_roles.app)
    finally:
        postgres_server.drop_database(name)


@pytest.mark.sql_only("the database's privileges of its roles")
async def test_a_deployment_granted_before_the_upgrade_is_append_only_too(
    database_upgraded_after_the_grant: tuple[str, str], secret_box: SecretBox
) -> None:
    _, app_url = database_upgraded_after_the_grant
    engine = create_database_engine(app_url, pool_size=1, max_overflow=0)
    factory: UowFactory = lambda: SqlAlchemyUnitOfWork(engine, secret_box)  # noqa: E731
    try:
        old = entry(at=datetime.now(UTC) - timedelta(days=400))
        await record(factory, old, entry(tenant_id=None, actor=OPERATOR_ACTOR))
        with pytest.raises(sa.exc.ProgrammingError):
            async with cross_tenant_connection(engine) as connection:
                await connection.execute(sa.text("DELETE FROM audit_log"))
        async with factory() as uow:
            purged = await uow.audit.purge_older_than(datetime.now(UTC) - timedelta(days=365))
            await uow.commit()
    finally:
        await engine.dispose()

    assert purged == 1
