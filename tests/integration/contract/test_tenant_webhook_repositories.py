"""The repository contract of webhook endpoints, the outbox and the delivery queue, on the fakes, SQLite
and PostgreSQL alike (see conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.database.engine import create_database_engine
from adapters.database.tables import webhook_endpoints
from adapters.database.unit_of_work import SqlAlchemyUnitOfWork
from adapters.security.secret_box import SecretBox, generate_key, parse_keys
from adapters.system_clock import SystemClock
from adapters.tenant_webhooks.destinations import DestinationPolicy, ResolvingWebhookUrlGuard
from application.errors import CredentialsUnreadable, InvalidInput, NotFound
from application.ports.tenant_webhooks import DeliveryQuery, EndpointForDelivery
from application.principal import Principal
from application.tenant_webhooks.endpoints import (
    MAX_ENDPOINTS_PER_TENANT,
    RegisterWebhookCommand,
    RegisterWebhookEndpoint,
)
from domain.administration.tenancy import Role
from domain.tenant_webhooks.model import (
    DeliveryAttempt,
    DeliveryState,
    SigningSecrets,
    WebhookDelivery,
    WebhookEndpoint,
    new_signing_secret,
)
from tests.support.cross_tenant import cross_tenant_connection
from tests.support.databases import UowFactory
from tests.support.repositories import T0
from tests.support.repositories.tenant_webhooks import STATUS, add_endpoint, add_tenant, claim, record, settle
from tests.support.stored_rows import StoredRows

# ---------------------------------------------------------------------------------------------- endpoints


async def test_an_endpoint_reads_back_within_its_tenant_only(uow_factory: UowFactory) -> None:
    acme, globex = await add_tenant(uow_factory), await add_tenant(uow_factory)
    endpoint = await add_endpoint(uow_factory, acme, events=("message.failed", "message.received"))
    later = await add_endpoint(uow_factory, acme, at=T0 + timedelta(seconds=1))

    async with uow_factory() as uow:
        assert await uow.webhook_endpoints.get(acme.id, endpoint.id) == endpoint
        assert await uow.webhook_endpoints.get(globex.id, endpoint.id) is None
        assert await uow.webhook_endpoints.list_for_tenant(acme.id) == [endpoint, later]
        assert await uow.webhook_endpoints.list_for_tenant(globex.id) == []
        assert await uow.webhook_endpoints.signing_secrets(globex.id, endpoint.id) is None


async def test_an_endpoint_is_updated_and_deleted_with_its_deliveries(uow_factory: UowFactory) -> None:
    acme, globex = await add_tenant(uow_factory), await add_tenant(uow_factory)
    endpoint = await add_endpoint(uow_factory, acme)
    await record(uow_factory, acme)
    [delivery] = await claim(uow_factory, "w", T0)
    await settle(uow_factory, delivery, "w", status=500, state=DeliveryState.PENDING)
    changed = endpoint.changed(
        now=T0 + timedelta(minutes=1), url="https://crm.example.com/v2", events=["message.status"]
    ).disabled_because("410", T0 + timedelta(minutes=1))

    async with uow_factory() as uow:
        await uow.webhook_endpoints.update(changed)
        with pytest.raises(NotFound):
            await uow.webhook_endpoints.update(
                WebhookEndpoint.new(
                    tenant_id=globex.id, url="https://x.example.com/", events=["message.status"], now=T0
                )
            )
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.webhook_endpoints.get(acme.id, endpoint.id) == changed
        assert not await uow.webhook_endpoints.delete(globex.id, endpoint.id)
        assert await uow.webhook_endpoints.delete(acme.id, endpoint.id)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.webhook_endpoints.get(acme.id, endpoint.id) is None
        assert await uow.webhook_deliveries.get(acme.id, delivery.id) is None
        assert await uow.webhook_deliveries.list_attempts(acme.id, [delivery.id]) == {}


@pytest.mark.sql_only("concurrency between connections; the fake runs one block at a time")
async def test_concurrent_registrations_never_take_a_tenant_past_its_endpoint_cap(
    database_url: str, secret_box: SecretBox
) -> None:
    # As many connections as the gateway's default pool, so that many registrations run at once.
    engine = create_database_engine(database_url, pool_size=10, max_overflow=10)
    try:
        uow_factory: UowFactory = lambda: SqlAlchemyUnitOfWork(engine, secret_box)  # noqa: E731
        acme, globex = await add_tenant(uow_factory), await add_tenant(uow_factory)
        await add_endpoint(uow_factory, globex)  # another tenant's endpoints do not count
        any_url = ResolvingWebhookUrlGuard(DestinationPolicy(allow_private_networks=True))
        admin = Principal(user_id=uuid4(), tenant_id=acme.id, role=Role.TENANT_ADMIN)

        async def create(n: int) -> str:
            """One request's registration, with its own unit of work, as each HTTP request has."""
            command = RegisterWebhookCommand(admin, f"https://crm.example.com/hook/{n}", ["message.status"])
            try:
                await RegisterWebhookEndpoint(uow_factory(), any_url, SystemClock())(command)
            except InvalidInput as refused:
                return str(refused)
            return "created"

        outcomes = await asyncio.gather(*(create(n) for n in range(30)))

        async with uow_factory() as uow:
            stored = await uow.webhook_endpoints.list_for_tenant(acme.id)
    finally:
        await engine.dispose()
    assert len(stored) == outcomes.count("created") == MAX_ENDPOINTS_PER_TENANT
    assert sorted(set(outcomes) - {"created"}) == [
        f"a tenant has at most {MAX_ENDPOINTS_PER_TENANT} webhook endpoints"
    ]


