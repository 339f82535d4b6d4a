"""Campaigns over the fakes: created with their recipients (each person once, bad rows and opted-out
people skipped), handed to the dispatch one slot at a time at their pace, exactly once each, and paused,
resumed and canceled without a message sent twice or lost."""

from __future__ import annotations

import io
import itertools
import json
from dataclasses import replace
from datetime import timedelta
from uuid import UUID

import pytest

from application.campaigns.management import (
    HELD_UNTIL,
    CancelCampaign,
    CreateCampaign,
    CreateCampaignCommand,
    GetCampaign,
    ListCampaignRecipients,
    PauseCampaign,
    RecipientInput,
    ResumeCampaign,
    UploadCampaignAudience,
)
from application.campaigns.runner import CampaignRunner, RunnerSettings
from application.errors import AccessDenied, IdempotencyKeyReused, InvalidInput, TemplateNotApproved
from application.messaging.dispatch_message import DispatchMessage, DispatchSettings
from application.messaging.dispatcher import Dispatcher, DispatcherSettings
from application.ports.providers import OutcomeKind, SendOutcome
from application.principal import Principal
from domain.administration.tenancy import Role
from domain.campaigns.model import (
    AudienceFilter,
    CampaignRecipient,
    CampaignStateConflict,
    CampaignStatus,
    RecipientState,
    SkipReason,
    VariableBinding,
)
from domain.consent.model import ConsentChange, ConsentSource, ConsentState
from domain.contacts.contact import Contact, ContactDetails
from domain.messaging.failures import FailureCode
from domain.messaging.messages import MessageStatus
from domain.phone import PhoneNumber
from domain.templates.catalogue import TemplateStatus
from domain.tenant_webhooks.model import WebhookEndpoint, WebhookEventType
from tests.support.fakes import (
    FakeMessagingProvider,
    FakeMetrics,
    FakeUnitOfWork,
    FixedClock,
    TenantAccount,
)
from tests.support.templates import ORDER_UPDATE, catalogue_template
from tests.support.use_cases import admin_of

FIRST_NAME = (VariableBinding("1", attribute="first_name"),)
CSV_CAMPAIGN = CreateCampaignCommand(
    name="Spring sale",
    template_name=ORDER_UPDATE.name,
    template_language=ORDER_UPDATE.language,
    messages_per_second=10.0,
    variables=FIRST_NAME,
    csv_audience=True,
)


def people(count: int, start: int = 0) -> tuple[RecipientInput, ...]:
    return tuple(
        RecipientInput(f"+4479111{index:05d}", {"first_name": f"Person {index}"})
        for index in range(start, start + count)
    )


def campaign_of(
    recipients: tuple[RecipientInput, ...] | None = None, **more: object
) -> CreateCampaignCommand:
    fields: dict[str, object] = {
        "name": "Spring sale",
        "template_name": ORDER_UPDATE.name,
        "template_language": ORDER_UPDATE.language,
        "messages_per_second": 10.0,
        "variables": FIRST_NAME,
        "recipients": recipients if recipients is not None else people(5),
    }
    fields.update(more)
    return CreateCampaignCommand(**fields)  # type: ignore[arg-type]


async def subscribe(uow: FakeUnitOfWork, clock: FixedClock, account: TenantAccount) -> None:
    """A webhook endpoint of the tenant's that hears of its campaigns."""
    endpoint = WebhookEndpoint.new(
        tenant_id=account.tenant.id,
        url="https://crm.example.com/hooks",
        events=[WebhookEventType.CAMPAIGN_STARTED, WebhookEventType.CAMPAIGN_PAUSED],
        now=clock.now(),
    )
    await uow.webhook_endpoints.add(endpoint, "whsec_" + "A" * 43 + "=", at_most=10)


def agent_of(account: TenantAccount) -> Principal:
    return Principal(user_id=account.user.id, tenant_id=account.tenant.id, role=Role.AGENT)


@pytest.fixture(autouse=True)
async def catalogue(uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount) -> None:
    await catalogue_template(uow, acme.tenant.id, ORDER_UPDATE, clock.now())


