"""Who signs Twilio's callbacks, kept in step with the database: the unit of work tells its own process
of a committed change (on both databases), and PostgreSQL's NOTIFY tells every process of a change made
anywhere, so that a callback for a removed sender or signed with a replaced token is refused.

Waiting for the notification is bounded (``eventually``): it arrives after the writer's commit, in
milliseconds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.database.unit_of_work import SqlAlchemyUnitOfWork
from adapters.security.secret_box import SecretBox
from domain.administration.tenancy import ProviderAccount, ProviderName, Sender, Tenant, TwilioCredentials
from domain.phone import PhoneNumber
from tests.support.twilio_callbacks import ACME_ACCOUNT, ACME_TOKEN, SANDBOX_NUMBER

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
]
NOT_CHANGES_OF_SIGNERS = [
    pytest.param(pause_the_sender, id="sender paused"),
    pytest.param(
        lambda uow, acme: uow.senders.update_label(acme.tenant.id, acme.sender.id, "Sales"), id="relabelled"
    ),
    pytest.param(lambda uow, acme: uow.senders.make_default(acme.tenant.id, acme.sender.id), id="default"),
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
