"""Messaging on the wire: what a send takes, and messages and conversations as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec

from application.messaging.conversations import ConversationPage
from application.messaging.history import HistoryPage, MessageDetails, StoredHistoryPage
from application.messaging.send_message import SendMessageCommand
from application.messaging.template_sends import HeaderMedia, TemplateChoice
from application.ports.media import served_at
from application.ports.messages import MessageView, StoredMessageRow, view_of_row
from domain.administration.tenancy import ProviderName
from domain.errors import InvalidMessage
from domain.messaging.content import (
    MAX_BUTTON_TITLE_LENGTH,
    MAX_CARD_ITEMS,
    MAX_CARD_TEXT_LENGTH,
    MAX_CHOICE_ID_LENGTH,
    MAX_CONTACT_CARDS,
    MAX_EMOJI_LENGTH,
    MAX_FILENAME_LENGTH,
    MAX_FOOTER_LENGTH,
    MAX_HEADER_LENGTH,
    MAX_INTERACTIVE_BODY_LENGTH,
    MAX_LIST_ROWS,
    MAX_LIST_SECTIONS,
    MAX_LOCATION_TEXT_LENGTH,
    MAX_PROVIDER_MEDIA_ID_LENGTH,
    MAX_REPLY_BUTTONS,
    MAX_ROW_DESCRIPTION_LENGTH,
    MAX_ROW_TITLE_LENGTH,
    MAX_URL_LENGTH,
    Choice,
    ContactCard,
    Interactive,
    InteractiveKind,
    ListSection,
    Location,
    Media,
    MediaKind,
    MessageKind,
    Reaction,
)
from domain.messaging.conversations import Conversation
from domain.messaging.failures import Failure, FailureCode
from domain.messaging.messages import (
    FAILURE_STATUSES,
    MAX_BODY_LENGTH,
    MAX_MEDIA_ITEMS,
    MAX_TEMPLATE_VALUE_LENGTH,
    MAX_TEMPLATE_VARIABLES,
    Direction,
    Message,
    MessageStatus,
    StatusEvent,
    Template,
)
from entrypoints.http.wire_types import Text

MediaUrl = Annotated[Text, msgspec.Meta(min_length=1, max_length=MAX_URL_LENGTH)]
ContentSid = Annotated[
    str,
    msgspec.Meta(
        pattern="^HX[0-9a-fA-F]{32}$",
        examples=["HXb5b62575e6e4ff6129ad7c8efe1f983e"],
        description=(
            "An approved WhatsApp template (a Twilio Content SID). Templates may be sent at any time; "
            "free-form messages only within 24 hours of the contact's last message"
        ),
    ),
]
TemplateVariableName = Annotated[Text, msgspec.Meta(min_length=1, max_length=64)]
TemplateVariableValue = Annotated[Text, msgspec.Meta(max_length=MAX_TEMPLATE_VALUE_LENGTH)]
TemplateVariables = Annotated[
    dict[TemplateVariableName, TemplateVariableValue],
    msgspec.Meta(
        max_length=MAX_TEMPLATE_VARIABLES,
        examples=[{"1": "12/1", "2": "3pm"}],
        description='The template\'s placeholder values by name; positional ones are "1", "2", …',
    ),
]
ContentVariables = Annotated[
    dict[TemplateVariableName, TemplateVariableValue],
    msgspec.Meta(
        max_length=MAX_TEMPLATE_VARIABLES,
        examples=[{"1": "12/1", "2": "3pm"}],
        description="The template's placeholder values, by placeholder name; only with content_sid",
    ),
]
MessageId = Annotated[
    Text,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_PROVIDER_MEDIA_ID_LENGTH,
        description="The provider's id of a message (Twilio's SM…, Meta's wamid.…), or this API's id of it",
    ),
]


def _text(limit: int, **meta: Any) -> msgspec.Meta:
    """The constraints of text of 1 to ``limit`` characters."""
    return msgspec.Meta(min_length=1, max_length=limit, **meta)


UploadedMediaId = Annotated[Text, _text(MAX_PROVIDER_MEDIA_ID_LENGTH)]
Filename = Annotated[Text, _text(MAX_FILENAME_LENGTH, examples=["invoice-1042.pdf"])]
ChoiceId = Annotated[Text, _text(MAX_CHOICE_ID_LENGTH, description="Comes back when the customer picks it")]
ButtonTitle = Annotated[Text, _text(MAX_BUTTON_TITLE_LENGTH, examples=["Yes"])]
RowTitle = Annotated[Text, _text(MAX_ROW_TITLE_LENGTH)]
RowDescription = Annotated[Text, _text(MAX_ROW_DESCRIPTION_LENGTH)]
InteractiveBody = Annotated[Text, _text(MAX_INTERACTIVE_BODY_LENGTH, examples=["Shall we deliver tomorrow?"])]
HeaderText = Annotated[Text, _text(MAX_HEADER_LENGTH)]
FooterText = Annotated[Text, _text(MAX_FOOTER_LENGTH)]
ButtonLabel = Annotated[
    Text, _text(MAX_BUTTON_TITLE_LENGTH, description="The list's button, or the URL button's label")
]
LocationText = Annotated[Text, _text(MAX_LOCATION_TEXT_LENGTH)]
CardText = Annotated[Text, _text(MAX_CARD_TEXT_LENGTH)]


# The parts of a message, in the one shape a send takes them and a message shows them. Unknown fields are
# refused; what is unset is left out of the answer, as a client leaves it out of a send.


class MediaItem(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A media item of a declared type, by ``url`` or by ``id`` (a media id the provider gave an
    uploaded file), not both. ``filename`` names a document for the customer."""

    type: MediaKind
    url: MediaUrl | None = None
    id: UploadedMediaId | None = None
    filename: Filename | None = None

    def media(self) -> Media:
        return Media(kind=self.type, url=self.url, provider_media_id=self.id, filename=self.filename)


