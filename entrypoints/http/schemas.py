"""What goes over the wire: msgspec Structs decoded and encoded at the edge only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from application.use_cases.history import HistoryPage
from domain.messages import MAX_BODY_LENGTH, MAX_MEDIA_ITEMS, Direction, Message, MessageStatus


class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class TokenResponse(msgspec.Struct):
    access_token: str
    expires_in: int
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the token type, not a secret


MediaUrl = Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]


class SendMessageRequest(msgspec.Struct, forbid_unknown_fields=True):
    to_number: Annotated[
        str, msgspec.Meta(min_length=1, max_length=64, examples=["+14155550123", "whatsapp:+14155550123"])
    ]
    body: Annotated[str, msgspec.Meta(max_length=MAX_BODY_LENGTH, examples=["Your order has shipped"])] = ""
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
            str,
            msgspec.Meta(
                min_length=1,
                max_length=64,
                examples=["+14155238886"],
                description="One of the tenant's senders; the default sender when omitted",
            ),
        ]
        | None
    ) = None

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
    provider_sid: str | None
    error_code: int | None
    error_message: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, message: Message) -> MessageResource:
        return cls(
            id=message.id,
            direction=message.direction,
            status=message.status,
            from_number=message.from_number.e164,
            to_number=message.to_number.e164,
            body=message.content.body,
            media_urls=list(message.content.media_urls),
            provider_sid=message.provider_sid,
            error_code=message.error_code,
            error_message=message.error_message,
            created_at=message.created_at,
            updated_at=message.updated_at,
        )


class MessagePage(msgspec.Struct):
    items: list[MessageResource]
    next_cursor: str | None

    @classmethod
    def of(cls, page: HistoryPage) -> MessagePage:
        return cls(items=[MessageResource.of(m) for m in page.items], next_cursor=page.next_cursor)


class HealthStatus(msgspec.Struct):
    status: Literal["ok"] = "ok"
