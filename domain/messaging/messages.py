"""Messages and the rules of their delivery status."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from domain.administration.tenancy import ProviderName
from domain.errors import InvalidMessage
from domain.messaging.content import (
    MAX_CONTACT_CARDS,
    Choice,
    ContactCard,
    Interactive,
    Location,
    Media,
    MessageKind,
    Reaction,
    check_url,
)
from domain.messaging.failures import Failure, FailureCode
from domain.phone import PhoneNumber

MAX_BODY_LENGTH = 1600  # Twilio refuses longer bodies (21617), though WhatsApp itself takes 4096
MAX_MEDIA_ITEMS = 10  # Twilio accepts at most ten MediaUrl values per message


class Direction(enum.StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class MessageStatus(enum.StrEnum):
    SCHEDULED = "scheduled"  # stored by us, to be sent at its ``send_at``
    ACCEPTED = "accepted"  # stored by us, not yet taken by the provider
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    UNDELIVERED = "undelivered"
    RECEIVED = "received"  # an inbound message
    CANCELED = "canceled"  # a scheduled message called off before it was sent

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_failure(self) -> bool:
        """Failed or undelivered: the message did not reach its recipient."""
        return self in FAILURE_STATUSES

    def can_advance_to(self, new: MessageStatus) -> bool:
        """Provider callbacks arrive out of order and repeat: a status only ever moves forward."""
        if self.is_terminal or new == self or new is MessageStatus.RECEIVED:
            # received is where an inbound message starts, never a step of an outbound one
            return False
        if new is MessageStatus.CANCELED:
            return self is MessageStatus.SCHEDULED  # once a worker took it, it is on its way
        return _RANK[new] > _RANK[self]


# read is the last thing that can happen to a delivered message, so it is final too.
_TERMINAL = frozenset(
    {
        MessageStatus.READ,
        MessageStatus.FAILED,
        MessageStatus.UNDELIVERED,
        MessageStatus.RECEIVED,
        MessageStatus.CANCELED,
    }
)
# The message did not reach its recipient: it has a failure (``Message.failure``).
FAILURE_STATUSES = frozenset({MessageStatus.FAILED, MessageStatus.UNDELIVERED})
_RANK = {
    MessageStatus.SCHEDULED: -1,
    MessageStatus.ACCEPTED: 0,
    MessageStatus.QUEUED: 1,
    MessageStatus.SENDING: 2,
    MessageStatus.SENT: 3,
    MessageStatus.DELIVERED: 4,
    MessageStatus.READ: 5,
    # a failure can overtake any non-terminal state
    MessageStatus.FAILED: 6,
    MessageStatus.UNDELIVERED: 6,
    MessageStatus.RECEIVED: 6,
    MessageStatus.CANCELED: 6,
}


# How far ahead a message may be scheduled: far enough that a worker takes it at its time rather than
# at once, and not so far that a forgotten send surprises anyone (a month and some).
MIN_SCHEDULE_LEAD = timedelta(minutes=1)
MAX_SCHEDULE_AHEAD = timedelta(days=35)


def check_send_at(send_at: datetime, now: datetime) -> datetime:
    """``send_at`` in UTC, if a message may be scheduled for it from ``now``; InvalidMessage otherwise."""
    if send_at.tzinfo is None or send_at.utcoffset() is None:
        raise InvalidMessage("send_at needs a timezone offset, e.g. 2026-01-31T12:00:00Z")
    try:
        in_utc = send_at.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 with an offset: long past, or far too far ahead
        in_utc = datetime.min.replace(tzinfo=UTC) if send_at.year == 1 else datetime.max.replace(tzinfo=UTC)
    if in_utc > now + MAX_SCHEDULE_AHEAD:
        raise InvalidMessage(
            f"send_at is at most {MAX_SCHEDULE_AHEAD.days} days ahead "
            f"(until {_iso(now + MAX_SCHEDULE_AHEAD)})"
        )
    if in_utc < now + MIN_SCHEDULE_LEAD:
        raise InvalidMessage(
            "send_at is at least a minute ahead; to send now, leave send_at out "
            f"(the earliest is {_iso(now + MIN_SCHEDULE_LEAD)})"
        )
    return in_utc


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def statuses_after(status: MessageStatus) -> frozenset[MessageStatus]:
    """Every status a message in ``status`` may still move to."""
    return frozenset(candidate for candidate in MessageStatus if status.can_advance_to(candidate))


_CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")
# Meta's template names: lower-case letters, digits and underscores; languages like "en" or "pt_BR".
_TEMPLATE_NAME = re.compile(r"[a-z0-9_]{1,512}")
_TEMPLATE_LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Za-z]{2,4})?")
MAX_TEMPLATE_VARIABLES = 100
MAX_TEMPLATE_VALUE_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class Template:
    """An approved WhatsApp template and the values of its placeholders: a Twilio Content resource
    (``content_sid``), or a template by ``name`` and ``language`` as Meta's Cloud API sends it.

    Templates are what a business may send outside the 24-hour session window. Positional variables
    are named "1", "2", …

    A template resolved through the tenant's catalogue also carries what its provider needs to send it
    and what history shows: its name and language beside the Content SID of its Twilio listing,
    ``layout`` (which variables each component takes, in order: ``TemplateDefinition.layout``),
    ``header_media`` for a media header, and ``rendered``, the text the customer sees.
    """

    content_sid: str | None = None
    variables: tuple[tuple[str, str], ...] = ()
    name: str | None = None
    language: str | None = None
    layout: tuple[tuple[str, tuple[str, ...]], ...] = ()
    header_media: Media | None = None
    rendered: str | None = None

    def __post_init__(self) -> None:
        if self.content_sid is not None and not _CONTENT_SID.fullmatch(self.content_sid):
            raise InvalidMessage("content_sid is 'HX' and 32 hexadecimal digits (a Twilio Content SID)")
        if self.content_sid is None or self.name is not None or self.language is not None:
            if self.name is None or not _TEMPLATE_NAME.fullmatch(self.name):
                raise InvalidMessage(
                    "a template's name is lower-case letters, digits and underscores (at most 512)"
                )
            if self.language is None or not _TEMPLATE_LANGUAGE.fullmatch(self.language):
                raise InvalidMessage("a template's language is a code like 'en' or 'pt_BR'")
        if len(self.variables) > MAX_TEMPLATE_VARIABLES:
            raise InvalidMessage(f"a template takes at most {MAX_TEMPLATE_VARIABLES} variables")
        for name, value in self.variables:
            if not name or len(name) > 64:
                raise InvalidMessage("template variable names are 1 to 64 characters")
            if len(value) > MAX_TEMPLATE_VALUE_LENGTH:
                raise InvalidMessage(
                    f"template variable values are at most {MAX_TEMPLATE_VALUE_LENGTH} characters"
                )

    @classmethod
    def of(cls, content_sid: str, variables: Mapping[str, str] | None = None) -> Template:
        return cls(content_sid=content_sid, variables=tuple(sorted((variables or {}).items())))

    @classmethod
    def named(cls, name: str, language: str, variables: Mapping[str, str] | None = None) -> Template:
        return cls(name=name, language=language, variables=tuple(sorted((variables or {}).items())))

    @property
    def variables_dict(self) -> dict[str, str]:
        return dict(self.variables)

    @property
    def label(self) -> str:
        """How the template is named, for people: its name and language, or else its Content SID."""
        return f"{self.name} ({self.language})" if self.name else self.content_sid or ""


@dataclass(frozen=True, slots=True)
class MessageContent:
    """What a message carries: text (``body``) with media or not, or else one of the other kinds.

    ``media_urls`` are media by URL whose kind the provider works out (Twilio does); ``media`` are
    media of a declared kind (by URL or by an uploaded media id), which the body captions. ``reply_to``
    is the provider's id of the message this one answers; ``reply`` is the button or list row an
    inbound message picked; ``unsupported`` is the provider's word for an inbound kind it does not pass
    on (the message is kept, marked).
    """

    body: str = ""
    media_urls: tuple[str, ...] = ()
    template: Template | None = None
    media: tuple[Media, ...] = ()
    preview_url: bool = False
    interactive: Interactive | None = None
    location: Location | None = None
    contacts: tuple[ContactCard, ...] = ()
    reaction: Reaction | None = None
    reply: Choice | None = None
    reply_to: str | None = None
    unsupported: str | None = None
    # The retention removed what the message said (its kind and metadata are kept on the message).
    redacted: bool = False

    def __post_init__(self) -> None:
        if self.redacted:
            held = (self.body, self.media_urls, self.template, self.media, self.interactive, self.location)
            if any(held) or any((self.contacts, self.reaction, self.reply, self.reply_to, self.unsupported)):
                raise InvalidMessage("a redacted message holds no content")
            return
        others = [
            name
            for name, present in (
                ("template", self.template is not None),
                ("interactive", self.interactive is not None),
                ("location", self.location is not None),
                ("contacts", bool(self.contacts)),
                ("reaction", self.reaction is not None),
                ("reply", self.reply is not None),
                ("unsupported", self.unsupported is not None),
            )
            if present
        ]
        if len(others) > 1:
            raise InvalidMessage(f"a message is one kind of message, not {' and '.join(others)}")
        if others:
            if self.media_urls or self.media or (self.body and others[0] not in _KINDS_WITH_TEXT):
                raise InvalidMessage(f"a {others[0]} message carries no body or media of its own")
            if len(self.contacts) > MAX_CONTACT_CARDS:
                raise InvalidMessage(f"a message shares at most {MAX_CONTACT_CARDS} contact cards")
            return
        if not self.body.strip() and not self.media_urls and not self.media:
            raise InvalidMessage(
                "a message needs a body, at least one media item, or another kind (a template, say)"
            )
        if len(self.body) > MAX_BODY_LENGTH:
            raise InvalidMessage(f"the body is at most {MAX_BODY_LENGTH} characters")
        if len(self.media_urls) + len(self.media) > MAX_MEDIA_ITEMS:
            raise InvalidMessage(f"a message carries at most {MAX_MEDIA_ITEMS} media items")
        for url in self.media_urls:
            check_url(url, "media URL")

    @property
    def kind(self) -> MessageKind:
        for kind, present in (
            (MessageKind.TEMPLATE, self.template is not None),
            (MessageKind.INTERACTIVE, self.interactive is not None),
            (MessageKind.LOCATION, self.location is not None),
            (MessageKind.CONTACTS, bool(self.contacts)),
            (MessageKind.REACTION, self.reaction is not None),
            (MessageKind.REPLY, self.reply is not None),
            (MessageKind.UNSUPPORTED, self.unsupported is not None),
            (MessageKind.MEDIA, bool(self.media_urls or self.media)),
        ):
            if present:
                return kind
        return MessageKind.TEXT


# An inbound answer keeps the text of what was tapped in its body; an unsupported message may say why.
_KINDS_WITH_TEXT = frozenset({"reply", "unsupported"})


@dataclass(frozen=True, slots=True)
class Message:
    """One WhatsApp message, sent or received by a tenant.

    ``contact`` is the other party (the customer) and ``sender`` the tenant's own number, whichever
    way the message went; ``from_number``/``to_number`` give the wire view.
    """

    tenant_id: UUID
    direction: Direction
    sender: PhoneNumber
    contact: PhoneNumber
    content: MessageContent
    status: MessageStatus
    created_at: datetime
    updated_at: datetime
    provider_sid: str | None = None
    error_code: int | None = None
    error_message: str | None = None
    profile_name: str | None = None  # the contact's WhatsApp profile name, from inbound messages
    wa_id: str | None = None  # the contact's WhatsApp id, from inbound messages
    # Why it failed, in our words (see ``failure``), whichever provider refused it.
    failure_code: FailureCode | None = None
    # The provider that handled it last: set when it is handed to one, or fails.
    provider: ProviderName | None = None
    provider_error_message: str | None = None  # the provider's own words for its error
    # When a scheduled message is (or was) to be sent; None for a message sent at once.
    send_at: datetime | None = None
    # When the retention removed the body and media (the metadata kept); None: the content is whole.
    redacted_at: datetime | None = None
    id: UUID = field(default_factory=uuid4)

    @classmethod
    def new_inbound(
        cls,
        *,
        tenant_id: UUID,
        sender: PhoneNumber,
        contact: PhoneNumber,
        content: MessageContent,
        provider_sid: str,
        now: datetime,
        profile_name: str | None = None,
        wa_id: str | None = None,
    ) -> Message:
        return cls(
            tenant_id=tenant_id,
            direction=Direction.INBOUND,
            sender=sender,
            contact=contact,
            content=content,
            status=MessageStatus.RECEIVED,
            created_at=now,
            updated_at=now,
            provider_sid=provider_sid,
            profile_name=profile_name,
            wa_id=wa_id,
        )

    @classmethod
    def new_outbound(
        cls,
        *,
        tenant_id: UUID,
        sender: PhoneNumber,
        contact: PhoneNumber,
        content: MessageContent,
        now: datetime,
        send_at: datetime | None = None,
    ) -> Message:
        """A message to send now, or at ``send_at`` (then it waits as ``scheduled``)."""
        return cls(
            tenant_id=tenant_id,
            direction=Direction.OUTBOUND,
            sender=sender,
            contact=contact,
            content=content,
            status=MessageStatus.ACCEPTED if send_at is None else MessageStatus.SCHEDULED,
            created_at=now,
            updated_at=now,
            send_at=send_at,
        )

    @property
    def is_free_form(self) -> bool:
        """Free-form messages (not templates) may only be sent inside the contact's session window."""
        return self.content.template is None

    @property
    def from_number(self) -> PhoneNumber:
        return self.sender if self.direction is Direction.OUTBOUND else self.contact

    @property
    def to_number(self) -> PhoneNumber:
        return self.contact if self.direction is Direction.OUTBOUND else self.sender

    @property
    def failure(self) -> Failure | None:
        """Why the message failed, when it did (failed or undelivered)."""
        return failure_of(
            self.status,
            self.failure_code,
            self.provider,
            self.error_code,
            self.provider_error_message,
            self.error_message,
        )

    @property
    def may_be_retried(self) -> bool:
        """Whether the message may be sent again: only a failed outbound one (an undelivered one was taken
        by the provider, which could not deliver it), whose content the retention has not removed."""
        return (
            self.direction is Direction.OUTBOUND
            and self.status is MessageStatus.FAILED
            and self.redacted_at is None
        )

    def handed_to_provider(
        self,
        provider_sid: str,
        status: MessageStatus,
        now: datetime,
        *,
        provider: ProviderName | None = None,
    ) -> Message:
        return replace(
            self,
            provider_sid=provider_sid,
            status=status,
            provider=provider or self.provider,
            updated_at=now,
        )

    def accepted_again(self, now: datetime) -> Message:
        """A failed message, retried: back to accepted, with the last attempt's traces cleared."""
        return replace(
            self,
            status=MessageStatus.ACCEPTED,
            provider_sid=None,
            error_code=None,
            error_message=None,
            failure_code=None,
            provider=None,
            provider_error_message=None,
            updated_at=now,
        )

    def rescheduled(self, send_at: datetime, now: datetime) -> Message:
        """A scheduled message, moved to another time."""
        if self.status is not MessageStatus.SCHEDULED:
            raise InvalidMessage(f"only a scheduled message can be rescheduled; this one is {self.status}")
        return replace(self, send_at=send_at, updated_at=now)

    def due(self, now: datetime) -> Message:
        """A scheduled message whose time has come: accepted, to be dispatched like any other."""
        if self.status is not MessageStatus.SCHEDULED:
            raise InvalidMessage(f"only a scheduled message becomes due; this one is {self.status}")
        return replace(self, status=MessageStatus.ACCEPTED, updated_at=now)

    def canceled(self, now: datetime) -> Message:
        """A scheduled message called off: it is never sent."""
        if not self.status.can_advance_to(MessageStatus.CANCELED):
            raise InvalidMessage(f"only a scheduled message can be canceled; this one is {self.status}")
        return replace(self, status=MessageStatus.CANCELED, updated_at=now)

    def failed(self, failure: Failure, now: datetime) -> Message:
        return replace(
            self,
            status=MessageStatus.FAILED,
            error_code=failure.provider_code,
            error_message=failure.reason,
            failure_code=failure.code,
            provider=failure.provider or self.provider,
            provider_error_message=failure.provider_message,
            updated_at=now,
        )


def failure_of(
    status: MessageStatus,
    failure_code: FailureCode | None,
    provider: ProviderName | None,
    error_code: int | None,
    provider_error_message: str | None,
    error_message: str | None,
) -> Failure | None:
    """The failure a message in ``status`` with these fields shows: None unless it failed or was not
    delivered; a failure nobody classified is ``unknown``."""
    if not status.is_failure:
        return None
    return Failure(
        code=failure_code or FailureCode.UNKNOWN,
        provider=provider,
        provider_code=error_code,
        provider_message=provider_error_message,
        reason=error_message,
    )


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """One status report about a message, as received; the timeline keeps each distinct one, applied or
    not (a repeat of the same report is not another one)."""

    message_id: UUID
    status: MessageStatus
    received_at: datetime
    applied: bool
    error_code: int | None = None
    error_message: str | None = None
    # The provider's pricing category of the message (Meta's: marketing, utility, authentication,
    # service …), as its report gave it: kept for cost reports.
    pricing_category: str | None = None
