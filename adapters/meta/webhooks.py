"""Meta's webhook deliveries read into our commands: messages customers sent (``InboundMessage``) and
status reports on messages we sent (``StatusReport``), per phone number.

Read only a delivery whose signature was verified (``signature.py``). One delivery batches entries
(one per WhatsApp Business Account) of changes; a ``messages`` change holds one phone number's
messages, statuses and contacts, named by ``value.metadata.phone_number_id``, so each change is
returned on its own for the caller to route. A change of another field (template status updates,
quality updates …) is returned as it came, for whoever handles it later.

What is wrong with the delivery as a whole (not JSON, not WhatsApp's, no list of entries) is
``InvalidInput`` (the HTTP API answers 422). An entry or change that cannot be read (a messages change
without its phone number, say) is left out and logged, and a single message or status that cannot be
read is left out with the reason in ``MetaChange.skipped``; the rest of the delivery is kept: Meta
retries a refused delivery for days, and one odd item must not hold back the others.
Meta may deliver the same thing twice: repeats within a delivery are dropped here, repeats across
deliveries carry the same ``provider_message_id`` (the wamid) for the use case to recognise.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard
from uuid import UUID

from adapters.meta.errors import failure_code_for, readable_reason
from adapters.meta.statuses import reported_status
from application.errors import InvalidInput
from application.inbound.commands import InboundMessage, StatusReport
from domain.errors import InvalidMessage, InvalidPhoneNumber
from domain.messaging.content import (
    MAX_CARD_ITEMS,
    MAX_CARD_TEXT_LENGTH,
    MAX_CHOICE_ID_LENGTH,
    MAX_CONTACT_CARDS,
    MAX_EMOJI_LENGTH,
    MAX_FILENAME_LENGTH,
    MAX_LOCATION_TEXT_LENGTH,
    MAX_PROVIDER_MEDIA_ID_LENGTH,
    Choice,
    ContactCard,
    Location,
    Media,
    MediaKind,
    Reaction,
)
from domain.messaging.messages import MAX_BODY_LENGTH, MessageContent
from domain.phone import PhoneNumber

logger = logging.getLogger(__name__)

WHATSAPP_OBJECT = "whatsapp_business_account"
MESSAGES_FIELD = "messages"

_WAMID = re.compile(r"[\x21-\x7e]{1,256}")
_WA_ID = re.compile(r"[0-9]{1,32}")
_META_ID = re.compile(r"[0-9]{1,32}")
_MAX_PROFILE_NAME = 256
_MAX_KIND_WORD = 40
_MAX_REPORTED = 64
_MAX_SKIPPED = 50
_MAX_TITLE_LENGTH = 256
_MAX_CONTENT_TYPE = 255
_REPLACEMENT = "\ufffd"

JsonObject = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class MetaChange:
    """One ``messages`` change: what happened at one of the business's phone numbers.

    ``skipped`` says, for the log, which items could not be read and why (and any errors Meta
    reported on the change itself); the others are in ``inbound`` and ``statuses``.
    """

    business_account_id: str
    phone_number_id: str
    display_phone_number: str
    inbound: tuple[InboundMessage, ...] = ()
    statuses: tuple[StatusReport, ...] = ()
    skipped: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MetaOtherChange:
    """A change of a field other than ``messages`` (``message_template_status_update``,
    ``phone_number_quality_update`` …), kept as it came."""

    business_account_id: str
    field: str
    value: JsonObject


@dataclass(frozen=True, slots=True)
class MetaDelivery:
    changes: tuple[MetaChange, ...] = ()
    other_changes: tuple[MetaOtherChange, ...] = ()


def parse_delivery(body: bytes) -> MetaDelivery:
    """Read a verified webhook body; InvalidInput when it is not a delivery of WhatsApp's form."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise InvalidInput("the webhook body is not JSON (or nested deeper than JSON parsers go)") from error
    if not isinstance(document, dict) or document.get("object") != WHATSAPP_OBJECT:
        raise InvalidInput(f"the webhook body is not a delivery for object {WHATSAPP_OBJECT!r}")
    entries = document.get("entry")
    if not isinstance(entries, list):
        raise InvalidInput("the webhook body has no list of entries")
    changes: list[MetaChange] = []
    others: list[MetaOtherChange] = []
    seen_messages: set[str] = set()
    seen_statuses: set[tuple[str, str]] = set()
    # A malformed entry or change is left out (and logged), not the delivery: Meta would deliver the
    # whole batch again for days, the good changes with it.
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("changes"), list):
            logger.warning("Meta webhook: an entry without a list of changes left out")
            continue
        account_id = entry.get("id")
        account_id = account_id if isinstance(account_id, str) else ""
        for change in entry["changes"]:
            if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
                logger.warning("Meta webhook: a change without a value object left out")
                continue
            field_name = change.get("field")
            if not isinstance(field_name, str) or not field_name:
                logger.warning("Meta webhook: a change naming no field left out")
                continue
            if field_name != MESSAGES_FIELD:
                others.append(MetaOtherChange(account_id, field_name[:_MAX_TITLE_LENGTH], change["value"]))
                continue
            try:
                changes.append(_messages_change(account_id, change["value"], seen_messages, seen_statuses))
            except InvalidInput as error:
                logger.warning("Meta webhook: a messages change left out: %s", error)
    return MetaDelivery(changes=tuple(changes), other_changes=tuple(others))


