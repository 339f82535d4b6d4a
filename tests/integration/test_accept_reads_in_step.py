"""What accepts keep in memory, kept in step with the database: an accept skips reading its tenant and
sender (its sending profile), and a send by template its catalogue template, while the listener vouches
that nothing changed, and reads them again once a change is announced, made in this process (the unit
of work tells it at once) or in any other (PostgreSQL's NOTIFY: migration 0008 for tenants, 0031 for a
sender's default flag, 0032 for the catalogue).

Waiting for the notification is bounded (``eventually``): it arrives after the writer's commit, in
milliseconds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from adapters.security.secret_box import SecretBox
from application.errors import AccessDenied, TemplateNotApproved, TemplateNotFound
from application.kept_reads import KeptReads
from application.messaging.dispatch_message import DispatchMessage, DispatchSettings
from application.messaging.dispatcher import Dispatcher, DispatcherSettings
from application.messaging.send_message import SendMessage, SendMessageCommand
from application.messaging.sending_profiles import SendingProfiles
from application.messaging.template_sends import KeptCatalogue
from domain.administration.tenancy import ProviderName, Sender, Tenant, TenantStatus
from domain.messaging.messages import MessageContent, Template
from domain.phone import PhoneNumber
from domain.templates.catalogue import CatalogueTemplate
from tests.support.fakes import FakeMessagingProvider, FakeMetrics, FixedClock
from tests.support.listening import ListeningProcess, eventually, running
from tests.support.templates import ORDER_SHIPPED, catalogue_template

T0 = datetime(2026, 12, 5, tzinfo=UTC)
FIRST, SECOND = PhoneNumber.parse("+14155238886"), PhoneNumber.parse("+12025550123")
CUSTOMER = "+447911123456"


class OneProcess(ListeningProcess):
    """An API process accepting messages, its sending profiles kept in step by its access cache."""

    def bind(self, secret_box: SecretBox) -> None:
        super().bind(secret_box)
        # Kept far longer than the test waits: only an announced change can make them read again.
        self.profiles = SendingProfiles(self.cache.senders_version, ttl_seconds=3600)
        self.catalogue: KeptCatalogue = KeptReads(self.cache.catalogue_version, ttl_seconds=3600)
        clock = FixedClock(T0)
        provider = FakeMessagingProvider()
        dispatch = DispatchMessage(
            self.own_unit_of_work, provider, clock, DispatchSettings(), metrics=FakeMetrics()
        )
        self.send_message = SendMessage(
            self.own_unit_of_work(),
            Dispatcher(self.own_unit_of_work, dispatch, clock, DispatcherSettings()),
            clock,
            wait_seconds=1.0,
            metrics=FakeMetrics(),
            provider=provider,
            sending_profiles=self.profiles,
            catalogue=self.catalogue,
        )

    async def send_from(self, tenant: Tenant) -> PhoneNumber:
        command = SendMessageCommand(
            tenant_id=tenant.id, to_number=CUSTOMER, body="hello", respond_async=True
        )
        return (await self.send_message(command)).message.from_number

    async def send_template(self, tenant: Tenant) -> MessageContent:
        command = SendMessageCommand(
            tenant_id=tenant.id,
            to_number=CUSTOMER,
            template=Template.named(ORDER_SHIPPED.name, ORDER_SHIPPED.language, {"1": "Ana"}),
            respond_async=True,
        )
        return (await self.send_message(command)).message.content

    async def forgot(self, tenant: Tenant) -> bool:
        return self.profiles.get(tenant.id, None) is None

    async def forgot_the_template(self, tenant: Tenant) -> bool:
        return self.catalogue.get((tenant.id, ORDER_SHIPPED.name, ORDER_SHIPPED.language)) is None


@pytest.fixture
async def process(
    request: pytest.FixtureRequest, postgres_admin_url: str, secret_box: SecretBox
) -> AsyncIterator[OneProcess]:
    async with running(OneProcess, request, postgres_admin_url, secret_box) as one:
        yield one


@pytest.fixture
async def acme(process: OneProcess) -> tuple[Tenant, Sender]:
    """A tenant with two senders, FIRST its default, whose profile this process keeps."""
    tenant = Tenant(name="Acme", provider=ProviderName.SANDBOX, created_at=T0, session_window_check=False)
    first = Sender(tenant_id=tenant.id, phone_number=FIRST, created_at=T0, is_default=True)
    second = Sender(tenant_id=tenant.id, phone_number=SECOND, created_at=T0)
    uow = process.other_process()
    async with uow:
        await uow.tenants.add(tenant)
        await uow.senders.add(first)
        await uow.senders.add(second)
        await uow.commit()
    await process.settled()
    assert await process.send_from(tenant) == FIRST
    assert not await process.forgot(tenant)
    return tenant, second


async def test_a_default_sender_changed_by_hand_is_sent_from_once_announced(
    process: OneProcess, acme: tuple[Tenant, Sender]
) -> None:
    tenant, second = acme
    await process.as_dba(
        "UPDATE senders SET is_default = (id = %s) WHERE tenant_id = %s", second.id, tenant.id
    )  # migration 0031's

    await eventually(lambda: process.forgot(tenant))
    assert await process.send_from(tenant) == SECOND


async def test_a_tenant_suspended_in_another_process_is_refused_once_announced(
    process: OneProcess, acme: tuple[Tenant, Sender]
) -> None:
    tenant, _ = acme
    other = process.other_process()
    async with other:
        await other.tenants.update(replace(tenant, status=TenantStatus.SUSPENDED))
        await other.commit()

    await eventually(lambda: process.forgot(tenant))
    with pytest.raises(AccessDenied):
        await process.send_from(tenant)


async def test_a_default_sender_changed_in_this_process_is_sent_from_at_once(
    process: OneProcess, acme: tuple[Tenant, Sender]
) -> None:
    tenant, second = acme
    own = process.own_unit_of_work()
    async with own:
        await own.senders.make_default(tenant.id, second.id)
        await own.commit()

    assert await process.send_from(tenant) == SECOND  # without waiting for the notification


@pytest.fixture
async def shipped(process: OneProcess, acme: tuple[Tenant, Sender]) -> CatalogueTemplate:
    """Acme's approved template, which this process keeps once it has sent it."""
    tenant, _ = acme
    template = await catalogue_template(process.other_process(), tenant.id, ORDER_SHIPPED, T0)
    await process.settled()
    sent = await process.send_template(tenant)
    assert sent.template is not None
    assert sent.template.rendered == "Shipped, Ana."
    assert not await process.forgot_the_template(tenant)
    return template


async def test_a_template_paused_by_hand_is_refused_once_announced(
    process: OneProcess, acme: tuple[Tenant, Sender], shipped: CatalogueTemplate
) -> None:
    tenant, _ = acme
    await process.as_dba("UPDATE template_listings SET status = 'paused'")  # migration 0032's

    await eventually(lambda: process.forgot_the_template(tenant))
    with pytest.raises(TemplateNotApproved):
        await process.send_template(tenant)


async def test_a_template_changed_in_this_process_is_read_again_at_once(
    process: OneProcess, acme: tuple[Tenant, Sender], shipped: CatalogueTemplate
) -> None:
    tenant, _ = acme
    own = process.own_unit_of_work()
    async with own:
        assert await own.templates.remove(tenant.id, shipped.id)
        await own.commit()

    with pytest.raises(TemplateNotFound):  # without waiting for the notification
        await process.send_template(tenant)
