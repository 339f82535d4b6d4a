"""Sending a template by name: resolved through the tenant's catalogue for the sender's own account,
checked before anything is stored, kept with the text the customer saw; and the fallback template sent
instead of a free-form message when the contact's window is closed."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from application.errors import InvalidInput, TemplateNotApproved, TemplateNotFound
from application.kept_reads import KeptReads
from application.messaging.send_message import SendMessage, SendMessageCommand
from application.messaging.template_sends import (
    HeaderMedia,
    KeptCatalogue,
    ListSendableTemplates,
    TemplateChoice,
)
from application.pagination import MAX_PAGE_SIZE
from domain.administration.tenancy import ProviderName, TwilioCredentials
from domain.messaging.content import Media, MediaKind
from domain.messaging.messages import Template
from domain.phone import PhoneNumber
from domain.templates.catalogue import TemplateStatus
from domain.templates.errors import InvalidTemplateValues
from tests.support.fakes import FakeMessagingProvider, FakeUnitOfWork, FixedClock, TenantAccount, open_window
from tests.support.provider_accounts import set_twilio_credentials
from tests.support.templates import INVOICE_READY, ORDER_UPDATE, SHIPPING_NOTICE, catalogue_template
from tests.support.use_cases import build_send_message, profile_in_memory

CUSTOMER = "+447911123456"
SHIPPING_VALUES = {"1": "A-42", "2": "Ana", "3": "May 4", "4": "A-42"}


@pytest.fixture
def send_message(uow: FakeUnitOfWork, provider: FakeMessagingProvider, clock: FixedClock) -> SendMessage:
    return build_send_message(uow, provider, clock)


@pytest.fixture(params=["read", "in memory"])
async def send_either_way(
    request: pytest.FixtureRequest,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    clock: FixedClock,
    acme: TenantAccount,
) -> SendMessage:
    """The sending profile and the catalogue's templates read by each send, or kept in memory (the
    window then checked by the write, and a send it refuses accepted again the long way)."""
    if request.param == "read":
        return build_send_message(uow, provider, clock)
    catalogue: KeptCatalogue = KeptReads(lambda: 1, ttl_seconds=3600)
    profiles = await profile_in_memory(uow, acme)
    return build_send_message(uow, provider, clock, sending_profiles=profiles, catalogue=catalogue)


@pytest.fixture(autouse=True)
async def catalogue(uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount) -> None:
    for definition in (ORDER_UPDATE, SHIPPING_NOTICE, INVOICE_READY):
        await catalogue_template(uow, acme.tenant.id, definition, clock.now())


def template_send(
    account: TenantAccount, name: str, language: str, variables: dict[str, str], **more: object
) -> SendMessageCommand:
    return SendMessageCommand(
        tenant_id=account.tenant.id,
        to_number=CUSTOMER,
        template=Template.named(name, language, variables),
        **more,  # type: ignore[arg-type]
    )


async def test_a_template_is_sent_as_the_catalogue_has_it_and_kept_with_what_the_customer_saw(
    send_message: SendMessage, uow: FakeUnitOfWork, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    result = await send_message(template_send(acme, "shipping_notice", "en", SHIPPING_VALUES))

    template = result.message.content.template
    assert template is not None
    assert template.layout == (("header", ("1",)), ("body", ("2", "3")), ("button:0", ("4",)))
    assert template.rendered == "Order A-42\n\nHi Ana, your order ships on May 4.\n\nReply STOP to opt out"
    assert (await uow.messages.get(acme.tenant.id, result.message.id)) == result.message
    assert provider.requests[0].message.content.template == template
    assert not result.sent_fallback


async def test_a_twilio_sender_sends_the_content_sid_of_its_own_accounts_listing(
    send_message: SendMessage,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    await uow.tenants.update(replace(acme.tenant, provider=ProviderName.TWILIO))
    account = await set_twilio_credentials(uow, acme.tenant.id, TwilioCredentials("AC" + "1" * 32, "token"))
    content_sid = "HX" + "ab" * 16
    await catalogue_template(
        uow,
        acme.tenant.id,
        ORDER_UPDATE,
        clock.now(),
        account_id=account.id,
        provider=ProviderName.TWILIO,
        provider_template_id=content_sid,
    )

    result = await send_message(template_send(acme, "order_update", "pt_BR", {"1": "Alice"}))

    template = result.message.content.template
    assert template is not None
    assert (template.content_sid, template.name, template.variables) == (
        content_sid,
        "order_update",
        (("1", "Alice"),),
    )
    assert template.rendered == "Olá Alice, seu pedido está a caminho."
    assert provider.requests[0].message.content.template == template


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"1": "A-42", "2": "Ana", "3": "May 4"}, "template.variables.4"),  # one missing
        ({**SHIPPING_VALUES, "5": "extra"}, "template.variables.5"),  # one too many
        ({**SHIPPING_VALUES, "2": "Ana\nSmith"}, "template.variables.2"),  # a new line WhatsApp refuses
    ],
    ids=["missing", "extra", "new line"],
)
async def test_values_that_do_not_fit_the_template_are_refused_naming_the_variable(
    send_message: SendMessage,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    acme: TenantAccount,
    variables: dict[str, str],
    field: str,
) -> None:
    with pytest.raises(InvalidTemplateValues) as refused:
        await send_message(template_send(acme, "shipping_notice", "en", variables))

    assert field in [problem.field for problem in refused.value.problems]
    assert uow.messages.all() == []
    assert provider.requests == []


@pytest.mark.parametrize(
    ("status", "reason", "words"),
    [
        (TemplateStatus.PENDING, None, "waiting for the provider's approval"),
        (TemplateStatus.REJECTED, "INVALID_FORMAT", "rejected by the provider (INVALID_FORMAT)"),
        (TemplateStatus.PAUSED, None, "paused"),
        (TemplateStatus.DISABLED, None, "disabled"),
    ],
)
async def test_a_template_that_is_not_approved_is_refused_before_anything_is_stored(
    send_message: SendMessage,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
    status: TemplateStatus,
    reason: str | None,
    words: str,
) -> None:
    await catalogue_template(uow, acme.tenant.id, ORDER_UPDATE, clock.now(), status=status, reason=reason)

    with pytest.raises(TemplateNotApproved, match=words.replace("(", r"\(").replace(")", r"\)")):
        await send_message(template_send(acme, "order_update", "pt_BR", {"1": "Alice"}))

    assert uow.messages.all() == []
    assert uow.jobs.all() == []


async def test_a_template_outside_the_catalogue_or_off_the_senders_account_is_refused(
    send_message: SendMessage, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    with pytest.raises(TemplateNotFound, match="no template welcome \\(en\\)"):
        await send_message(template_send(acme, "welcome", "en", {}))

    # On Twilio, the sandbox's listing is no listing of the sender's account.
    await uow.tenants.update(replace(acme.tenant, provider=ProviderName.TWILIO))
    await set_twilio_credentials(uow, acme.tenant.id, TwilioCredentials("AC" + "1" * 32, "token"))
    with pytest.raises(TemplateNotFound, match="not on the provider account of sender"):
        await send_message(template_send(acme, "order_update", "pt_BR", {"1": "Alice"}))
    assert uow.messages.all() == []


async def test_a_template_of_another_tenant_is_not_found(
    send_message: SendMessage, globex: TenantAccount
) -> None:
    with pytest.raises(TemplateNotFound):
        await send_message(template_send(globex, "order_update", "pt_BR", {"1": "Alice"}))


async def test_a_media_header_takes_its_file_from_the_send_as_the_kind_the_template_declares(
    send_message: SendMessage, acme: TenantAccount
) -> None:
    header = HeaderMedia(url="https://example.com/files/A-42.pdf", filename="A-42.pdf")

    result = await send_message(
        template_send(acme, "invoice_ready", "en", {"customer": "Ana"}, template_header_media=header)
    )

    template = result.message.content.template
    assert template is not None
    assert template.header_media == Media(
        kind=MediaKind.DOCUMENT, url="https://example.com/files/A-42.pdf", filename="A-42.pdf"
    )
    assert template.rendered == "Hi Ana, your invoice is attached."


async def test_a_media_header_template_without_its_file_is_refused(
    send_message: SendMessage, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    with pytest.raises(InvalidTemplateValues) as refused:
        await send_message(template_send(acme, "invoice_ready", "en", {"customer": "Ana"}))

    assert [problem.field for problem in refused.value.problems] == ["template.header_media"]
    assert uow.messages.all() == []


async def test_a_content_sid_alone_is_sent_as_it_is_without_the_catalogue(
    send_message: SendMessage, acme: TenantAccount
) -> None:
    content_sid = "HX" + "cd" * 16

    result = await send_message(
        SendMessageCommand(
            tenant_id=acme.tenant.id,
            to_number=CUSTOMER,
            content_sid=content_sid,
            content_variables={"1": "Alice"},
        )
    )

    assert result.message.content.template == Template.of(content_sid, {"1": "Alice"})


# ------------------------------------------------------------------------------------- the fallback


def reminder(account: TenantAccount, **more: object) -> SendMessageCommand:
    """A free-form reminder, with the order_update template to fall back on."""
    return SendMessageCommand(
        tenant_id=account.tenant.id,
        to_number=CUSTOMER,
        body="Your order is on its way!",
        fallback_template=TemplateChoice(Template.named("order_update", "pt_BR", {"1": "Alice"})),
        **more,  # type: ignore[arg-type]
    )


async def test_with_the_window_closed_the_fallback_template_is_sent_and_the_answer_says_so(
    send_either_way: SendMessage, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    result = await send_either_way(reminder(acme))

    assert result.sent_fallback
    template = result.message.content.template
    assert template is not None
    assert (template.name, template.rendered) == ("order_update", "Olá Alice, seu pedido está a caminho.")
    assert result.message.content.body == ""
    assert provider.requests[0].message.content.template == template


async def test_with_the_window_open_the_message_itself_is_sent(
    send_either_way: SendMessage, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await open_window(uow, acme, CUSTOMER, clock.now() - timedelta(hours=23))

    result = await send_either_way(reminder(acme))

    assert not result.sent_fallback
    assert (result.message.content.body, result.message.content.template) == (
        "Your order is on its way!",
        None,
    )


async def test_a_replayed_send_says_the_fallback_was_sent_as_the_first_answer_did(
    send_either_way: SendMessage, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    first = await send_either_way(reminder(acme, idempotency_key="reminder-42"))
    again = await send_either_way(reminder(acme, idempotency_key="reminder-42"))

    assert (again.replayed, again.sent_fallback, again.message.id) == (True, True, first.message.id)
    assert len(uow.messages.all()) == 1


async def test_a_fallback_that_cannot_be_sent_is_refused_even_with_the_window_open(
    send_message: SendMessage, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await open_window(uow, acme, CUSTOMER, clock.now() - timedelta(hours=1))
    await catalogue_template(uow, acme.tenant.id, ORDER_UPDATE, clock.now(), status=TemplateStatus.PAUSED)
    stored_before = uow.messages.all()

    with pytest.raises(TemplateNotApproved, match="fallback_template: template order_update"):
        await send_message(reminder(acme))

    assert uow.messages.all() == stored_before


async def test_a_template_needs_no_fallback(send_message: SendMessage, acme: TenantAccount) -> None:
    command = replace(
        template_send(acme, "shipping_notice", "en", SHIPPING_VALUES),
        fallback_template=TemplateChoice(Template.named("order_update", "pt_BR", {"1": "Alice"})),
    )

    with pytest.raises(InvalidInput, match="a fallback is for free-form messages"):
        await send_message(command)


async def test_through_twilio_a_media_header_shows_the_media_of_its_content_resource(
    send_message: SendMessage, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await uow.tenants.update(replace(acme.tenant, provider=ProviderName.TWILIO))
    account = await set_twilio_credentials(uow, acme.tenant.id, TwilioCredentials("AC" + "1" * 32, "token"))
    await catalogue_template(
        uow, acme.tenant.id, INVOICE_READY, clock.now(), account_id=account.id, provider=ProviderName.TWILIO
    )
    header = HeaderMedia(url="https://example.com/files/A-42.pdf", filename="A-42.pdf")

    with pytest.raises(InvalidTemplateValues, match="leave header_media out"):
        await send_message(
            template_send(acme, "invoice_ready", "en", {"customer": "Ana"}, template_header_media=header)
        )
    result = await send_message(template_send(acme, "invoice_ready", "en", {"customer": "Ana"}))

    template = result.message.content.template
    assert template is not None
    assert (template.content_sid is not None, template.header_media) == (True, None)


async def test_the_templates_offered_are_those_approved_at_the_senders_account_past_a_page_of_others(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await uow.tenants.update(replace(acme.tenant, provider=ProviderName.TWILIO))
    account = await set_twilio_credentials(uow, acme.tenant.id, TwilioCredentials("AC" + "2" * 32, "token"))
    # More than a page of templates approved elsewhere (the sandbox), all sorting before the sender's.
    for number in range(MAX_PAGE_SIZE + 1):
        await catalogue_template(
            uow, acme.tenant.id, replace(ORDER_UPDATE, name=f"a_{number:03}"), clock.now()
        )
    for name, status in (("z_ours", TemplateStatus.APPROVED), ("z_ours_pending", TemplateStatus.PENDING)):
        await catalogue_template(
            uow,
            acme.tenant.id,
            replace(ORDER_UPDATE, name=name),
            clock.now(),
            account_id=account.id,
            provider=ProviderName.TWILIO,
            status=status,
        )

    offered = await ListSendableTemplates(uow)(acme.tenant.id, acme.sender.phone_number)

    assert [template.definition.name for template in offered] == ["z_ours"]


async def test_a_number_that_is_not_the_tenants_is_offered_no_template(
    uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    assert await ListSendableTemplates(uow)(acme.tenant.id, PhoneNumber.parse("+14155550100")) == []