def subscription_challenge(query: Mapping[str, str], verify_token: str) -> str | None:
    """The ``hub.challenge`` to echo for Meta's subscription handshake (``GET`` with ``hub.mode=
    subscribe`` and ``hub.verify_token``) when the token is ``verify_token``; None otherwise."""
    challenge = query.get("hub.challenge")
    given = query.get("hub.verify_token", "")
    if query.get("hub.mode") != "subscribe" or not challenge or not verify_token:
        return None
    if not hmac.compare_digest(given.encode(), verify_token.encode()):
        return None
    return challenge


# -- one change ------------------------------------------------------------------------------------


def _messages_change(
    account_id: str, value: JsonObject, seen_messages: set[str], seen_statuses: set[tuple[str, str]]
) -> MetaChange:
    metadata = value.get("metadata")
    if not isinstance(metadata, dict):
        raise InvalidInput("a messages change has no metadata")
    number_id, display = metadata.get("phone_number_id"), metadata.get("display_phone_number")
    if not isinstance(number_id, str) or not _META_ID.fullmatch(number_id):
        raise InvalidInput("a messages change has no phone_number_id of Meta's form")
    display = display if isinstance(display, str) else ""
    skipped: list[str] = [f"Meta reported: {problem}" for problem in _errors_of(value.get("errors"))]
    inbound: list[InboundMessage] = []
    statuses: list[StatusReport] = []
    profiles = _profiles(value.get("contacts"))
    for item in _list(value.get("messages")):
        try:
            message = _inbound(item, display, profiles)
        except (InvalidInput, InvalidMessage, InvalidPhoneNumber) as error:
            skipped.append(f"message {_id_for_log(item)}: {error}")
            continue
        if message.provider_message_id not in seen_messages:
            seen_messages.add(message.provider_message_id)
            inbound.append(message)
    for item in _list(value.get("statuses")):
        try:
            report = _status(item)
        except InvalidInput as error:
            skipped.append(f"status {_id_for_log(item)}: {error}")
            continue
        key = (report.provider_message_id, report.reported)
        if key not in seen_statuses:
            seen_statuses.add(key)
            statuses.append(report)
    return MetaChange(
        business_account_id=account_id,
        phone_number_id=number_id,
        display_phone_number=display,
        inbound=tuple(inbound),
        statuses=tuple(statuses),
        skipped=tuple(skipped[:_MAX_SKIPPED]),
    )


def _profiles(contacts: object) -> dict[str, str]:
    """Each customer's WhatsApp profile name by wa_id, from the change's ``contacts``."""
    names: dict[str, str] = {}
    for contact in _list(contacts):
        wa_id, profile = contact.get("wa_id"), contact.get("profile")
        name = profile.get("name") if isinstance(profile, dict) else None
        if isinstance(wa_id, str) and isinstance(name, str) and name.strip():
            names[wa_id] = clean(name).strip()[:_MAX_PROFILE_NAME]
    return names


