"""Use cases wired over the fakes, and the records they start from, as tests of several modules need
them."""

from __future__ import annotations

from datetime import timedelta

from application.administration.onboarding import CreateUser
from application.identity.sessions import SessionPolicy
from application.messaging.dispatch_message import DispatchMessage, DispatchSettings
from application.messaging.dispatcher import Dispatcher, DispatcherSettings
from application.messaging.send_message import NO_SEND_LIMITS, SendMessage, TenantSendLimits
from application.messaging.sending_profiles import SendingProfiles
from application.messaging.template_sends import KeptCatalogue
from application.ports.dispatch_queue import DispatchJob
from application.ports.rate_limits import RateLimit
from application.principal import Principal
from domain.administration.tenancy import Role, User
from domain.messaging.messages import Message, MessageContent, MessageStatus
from domain.phone import PhoneNumber
from tests.support.fakes import (
    FakeMessagingProvider,
    FakeMetrics,
    FakePasswordHasher,
    FakeUnitOfWork,
    FixedClock,
    TenantAccount,
)

# Logging in (the ``authenticate`` fixture of tests/unit/application/conftest.py).
FAILURE_LIMIT = RateLimit(amount=5, per_seconds=900)
SESSIONS = SessionPolicy(lifetime=timedelta(days=14))

# Dispatching: the worker that claims the jobs, and the contact ``accept`` writes to.
OWNER = "worker-1"
CONTACT = PhoneNumber.parse("+14155550123")


def admin_of(account: TenantAccount) -> Principal:
    return Principal(user_id=account.user.id, tenant_id=account.tenant.id, role=Role.TENANT_ADMIN)


async def add_agent(
    uow: FakeUnitOfWork,
    hasher: FakePasswordHasher,
    clock: FixedClock,
    account: TenantAccount,
    name: str = "ana",
) -> User:
    return await CreateUser(uow, hasher, clock)(
        admin_of(account), account.tenant.id, name, "agent password", Role.AGENT
    )


def build_send_message(
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    clock: FixedClock,
    send_limits: TenantSendLimits = NO_SEND_LIMITS,
    sending_profiles: SendingProfiles | None = None,
    catalogue: KeptCatalogue | None = None,
) -> SendMessage:
    """The real use case, dispatching inline through a real Dispatcher over the fakes."""
    database = uow.database
    dispatch = DispatchMessage(
        lambda: FakeUnitOfWork(database), provider, clock, DispatchSettings(), metrics=FakeMetrics()
    )
    dispatcher = Dispatcher(lambda: FakeUnitOfWork(database), dispatch, clock, DispatcherSettings())
    return SendMessage(
        uow,
        dispatcher,
        clock,
        wait_seconds=5.0,
        metrics=FakeMetrics(),
        provider=provider,
        send_limits=send_limits,
        sending_profiles=sending_profiles,
        catalogue=catalogue,
    )


async def accept(uow: FakeUnitOfWork, account: TenantAccount, clock: FixedClock) -> Message:
    """A message accepted for CONTACT, its dispatch job due now."""
    message = Message.new_outbound(
        tenant_id=account.tenant.id,
        sender=account.sender.phone_number,
        contact=CONTACT,
        content=MessageContent(body="hello"),
        now=clock.now(),
    )
    async with uow:
        await uow.messages.add(message)
        await uow.jobs.enqueue(
            DispatchJob(
                message_id=message.id,
                tenant_id=message.tenant_id,
                sender=message.sender,
                available_at=clock.now(),
                created_at=clock.now(),
            )
        )
        await uow.commit()
    return message


async def sent_message(uow: FakeUnitOfWork, clock: FixedClock, account: TenantAccount, sid: str) -> Message:
    """A message of ``account``'s that its provider took (its id ``sid``, queued)."""
    message = outbound_message(account, clock).handed_to_provider(sid, MessageStatus.QUEUED, clock.now())
    await uow.messages.add(message)
    return message


def outbound_message(
    account: TenantAccount, clock: FixedClock, *, body: str = "Your order has shipped"
) -> Message:
    """A new message from ``account``'s sender to the customer +14155550100, not yet handed to a provider."""
    return Message.new_outbound(
        tenant_id=account.tenant.id,
        sender=account.sender.phone_number,
        contact=PhoneNumber.parse("+14155550100"),
        content=MessageContent(body=body),
        now=clock.now(),
    )


async def stored(uow: FakeUnitOfWork, message: Message) -> Message:
    """``message`` as it is stored now."""
    found = await uow.messages.get(message.tenant_id, message.id)
    assert found is not None
    return found


async def timeline(uow: FakeUnitOfWork, message: Message) -> list[tuple[MessageStatus, bool]]:
    """The status reports kept for ``message``: each status and whether it was applied."""
    return [
        (event.status, event.applied)
        for event in await uow.messages.list_status_events(message.tenant_id, message.id)
    ]


async def profile_in_memory(uow: FakeUnitOfWork, account: TenantAccount) -> SendingProfiles:
    """Sending profiles that hold ``account``'s default one already (read as an accept reads it), and
    whose version never moves: sends from its default sender skip the read."""
    profiles = SendingProfiles(lambda: 1, ttl_seconds=3600)
    async with uow:
        profile = await uow.acceptance.sending_profile(account.tenant.id, None)
    assert profile is not None
    profiles.keep(account.tenant.id, None, profile, profiles.version())
    assert profiles.get(account.tenant.id, None) is not None
    return profiles
