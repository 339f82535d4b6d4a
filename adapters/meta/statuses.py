"""Meta's message statuses in our words: the one map every Meta path reads (a send's answer, a status
webhook)."""

from __future__ import annotations

from collections.abc import Mapping

from domain.messaging.messages import MessageStatus

# Meta's words → ours. A send's answer says "accepted" (Meta has the message and will send it), or
# "held_for_quality_assessment" / "paused" for a marketing message Meta holds back for a while: all
# queued, as far as we are concerned (our own ``accepted`` means "not yet handed over").
# Status webhooks say sent, delivered, read (or "played": a voice message listened to, which is read),
# and failed, with errors[]. "deleted" (the customer deleted the message) and "warning" (a catalog
# item in it has a problem) say nothing of its delivery: not here, like any word Meta may add.
META_STATUSES: Mapping[str, MessageStatus] = {
    "accepted": MessageStatus.QUEUED,
    "held_for_quality_assessment": MessageStatus.QUEUED,
    "paused": MessageStatus.QUEUED,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "played": MessageStatus.READ,
    "failed": MessageStatus.FAILED,
}


def reported_status(meta_status: str) -> MessageStatus | None:
    """The status a status webhook reports; None when it is not one of a message's delivery (or one we
    do not know): such a report carries no news and is ignored."""
    return META_STATUSES.get(meta_status.lower())


def status_at_meta(meta_status: str | None) -> MessageStatus:
    """The status of a message Meta answered a send for: at least queued, whatever word (or none)."""
    return META_STATUSES.get((meta_status or "").lower(), MessageStatus.QUEUED)
