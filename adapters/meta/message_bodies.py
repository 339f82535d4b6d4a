"""The body of ``POST /{version}/{phone-number-id}/messages`` for each kind of message we send, and what
Meta cannot take.

One message is one WhatsApp message: text (with a link preview or not), one media item (by link or by
the id of an uploaded file, captioned by the body where WhatsApp allows a caption), a template by name
and language (each component's parameters as its layout from the catalogue says, or the variables as
body parameters when it has none), an interactive message (reply buttons, a list, a call-to-action
URL), a location, contact cards, or a reaction. ``reply_to`` becomes ``context.message_id`` (the
message answered); our message id travels as ``biz_opaque_callback_data`` and comes back on every
status webhook of the message.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from domain.messaging.content import (
    ContactCard,
    Interactive,
    InteractiveKind,
    Location,
    Media,
    MediaKind,
)
from domain.messaging.messages import MessageContent, Template

# WhatsApp's own limits that our domain does not already hold every message to.
MAX_CAPTION_LENGTH = 1024
MAX_TEXT_LENGTH = 4096
_CAPTIONED = frozenset({MediaKind.IMAGE, MediaKind.VIDEO, MediaKind.DOCUMENT})

# A media URL without a declared kind is sent as the kind its extension names; anything else as a
# document, which WhatsApp takes of any type.
_KIND_OF_EXTENSION: dict[str, MediaKind] = {
    "jpg": MediaKind.IMAGE,
    "jpeg": MediaKind.IMAGE,
    "png": MediaKind.IMAGE,
    "webp": MediaKind.STICKER,  # WhatsApp takes WebP only as a sticker
    "mp4": MediaKind.VIDEO,
    "3gp": MediaKind.VIDEO,
    "3gpp": MediaKind.VIDEO,
    "aac": MediaKind.AUDIO,
    "amr": MediaKind.AUDIO,
    "mp3": MediaKind.AUDIO,
    "m4a": MediaKind.AUDIO,
    "ogg": MediaKind.AUDIO,
    "opus": MediaKind.AUDIO,
}

JsonObject = dict[str, Any]


def media_kind_of_url(url: str) -> MediaKind:
    """The kind of media a URL's extension names (its path's, the query aside); a document otherwise."""
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return _KIND_OF_EXTENSION.get(extension, MediaKind.DOCUMENT)


def _filename_of_url(url: str) -> str | None:
    """The last segment of a URL's path: what a document sent by link is called for the customer."""
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1]).strip()
    return name[:240] or None


def unsupported(content: MessageContent) -> str | None:
    """Why Meta's Cloud API cannot send ``content`` as one message, in words a person can act on; None
    when it can."""
    if content.reply is not None or content.unsupported is not None:
        return "a customer's answer or an unsupported inbound message cannot be sent"
    if content.template is not None:
        return _template_problem(content.template)
    if content.reaction is not None and content.reply_to is not None:
        return "a reaction names the message it reacts to and cannot reply to another"
    media = _media_of(content)
    if len(media) > 1:
        return (
            "Meta's Cloud API sends one media item per message: send each item in a message of its own "
            "(the body can caption one)"
        )
    return _text_problem(content.body, media[0] if media else None)


def _text_problem(body: str, media: Media | None) -> str | None:
    if media is None:
        return (
            f"a text message is at most {MAX_TEXT_LENGTH} characters" if len(body) > MAX_TEXT_LENGTH else None
        )
    if body and media.kind not in _CAPTIONED:
        return f"WhatsApp shows no caption on {media.kind.value}: send the text in a message of its own"
    if len(body) > MAX_CAPTION_LENGTH:
        return f"a caption is at most {MAX_CAPTION_LENGTH} characters"
    return None


def _template_problem(template: Template) -> str | None:
    if template.content_sid is not None and template.name is None:
        return (
            "a Twilio Content template (content_sid) cannot be sent through Meta: name the template by "
            "its name and language"
        )
    media = template.header_media
    if media is not None and media.kind not in _CAPTIONED:
        return f"a template's header is an image, a video or a document, not {media.kind.value}"
    if template.layout:
        return _missing_value(template)
    names = [name for name, _ in template.variables]
    positional = [name for name in names if _is_position(name)]
    if positional and len(positional) != len(names):
        return "a template's variables are all positional (1, 2, …) or all named, not both"
    if positional and sorted(int(name) for name in positional) != list(range(1, len(positional) + 1)):
        return "a template's positional variables are numbered 1, 2, 3 … without gaps"
    return None


def _missing_value(template: Template) -> str | None:
    """A variable the template's layout takes that the message gives no value of."""
    values = template.variables_dict
    missing = [name for _, names in template.layout for name in names if name not in values]
    return f"the template takes {{{{{missing[0]}}}}}: give its value" if missing else None


def _media_of(content: MessageContent) -> tuple[Media, ...]:
    """Every media item, a URL without a declared kind as the kind its extension names."""
    by_url = tuple(
        Media(
            kind=kind,
            url=url,
            filename=_filename_of_url(url) if kind is MediaKind.DOCUMENT else None,
        )
        for url in content.media_urls
        for kind in (media_kind_of_url(url),)
    )
    return content.media + by_url


def message_body(content: MessageContent, *, to: str, callback_data: str) -> JsonObject:
    """The send's JSON body; ``content`` must be one ``unsupported`` has nothing against."""
    body: JsonObject = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "biz_opaque_callback_data": callback_data,
    }
    if content.reply_to is not None and content.reaction is None:
        body["context"] = {"message_id": content.reply_to}
    kind, payload = _typed_payload(content)
    body["type"] = kind
    body[kind] = payload
    return body


