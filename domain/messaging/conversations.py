"""Conversations: one per contact of a tenant, and WhatsApp's 24-hour customer service window."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from domain.messaging.content import MessageKind
from domain.messaging.messages import Direction, Message, MessageContent
from domain.phone import PhoneNumber

# A business may send free-form messages to a contact only within 24 hours of the contact's last
# message; outside it only approved templates are delivered (else Twilio fails them with 63016).
SESSION_WINDOW = timedelta(hours=24)
PREVIEW_LENGTH = 120


def preview_of(message: Message) -> str:
    """What a conversation list shows of its last message: its text, or else what kind of message it was."""
    content = message.content
    if content.template is not None:
        return f"[template {content.template.label}]"
    if content.body:
        return content.body[:PREVIEW_LENGTH]
    return _describe(content)[:PREVIEW_LENGTH]


def _describe(content: MessageContent) -> str:  # noqa: PLR0911 - one answer per kind reads best
    """A message without text of its own, in a few words."""
    if content.interactive is not None:
        return content.interactive.body
    if content.location is not None:
        place = content.location.name or content.location.address
        return f"[location] {place}" if place else "[location]"
    if content.contacts:
        return f"[contact] {', '.join(card.name for card in content.contacts)}"
    if content.reaction is not None:
        return f"[reaction {content.reaction.emoji}]" if content.reaction.emoji else "[reaction removed]"
    if content.reply is not None:
        return content.reply.title
    if content.unsupported is not None:
        return f"[{content.unsupported} message]"
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
    # The customer's messages no agent has seen yet (inbound messages since the conversation was last
    # marked seen).
    unread_count: int = 0
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
