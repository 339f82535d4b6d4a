from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from adapters.sandbox.provider import SandboxMessagingProvider
from application.ports.messages import StatusChange
from application.ports.providers import OutboundRequest, OutcomeKind
from domain.administration.tenancy import ProviderName, Tenant
from domain.messaging.messages import Message, MessageContent, MessageStatus, Template
from domain.phone import PhoneNumber


def request_to(number: str) -> OutboundRequest:
    now = datetime.now(UTC)
    tenant = Tenant(name="Acme", provider=ProviderName.SANDBOX, created_at=now)
    message = Message.new_outbound(
        tenant_id=tenant.id,
        sender=PhoneNumber.parse("+14155238886"),
        contact=PhoneNumber.parse(number),
        content=MessageContent(body="hi"),
        now=now,
    )
    return OutboundRequest(tenant=tenant, message=message)


async def test_a_message_is_queued_with_a_twilio_shaped_sid_then_sent_then_delivered() -> None:
    reports: list[StatusChange] = []

    async def listener(change: StatusChange) -> None:
        reports.append(change)

    sandbox = SandboxMessagingProvider(listener, sent_after_seconds=0.01, delivered_after_seconds=0.02)

    outcome = await sandbox.send(request_to("+14155550123"))
    await asyncio.sleep(0.1)

    assert outcome.kind is OutcomeKind.ACCEPTED
    assert outcome.status is MessageStatus.QUEUED
    assert outcome.provider_sid is not None
    assert re.fullmatch(r"SM[0-9a-f]{32}", outcome.provider_sid)
    assert [(r.provider_sid, r.status) for r in reports] == [
        (outcome.provider_sid, MessageStatus.SENT),
        (outcome.provider_sid, MessageStatus.DELIVERED),
    ]
    await sandbox.aclose()


@pytest.mark.parametrize(
    ("number", "code"), [("+15005550001", 21211), ("+15005550004", 21610), ("+15005550009", 21614)]
)
async def test_twilios_magic_numbers_fail_as_they_do_at_twilio(number: str, code: int) -> None:
    async def listener(change: StatusChange) -> None:
        raise AssertionError("a refused message gets no status reports")

    sandbox = SandboxMessagingProvider(listener)

    outcome = await sandbox.send(request_to(number))

    assert outcome.kind is OutcomeKind.REJECTED
    assert outcome.error_code == code
    assert outcome.reason


async def test_closing_stops_pending_reports() -> None:
    reports: list[StatusChange] = []

    async def listener(change: StatusChange) -> None:
        reports.append(change)

    sandbox = SandboxMessagingProvider(listener, sent_after_seconds=0.05, delivered_after_seconds=0.1)
    await sandbox.send(request_to("+14155550123"))

    await sandbox.aclose()
    await asyncio.sleep(0.15)

    assert reports == []


async def test_a_failing_listener_does_not_break_the_provider() -> None:
    async def listener(change: StatusChange) -> None:
        raise RuntimeError("database down")

    sandbox = SandboxMessagingProvider(listener, sent_after_seconds=0.0, delivered_after_seconds=0.0)

    outcome = await sandbox.send(request_to("+14155550123"))
    await asyncio.sleep(0.05)

    assert outcome.kind is OutcomeKind.ACCEPTED
    assert uuid4()  # the event loop is still healthy enough to go on


async def test_a_template_is_accepted_like_any_message() -> None:
    reports: list[StatusChange] = []

    async def listener(change: StatusChange) -> None:
        reports.append(change)

    sandbox = SandboxMessagingProvider(listener, sent_after_seconds=0.01, delivered_after_seconds=0.02)
    plain = request_to("+14155550123")
    template = MessageContent(template=Template.of("HX" + "ab" * 16, {"1": "12/1"}))
    request = replace(plain, message=replace(plain.message, content=template))

    outcome = await sandbox.send(request)
    await asyncio.sleep(0.1)

    assert outcome.kind is OutcomeKind.ACCEPTED
    assert [r.status for r in reports] == [MessageStatus.SENT, MessageStatus.DELIVERED]
    await sandbox.aclose()
