"""The ``content`` column of messages: what a message carries beyond what ``body``, ``media_urls``,
``content_sid`` and ``content_variables`` hold, as a JSON document (NULL when those say it all).

The document is versioned by its keys. Each part is under a key of its own, present only when the
message has that part, and a key never changes its meaning: a new part is a new key. A reader takes the
keys it knows and ignores the others, so a row written by a newer version still reads in an older one
(as far as that one understands it). A template by name keeps its values in ``content_variables``, as
a Content SID template does; one resolved through the catalogue for a Twilio sender keeps its Content
SID in ``content_sid`` and its name, layout and rendered text here. ::

    {"media": [{"kind": "document", "url": "https://…/invoice.pdf", "filename": "invoice.pdf"},
               {"kind": "image", "id": "1234567890", "content_type": "image/jpeg",
                "stored_media_id": "…"},
               {"kind": "video", "url": "https://api.twilio.com/…", "not_kept": "…"}],
     "preview_url": true,
     "template": {"name": "order_update", "language": "pt_BR",
                  "layout": [["header", ["1"]], ["body", ["2", "3"]]],
                  "header_media": {"kind": "image", "url": "https://…"}, "rendered": "…"},
     "interactive": {"kind": "list", "body": "…", "header": "…", "footer": "…", "button_label": "Choose",
                     "buttons": [{"id": "…", "title": "…"}],
                     "sections": [{"title": "…", "rows": [{"id": "…", "title": "…", "description": "…"}]}],
                     "url": "https://…"},
     "location": {"latitude": 52.52, "longitude": 13.405, "name": "…", "address": "…"},
     "contacts": [{"name": "…", "phones": ["…"], "emails": ["…"], "organization": "…"}],
     "reaction": {"message_id": "wamid.…", "emoji": "👍"},
     "reply": {"id": "…", "title": "…", "description": "…"},
     "reply_to": "wamid.…",
     "unsupported": "sticker"}

A message whose content the retention removed is ``{"redacted": true}`` alone (its body empty).

Within a part, what is unset (None, empty) is left out, and read back as unset.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.messaging.content import (
    Choice,
    ContactCard,
    Interactive,
    InteractiveKind,
    ListSection,
    Location,
    Media,
    MediaKind,
    Reaction,
)
from domain.messaging.messages import MessageContent, Template

Document = dict[str, Any]


def content_document(content: MessageContent) -> Document | None:
    """The ``content`` column of a message with this content: None when the other columns hold it all."""
    template = content.template
    document = _present(
        media=[_media_part(item) for item in content.media],
        preview_url=content.preview_url,
        template=_template_part(template) if template is not None else None,
        interactive=_interactive_part(content.interactive) if content.interactive else None,
        location=_present(
            latitude=content.location.latitude,
            longitude=content.location.longitude,
            name=content.location.name,
            address=content.location.address,
        )
        if content.location
        else None,
        contacts=[_card_part(card) for card in content.contacts],
        reaction={"message_id": content.reaction.provider_message_id, "emoji": content.reaction.emoji}
        if content.reaction
        else None,
        reply=_choice_part(content.reply) if content.reply else None,
        reply_to=content.reply_to,
        unsupported=content.unsupported,
        redacted=True if content.redacted else None,
    )
    return document or None


def content_from_columns(
    *,
    body: str,
    media_urls: list[str],
    content_sid: str | None,
    content_variables: Mapping[str, str] | None,
    document: Mapping[str, Any] | None,
) -> MessageContent:
    """The content a message's columns hold, ``document`` being its ``content`` column."""
    if document is None:
        template = Template.of(content_sid, content_variables) if content_sid else None
        return MessageContent(body=body, media_urls=tuple(media_urls), template=template)
    named = document.get("template")
    template = None
    if named is not None:
        template = Template(
            content_sid=content_sid or None,
            variables=tuple(sorted((content_variables or {}).items())),
            name=named["name"],
            language=named["language"],
            layout=tuple((component, tuple(names)) for component, names in named.get("layout", ())),
            header_media=_media(named["header_media"]) if named.get("header_media") else None,
            rendered=named.get("rendered"),
        )
    elif content_sid:
        template = Template.of(content_sid, content_variables)
    location, reaction, reply = document.get("location"), document.get("reaction"), document.get("reply")
    return MessageContent(
        body=body,
        media_urls=tuple(media_urls),
        template=template,
        media=tuple(_media(part) for part in document.get("media", ())),
        preview_url=bool(document.get("preview_url", False)),
        interactive=_interactive(document["interactive"]) if document.get("interactive") else None,
        location=Location(
            latitude=location["latitude"],
            longitude=location["longitude"],
            name=location.get("name"),
            address=location.get("address"),
        )
        if location
        else None,
        contacts=tuple(_card(part) for part in document.get("contacts", ())),
        reaction=Reaction(provider_message_id=reaction["message_id"], emoji=reaction["emoji"])
        if reaction
        else None,
        reply=_choice(reply) if reply else None,
        reply_to=document.get("reply_to"),
        unsupported=document.get("unsupported"),
        redacted=bool(document.get("redacted", False)),
    )