@pytest.mark.sql_only("secrets are sealed at rest by the SQL adapter; the fake keeps them plain")
async def test_signing_secrets_are_sealed_and_bound_to_their_endpoint(
    uow_factory: UowFactory, engine: AsyncEngine
) -> None:
    acme = await add_tenant(uow_factory)
    secret, other_secret = new_signing_secret(), new_signing_secret()
    endpoint = await add_endpoint(uow_factory, acme, secret=secret)
    other = await add_endpoint(uow_factory, acme, secret=other_secret)

    async with cross_tenant_connection(engine) as connection:
        rows = (await connection.execute(sa.select(webhook_endpoints))).mappings().all()
        stored = b"".join(bytes(row["secret_sealed"]) for row in rows)
        assert secret.encode() not in stored
        assert secret.removeprefix("whsec_")[:16].encode() not in stored
        sealed = next(row["secret_sealed"] for row in rows if row["id"] == endpoint.id)
        await connection.execute(
            sa.update(webhook_endpoints)
            .where(webhook_endpoints.c.id == other.id)
            .values(secret_sealed=sealed)
        )

    async with uow_factory() as uow:
        secrets = await uow.webhook_endpoints.signing_secrets(acme.id, endpoint.id)
        assert secrets is not None
        assert (secrets.current, secrets.previous) == (secret, None)
        with pytest.raises(CredentialsUnreadable):
            await uow.webhook_endpoints.signing_secrets(acme.id, other.id)
    async with uow_factory() as uow:
        # Read for a delivery, the endpoint comes without secrets: the attempt fails, never unsigned.
        assert await uow.webhook_endpoints.for_delivery(acme.id, other.id) == EndpointForDelivery(other, None)
    async with uow_factory() as uow:
        both = await uow.webhook_endpoints.for_deliveries([(acme.id, endpoint.id), (acme.id, other.id)])
        assert both[(acme.id, other.id)] == EndpointForDelivery(other, None)
        assert both[(acme.id, endpoint.id)].secrets == SigningSecrets(current=secret)


