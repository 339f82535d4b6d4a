"""A template definition as Twilio's Content API holds it, and back: the Content ``types`` that say what
the template is, its ``variables`` (a sample value for each), and the WhatsApp approval's category and
status in our words.

One Content type is picked for a definition, the plainest that holds all of it:

- ``twilio/text``: a body alone;
- ``twilio/media``: a body under a media header (the header's sample is the media sent);
- ``twilio/quick-reply``: a body and quick-reply buttons;
- ``twilio/call-to-action``: a body and link, phone-call or copy-code buttons;
- ``whatsapp/card``: anything else (a text header, a footer, a media header with buttons, quick replies
  beside call-to-action buttons).

Twilio numbers a template's variables across the whole template, as the definition does, so they are
written as they are; named variables Twilio does not take. Reading is the inverse: a Content resource of
another type (a list picker, an authentication template, a location…) has no definition the gateway can
read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from domain.templates.catalogue import TemplateStatus
from domain.templates.definition import (
    ButtonKind,
    HeaderFormat,
    TemplateButton,
    TemplateCategory,
    TemplateDefinition,
    TemplateHeader,
    VariableStyle,
    is_position,
)

TEXT = "twilio/text"
MEDIA = "twilio/media"
QUICK_REPLY = "twilio/quick-reply"
CALL_TO_ACTION = "twilio/call-to-action"
CARD = "whatsapp/card"

# Twilio's action types, and ours.
_ACTION_KINDS = {
    "QUICK_REPLY": ButtonKind.QUICK_REPLY,
    "URL": ButtonKind.URL,
    "PHONE_NUMBER": ButtonKind.PHONE_NUMBER,
    "COPY_CODE": ButtonKind.COPY_CODE,
}
_ACTION_TYPES = {kind: word for word, kind in _ACTION_KINDS.items()}

# WhatsApp's approval statuses as Twilio reports them. "unsubmitted" (never sent for WhatsApp's
# approval) is not here: such a Content resource is not a WhatsApp template.
_STATUSES = {
    "received": TemplateStatus.PENDING,  # Twilio has it and will submit it
    "pending": TemplateStatus.PENDING,  # WhatsApp is reviewing it
    "approved": TemplateStatus.APPROVED,
    "rejected": TemplateStatus.REJECTED,
    "paused": TemplateStatus.PAUSED,
    "disabled": TemplateStatus.DISABLED,
}
UNSUBMITTED = "unsubmitted"

# WhatsApp tells a media header's kind by its sample's file type; so does the gateway reading one back.
_VIDEO_SUFFIXES = (".mp4", ".3gp", ".3gpp", ".mov")
_DOCUMENT_SUFFIXES = (".pdf", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".txt", ".csv")


class NotForTwilio(ValueError):
    """A definition Twilio's Content API cannot hold; the message says why, in words for the user."""


# ------------------------------------------------------------------------------------------- writing


def content_request(definition: TemplateDefinition) -> dict[str, Any]:
    """The JSON body of ``POST /v1/Content`` for ``definition``; NotForTwilio if Twilio cannot hold it."""
    if definition.variable_style is VariableStyle.NAMED:
        raise NotForTwilio(
            "Twilio takes positional variables only ({{1}}, {{2}} …): number the template's variables "
            "instead of naming them"
        )
    return {
        "friendly_name": definition.name,
        "language": definition.language,
        "variables": dict(definition.examples),
        "types": {content_type_of(definition): _type_body(definition)},
    }


def approval_request(definition: TemplateDefinition) -> dict[str, str]:
    """The JSON body of ``POST /v1/Content/{sid}/ApprovalRequests/whatsapp``."""
    return {"name": definition.name, "category": definition.category.value.upper()}


def content_type_of(definition: TemplateDefinition) -> str:
    """The plainest Content type that holds all of ``definition``."""
    header = definition.header
    quick_replies = [b for b in definition.buttons if b.kind is ButtonKind.QUICK_REPLY]
    calls_to_action = [b for b in definition.buttons if b.kind is not ButtonKind.QUICK_REPLY]
    if (
        (header is not None and header.format is HeaderFormat.TEXT)
        or definition.footer
        or (quick_replies and calls_to_action)
        or (header is not None and definition.buttons)
    ):
        return CARD
    if header is not None:
        return MEDIA
    if quick_replies:
        return QUICK_REPLY
    if calls_to_action:
        return CALL_TO_ACTION
    return TEXT


def _type_body(definition: TemplateDefinition) -> dict[str, object]:
    content_type = content_type_of(definition)
    body: dict[str, object] = {"body": definition.body}
    header = definition.header
    if content_type == CARD:
        if header is not None and header.format is HeaderFormat.TEXT:
            body["header_text"] = header.text or ""
        if definition.footer:
            body["footer"] = definition.footer
    if header is not None and header.format.is_media:
        if not header.example_url:
            raise NotForTwilio("Twilio needs a sample of the media header: give the header an example_url")
        body["media"] = [header.example_url]
    if definition.buttons:
        body["actions"] = [
            _action(button, typed=content_type != QUICK_REPLY) for button in definition.buttons
        ]
    return body


