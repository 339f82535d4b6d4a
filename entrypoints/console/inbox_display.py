"""How the inbox shows a conversation and a message: a message's text, its delivery status as words
and a tick, its media, what is left of a session window. The pages and the live updates both show
them this way (the live updates as JSON the page's script puts in place as text)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from application.messaging.inbox_feed import MessageChange
from application.ports.messages import MessageView
from domain.messaging.content import MediaKind, MessageKind
from domain.messaging.conversations import Conversation
from domain.messaging.messages import Direction, MessageStatus
from entrypoints.console.i18n import Translate
from entrypoints.console.rendering import CONSOLE_PATH, format_moment

INBOX_PATH = f"{CONSOLE_PATH}/inbox"
CONSOLE_MEDIA_PATH = f"{CONSOLE_PATH}/media"

# A status in words (English; translated when shown) and the tick beside it.
_STATUSES: dict[MessageStatus, tuple[str, str]] = {
    MessageStatus.SCHEDULED: ("Scheduled", "🗓"),
    MessageStatus.ACCEPTED: ("Queued", "🕓"),
    MessageStatus.QUEUED: ("Queued", "🕓"),
    MessageStatus.SENDING: ("Queued", "🕓"),
    MessageStatus.SENT: ("Sent", "✓"),
    MessageStatus.DELIVERED: ("Delivered", "✓✓"),
    MessageStatus.READ: ("Read", "✓✓"),
    MessageStatus.FAILED: ("Failed", "⚠"),
    MessageStatus.UNDELIVERED: ("Not delivered", "⚠"),
    MessageStatus.RECEIVED: ("Received", ""),
    MessageStatus.CANCELED: ("Canceled", "⊘"),
}


@dataclass(frozen=True, slots=True)
class Tick:
    status: str  # the status word, for the stylesheet (sent, delivered, read, failed …)
    label: str  # English, translated when shown
    symbol: str
    failure: str | None  # why it failed, in the provider's or our words


@dataclass(frozen=True, slots=True)
class MediaPreview:
    href: str  # the console's copy of a kept file, or the URL the message was sent with
    is_image: bool  # shown as an image (a kept image only: the console loads nothing from elsewhere)
    label: str
    waiting: bool = False  # an inbound file not downloaded yet
    not_kept: str | None = None  # why the gateway gave up on the file


def tick_of(message: MessageView) -> Tick:
    label, symbol = _STATUSES[message.status]
    failure = message.failure
    why = None
    if failure is not None:
        why = failure.reason or failure.provider_message or failure.code.value
    return Tick(status=message.status.value, label=label, symbol=symbol, failure=why)


def text_of(message: MessageView) -> str:  # noqa: PLR0911 - one answer per kind reads best
    """The message's words: its body, a template's text, or what kind of message it is."""
    if message.body:
        return message.body
    content = message.content
    if content is not None and content.template is not None:
        return content.template.rendered or f"[template {content.template.label}]"
    if message.content_sid is not None:
        return f"[template {message.content_sid}]"
    if content is not None and content.location is not None:
        return f"[location] {content.location.name or content.location.address or ''}".strip()
    if content is not None and content.interactive is not None:
        return content.interactive.body
    if content is not None and content.reply is not None:
        return content.reply.title
    if message.kind is MessageKind.MEDIA:
        return ""  # its files say it
    return f"[{message.kind.value}]"


def media_of(message: MessageView) -> list[MediaPreview]:
    previews = [MediaPreview(href=url, is_image=False, label=url) for url in message.media_urls]
    for media in message.content.media if message.content is not None else ():
        label = media.filename or media.kind.value
        if media.stored_media_id is not None:
            previews.append(
                MediaPreview(
                    href=f"{CONSOLE_MEDIA_PATH}/{media.stored_media_id}",
                    is_image=media.kind is MediaKind.IMAGE,
                    label=label,
                )
            )
        elif media.url is not None:
            previews.append(MediaPreview(href=media.url, is_image=False, label=media.filename or media.url))
        else:
            previews.append(
                MediaPreview(
                    href="",
                    is_image=False,
                    label=label,
                    waiting=media.not_kept is None and message.direction is Direction.INBOUND,
                    not_kept=media.not_kept,
                )
            )
    return previews


def window_left(conversation: Conversation, now: datetime) -> tuple[int, int] | None:
    """Hours and minutes left of the conversation's session window; None once it is closed."""
    expires = conversation.window_expires_at
    if expires is None or now >= expires:
        return None
    minutes = int((expires - now).total_seconds() // 60)
    return divmod(minutes, 60)


def window_text(conversation: Conversation, now: datetime, _: Translate) -> str:
    left = window_left(conversation, now)
    if left is None:
        return _("window closed")
    return _("%(hours)s h %(minutes)s min left", hours=left[0], minutes=left[1])


def conversation_path(conversation_id: UUID) -> str:
    return f"{INBOX_PATH}/{conversation_id}"


def change_event(change: MessageChange, now: datetime, _: Translate) -> dict[str, Any]:
    """A change as the page's script receives it: every text ready to show (translated), none of it
    markup."""
    message = change.message
    tick = tick_of(message)
    event: dict[str, Any] = {
        "id": str(message.id),
        "direction": message.direction.value,
        "text": text_of(message),
        "time": format_moment(message.created_at),
        "datetime": message.created_at.isoformat(),
        "status": tick.status,
        "status_text": _(tick.label),
        "symbol": tick.symbol,
        "failure": tick.failure,
        "media": [
            {"href": item.href, "label": item.label, "is_image": item.is_image}
            for item in media_of(message)
            if item.href
        ],
        "details_href": f"{INBOX_PATH}/messages/{message.id}",
        "details_text": _("Status history"),
        "conversation": None,
    }
    conversation = change.conversation
    if conversation is not None:
        event["conversation"] = {
            "id": str(conversation.id),
            "href": conversation_path(conversation.id),
            "name": conversation.profile_name or conversation.contact.e164,
            "number": conversation.contact.e164,
            "preview": conversation.last_message_preview,
            "time": format_moment(conversation.last_message_at),
            "unread": conversation.unread_count,
            "unread_text": _("%(n)s unread", n=conversation.unread_count),
            "window": window_text(conversation, now, _),
            "last_message_id": str(conversation.last_message_id),
        }
    return event
