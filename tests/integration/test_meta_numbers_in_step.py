"""Whom Meta's deliveries are for, kept in step with the database: ``MetaApps`` routes a delivery's
numbers without a query while the signers version holds, and that version moves on a change made in
this process (the unit of work tells it) or in any other (PostgreSQL's NOTIFY, migrations 0029 and
0030), so that a number removed or moved elsewhere stops being routed to its old tenant.

Waiting for the notification is bounded (``eventually``): it arrives after the writer's commit, in
milliseconds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.database.access_cache import ListeningAccessCache
from adapters.database.unit_of_work import SqlAlchemyUnitOfWork
from adapters.meta.callback_authentication import MetaApps
from adapters.meta.callbacks import MetaDeliveries, MetaNumberChanges
from adapters.security.secret_box import SecretBox
from application.ports.provider_callbacks import ProviderCallback, Recipient
from domain.administration.tenancy import MetaCredentials, ProviderAccount, ProviderName, Sender, Tenant
from domain.phone import PhoneNumber
from tests.support.listening import ListeningProcess, eventually, running
from tests.support.meta_webhooks import (
    OWN_APP_SECRET,
    PLATFORM_APP_SECRET,
    delivery,
    entry,
    messages_change,
    signed,
    text_message,
)

T0 = datetime(2026, 12, 5, tzinfo=UTC)
NUMBER = PhoneNumber.parse("+14155238886")
WABA, OTHER_WABA = "102290129340398", "102290129340399"
NUMBER_ID, OTHER_NUMBER_ID = "106540352242922", "106540352242923"
WAMID = "wamid.HBgLMTQxNTU1NTAxMDAVAgASGBQzQTAwMDAwMDAwMDAwMDAwMDAwMQA="


@dataclass(frozen=True, slots=True)
class Acme:
    tenant: Tenant
    account: ProviderAccount  # on the platform's app
    own_app: ProviderAccount  # an app of Acme's own, under another business account
    sender: Sender


def meta_account(tenant: Tenant, waba: str, app_secret: str, label: str) -> ProviderAccount:
    credentials = MetaCredentials(
        business_account_id=waba,
        access_token=f"EAAG-token-of-{waba}",
        app_secret=app_secret,
        verify_token=f"verify-{waba}",
    )
    return ProviderAccount(tenant_id=tenant.id, credentials=credentials, created_at=T0, label=label)


async def add_acme(uow: SqlAlchemyUnitOfWork) -> Acme:
    """A Meta tenant whose sender NUMBER is NUMBER_ID on an account of the platform's app."""
    tenant = Tenant(name="Acme", provider=ProviderName.META, created_at=T0)
    account = meta_account(tenant, WABA, PLATFORM_APP_SECRET, "Platform")
    own_app = meta_account(tenant, OTHER_WABA, OWN_APP_SECRET, "Own")
    sender = Sender(
        tenant_id=tenant.id,
        phone_number=NUMBER,
        created_at=T0,
        is_default=True,
        account_id=account.id,
        provider_number_id=NUMBER_ID,
    )
    async with uow:
        await uow.tenants.add(tenant)
        await uow.provider_accounts.add(account)
        await uow.provider_accounts.add(own_app)
        await uow.senders.add(sender)
        await uow.commit()
    return Acme(tenant, account, own_app, sender)


def a_message_for_acme() -> ProviderCallback:
    """A delivery the platform's app signed, of a message to NUMBER_ID under WABA."""
    body = delivery(
        entry(
            WABA,
            messages_change(NUMBER_ID, NUMBER.e164.removeprefix("+"), messages=[text_message(WAMID, "Hi")]),
        )
    )
    headers = {name.lower(): value for name, value in signed(body, PLATFORM_APP_SECRET).items()}
    return ProviderCallback(
        url="https://gateway.example.com/webhooks/meta",
        content_type="application/json",
        body=body,
        headers=headers,
        client_address="173.252.88.10",
    )


class OneProcess(ListeningProcess):
    """An API process's Meta apps and numbers, kept in step by its listening access cache."""

    def __init__(
        self, cache: ListeningAccessCache, engine: AsyncEngine, other_engine: AsyncEngine, admin_url: str
    ) -> None:
        super().__init__(cache, engine, other_engine, admin_url)
        self.deliveries = MetaDeliveries()

    def bind(self, secret_box: SecretBox) -> None:
        super().bind(secret_box)
        # Kept far longer than the test waits: only an announced change can make them read again.
        apps = MetaApps(self.own_unit_of_work, version=self.cache.signers_version, max_age_seconds=3600)
        self.deliveries = MetaDeliveries(apps=apps)

    async def part(self) -> MetaNumberChanges:
        screened = await self.deliveries.screen(a_message_for_acme())
        assert not screened.needs_lookup  # the apps proved it
        await screened.authenticate(self.own_unit_of_work())  # never entered: no query is possible
        (part,) = screened.parts()
        return part

    async def routed_without_a_query(self) -> Recipient | None:
        part = await self.part()
        assert not part.needs_lookup
        return await part.recipient(self.own_unit_of_work())  # never entered: any query would fail

    async def is_unrouted(self) -> bool:
        part = await self.part()
        uow = self.own_unit_of_work()
        if not part.needs_lookup:
            return await part.recipient(uow) is None
        async with uow:
            return await part.recipient(uow) is None


@pytest.fixture
async def process(
    request: pytest.FixtureRequest, postgres_admin_url: str, secret_box: SecretBox
) -> AsyncIterator[OneProcess]:
    async with running(OneProcess, request, postgres_admin_url, secret_box) as one:
        yield one


@pytest.fixture
async def acme(process: OneProcess) -> Acme:
    acme = await add_acme(process.other_process())
    await process.settled()
    assert await process.routed_without_a_query() == Recipient(acme.tenant.id, NUMBER)
    return acme


async def test_a_sender_removed_in_another_process_stops_being_routed_here_once_announced(
    process: OneProcess, acme: Acme
) -> None:
    other = process.other_process()
    async with other:
        assert await other.senders.remove(acme.tenant.id, acme.sender.id)
        await other.commit()

    await eventually(process.is_unrouted)


async def test_a_sender_moved_to_another_apps_account_in_another_process_stops_being_routed_here(
    process: OneProcess, acme: Acme
) -> None:
    other = process.other_process()
    async with other:
        await other.senders.move(acme.tenant.id, acme.sender.id, acme.own_app.id, NUMBER_ID)
        await other.commit()

    # The platform's app signed the delivery; the number is now on Acme's own app.
    await eventually(process.is_unrouted)


async def test_a_phone_number_id_changed_by_hand_stops_being_routed_here_once_announced(
    process: OneProcess, acme: Acme
) -> None:
    await process.as_dba("UPDATE senders SET provider_number_id = %s", OTHER_NUMBER_ID)  # migration 0030's

    await eventually(process.is_unrouted)


async def test_a_sender_removed_in_this_process_stops_being_routed_at_once(
    process: OneProcess, acme: Acme
) -> None:
    own = process.own_unit_of_work()
    async with own:
        assert await own.senders.remove(acme.tenant.id, acme.sender.id)
        await own.commit()

    assert await process.is_unrouted()  # without waiting for the notification
