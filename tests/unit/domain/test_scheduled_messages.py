"""A scheduled message: when it may be scheduled for, and how it leaves the scheduled status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest

from domain.errors import InvalidMessage
from domain.messaging.messages import (
    MAX_SCHEDULE_AHEAD,
    MIN_SCHEDULE_LEAD,
    Message,
    MessageContent,
    MessageStatus,
    check_send_at,
)
from domain.phone import PhoneNumber

NOW = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)


def scheduled_for(send_at: datetime) -> Message:
    return Message.new_outbound(
        tenant_id=uuid4(),
        sender=PhoneNumber.parse("+14155238886"),
        contact=PhoneNumber.parse("+447911123456"),
        content=MessageContent(body="See you tomorrow"),
        now=NOW,
        send_at=send_at,
    )


def test_a_message_with_a_send_at_starts_scheduled_and_one_without_accepted() -> None:
    assert scheduled_for(NOW + timedelta(hours=1)).status is MessageStatus.SCHEDULED
    assert scheduled_for(NOW + timedelta(hours=1)).send_at == NOW + timedelta(hours=1)
    assert replace_send_at_none().status is MessageStatus.ACCEPTED


def replace_send_at_none() -> Message:
    return Message.new_outbound(
        tenant_id=uuid4(),
        sender=PhoneNumber.parse("+14155238886"),
        contact=PhoneNumber.parse("+447911123456"),
        content=MessageContent(body="Now"),
        now=NOW,
    )


def test_send_at_comes_back_in_utc() -> None:
    in_tokyo = (NOW + timedelta(days=2)).astimezone(timezone(timedelta(hours=9)))

    assert check_send_at(in_tokyo, NOW) == NOW + timedelta(days=2)
    assert check_send_at(in_tokyo, NOW).tzinfo is UTC


@pytest.mark.parametrize(
    "send_at",
    [
        NOW + MIN_SCHEDULE_LEAD - timedelta(microseconds=1),
        NOW - timedelta(days=1),
        NOW + MAX_SCHEDULE_AHEAD + timedelta(microseconds=1),
        datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-14))),
        datetime(1, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=14))),
        datetime(2026, 1, 16, 9, 30),  # no offset
    ],
    ids=[
        "under a minute",
        "past",
        "beyond 35 days",
        "no UTC equivalent, late",
        "no UTC equivalent, early",
        "naive",
    ],
)
def test_send_at_out_of_bounds_is_refused_naming_it(send_at: datetime) -> None:
    with pytest.raises(InvalidMessage, match="send_at"):
        check_send_at(send_at, NOW)


def test_when_a_scheduled_message_is_due_it_is_accepted_for_dispatch() -> None:
    message = scheduled_for(NOW + timedelta(hours=1))

    due = message.due(NOW + timedelta(hours=1))

    assert (due.status, due.send_at, due.updated_at) == (
        MessageStatus.ACCEPTED,
        message.send_at,
        NOW + timedelta(hours=1),
    )


def test_only_a_scheduled_message_is_rescheduled_canceled_or_becomes_due() -> None:
    accepted = replace_send_at_none()

    with pytest.raises(InvalidMessage, match="only a scheduled message"):
        accepted.rescheduled(NOW + timedelta(hours=2), NOW)
    with pytest.raises(InvalidMessage, match="only a scheduled message"):
        accepted.canceled(NOW)
    with pytest.raises(InvalidMessage, match="only a scheduled message"):
        accepted.due(NOW)


def test_a_canceled_message_is_final() -> None:
    canceled = scheduled_for(NOW + timedelta(hours=1)).canceled(NOW)

    assert canceled.status is MessageStatus.CANCELED
    assert canceled.status.is_terminal


def test_a_moment_long_past_is_told_to_be_ahead_not_too_far() -> None:
    with pytest.raises(InvalidMessage, match="at least a minute ahead"):
        check_send_at(datetime(1, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=14))), NOW)
