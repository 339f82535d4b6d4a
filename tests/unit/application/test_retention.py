"""Retention and a person's data, from the use cases' side: tenant admins set how long their messages
are kept, the workers' rounds remove what outlived it in bounded batches, and a person's records are
handed over or erased, each in the audit trail without the number or any content."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid4

import pytest

from application.errors import AccessDenied, RecipientOptedOut
from application.inbound.commands import InboundMessage
from application.inbound.receive_message import store_inbound
from application.messaging.send_message import SendMessageCommand
from application.ports.media import KeptMedia
from application.principal import Principal
from application.privacy.contact_data import EraseContactData, ExportContactData
from application.privacy.retention import (
    ApplyRetention,
    GetRetentionPolicy,
    SetRetention,
    SetRetentionPolicy,
)
from domain.administration.audit import AuditAction, TargetKind
from domain.administration.tenancy import Role
from domain.consent.model import ConsentState
from domain.errors import DomainError
from domain.messaging.messages import Message, MessageContent
from domain.messaging.retention import RemovedData, RetentionMode, RetentionPolicy
from domain.phone import PhoneNumber
from tests.support.fakes import (
    FakeDatabase,
    FakeMessagingProvider,
    FakePasswordHasher,
    FakeRetentionRepository,
    FakeUnitOfWork,
    FixedClock,
    TenantAccount,
    provision_account,
)
from tests.support.media import FakeMediaStore
from tests.support.use_cases import build_send_message

ROSA_NATIONAL = "+525512345678"
ROSA_WHATSAPP = "+5215512345678"  # the same person, as WhatsApp writes Mexican mobiles
BRUNO = "+4915112345678"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def store() -> FakeMediaStore:
    return FakeMediaStore()


async def account(uow: FakeUnitOfWork, clock: FixedClock, name: str = "Acme") -> TenantAccount:
    async with uow:
        created = await provision_account(
            uow, FakePasswordHasher(), clock, name=name, username=f"{name.lower()}-admin"
        )
        await uow.commit()
    return created


def as_role(account: TenantAccount, role: Role = Role.TENANT_ADMIN) -> Principal:
    return Principal(user_id=account.user.id, tenant_id=account.tenant.id, role=role)


async def received(
    uow: FakeUnitOfWork, account: TenantAccount, clock: FixedClock, contact: str = BRUNO, body: str = "hi"
) -> Message:
    message = Message.new_inbound(
        tenant_id=account.tenant.id,
        sender=account.sender.phone_number,
        contact=PhoneNumber.parse(contact),
        content=MessageContent(body=body),
        provider_sid=f"SM{uuid4().hex}",
        now=clock.now(),
    )
    async with uow:
        await uow.messages.add(message)
        await uow.conversations.record_message(message)
        await uow.commit()
    return message


async def with_photo(uow: FakeUnitOfWork, store: FakeMediaStore, message: Message) -> KeptMedia:
    kept = KeptMedia(
        id=uuid4(),
        tenant_id=message.tenant_id,
        message_id=message.id,
        content_type="image/jpeg",
        size=3,
        sha256="ab" * 32,
        created_at=message.created_at,
    )
    await store.put(kept.key, b"jpg", "image/jpeg")
    async with uow:
        await uow.media.add(kept)
        await uow.commit()
    return kept


async def says(
    uow: FakeUnitOfWork, account: TenantAccount, clock: FixedClock, contact: str, body: str
) -> None:
    """``contact`` writes ``body`` to the tenant, as the provider hands it over: their contact is kept,
    and a STOP or START is their consent."""
    inbound = InboundMessage(
        provider_message_id=f"wamid.{uuid4().hex}",
        sender=account.sender.phone_number,
        contact=PhoneNumber.parse(contact),
        content=MessageContent(body=body),
    )
    async with uow:
        await store_inbound(uow, account.tenant.id, inbound, clock.now())
    clock.advance()


def identity(number: str) -> str:
    return PhoneNumber.parse(number).identity


# ------------------------------------------------------------------------------------------ the policy


async def test_a_tenant_admin_sets_the_policy_and_it_is_audited(
    uow: FakeUnitOfWork, clock: FixedClock
) -> None:
    acme = await account(uow, clock)

    policy = await SetRetentionPolicy(uow, clock)(
        SetRetention(principal=as_role(acme), days=90, mode=RetentionMode.DELETE)
    )

    assert policy == RetentionPolicy(
        tenant_id=acme.tenant.id, days=90, mode=RetentionMode.DELETE, updated_at=clock.now()
    )
    assert await GetRetentionPolicy(uow)(as_role(acme)) == policy
    [entry] = [e for e in uow.audit.all() if e.action is AuditAction.RETENTION_SET]
    assert entry.target is not None
    assert entry.target.kind is TargetKind.RETENTION_POLICY
    assert dict(entry.details) == {"days": "90", "mode": "delete"}


async def test_no_days_means_keeping_everything_again(uow: FakeUnitOfWork, clock: FixedClock) -> None:
    acme = await account(uow, clock)
    set_policy = SetRetentionPolicy(uow, clock)
    await set_policy(SetRetention(principal=as_role(acme), days=30))

    assert await set_policy(SetRetention(principal=as_role(acme), days=None)) is None

    assert await GetRetentionPolicy(uow)(as_role(acme)) is None


@pytest.mark.parametrize("days", [0, 3651, -1])
async def test_a_retention_out_of_bounds_is_refused_and_changes_nothing(
    uow: FakeUnitOfWork, clock: FixedClock, days: int
) -> None:
    acme = await account(uow, clock)

    with pytest.raises(DomainError, match="1 to 3650 days"):
        await SetRetentionPolicy(uow, clock)(SetRetention(principal=as_role(acme), days=days))

    assert await GetRetentionPolicy(uow)(as_role(acme)) is None


async def test_agents_neither_read_nor_set_the_policy(uow: FakeUnitOfWork, clock: FixedClock) -> None:
    acme = await account(uow, clock)

    with pytest.raises(AccessDenied):
        await SetRetentionPolicy(uow, clock)(SetRetention(principal=as_role(acme, Role.AGENT), days=30))
    with pytest.raises(AccessDenied):
        await GetRetentionPolicy(uow)(as_role(acme, Role.AGENT))


# --------------------------------------------------------------------------------------- the workers


async def test_a_round_redacts_one_tenant_and_deletes_anothers_old_messages_with_their_files(
    uow: FakeUnitOfWork, clock: FixedClock, store: FakeMediaStore
) -> None:
    acme, globex = await account(uow, clock), await account(uow, clock, "Globex")
    old_at_acme = await received(uow, acme, clock, body="my address is …")
    photo = await with_photo(uow, store, old_at_acme)
    old_at_globex = await received(uow, globex, clock)
    await SetRetentionPolicy(uow, clock)(SetRetention(principal=as_role(acme), days=30))
    await SetRetentionPolicy(uow, clock)(
        SetRetention(principal=as_role(globex), days=30, mode=RetentionMode.DELETE)
    )
    clock.advance(timedelta(days=31))
    recent = await received(uow, acme, clock)

    assert await ApplyRetention(uow, store, clock)() == 2

    redacted = await uow.messages.get(acme.tenant.id, old_at_acme.id)
    assert redacted is not None
    assert (redacted.content.body, redacted.redacted_at) == ("", clock.now())
    assert await uow.messages.get(globex.tenant.id, old_at_globex.id) is None
    assert await uow.messages.get(acme.tenant.id, recent.id) == recent
    assert photo.key not in store.files
    assert await ApplyRetention(uow, store, clock)() == 0


async def test_a_round_runs_bounded_batches_and_leaves_the_rest_to_the_next_round(
    uow: FakeUnitOfWork, clock: FixedClock, store: FakeMediaStore
) -> None:
    acme = await account(uow, clock)
    for _ in range(5):
        await received(uow, acme, clock)
        clock.advance()
    await SetRetentionPolicy(uow, clock)(SetRetention(principal=as_role(acme), days=1))
    clock.advance(timedelta(days=2))
    apply = ApplyRetention(uow, store, clock, batch_size=2, max_batches=2)

    assert [await apply(), await apply(), await apply()] == [4, 1, 0]


class RetentionFailingFor(FakeRetentionRepository):
    """The fake retention, whose redaction batches of one tenant fail as a defect would."""

    def __init__(self, database: FakeDatabase, tenant_id: UUID) -> None:
        super().__init__(database)
        self._failing = tenant_id

    async def redact_expired(self, policy: RetentionPolicy, now: datetime, limit: int) -> RemovedData:
        if policy.tenant_id == self._failing:
            raise RuntimeError("a row this batch cannot handle")
        return await super().redact_expired(policy, now, limit)


async def test_a_tenant_whose_batch_fails_keeps_no_other_tenant_waiting(
    uow: FakeUnitOfWork, clock: FixedClock, store: FakeMediaStore
) -> None:
    acme, globex = await account(uow, clock), await account(uow, clock, "Globex")
    await received(uow, acme, clock)
    at_globex = await received(uow, globex, clock)
    for tenant in (acme, globex):
        await SetRetentionPolicy(uow, clock)(SetRetention(principal=as_role(tenant), days=1))
    clock.advance(timedelta(days=2))
    failing = RetentionFailingFor(uow, acme.tenant.id)
    for policy in await uow.retention.policies():
        await failing.save_policy(policy)
    uow.retention = failing

    assert await ApplyRetention(uow, store, clock)() == 1

    redacted = await uow.messages.get(globex.tenant.id, at_globex.id)
    assert redacted is not None
    assert redacted.redacted_at == clock.now()


# ------------------------------------------------------------------------------------ a person's data


async def test_erasing_a_person_removes_them_in_every_form_and_their_files_and_audits_no_number(
    uow: FakeUnitOfWork, clock: FixedClock, store: FakeMediaStore
) -> None:
    acme, globex = await account(uow, clock), await account(uow, clock, "Globex")
    await received(uow, acme, clock, contact=ROSA_NATIONAL, body="secret plans")
    photo = await with_photo(uow, store, await received(uow, acme, clock, contact=ROSA_WHATSAPP))
    bruno = await received(uow, acme, clock, contact=BRUNO)
    rosa_at_globex = await received(uow, globex, clock, contact=ROSA_NATIONAL)

    report = await EraseContactData(uow, store, clock)(as_role(acme), ROSA_WHATSAPP)

    assert (report.removed["messages"], report.removed["media"], report.removed["conversations"]) == (2, 1, 1)
    assert report.media_files_left == 0
    assert photo.key not in store.files
    assert [m.id for m in uow.messages.all() if m.tenant_id == acme.tenant.id] == [bruno.id]
    assert await uow.messages.get(globex.tenant.id, rosa_at_globex.id) is not None
    [entry] = [e for e in uow.audit.all() if e.action is AuditAction.CONTACT_ERASED]
    assert entry.target is not None
    assert (entry.target.kind, entry.target.id) == (TargetKind.CONTACT, None)
    assert "messages=2" in entry.details["removed"]
    written = repr(entry)
    assert "5512345678" not in written
    assert "secret plans" not in written


async def test_erasing_a_person_who_opted_out_keeps_the_opt_out_so_a_send_to_them_is_still_refused(
    uow: FakeUnitOfWork, clock: FixedClock, store: FakeMediaStore, provider: FakeMessagingProvider
) -> None:
    acme = await account(uow, clock)
    await says(uow, acme, clock, ROSA_WHATSAPP, "hola")
    await says(uow, acme, clock, ROSA_WHATSAPP, "BAJA")

    report = await EraseContactData(uow, store, clock)(as_role(acme), ROSA_NATIONAL)

    assert (
        report.removed["contacts"],
        report.removed["consent_ledger"],
        report.removed["consent_states"],
    ) == (
        1,
        1,
        0,
    )
    assert report.kept == {"consent_opt_out": 1}
    assert uow.contacts.all() == []
    assert uow.consent.ledger() == []
    assert uow.messages.all() == []
    with pytest.raises(RecipientOptedOut):
        await build_send_message(uow, provider, clock)(
            SendMessageCommand(tenant_id=acme.tenant.id, to_number=ROSA_WHATSAPP, body="Spring sale!")
        )
    assert uow.messages.all() == []
    assert provider.requests == []
    [entry] = [e for e in uow.audit.all() if e.action is AuditAction.CONTACT_ERASED]
    assert entry.details["kept"] == "consent_opt_out=1"
    assert "consent_ledger=1" in entry.details["removed"]
    assert "contacts=1" in entry.details["removed"]


async def test_erasing_a_person_who_opted_back_in_removes_their_consent_and_nobody_elses(
    uow: FakeUnitOfWork, clock: FixedClock, store: FakeMediaStore
) -> None:
    acme, globex = await account(uow, clock), await account(uow, clock, "Globex")
    await says(uow, acme, clock, ROSA_NATIONAL, "STOP")
    await says(uow, acme, clock, ROSA_WHATSAPP, "START")
    await says(uow, acme, clock, BRUNO, "STOP")
    await says(uow, globex, clock, ROSA_NATIONAL, "STOP")

    report = await EraseContactData(uow, store, clock)(as_role(acme), ROSA_WHATSAPP)

    assert (
        report.removed["contacts"],
        report.removed["consent_ledger"],
        report.removed["consent_states"],
    ) == (
        1,
        2,
        1,
    )
    assert report.kept == {"consent_opt_out": 0}
    assert await uow.consent.current(acme.tenant.id, identity(ROSA_NATIONAL)) is None
    bruno = await uow.consent.current(acme.tenant.id, identity(BRUNO))
    at_globex = await uow.consent.current(globex.tenant.id, identity(ROSA_NATIONAL))
    assert (bruno and bruno.state, at_globex and at_globex.state) == (
        ConsentState.OPTED_OUT,
        ConsentState.OPTED_OUT,
    )
    assert sorted((c.tenant_id == acme.tenant.id, c.identity) for c in uow.contacts.all()) == [
        (False, identity(ROSA_NATIONAL)),
        (True, identity(BRUNO)),
    ]
    assert [(e.tenant_id == acme.tenant.id, e.identity) for e in uow.consent.ledger()] == [
        (True, identity(BRUNO)),
        (False, identity(ROSA_NATIONAL)),
    ]


async def test_the_export_holds_the_persons_contact_consent_and_ledger(
    uow: FakeUnitOfWork, clock: FixedClock
) -> None:
    acme = await account(uow, clock)
    await says(uow, acme, clock, ROSA_WHATSAPP, "STOP")
    await says(uow, acme, clock, ROSA_WHATSAPP, "START")
    await says(uow, acme, clock, BRUNO, "STOP")

    export = await ExportContactData(uow, clock)(as_role(acme), ROSA_NATIONAL)

    [contact] = export.records["contact"]
    assert (contact["identity"], contact["phone_number"]) == (identity(ROSA_NATIONAL), ROSA_WHATSAPP)
    assert [(row["state"], row["number"]) for row in export.records["consent"]] == [
        ("opted_in", ROSA_WHATSAPP)
    ]
    assert [(row["state"], row["source"], row["actor"]) for row in export.records["consent_ledger"]] == [
        ("opted_out", "keyword", "contact"),
        ("opted_in", "keyword", "contact"),
    ]
    [entry] = [e for e in uow.audit.all() if e.action is AuditAction.CONTACT_EXPORTED]
    assert entry.details["exported"] == "consent=1,consent_ledger=2,contact=1,conversations=1,messages=2"


async def test_the_export_holds_the_persons_messages_with_timelines_and_media_urls(
    uow: FakeUnitOfWork, clock: FixedClock, store: FakeMediaStore
) -> None:
    acme = await account(uow, clock)
    first = await received(uow, acme, clock, contact=ROSA_NATIONAL, body="first")
    clock.advance()
    second = await received(uow, acme, clock, contact=ROSA_WHATSAPP, body="second")
    photo = await with_photo(uow, store, second)
    await received(uow, acme, clock, contact=BRUNO, body="not hers")

    export = await ExportContactData(uow, clock)(as_role(acme), ROSA_NATIONAL)

    assert [(row["id"], row["body"], row["timeline"]) for row in export.records["messages"]] == [
        (first.id, "first", []),
        (second.id, "second", []),
    ]
    assert [(row["id"], row["url"]) for row in export.records["media"]] == [
        (photo.id, f"/api/media/{photo.id}")
    ]
    assert len(export.records["conversations"]) == 1
    assert export.forms == (ROSA_NATIONAL, ROSA_WHATSAPP)
    assert not export.truncated
    [entry] = [e for e in uow.audit.all() if e.action is AuditAction.CONTACT_EXPORTED]
    assert entry.details["exported"] == "conversations=1,media=1,messages=2"


async def test_an_export_past_its_bound_holds_the_newest_messages_and_says_so(
    uow: FakeUnitOfWork, clock: FixedClock
) -> None:
    acme = await account(uow, clock)
    for body in ("one", "two", "three"):
        await received(uow, acme, clock, contact=ROSA_NATIONAL, body=body)
        clock.advance()

    export = await ExportContactData(uow, clock, max_messages=2)(as_role(acme), ROSA_NATIONAL)

    assert [row["body"] for row in export.records["messages"]] == ["two", "three"]
    assert export.truncated


async def test_agents_neither_export_nor_erase_a_person(
    uow: FakeUnitOfWork, clock: FixedClock, store: FakeMediaStore
) -> None:
    acme = await account(uow, clock)
    message = await received(uow, acme, clock, contact=ROSA_NATIONAL)

    with pytest.raises(AccessDenied):
        await EraseContactData(uow, store, clock)(as_role(acme, Role.AGENT), ROSA_NATIONAL)
    with pytest.raises(AccessDenied):
        await ExportContactData(uow, clock)(as_role(acme, Role.AGENT), ROSA_NATIONAL)

    assert await uow.messages.get(acme.tenant.id, message.id) == message