async def opt_out(uow: FakeUnitOfWork, clock: FixedClock, account: TenantAccount, number: str) -> None:
    """The person asked the tenant, through the API, to send them nothing more."""
    phone = PhoneNumber.parse(number)
    await uow.consent.record(
        ConsentChange(
            tenant_id=account.tenant.id,
            identity=phone.identity,
            number=phone.e164,
            state=ConsentState.OPTED_OUT,
            source=ConsentSource.API,
            actor=f"user:{account.user.id}",
            at=clock.now(),
        )
    )


async def add_contact(
    uow: FakeUnitOfWork,
    clock: FixedClock,
    account: TenantAccount,
    number: str,
    *,
    tags: frozenset[str] = frozenset(),
    **attributes: str,
) -> None:
    details = ContactDetails(attributes=attributes, tags=tags)
    await uow.contacts.add(Contact.new(account.tenant.id, PhoneNumber.parse(number), details, clock.now()))


@pytest.fixture
def create(uow: FakeUnitOfWork, clock: FixedClock) -> CreateCampaign:
    return CreateCampaign(uow, clock)


@pytest.fixture
def runner(uow: FakeUnitOfWork, clock: FixedClock) -> CampaignRunner:
    database = uow.database
    # The fixed clock stands still while a hand-over commits: no lead is needed for its first slot.
    return CampaignRunner(lambda: FakeUnitOfWork(database), clock, RunnerSettings(handover_lead_seconds=0))


async def recipients_of(
    uow: FakeUnitOfWork, account: TenantAccount, campaign_id: UUID
) -> list[CampaignRecipient]:
    return await ListCampaignRecipients(uow)(admin_of(account), campaign_id, limit=100)


def dispatcher_over(uow: FakeUnitOfWork, provider: FakeMessagingProvider, clock: FixedClock) -> Dispatcher:
    database = uow.database
    dispatch = DispatchMessage(
        lambda: FakeUnitOfWork(database), provider, clock, DispatchSettings(), metrics=FakeMetrics()
    )
    return Dispatcher(lambda: FakeUnitOfWork(database), dispatch, clock, DispatcherSettings())


async def run_until_done(
    runner: CampaignRunner, clock: FixedClock, *, ticks: int = 100, dispatcher: Dispatcher | None = None
) -> None:
    for _ in range(ticks):
        await runner.run_due()
        if dispatcher is not None:
            await dispatcher.run_due()
        clock.advance(timedelta(seconds=0.5))