# -- a status --------------------------------------------------------------------------------------


def _status(item: JsonObject) -> StatusReport:
    wamid = _wamid(item.get("id"))
    reported = item.get("status")
    if not isinstance(reported, str) or not reported:
        raise InvalidInput("a status has no status word")
    errors = _list(item.get("errors"))
    error_code, error_message, meta_words = None, None, None
    if errors:
        first = errors[0]
        code = first.get("code")
        error_code = code if isinstance(code, int) and not isinstance(code, bool) else None
        meta_words = _meta_words(first)
        error_message = readable_reason(error_code, meta_words)
    pricing = item.get("pricing")
    category = pricing.get("category") if isinstance(pricing, dict) else None
    return StatusReport(
        provider_message_id=wamid,
        status=reported_status(reported),
        reported=reported[:_MAX_REPORTED],
        error_code=error_code,
        error_message=error_message,
        message_id=_our_message_id(item.get("biz_opaque_callback_data")),
        pricing_category=category[:_MAX_REPORTED] if isinstance(category, str) and category else None,
        failure_code=failure_code_for(error_code),
        provider_error_message=meta_words,
    )


def _our_message_id(value: object) -> UUID | None:
    """The message id the provider adapter sends as ``biz_opaque_callback_data``, if it is one."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return UUID(value)
    except ValueError:
        return None


def _meta_words(error: JsonObject) -> str | None:
    data = error.get("error_data")
    details = data.get("details") if isinstance(data, dict) else None
    for words in (details, error.get("message"), error.get("title")):
        if isinstance(words, str) and words.strip():
            return clean(words).strip()[:1000]
    return None


def _errors_of(errors: object) -> list[str]:
    problems = []
    for error in _list(errors):
        code, words = error.get("code"), _meta_words(error)
        problems.append(f"error {code}: {words}" if words else f"error {code}")
    return problems


# -- an inbound message ----------------------------------------------------------------------------


def _inbound(item: JsonObject, display_phone_number: str, profiles: Mapping[str, str]) -> InboundMessage:
    wamid = _wamid(item.get("id"))
    customer = item.get("from")
    if not isinstance(customer, str) or not _WA_ID.fullmatch(customer):
        raise InvalidInput("the message has no 'from' of WhatsApp's form")
    return InboundMessage(
        provider_message_id=wamid,
        sender=_our_number(display_phone_number),
        contact=PhoneNumber.parse(f"+{customer}"),
        content=_content(item),
        profile_name=profiles.get(customer),
        wa_id=customer,
    )


def _our_number(display_phone_number: str) -> PhoneNumber:
    """Our number as the change's metadata shows it (``15550783881``, or formatted ``+1 555-078-3881``)."""
    digits = "".join(character for character in display_phone_number if character.isdigit())
    if not digits:
        raise InvalidInput("the change's display_phone_number has no digits")
    return PhoneNumber.parse(f"+{digits}")


def _content(item: JsonObject) -> MessageContent:
    kind = item.get("type")
    kind = kind if isinstance(kind, str) and kind else "unknown"
    reply_to = _reply_to(item.get("context"))
    payload = item.get(kind)
    payload = payload if isinstance(payload, dict) else {}
    reader = _CONTENT_READERS.get(kind)
    content = reader(kind, item, payload, reply_to) if reader is not None else None
    if content is not None:
        return content
    if kind == "interactive":  # a kind of answer we do not read (a Flow's, say): which one, kept
        kind = f"interactive/{_kind_word(payload.get('type'))}"
    return MessageContent(
        body=_unsupported_text(item, payload), unsupported=_kind_word(kind), reply_to=reply_to
    )


# Each reader gives the message's content, or None when it is not of the form its kind has (the
# message is then kept as unsupported).
ContentReader = Callable[[str, JsonObject, JsonObject, str | None], MessageContent | None]


