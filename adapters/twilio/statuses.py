"""Twilio's message statuses in our words: the one map every Twilio path reads (a send's answer, a
lookup's find, a status callback)."""

from __future__ import annotations

from collections.abc import Mapping

from domain.messaging.messages import MessageStatus

# Twilio's MessageStatus values → ours. Twilio's "accepted" and "scheduled" mean Twilio has the message
# and will send it: queued, as far as we are concerned (our own ``accepted`` means "not yet handed over").
# A canceled message (a scheduled one called off) will never be sent: failed, which is final.
# "partially_delivered" (some parts of a multi-part message arrived) is not delivered: sent is the most
# it proves. "receiving"/"received" describe inbound messages and never apply to one we sent: not here,
# like any status Twilio may add in the future.
TWILIO_STATUSES: Mapping[str, MessageStatus] = {
    "accepted": MessageStatus.QUEUED,
    "scheduled": MessageStatus.QUEUED,
    "queued": MessageStatus.QUEUED,
    "sending": MessageStatus.SENDING,
    "sent": MessageStatus.SENT,
    "partially_delivered": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "failed": MessageStatus.FAILED,
    "undelivered": MessageStatus.UNDELIVERED,
    # Only a scheduled message can be canceled, and the gateway schedules none: in practice this comes
    # from a status callback, which also records why ("canceled before it was sent").
    "canceled": MessageStatus.FAILED,
}


def reported_status(twilio_status: str) -> MessageStatus | None:
    """The status a status callback reports; None when it is not one of an outbound message's (or one
    we do not know): such a report carries no news and is ignored."""
    return TWILIO_STATUSES.get(twilio_status.lower())


def status_at_twilio(twilio_status: str | None) -> MessageStatus:
    """The status of a message Twilio answered for (a send's answer, a lookup's find).

    Unlike a callback's, a status Twilio gives here is never ignored: Twilio has the message, so it is
    at least queued, whatever word (or none) Twilio used.
    """
    return TWILIO_STATUSES.get((twilio_status or "").lower(), MessageStatus.QUEUED)
