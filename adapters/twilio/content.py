"""Message content in Twilio's terms: which kinds its Messages API sends and the fields it sends them
with, and the content of an inbound message as Twilio's callback reports it.

Twilio's Messages API sends text, media by URL, Content templates (by Content SID) and a location (the
``PersistentAction`` ``geo:`` URI beside a body). Interactive messages, contact cards and the like it
sends only as Content templates created beforehand; reactions and replies to a given message not at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from adapters.twilio.form import SignedForm
from domain.errors import InvalidMessage
from domain.messaging.content import (
    MAX_CHOICE_ID_LENGTH,
    MAX_LOCATION_TEXT_LENGTH,
    Choice,
    Location,
    Media,
    MediaKind,
)
from domain.messaging.messages import MAX_MEDIA_ITEMS, MessageContent

# ----------------------------------------------------------------------------------------- sending


def unsupported_by_twilio(content: MessageContent) -> str | None:
    """Why Twilio's Messages API cannot send ``content``, and what to send instead; None if it can."""
    template = content.template
    refusals = (
        (
            template is not None and template.content_sid is None,
            "Twilio sends approved templates by their Content SID: send content_sid (and "
            "content_variables) instead of a template by name and language",
        ),
        (
            content.interactive is not None,
            "Twilio sends interactive messages (buttons, lists, call-to-action URLs) only as Content "
            "templates: create one in Twilio's Content Template Builder and send its content_sid",
        ),
        (
            bool(content.contacts),
            "Twilio cannot send contact cards: send the card as a vCard file (a media URL) instead",
        ),
        (content.reaction is not None, "Twilio's Messages API cannot send reactions"),
        (
            content.reply is not None or content.unsupported is not None,
            "a reply to a button or an unsupported kind is what a customer sends, not a business",
        ),
        (
            any(item.url is None for item in content.media),
            "Twilio sends media by URL: give each media item a url instead of an uploaded media id",
        ),
        (
            content.reply_to is not None,
            "Twilio cannot send a message as the reply to another one: leave out reply_to",
        ),
    )
    return next((reason for refused, reason in refusals if refused), None)


@dataclass(frozen=True, slots=True)
class TwilioMessageFields:
    """The fields of a Messages API create that carry the content ("" and empty: not sent)."""

    body: str
    media_urls: list[str]
    persistent_action: list[str]


def twilio_fields(content: MessageContent) -> TwilioMessageFields:
    """``content`` (one Twilio can send) as the Messages API takes it. A template's SID and values are
    sent as they are."""
    media_urls = [*content.media_urls, *(item.url for item in content.media if item.url is not None)]
    location = content.location
    if location is None:
        return TwilioMessageFields(body=content.body, media_urls=media_urls, persistent_action=[])
    # The body names the place (Twilio needs one); the label under the pin is its address.
    point = f"{_degrees(location.latitude)},{_degrees(location.longitude)}"
    # "|" ends the point in Twilio's geo URI: it cannot be part of the label.
    label = " ".join((location.address or location.name or "").replace("|", " ").split())
    return TwilioMessageFields(
        body=location.name or location.address or point,
        media_urls=media_urls,
        persistent_action=[f"geo:{point}|{label}" if label else f"geo:{point}"],
    )


def _degrees(value: float) -> str:
    """A coordinate in plain decimal notation (never 1e-05), to the centimetre."""
    return f"{value:.7f}".rstrip("0").rstrip(".")


# ----------------------------------------------------------------------------------------- receiving

_MAX_CONTENT_TYPE = 255
_MAX_KIND_WORD = 40
_MESSAGE_SID_LENGTH = 34


def inbound_content(form: SignedForm) -> MessageContent:
    """The content of an incoming message: a location, a tap on a button or a list row, text with typed
    media, or, when the callback has none of these, the kind Twilio names in ``MessageType``.

    What cannot be read (a coordinate out of range, say) is not the customer's fault: the message is kept
    as of an unsupported kind rather than refused.
    """
    reply_to = _replied_message(form)
    location = _location(form)
    if location is not None:
        return MessageContent(location=location, reply_to=reply_to)
    choice = _choice(form)
    if choice is not None:
        return MessageContent(body=form.field("Body"), reply=choice, reply_to=reply_to)
    body = form.field("Body")
    media = _media(form)
    if body.strip() or media:
        return MessageContent(body=body, media=media, reply_to=reply_to)
    return MessageContent(unsupported=_kind_word(form) or "unknown", reply_to=reply_to)


def _location(form: SignedForm) -> Location | None:
    latitude, longitude = _coordinate(form.field("Latitude")), _coordinate(form.field("Longitude"))
    if latitude is None or longitude is None:
        return None
    try:
        return Location(
            latitude=latitude,
            longitude=longitude,
            name=form.field("Label").strip()[:MAX_LOCATION_TEXT_LENGTH] or None,
            address=form.field("Address").strip()[:MAX_LOCATION_TEXT_LENGTH] or None,
        )
    except InvalidMessage:
        return None


def _coordinate(value: str) -> float | None:
    try:
        number = float(value) if value and len(value) <= 32 else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


def _choice(form: SignedForm) -> Choice | None:
    """A tap on a quick-reply button (``ButtonPayload``/``ButtonText``) or on a list row
    (``ListId``/``ListTitle``): the id the business gave it, and what the customer saw."""
    for id_field, title_field in (("ButtonPayload", "ButtonText"), ("ListId", "ListTitle")):
        choice_id = form.field(id_field).strip()[:MAX_CHOICE_ID_LENGTH]
        if choice_id:
            title = form.field(title_field).strip() or form.field("Body").strip() or choice_id
            return Choice(id=choice_id, title=title[:MAX_CHOICE_ID_LENGTH])
    return None


def _media(form: SignedForm) -> tuple[Media, ...]:
    count = form.field("NumMedia")
    stickers = form.field("MessageType").lower() == "sticker"
    items = []
    # WhatsApp sends one media item a message; more than a message may carry are not read.
    for index in range(min(int(count), MAX_MEDIA_ITEMS) if count.isdigit() and len(count) <= 2 else 0):
        url = form.field(f"MediaUrl{index}")
        content_type = form.field(f"MediaContentType{index}").strip().lower()[:_MAX_CONTENT_TYPE]
        if not url:
            continue
        kind = MediaKind.STICKER if stickers else _media_kind(content_type)
        try:
            items.append(Media(kind=kind, url=url, content_type=content_type or None))
        except InvalidMessage:
            continue  # not a URL anyone could fetch: nothing of it can be kept
    return tuple(items)


def _media_kind(content_type: str) -> MediaKind:
    family = content_type.split("/", 1)[0]
    return {"image": MediaKind.IMAGE, "video": MediaKind.VIDEO, "audio": MediaKind.AUDIO}.get(
        family, MediaKind.DOCUMENT
    )


def _replied_message(form: SignedForm) -> str | None:
    """The message the customer answered (swiped to reply to), by Twilio's SID."""
    sid = form.field("OriginalRepliedMessageSid")
    return sid if len(sid) == _MESSAGE_SID_LENGTH and sid.isalnum() and sid.isascii() else None


def _kind_word(form: SignedForm) -> str:
    return "".join(c for c in form.field("MessageType").lower() if c.isalnum() or c in "_-")[:_MAX_KIND_WORD]