def _text_content(
    kind: str, item: JsonObject, payload: JsonObject, reply_to: str | None
) -> MessageContent | None:
    body = _string(payload.get("body"))
    return MessageContent(body=_body(body), reply_to=reply_to) if body and body.strip() else None


def _media_content(
    kind: str, item: JsonObject, payload: JsonObject, reply_to: str | None
) -> MessageContent | None:
    media = _media(MediaKind(kind), payload)
    if media is None:
        return None
    caption = _string(payload.get("caption")) or ""
    return MessageContent(body=_body(caption), media=(media,), reply_to=reply_to)


def _interactive_content(
    kind: str, item: JsonObject, payload: JsonObject, reply_to: str | None
) -> MessageContent | None:
    choice = _interactive_choice(payload)
    return MessageContent(body=choice.title, reply=choice, reply_to=reply_to) if choice else None


def _button_content(
    kind: str, item: JsonObject, payload: JsonObject, reply_to: str | None
) -> MessageContent | None:
    # A template's quick-reply button: its payload is what the template defined, its text the label.
    choice = _choice(payload.get("payload"), payload.get("text"))
    return MessageContent(body=choice.title, reply=choice, reply_to=reply_to) if choice else None


def _location_content(
    kind: str, item: JsonObject, payload: JsonObject, reply_to: str | None
) -> MessageContent | None:
    location = _location(payload)
    return MessageContent(location=location, reply_to=reply_to) if location else None


def _contacts_content(
    kind: str, item: JsonObject, payload: JsonObject, reply_to: str | None
) -> MessageContent | None:
    cards = _cards(item.get("contacts"))  # the cards are a list beside "type", not an object
    return MessageContent(contacts=cards, reply_to=reply_to) if cards else None


def _reaction_content(
    kind: str, item: JsonObject, payload: JsonObject, reply_to: str | None
) -> MessageContent | None:
    reaction = _reaction(payload)
    return MessageContent(reaction=reaction) if reaction else None


_CONTENT_READERS: dict[str, ContentReader] = {
    "text": _text_content,
    **{kind.value: _media_content for kind in MediaKind},
    "interactive": _interactive_content,
    "button": _button_content,
    "location": _location_content,
    "contacts": _contacts_content,
    "reaction": _reaction_content,
}


def _unsupported_text(item: JsonObject, payload: JsonObject) -> str:
    """What Meta says of a message it does not pass on (a system message's text, an error's words)."""
    text = _string(payload.get("body"))
    if text and text.strip():
        return _body(text)
    errors = _list(item.get("errors"))
    words = _meta_words(errors[0]) if errors else None
    return _body(words or "")


def _media(kind: MediaKind, payload: JsonObject) -> Media | None:
    media_id = _string(payload.get("id"))
    if not media_id or len(media_id) > MAX_PROVIDER_MEDIA_ID_LENGTH or not media_id.strip():
        return None
    mime_type = _string(payload.get("mime_type"))
    filename = _string(payload.get("filename")) if kind is MediaKind.DOCUMENT else None
    return Media(
        kind=kind,
        provider_media_id=media_id.strip(),
        content_type=mime_type.strip()[:_MAX_CONTENT_TYPE] if mime_type and mime_type.strip() else None,
        filename=filename.strip()[:MAX_FILENAME_LENGTH] if filename and filename.strip() else None,
    )


def _interactive_choice(payload: JsonObject) -> Choice | None:
    kind = payload.get("type")
    if kind not in ("button_reply", "list_reply"):
        return None
    picked = payload.get(kind)
    if not isinstance(picked, dict):
        return None
    description = _string(picked.get("description")) if kind == "list_reply" else None
    return _choice(picked.get("id"), picked.get("title"), description)


def _choice(choice_id: object, title: object, description: str | None = None) -> Choice | None:
    text = _string(title)
    picked = _string(choice_id) or text
    if not text or not text.strip() or not picked:
        return None
    return Choice(
        id=picked[:MAX_CHOICE_ID_LENGTH],
        title=text[:_MAX_TITLE_LENGTH],
        description=description[:_MAX_TITLE_LENGTH] if description and description.strip() else None,
    )


