"""The repository contract of sessions, refresh tokens, API keys and tenant administration, on the
fakes, SQLite and PostgreSQL alike (see conftest.py)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.database.tables import api_keys, refresh_tokens
from application.errors import AlreadyExists, NotFound
from domain.administration.tenancy import Role, Sender, TenantStatus
from domain.identity.credentials import (
    AuthSession,
    RefreshToken,
    RevocationReason,
    hash_secret,
    new_refresh_token,
)
from domain.phone import PhoneNumber
from tests.support.cross_tenant import cross_tenant_connection
from tests.support.databases import UowFactory
from tests.support.repositories import T0
from tests.support.repositories.access import LIFETIME, add_tenant, add_user, new_key, open_session

# --------------------------------------------------------------------------------------------- sessions


async def test_a_session_reads_back_with_its_user_and_tenant(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    user = await add_user(uow_factory, tenant, Role.TENANT_ADMIN)
    session, _ = await open_session(uow_factory, user)

    async with uow_factory() as uow:
        access = await uow.sessions.get_access(session.id)

    assert access is not None
    assert access.session == session
    assert access.user == user
    assert access.tenant == tenant
    async with uow_factory() as uow:
        assert await uow.sessions.get_access(uuid4()) is None


@pytest.mark.sql_only("counts the SQL statements")
async def test_a_session_reads_back_with_its_user_and_tenant_in_one_query(
    uow_factory: UowFactory, engine: AsyncEngine
) -> None:
    tenant = await add_tenant(uow_factory)
    user = await add_user(uow_factory, tenant, Role.TENANT_ADMIN)
    session, _ = await open_session(uow_factory, user)
    statements: list[str] = []

    def count(*args: object) -> None:
        # Setting the transaction's tenant scope (row-level security) is not a query of the table.
        if "set_config" not in str(args[2]):
            statements.append(str(args[2]))

    sa.event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        async with uow_factory() as uow:
            before = len(statements)
            access = await uow.sessions.get_access(session.id)
            queries = len(statements) - before
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", count)

    assert queries == 1
    assert access is not None
    assert access.session == session
    assert access.user == user
    assert access.tenant == tenant
    async with uow_factory() as uow:
        assert await uow.sessions.get_access(uuid4()) is None


async def test_revoking_a_session_keeps_the_first_reason(uow_factory: UowFactory) -> None:
    user = await add_user(uow_factory, await add_tenant(uow_factory))
    session, _ = await open_session(uow_factory, user)

    async with uow_factory() as uow:
        await uow.sessions.revoke(session.id, T0 + timedelta(minutes=1), RevocationReason.LOGOUT)
        await uow.sessions.revoke(
            session.id, T0 + timedelta(minutes=2), RevocationReason.REFRESH_TOKEN_REUSED
        )
        await uow.commit()

    async with uow_factory() as uow:
        access = await uow.sessions.get_access(session.id)
    assert access is not None
    assert access.session.revoked_at == T0 + timedelta(minutes=1)
    assert access.session.revoked_reason is RevocationReason.LOGOUT
    assert not access.session.is_live(T0 + timedelta(minutes=1))


async def test_sessions_are_revoked_per_user_and_per_tenant(uow_factory: UowFactory) -> None:
    acme, globex = await add_tenant(uow_factory), await add_tenant(uow_factory)
    alice, ana, bob = (
        await add_user(uow_factory, acme),
        await add_user(uow_factory, acme),
        await add_user(uow_factory, globex),
    )
    alices = [(await open_session(uow_factory, alice))[0] for _ in range(2)]
    anas, _ = await open_session(uow_factory, ana)
    bobs, _ = await open_session(uow_factory, bob)

    async with uow_factory() as uow:
        assert await uow.sessions.revoke_for_user(alice.id, T0, RevocationReason.PASSWORD_CHANGED) == 2
        assert await uow.sessions.revoke_for_user(alice.id, T0, RevocationReason.PASSWORD_CHANGED) == 0
        assert await uow.sessions.revoke_for_tenant(acme.id, T0, RevocationReason.TENANT_SUSPENDED) == 1
        await uow.commit()

    async with uow_factory() as uow:
        reasons = [
            access.session.revoked_reason if (access := await uow.sessions.get_access(s.id)) else "missing"
            for s in (*alices, anas, bobs)
        ]
    assert reasons == [
        RevocationReason.PASSWORD_CHANGED,
        RevocationReason.PASSWORD_CHANGED,
        RevocationReason.TENANT_SUSPENDED,
        None,
    ]


async def test_a_refresh_token_is_used_once(uow_factory: UowFactory) -> None:
    user = await add_user(uow_factory, await add_tenant(uow_factory))
    session, token = await open_session(uow_factory, user)
    token_hash = hash_secret(token)

    async with uow_factory() as uow:
        stored = await uow.sessions.get_refresh_token(token_hash)
        assert stored == RefreshToken(token_hash=token_hash, session_id=session.id, created_at=T0)
        assert await uow.sessions.use_refresh_token(token_hash, T0 + timedelta(minutes=5))
        assert not await uow.sessions.use_refresh_token(token_hash, T0 + timedelta(minutes=6))
        await uow.commit()

    async with uow_factory() as uow:
        used = await uow.sessions.get_refresh_token(token_hash)
        assert used is not None
        assert used.used_at == T0 + timedelta(minutes=5)
        assert await uow.sessions.get_refresh_token(hash_secret(new_refresh_token())) is None


@pytest.mark.sql_only("reads the table: the fake is never given more than the hash to keep")
async def test_only_the_hash_of_a_refresh_token_is_stored(
    uow_factory: UowFactory, engine: AsyncEngine
) -> None:
    user = await add_user(uow_factory, await add_tenant(uow_factory))
    _, token = await open_session(uow_factory, user)

    async with cross_tenant_connection(engine) as connection:
        stored_hashes = (await connection.execute(sa.select(refresh_tokens.c.token_hash))).scalars().all()
    assert token not in stored_hashes  # only the hash is stored


@pytest.mark.sql_only("concurrency between connections; the fake runs one block at a time")
async def test_concurrent_uses_of_one_refresh_token_let_exactly_one_through(uow_factory: UowFactory) -> None:
    user = await add_user(uow_factory, await add_tenant(uow_factory))
    _, token = await open_session(uow_factory, user)

    async def use() -> bool:
        async with uow_factory() as uow:
            used = await uow.sessions.use_refresh_token(hash_secret(token), T0)
            await uow.commit()
            return used

    results = await asyncio.gather(*(use() for _ in range(5)))

    assert sorted(results) == [False, False, False, False, True]


async def test_a_refresh_token_hash_is_unique(uow_factory: UowFactory) -> None:
    user = await add_user(uow_factory, await add_tenant(uow_factory))
    session, token = await open_session(uow_factory, user)

    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.sessions.add_refresh_token(
                RefreshToken(token_hash=hash_secret(token), session_id=session.id, created_at=T0)
            )


async def test_expired_sessions_are_purged_with_their_refresh_tokens(uow_factory: UowFactory) -> None:
    user = await add_user(uow_factory, await add_tenant(uow_factory))
    old, old_token = await open_session(uow_factory, user, at=T0)
    recent, recent_token = await open_session(uow_factory, user, at=T0 + timedelta(days=10))

    async with uow_factory() as uow:
        assert await uow.sessions.purge_expired(T0 + LIFETIME + timedelta(seconds=1)) == 1
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.sessions.get_access(old.id) is None
        assert await uow.sessions.get_refresh_token(hash_secret(old_token)) is None
        assert await uow.sessions.get_access(recent.id) is not None
        assert await uow.sessions.get_refresh_token(hash_secret(recent_token)) is not None


async def test_a_session_of_an_unknown_user_is_refused(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await uow.sessions.add(
                AuthSession(user_id=uuid4(), tenant_id=tenant.id, created_at=T0, expires_at=T0 + LIFETIME)
            )


# --------------------------------------------------------------------------------------------- API keys


async def test_an_api_key_is_found_by_its_prefix_and_read_back_exactly(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    user = await add_user(uow_factory, tenant, Role.TENANT_ADMIN)
    key, _ = new_key(tenant, Role.TENANT_ADMIN)
    key = replace(key, created_by=user.id)

    async with uow_factory() as uow:
        await uow.api_keys.add(key)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.api_keys.get_by_prefix(key.prefix) == key
        assert await uow.api_keys.get(tenant.id, key.id) == key
        assert await uow.api_keys.get_by_prefix("000000000000") is None


@pytest.mark.sql_only("reads the table: the fake is never given the full key to keep")
async def test_the_full_api_key_is_not_stored(uow_factory: UowFactory, engine: AsyncEngine) -> None:
    tenant = await add_tenant(uow_factory)
    key, full_key = new_key(tenant, Role.TENANT_ADMIN)
    async with uow_factory() as uow:
        await uow.api_keys.add(key)
        await uow.commit()

    async with cross_tenant_connection(engine) as connection:
        stored = (await connection.execute(sa.select(api_keys))).mappings().one()
    assert full_key not in {str(value) for value in stored.values()}


async def test_a_prefix_is_unique(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    key, _ = new_key(tenant)
    async with uow_factory() as uow:
        await uow.api_keys.add(key)
        await uow.commit()

    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.api_keys.add(replace(key, id=uuid4()))


async def test_api_keys_are_listed_revoked_and_used_within_their_tenant(uow_factory: UowFactory) -> None:
    acme, globex = await add_tenant(uow_factory), await add_tenant(uow_factory)
    first, _ = new_key(acme, at=T0)
    second, _ = new_key(acme, at=T0 + timedelta(minutes=1))
    theirs, _ = new_key(globex)
    async with uow_factory() as uow:
        for key in (second, theirs, first):
            await uow.api_keys.add(key)
        await uow.commit()

    async with uow_factory() as uow:
        assert [k.id for k in await uow.api_keys.list_for_tenant(acme.id)] == [first.id, second.id]
        assert await uow.api_keys.get(acme.id, theirs.id) is None
        assert not await uow.api_keys.revoke(acme.id, theirs.id, T0)
        assert await uow.api_keys.revoke(acme.id, first.id, T0 + timedelta(hours=1))
        assert not await uow.api_keys.revoke(acme.id, first.id, T0 + timedelta(hours=2))
        await uow.api_keys.record_use(second.id, T0 + timedelta(hours=3))
        await uow.commit()

    async with uow_factory() as uow:
        revoked = await uow.api_keys.get(acme.id, first.id)
        used = await uow.api_keys.get(acme.id, second.id)
        untouched = await uow.api_keys.get(globex.id, theirs.id)
    assert revoked is not None
    assert revoked.revoked_at == T0 + timedelta(hours=1)
    assert used is not None
    assert used.last_used_at == T0 + timedelta(hours=3)
    assert untouched == theirs


# ------------------------------------------------------------------------------- tenants, users, senders


async def test_tenants_are_updated_and_listed_by_name(uow_factory: UowFactory) -> None:
    bravo = await add_tenant(uow_factory, "Bravo")
    await add_tenant(uow_factory, "Alpha")
    await add_tenant(uow_factory, "Charlie")

    async with uow_factory() as uow:
        await uow.tenants.update(replace(bravo, status=TenantStatus.SUSPENDED, session_window_check=False))
        await uow.commit()

    async with uow_factory() as uow:
        stored = await uow.tenants.get(bravo.id)
        assert stored == replace(bravo, status=TenantStatus.SUSPENDED, session_window_check=False)
        assert [t.name for t in await uow.tenants.list_page(2)] == ["Alpha", "Bravo"]
        assert [t.name for t in await uow.tenants.list_page(2, "Bravo")] == ["Charlie"]
        with pytest.raises(AlreadyExists):
            await uow.tenants.update(replace(bravo, name="Alpha"))
    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await uow.tenants.update(replace(bravo, id=uuid4()))


async def test_users_are_read_listed_and_updated_within_their_tenant(uow_factory: UowFactory) -> None:
    acme, globex = await add_tenant(uow_factory), await add_tenant(uow_factory)
    user = await add_user(uow_factory, acme)
    other = await add_user(uow_factory, globex)

    async with uow_factory() as uow:
        assert await uow.users.get_in_tenant(acme.id, user.id) == user
        assert await uow.users.get_in_tenant(acme.id, other.id) is None
        assert await uow.users.list_for_tenant(acme.id) == [user]
        changed = replace(user, role=Role.TENANT_ADMIN, is_active=False, password_hash="new")
        await uow.users.update(changed)
        with pytest.raises(NotFound):
            await uow.users.update(replace(other, tenant_id=acme.id))
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.users.get_in_tenant(acme.id, user.id) == changed
        assert await uow.users.get_in_tenant(globex.id, other.id) == other


async def test_senders_are_relabelled_made_default_and_removed_within_their_tenant(
    uow_factory: UowFactory,
) -> None:
    acme, globex = await add_tenant(uow_factory), await add_tenant(uow_factory)
    first = Sender(
        tenant_id=acme.id, phone_number=PhoneNumber.parse("+14155238886"), created_at=T0, is_default=True
    )
    second = Sender(tenant_id=acme.id, phone_number=PhoneNumber.parse("+14155238800"), created_at=T0)
    theirs = Sender(tenant_id=globex.id, phone_number=PhoneNumber.parse("+14155238886"), created_at=T0)
    async with uow_factory() as uow:
        for sender in (first, second, theirs):
            await uow.senders.add(sender)
        await uow.commit()

    async with uow_factory() as uow:
        await uow.senders.update_label(acme.id, second.id, "support")
        await uow.senders.make_default(acme.id, second.id)
        assert not await uow.senders.remove(acme.id, theirs.id)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.senders.get(acme.id, second.id) == replace(second, label="support", is_default=True)
        assert await uow.senders.get(acme.id, first.id) == replace(first, is_default=False)
        assert await uow.senders.get(acme.id, theirs.id) is None
        assert await uow.senders.remove(acme.id, first.id)
        await uow.commit()

    async with uow_factory() as uow:
        assert [s.id for s in await uow.senders.list_for_tenant(acme.id)] == [second.id]
        assert await uow.senders.get(globex.id, theirs.id) == theirs