async def test_rotation_keeps_the_replaced_secret_until_it_expires(uow_factory: UowFactory) -> None:
    acme = await add_tenant(uow_factory)
    first, second, third = new_signing_secret(), new_signing_secret(), new_signing_secret()
    endpoint = await add_endpoint(uow_factory, acme, secret=first)
    expires = T0 + timedelta(hours=24)

    async with uow_factory() as uow:
        await uow.webhook_endpoints.rotate_secret(acme.id, endpoint.id, second, expires)
        await uow.commit()
    async with uow_factory() as uow:
        secrets = await uow.webhook_endpoints.signing_secrets(acme.id, endpoint.id)
        stored = await uow.webhook_endpoints.get(acme.id, endpoint.id)
        await uow.webhook_endpoints.rotate_secret(acme.id, endpoint.id, third, expires)
        await uow.commit()
    async with uow_factory() as uow:
        again = await uow.webhook_endpoints.signing_secrets(acme.id, endpoint.id)
        with pytest.raises(NotFound):
            await uow.webhook_endpoints.rotate_secret(uuid4(), endpoint.id, third, expires)

    assert secrets is not None
    assert secrets.in_force(T0) == (second, first)
    assert secrets.in_force(expires) == (second,)
    assert stored is not None
    assert stored.previous_secret_expires_at == expires
    assert again is not None
    assert (again.current, again.previous) == (third, second)


async def test_an_endpoint_is_read_for_delivery_with_its_secrets_within_its_tenant_only(
    uow_factory: UowFactory,
) -> None:
    acme, globex = await add_tenant(uow_factory), await add_tenant(uow_factory)
    first, second = new_signing_secret(), new_signing_secret()
    endpoint = await add_endpoint(uow_factory, acme, secret=first, enabled=False)
    expires = T0 + timedelta(hours=24)
    async with uow_factory() as uow:
        await uow.webhook_endpoints.rotate_secret(acme.id, endpoint.id, second, expires)
        await uow.commit()

    async with uow_factory() as uow:  # the read alone in its transaction
        alone = await uow.webhook_endpoints.for_delivery(acme.id, endpoint.id)
    async with uow_factory() as uow:  # after another read of the transaction
        stored = await uow.webhook_endpoints.get(acme.id, endpoint.id)
        after_another = await uow.webhook_endpoints.for_delivery(acme.id, endpoint.id)
    async with uow_factory() as uow:
        assert await uow.webhook_endpoints.for_delivery(globex.id, endpoint.id) is None
    async with uow_factory() as uow:
        assert await uow.webhook_endpoints.for_delivery(acme.id, uuid4()) is None

    assert stored is not None
    assert stored.previous_secret_expires_at == expires
    expected = EndpointForDelivery(
        stored, SigningSecrets(current=second, previous=first, previous_expires_at=expires)
    )
    assert alone == after_another == expected


async def test_endpoints_of_several_tenants_are_read_for_their_deliveries_in_one_call(
    uow_factory: UowFactory,
) -> None:
    acme, globex = await add_tenant(uow_factory), await add_tenant(uow_factory)
    first, second, third = new_signing_secret(), new_signing_secret(), new_signing_secret()
    endpoint = await add_endpoint(uow_factory, acme, secret=first)
    disabled = await add_endpoint(uow_factory, acme, enabled=False)
    theirs = await add_endpoint(uow_factory, globex, secret=third)
    deleted = await add_endpoint(uow_factory, globex)
    expires = T0 + timedelta(hours=24)
    async with uow_factory() as uow:
        await uow.webhook_endpoints.rotate_secret(acme.id, endpoint.id, second, expires)
        assert await uow.webhook_endpoints.delete(globex.id, deleted.id)
        await uow.commit()
    async with uow_factory() as uow:
        one_by_one = {
            key: await uow.webhook_endpoints.for_delivery(*key)
            for key in ((acme.id, endpoint.id), (acme.id, disabled.id), (globex.id, theirs.id))
        }

    async with uow_factory() as uow:
        found = await uow.webhook_endpoints.for_deliveries(
            [
                (acme.id, endpoint.id),
                (globex.id, theirs.id),
                (acme.id, theirs.id),  # another tenant's endpoint
                (globex.id, deleted.id),
                (acme.id, disabled.id),
                (acme.id, endpoint.id),  # two deliveries to one endpoint
            ]
        )
    async with uow_factory() as uow:
        assert await uow.webhook_endpoints.for_deliveries([]) == {}

    assert None not in one_by_one.values()
    assert found == one_by_one  # the three endpoints there are, as ``for_delivery`` reads them
    assert found[(acme.id, endpoint.id)].secrets == SigningSecrets(
        current=second, previous=first, previous_expires_at=expires
    )
    assert found[(globex.id, theirs.id)].secrets == SigningSecrets(current=third)
    assert not found[(acme.id, disabled.id)].endpoint.enabled


