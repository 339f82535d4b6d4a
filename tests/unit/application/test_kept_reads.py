"""Reads kept in memory (sending profiles, catalogue templates): served while the version they were
read at holds, and never when it is unknown, moved, or the entry is too old; only profiles that would
send are kept. Through SendMessage: a send skips the read while the version holds, and sees a change
once it moves."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest

from application.errors import AccessDenied, TemplateNotApproved
from application.kept_reads import KeptReads
from application.messaging.send_message import SendMessage, SendMessageCommand
from application.messaging.sending_profiles import SendingProfiles
from application.messaging.template_sends import KeptCatalogue
from application.ports.consent import SendConsent
from application.ports.messages import SendingProfile
from domain.administration.tenancy import ProviderName, Sender, Tenant, TenantStatus
from domain.consent.model import ConsentPolicy
from domain.messaging.messages import Template
from domain.phone import PhoneNumber
from domain.templates.catalogue import TemplateStatus
from tests.support.fakes import FakeMessagingProvider, FakeUnitOfWork, FixedClock, TenantAccount, open_window
from tests.support.repositories import T0
from tests.support.templates import ORDER_SHIPPED, catalogue_template
from tests.support.use_cases import build_send_message

NUMBER = "+12025550123"


class Versions:
    """What the listener would say: a version that moves, or None while it cannot vouch."""

    def __init__(self) -> None:
        self.current: int | None = 1

    def __call__(self) -> int | None:
        return self.current


class Seconds:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def a_profile(*, active: bool = True, with_sender: bool = True) -> SendingProfile:
    tenant = Tenant(
        name="acme",
        provider=ProviderName.TWILIO,
        created_at=T0,
        status=TenantStatus.ACTIVE if active else TenantStatus.SUSPENDED,
    )
    sender = Sender(
        tenant_id=tenant.id, phone_number=PhoneNumber.parse(NUMBER), created_at=T0, is_default=True
    )
    return SendingProfile(tenant, sender if with_sender else None, ProviderName.TWILIO)


@pytest.fixture
def versions() -> Versions:
    return Versions()


@pytest.fixture
def seconds() -> Seconds:
    return Seconds()


@pytest.fixture
def profiles(versions: Versions, seconds: Seconds) -> SendingProfiles:
    return SendingProfiles(versions, ttl_seconds=60, monotonic=seconds)


def test_a_profile_kept_is_served_for_its_tenant_and_sender_only(profiles: SendingProfiles) -> None:
    profile = a_profile()
    tenant_id = profile.tenant.id
    profiles.keep(tenant_id, None, profile, profiles.version())

    assert profiles.get(tenant_id, None) == profile
    assert profiles.get(tenant_id, NUMBER) is None  # named, not the default: read
    assert profiles.get(uuid4(), None) is None


def test_the_recipients_opt_out_is_not_kept(profiles: SendingProfiles) -> None:
    refused = replace(a_profile(), refusal=SendConsent(ConsentPolicy(tenant_id=uuid4())))
    profiles.keep(refused.tenant.id, None, refused, profiles.version())

    kept = profiles.get(refused.tenant.id, None)
    assert kept is not None
    assert kept.refusal is None


def test_nothing_is_served_once_the_version_moves(profiles: SendingProfiles, versions: Versions) -> None:
    profile = a_profile()
    profiles.keep(profile.tenant.id, None, profile, profiles.version())

    versions.current = 2

    assert profiles.get(profile.tenant.id, None) is None
    versions.current = 1  # and what was kept before is gone for good
    assert profiles.get(profile.tenant.id, None) is None


def test_a_profile_read_while_the_version_moved_is_not_kept(
    profiles: SendingProfiles, versions: Versions
) -> None:
    profile = a_profile()
    before_the_read = profiles.version()
    versions.current = 2  # a change announced during the read: what it read may be stale

    profiles.keep(profile.tenant.id, None, profile, before_the_read)

    assert profiles.get(profile.tenant.id, None) is None


def test_nothing_is_kept_while_the_version_is_unknown(profiles: SendingProfiles, versions: Versions) -> None:
    profile = a_profile()
    versions.current = None
    profiles.keep(profile.tenant.id, None, profile, profiles.version())
    versions.current = 1

    assert profiles.get(profile.tenant.id, None) is None
    profiles.keep(profile.tenant.id, None, profile, 1)
    versions.current = None
    assert profiles.get(profile.tenant.id, None) is None


def test_a_profile_expires_after_its_time(profiles: SendingProfiles, seconds: Seconds) -> None:
    profile = a_profile()
    profiles.keep(profile.tenant.id, None, profile, profiles.version())

    seconds.now = 59.9
    assert profiles.get(profile.tenant.id, None) == profile
    seconds.now = 60.0
    assert profiles.get(profile.tenant.id, None) is None


@pytest.mark.parametrize(
    "refusing", [a_profile(active=False), a_profile(with_sender=False)], ids=["suspended", "no sender"]
)
def test_a_profile_that_refuses_the_send_is_not_kept(
    profiles: SendingProfiles, refusing: SendingProfile
) -> None:
    profiles.keep(refusing.tenant.id, None, refusing, profiles.version())

    assert profiles.get(refusing.tenant.id, None) is None


def test_the_oldest_profile_goes_when_there_are_too_many(versions: Versions) -> None:
    profiles = SendingProfiles(versions, ttl_seconds=60, max_entries=2)
    first, second, third = a_profile(), a_profile(), a_profile()
    for profile in (first, second, third):
        profiles.keep(profile.tenant.id, None, profile, profiles.version())

    assert [profiles.get(p.tenant.id, None) for p in (first, second, third)] == [None, second, third]


# ------------------------------------------------------------------------------------ through sends


CUSTOMER = "+447911123456"


@pytest.fixture
async def send_message(
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    clock: FixedClock,
    acme: TenantAccount,
    versions: Versions,
) -> SendMessage:
    """Sends whose sending profiles are kept while ``versions`` holds, to CUSTOMER, whose window is open."""
    await open_window(uow, acme, CUSTOMER, clock.now() - timedelta(hours=1))
    return build_send_message(
        uow, provider, clock, sending_profiles=SendingProfiles(versions, ttl_seconds=3600)
    )


def hi(account: TenantAccount) -> SendMessageCommand:
    return SendMessageCommand(tenant_id=account.tenant.id, to_number=CUSTOMER, body="hi")


async def test_a_send_uses_the_profile_kept_until_the_version_moves(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, versions: Versions, send_message: SendMessage
) -> None:
    command = hi(acme)
    first = await send_message(command)
    # A change the process has not heard of: the profile in memory still holds.
    new_default = Sender(
        tenant_id=acme.tenant.id, phone_number=PhoneNumber.parse(NUMBER), created_at=clock.now()
    )
    await uow.senders.add(new_default)
    await uow.senders.make_default(acme.tenant.id, new_default.id)
    unheard = await send_message(command)

    versions.current = 2  # the change announced
    heard = await send_message(command)

    assert first.message.from_number == unheard.message.from_number == acme.sender.phone_number
    assert heard.message.from_number == new_default.phone_number


async def test_a_tenant_suspended_is_refused_once_the_change_is_announced(
    uow: FakeUnitOfWork, acme: TenantAccount, versions: Versions, send_message: SendMessage
) -> None:
    command = hi(acme)
    await send_message(command)

    await uow.tenants.update(replace(acme.tenant, status=TenantStatus.SUSPENDED))
    versions.current = 2

    with pytest.raises(AccessDenied):
        await send_message(command)


async def test_a_send_by_template_uses_the_template_kept_until_the_version_moves(
    uow: FakeUnitOfWork, provider: FakeMessagingProvider, clock: FixedClock, acme: TenantAccount
) -> None:
    versions = Versions()
    catalogue: KeptCatalogue = KeptReads(versions, ttl_seconds=3600)
    send_message = build_send_message(uow, provider, clock, catalogue=catalogue)
    kept = await catalogue_template(uow, acme.tenant.id, ORDER_SHIPPED, clock.now())
    command = SendMessageCommand(
        tenant_id=acme.tenant.id,
        to_number=CUSTOMER,
        template=Template.named(ORDER_SHIPPED.name, ORDER_SHIPPED.language, {"1": "Ana"}),
    )
    await send_message(command)
    # Paused, but the process has not heard of it: the template in memory still holds.
    (listing,) = kept.listings
    await uow.templates.update(replace(kept, listings=(replace(listing, status=TemplateStatus.PAUSED),)))
    unheard = await send_message(command)

    versions.current = 2  # the change announced

    with pytest.raises(TemplateNotApproved):
        await send_message(command)
    assert unheard.message.content.template is not None
