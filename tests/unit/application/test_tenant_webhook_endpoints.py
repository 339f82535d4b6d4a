"""Managing webhook endpoints: admins only, URLs checked, secrets shown once, tenants kept apart."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from application.errors import (
    AccessDenied,
    InvalidCursor,
    InvalidInput,
    NotFound,
    WebhookEndpointDisabled,
    WebhookUrlRefused,
)
from application.principal import Principal
from application.tenant_webhooks.endpoints import (
    DeleteWebhookEndpoint,
    DeliveriesRequest,
    GetWebhookDelivery,
    GetWebhookEndpoint,
    ListWebhookDeliveries,
    ListWebhookEndpoints,
    RegisterWebhookCommand,
    RegisterWebhookEndpoint,
    ReplayWebhookDelivery,
    RotateWebhookSecret,
    UpdateWebhookCommand,
    UpdateWebhookEndpoint,
)
from domain.administration.tenancy import Role
from domain.errors import DomainError
from domain.tenant_webhooks.model import DeliveryAttempt, DeliveryState, WebhookEndpoint, WebhookEventType
from tests.support.fakes import FakeUnitOfWork, FakeWebhookUrlGuard, FixedClock, TenantAccount

URL = "https://crm.example.com/hooks/whatsapp"
ALL_EVENTS = ("message.received", "message.status", "message.failed")


def admin(account: TenantAccount) -> Principal:
    return Principal(user_id=account.user.id, tenant_id=account.tenant.id, role=Role.TENANT_ADMIN)


def agent(account: TenantAccount) -> Principal:
    return Principal(user_id=account.user.id, tenant_id=account.tenant.id, role=Role.AGENT)


@pytest.fixture
def guard() -> FakeWebhookUrlGuard:
    return FakeWebhookUrlGuard("localhost", "internal.example.com")


@pytest.fixture
def register(uow: FakeUnitOfWork, guard: FakeWebhookUrlGuard, clock: FixedClock) -> RegisterWebhookEndpoint:
    return RegisterWebhookEndpoint(uow, guard, clock)


async def add_endpoint(
    register: RegisterWebhookEndpoint,
    account: TenantAccount,
    *,
    url: str = URL,
    events: tuple[str, ...] = ALL_EVENTS,
) -> WebhookEndpoint:
    return (await register(RegisterWebhookCommand(principal=admin(account), url=url, events=events))).endpoint


async def test_an_admin_registers_an_endpoint_and_sees_its_secret_once(
    register: RegisterWebhookEndpoint, uow: FakeUnitOfWork, guard: FakeWebhookUrlGuard, acme: TenantAccount
) -> None:
    created = await register(
        RegisterWebhookCommand(
            principal=admin(acme), url=URL, events=["message.received"], description=" CRM "
        )
    )

    assert created.secret.startswith("whsec_")
    endpoint = created.endpoint
    assert (endpoint.tenant_id, endpoint.url, endpoint.description) == (acme.tenant.id, URL, "CRM")
    assert endpoint.events == {WebhookEventType.MESSAGE_RECEIVED}
    assert endpoint.enabled
    assert guard.checked == [URL]
    secrets = await uow.webhook_endpoints.signing_secrets(acme.tenant.id, endpoint.id)
    assert secrets is not None
    assert secrets.current == created.secret
    assert uow.committed


async def test_agents_manage_no_webhooks(
    register: RegisterWebhookEndpoint, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    endpoint = await add_endpoint(register, acme)

    with pytest.raises(AccessDenied):
        await register(RegisterWebhookCommand(principal=agent(acme), url=URL, events=ALL_EVENTS))
    with pytest.raises(AccessDenied):
        await ListWebhookEndpoints(uow)(agent(acme))
    with pytest.raises(AccessDenied):
        await RotateWebhookSecret(uow, clock)(agent(acme), endpoint.id)
    with pytest.raises(AccessDenied):
        await DeleteWebhookEndpoint(uow)(agent(acme), endpoint.id)


async def test_platform_admins_manage_no_webhooks(
    register: RegisterWebhookEndpoint, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    # They administer tenants, not what is in them (docs/administration.md): as the route says.
    endpoint = await add_endpoint(register, acme)
    principal = Principal(user_id=acme.user.id, tenant_id=acme.tenant.id, role=Role.PLATFORM_ADMIN)

    with pytest.raises(AccessDenied):
        await register(RegisterWebhookCommand(principal=principal, url=URL, events=ALL_EVENTS))
    with pytest.raises(AccessDenied):
        await ListWebhookEndpoints(uow)(principal)
    with pytest.raises(AccessDenied):
        await RotateWebhookSecret(uow, clock)(principal, endpoint.id)
    with pytest.raises(AccessDenied):
        await DeleteWebhookEndpoint(uow)(principal, endpoint.id)
    assert uow.webhook_endpoints.all() == [endpoint]


async def test_a_url_the_guard_refuses_is_not_stored(
    register: RegisterWebhookEndpoint, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    with pytest.raises(WebhookUrlRefused, match="loopback"):
        await add_endpoint(register, acme, url="http://localhost:8080/hook")

    assert uow.webhook_endpoints.all() == []


@pytest.mark.parametrize(
    ("url", "events"),
    [("ftp://example.com/x", ALL_EVENTS), (URL, ()), (URL, ("message.sent",))],
)
async def test_invalid_endpoints_are_refused_before_the_url_is_resolved(
    register: RegisterWebhookEndpoint,
    guard: FakeWebhookUrlGuard,
    acme: TenantAccount,
    url: str,
    events: tuple[str, ...],
) -> None:
    with pytest.raises(DomainError):
        await add_endpoint(register, acme, url=url, events=events)

    assert guard.checked == []


async def test_a_tenant_has_a_bounded_number_of_endpoints(
    uow: FakeUnitOfWork, guard: FakeWebhookUrlGuard, clock: FixedClock, acme: TenantAccount
) -> None:
    register = RegisterWebhookEndpoint(uow, guard, clock, max_endpoints=2)
    await add_endpoint(register, acme)
    await add_endpoint(register, acme)

    with pytest.raises(InvalidInput, match="at most 2"):
        await add_endpoint(register, acme)


async def test_a_tenant_sees_only_its_own_endpoints(
    register: RegisterWebhookEndpoint, uow: FakeUnitOfWork, acme: TenantAccount, globex: TenantAccount
) -> None:
    mine = await add_endpoint(register, acme)
    theirs = await add_endpoint(register, globex, url="https://globex.example.com/hook")

    assert [e.id for e in await ListWebhookEndpoints(uow)(admin(acme))] == [mine.id]
    assert (await GetWebhookEndpoint(uow)(admin(acme), mine.id)).url == URL
    with pytest.raises(NotFound):
        await GetWebhookEndpoint(uow)(admin(acme), theirs.id)
    with pytest.raises(NotFound):
        await DeleteWebhookEndpoint(uow)(admin(acme), theirs.id)
    with pytest.raises(NotFound):
        await UpdateWebhookEndpoint(uow, FakeWebhookUrlGuard(), FixedClock())(
            UpdateWebhookCommand(principal=admin(acme), endpoint_id=theirs.id, enabled=False)
        )
    assert len(uow.webhook_endpoints.all()) == 2


async def test_an_update_changes_only_what_is_given_and_checks_a_new_url(
    register: RegisterWebhookEndpoint,
    uow: FakeUnitOfWork,
    guard: FakeWebhookUrlGuard,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    endpoint = await add_endpoint(register, acme)
    update = UpdateWebhookEndpoint(uow, guard, clock)
    moment = clock.advance(timedelta(minutes=5))

    updated = await update(
        UpdateWebhookCommand(principal=admin(acme), endpoint_id=endpoint.id, events=["message.failed"])
    )

    assert updated.events == {WebhookEventType.MESSAGE_FAILED}
    assert (updated.url, updated.updated_at) == (URL, moment)
    assert guard.checked == [URL]  # the URL did not change: not checked again
    with pytest.raises(WebhookUrlRefused):
        await update(
            UpdateWebhookCommand(
                principal=admin(acme), endpoint_id=endpoint.id, url="https://internal.example.com/x"
            )
        )
    stored = await uow.webhook_endpoints.get(acme.tenant.id, endpoint.id)
    assert stored is not None
    assert stored.url == URL


async def test_rotating_keeps_the_old_secret_valid_for_the_overlap(
    register: RegisterWebhookEndpoint, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    created = await register(RegisterWebhookCommand(principal=admin(acme), url=URL, events=ALL_EVENTS))
    rotate = RotateWebhookSecret(uow, clock)

    rotated = await rotate(admin(acme), created.endpoint.id)

    assert rotated.secret != created.secret
    assert rotated.endpoint.previous_secret_expires_at == clock.now() + timedelta(hours=24)
    secrets = await uow.webhook_endpoints.signing_secrets(acme.tenant.id, created.endpoint.id)
    assert secrets is not None
    assert secrets.in_force(clock.now()) == (rotated.secret, created.secret)
    assert secrets.in_force(clock.now() + timedelta(hours=24)) == (rotated.secret,)

    shorter = await rotate(admin(acme), created.endpoint.id, timedelta(0))
    secrets = await uow.webhook_endpoints.signing_secrets(acme.tenant.id, created.endpoint.id)
    assert secrets is not None
    assert secrets.in_force(clock.now()) == (shorter.secret,)
    with pytest.raises(InvalidInput, match="overlap"):
        await rotate(admin(acme), created.endpoint.id, timedelta(days=8))


async def test_deleting_an_endpoint_deletes_its_deliveries(
    register: RegisterWebhookEndpoint, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    endpoint = await add_endpoint(register, acme)
    await uow.webhook_events.record(acme.tenant.id, WebhookEventType.MESSAGE_STATUS, "{}", clock.now())

    await DeleteWebhookEndpoint(uow)(admin(acme), endpoint.id)

    assert uow.webhook_endpoints.all() == []
    assert uow.webhook_deliveries.all() == []


# ------------------------------------------------------------------------------------------ deliveries


async def test_deliveries_page_newest_first_with_their_attempts(
    register: RegisterWebhookEndpoint, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    endpoint = await add_endpoint(register, acme)
    for n in range(5):
        clock.advance(timedelta(seconds=1))
        await uow.webhook_events.record(
            acme.tenant.id, WebhookEventType.MESSAGE_STATUS, f'{{"n":{n}}}', clock.now()
        )
    first = uow.webhook_deliveries.all()[0]
    claimed = await uow.webhook_deliveries.claim_due(owner="w", now=clock.now(), lease_seconds=60, limit=1)
    attempt = DeliveryAttempt(delivery_id=first.id, attempted_at=clock.now(), duration_ms=12, status_code=500)
    await uow.webhook_deliveries.settle(
        claimed[0].after(attempt, state=DeliveryState.PENDING, next_attempt_at=clock.now()),
        attempt,
        owner="w",
    )
    list_deliveries = ListWebhookDeliveries(uow)

    page_1 = await list_deliveries(DeliveriesRequest(principal=admin(acme), endpoint_id=endpoint.id, limit=3))
    page_2 = await list_deliveries(
        DeliveriesRequest(principal=admin(acme), endpoint_id=endpoint.id, limit=3, cursor=page_1.next_cursor)
    )

    payloads = [item.delivery.payload for item in page_1.items + page_2.items]
    assert payloads == [f'{{"n":{n}}}' for n in reversed(range(5))]
    assert page_2.next_cursor is None
    assert page_2.items[-1].attempts == [attempt]
    assert page_1.items[0].attempts == []


async def test_deliveries_filter_on_state_and_refuse_foreign_cursors(
    register: RegisterWebhookEndpoint, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    endpoint = await add_endpoint(register, acme)
    await uow.webhook_events.record(acme.tenant.id, WebhookEventType.MESSAGE_STATUS, "{}", clock.now())
    list_deliveries = ListWebhookDeliveries(uow)

    dead = await list_deliveries(
        DeliveriesRequest(principal=admin(acme), endpoint_id=endpoint.id, state=DeliveryState.DEAD)
    )
    pending = await list_deliveries(
        DeliveriesRequest(principal=admin(acme), endpoint_id=endpoint.id, state=DeliveryState.PENDING)
    )

    assert (len(dead.items), len(pending.items)) == (0, 1)
    with pytest.raises(InvalidCursor):
        await list_deliveries(
            DeliveriesRequest(principal=admin(acme), endpoint_id=endpoint.id, cursor="WyIyMDI2Il0")
        )


async def test_another_tenants_deliveries_are_not_found(
    register: RegisterWebhookEndpoint,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
    globex: TenantAccount,
) -> None:
    theirs = await add_endpoint(register, globex)
    await uow.webhook_events.record(globex.tenant.id, WebhookEventType.MESSAGE_STATUS, "{}", clock.now())
    delivery = uow.webhook_deliveries.all()[0]

    with pytest.raises(NotFound):
        await ListWebhookDeliveries(uow)(DeliveriesRequest(principal=admin(acme), endpoint_id=theirs.id))
    with pytest.raises(NotFound):
        await GetWebhookDelivery(uow)(admin(acme), theirs.id, delivery.id)
    with pytest.raises(NotFound):
        await ReplayWebhookDelivery(uow, clock)(admin(acme), theirs.id, delivery.id)
    mine = await add_endpoint(register, acme)
    with pytest.raises(NotFound):  # a delivery of another endpoint, even through one's own endpoint
        await GetWebhookDelivery(uow)(admin(acme), mine.id, delivery.id)


async def test_a_replay_makes_a_dead_delivery_pending_again_with_the_same_id(
    register: RegisterWebhookEndpoint, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    endpoint = await add_endpoint(register, acme)
    await uow.webhook_events.record(acme.tenant.id, WebhookEventType.MESSAGE_STATUS, "{}", clock.now())
    [claimed] = await uow.webhook_deliveries.claim_due(owner="w", now=clock.now(), lease_seconds=60, limit=1)
    attempt = DeliveryAttempt(
        delivery_id=claimed.id, attempted_at=clock.now(), duration_ms=1, status_code=500
    )
    dead = claimed.after(attempt, state=DeliveryState.DEAD, next_attempt_at=clock.now(), error="exhausted")
    await uow.webhook_deliveries.settle(dead, attempt, owner="w")
    moment = clock.advance(timedelta(hours=2))

    replayed = await ReplayWebhookDelivery(uow, clock)(admin(acme), endpoint.id, claimed.id)

    assert replayed.delivery.id == claimed.id
    assert (replayed.delivery.state, replayed.delivery.attempts) == (DeliveryState.PENDING, 0)
    assert replayed.delivery.next_attempt_at == moment
    assert replayed.attempts == [attempt]  # the history stays
    assert [
        d.id for d in await uow.webhook_deliveries.claim_due(owner="w", now=moment, lease_seconds=60, limit=5)
    ] == [claimed.id]


async def test_a_delivery_of_a_disabled_endpoint_is_not_replayed(
    register: RegisterWebhookEndpoint,
    uow: FakeUnitOfWork,
    guard: FakeWebhookUrlGuard,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    endpoint = await add_endpoint(register, acme)
    await uow.webhook_events.record(acme.tenant.id, WebhookEventType.MESSAGE_STATUS, "{}", clock.now())
    delivery = uow.webhook_deliveries.all()[0]
    await UpdateWebhookEndpoint(uow, guard, clock)(
        UpdateWebhookCommand(principal=admin(acme), endpoint_id=endpoint.id, enabled=False)
    )

    with pytest.raises(WebhookEndpointDisabled):
        await ReplayWebhookDelivery(uow, clock)(admin(acme), endpoint.id, delivery.id)
    with pytest.raises(NotFound):
        await ReplayWebhookDelivery(uow, clock)(admin(acme), endpoint.id, "msg_" + "0" * 26)
    with pytest.raises(NotFound):
        await ReplayWebhookDelivery(uow, clock)(admin(acme), uuid4(), delivery.id)