@pytest.mark.sql_only("secrets are sealed at rest by the SQL adapter; the fake keeps them plain")
async def test_resealing_moves_webhook_secrets_to_the_newest_key(
    uow_factory: UowFactory, engine: AsyncEngine, credentials_key: str
) -> None:
    acme = await add_tenant(uow_factory)
    first, second = new_signing_secret(), new_signing_secret()
    endpoint = await add_endpoint(uow_factory, acme, secret=first)
    async with uow_factory() as uow:
        await uow.webhook_endpoints.rotate_secret(acme.id, endpoint.id, second, T0 + timedelta(days=1))
        await uow.commit()
    new_key = generate_key()

    async with SqlAlchemyUnitOfWork(engine, SecretBox(parse_keys(f"{new_key},{credentials_key}"))) as uow:
        assert await uow.webhook_endpoints.reseal_secrets() == 1
        assert await uow.webhook_endpoints.reseal_secrets() == 0
        await uow.commit()
    async with SqlAlchemyUnitOfWork(engine, SecretBox(parse_keys(new_key))) as uow:
        secrets = await uow.webhook_endpoints.signing_secrets(acme.id, endpoint.id)
    assert secrets is not None
    assert (secrets.current, secrets.previous) == (second, first)


# ------------------------------------------------------------------------------------------------ outbox


async def test_an_event_fans_out_to_the_enabled_endpoints_subscribed_to_it(uow_factory: UowFactory) -> None:
    acme, globex = await add_tenant(uow_factory), await add_tenant(uow_factory)
    everything = await add_endpoint(uow_factory, acme)
    statuses = await add_endpoint(uow_factory, acme, events=("message.status",))
    await add_endpoint(uow_factory, acme, events=("message.received",))
    await add_endpoint(uow_factory, acme, enabled=False)
    await add_endpoint(uow_factory, globex)

    assert await record(uow_factory, acme, payload='{"n":1}') == 2

    async with uow_factory() as uow:
        targets = {}
        for endpoint in (everything, statuses):
            [delivery] = await uow.webhook_deliveries.list_page(
                DeliveryQuery(tenant_id=acme.id, endpoint_id=endpoint.id, limit=10)
            )
            targets[endpoint.id] = delivery
    assert set(targets) == {everything.id, statuses.id}
    first, second = targets.values()
    assert first.id != second.id
    for delivery in (first, second):
        assert delivery.id.startswith("msg_")
        assert (delivery.state, delivery.attempts, delivery.event_type) == (DeliveryState.PENDING, 0, STATUS)
        assert (delivery.payload, delivery.created_at, delivery.next_attempt_at) == ('{"n":1}', T0, T0)


async def test_an_event_is_recorded_only_if_its_transaction_commits(uow_factory: UowFactory) -> None:
    acme = await add_tenant(uow_factory)
    await add_endpoint(uow_factory, acme)

    async with uow_factory() as uow:
        assert await uow.webhook_events.record(acme.id, STATUS, "{}", T0) == 1
        # left without commit()

    assert await claim(uow_factory, "w", T0) == []


