"""Conversations: one per contact of a tenant, and WhatsApp's 24-hour customer service window."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from domain.messaging.content import MessageKind
from domain.messaging.messages import Direction, Message
from domain.phone import PhoneNumber

# A business may send free-form messages to a contact only within 24 hours of the contact's last
# message; outside it only approved templates are delivered (else Twilio fails them with 63016).
SESSION_WINDOW = timedelta(hours=24)
PREVIEW_LENGTH = 120


def preview_of(message: Message) -> str:
    """What a conversation list shows of its last message."""
    content = message.content
    if content.template is not None:
        return f"[template {content.template.label}]"
    if content.body:
        return content.body[:PREVIEW_LENGTH]
    if content.kind is MessageKind.MEDIA:
        return f"[{len(content.media_urls) + len(content.media)} media]"
    return f"[{content.kind}]"


@dataclass(frozen=True, slots=True)
class Conversation:
    """One per person a tenant exchanges messages with, whichever form of their number is used
    (``PhoneNumber.identity``). ``contact`` is the form the person last wrote from, or, until they
    write, the form last written to."""

    tenant_id: UUID
    contact: PhoneNumber
    sender: PhoneNumber  # the tenant's number used last with this contact
    last_message_id: UUID
    last_message_at: datetime
    last_direction: Direction
    last_message_preview: str
    created_at: datetime
    last_inbound_at: datetime | None = None
    profile_name: str | None = None
    id: UUID = field(default_factory=uuid4)

    @property
    def window_expires_at(self) -> datetime | None:
        return self.last_inbound_at + SESSION_WINDOW if self.last_inbound_at else None

    def window_open(self, now: datetime) -> bool:
        expires = self.window_expires_at
        return expires is not None and now < expires

    def address_for(self, contact: PhoneNumber) -> PhoneNumber:
        """Where a message to ``contact`` (this conversation's person, in any form) is sent: once the
        person has written, to the form they write from, which is what their WhatsApp answers to."""
        return self.contact if self.last_inbound_at is not None else contact
