"""Who signs Twilio's callbacks, kept in step with the database: the unit of work tells its own process
of a committed change (on both databases), and PostgreSQL's NOTIFY tells every process of a change made
anywhere, so that a callback for a removed sender or signed with a replaced token is refused.

Waiting for the notification is bounded (``eventually``): it arrives after the writer's commit, in
milliseconds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.database.access_cache import ListeningAccessCache
from adapters.database.unit_of_work import SqlAlchemyUnitOfWork
from adapters.security.secret_box import SecretBox
from adapters.twilio.callback_authentication import TwilioSigners
from adapters.twilio.callbacks import TwilioInboundMessages
from application.errors import CallbackRejected
from application.ports.identity import SessionAccess
from domain.administration.tenancy import (
    ProviderAccount,
    ProviderName,
    Role,
    Sender,
    Tenant,
    TwilioCredentials,
    User,
)
from domain.identity.credentials import AuthSession
from domain.phone import PhoneNumber
from tests.support.listening import ListeningProcess, changed_from, eventually, running
from tests.support.twilio_callbacks import (
    ACME_ACCOUNT,
    ACME_TOKEN,
    INBOUND_URL,
    SANDBOX_NUMBER,
    inbound_params,
    signed_callback,
)

T0 = datetime(2026, 12, 5, tzinfo=UTC)
NUMBER = PhoneNumber.parse(SANDBOX_NUMBER)


@dataclass(frozen=True, slots=True)
class Acme:
    tenant: Tenant
    account: ProviderAccount
    sender: Sender


async def add_acme(uow: SqlAlchemyUnitOfWork) -> Acme:
    """A Twilio tenant whose sender SANDBOX_NUMBER signs with ACME_TOKEN."""
    tenant = Tenant(name="Acme", provider=ProviderName.TWILIO, created_at=T0)
    account = ProviderAccount(
        tenant_id=tenant.id,
        credentials=TwilioCredentials(ACME_ACCOUNT, ACME_TOKEN),
        created_at=T0,
        label="Twilio",
    )
    sender = Sender(tenant_id=tenant.id, phone_number=NUMBER, created_at=T0, is_default=True)
    async with uow:
        await uow.tenants.add(tenant)
        await uow.provider_accounts.add(account)
        await uow.senders.add(sender)
        await uow.commit()
    return Acme(tenant, account, sender)


class Told:
    def __init__(self) -> None:
        self.times = 0

    def __call__(self) -> None:
        self.times += 1


# ------------------------------------------------------------------------- in the process that wrote


Write = Callable[[SqlAlchemyUnitOfWork, Acme], Awaitable[object]]


async def add_a_sender(uow: SqlAlchemyUnitOfWork, acme: Acme) -> None:
    await uow.senders.add(
        Sender(tenant_id=acme.tenant.id, phone_number=PhoneNumber.parse("+14155550999"), created_at=T0)
    )


async def rotate_the_token(uow: SqlAlchemyUnitOfWork, acme: Acme) -> None:
    await uow.provider_accounts.update(
        acme.account.with_credentials(TwilioCredentials(ACME_ACCOUNT, "a-new-auth-token"))
    )


async def add_an_account(uow: SqlAlchemyUnitOfWork, acme: Acme) -> None:
    await uow.provider_accounts.add(
        ProviderAccount(
            tenant_id=acme.tenant.id,
            credentials=TwilioCredentials("AC" + "c3" * 16, "another-auth-token"),
            created_at=T0,
            label="Second",
        )
    )


async def move_the_sender(uow: SqlAlchemyUnitOfWork, acme: Acme) -> None:
    await uow.senders.move(acme.tenant.id, acme.sender.id, acme.account.id, None)


async def pause_the_sender(uow: SqlAlchemyUnitOfWork, acme: Acme) -> None:
    assert await uow.senders.pause(acme.tenant.id, NUMBER, T0 + timedelta(hours=1))


CHANGES_OF_SIGNERS = [
    pytest.param(add_a_sender, id="sender added"),
    pytest.param(lambda uow, acme: uow.senders.remove(acme.tenant.id, acme.sender.id), id="sender removed"),
    pytest.param(move_the_sender, id="sender moved to another account"),
    pytest.param(rotate_the_token, id="auth token replaced"),
    pytest.param(add_an_account, id="account added"),
    # Not who signs, but whom sends go from: the same version keeps accepts' sending profiles in step.
    pytest.param(lambda uow, acme: uow.senders.make_default(acme.tenant.id, acme.sender.id), id="default"),
]
NOT_CHANGES_OF_SIGNERS = [
    pytest.param(pause_the_sender, id="sender paused"),
    pytest.param(
        lambda uow, acme: uow.senders.update_label(acme.tenant.id, acme.sender.id, "Sales"), id="relabelled"
    ),
]


def told_unit_of_work(engine: AsyncEngine, secret_box: SecretBox, told: Told) -> SqlAlchemyUnitOfWork:
    return SqlAlchemyUnitOfWork(engine, secret_box, on_signers_changed=told)


@pytest.mark.parametrize("write", CHANGES_OF_SIGNERS)
async def test_a_committed_change_of_who_signs_is_told_to_this_process(
    engine: AsyncEngine, secret_box: SecretBox, write: Write
) -> None:
    told = Told()
    uow = told_unit_of_work(engine, secret_box, told)
    acme = await add_acme(uow)
    told.times = 0

    async with uow:
        await write(uow, acme)
        assert told.times == 0  # not before the commit: another transaction still reads the old rows
        await uow.commit()

    assert told.times == 1


@pytest.mark.parametrize("write", NOT_CHANGES_OF_SIGNERS)
async def test_a_change_that_decides_nothing_about_signing_is_not_told(
    engine: AsyncEngine, secret_box: SecretBox, write: Write
) -> None:
    told = Told()
    uow = told_unit_of_work(engine, secret_box, told)
    acme = await add_acme(uow)
    told.times = 0

    async with uow:
        await write(uow, acme)
        await uow.commit()

    assert told.times == 0


async def test_a_change_rolled_back_is_not_told(engine: AsyncEngine, secret_box: SecretBox) -> None:
    told = Told()
    uow = told_unit_of_work(engine, secret_box, told)
    acme = await add_acme(uow)
    told.times = 0

    async with uow:
        await uow.senders.remove(acme.tenant.id, acme.sender.id)

    assert told.times == 0


# ------------------------------------------------------------------------- in every process, by NOTIFY


class OneProcess(ListeningProcess):
    """An API process's Twilio signers, kept in step by its listening access cache."""

    def __init__(
        self, cache: ListeningAccessCache, engine: AsyncEngine, other_engine: AsyncEngine, admin_url: str
    ) -> None:
        super().__init__(cache, engine, other_engine, admin_url)
        self.callbacks = TwilioInboundMessages()

    def bind(self, secret_box: SecretBox) -> None:
        super().bind(secret_box)
        # Kept far longer than the test waits: only an announced change can make them read again.
        signers = TwilioSigners(
            self.own_unit_of_work, version=self.cache.signers_version, max_age_seconds=3600
        )
        self.callbacks = TwilioInboundMessages(signers=signers)

    async def tenants_without_a_query(self, token: str = ACME_TOKEN) -> list[UUID]:
        """The callback's tenants, from a unit of work never entered: any query through it would fail."""
        screened = await self.callbacks.screen(signed_callback(INBOUND_URL, inbound_params(), token=token))
        return await screened.authenticate(self.own_unit_of_work())

    async def is_refused(self, token: str = ACME_TOKEN) -> bool:
        screened = await self.callbacks.screen(signed_callback(INBOUND_URL, inbound_params(), token=token))
        uow = self.own_unit_of_work()
        async with uow:
            try:
                await screened.authenticate(uow)
            except CallbackRejected:
                return True
        return False