class MediaResource(MediaItem):
    """A media item as a message shows it. An inbound item is downloaded into the gateway's media store
    as the message comes in: once kept, ``stored_media_id`` names the file and ``stored_media_url``
    serves it (``GET /api/media/{id}``); ``not_kept`` says why the gateway gave up on it instead; neither
    is there while the download is pending."""

    content_type: str | None = None  # as the provider reported it (inbound media), or as kept
    stored_media_id: str | None = None
    stored_media_url: str | None = None
    not_kept: str | None = None

    @classmethod
    def of(cls, media: Media) -> MediaResource:
        stored = media.stored_media_id
        return cls(
            type=media.kind,
            url=media.url,
            id=media.provider_media_id,
            filename=media.filename,
            content_type=media.content_type,
            stored_media_id=stored,
            stored_media_url=served_at(stored) if stored is not None else None,
            not_kept=media.not_kept,
        )


class TemplateHeaderMedia(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """The file a media-header template shows this time, by ``url`` or by ``id`` (a media id the provider
    gave an uploaded file); its type is the template's header format. ``filename`` names a document."""

    url: MediaUrl | None = None
    id: UploadedMediaId | None = None
    filename: Filename | None = None

    def header_media(self) -> HeaderMedia:
        if (self.url is None) == (self.id is None):
            raise InvalidMessage("header_media has a url or an id, not both")
        return HeaderMedia(url=self.url, media_id=self.id, filename=self.filename)


class TemplateByName(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A template of the tenant's catalogue by its name and language, with a value for each of its
    variables (positional ones named "1", "2", …) and, for a media header, the file it shows."""

    name: Annotated[str, msgspec.Meta(pattern="^[a-z0-9_]{1,512}$", examples=["order_update"])]
    language: Annotated[str, msgspec.Meta(pattern="^[a-z]{2,3}(_[A-Za-z]{2,4})?$", examples=["en", "pt_BR"])]
    variables: TemplateVariables = {}
    header_media: TemplateHeaderMedia | None = None

    def template(self) -> Template:
        return Template.named(self.name, self.language, self.variables)

    def choice(self) -> TemplateChoice:
        return TemplateChoice(
            self.template(), self.header_media.header_media() if self.header_media else None
        )


class TemplateContent(msgspec.Struct, omit_defaults=True):
    """A template as a message shows it: ``rendered`` is the text the customer saw (templates sent
    through the catalogue)."""

    name: str
    language: str
    variables: dict[str, str] = {}
    header_media: MediaResource | None = None
    rendered: str | None = None


class ReplyButton(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    id: ChoiceId
    title: ButtonTitle


class ListRow(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    id: ChoiceId
    title: RowTitle
    description: RowDescription | None = None


class ListSectionItem(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    rows: Annotated[list[ListRow], msgspec.Meta(min_length=1, max_length=MAX_LIST_ROWS)]
    title: Annotated[Text, msgspec.Meta(max_length=MAX_ROW_TITLE_LENGTH)] = ""  # needed with two sections


class InteractiveContent(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """``buttons``: up to 3 reply buttons. ``list``: rows in ``sections``, opened by ``button``.
    ``cta_url``: one ``button`` that opens ``url``. The text is ``body``."""

    type: InteractiveKind
    body: InteractiveBody
    header: HeaderText | None = None
    footer: FooterText | None = None
    buttons: Annotated[list[ReplyButton], msgspec.Meta(max_length=MAX_REPLY_BUTTONS)] = []
    button: ButtonLabel | None = None
    sections: Annotated[list[ListSectionItem], msgspec.Meta(max_length=MAX_LIST_SECTIONS)] = []
    url: MediaUrl | None = None

    def interactive(self) -> Interactive:
        # The domain names its own fields (button_label); a client is told of the ones it sends.
        if self.type is not InteractiveKind.BUTTONS and self.button is None:
            raise InvalidMessage(
                f"interactive.button is missing: a {self.type} message needs it "
                "(the button that opens a list, or the label of a cta_url's button)"
            )
        if self.type is InteractiveKind.BUTTONS and self.button is not None:
            raise InvalidMessage(
                "interactive.button is for a list or a cta_url: a buttons message has buttons"
            )
        if self.type is InteractiveKind.CTA_URL and self.url is None:
            raise InvalidMessage("interactive.url is missing: a cta_url message opens it")
        return Interactive(
            kind=self.type,
            body=self.body,
            header=self.header,
            footer=self.footer,
            buttons=tuple(Choice(id=button.id, title=button.title) for button in self.buttons),
            button_label=self.button,
            sections=tuple(
                ListSection(
                    title=section.title,
                    rows=tuple(
                        Choice(id=row.id, title=row.title, description=row.description)
                        for row in section.rows
                    ),
                )
                for section in self.sections
            ),
            url=self.url,
        )

    @classmethod
    def of(cls, interactive: Interactive) -> InteractiveContent:
        return cls(
            type=interactive.kind,
            body=interactive.body,
            header=interactive.header,
            footer=interactive.footer,
            buttons=[ReplyButton(id=button.id, title=button.title) for button in interactive.buttons],
            button=interactive.button_label,
            sections=[
                ListSectionItem(
                    title=section.title,
                    rows=[
                        ListRow(id=row.id, title=row.title, description=row.description)
                        for row in section.rows
                    ],
                )
                for section in interactive.sections
            ],
            url=interactive.url,
        )


class LocationContent(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    latitude: Annotated[float, msgspec.Meta(ge=-90, le=90, examples=[52.520008])]
    longitude: Annotated[float, msgspec.Meta(ge=-180, le=180, examples=[13.404954])]
    name: LocationText | None = None
    address: LocationText | None = None

    def location(self) -> Location:
        return Location(
            latitude=self.latitude, longitude=self.longitude, name=self.name, address=self.address
        )


class ContactCardContent(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    name: CardText
    phones: Annotated[list[CardText], msgspec.Meta(max_length=MAX_CARD_ITEMS)] = []
    emails: Annotated[list[CardText], msgspec.Meta(max_length=MAX_CARD_ITEMS)] = []
    organization: CardText | None = None

    def card(self) -> ContactCard:
        return ContactCard(
            name=self.name,
            phones=tuple(self.phones),
            emails=tuple(self.emails),
            organization=self.organization,
        )


class ReactionContent(msgspec.Struct, forbid_unknown_fields=True):
    message_id: MessageId
    emoji: Annotated[
        Text,
        msgspec.Meta(max_length=MAX_EMOJI_LENGTH, examples=["👍"], description='"" takes the reaction back'),
    ]


class ReplyContent(msgspec.Struct, omit_defaults=True):
    """The button or list row a customer picked: its ``id`` as the business gave it, its ``title``."""

    id: str
    title: str
    description: str | None = None


SEND_AT_PATTERN = r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
SendAt = Annotated[
    datetime,
    msgspec.Meta(
        tz=True,
        # Documents the one form taken (a date-time with its offset), as every text of a body says which
        # characters it takes.
        extra_json_schema={"pattern": SEND_AT_PATTERN},
        description="Send at this moment instead of now (RFC 3339 with its offset): from a minute to 35 "
        "days ahead. The message waits as `scheduled` until then",
        examples=["2026-12-24T09:00:00+01:00"],
    ),
]


class SendMessageRequest(msgspec.Struct, forbid_unknown_fields=True):
    """One kind of message: text (``body``, with ``media``/``media_url`` or not), a template
    (``content_sid`` or ``template``), ``interactive``, ``location``, ``contacts`` or ``reaction``.
    ``reply_to`` makes any of them the answer to an earlier message."""

    to_number: Annotated[
        Text, msgspec.Meta(min_length=1, max_length=64, examples=["+14155550123", "whatsapp:+14155550123"])
    ]
    body: Annotated[Text, msgspec.Meta(max_length=MAX_BODY_LENGTH, examples=["Your order has shipped"])] = ""
    media_url: (
        MediaUrl
        | Annotated[
            list[MediaUrl],
            msgspec.Meta(max_length=MAX_MEDIA_ITEMS, examples=[["https://example.com/receipt.png"]]),
        ]
        | None
    ) = None
    media_urls: (
        Annotated[
            list[MediaUrl],
            msgspec.Meta(
                max_length=MAX_MEDIA_ITEMS,
                description="As media_url: media whose type the provider works out",
            ),
        ]
        | None
    ) = None
    from_number: (
        Annotated[
            Text,
            msgspec.Meta(
                min_length=1,
                max_length=64,
                examples=["+14155238886"],
                description="One of the tenant's senders; the default sender when omitted",
            ),
        ]
        | None
    ) = None

    content_sid: ContentSid | None = None
    content_variables: ContentVariables | None = None
    # Optional parts are null when left out, as the fields above.
    media: Annotated[list[MediaItem], msgspec.Meta(max_length=MAX_MEDIA_ITEMS)] | None = None
    preview_url: (
        Annotated[bool, msgspec.Meta(description="Show a preview of the body's first link")] | None
    ) = None
    template: TemplateByName | None = None
    fallback_template: (
        Annotated[
            TemplateByName,
            msgspec.Meta(
                description="Sent instead of this free-form message when the contact's 24-hour window "
                "is closed (the answer's fallback_sent says so)"
            ),
        ]
        | None
    ) = None
    interactive: InteractiveContent | None = None
    location: LocationContent | None = None
    contacts: Annotated[list[ContactCardContent], msgspec.Meta(max_length=MAX_CONTACT_CARDS)] | None = None
    reaction: ReactionContent | None = None
    reply_to: MessageId | None = None
    send_at: SendAt | None = None

    def command(
        self, tenant_id: UUID, *, idempotency_key: str | None, respond_async: bool
    ) -> SendMessageCommand:
        """The send as the use case takes it; InvalidMessage for parts that break WhatsApp's rules."""
        return SendMessageCommand(
            tenant_id=tenant_id,
            to_number=self.to_number,
            body=self.body,
            media_urls=self._media_urls(),
            from_number=self.from_number,
            content_sid=self.content_sid,
            content_variables=self.content_variables,
            media=tuple(item.media() for item in self.media or ()),
            preview_url=bool(self.preview_url),
            template=self.template.template() if self.template else None,
            template_header_media=self.template.header_media.header_media()
            if self.template is not None and self.template.header_media is not None
            else None,
            fallback_template=self.fallback_template.choice() if self.fallback_template else None,
            interactive=self.interactive.interactive() if self.interactive else None,
            location=self.location.location() if self.location else None,
            contacts=tuple(card.card() for card in self.contacts or ()),
            reaction=Reaction(provider_message_id=self.reaction.message_id, emoji=self.reaction.emoji)
            if self.reaction
            else None,
            reply_to=self.reply_to,
            idempotency_key=idempotency_key,
            respond_async=respond_async,
            send_at=self.send_at,
        )

    def _media_urls(self) -> tuple[str, ...]:
        if self.media_url is not None and self.media_urls is not None:
            raise InvalidMessage("pass media_url or media_urls, not both")
        if self.media_urls is not None:
            return tuple(self.media_urls)
        if self.media_url is None:
            return ()
        if isinstance(self.media_url, str):
            return (self.media_url,)
        return tuple(self.media_url)


class FailureResource(msgspec.Struct):
    """Why a message failed: `code` is the gateway's own (the same whichever provider refused it),
    `provider_code` and `provider_message` the provider's, `reason` in words a person can act on;
    `retryable`: whether sending the same message again later can succeed with nothing changed."""

    code: FailureCode
    provider: ProviderName | None
    provider_code: int | None
    provider_message: str | None
    reason: str | None
    retryable: bool
    advice: str

    @classmethod
    def of(cls, failure: Failure | None) -> FailureResource | None:
        if failure is None:
            return None
        return cls(
            failure.code,
            failure.provider,
            failure.provider_code,
            failure.provider_message,
            failure.reason,
            failure.retryable,
            failure.advice,
        )


class MessageResource(msgspec.Struct):
    """A message, sent or received: its ``kind`` and its content in the shape a send takes it (the
    parts it does not have are null or empty). ``reply`` is the button or list row a customer picked;
    ``unsupported`` the provider's word for a kind it does not pass on. ``failure`` says why a failed
    or undelivered message did not arrive (null otherwise); ``error_code`` and ``error_message`` are its
    provider's code and its reason. ``redacted``: the tenant's retention removed the body and media (at
    ``redacted_at``): ``body`` is empty and the media gone, the metadata kept."""

    id: UUID
    direction: Direction
    status: MessageStatus
    kind: MessageKind
    from_number: str
    to_number: str
    body: str
    media_urls: list[str]
    media: list[MediaResource]
    preview_url: bool
    content_sid: str | None
    content_variables: dict[str, str] | None
    template: TemplateContent | None
    interactive: InteractiveContent | None
    location: LocationContent | None
    contacts: list[ContactCardContent]
    reaction: ReactionContent | None
    reply: ReplyContent | None
    reply_to: str | None
    unsupported: str | None
    profile_name: str | None  # the contact's WhatsApp profile name (inbound messages)
    provider_sid: str | None
    error_code: int | None
    error_message: str | None
    failure: FailureResource | None
    created_at: datetime
    updated_at: datetime
    send_at: datetime | None  # when a scheduled message is (or was) to be sent; null: sent at once
    redacted: bool
    redacted_at: datetime | None

    @classmethod
    def of(cls, message: Message) -> MessageResource:
        return cls.of_view(MessageView.of(message))

    @classmethod
    def of_stored(cls, row: StoredMessageRow) -> MessageResource:
        """The resource of a stored history row. Text, media by URL or a Content SID template that did
        not fail (most messages) straight from the row's values (a stored word encodes as its enum
        does); the others through their view."""
        (
            id_,
            direction,
            status,
            from_number,
            to_number,
            kind,
            body,
            media_urls,
            content_sid,
            content_variables,
            content,
            profile_name,
            provider_sid,
            error_code,
            error_message,
            _failure_code,
            _provider,
            _provider_error_message,
            created_at,
            updated_at,
            send_at,
            redacted_at,
        ) = row
        if content is not None or status in FAILURE_STATUSES:
            return cls.of_view(view_of_row(row))
        return cls._plain(
            id_,
            direction,
            status,
            kind,
            from_number,
            to_number,
            body,
            media_urls,
            content_sid,
            content_variables,
            profile_name,
            provider_sid,
            error_code,
            error_message,
            None,
            created_at,
            updated_at,
            send_at,
            redacted_at,
        )

    @classmethod
    def _plain(
        cls,
        id_: UUID,
        direction: Direction,
        status: MessageStatus,
        kind: MessageKind,
        from_number: str,
        to_number: str,
        body: str,
        media_urls: list[str],
        content_sid: str | None,
        content_variables: dict[str, str] | None,
        profile_name: str | None,
        provider_sid: str | None,
        error_code: int | None,
        error_message: str | None,
        failure: FailureResource | None,
        created_at: datetime,
        updated_at: datetime,
        send_at: datetime | None,
        redacted_at: datetime | None,
    ) -> MessageResource:
        """A message without a content document (text, media by URL, a Content SID template: most
        messages), from its columns. Positional, in the fields' order: a history page builds up to 100."""
        return cls(
            id_,
            direction,
            status,
            kind,
            from_number,
            to_number,
            body,
            media_urls,
            [],  # media
            False,  # preview_url
            content_sid,
            content_variables,
            None,  # template
            None,  # interactive
            None,  # location
            [],  # contacts
            None,  # reaction
            None,  # reply
            None,  # reply_to
            None,  # unsupported
            profile_name,
            provider_sid,
            error_code,
            error_message,
            failure,
            created_at,
            updated_at,
            send_at,
            redacted_at is not None,
            redacted_at,
        )

    @classmethod
    def of_view(cls, view: MessageView) -> MessageResource:
        content = view.content
        if content is None:
            # Text, media by URL or a Content SID template (most messages): the view's columns say it all.
            return cls._plain(
                view.id,
                view.direction,
                view.status,
                view.kind,
                view.from_number,
                view.to_number,
                view.body,
                view.media_urls,
                view.content_sid,
                view.content_variables,
                view.profile_name,
                view.provider_sid,
                view.error_code,
                view.error_message,
                FailureResource.of(view.failure) if view.status in FAILURE_STATUSES else None,
                view.created_at,
                view.updated_at,
                view.send_at,
                view.redacted_at,
            )
        template, location, reaction, reply = (
            content.template,
            content.location,
            content.reaction,
            content.reply,
        )
        by_sid = template if template is not None and template.content_sid is not None else None
        return cls(
            id=view.id,
            direction=view.direction,
            status=view.status,
            kind=view.kind,
            from_number=view.from_number,
            to_number=view.to_number,
            body=content.body,
            media_urls=list(content.media_urls),
            media=[MediaResource.of(item) for item in content.media],
            preview_url=content.preview_url,
            content_sid=by_sid.content_sid if by_sid else None,
            content_variables=by_sid.variables_dict if by_sid else None,
            template=TemplateContent(
                name=template.name,
                language=template.language,
                variables=template.variables_dict,
                header_media=MediaResource.of(template.header_media) if template.header_media else None,
                rendered=template.rendered,
            )
            if template is not None and template.name is not None and template.language is not None
            else None,
            interactive=InteractiveContent.of(content.interactive) if content.interactive else None,
            location=LocationContent(
                latitude=location.latitude,
                longitude=location.longitude,
                name=location.name,
                address=location.address,
            )
            if location
            else None,
            contacts=[
                ContactCardContent(
                    name=card.name,
                    phones=list(card.phones),
                    emails=list(card.emails),
                    organization=card.organization,
                )
                for card in content.contacts
            ],
            reaction=ReactionContent(message_id=reaction.provider_message_id, emoji=reaction.emoji)
            if reaction
            else None,
            reply=ReplyContent(id=reply.id, title=reply.title, description=reply.description)
            if reply
            else None,
            reply_to=content.reply_to,
            unsupported=content.unsupported,
            profile_name=view.profile_name,
            provider_sid=view.provider_sid,
            error_code=view.error_code,
            error_message=view.error_message,
            failure=FailureResource.of(view.failure),
            created_at=view.created_at,
            updated_at=view.updated_at,
            send_at=view.send_at,
            redacted=view.redacted_at is not None,
            redacted_at=view.redacted_at,
        )


class SentMessageResource(MessageResource):
    """The message a send accepted. ``fallback_sent``: the contact's 24-hour window was closed, so the
    request's ``fallback_template`` went instead of its free-form content (``template`` shows it)."""

    fallback_sent: bool = False

    @classmethod
    def of_send(cls, message: Message, *, fallback_sent: bool) -> SentMessageResource:
        resource = cls.of(message)
        assert isinstance(resource, SentMessageResource)
        return msgspec.structs.replace(resource, fallback_sent=fallback_sent)


class MessagePage(msgspec.Struct):
    items: list[MessageResource]
    next_cursor: str | None

    @classmethod
    def of(cls, page: HistoryPage) -> MessagePage:
        return cls(items=[MessageResource.of_view(view) for view in page.items], next_cursor=page.next_cursor)

    @classmethod
    def of_stored(cls, page: StoredHistoryPage) -> MessagePage:
        of_stored = MessageResource.of_stored
        return cls(items=[of_stored(row) for row in page.items], next_cursor=page.next_cursor)


class StatusEventResource(msgspec.Struct):
    status: MessageStatus
    received_at: datetime
    applied: bool  # False: a late report that did not move the message (a repeat is not listed again)
    error_code: int | None
    error_message: str | None
    # The provider's pricing category of the message (Meta's: marketing, utility, authentication,
    # service …), as this report gave it.
    pricing_category: str | None

    @classmethod
    def of(cls, event: StatusEvent) -> StatusEventResource:
        return cls(
            status=event.status,
            received_at=event.received_at,
            applied=event.applied,
            error_code=event.error_code,
            error_message=event.error_message,
            pricing_category=event.pricing_category,
        )


class MessageDetailsResource(MessageResource):
    """A message and every status report received about it, oldest first."""

    timeline: list[StatusEventResource]

    @classmethod
    def of_details(cls, details: MessageDetails) -> MessageDetailsResource:
        summary = MessageResource.of(details.message)
        return cls(
            **msgspec.structs.asdict(summary),
            timeline=[StatusEventResource.of(event) for event in details.timeline],
        )


class LastMessage(msgspec.Struct):
    id: UUID
    at: datetime
    direction: Direction
    preview: str


class ConversationResource(msgspec.Struct):
    id: UUID
    contact: str
    sender: str  # the tenant's number used last with this contact
    profile_name: str | None
    last_message: LastMessage
    last_inbound_at: datetime | None
    window_expires_at: datetime | None  # 24 hours after last_inbound_at
    window_open: bool  # whether free-form messages may be sent now; templates always may
    unread_count: int  # the customer's messages no agent has seen yet (POST .../seen sets it to 0)

    @classmethod
    def of(cls, conversation: Conversation, now: datetime) -> ConversationResource:
        return cls(
            id=conversation.id,
            contact=conversation.contact.e164,
            sender=conversation.sender.e164,
            profile_name=conversation.profile_name,
            last_message=LastMessage(
                id=conversation.last_message_id,
                at=conversation.last_message_at,
                direction=conversation.last_direction,
                preview=conversation.last_message_preview,
            ),
            last_inbound_at=conversation.last_inbound_at,
            window_expires_at=conversation.window_expires_at,
            window_open=conversation.window_open(now),
            unread_count=conversation.unread_count,
        )


class ConversationsPage(msgspec.Struct):
    items: list[ConversationResource]
    next_cursor: str | None

    @classmethod
    def of(cls, page: ConversationPage) -> ConversationsPage:
        return cls(
            items=[ConversationResource.of(c, page.as_of) for c in page.items], next_cursor=page.next_cursor
        )


class RescheduleRequest(msgspec.Struct, forbid_unknown_fields=True):
    send_at: SendAt


class MarkReadRequest(msgspec.Struct, forbid_unknown_fields=True):
    typing_indicator: bool = False  # show the customer that a reply is being typed