def _typed_payload(content: MessageContent) -> tuple[str, Any]:
    """The message's ``type`` and the object under that name."""
    if content.template is not None:
        return "template", _template(content.template)
    if content.interactive is not None:
        return "interactive", _interactive(content.interactive)
    if content.location is not None:
        return "location", _location(content.location)
    if content.contacts:
        return "contacts", [_contact(card) for card in content.contacts]
    if content.reaction is not None:
        # An empty emoji takes the reaction back.
        return "reaction", {
            "message_id": content.reaction.provider_message_id,
            "emoji": content.reaction.emoji,
        }
    return _text_or_media(content)


def _text_or_media(content: MessageContent) -> tuple[str, Any]:
    media = _media_of(content)
    if media:
        return media[0].kind.value, _media(media[0], content.body)
    return "text", {"body": content.body, "preview_url": content.preview_url}


def _media(item: Media, caption: str) -> JsonObject:
    payload: JsonObject = {"link": item.url} if item.url is not None else {"id": item.provider_media_id}
    if caption and item.kind in _CAPTIONED:
        payload["caption"] = caption
    if item.kind is MediaKind.DOCUMENT and item.filename:
        payload["filename"] = item.filename
    return payload


def _template(template: Template) -> JsonObject:
    payload: JsonObject = {"name": template.name, "language": {"code": template.language}}
    components: list[JsonObject] = []
    if template.header_media is not None:
        components.append({"type": "header", "parameters": [_header_media(template.header_media)]})
    if template.layout:
        components.extend(_laid_out_components(template))
    elif template.variables:
        components.append({"type": "body", "parameters": _template_parameters(template)})
    if components:
        payload["components"] = components
    return payload


def _header_media(media: Media) -> JsonObject:
    """A media header's parameter: the file by link or by uploaded id (a document with its name)."""
    kind = media.kind.value
    item: JsonObject = {"link": media.url} if media.url is not None else {"id": media.provider_media_id}
    if media.kind is MediaKind.DOCUMENT and media.filename:
        item["filename"] = media.filename
    return {"type": kind, kind: item}


def _laid_out_components(template: Template) -> list[JsonObject]:
    """Each component's parameters in the order its layout gives (the template's definition says which
    variables each component takes); named variables carry their ``parameter_name``. A URL button's
    variable goes in a ``button`` component naming the button's index."""
    values = template.variables_dict
    named = not all(_is_position(name) for _, names in template.layout for name in names)
    components: list[JsonObject] = []
    for component, names in template.layout:
        parameters = [
            {"type": "text", "parameter_name": name, "text": values[name]}
            if named
            else {"type": "text", "text": values[name]}
            for name in names
        ]
        if component.startswith("button:"):
            index = component.removeprefix("button:")
            components.append({"type": "button", "sub_type": "url", "index": index, "parameters": parameters})
        elif component == "header":
            header = next((c for c in components if c["type"] == "header"), None)
            if header is None:
                components.insert(0, {"type": "header", "parameters": parameters})
            else:
                header["parameters"].extend(parameters)
        else:
            components.append({"type": component, "parameters": parameters})
    return components


def _is_position(name: str) -> bool:
    """Whether a variable's name is a position ("1", "2" …): ASCII digits only ("²" is a digit too)."""
    return name.isascii() and name.isdigit()


def _template_parameters(template: Template) -> list[JsonObject]:
    """Positional variables ("1", "2" …) in their order; named ones with their ``parameter_name``."""
    if all(_is_position(name) for name, _ in template.variables):
        ordered = sorted(template.variables, key=lambda variable: int(variable[0]))
        return [{"type": "text", "text": value} for _, value in ordered]
    return [{"type": "text", "parameter_name": name, "text": value} for name, value in template.variables]


def _interactive(interactive: Interactive) -> JsonObject:
    payload: JsonObject = {"body": {"text": interactive.body}}
    if interactive.header is not None:
        payload["header"] = {"type": "text", "text": interactive.header}
    if interactive.footer is not None:
        payload["footer"] = {"text": interactive.footer}
    if interactive.kind is InteractiveKind.BUTTONS:
        payload["type"] = "button"
        payload["action"] = {
            "buttons": [
                {"type": "reply", "reply": {"id": button.id, "title": button.title}}
                for button in interactive.buttons
            ]
        }
    elif interactive.kind is InteractiveKind.LIST:
        payload["type"] = "list"
        payload["action"] = {
            "button": interactive.button_label,
            "sections": [
                {
                    **({"title": section.title} if section.title else {}),
                    "rows": [
                        {
                            "id": row.id,
                            "title": row.title,
                            **({"description": row.description} if row.description else {}),
                        }
                        for row in section.rows
                    ],
                }
                for section in interactive.sections
            ],
        }
    else:
        payload["type"] = "cta_url"
        payload["action"] = {
            "name": "cta_url",
            "parameters": {"display_text": interactive.button_label, "url": interactive.url},
        }
    return payload


def _location(location: Location) -> JsonObject:
    payload: JsonObject = {"latitude": location.latitude, "longitude": location.longitude}
    if location.name is not None:
        payload["name"] = location.name
    if location.address is not None:
        payload["address"] = location.address
    return payload


def _contact(card: ContactCard) -> JsonObject:
    # Meta wants a formatted name and at least one name part; a card holds one name, which is both
    # (splitting it into first and last names would guess wrong for many names).
    payload: JsonObject = {"name": {"formatted_name": card.name, "first_name": card.name}}
    if card.phones:
        payload["phones"] = [{"phone": phone} for phone in card.phones]
    if card.emails:
        payload["emails"] = [{"email": email} for email in card.emails]
    if card.organization is not None:
        payload["org"] = {"company": card.organization}
    return payload