async def test_a_tenant_without_endpoints_records_nothing(uow_factory: UowFactory) -> None:
    acme = await add_tenant(uow_factory)

    assert await record(uow_factory, acme) == 0


# ------------------------------------------------------------------------------------------------- queue


async def test_due_deliveries_are_leased_and_come_back_when_the_lease_ends(uow_factory: UowFactory) -> None:
    acme = await add_tenant(uow_factory)
    await add_endpoint(uow_factory, acme)
    await record(uow_factory, acme, at=T0)
    await record(uow_factory, acme, at=T0 + timedelta(minutes=5))

    first = await claim(uow_factory, "w1", T0 + timedelta(seconds=1))
    nothing = await claim(uow_factory, "w2", T0 + timedelta(seconds=2))
    again = await claim(uow_factory, "w2", T0 + timedelta(seconds=31))

    assert [d.next_attempt_at for d in first] == [T0]
    assert nothing == []
    assert [d.id for d in again] == [first[0].id]


@pytest.mark.parametrize("commit", [False, True], ids=["then-commit", "with-its-commit"])
async def test_settling_needs_the_lease_and_logs_the_attempt(uow_factory: UowFactory, commit: bool) -> None:
    acme, globex = await add_tenant(uow_factory), await add_tenant(uow_factory)
    await add_endpoint(uow_factory, acme)
    await record(uow_factory, acme)
    [delivery] = await claim(uow_factory, "w1", T0)

    def settle_as(owner: str, status: int, state: DeliveryState) -> Awaitable[bool]:
        return settle(uow_factory, delivery, owner, status=status, state=state, commit=commit)

    assert not await settle_as("w2", 200, DeliveryState.DELIVERED)
    assert await settle_as("w1", 500, DeliveryState.PENDING)
    assert not await settle_as("w1", 500, DeliveryState.PENDING)  # released

    async with uow_factory() as uow:
        stored = await uow.webhook_deliveries.get(acme.id, delivery.id)
        attempts = await uow.webhook_deliveries.list_attempts(acme.id, [delivery.id])
        assert await uow.webhook_deliveries.get(globex.id, delivery.id) is None
        assert await uow.webhook_deliveries.list_attempts(globex.id, [delivery.id]) == {}
    assert stored is not None
    assert (stored.state, stored.attempts, stored.last_status_code) == (DeliveryState.PENDING, 1, 500)
    assert (stored.last_response_excerpt, stored.next_attempt_at) == (
        "answer 500",
        T0 + timedelta(seconds=10),
    )
    assert [(a.status_code, a.duration_ms, a.attempted_at) for a in attempts[delivery.id]] == [(500, 42, T0)]
    assert await claim(uow_factory, "w1", T0 + timedelta(seconds=9)) == []
    [retry] = await claim(uow_factory, "w1", T0 + timedelta(seconds=10))
    assert retry.id == delivery.id


async def test_a_delivery_settled_without_an_attempt_logs_none(uow_factory: UowFactory) -> None:
    acme = await add_tenant(uow_factory)
    await add_endpoint(uow_factory, acme)
    await record(uow_factory, acme)
    [delivery] = await claim(uow_factory, "w1", T0)
    dead = replace(delivery, state=DeliveryState.DEAD, last_error="not sent", finished_at=T0)

    async with uow_factory() as uow:
        assert not await uow.webhook_deliveries.settle(dead, None, owner="w2", commit=True)
    async with uow_factory() as uow:
        assert await uow.webhook_deliveries.settle(dead, None, owner="w1", commit=True)
        await uow.commit()

    async with uow_factory() as uow:
        stored = await uow.webhook_deliveries.get(acme.id, delivery.id)
        attempts = await uow.webhook_deliveries.list_attempts(acme.id, [delivery.id])
    assert stored is not None
    assert (stored.state, stored.attempts, stored.last_error, stored.finished_at) == (
        DeliveryState.DEAD,
        0,
        "not sent",
        T0,
    )
    assert attempts == {}


