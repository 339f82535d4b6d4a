"""Marking a customer's message read: through the provider of the number it was sent to, never stored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from application.errors import (
    InvalidInput,
    NotFound,
    ProviderRefused,
    ProviderUnavailable,
    UnsupportedByProvider,
)
from application.messaging.read_receipts import MarkMessageRead
from application.ports.providers import ReadReceipt, ReadReceiptOutcome
from domain.administration.tenancy import MetaCredentials, ProviderAccount, ProviderName
from tests.support.fakes import (
    FakeMessagingProvider,
    FakeUnitOfWork,
    FixedClock,
    TenantAccount,
    open_window,
)
from tests.support.use_cases import accept

CUSTOMER = "+5511955550100"
NUMBER_ID = "106540352242922"


@pytest.fixture
def mark_read(uow: FakeUnitOfWork, provider: FakeMessagingProvider) -> MarkMessageRead:
    return MarkMessageRead(uow, provider)


async def on_meta(uow: FakeUnitOfWork, account: TenantAccount) -> ProviderAccount:
    meta = ProviderAccount(
        tenant_id=account.tenant.id,
        credentials=MetaCredentials("102290129340398", "access-token", "app-secret", "verify-token"),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    await uow.provider_accounts.add(meta)
    await uow.senders.move(account.tenant.id, account.sender.id, meta.id, NUMBER_ID)
    return meta


async def test_a_customers_message_is_marked_read_through_its_numbers_account(
    mark_read: MarkMessageRead,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    acme: TenantAccount,
    clock: FixedClock,
) -> None:
    meta = await on_meta(uow, acme)
    message = await open_window(uow, acme, CUSTOMER, clock.now())

    await mark_read(acme.tenant.id, message.id, typing_indicator=True)

    [(request, typing)] = provider.read_receipts
    assert typing is True
    assert request.message.id == message.id
    assert request.account == meta
    assert request.provider is ProviderName.META
    assert request.provider_number_id == NUMBER_ID


async def test_only_a_customers_message_of_ones_own_tenant_can_be_marked_read(
    mark_read: MarkMessageRead,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    acme: TenantAccount,
    globex: TenantAccount,
    clock: FixedClock,
) -> None:
    ours = await accept(uow, acme, clock)
    theirs = await open_window(uow, globex, CUSTOMER, clock.now())

    with pytest.raises(InvalidInput, match="only a customer's message"):
        await mark_read(acme.tenant.id, ours.id)
    with pytest.raises(NotFound):
        await mark_read(acme.tenant.id, theirs.id)
    assert provider.read_receipts == []


@pytest.mark.parametrize(
    ("outcome", "error"),
    [
        (ReadReceiptOutcome.NOT_SUPPORTED, UnsupportedByProvider),
        (ReadReceiptOutcome.REFUSED, ProviderRefused),
        (ReadReceiptOutcome.UNAVAILABLE, ProviderUnavailable),
    ],
)
async def test_what_the_provider_could_not_do_is_said_with_its_reason(
    mark_read: MarkMessageRead,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    acme: TenantAccount,
    clock: FixedClock,
    outcome: ReadReceiptOutcome,
    error: type[Exception],
) -> None:
    message = await open_window(uow, acme, CUSTOMER, clock.now())
    provider.read_receipt = ReadReceipt(outcome, "the provider's reason")

    with pytest.raises(error, match="the provider's reason"):
        await mark_read(acme.tenant.id, message.id)