def _action(button: TemplateButton, *, typed: bool) -> dict[str, object]:
    """A button as a Content action. A quick reply's id (what a tap sends back) is its text; the
    quick-reply type's actions carry no ``type``."""
    action: dict[str, object] = {"type": _ACTION_TYPES[button.kind]} if typed else {}
    if button.kind is ButtonKind.QUICK_REPLY:
        action.update(title=button.text, id=button.text)
    elif button.kind is ButtonKind.URL:
        action.update(title=button.text, url=button.url or "")
    elif button.kind is ButtonKind.PHONE_NUMBER:
        action.update(title=button.text, phone=button.phone_number or "")
    else:
        action.update(title=button.text, code=button.example or "")
    return action


# ------------------------------------------------------------------------------------------- reading


def status_of(approval: Mapping[str, Any] | None) -> TemplateStatus | None:
    """Our status for a Content resource's WhatsApp approval; None if it was never submitted (then it is
    no WhatsApp template). A status word Twilio adds later reads as pending: it was submitted, and is not
    known to be sendable."""
    word = str((approval or {}).get("status") or UNSUBMITTED).lower()
    if word == UNSUBMITTED:
        return None
    return _STATUSES.get(word, TemplateStatus.PENDING)


def definition_of(
    *, name: str, language: str, category: str, types: object, variables: object
) -> TemplateDefinition | None:
    """The definition a Content resource holds, read back as ``content_request`` wrote it; None when it
    is of a type (or in a shape) the gateway cannot read."""
    try:
        template_category = TemplateCategory(category.lower())
    except ValueError:
        return None
    if not isinstance(types, Mapping) or not isinstance(variables, Mapping) or not _is_text_map(variables):
        return None
    # A plain text may stand beside a richer type, as its fallback where the richer one cannot go.
    kinds = [kind for kind in types if kind != TEXT] or [kind for kind in types if kind == TEXT]
    if len(kinds) != 1 or not isinstance(types[kinds[0]], Mapping):
        return None
    content_type, body = kinds[0], types[kinds[0]]
    try:
        parts = _READERS[content_type](body)
    except (KeyError, TypeError, ValueError):
        return None
    header, footer, buttons = parts
    text = body.get("body")
    if not isinstance(text, str) or not text:
        return None
    examples = tuple(
        sorted(variables.items(), key=lambda item: (0, int(item[0])) if is_position(item[0]) else (1, 0))
    )
    return TemplateDefinition(
        name=name,
        language=language,
        category=template_category,
        body=text,
        header=header,
        footer=footer,
        buttons=buttons,
        examples=examples,
    )


_Parts = tuple[TemplateHeader | None, str | None, tuple[TemplateButton, ...]]


def _read_text(body: Mapping[str, Any]) -> _Parts:
    return None, None, ()


def _read_media(body: Mapping[str, Any]) -> _Parts:
    return _media_header(body.get("media")), None, ()


def _read_quick_reply(body: Mapping[str, Any]) -> _Parts:
    return None, None, _buttons(body.get("actions"), default=ButtonKind.QUICK_REPLY)


def _read_call_to_action(body: Mapping[str, Any]) -> _Parts:
    return None, None, _buttons(body.get("actions"))


def _read_card(body: Mapping[str, Any]) -> _Parts:
    header_text, media = body.get("header_text"), body.get("media")
    if header_text and media:
        raise ValueError("a card has a text header or a media header, not both")
    header = TemplateHeader(HeaderFormat.TEXT, text=_text(header_text)) if header_text else None
    if media:
        header = _media_header(media)
    footer = body.get("footer")
    return header, _text(footer) if footer else None, _buttons(body.get("actions"))


_READERS = {
    TEXT: _read_text,
    MEDIA: _read_media,
    QUICK_REPLY: _read_quick_reply,
    CALL_TO_ACTION: _read_call_to_action,
    CARD: _read_card,
}


def _media_header(media: object) -> TemplateHeader:
    if not isinstance(media, list) or len(media) != 1:
        raise ValueError("a media header is one URL")
    url = _text(media[0])
    return TemplateHeader(media_format(url), example_url=url)


def media_format(url: str) -> HeaderFormat:
    """A media header's kind by its sample's file type, as WhatsApp tells it (an image by default)."""
    path = urlsplit(url).path.lower()
    if path.endswith(_VIDEO_SUFFIXES):
        return HeaderFormat.VIDEO
    if path.endswith(_DOCUMENT_SUFFIXES):
        return HeaderFormat.DOCUMENT
    return HeaderFormat.IMAGE


def _buttons(actions: object, default: ButtonKind | None = None) -> tuple[TemplateButton, ...]:
    if actions is None:
        return ()
    if not isinstance(actions, list):
        raise TypeError("actions is a list")
    return tuple(_button(action, default) for action in actions)


def _button(action: object, default: ButtonKind | None) -> TemplateButton:
    if not isinstance(action, Mapping):
        raise TypeError("an action is an object")
    word = action.get("type")
    kind = _ACTION_KINDS[str(word)] if word is not None or default is None else default
    title = _text(action.get("title", ""))
    if kind is ButtonKind.URL:
        return TemplateButton(kind, text=title, url=_text(action["url"]))
    if kind is ButtonKind.PHONE_NUMBER:
        return TemplateButton(kind, text=title, phone_number=_text(action["phone"]))
    if kind is ButtonKind.COPY_CODE:
        return TemplateButton(kind, text=title, example=_text(action["code"]))
    return TemplateButton(kind, text=title)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a text")
    return value


def _is_text_map(value: object) -> bool:
    return isinstance(value, Mapping) and all(
        isinstance(key, str) and isinstance(item, str) for key, item in value.items()
    )
