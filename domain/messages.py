"""Messages and the rules of their delivery status."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID, uuid4

from domain.errors import InvalidMessage
from domain.phone import PhoneNumber

MAX_BODY_LENGTH = 4096  # WhatsApp's limit for a text message
MAX_MEDIA_ITEMS = 10  # Twilio accepts at most ten MediaUrl values per message
MAX_MEDIA_URL_LENGTH = 2048


class Direction(enum.StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class MessageStatus(enum.StrEnum):
    ACCEPTED = "accepted"  # stored by us, not yet taken by the provider
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    UNDELIVERED = "undelivered"
    RECEIVED = "received"  # an inbound message

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    def can_advance_to(self, new: MessageStatus) -> bool:
        """Provider callbacks arrive out of order and repeat: a status only ever moves forward."""
        if self.is_terminal or new == self or new is MessageStatus.RECEIVED:
            # received is where an inbound message starts, never a step of an outbound one
            return False
        return _RANK[new] > _RANK[self]


# read is the last thing that can happen to a delivered message, so it is final too.
_TERMINAL = frozenset(
    {MessageStatus.READ, MessageStatus.FAILED, MessageStatus.UNDELIVERED, MessageStatus.RECEIVED}
)
_RANK = {
    MessageStatus.ACCEPTED: 0,
    MessageStatus.QUEUED: 1,
    MessageStatus.SENDING: 2,
    MessageStatus.SENT: 3,
    MessageStatus.DELIVERED: 4,
    MessageStatus.READ: 5,
    # a failure can overtake any non-terminal state
    MessageStatus.FAILED: 6,
    MessageStatus.UNDELIVERED: 6,
    MessageStatus.RECEIVED: 6,
}


def statuses_after(status: MessageStatus) -> frozenset[MessageStatus]:
    """Every status a message in ``status`` may still move to."""
    return frozenset(candidate for candidate in MessageStatus if status.can_advance_to(candidate))


@dataclass(frozen=True, slots=True)
class MessageContent:
    """What a message carries: text, media, or both."""

    body: str = ""
    media_urls: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.body.strip() and not self.media_urls:
            raise InvalidMessage("a message needs a body or at least one media URL")
        if len(self.body) > MAX_BODY_LENGTH:
            raise InvalidMessage(f"the body is at most {MAX_BODY_LENGTH} characters")
        if len(self.media_urls) > MAX_MEDIA_ITEMS:
            raise InvalidMessage(f"a message carries at most {MAX_MEDIA_ITEMS} media URLs")
        for url in self.media_urls:
            if not url.lower().startswith(("https://", "http://")):
                raise InvalidMessage(f"media URL {url[:80]!r} must be an absolute http(s) URL")
            if len(url) > MAX_MEDIA_URL_LENGTH or any(c.isspace() for c in url) or len(url) < 12:
                raise InvalidMessage(f"media URL {url[:80]!r} is not a valid URL")


@dataclass(frozen=True, slots=True)
class Message:
    """One WhatsApp message, sent or received by a tenant.

    ``contact`` is the other party (the customer) and ``sender`` the tenant's own number, whichever
    way the message went; ``from_number``/``to_number`` give the wire view.
    """

    tenant_id: UUID
    direction: Direction
    sender: PhoneNumber
    contact: PhoneNumber
    content: MessageContent
    status: MessageStatus
    created_at: datetime
    updated_at: datetime
    provider_sid: str | None = None
    error_code: int | None = None
    error_message: str | None = None
    id: UUID = field(default_factory=uuid4)

    @classmethod
    def new_outbound(
        cls,
        *,
        tenant_id: UUID,
        sender: PhoneNumber,
        contact: PhoneNumber,
        content: MessageContent,
        now: datetime,
    ) -> Message:
        return cls(
            tenant_id=tenant_id,
            direction=Direction.OUTBOUND,
            sender=sender,
            contact=contact,
            content=content,
            status=MessageStatus.ACCEPTED,
            created_at=now,
            updated_at=now,
        )

    @property
    def from_number(self) -> PhoneNumber:
        return self.sender if self.direction is Direction.OUTBOUND else self.contact

    @property
    def to_number(self) -> PhoneNumber:
        return self.contact if self.direction is Direction.OUTBOUND else self.sender

    def handed_to_provider(self, provider_sid: str, status: MessageStatus, now: datetime) -> Message:
        return replace(self, provider_sid=provider_sid, status=status, updated_at=now)

    def failed(self, *, code: int | None, reason: str, now: datetime) -> Message:
        return replace(
            self, status=MessageStatus.FAILED, error_code=code, error_message=reason, updated_at=now
        )
