"""The kinds of things a WhatsApp message carries beyond text and media URLs, in one provider-neutral
shape: typed media, interactive messages, locations, contact cards, reactions, and the customer's
answers to interactive messages.

A provider adapter maps these to its own wire format and declares which it can send
(``application/ports/providers.py``); the limits here are WhatsApp's own, which every provider shares.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from domain.errors import InvalidMessage


class MessageKind(enum.StrEnum):
    """What a message is, as history shows it and as a provider declares it can send it."""

    TEXT = "text"
    MEDIA = "media"
    TEMPLATE = "template"
    INTERACTIVE = "interactive"
    LOCATION = "location"
    CONTACTS = "contacts"
    REACTION = "reaction"
    REPLY = "reply"  # inbound: the customer tapped a button or picked a list row
    UNSUPPORTED = "unsupported"  # inbound: a kind WhatsApp or the provider does not pass on


class MediaKind(enum.StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"
    STICKER = "sticker"


MAX_FILENAME_LENGTH = 240
MAX_PROVIDER_MEDIA_ID_LENGTH = 128
MAX_URL_LENGTH = 2048


def check_url(url: str, what: str) -> None:
    if not url.lower().startswith(("https://", "http://")):
        raise InvalidMessage(f"{what} {url[:80]!r} must be an absolute http(s) URL")
    if len(url) > MAX_URL_LENGTH or any(c.isspace() for c in url) or len(url) < 12:
        raise InvalidMessage(f"{what} {url[:80]!r} is not a valid URL")


def _check_text(value: str, what: str, limit: int, *, required: bool = True) -> None:
    if required and not value.strip():
        raise InvalidMessage(f"{what} is empty")
    if len(value) > limit:
        raise InvalidMessage(f"{what} is at most {limit} characters")


@dataclass(frozen=True, slots=True)
class Media:
    """One media item of a declared kind, by URL or by an id the provider gave an uploaded file.

    ``stored_media_id`` is the gateway's own copy of an inbound item (served at ``/api/media/{id}``),
    set once it is downloaded; ``not_kept`` says why the gateway gave up keeping a copy (too large, a
    type WhatsApp does not send, the provider refused it). An inbound item has neither while its
    download is pending.
    """

    kind: MediaKind
    url: str | None = None
    provider_media_id: str | None = None
    filename: str | None = None  # documents: the name the customer sees
    content_type: str | None = None
    stored_media_id: str | None = None
    not_kept: str | None = None

    def __post_init__(self) -> None:
        if (self.url is None) == (self.provider_media_id is None):
            raise InvalidMessage("a media item has either a URL or an uploaded media id, not both")
        if self.stored_media_id is not None and self.not_kept is not None:
            raise InvalidMessage("a media item is kept or not kept, not both")
        if self.url is not None:
            check_url(self.url, "media URL")
        if self.provider_media_id is not None:
            _check_text(self.provider_media_id, "the media id", MAX_PROVIDER_MEDIA_ID_LENGTH)
        if self.filename is not None:
            if self.kind is not MediaKind.DOCUMENT:
                raise InvalidMessage("only a document has a filename")
            _check_text(self.filename, "the filename", MAX_FILENAME_LENGTH)


# The media types WhatsApp sends and receives (its Cloud API's list; Twilio passes on the same ones, and
# a shared contact as a vCard): the one allow-list of what the gateway keeps of inbound media, and so of
# what it ever serves back. Parameters (``audio/ogg; codecs=opus``) do not count.
WHATSAPP_MEDIA_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/webp",  # stickers
        "video/mp4",
        "video/3gpp",
        "audio/aac",
        "audio/amr",
        "audio/mpeg",
        "audio/mp4",
        "audio/ogg",
        "text/plain",
        "text/vcard",
        "application/pdf",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)


def media_type_of(content_type: str) -> str:
    """The bare media type of a Content-Type value: lower case, without its parameters."""
    return content_type.split(";", 1)[0].strip().lower()


def is_whatsapp_media_type(content_type: str) -> bool:
    """Whether WhatsApp sends media of ``content_type`` (see ``WHATSAPP_MEDIA_TYPES``)."""
    return media_type_of(content_type) in WHATSAPP_MEDIA_TYPES


MAX_REPLY_BUTTONS = 3
MAX_BUTTON_TITLE_LENGTH = 20
MAX_LIST_ROWS = 10
MAX_LIST_SECTIONS = 10
MAX_ROW_TITLE_LENGTH = 24
MAX_ROW_DESCRIPTION_LENGTH = 72
MAX_CHOICE_ID_LENGTH = 200
MAX_INTERACTIVE_BODY_LENGTH = 1024
MAX_HEADER_LENGTH = 60
MAX_FOOTER_LENGTH = 60


class InteractiveKind(enum.StrEnum):
    BUTTONS = "buttons"  # up to three reply buttons
    LIST = "list"  # a menu of rows in sections, opened by one button
    CTA_URL = "cta_url"  # one button that opens a URL


@dataclass(frozen=True, slots=True)
class Choice:
    """A reply button or a list row: ``id`` comes back when the customer picks it."""

    id: str
    title: str
    description: str | None = None  # list rows only


@dataclass(frozen=True, slots=True)
class ListSection:
    title: str
    rows: tuple[Choice, ...]


@dataclass(frozen=True, slots=True)
class Interactive:
    """A message with buttons, a list, or a call-to-action URL; the text is ``body``."""

    kind: InteractiveKind
    body: str
    header: str | None = None
    footer: str | None = None
    buttons: tuple[Choice, ...] = ()
    button_label: str | None = None  # the list's opening button, or the URL button's label
    sections: tuple[ListSection, ...] = ()
    url: str | None = None

    def __post_init__(self) -> None:
        _check_text(self.body, "the interactive message's body", MAX_INTERACTIVE_BODY_LENGTH)
        if self.header is not None:
            _check_text(self.header, "the header", MAX_HEADER_LENGTH)
        if self.footer is not None:
            _check_text(self.footer, "the footer", MAX_FOOTER_LENGTH)
        if self.kind is InteractiveKind.BUTTONS:
            self._check_buttons()
        elif self.kind is InteractiveKind.LIST:
            self._check_list()
        else:
            if self.url is None or self.button_label is None:
                raise InvalidMessage("a call-to-action message needs a url and a button_label")
            check_url(self.url, "the call-to-action URL")
            _check_text(self.button_label, "the button label", MAX_BUTTON_TITLE_LENGTH)
            if self.buttons or self.sections:
                raise InvalidMessage("a call-to-action message has one URL button: no buttons or sections")

    def _check_buttons(self) -> None:
        if not 1 <= len(self.buttons) <= MAX_REPLY_BUTTONS:
            raise InvalidMessage(f"a buttons message has 1 to {MAX_REPLY_BUTTONS} buttons")
        if self.sections or self.url:
            raise InvalidMessage("a buttons message has no sections or url")
        _check_choices(self.buttons, MAX_BUTTON_TITLE_LENGTH, with_description=False)

    def _check_list(self) -> None:
        if self.button_label is None:
            raise InvalidMessage("a list message needs a button_label (the button that opens it)")
        _check_text(self.button_label, "the button label", MAX_BUTTON_TITLE_LENGTH)
        if not 1 <= len(self.sections) <= MAX_LIST_SECTIONS:
            raise InvalidMessage(f"a list has 1 to {MAX_LIST_SECTIONS} sections")
        rows = [row for section in self.sections for row in section.rows]
        if not 1 <= len(rows) <= MAX_LIST_ROWS:
            raise InvalidMessage(f"a list has 1 to {MAX_LIST_ROWS} rows in all")
        if self.buttons or self.url:
            raise InvalidMessage("a list message has no buttons or url")
        for section in self.sections:
            if not section.rows:
                raise InvalidMessage("every section of a list has rows")
            if len(self.sections) > 1 or section.title:
                _check_text(section.title, "a section title", MAX_ROW_TITLE_LENGTH)
        _check_choices(tuple(rows), MAX_ROW_TITLE_LENGTH, with_description=True)


def _check_choices(choices: tuple[Choice, ...], title_limit: int, *, with_description: bool) -> None:
    if len({choice.id for choice in choices}) != len(choices):
        raise InvalidMessage("every button or row has its own id")
    for choice in choices:
        _check_text(choice.id, "a button or row id", MAX_CHOICE_ID_LENGTH)
        _check_text(choice.title, "a button or row title", title_limit)
        if choice.description is not None:
            if not with_description:
                raise InvalidMessage("reply buttons have no description")
            _check_text(choice.description, "a row description", MAX_ROW_DESCRIPTION_LENGTH)


MAX_LOCATION_TEXT_LENGTH = 1000


@dataclass(frozen=True, slots=True)
class Location:
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.latitude) and -90 <= self.latitude <= 90):
            raise InvalidMessage("latitude is between -90 and 90")
        if not (math.isfinite(self.longitude) and -180 <= self.longitude <= 180):
            raise InvalidMessage("longitude is between -180 and 180")
        for text, what in ((self.name, "the location's name"), (self.address, "the location's address")):
            if text is not None:
                _check_text(text, what, MAX_LOCATION_TEXT_LENGTH)


MAX_CONTACT_CARDS = 10
MAX_CARD_ITEMS = 10
MAX_CARD_TEXT_LENGTH = 256


@dataclass(frozen=True, slots=True)
class ContactCard:
    """A person's card, as WhatsApp shares it: a name, phone numbers, emails, an organization."""

    name: str
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    organization: str | None = None

    def __post_init__(self) -> None:
        _check_text(self.name, "a contact card's name", MAX_CARD_TEXT_LENGTH)
        if len(self.phones) > MAX_CARD_ITEMS or len(self.emails) > MAX_CARD_ITEMS:
            raise InvalidMessage(
                f"a contact card has at most {MAX_CARD_ITEMS} phones and {MAX_CARD_ITEMS} emails"
            )
        for item in (*self.phones, *self.emails):
            _check_text(item, "a contact card's phone or email", MAX_CARD_TEXT_LENGTH)
        if self.organization is not None:
            _check_text(self.organization, "a contact card's organization", MAX_CARD_TEXT_LENGTH)


MAX_EMOJI_LENGTH = 16


@dataclass(frozen=True, slots=True)
class Reaction:
    """An emoji on an earlier message (``emoji`` empty: the reaction is taken back).

    ``provider_message_id`` is the provider's id of the message reacted to (its wamid on Meta).
    """

    provider_message_id: str
    emoji: str

    def __post_init__(self) -> None:
        _check_text(
            self.provider_message_id, "the id of the message reacted to", MAX_PROVIDER_MEDIA_ID_LENGTH
        )
        _check_text(self.emoji, "the emoji", MAX_EMOJI_LENGTH, required=False)