# ------------------------------------------------------------------------------------------ writing


def _present(**parts: Any) -> Document:
    """``parts`` but the unset ones (a latitude of 0 is set: ``0 == False``, hence ``is``)."""
    return {
        name: part
        for name, part in parts.items()
        if not (part is None or part is False or part in ("", [], {}))
    }


def _template_part(template: Template) -> Document | None:
    """A template by name (resolved through the catalogue or not); one by Content SID alone needs none."""
    if template.name is None:
        return None
    return _present(
        name=template.name,
        language=template.language,
        layout=[[component, list(names)] for component, names in template.layout],
        header_media=_media_part(template.header_media) if template.header_media else None,
        rendered=template.rendered,
    )


def _media_part(item: Media) -> Document:
    return _present(
        kind=item.kind.value,
        url=item.url,
        id=item.provider_media_id,
        filename=item.filename,
        content_type=item.content_type,
        stored_media_id=item.stored_media_id,
        not_kept=item.not_kept,
    )


def _choice_part(choice: Choice) -> Document:
    return _present(id=choice.id, title=choice.title, description=choice.description)


def _interactive_part(interactive: Interactive) -> Document:
    return _present(
        kind=interactive.kind.value,
        body=interactive.body,
        header=interactive.header,
        footer=interactive.footer,
        buttons=[_choice_part(button) for button in interactive.buttons],
        button_label=interactive.button_label,
        sections=[
            _present(title=section.title, rows=[_choice_part(row) for row in section.rows])
            for section in interactive.sections
        ],
        url=interactive.url,
    )


def _card_part(card: ContactCard) -> Document:
    return _present(
        name=card.name, phones=list(card.phones), emails=list(card.emails), organization=card.organization
    )


# ------------------------------------------------------------------------------------------ reading


def _media(part: Mapping[str, Any]) -> Media:
    return Media(
        kind=MediaKind(part["kind"]),
        url=part.get("url"),
        provider_media_id=part.get("id"),
        filename=part.get("filename"),
        content_type=part.get("content_type"),
        stored_media_id=part.get("stored_media_id"),
        not_kept=part.get("not_kept"),
    )


def _choice(part: Mapping[str, Any]) -> Choice:
    return Choice(id=part["id"], title=part["title"], description=part.get("description"))


def _interactive(part: Mapping[str, Any]) -> Interactive:
    return Interactive(
        kind=InteractiveKind(part["kind"]),
        body=part["body"],
        header=part.get("header"),
        footer=part.get("footer"),
        buttons=tuple(_choice(button) for button in part.get("buttons", ())),
        button_label=part.get("button_label"),
        sections=tuple(
            ListSection(title=section.get("title", ""), rows=tuple(_choice(row) for row in section["rows"]))
            for section in part.get("sections", ())
        ),
        url=part.get("url"),
    )


def _card(part: Mapping[str, Any]) -> ContactCard:
    return ContactCard(
        name=part["name"],
        phones=tuple(part.get("phones", ())),
        emails=tuple(part.get("emails", ())),
        organization=part.get("organization"),
    )