@pytest.mark.parametrize("commit", [False, True], ids=["then-commit", "with-its-commit"])
async def test_deliveries_of_several_tenants_are_settled_together_where_their_lease_is_held(
    uow_factory: UowFactory, commit: bool
) -> None:
    acme, globex = await add_tenant(uow_factory), await add_tenant(uow_factory)
    for tenant in (acme, globex):
        await add_endpoint(uow_factory, tenant)
        await record(uow_factory, tenant)
    await record(uow_factory, acme, at=T0 + timedelta(seconds=1))
    first, second = await claim(uow_factory, "w1", T0 + timedelta(seconds=1), limit=2)
    [third] = await claim(uow_factory, "w2", T0 + timedelta(seconds=1))
    assert {first.tenant_id, second.tenant_id} == {acme.id, globex.id}

    def attempted(delivery: WebhookDelivery, status: int) -> tuple[WebhookDelivery, DeliveryAttempt]:
        attempt = DeliveryAttempt(
            delivery_id=delivery.id, attempted_at=T0, duration_ms=7, status_code=status, response_excerpt="r"
        )
        return delivery.after(attempt, state=DeliveryState.DELIVERED, next_attempt_at=T0), attempt

    dead = replace(second, state=DeliveryState.DEAD, last_error="not sent", finished_at=T0)
    async with uow_factory() as uow:
        settled = await uow.webhook_deliveries.settle_all(
            [attempted(first, 200), (dead, None), attempted(third, 201)], owner="w1", commit=commit
        )
        await uow.commit()

    assert settled == [True, True, False]
    stored: dict[str, WebhookDelivery | None] = {}
    attempts: dict[str, list[DeliveryAttempt]] = {}
    for delivery in (first, second, third):
        async with uow_factory() as uow:
            stored[delivery.id] = await uow.webhook_deliveries.get(delivery.tenant_id, delivery.id)
            attempts.update(await uow.webhook_deliveries.list_attempts(delivery.tenant_id, [delivery.id]))
    assert [(s.state, s.attempts) for s in stored.values() if s is not None] == [
        (DeliveryState.DELIVERED, 1),
        (DeliveryState.DEAD, 0),
        (DeliveryState.PENDING, 0),  # w2's lease: unchanged
    ]
    assert {delivery_id: [a.status_code for a in logged] for delivery_id, logged in attempts.items()} == {
        first.id: [200]
    }
    # Released: the other tenant's settled delivery is w1's no longer; w2 still holds its own.
    async with uow_factory() as uow:
        assert await uow.webhook_deliveries.settle_all([(dead, None)], owner="w1") == [False]
        assert await uow.webhook_deliveries.settle_all([(third, None)], owner="w2") == [True]
        assert await uow.webhook_deliveries.settle_all([], owner="w2") == []


async def test_delivered_and_dead_deliveries_are_never_claimed(uow_factory: UowFactory) -> None:
    acme = await add_tenant(uow_factory)
    await add_endpoint(uow_factory, acme)
    await record(uow_factory, acme)
    await record(uow_factory, acme)
    first, second = await claim(uow_factory, "w", T0)

    await settle(uow_factory, first, "w", status=200, state=DeliveryState.DELIVERED)
    await settle(uow_factory, second, "w", status=410, state=DeliveryState.DEAD)

    assert await claim(uow_factory, "w", T0 + timedelta(days=1)) == []