async def test_a_listed_audience_is_stored_each_person_once_with_bad_rows_and_opted_out_people_skipped(
    create: CreateCampaign, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await opt_out(uow, clock, acme, "+447911100002")
    listed = (
        RecipientInput("+447911100001", {"first_name": "Ana"}),
        RecipientInput("+447911100002", {"first_name": "Bo"}),
        RecipientInput("not a number", {"first_name": "Cy"}),
        RecipientInput("+447911100001", {"first_name": "Ana again"}),
        RecipientInput("+447911100004", {}),  # no value for the template's variable
    )

    created = await create(admin_of(acme), campaign_of(listed))
    report = await GetCampaign(uow)(admin_of(acme), created.campaign.id)

    assert report.campaign.status is CampaignStatus.SCHEDULED
    progress = report.progress
    assert (progress.pending, progress.skipped_opted_out, progress.skipped_invalid) == (1, 1, 2)
    assert progress.skipped_duplicate == 1
    invalid = [
        r for r in await recipients_of(uow, acme, created.campaign.id) if r.skip_reason is SkipReason.INVALID
    ]
    assert [r.position for r in invalid] == [3, 5]


async def test_a_template_that_is_not_approved_cannot_start_a_campaign(
    create: CreateCampaign, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await catalogue_template(uow, acme.tenant.id, ORDER_UPDATE, clock.now(), status=TemplateStatus.PENDING)

    with pytest.raises(TemplateNotApproved):
        await create(admin_of(acme), campaign_of())
    assert await uow.campaigns.list_page(acme.tenant.id, limit=10) == []


async def test_only_tenant_admins_create_campaigns_and_agents_read_them(
    create: CreateCampaign, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    with pytest.raises(AccessDenied):
        await create(agent_of(acme), campaign_of())
    created = await create(admin_of(acme), campaign_of())

    report = await GetCampaign(uow)(agent_of(acme), created.campaign.id)

    assert report.campaign.id == created.campaign.id


async def test_the_same_idempotency_key_answers_with_the_first_campaign_and_a_different_request_is_refused(
    create: CreateCampaign, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    first = await create(admin_of(acme), campaign_of(idempotency_key="spring-1"))
    again = await create(admin_of(acme), campaign_of(idempotency_key="spring-1"))

    assert again.replayed
    assert again.campaign.id == first.campaign.id
    assert len(await uow.campaigns.list_page(acme.tenant.id, limit=10)) == 1
    with pytest.raises(IdempotencyKeyReused):
        await create(admin_of(acme), campaign_of(people(2), idempotency_key="spring-1"))


async def test_an_audience_given_two_ways_is_refused(create: CreateCampaign, acme: TenantAccount) -> None:
    with pytest.raises(InvalidInput):
        await create(admin_of(acme), campaign_of(audience_filter=AudienceFilter(tags=("vip",))))


async def test_a_campaign_starting_puts_its_first_slot_after_the_hand_over_so_none_leaves_early(
    create: CreateCampaign, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await create(admin_of(acme), campaign_of(people(40), messages_per_second=10.0))
    runner = CampaignRunner(
        lambda: FakeUnitOfWork(uow.database), clock, RunnerSettings(handover_lead_seconds=0.5)
    )
    started = clock.now()

    await runner.run_due()

    # The first slot is the lead after the runner read the clock, and none is past when it commits.
    slots = sorted(job.available_at for job in uow.jobs._jobs.values())
    assert slots[0] == started + timedelta(seconds=0.5)
    assert slots == [started + timedelta(seconds=0.5 + n / 10) for n in range(len(slots))]
    await run_until_done(runner, clock)
    jobs = sorted(uow.jobs._jobs.values(), key=lambda job: job.available_at)
    gaps = {later.available_at - earlier.available_at for earlier, later in itertools.pairwise(jobs)}
    assert (len(jobs), gaps) == (40, {timedelta(milliseconds=100)})


async def test_the_runner_gives_each_recipient_one_message_due_at_its_slot_of_the_pace(
    create: CreateCampaign,
    runner: CampaignRunner,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    created = await create(admin_of(acme), campaign_of(people(40), messages_per_second=10.0))

    await run_until_done(runner, clock)

    recipients = await recipients_of(uow, acme, created.campaign.id)
    jobs = sorted(uow.jobs._jobs.values(), key=lambda job: job.available_at)
    assert len({r.message_id for r in recipients}) == 40 == len(jobs)
    assert {r.state for r in recipients} == {RecipientState.ACCEPTED}
    gaps = {later.available_at - earlier.available_at for earlier, later in itertools.pairwise(jobs)}
    assert gaps == {timedelta(milliseconds=100)}
    report = await GetCampaign(uow)(admin_of(acme), created.campaign.id)
    assert report.campaign.status is CampaignStatus.RUNNING  # until its last message has gone


async def test_a_campaign_completes_once_its_last_message_has_gone_and_counts_them_sent(
    create: CreateCampaign,
    runner: CampaignRunner,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
    provider: FakeMessagingProvider,
) -> None:
    created = await create(admin_of(acme), campaign_of(people(12), messages_per_second=4.0))

    await run_until_done(runner, clock, ticks=20, dispatcher=dispatcher_over(uow, provider, clock))

    report = await GetCampaign(uow)(admin_of(acme), created.campaign.id)
    assert report.campaign.status is CampaignStatus.COMPLETED
    assert (report.progress.targeted, report.progress.sent) == (12, 12)
    assert len(provider.requests) == 12
    assert len({request.message.contact for request in provider.requests}) == 12


async def test_a_campaign_starts_at_its_start_time_and_tells_the_tenant(
    create: CreateCampaign,
    runner: CampaignRunner,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    await subscribe(uow, clock, acme)
    created = await create(admin_of(acme), campaign_of(start_at=clock.now() + timedelta(hours=1)))

    assert await runner.run_due() == 0
    clock.advance(timedelta(hours=1))
    handed = await runner.run_due()

    assert handed == 5
    report = await GetCampaign(uow)(admin_of(acme), created.campaign.id)
    assert report.campaign.status is CampaignStatus.RUNNING
    assert report.progress.accepted == 5
    started = [json.loads(d.payload)["data"] for d in uow.webhook_deliveries.all()]
    assert started == [
        {
            "id": str(created.campaign.id),
            "name": "Spring sale",
            "status": "running",
            "sender": acme.sender.phone_number.e164,
        }
    ]


async def test_pausing_holds_back_unsent_messages_and_resuming_sends_each_recipient_once(
    create: CreateCampaign,
    runner: CampaignRunner,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    created = await create(admin_of(acme), campaign_of(people(30), messages_per_second=5.0))
    await runner.run_due()  # the first stretch is handed over
    campaign_id = created.campaign.id

    paused = await PauseCampaign(uow, clock)(admin_of(acme), campaign_id)
    held = [job for job in uow.jobs._jobs.values() if job.available_at == HELD_UNTIL]
    handed_while_paused = [await runner.run_due() for _ in range(5)]

    assert paused.status is CampaignStatus.PAUSED
    assert held
    assert sum(handed_while_paused) == 0
    clock.advance(timedelta(minutes=1))
    resumed = await ResumeCampaign(uow, clock)(admin_of(acme), campaign_id)
    assert resumed.status is CampaignStatus.RUNNING
    assert all(job.available_at < HELD_UNTIL for job in uow.jobs._jobs.values())
    assert min(job.available_at for job in uow.jobs._jobs.values()) >= clock.now()
    await run_until_done(runner, clock)
    recipients = await recipients_of(uow, acme, campaign_id)
    assert len({r.message_id for r in recipients}) == 30 == len(uow.jobs._jobs)


async def test_a_completed_campaign_cannot_be_paused(
    create: CreateCampaign,
    runner: CampaignRunner,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
    provider: FakeMessagingProvider,
) -> None:
    created = await create(admin_of(acme), campaign_of(people(2)))
    await run_until_done(runner, clock, ticks=3, dispatcher=dispatcher_over(uow, provider, clock))

    with pytest.raises(CampaignStateConflict):
        await PauseCampaign(uow, clock)(admin_of(acme), created.campaign.id)


async def test_canceling_fails_the_messages_not_yet_sent_and_sends_no_more(
    create: CreateCampaign,
    runner: CampaignRunner,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    created = await create(admin_of(acme), campaign_of(people(30), messages_per_second=5.0))
    await runner.run_due()

    canceled = await CancelCampaign(uow, clock)(admin_of(acme), created.campaign.id)
    await run_until_done(runner, clock, ticks=5)

    assert canceled.status is CampaignStatus.CANCELED
    assert uow.jobs._jobs == {}
    report = await GetCampaign(uow)(admin_of(acme), created.campaign.id)
    assert report.progress.pending > 0
    assert report.progress.accepted == 0
    assert report.progress.failed > 0


async def test_a_rate_limit_on_a_campaign_message_pauses_the_campaign_with_the_reason(
    create: CreateCampaign,
    runner: CampaignRunner,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
    provider: FakeMessagingProvider,
) -> None:
    created = await create(admin_of(acme), campaign_of(people(10)))
    await runner.run_due()
    provider.will_return(
        SendOutcome(
            kind=OutcomeKind.RETRYABLE,
            error_code=130429,
            reason="the sender's number reached Meta's message throughput",
            failure_code=FailureCode.RATE_LIMITED,
        )
    )
    dispatcher = dispatcher_over(uow, provider, clock)

    await dispatcher.run_due()

    report = await GetCampaign(uow)(admin_of(acme), created.campaign.id)
    assert report.campaign.status is CampaignStatus.PAUSED
    assert report.campaign.pause_reason is not None
    assert "rate-limited" in report.campaign.pause_reason
    assert all(job.available_at == HELD_UNTIL for job in uow.jobs._jobs.values())
    assert len(provider.requests) == 1
    # Resumed once the limit lifts, every recipient gets its one message.
    provider.will_return(
        SendOutcome(kind=OutcomeKind.ACCEPTED, provider_sid="SM1", status=MessageStatus.QUEUED)
    )
    clock.advance(timedelta(minutes=5))
    await ResumeCampaign(uow, clock)(admin_of(acme), created.campaign.id)
    await run_until_done(runner, clock, ticks=10, dispatcher=dispatcher)
    assert len({r.message_id for r in await recipients_of(uow, acme, created.campaign.id)}) == 10
    assert len({request.message.contact for request in provider.requests[1:]}) == 10


async def test_a_contacts_audience_is_walked_in_batches_by_the_runner(
    create: CreateCampaign,
    runner: CampaignRunner,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    for index in range(3):
        number = f"+44791110000{index}"
        await add_contact(uow, clock, acme, number, tags=frozenset({"vip"}), first_name=f"VIP {index}")
    await add_contact(
        uow, clock, acme, "+447911100009", tags=frozenset({"newsletter"}), first_name="Not a VIP"
    )
    created = await create(
        admin_of(acme),
        replace(CSV_CAMPAIGN, csv_audience=False, audience_filter=AudienceFilter(tags=("vip",))),
    )

    await run_until_done(runner, clock, ticks=5)

    recipients = await recipients_of(uow, acme, created.campaign.id)
    assert sorted((r.number, r.variables["1"]) for r in recipients) == [
        ("+447911100000", "VIP 0"),
        ("+447911100001", "VIP 1"),
        ("+447911100002", "VIP 2"),
    ]
    assert {r.state for r in recipients} == {RecipientState.ACCEPTED}


async def test_a_recipient_who_opts_out_after_being_stored_is_skipped_when_their_turn_comes(
    create: CreateCampaign,
    runner: CampaignRunner,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    created = await create(admin_of(acme), campaign_of(people(2)))
    await opt_out(uow, clock, acme, people(2)[1].number)

    await run_until_done(runner, clock, ticks=5)

    report = await GetCampaign(uow)(admin_of(acme), created.campaign.id)
    assert (report.progress.accepted, report.progress.skipped_opted_out) == (1, 1)


async def test_a_csv_audience_skips_its_unreadable_rows_by_line_and_starts_once_uploaded(
    create: CreateCampaign,
    runner: CampaignRunner,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    created = await create(admin_of(acme), CSV_CAMPAIGN)
    assert await runner.run_due() == 0  # nothing to send before the upload
    upload = io.BytesIO(
        b"phone,first_name\n+447911100001,Ana\nnonsense,Bo\n+447911100003,Cy,extra\n\n+447911100001,Ana\n"
    )

    uploaded = await UploadCampaignAudience(uow, clock)(admin_of(acme), created.campaign.id, upload)
    handed = await runner.run_due()

    assert (uploaded.stored, uploaded.duplicates, handed) == (3, 1, 1)
    invalid = [
        r for r in await recipients_of(uow, acme, created.campaign.id) if r.skip_reason is SkipReason.INVALID
    ]
    assert [r.position for r in invalid] == [3, 4]


async def test_a_csv_without_the_phone_column_is_refused_and_keeps_nothing(
    create: CreateCampaign, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    created = await create(admin_of(acme), CSV_CAMPAIGN)

    with pytest.raises(InvalidInput):
        await UploadCampaignAudience(uow, clock)(
            admin_of(acme), created.campaign.id, io.BytesIO(b"mobile\n+447911100001\n")
        )
    assert await recipients_of(uow, acme, created.campaign.id) == []
