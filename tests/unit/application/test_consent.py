"""Consent as use cases: a customer's STOP or START recognised as their message is stored (in every
default language), the ledger, the confirmation reply, the consent.changed event; sends refused to a
person who opted out before anything is stored, but for the template categories the policy lets through;
and consent set and the policy changed over the API, audited."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from application.consent.management import (
    ConsentPolicyCommand,
    GetConsent,
    GetConsentPolicy,
    ListConsentLedger,
    SetConsent,
    SetConsentCommand,
    SetConsentPolicy,
)
from application.errors import AccessDenied, InvalidCursor, RecipientOptedOut
from application.inbound.commands import InboundMessage
from application.inbound.receive_message import store_inbound
from application.messaging.send_message import SendMessage, SendMessageCommand
from application.principal import Principal
from domain.administration.audit import AuditAction, TargetKind
from domain.administration.tenancy import Role
from domain.consent.model import (
    DEFAULT_OPT_IN_KEYWORDS,
    DEFAULT_OPT_OUT_KEYWORDS,
    ConsentPolicy,
    ConsentSource,
    ConsentState,
    KeywordMode,
)
from domain.messaging.content import Choice
from domain.messaging.messages import Direction, MessageContent, Template
from domain.phone import PhoneNumber
from domain.templates.definition import TemplateCategory, TemplateDefinition
from domain.tenant_webhooks.model import WebhookEndpoint, WebhookEventType
from tests.support.fakes import FakeMessagingProvider, FakeUnitOfWork, FixedClock, TenantAccount
from tests.support.templates import catalogue_template
from tests.support.use_cases import build_send_message, profile_in_memory

CUSTOMER = "+5215512345678"  # a Mexican mobile as WhatsApp writes it (with the 1)
SAME_PERSON = "+525512345678"  # the same person, as the national plan writes them
LOGIN_CODE = TemplateDefinition(
    name="login_code",
    language="en",
    category=TemplateCategory.AUTHENTICATION,
    body="Your code is {{1}}.",
    examples=(("1", "123456"),),
)
SPRING_SALE = TemplateDefinition(
    name="spring_sale",
    language="en",
    category=TemplateCategory.MARKETING,
    body="Spring sale, {{1}}!",
    examples=(("1", "Ana"),),
)


def principal(account: TenantAccount, role: Role = Role.AGENT) -> Principal:
    return Principal(
        user_id=account.user.id, tenant_id=account.tenant.id, role=role, client_address="203.0.113.9"
    )


async def customer_says(
    uow: FakeUnitOfWork, account: TenantAccount, clock: FixedClock, body: str, *, reply: Choice | None = None
) -> InboundMessage:
    inbound = InboundMessage(
        provider_message_id="wamid." + uuid4().hex,
        sender=account.sender.phone_number,
        contact=PhoneNumber.parse(CUSTOMER),
        content=MessageContent(body=body, reply=reply),
    )
    async with uow:
        await store_inbound(uow, account.tenant.id, inbound, clock.now())
    return inbound


async def state_of(
    uow: FakeUnitOfWork, account: TenantAccount, number: str = CUSTOMER
) -> ConsentState | None:
    record = await uow.consent.current(account.tenant.id, PhoneNumber.parse(number).identity)
    return record.state if record else None


async def subscribe_to_consent(uow: FakeUnitOfWork, account: TenantAccount, clock: FixedClock) -> None:
    endpoint = WebhookEndpoint.new(
        tenant_id=account.tenant.id,
        url="https://crm.example.com/hooks",
        events=[WebhookEventType.CONSENT_CHANGED],
        now=clock.now(),
    )
    await uow.webhook_endpoints.add(endpoint, "whsec_" + "A" * 44, at_most=10)


# ------------------------------------------------------------------------------ recognised in inbound


@pytest.mark.parametrize("language", sorted(DEFAULT_OPT_OUT_KEYWORDS))
async def test_a_customer_opts_out_and_back_in_with_each_default_languages_keywords(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, language: str
) -> None:
    for stop, start in zip(
        DEFAULT_OPT_OUT_KEYWORDS[language], DEFAULT_OPT_IN_KEYWORDS[language] * 3, strict=False
    ):
        await customer_says(uow, acme, clock, stop.title() + "!")
        assert await state_of(uow, acme) is ConsentState.OPTED_OUT, stop
        await customer_says(uow, acme, clock, f" {start.lower()} ")
        assert await state_of(uow, acme) is ConsentState.OPTED_IN, start


async def test_a_stop_is_ledgered_with_its_message_as_evidence_and_raises_one_event(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await subscribe_to_consent(uow, acme, clock)

    first = await customer_says(uow, acme, clock, "STOP")
    await customer_says(uow, acme, clock, "stop")  # again: ledgered, changes nothing

    ledger = uow.consent.ledger()
    assert [(entry.state, entry.source, entry.changed) for entry in ledger] == [
        (ConsentState.OPTED_OUT, ConsentSource.KEYWORD, True),
        (ConsentState.OPTED_OUT, ConsentSource.KEYWORD, False),
    ]
    evidence = await uow.messages.get_by_provider_sid(first.provider_message_id)
    assert evidence is not None
    assert ledger[0].evidence_message_id == evidence.id
    assert ledger[0].identity == PhoneNumber.parse(SAME_PERSON).identity
    assert ledger[0].actor == "contact"
    events = [d for d in uow.webhook_deliveries.all() if d.event_type is WebhookEventType.CONSENT_CHANGED]
    assert len(events) == 1
    assert '"state":"opted_out"' in events[0].payload
    assert '"source":"keyword"' in events[0].payload


async def test_metas_stop_promotions_button_opts_out_as_a_provider_button(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await customer_says(
        uow, acme, clock, "Stop promotions", reply=Choice(id="Stop promotions", title="Stop promotions")
    )

    assert await state_of(uow, acme) is ConsentState.OPTED_OUT
    assert uow.consent.ledger()[0].source is ConsentSource.PROVIDER_BUTTON


async def test_an_ordinary_message_changes_no_consent(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await customer_says(uow, acme, clock, "Please stop sending me the wrong size")

    assert await state_of(uow, acme) is None
    assert uow.consent.ledger() == []


async def test_the_tenants_confirmation_reply_is_queued_as_an_outbound_message_once(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await uow.consent.save_policy(
        ConsentPolicy(
            tenant_id=acme.tenant.id, opt_out_reply="You will hear no more from us.", updated_at=clock.now()
        )
    )

    await customer_says(uow, acme, clock, "STOP")
    await customer_says(uow, acme, clock, "STOP")

    replies = [m for m in uow.messages.all() if m.direction is Direction.OUTBOUND]
    assert [m.content.body for m in replies] == ["You will hear no more from us."]
    assert replies[0].contact == PhoneNumber.parse(CUSTOMER)
    assert [job.message_id for job in uow.jobs.all()] == [replies[0].id]


async def test_a_tenants_own_keywords_replace_the_defaults_when_it_says_so(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await uow.consent.save_policy(
        ConsentPolicy(
            tenant_id=acme.tenant.id,
            opt_out_keywords=("Basta",),
            keyword_mode=KeywordMode.REPLACE,
            updated_at=clock.now(),
        )
    )

    await customer_says(uow, acme, clock, "STOP")
    assert await state_of(uow, acme) is None
    await customer_says(uow, acme, clock, "basta")
    assert await state_of(uow, acme) is ConsentState.OPTED_OUT


# ------------------------------------------------------------------------------------- refused sends


@pytest.fixture(params=["profile read", "profile in memory"])
async def send_message(
    request: pytest.FixtureRequest,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    clock: FixedClock,
    acme: TenantAccount,
) -> SendMessage:
    """The accept reads the recipient's opt-out with its sending profile or, with the profile in memory,
    its write checks it: the same refusals either way."""
    profiles = await profile_in_memory(uow, acme) if request.param == "profile in memory" else None
    return build_send_message(uow, provider, clock, sending_profiles=profiles)


async def test_a_message_to_a_person_who_opted_out_is_refused_before_anything_is_stored(
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
    send_message: SendMessage,
    provider: FakeMessagingProvider,
) -> None:
    await customer_says(uow, acme, clock, "BAJA")
    before = uow.messages.all()

    with pytest.raises(RecipientOptedOut):
        await send_message(
            SendMessageCommand(
                tenant_id=acme.tenant.id, to_number=SAME_PERSON, body="Sale!", idempotency_key="k-1"
            )
        )

    assert uow.messages.all() == before
    assert await uow.idempotency.get(acme.tenant.id, "k-1", clock.now()) is None
    assert provider.requests == []


async def test_an_authentication_template_still_reaches_a_person_who_opted_out_a_marketing_one_does_not(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, send_message: SendMessage
) -> None:
    for definition in (LOGIN_CODE, SPRING_SALE):
        await catalogue_template(uow, acme.tenant.id, definition, clock.now())
    await customer_says(uow, acme, clock, "STOP")

    sent = await send_message(
        SendMessageCommand(
            tenant_id=acme.tenant.id,
            to_number=CUSTOMER,
            template=Template.named("login_code", "en", {"1": "9"}),
        )
    )
    with pytest.raises(RecipientOptedOut):
        await send_message(
            SendMessageCommand(
                tenant_id=acme.tenant.id,
                to_number=CUSTOMER,
                template=Template.named("spring_sale", "en", {"1": "Ana"}),
            )
        )

    assert sent.message.content.template is not None


async def test_a_tenant_may_let_utility_templates_through_too(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, send_message: SendMessage
) -> None:
    utility = TemplateDefinition(
        name="order_shipped",
        language="en",
        category=TemplateCategory.UTILITY,
        body="Shipped, {{1}}.",
        examples=(("1", "Ana"),),
    )
    await catalogue_template(uow, acme.tenant.id, utility, clock.now())
    await uow.consent.save_policy(
        ConsentPolicy(
            tenant_id=acme.tenant.id,
            allowed_categories=frozenset({TemplateCategory.AUTHENTICATION, TemplateCategory.UTILITY}),
            updated_at=clock.now(),
        )
    )
    await customer_says(uow, acme, clock, "STOP")

    sent = await send_message(
        SendMessageCommand(
            tenant_id=acme.tenant.id,
            to_number=CUSTOMER,
            template=Template.named("order_shipped", "en", {"1": "Ana"}),
        )
    )

    assert sent.message.content.template is not None


async def test_a_person_who_opted_back_in_is_messaged_again(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, send_message: SendMessage
) -> None:
    await customer_says(uow, acme, clock, "STOP")
    await customer_says(uow, acme, clock, "START")

    sent = await send_message(
        SendMessageCommand(tenant_id=acme.tenant.id, to_number=CUSTOMER, body="Welcome back")
    )

    assert sent.message.content.body == "Welcome back"


async def test_one_tenants_opt_out_does_not_stop_another_tenant(
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
    globex: TenantAccount,
    send_message: SendMessage,
) -> None:
    await customer_says(uow, globex, clock, "STOP")
    await customer_says(uow, acme, clock, "Hello")

    sent = await send_message(SendMessageCommand(tenant_id=acme.tenant.id, to_number=CUSTOMER, body="Hi"))

    assert sent.message.tenant_id == acme.tenant.id
    assert await uow.consent.opted_out_among(
        globex.tenant.id, {PhoneNumber.parse(SAME_PERSON).identity, "+14155550100"}
    ) == {PhoneNumber.parse(CUSTOMER).identity}
    assert (
        await uow.consent.opted_out_among(acme.tenant.id, {PhoneNumber.parse(CUSTOMER).identity})
        == frozenset()
    )


# ---------------------------------------------------------------------------------------- over the API


async def test_an_agent_opts_a_person_out_by_hand_audited_and_ledgered_with_the_note(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await subscribe_to_consent(uow, acme, clock)
    agent = principal(acme)

    change = await SetConsent(uow, clock)(
        agent, SetConsentCommand(CUSTOMER, ConsentState.OPTED_OUT, "asked by phone")
    )
    await SetConsent(uow, clock)(agent, SetConsentCommand(SAME_PERSON, ConsentState.OPTED_OUT))
    view = await GetConsent(uow)(agent, SAME_PERSON)

    assert (change.source, change.actor, change.note, change.changed) == (
        ConsentSource.API,
        f"user:{acme.user.id}",
        "asked by phone",
        True,
    )
    assert view.record is not None
    assert view.record.state is ConsentState.OPTED_OUT
    assert [entry.changed for entry in view.recent] == [False, True]  # newest first
    entries = [e for e in uow.audit.all() if e.action is AuditAction.CONSENT_SET]
    assert len(entries) == 2
    assert entries[0].target is not None
    assert entries[0].target.kind is TargetKind.CONSENT
    assert entries[1].details == {"state": "opted_out", "previous_state": "opted_out"}
    events = [d for d in uow.webhook_deliveries.all() if d.event_type is WebhookEventType.CONSENT_CHANGED]
    assert len(events) == 1


async def test_the_ledger_is_read_a_page_at_a_time_oldest_first(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    agent = principal(acme)
    for state in (ConsentState.OPTED_OUT, ConsentState.OPTED_IN, ConsentState.OPTED_OUT):
        await SetConsent(uow, clock)(agent, SetConsentCommand(CUSTOMER, state))
        clock.advance(timedelta(minutes=1))
    listing = ListConsentLedger(uow)

    first = await listing(agent, phone=None, after=None, limit=2)
    rest = await listing(agent, phone=SAME_PERSON, after=first.next_cursor, limit=2)
    later = await listing(agent, phone=None, after=rest.next_cursor, limit=2)

    assert [e.state for e in first.entries + rest.entries] == [
        ConsentState.OPTED_OUT,
        ConsentState.OPTED_IN,
        ConsentState.OPTED_OUT,
    ]
    assert later.entries == []
    assert later.next_cursor == rest.next_cursor
    with pytest.raises(InvalidCursor):
        await listing(agent, phone=None, after="not-a-cursor", limit=2)


async def test_the_policy_is_the_defaults_until_a_tenant_admin_sets_it_and_agents_cannot(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    admin, agent = principal(acme, Role.TENANT_ADMIN), principal(acme)
    before = await GetConsentPolicy(uow)(agent)
    command = ConsentPolicyCommand(opt_out_keywords=("Basta",), opt_out_reply="Done: no more messages.")

    with pytest.raises(AccessDenied):
        await SetConsentPolicy(uow, clock)(agent, command)
    saved = await SetConsentPolicy(uow, clock)(admin, command)

    assert before.updated_at is None
    assert before.allowed_categories == {TemplateCategory.AUTHENTICATION}
    assert await GetConsentPolicy(uow)(agent) == saved
    assert saved.opt_out_keywords == ("basta",)
    [entry] = [e for e in uow.audit.all() if e.action is AuditAction.CONSENT_POLICY_SET]
    assert entry.details == {"keyword_mode": "add", "allowed_categories": "authentication"}


async def test_platform_admins_read_no_tenants_consent(uow: FakeUnitOfWork, acme: TenantAccount) -> None:
    with pytest.raises(AccessDenied):
        await GetConsent(uow)(principal(acme, Role.PLATFORM_ADMIN), CUSTOMER)
