"""The contact book with the fakes: contacts made by the messages that come and go (one per person,
whichever WhatsApp form of the number), edited by agents, imported and deleted by tenant admins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import uuid4

import pytest

from adapters.twilio.callbacks import TwilioInboundMessages
from application.contacts.book import (
    ContactChanges,
    ContactsRequest,
    CreateContact,
    CreateContactCommand,
    DeleteContact,
    ListContacts,
    UpdateContact,
)
from application.contacts.csv_files import InvalidContactFile
from application.contacts.transfer import (
    IMPORT_BATCH_SIZE,
    MAX_REJECTIONS_LISTED,
    ExportContacts,
    ImportContacts,
    ImportReport,
)
from application.errors import AccessDenied, AlreadyExists, NotFound
from application.inbound.receive_message import ReceiveInboundMessage
from application.messaging.dispatch_message import DispatchMessage, DispatchSettings
from application.messaging.dispatcher import Dispatcher, DispatcherSettings
from application.messaging.send_message import SendMessage, SendMessageCommand
from application.principal import Principal
from domain.administration.audit import AuditAction
from domain.administration.tenancy import Role, TwilioCredentials
from domain.contacts.contact import Contact, ContactDetails, InvalidContact
from tests.support.fakes import FakeMessagingProvider, FakeMetrics, FakeUnitOfWork, FixedClock, TenantAccount
from tests.support.provider_accounts import set_twilio_credentials
from tests.support.twilio_callbacks import (
    ACME_ACCOUNT,
    ACME_TOKEN,
    INBOUND_URL,
    inbound_params,
    signed_callback,
)

MEXICO_WHATSAPP, MEXICO_PLAN = "+5215512345678", "+525512345678"
BERLIN = "+4915112345678"


def admin_of(account: TenantAccount) -> Principal:
    return Principal(user_id=uuid4(), tenant_id=account.tenant.id, role=Role.TENANT_ADMIN)


def agent_of(account: TenantAccount) -> Principal:
    return Principal(user_id=uuid4(), tenant_id=account.tenant.id, role=Role.AGENT)


async def chunks_of(text: str, size: int = 7) -> AsyncIterator[bytes]:
    """The file as a request body arrives: in pieces that split lines, quoted cells and characters."""
    data = text.encode()
    for start in range(0, len(data), size):
        yield data[start : start + size]


def contacts_of(uow: FakeUnitOfWork, account: TenantAccount) -> dict[str, Contact]:
    return {c.identity: c for c in uow.contacts.all() if c.tenant_id == account.tenant.id}


# ------------------------------------------------------------------------------- kept by messages


@pytest.fixture
async def receive(uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount) -> ReceiveInboundMessage:
    await set_twilio_credentials(uow, acme.tenant.id, TwilioCredentials(ACME_ACCOUNT, ACME_TOKEN))
    return ReceiveInboundMessage(uow, TwilioInboundMessages(), clock)


def customer_writes(from_: str, *, sid: str, profile_name: str = "Ana") -> object:
    params = inbound_params(
        from_=from_, to="+14155238886", wa_id=from_.removeprefix("+"), sid=sid, profile_name=profile_name
    )
    return signed_callback(INBOUND_URL, params, token=ACME_TOKEN)


async def test_an_inbound_message_creates_the_contact_with_the_profile_name(
    receive: ReceiveInboundMessage, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    await receive(customer_writes(MEXICO_WHATSAPP, sid="SM" + "1" * 32))  # type: ignore[arg-type]

    [contact] = contacts_of(uow, acme).values()
    assert (contact.identity, contact.phone_number, contact.profile_name) == (
        MEXICO_PLAN,
        MEXICO_WHATSAPP,
        "Ana",
    )


async def test_the_other_form_of_the_number_lands_on_the_same_contact(
    receive: ReceiveInboundMessage, uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock
) -> None:
    await receive(customer_writes(MEXICO_WHATSAPP, sid="SM" + "1" * 32))  # type: ignore[arg-type]
    clock.advance(timedelta(minutes=5))
    await receive(customer_writes(MEXICO_PLAN, sid="SM" + "2" * 32, profile_name="Ana G"))  # type: ignore[arg-type]

    [contact] = contacts_of(uow, acme).values()
    assert (contact.phone_number, contact.profile_name) == (MEXICO_PLAN, "Ana G")


async def test_a_send_to_a_new_number_creates_its_contact(
    uow: FakeUnitOfWork, provider: FakeMessagingProvider, clock: FixedClock, acme: TenantAccount
) -> None:
    database = uow.database
    dispatch = DispatchMessage(
        lambda: FakeUnitOfWork(database), provider, clock, DispatchSettings(), metrics=FakeMetrics()
    )
    dispatcher = Dispatcher(lambda: FakeUnitOfWork(database), dispatch, clock, DispatcherSettings())
    send = SendMessage(uow, dispatcher, clock, wait_seconds=5.0, metrics=FakeMetrics(), provider=provider)

    # a number that never wrote is sent a template (the window is closed)
    await send(
        SendMessageCommand(
            tenant_id=acme.tenant.id, to_number=BERLIN, body="", content_sid="HX" + "0123456789abcdef" * 2
        )
    )

    [contact] = contacts_of(uow, acme).values()
    assert (contact.phone_number, contact.profile_name, contact.name) == (BERLIN, None, None)


# ----------------------------------------------------------------------------------------- the book


async def test_an_agent_creates_a_contact_and_finds_it_by_name(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    created = await CreateContact(uow, clock)(
        agent_of(acme),
        CreateContactCommand(BERLIN, ContactDetails(name="Jonas", tags=frozenset({"vip"}))),
    )

    page = await ListContacts(uow)(ContactsRequest(agent_of(acme), limit=10, q="jon", tags=["vip"]))

    assert page.items == [created]
    assert page.next_cursor is None


async def test_a_contact_of_the_same_person_in_another_form_is_a_conflict(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    create = CreateContact(uow, clock)
    await create(agent_of(acme), CreateContactCommand(MEXICO_PLAN, ContactDetails()))

    with pytest.raises(AlreadyExists):
        await create(agent_of(acme), CreateContactCommand(MEXICO_WHATSAPP, ContactDetails()))


async def test_every_problem_of_a_new_contact_is_named_at_once_and_nothing_is_stored(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    details = ContactDetails(name=" ", attributes={"Bad-Key": "x"}, tags=frozenset({"No Spaces"}))

    with pytest.raises(InvalidContact) as refused:
        await CreateContact(uow, clock)(agent_of(acme), CreateContactCommand("12345", details))

    assert [problem.field for problem in refused.value.problems] == [
        "phone_number",
        "name",
        "attributes.Bad-Key",
        "tags",
    ]
    assert uow.contacts.all() == []


async def test_a_change_merges_attributes_and_replaces_tags(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    contact = await CreateContact(uow, clock)(
        agent_of(acme),
        CreateContactCommand(
            BERLIN,
            ContactDetails(
                name="Jonas", attributes={"city": "Berlin", "plan": "gold"}, tags=frozenset({"a"})
            ),
        ),
    )
    clock.advance(timedelta(hours=1))

    changed = await UpdateContact(uow, clock)(
        agent_of(acme),
        contact.id,
        ContactChanges(attributes={"plan": None, "team": "blue"}, tags=frozenset({"b"}), notes="Called"),
    )

    assert dict(changed.attributes) == {"city": "Berlin", "team": "blue"}
    assert changed.tags == {"b"}
    assert (changed.name, changed.notes, changed.updated_at) == ("Jonas", "Called", clock.now())
    assert contacts_of(uow, acme)[BERLIN] == changed


async def test_a_change_that_changes_nothing_keeps_the_update_time(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    contact = await CreateContact(uow, clock)(
        agent_of(acme), CreateContactCommand(BERLIN, ContactDetails(name="Jonas"))
    )
    clock.advance(timedelta(hours=1))

    same = await UpdateContact(uow, clock)(agent_of(acme), contact.id, ContactChanges(name="Jonas"))

    assert same == contact


async def test_another_tenants_contact_is_not_found(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, globex: TenantAccount
) -> None:
    contact = await CreateContact(uow, clock)(agent_of(acme), CreateContactCommand(BERLIN, ContactDetails()))

    with pytest.raises(NotFound):
        await UpdateContact(uow, clock)(agent_of(globex), contact.id, ContactChanges(name="Taken"))
    with pytest.raises(NotFound):
        await DeleteContact(uow, clock)(admin_of(globex), contact.id)


async def test_only_tenant_admins_delete_and_each_deletion_is_audited(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    contact = await CreateContact(uow, clock)(agent_of(acme), CreateContactCommand(BERLIN, ContactDetails()))

    with pytest.raises(AccessDenied):
        await DeleteContact(uow, clock)(agent_of(acme), contact.id)
    await DeleteContact(uow, clock)(admin_of(acme), contact.id)

    assert uow.contacts.all() == []
    [entry] = [e for e in uow.audit.all() if e.action is AuditAction.CONTACT_DELETED]
    assert entry.target is not None
    assert entry.target.id == str(contact.id)


# --------------------------------------------------------------------------------- import and export

FILE = (
    "phone,name,tags,attr.city,notes\r\n"
    '+5215512345678,Ana García,vip;newsletter,Monterrey,"Prefers mornings,\nthen calls"\r\n'
    "+4915112345678,Jonas,,Berlin,\r\n"
    "12345,Nobody,,,\r\n"
    "+447700900123,Bad Tag,Not A Tag,,\r\n"
)


async def test_an_import_creates_the_contacts_and_reports_each_refused_row_by_line(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    report = await ImportContacts(uow, clock)(admin_of(acme), chunks_of(FILE))

    assert (report.rows, report.created, report.updated, report.unchanged, report.rejected) == (4, 2, 0, 0, 2)
    assert [r.line for r in report.rejections] == [5, 6], "the quoted cell spans lines 2 and 3"
    assert report.rejections[0].reason.startswith("phone: ")
    assert report.rejections[1].reason.startswith("tags: ")
    ana = contacts_of(uow, acme)[MEXICO_PLAN]
    assert (ana.name, ana.tags, dict(ana.attributes), ana.notes) == (
        "Ana García",
        frozenset({"vip", "newsletter"}),
        {"city": "Monterrey"},
        "Prefers mornings,\nthen calls",
    )
    [entry] = [e for e in uow.audit.all() if e.action is AuditAction.CONTACTS_IMPORTED]
    assert entry.details == {"rows": "4", "created": "2", "updated": "0", "unchanged": "0", "rejected": "2"}


async def test_importing_the_same_file_again_changes_nothing(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await ImportContacts(uow, clock)(admin_of(acme), chunks_of(FILE))
    before = contacts_of(uow, acme)
    clock.advance(timedelta(days=1))

    again = await ImportContacts(uow, clock)(admin_of(acme), chunks_of(FILE))

    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 2, 2)
    assert contacts_of(uow, acme) == before


async def test_an_import_sets_only_the_columns_it_has_and_an_empty_cell_clears(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await ImportContacts(uow, clock)(admin_of(acme), chunks_of(FILE))

    report = await ImportContacts(uow, clock)(
        admin_of(acme), chunks_of("phone,attr.city,attr.plan\r\n+525512345678,,gold\r\n")
    )

    assert (report.updated, report.unchanged) == (1, 0)
    ana = contacts_of(uow, acme)[MEXICO_PLAN]
    assert dict(ana.attributes) == {"plan": "gold"}
    assert (ana.name, ana.tags) == ("Ana García", frozenset({"vip", "newsletter"})), "no such columns: kept"


async def test_a_number_twice_in_a_file_is_one_contact_the_later_row_updating_it(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    report = await ImportContacts(uow, clock)(
        admin_of(acme), chunks_of("phone,name\r\n+5215512345678,Ana\r\n+525512345678,Ana G\r\n")
    )

    assert (report.created, report.updated) == (1, 1)
    assert [c.name for c in contacts_of(uow, acme).values()] == ["Ana G"]


async def test_a_file_without_a_phone_column_is_refused_before_any_row(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    with pytest.raises(InvalidContactFile, match=r"'phone'.*'city' is not one a contact has"):
        await ImportContacts(uow, clock)(admin_of(acme), chunks_of("name,city\r\nAna,Berlin\r\n"))

    assert uow.contacts.all() == []


async def test_agents_do_not_import(uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount) -> None:
    with pytest.raises(AccessDenied):
        await ImportContacts(uow, clock)(agent_of(acme), chunks_of(FILE))


async def test_a_large_file_is_written_in_batches_and_lists_the_first_rejections_only(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    good = IMPORT_BATCH_SIZE * 2 + 7
    bad = MAX_REJECTIONS_LISTED + 5
    rows = [f"+4915112{n:06d},Person {n}" for n in range(good)] + ["not a number,x"] * bad
    commits_before = uow.commits

    report = await ImportContacts(uow, clock)(
        admin_of(acme), chunks_of("phone,name\n" + "\n".join(rows) + "\n", size=4096)
    )

    assert (report.rows, report.created, report.rejected) == (good + bad, good, bad)
    assert len(report.rejections) == MAX_REJECTIONS_LISTED
    assert uow.commits - commits_before == 3 + 1, "three batches, then the audit entry"


async def test_an_export_imports_into_another_tenant_as_the_same_contacts(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, globex: TenantAccount
) -> None:
    await ImportContacts(uow, clock)(admin_of(acme), chunks_of(FILE))
    await CreateContact(uow, clock)(
        agent_of(acme),
        CreateContactCommand(
            "+447700900123",
            ContactDetails(name='=HYPERLINK("x")', attributes={"team": "'quoted"}, notes="-1"),
        ),
    )

    export = await ExportContacts(uow)(agent_of(acme))
    text = "".join([chunk async for chunk in export.chunks])
    assert export.attribute_keys == ["city", "team"]
    assert "'=HYPERLINK" in text, "a formula is exported as text"

    report = await ImportContacts(uow, clock)(admin_of(globex), chunks_of(text))
    again = await ImportContacts(uow, clock)(admin_of(acme), chunks_of(text))

    def details(account: TenantAccount) -> dict[str, tuple[object, ...]]:
        return {
            identity: (c.phone_number, c.name, c.tags, dict(c.attributes), c.notes)
            for identity, c in contacts_of(uow, account).items()
        }

    assert (report.created, report.rejected) == (3, 0)
    assert details(globex) == details(acme)
    assert (again.unchanged, again.created, again.updated, again.rejected) == (3, 0, 0, 0)


def test_an_import_report_starts_empty() -> None:
    assert ImportReport() == ImportReport(
        rows=0, created=0, updated=0, unchanged=0, rejected=0, rejections=[]
    )
