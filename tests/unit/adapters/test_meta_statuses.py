"""Meta's message statuses in our words: one map, read by a send's answer and by the status webhooks; only
what an unknown word means differs."""

from __future__ import annotations

import pytest

from adapters.meta.statuses import META_STATUSES, reported_status, status_at_meta
from domain.messaging.messages import MessageStatus

Q = MessageStatus.QUEUED

# Meta's word: (what a status webhook reports, what a send's answer says).
STATUSES: dict[str, tuple[MessageStatus | None, MessageStatus]] = {
    "accepted": (Q, Q),  # a send's answer: Meta has it; our own accepted means "not yet handed over"
    "held_for_quality_assessment": (Q, Q),
    "paused": (Q, Q),
    "sent": (MessageStatus.SENT, MessageStatus.SENT),
    "delivered": (MessageStatus.DELIVERED, MessageStatus.DELIVERED),
    "read": (MessageStatus.READ, MessageStatus.READ),
    "played": (MessageStatus.READ, MessageStatus.READ),  # a voice message listened to
    "failed": (MessageStatus.FAILED, MessageStatus.FAILED),
    # Not news of the message's delivery: the customer deleted it, a catalog item in it has a problem,
    # or a word Meta may add. A webhook with it is ignored; a message Meta answered for is queued.
    "deleted": (None, Q),
    "warning": (None, Q),
    "something_new": (None, Q),
}


@pytest.mark.parametrize(("word", "expected"), STATUSES.items())
def test_each_meta_status_means_one_of_ours(
    word: str, expected: tuple[MessageStatus | None, MessageStatus]
) -> None:
    reported, answered = expected

    assert reported_status(word) is reported
    assert reported_status(word.upper()) is reported
    assert status_at_meta(word) is answered


def test_the_table_lists_every_word_the_map_knows() -> None:
    assert {word for word, (reported, _) in STATUSES.items() if reported is not None} == set(META_STATUSES)


def test_a_send_answer_without_a_status_is_queued() -> None:
    assert status_at_meta(None) is Q