def _location(payload: JsonObject) -> Location | None:
    latitude, longitude = payload.get("latitude"), payload.get("longitude")
    if not _is_number(latitude) or not _is_number(longitude):
        return None
    try:
        return Location(
            latitude=float(latitude),
            longitude=float(longitude),
            name=_optional_text(payload.get("name"), MAX_LOCATION_TEXT_LENGTH),
            address=_optional_text(payload.get("address"), MAX_LOCATION_TEXT_LENGTH),
        )
    except InvalidMessage:
        return None


def _cards(contacts: object) -> tuple[ContactCard, ...]:
    cards = []
    for contact in _list(contacts)[:MAX_CONTACT_CARDS]:
        name_part = contact.get("name")
        name = (
            _optional_text(name_part.get("formatted_name"), MAX_CARD_TEXT_LENGTH)
            if isinstance(name_part, dict)
            else None
        )
        phones = tuple(
            text
            for phone in _list(contact.get("phones"))[:MAX_CARD_ITEMS]
            if (text := _optional_text(phone.get("phone") or phone.get("wa_id"), MAX_CARD_TEXT_LENGTH))
        )
        emails = tuple(
            text
            for email in _list(contact.get("emails"))[:MAX_CARD_ITEMS]
            if (text := _optional_text(email.get("email"), MAX_CARD_TEXT_LENGTH))
        )
        org = contact.get("org")
        company = _optional_text(org.get("company"), MAX_CARD_TEXT_LENGTH) if isinstance(org, dict) else None
        name = name or (phones[0] if phones else None) or (emails[0] if emails else None)
        if name is not None:
            cards.append(ContactCard(name=name, phones=phones, emails=emails, organization=company))
    return tuple(cards)


def _reaction(payload: JsonObject) -> Reaction | None:
    message_id = _string(payload.get("message_id"))
    if not message_id or not message_id.strip() or len(message_id) > MAX_PROVIDER_MEDIA_ID_LENGTH:
        return None
    emoji = _string(payload.get("emoji")) or ""  # absent: the customer took the reaction back
    return Reaction(provider_message_id=message_id, emoji=emoji[:MAX_EMOJI_LENGTH])


def _reply_to(context: object) -> str | None:
    """The wamid of the message the customer answered (``context.id``), if any."""
    if not isinstance(context, dict):
        return None
    answered = context.get("id")
    return answered if isinstance(answered, str) and _WAMID.fullmatch(answered) else None


# -- small readers ---------------------------------------------------------------------------------


def clean(text: str) -> str:
    """Text as the database can keep it: PostgreSQL's text cannot hold U+0000, so it is replaced."""
    return text.replace("\x00", _REPLACEMENT)


def _body(text: str) -> str:
    """A body as a message keeps it: WhatsApp takes 4096 characters, a message here holds
    MAX_BODY_LENGTH; the rest is cut off, marked, rather than the customer's message lost."""
    if len(text) <= MAX_BODY_LENGTH:
        return text
    return text[: MAX_BODY_LENGTH - 1] + "\u2026"


def _string(value: object) -> str | None:
    return clean(value) if isinstance(value, str) else None


def _optional_text(value: object, limit: int) -> str | None:
    text = _string(value)
    return text.strip()[:limit] if text and text.strip() else None


def _wamid(value: object) -> str:
    if not isinstance(value, str) or not _WAMID.fullmatch(value):
        raise InvalidInput("it has no message id (wamid) of Meta's form")
    return value


def _kind_word(value: object) -> str:
    if not isinstance(value, str) or not value:
        return "unknown"
    return clean(value)[:_MAX_KIND_WORD]


def _is_number(value: object) -> TypeGuard[int | float]:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def _list(value: object) -> list[JsonObject]:
    """The objects of a JSON list (anything else in it is left out); empty for a missing list."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _id_for_log(item: JsonObject) -> str:
    value = item.get("id")
    return repr(value[:80]) if isinstance(value, str) else "without an id"
