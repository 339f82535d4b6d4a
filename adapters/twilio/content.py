"""Message content in Twilio's terms: which kinds its Messages API sends and the fields it sends them
with.

Twilio's Messages API sends text, media by URL, Content templates (by Content SID) and a location (the
``PersistentAction`` ``geo:`` URI beside a body). Interactive messages, contact cards and the like it
sends only as Content templates created beforehand; reactions and replies to a given message not at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.messaging.messages import MessageContent

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
