"""Messages: what they may carry, and how their delivery status may move."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from domain.administration.tenancy import ProviderName
from domain.errors import InvalidMessage
from domain.messaging.failures import Failure, FailureCode
from domain.messaging.messages import (
    MAX_BODY_LENGTH,
    MAX_MEDIA_ITEMS,
    Direction,
    Message,
    MessageContent,
    MessageStatus,
    Template,
    statuses_after,
)
from domain.phone import PhoneNumber

NOW = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
OURS = PhoneNumber.parse("+14155238886")
THEIRS = PhoneNumber.parse("+447911123456")
IMAGE = "https://example.com/cat.jpg"

# ------------------------------------------------------------------------------------------- content


def test_a_text_message_needs_only_a_body() -> None:
    assert MessageContent(body="Hello").body == "Hello"


def test_a_media_message_needs_no_body() -> None:
    assert MessageContent(media_urls=(IMAGE,)).media_urls == (IMAGE,)


@pytest.mark.parametrize("body", ["", "   ", "\n\t"])
def test_a_message_with_neither_text_nor_media_is_refused(body: str) -> None:
    with pytest.raises(InvalidMessage, match="a body, at least one media item, or another kind"):
        MessageContent(body=body)


TEMPLATE_SID = "HX" + "0123456789abcdef" * 2


def test_a_template_message_needs_only_its_content_sid() -> None:
    content = MessageContent(template=Template.of(TEMPLATE_SID, {"1": "Ada", "2": "12:30"}))

    assert content.template is not None
    assert content.template.variables_dict == {"1": "Ada", "2": "12:30"}


def test_a_template_message_carries_no_body_or_media_of_its_own() -> None:
    with pytest.raises(InvalidMessage, match="template"):
        MessageContent(body="hi", template=Template.of(TEMPLATE_SID))
    with pytest.raises(InvalidMessage, match="template"):
        MessageContent(media_urls=(IMAGE,), template=Template.of(TEMPLATE_SID))


@pytest.mark.parametrize(
    ("content_sid", "variables"),
    [
        ("HX123", {}),
        ("MG" + "0" * 32, {}),
        (TEMPLATE_SID, {"": "x"}),
        (TEMPLATE_SID, {"1": "x" * 1025}),
        (TEMPLATE_SID, {str(n): "x" for n in range(101)}),
    ],
)
def test_malformed_templates_are_refused(content_sid: str, variables: dict[str, str]) -> None:
    with pytest.raises(InvalidMessage):
        Template.of(content_sid, variables)


def test_a_blank_body_is_allowed_beside_media() -> None:
    assert MessageContent(body=" ", media_urls=(IMAGE,)).media_urls == (IMAGE,)


def test_the_body_may_be_exactly_as_long_as_whatsapp_allows() -> None:
    assert len(MessageContent(body="x" * MAX_BODY_LENGTH).body) == MAX_BODY_LENGTH == 1600


def test_a_body_longer_than_whatsapp_allows_is_refused() -> None:
    with pytest.raises(InvalidMessage, match="at most 1600 characters"):
        MessageContent(body="x" * (MAX_BODY_LENGTH + 1))


def test_ten_media_urls_are_allowed() -> None:
    urls = tuple(f"https://example.com/{i}.jpg" for i in range(MAX_MEDIA_ITEMS))

    assert len(MessageContent(media_urls=urls).media_urls) == 10


def test_more_than_ten_media_urls_are_refused() -> None:
    urls = tuple(f"https://example.com/{i}.jpg" for i in range(MAX_MEDIA_ITEMS + 1))

    with pytest.raises(InvalidMessage, match="at most 10 media items"):
        MessageContent(body="album", media_urls=urls)


@pytest.mark.parametrize(
    "url",
    [
        "example.com/cat.jpg",  # not absolute
        "/media/cat.jpg",
        "ftp://example.com/cat.jpg",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "",
    ],
)
def test_media_must_be_an_absolute_http_url(url: str) -> None:
    with pytest.raises(InvalidMessage, match="absolute http"):
        MessageContent(body="look", media_urls=(url,))


@pytest.mark.parametrize(
    "url",
    [
        "https://",  # no host at all
        "http://a.b",  # too short to be a real media URL
        "https://example.com/my cat.jpg",  # whitespace
        "https://example.com/cat.jpg\n",
        "https://example.com/" + "a" * 2048,  # longer than any URL we pass on
    ],
)
def test_malformed_media_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidMessage, match="not a valid URL"):
        MessageContent(body="look", media_urls=(url,))


def test_one_bad_url_among_good_ones_is_refused() -> None:
    with pytest.raises(InvalidMessage):
        MessageContent(media_urls=(IMAGE, "not a url", IMAGE))


def test_http_media_urls_are_accepted() -> None:
    assert MessageContent(media_urls=("http://example.com/a.png",)).media_urls == (
        "http://example.com/a.png",
    )


# -------------------------------------------------------------------------------------------- status

FORWARD_CHAIN = [
    MessageStatus.SCHEDULED,
    MessageStatus.ACCEPTED,
    MessageStatus.QUEUED,
    MessageStatus.SENDING,
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.READ,
]
FORWARD_MOVES = [(a, b) for i, a in enumerate(FORWARD_CHAIN) for b in FORWARD_CHAIN[i + 1 :]]
BACKWARD_MOVES = [(b, a) for a, b in FORWARD_MOVES]
TERMINAL = [MessageStatus.READ, MessageStatus.FAILED, MessageStatus.UNDELIVERED, MessageStatus.RECEIVED]
TERMINAL += [MessageStatus.CANCELED]
NON_TERMINAL = [
    MessageStatus.SCHEDULED,
    MessageStatus.ACCEPTED,
    MessageStatus.QUEUED,
    MessageStatus.SENDING,
    MessageStatus.SENT,
]
NON_TERMINAL += [MessageStatus.DELIVERED]


@pytest.mark.parametrize(("current", "new"), FORWARD_MOVES, ids=str)
def test_a_status_moves_forward_even_when_steps_are_skipped(
    current: MessageStatus, new: MessageStatus
) -> None:
    assert current.can_advance_to(new)


@pytest.mark.parametrize(("current", "new"), BACKWARD_MOVES, ids=str)
def test_a_late_report_never_moves_a_status_back(current: MessageStatus, new: MessageStatus) -> None:
    assert not current.can_advance_to(new)


@pytest.mark.parametrize("status", list(MessageStatus), ids=str)
def test_a_repeated_report_changes_nothing(status: MessageStatus) -> None:
    assert not status.can_advance_to(status)


@pytest.mark.parametrize("status", TERMINAL, ids=str)
def test_terminal_statuses_stay_terminal(status: MessageStatus) -> None:
    assert status.is_terminal
    assert statuses_after(status) == frozenset()


@pytest.mark.parametrize("status", NON_TERMINAL, ids=str)
def test_a_failure_overtakes_any_status_that_is_not_final(status: MessageStatus) -> None:
    assert not status.is_terminal
    assert status.can_advance_to(MessageStatus.FAILED)
    assert status.can_advance_to(MessageStatus.UNDELIVERED)


def test_only_a_scheduled_message_can_be_canceled() -> None:
    assert statuses_before(MessageStatus.CANCELED) == {MessageStatus.SCHEDULED}


def statuses_before(status: MessageStatus) -> set[MessageStatus]:
    return {candidate for candidate in MessageStatus if candidate.can_advance_to(status)}


def test_nothing_moves_a_message_back_to_scheduled() -> None:
    assert statuses_before(MessageStatus.SCHEDULED) == set()


def test_read_is_final_so_a_late_failure_cannot_overwrite_it() -> None:
    assert not MessageStatus.READ.can_advance_to(MessageStatus.FAILED)


def test_failed_and_undelivered_do_not_replace_each_other() -> None:
    assert not MessageStatus.FAILED.can_advance_to(MessageStatus.UNDELIVERED)
    assert not MessageStatus.UNDELIVERED.can_advance_to(MessageStatus.FAILED)


def test_statuses_after_sent() -> None:
    assert statuses_after(MessageStatus.SENT) >= {
        MessageStatus.DELIVERED,
        MessageStatus.READ,
        MessageStatus.FAILED,
        MessageStatus.UNDELIVERED,
    }
    assert not statuses_after(MessageStatus.SENT) & {
        MessageStatus.ACCEPTED,
        MessageStatus.QUEUED,
        MessageStatus.SENDING,
        MessageStatus.SENT,
    }


# ------------------------------------------------------------------------------------------- message


def make_message(direction: Direction) -> Message:
    return Message(
        tenant_id=uuid4(),
        direction=direction,
        sender=OURS,
        contact=THEIRS,
        content=MessageContent(body="hi"),
        status=MessageStatus.RECEIVED if direction is Direction.INBOUND else MessageStatus.ACCEPTED,
        created_at=NOW,
        updated_at=NOW,
    )


def test_an_outbound_message_goes_from_our_sender_to_the_contact() -> None:
    message = make_message(Direction.OUTBOUND)

    assert message.from_number == OURS
    assert message.to_number == THEIRS


def test_an_inbound_message_goes_from_the_contact_to_our_sender() -> None:
    message = make_message(Direction.INBOUND)

    assert message.from_number == THEIRS
    assert message.to_number == OURS


def test_a_new_outbound_message_starts_accepted_with_no_provider_id() -> None:
    message = Message.new_outbound(
        tenant_id=uuid4(), sender=OURS, contact=THEIRS, content=MessageContent(body="hi"), now=NOW
    )

    assert message.direction is Direction.OUTBOUND
    assert message.status is MessageStatus.ACCEPTED
    assert message.provider_sid is None
    assert message.created_at == message.updated_at == NOW


def test_new_messages_get_distinct_ids() -> None:
    first, second = (
        Message.new_outbound(
            tenant_id=uuid4(), sender=OURS, contact=THEIRS, content=MessageContent(body="hi"), now=NOW
        )
        for _ in range(2)
    )

    assert first.id != second.id


# ------------------------------------------------------------------------------------------- failures


def an_outbound_message() -> Message:
    return Message.new_outbound(
        tenant_id=uuid4(), sender=OURS, contact=THEIRS, content=MessageContent(body="hi"), now=NOW
    )


WINDOW_CLOSED = Failure(
    FailureCode.SESSION_WINDOW_CLOSED,
    provider=ProviderName.META,
    provider_code=131047,
    provider_message="Message failed to send because more than 24 hours have passed",
    reason="more than 24 hours have passed since the customer last wrote: only a template can be sent",
)


def test_a_failed_message_keeps_its_failure_and_the_providers_code_as_its_error() -> None:
    failed = an_outbound_message().failed(WINDOW_CLOSED, NOW)

    assert failed.status is MessageStatus.FAILED
    assert failed.failure == WINDOW_CLOSED
    assert (failed.error_code, failed.error_message) == (131047, WINDOW_CLOSED.reason)
    assert failed.provider is ProviderName.META


def test_only_a_message_that_did_not_arrive_has_a_failure() -> None:
    sent = an_outbound_message().handed_to_provider(
        "wamid.1", MessageStatus.SENT, NOW, provider=ProviderName.META
    )

    assert sent.failure is None
    assert sent.provider is ProviderName.META
    # Undelivered by a report that gave no code we know: a failure all the same, unclassified.
    undelivered = replace(sent, status=MessageStatus.UNDELIVERED, error_code=30003)
    assert undelivered.failure == Failure(
        FailureCode.UNKNOWN, provider=ProviderName.META, provider_code=30003
    )


def test_a_retried_message_forgets_its_last_failure() -> None:
    retried = an_outbound_message().failed(WINDOW_CLOSED, NOW).accepted_again(NOW)

    assert retried.failure is None
    assert (retried.failure_code, retried.provider, retried.provider_error_message) == (None, None, None)
    assert (retried.error_code, retried.error_message) == (None, None)
