"""A customer writing to a business number: what the inbound simulation takes, and the message object
the webhook carries for it.

The message's own object is given in Meta's shape, as the webhook will carry it — ``text={"body": ...}``,
``interactive={"type": "button_reply", "button_reply": {"id", "title"}}``, ``button={"payload",
"text"}`` (a template's quick-reply button), ``location``, ``contacts``, ``reaction`` — and the emulator
adds ``from``, ``id``, ``timestamp`` and ``type``. A media message (image, video, audio, document,
sticker) gets a media id the emulator serves (``GET /{media-id}``, then the download URL), holding
``media_content_base64`` or a few placeholder bytes; ``unsupported`` gets Meta's error 131051.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec

from emulators.meta import errors
from emulators.meta.errors import webhook_error
from emulators.meta.state import EmulatorState, Line, MediaRecord

MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
CONTENT_TYPES = ("text", *MEDIA_TYPES, "button", "interactive", "location", "contacts", "reaction")
DEFAULT_MIME_TYPES = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "audio": "audio/ogg; codecs=opus",
    "document": "application/pdf",
    "sticker": "image/webp",
}
PLACEHOLDER_BYTES = {
    "image": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "video": b"\x00\x00\x00\x18ftypmp42",
    "audio": b"OggS\x00\x02",
    "document": b"%PDF-1.4\n",
    "sticker": b"RIFF\x00\x00\x00\x00WEBPVP8 ",
}


class InboundMessage(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``POST /_emulator/inbound``: ``from`` is the customer (any number format), ``phone_number_id``
    the business number written to (may be left out when the emulator has one).

    ``type`` defaults to the one message object given (``text`` when none); ``context`` is
    ``{"id": wamid}`` for a reply to one of the business's messages (its ``from`` is filled in) or
    ``{"forwarded": true}``. ``id`` reuses a wamid (a redelivery, to test deduplication). ``url``
    posts somewhere else than the configured callback URL; ``sign_with`` signs with another secret.
    """

    from_: str = msgspec.field(name="from")
    phone_number_id: str | None = None
    profile_name: str = "WhatsApp User"
    type: str | None = None
    text: dict[str, Any] | None = None
    image: dict[str, Any] | None = None
    video: dict[str, Any] | None = None
    audio: dict[str, Any] | None = None
    document: dict[str, Any] | None = None
    sticker: dict[str, Any] | None = None
    button: dict[str, Any] | None = None
    interactive: dict[str, Any] | None = None
    location: dict[str, Any] | None = None
    contacts: list[dict[str, Any]] | None = None
    reaction: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    id: str | None = None
    timestamp: int | None = None
    media_content_base64: str | None = None
    url: str | None = None
    sign_with: str | None = None

    def kind(self) -> str:
        if self.type is not None:
            return self.type
        given = [name for name in CONTENT_TYPES if getattr(self, name) is not None]
        if len(given) > 1:
            raise ValueError(f"name the message's type: it has {', '.join(given)}")
        return given[0] if given else "text"


def message_item(message: InboundMessage, line: Line, state: EmulatorState) -> tuple[dict[str, Any], str]:
    """The ``messages[]`` object for ``message`` (its media created), and the customer's wa_id."""
    kind = message.kind()
    wa_id = state.wa_id_of(message.from_)
    if not wa_id:
        raise ValueError(f"from: {message.from_!r} is not a phone number")
    timestamp = message.timestamp if message.timestamp is not None else state.timestamp()
    item: dict[str, Any] = {}
    if message.context is not None:
        item["context"] = _context(message.context, line)
    item |= {
        "from": wa_id,
        "id": message.id or state.new_wamid(wa_id),
        "timestamp": str(timestamp),
        "type": kind,
    }
    if kind == "unsupported":
        spec = errors.CATALOGUE[errors.UNSUPPORTED_TYPE]
        item["errors"] = [webhook_error(errors.UNSUPPORTED_TYPE, spec.title, spec.details)]
    elif kind in MEDIA_TYPES:
        item[kind] = _media(kind, getattr(message, kind) or {}, message.media_content_base64, line, state)
    elif kind == "text":
        item["text"] = message.text if message.text is not None else {"body": ""}
    elif kind in CONTENT_TYPES:
        content = getattr(message, kind)
        if content is None:
            raise ValueError(f"a {kind} message needs its {kind} object")
        item[kind] = content
    else:
        raise ValueError(f"type: no inbound message type {kind!r}")
    return item, wa_id


def _context(context: dict[str, Any], line: Line) -> dict[str, Any]:
    if "id" in context and "from" not in context:
        return {"from": line.display_phone_number, **context}
    return dict(context)


def _media(
    kind: str, given: dict[str, Any], content_base64: str | None, line: Line, state: EmulatorState
) -> dict[str, Any]:
    media = state.live_media(given["id"]) if "id" in given else None
    if media is None:
        media = MediaRecord(
            id=given.get("id") or state.new_media_id(),
            phone_number_id=line.phone_number_id,
            waba_id=line.waba_id,
            mime_type=given.get("mime_type") or DEFAULT_MIME_TYPES[kind],
            content=_content(kind, content_base64, state),
            created_at=state.timestamp(),
            filename=given.get("filename"),
        )
        state.add_media(media)
    described: dict[str, Any] = {key: value for key, value in given.items() if key not in ("id", "mime_type")}
    described |= {"mime_type": media.mime_type, "sha256": media.sha256_base64, "id": media.id}
    if kind == "audio":
        described.setdefault("voice", False)
    if kind == "sticker":
        described.setdefault("animated", False)
    return described


def _content(kind: str, content_base64: str | None, state: EmulatorState) -> bytes:
    if content_base64 is None:
        return PLACEHOLDER_BYTES[kind] + state.rng.randbytes(64)
    try:
        return base64.b64decode(content_base64, validate=True)
    except binascii.Error as error:
        raise ValueError(f"media_content_base64: {error}") from error