@pytest.mark.sql_only("concurrency between connections; the fake runs one block at a time")
async def test_concurrent_claims_never_hand_out_a_delivery_twice(uow_factory: UowFactory) -> None:
    acme = await add_tenant(uow_factory)
    await add_endpoint(uow_factory, acme)
    for _ in range(30):
        await record(uow_factory, acme)

    # five claimers: as many as the pool has connections, so none waits for another to finish
    results = await asyncio.gather(*(claim(uow_factory, f"w{n}", T0, limit=7) for n in range(5)))

    claimed = [delivery.id for result in results for delivery in result]
    assert len(claimed) == len(set(claimed)) == 30


async def test_pages_of_deliveries_newest_first_filtered_by_state(uow_factory: UowFactory) -> None:
    acme = await add_tenant(uow_factory)
    endpoint = await add_endpoint(uow_factory, acme)
    for n in range(5):
        await record(uow_factory, acme, at=T0 + timedelta(seconds=n), payload=f'{{"n":{n}}}')
    [oldest] = await claim(uow_factory, "w", T0, limit=1)
    await settle(uow_factory, oldest, "w", status=200, state=DeliveryState.DELIVERED)

    async with uow_factory() as uow:
        page_1 = await uow.webhook_deliveries.list_page(DeliveryQuery(acme.id, endpoint.id, limit=3))
        page_2 = await uow.webhook_deliveries.list_page(
            DeliveryQuery(acme.id, endpoint.id, limit=3, after=page_1[-1].id)
        )
        delivered = await uow.webhook_deliveries.list_page(
            DeliveryQuery(acme.id, endpoint.id, limit=10, state=DeliveryState.DELIVERED)
        )
        foreign = await uow.webhook_deliveries.list_page(DeliveryQuery(uuid4(), endpoint.id, limit=10))

    assert [d.payload for d in page_1 + page_2] == [f'{{"n":{n}}}' for n in reversed(range(5))]
    assert [d.id for d in delivered] == [oldest.id]
    assert foreign == []


async def test_a_replay_makes_a_delivery_pending_with_fresh_attempts(uow_factory: UowFactory) -> None:
    acme = await add_tenant(uow_factory)
    await add_endpoint(uow_factory, acme)
    await record(uow_factory, acme)
    [delivery] = await claim(uow_factory, "w", T0)
    await settle(uow_factory, delivery, "w", status=410, state=DeliveryState.DEAD)
    later = T0 + timedelta(hours=3)

    async with uow_factory() as uow:
        replayed = await uow.webhook_deliveries.replay(acme.id, delivery.id, later)
        assert await uow.webhook_deliveries.replay(uuid4(), delivery.id, later) is None
        await uow.commit()

    assert replayed is not None
    assert (replayed.id, replayed.state, replayed.attempts) == (delivery.id, DeliveryState.PENDING, 0)
    assert (replayed.next_attempt_at, replayed.finished_at, replayed.last_status_code) == (later, None, 410)
    assert [d.id for d in await claim(uow_factory, "w", later)] == [delivery.id]


async def test_finished_deliveries_are_purged_with_their_attempts(
    uow_factory: UowFactory, stored: StoredRows
) -> None:
    acme = await add_tenant(uow_factory)
    await add_endpoint(uow_factory, acme)
    for _ in range(3):
        await record(uow_factory, acme)
    delivered, dead, pending = await claim(uow_factory, "w", T0)
    await settle(uow_factory, delivered, "w", status=200, state=DeliveryState.DELIVERED)
    await settle(uow_factory, dead, "w", status=410, state=DeliveryState.DEAD)
    await settle(uow_factory, pending, "w", status=500, state=DeliveryState.PENDING)

    async with uow_factory() as uow:
        assert await uow.webhook_deliveries.purge_finished(T0) == 0
        assert await uow.webhook_deliveries.purge_finished(T0 + timedelta(seconds=1)) == 2
        await uow.commit()

    left = await stored.webhook_delivery_ids()
    attempts = await stored.webhook_attempt_delivery_ids()
    assert left == [pending.id]
    assert attempts == [pending.id]
