"""Messaging on the wire: what a send takes, and messages and conversations as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from application.messaging.conversations import ConversationPage
from application.messaging.history import HistoryPage, MessageDetails
from application.ports.messages import MessageView
from domain.messaging.conversations import Conversation
from domain.messaging.messages import (
    MAX_BODY_LENGTH,
    MAX_MEDIA_ITEMS,
    MAX_TEMPLATE_VALUE_LENGTH,
    MAX_TEMPLATE_VARIABLES,
    Direction,
    Message,
    MessageStatus,
    StatusEvent,
)
from entrypoints.http.wire_types import Text

MediaUrl = Annotated[Text, msgspec.Meta(min_length=1, max_length=2048)]
ContentSid = Annotated[
    str,
    msgspec.Meta(
        pattern="^HX[0-9a-fA-F]{32}$",
        examples=["HXb5b62575e6e4ff6129ad7c8efe1f983e"],
        description=(
            "An approved WhatsApp template (a Twilio Content SID). Templates may be sent at any time; "
            "free-form messages only within 24 hours of the contact's last message"
        ),
    ),
]
TemplateVariableName = Annotated[Text, msgspec.Meta(min_length=1, max_length=64)]
TemplateVariableValue = Annotated[Text, msgspec.Meta(max_length=MAX_TEMPLATE_VALUE_LENGTH)]
ContentVariables = Annotated[
    dict[TemplateVariableName, TemplateVariableValue],
    msgspec.Meta(
        max_length=MAX_TEMPLATE_VARIABLES,
        examples=[{"1": "12/1", "2": "3pm"}],
        description="The template's placeholder values, by placeholder name; only with content_sid",
    ),
]


class SendMessageRequest(msgspec.Struct, forbid_unknown_fields=True):
    to_number: Annotated[
        Text, msgspec.Meta(min_length=1, max_length=64, examples=["+14155550123", "whatsapp:+14155550123"])
    ]
    body: Annotated[Text, msgspec.Meta(max_length=MAX_BODY_LENGTH, examples=["Your order has shipped"])] = ""
    media_url: (
        MediaUrl
        | Annotated[
            list[MediaUrl],
            msgspec.Meta(max_length=MAX_MEDIA_ITEMS, examples=[["https://example.com/receipt.png"]]),
        ]
        | None
    ) = None
    from_number: (
        Annotated[
            Text,
            msgspec.Meta(
                min_length=1,
                max_length=64,
                examples=["+14155238886"],
                description="One of the tenant's senders; the default sender when omitted",
            ),
        ]
        | None
    ) = None

    content_sid: ContentSid | None = None
    content_variables: ContentVariables | None = None

    @property
    def media_urls(self) -> tuple[str, ...]:
        if self.media_url is None:
            return ()
        if isinstance(self.media_url, str):
            return (self.media_url,)
        return tuple(self.media_url)


class MessageResource(msgspec.Struct):
    id: UUID
    direction: Direction
    status: MessageStatus
    from_number: str
    to_number: str
    body: str
    media_urls: list[str]
    content_sid: str | None
    content_variables: dict[str, str] | None
    profile_name: str | None  # the contact's WhatsApp profile name (inbound messages)
    provider_sid: str | None
    error_code: int | None
    error_message: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, message: Message) -> MessageResource:
        # The view has the resource's fields in the resource's order.
        return cls(*MessageView.of(message))


class MessagePage(msgspec.Struct):
    items: list[MessageResource]
    next_cursor: str | None

    @classmethod
    def of(cls, page: HistoryPage) -> MessagePage:
        # The view has the resource's fields in the resource's order.
        return cls(items=[MessageResource(*view) for view in page.items], next_cursor=page.next_cursor)


class StatusEventResource(msgspec.Struct):
    status: MessageStatus
    received_at: datetime
    applied: bool  # False: a late report that did not move the message (a repeat is not listed again)
    error_code: int | None
    error_message: str | None

    @classmethod
    def of(cls, event: StatusEvent) -> StatusEventResource:
        return cls(
            status=event.status,
            received_at=event.received_at,
            applied=event.applied,
            error_code=event.error_code,
            error_message=event.error_message,
        )


class MessageDetailsResource(MessageResource):
    """A message and every status report received about it, oldest first."""

    timeline: list[StatusEventResource]

    @classmethod
    def of_details(cls, details: MessageDetails) -> MessageDetailsResource:
        summary = MessageResource.of(details.message)
        return cls(
            **msgspec.structs.asdict(summary),
            timeline=[StatusEventResource.of(event) for event in details.timeline],
        )


class LastMessage(msgspec.Struct):
    id: UUID
    at: datetime
    direction: Direction
    preview: str


class ConversationResource(msgspec.Struct):
    contact: str
    sender: str  # the tenant's number used last with this contact
    profile_name: str | None
    last_message: LastMessage
    last_inbound_at: datetime | None
    window_expires_at: datetime | None  # 24 hours after last_inbound_at
    window_open: bool  # whether free-form messages may be sent now; templates always may

    @classmethod
    def of(cls, conversation: Conversation, now: datetime) -> ConversationResource:
        return cls(
            contact=conversation.contact.e164,
            sender=conversation.sender.e164,
            profile_name=conversation.profile_name,
            last_message=LastMessage(
                id=conversation.last_message_id,
                at=conversation.last_message_at,
                direction=conversation.last_direction,
                preview=conversation.last_message_preview,
            ),
            last_inbound_at=conversation.last_inbound_at,
            window_expires_at=conversation.window_expires_at,
            window_open=conversation.window_open(now),
        )


class ConversationsPage(msgspec.Struct):
    items: list[ConversationResource]
    next_cursor: str | None

    @classmethod
    def of(cls, page: ConversationPage) -> ConversationsPage:
        return cls(
            items=[ConversationResource.of(c, page.as_of) for c in page.items], next_cursor=page.next_cursor
        )