@pytest.fixture
async def process(
    request: pytest.FixtureRequest, postgres_admin_url: str, secret_box: SecretBox
) -> AsyncIterator[OneProcess]:
    async with running(OneProcess, request, postgres_admin_url, secret_box) as one:
        yield one


async def test_a_sender_removed_in_another_process_is_refused_here_once_announced(
    process: OneProcess,
) -> None:
    acme = await add_acme(process.other_process())
    await process.settled()
    assert await process.tenants_without_a_query() == [acme.tenant.id]

    other = process.other_process()
    async with other:
        assert await other.senders.remove(acme.tenant.id, acme.sender.id)
        await other.commit()

    await eventually(process.is_refused)


async def test_an_auth_token_replaced_in_another_process_refuses_the_old_one_here(
    process: OneProcess,
) -> None:
    acme = await add_acme(process.other_process())
    await process.settled()
    assert await process.tenants_without_a_query() == [acme.tenant.id]

    other = process.other_process()
    async with other:
        await rotate_the_token(other, acme)
        await other.commit()

    await eventually(process.is_refused)
    assert await process.tenants_without_a_query("a-new-auth-token") == [acme.tenant.id]


async def test_a_sender_removed_in_this_process_is_refused_at_once(process: OneProcess) -> None:
    acme = await add_acme(process.other_process())
    await process.settled()
    assert await process.tenants_without_a_query() == [acme.tenant.id]

    own = process.own_unit_of_work()
    async with own:
        assert await own.senders.remove(acme.tenant.id, acme.sender.id)
        await own.commit()

    assert await process.is_refused()  # without waiting for the notification


async def test_a_pause_moves_neither_the_signers_version_nor_the_session_checks(process: OneProcess) -> None:
    acme = await add_acme(process.other_process())
    cache = process.cache
    await process.settled()
    signers_before, session_version = cache.signers_version(), cache.version()
    assert signers_before is not None
    assert session_version is not None
    access = an_access(acme.tenant)
    cache.put(access.session.id, access, session_version)

    await process.as_dba("UPDATE senders SET paused_until = now() + interval '1 hour'")
    # A change that is announced, after the pause: once it has arrived, the pause's would have too.
    await process.as_dba("UPDATE provider_accounts SET label = 'Renamed'")
    await eventually(changed_from(cache.signers_version, signers_before))

    assert cache.signers_version() == signers_before + 1
    assert cache.version() == session_version
    assert cache.get(access.session.id) == access
    assert await process.tenants_without_a_query() == [acme.tenant.id]


def an_access(tenant: Tenant) -> SessionAccess:
    user = User(tenant_id=tenant.id, username="ana", password_hash="x", created_at=T0, role=Role.AGENT)
    session = AuthSession(
        user_id=user.id, tenant_id=tenant.id, created_at=T0, expires_at=T0 + timedelta(days=1)
    )
    return SessionAccess(session=session, user=user, tenant=tenant)
