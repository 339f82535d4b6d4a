from __future__ import annotations

import asyncio
import dataclasses
import enum
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from application.errors import (
    AccessDenied,
    AlreadyExists,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    InvalidInput,
    MessageNotRetryable,
    NoDefaultSender,
    NotFound,
    RateLimited,
    RecipientOptedOut,
    SessionWindowClosed,
    UnknownMessageReference,
    UnknownSender,
    UnsupportedByProvider,
)
from application.messaging.dispatcher import Dispatcher
from application.messaging.sending_profiles import SendingProfiles
from application.messaging.template_sends import (
    HeaderMedia,
    KeptCatalogue,
    TemplateChoice,
    resolve_template_and_category,
)
from application.ports.clock import Clock
from application.ports.consent import SendConsent
from application.ports.dispatch_queue import DispatchJob
from application.ports.messages import IdempotencyRecord, WriteRefused
from application.ports.metrics import Metrics
from application.ports.providers import MessagingProvider
from application.ports.rate_limits import RateLimit, RateLimiter, Reservation
from application.ports.unit_of_work import UnitOfWork
from application.rate_limits import CountedLimit, count_against, give_back
from domain.administration.tenancy import ProviderName, Sender, Tenant
from domain.consent.model import ConsentPolicy
from domain.errors import DomainError, InvalidMessage
from domain.messaging.content import ContactCard, Interactive, Location, Media, Reaction
from domain.messaging.conversations import Conversation
from domain.messaging.messages import Message, MessageContent, MessageStatus, Template, check_send_at
from domain.phone import PhoneNumber
from domain.templates.definition import TemplateCategory


@dataclass(frozen=True, slots=True)
class SendMessageCommand:
    """What to send, as the client asked for it. ``reaction``'s message and ``reply_to`` name the message
    they point at by the provider's id, or by our message id (then its provider's id is looked up)."""

    tenant_id: UUID
    to_number: str
    body: str = ""
    media_urls: tuple[str, ...] = ()
    from_number: str | None = None
    content_sid: str | None = None  # an approved template (Twilio Content SID) instead of body/media
    content_variables: Mapping[str, str] | None = None  # the template's placeholder values
    media: tuple[Media, ...] = ()  # media of a declared kind, by URL or by uploaded media id
    preview_url: bool = False
    template: Template | None = None  # an approved template by name and language, from the catalogue
    template_header_media: HeaderMedia | None = None  # the file of its media header, if it has one
    # Sent instead when the contact's 24-hour window is closed (a free-form message would be refused).
    fallback_template: TemplateChoice | None = None
    interactive: Interactive | None = None
    location: Location | None = None
    contacts: tuple[ContactCard, ...] = ()
    reaction: Reaction | None = None
    reply_to: str | None = None
    idempotency_key: str | None = None
    respond_async: bool = False  # answer once the message is accepted, without waiting for the provider
    send_at: datetime | None = None  # send then (scheduled), not now: see ``check_send_at`` for the bounds

    def fingerprint(self, contact: PhoneNumber, sender: PhoneNumber | None) -> str:
        """What makes two requests the same request, for idempotency keys: the normalised content
        (the recipient by identity: two forms of one person's number are the same recipient).

        The kinds beyond text, media URLs and Content SID templates are under ``more``, only when there
        are any, so that a plain request keeps the fingerprint it always had.
        """
        fields: dict[str, Any] = {
            "to": contact.identity,
            "from": sender.e164 if sender else None,
            "body": self.body,
            "media": list(self.media_urls),
            "content_sid": self.content_sid,
            "content_variables": dict(sorted((self.content_variables or {}).items())),
        }
        more = _canonical(
            {
                "media": self.media,
                "preview_url": self.preview_url,
                "template": self.template,
                "template_header_media": self.template_header_media,
                "fallback_template": self.fallback_template,
                "interactive": self.interactive,
                "location": self.location,
                "contacts": self.contacts,
                "reaction": self.reaction,
                "reply_to": self.reply_to,
                "send_at": _instant(self.send_at),
            }
        )
        if more:
            fields["more"] = more
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def content(self) -> MessageContent:
        if self.content_sid is not None and self.template is not None:
            raise InvalidMessage(
                "a template is named by content_sid or by template (name and language), not both"
            )
        if self.content_sid is None and self.content_variables:
            raise InvalidMessage(
                "content_variables fill a template: pass its content_sid too "
                "(a template by name takes its values in template.variables)"
            )
        template = (
            Template.of(self.content_sid, self.content_variables)
            if self.content_sid is not None
            else self.template
        )
        return MessageContent(
            body=self.body,
            media_urls=self.media_urls,
            template=template,
            media=self.media,
            preview_url=self.preview_url,
            interactive=self.interactive,
            location=self.location,
            contacts=self.contacts,
            reaction=self.reaction,
            reply_to=self.reply_to,
        )


def _instant(moment: datetime | None) -> str | None:
    """``moment`` as one text per instant, whatever its offset (one out of range as it came)."""
    if moment is None:
        return None
    try:
        return moment.astimezone(UTC).isoformat()
    except (OverflowError, ValueError):
        return moment.isoformat()


def _canonical(value: object) -> Any:
    """``value`` as plain JSON data, leaving out what is unset (None, empty, false), so a field added later
    with an unset default changes no earlier fingerprint."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    if isinstance(value, dict):
        pairs = ((str(name), _canonical(item)) for name, item in value.items())
        return {
            name: item for name, item in pairs if not (item is None or item is False or item in ([], {}, ""))
        }
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value


@dataclass(frozen=True, slots=True)
class SendResult:
    message: Message
    # The provider's answer is in (the message is queued at the provider, or failed): 201. Otherwise
    # the message is accepted and will still be sent: 202.
    dispatched: bool
    # The answer repeats the first request with the same idempotency key; nothing was sent again.
    replayed: bool = False
    # The contact's window was closed, so the request's fallback template was sent instead.
    sent_fallback: bool = False


IDEMPOTENCY_KEY_TTL = timedelta(hours=24)


class TenantSendLimits:
    """The messages a tenant may send per minute and per day: its own limits, or the defaults (0: none).

    Every message that goes to the provider counts once, whether first sent or retried. ``SendMessage``
    counts before it writes, once the request is found valid (a refused request, 422 or 429, counts
    nothing and stores nothing), and gives the count back when the write is not accepted (a replay of
    its idempotency key, a conflict, a database failure). A replay of a key accepted earlier is never
    refused for the limit: over it, the key is looked up and the first answer repeated.
    """

    def __init__(
        self, limiter: RateLimiter | None, sends_per_minute: int = 0, sends_per_day: int = 0
    ) -> None:
        self._limiter = limiter
        self._sends_per_minute = sends_per_minute
        self._sends_per_day = sends_per_day

    def per_minute(self, tenant: Tenant) -> int:
        """What ``tenant`` may send per minute: its own limit, else the default (0: no limit)."""
        return tenant.sends_per_minute or self._sends_per_minute

    def per_day(self, tenant: Tenant) -> int:
        """What ``tenant`` may send per day: its own limit, else the default (0: no limit)."""
        return tenant.sends_per_day or self._sends_per_day

    async def count(self, tenant: Tenant) -> Sequence[Reservation]:
        """Count one send in every window; RateLimited if it goes over a limit, and then it is counted
        in none (a window already counted gives it back). What it counted, for ``give_back``."""
        if self._limiter is None:
            return ()
        windows = (
            (self.per_minute(tenant), 60, "minute"),
            (self.per_day(tenant), 86_400, "day"),
        )
        return await count_against(
            self._limiter,
            [
                CountedLimit(
                    f"sends:tenant:{tenant.id}:{name}",
                    RateLimit(amount=amount, per_seconds=seconds),
                    f"this tenant may send {amount} messages per {name}; wait before sending more",
                    scope=f"tenant-sends-{name}",
                )
                for amount, seconds, name in windows
                if amount > 0
            ],
        )

    async def give_back(self, counted: Sequence[Reservation]) -> None:
        """Uncount a send ``count`` counted that did not happen (its message was not accepted)."""
        if self._limiter is not None:
            await give_back(self._limiter, counted)


NO_SEND_LIMITS = TenantSendLimits(None)


class SendMessage:
    """Accept an outbound message durably, then dispatch it.

    The message, its conversation, its dispatch job and its idempotency key are stored in one
    transaction, so an accepted message is never lost: if this process dies before the provider
    answers, a dispatcher somewhere picks the job up when its lease runs out. Then the request waits
    up to ``wait_seconds`` for the provider (unless the client asked to respond async).

    A message to a person who opted out is refused before anything is stored, unless it is a template
    of a category the tenant's consent policy lets through (authentication, by default). A free-form
    message (not a template) to a contact whose 24-hour session window is closed is
    refused before anything is stored or sent, unless the tenant has that check off (sandbox only). So is
    a message of a kind its provider cannot send (``MessagingProvider.unsupported``).

    A message with ``send_at`` is stored ``scheduled`` with its job due then, and never dispatched
    inline: a worker sends it at its time, and judges a free-form one against the window then
    (``DispatchMessage``), not now.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        dispatcher: Dispatcher,
        clock: Clock,
        *,
        wait_seconds: float,
        metrics: Metrics,
        provider: MessagingProvider,
        send_limits: TenantSendLimits = NO_SEND_LIMITS,
        sending_profiles: SendingProfiles | None = None,
        catalogue: KeptCatalogue | None = None,
    ) -> None:
        self._uow = uow
        self._dispatcher = dispatcher
        self._clock = clock
        self._wait_seconds = wait_seconds
        self._metrics = metrics
        self._provider = provider
        self._send_limits = send_limits
        self._sending_profiles = sending_profiles
        self._catalogue = catalogue

    async def __call__(self, command: SendMessageCommand) -> SendResult:
        contact = PhoneNumber.parse(command.to_number)
        content = command.content()
        requested_sender = PhoneNumber.parse(command.from_number) if command.from_number else None
        fingerprint = command.fingerprint(contact, requested_sender)

        try:
            try:
                message_or_replay = await self._accept(
                    command, contact, content, requested_sender, fingerprint, profile_in_memory=True
                )
            except WriteRefused:
                # Sent with its profile from memory, the write found the recipient opted out, their
                # window closed or the key held, and wrote nothing: accept again reading them, which
                # tells which (and answers it: a refusal, the fallback template, or the replay).
                message_or_replay = await self._accept(
                    command, contact, content, requested_sender, fingerprint, profile_in_memory=False
                )
        except AlreadyExists:
            if command.idempotency_key is None:
                raise
            # Another request with this key committed in the meantime: answer as that one did.
            message_or_replay = await self._replay(command, fingerprint)
        if isinstance(message_or_replay, SendResult):
            return message_or_replay
        message = message_or_replay

        dispatched = False
        if command.send_at is not None:
            pass  # a worker takes it at its time, never inline
        elif command.respond_async:
            self._dispatcher.notify()
        else:
            message, dispatched = await self._dispatch_inline(message)
        if command.idempotency_key is not None and not _answers_at_once(command):
            async with self._uow:
                await self._uow.idempotency.complete(
                    message.tenant_id, command.idempotency_key, _status_code(dispatched)
                )
                await self._uow.commit()
        return SendResult(
            message=message, dispatched=dispatched, sent_fallback=_sent_fallback(command, message)
        )

    async def _accept(
        self,
        command: SendMessageCommand,
        contact: PhoneNumber,
        content: MessageContent,
        requested_sender: PhoneNumber | None,
        fingerprint: str,
        *,
        profile_in_memory: bool,
    ) -> Message | SendResult:
        async with self._uow:
            now = self._clock.now()
            try:
                send_at = _scheduled_for(command, now)
                # With the recipient's opt-out, if they opted out, in the same read; a profile from
                # memory leaves the opt-out (and a window to check) to the write (``consent_read``
                # False): refused there, the caller accepts again the long way.
                tenant, sender, provider, opted_out, consent_read = await self._sending_profile(
                    command.tenant_id, requested_sender, contact.identity, in_memory=profile_in_memory
                )
                content = await self._with_provider_ids(tenant.id, content)
                content, category, fallback, fallback_category = await self._resolve_templates(
                    command, content, tenant, sender, provider
                )
                self._refuse_unsendable(provider, content)
                if opted_out is not None and content.template is None and fallback is None:
                    _refuse_opted_out(contact, opted_out.policy, None)
                # A scheduled message meets the window at its time, not now (``DispatchMessage``).
                checks_window = content.template is None and tenant.enforces_session_window and not send_at
                # Read only when it matters: the window is checked here, or the person's number has
                # more than one form and the conversation knows which one they write from. A number of
                # one form with its profile from memory leaves the window to the write.
                window_left_to_write = checks_window and not consent_read and len(contact.forms) == 1
                checks_window = checks_window and not window_left_to_write
                conversation = (
                    await self._uow.conversations.get(tenant.id, contact)
                    if checks_window or len(contact.forms) > 1
                    else None
                )
                if checks_window and not (conversation is not None and conversation.window_open(now)):
                    if fallback is None:
                        _check_session_window(contact, conversation, now)
                    else:
                        content = MessageContent(template=fallback, reply_to=content.reply_to)
                        category = fallback_category
                        self._refuse_unsendable(provider, content)
                if opted_out is not None:
                    _refuse_opted_out(
                        contact, opted_out.policy, category if content.template is not None else None
                    )
                message = Message.new_outbound(
                    tenant_id=tenant.id,
                    sender=sender.phone_number,
                    contact=conversation.address_for(contact) if conversation else contact,
                    content=content,
                    now=now,
                    send_at=send_at,
                )
            except (
                NotFound,
                AccessDenied,
                UnknownSender,
                NoDefaultSender,
                SessionWindowClosed,
                RecipientOptedOut,
                UnsupportedByProvider,
                UnknownMessageReference,
                InvalidInput,
                DomainError,
            ):
                # A retry of a request accepted earlier gets the first answer, whatever changed since
                # (say, the window closed). Looked up on this refusal path only: a new key needs no
                # read, the write below finds out whether the key is held.
                if command.idempotency_key is not None:
                    existing = await self._uow.idempotency.get(
                        command.tenant_id, command.idempotency_key, now
                    )
                    if existing is not None:
                        return await self._answer_from(command, existing, fingerprint)
                raise
            record = None
            if command.idempotency_key is not None:
                record = IdempotencyRecord(
                    tenant_id=tenant.id,
                    key=command.idempotency_key,
                    request_fingerprint=fingerprint,
                    created_at=now,
                    expires_at=now + IDEMPOTENCY_KEY_TTL,
                    message_id=message.id,
                    # Asked to respond async, the answer (202) is settled by this commit: a retry
                    # whose first answer was lost replays it at once, instead of a 409 "in progress".
                    response_status=_status_code(dispatched=False) if _answers_at_once(command) else None,
                )
            job = (
                DispatchJob.due_now(message, now)
                if send_at is None
                else DispatchJob.scheduled(message, send_at)
            )
            # Counted before the write, so that the write and its commit can go together: a refusal
            # here has written nothing.
            counted = await self._counted_send(command, tenant, now, fingerprint)
            if isinstance(counted, SendResult):
                return counted
            try:
                # Raises AlreadyExists for a key in use: the caller replays. WriteRefused, when the
                # write checks the opt-out or the window: the caller accepts again, reading them.
                await self._uow.acceptance.add(
                    message,
                    job,
                    record,
                    commit=True,
                    unless_opted_out=None if consent_read else contact.identity,
                    only_in_window_at=now if window_left_to_write else None,
                )
                await self._uow.commit()
            except BaseException:
                # Not accepted (a replay, a conflict, the database failed): not a send either.
                await self._send_limits.give_back(counted)
                raise
        self._metrics.message_accepted(tenant.provider, tenant.id)
        return message

    async def _counted_send(
        self, command: SendMessageCommand, tenant: Tenant, now: datetime, fingerprint: str
    ) -> Sequence[Reservation] | SendResult:
        """Count the send against the tenant's limits; over them, the answer to the request accepted
        earlier with the same key, if there is one (a replay is no new send), else RateLimited."""
        try:
            return await self._send_limits.count(tenant)
        except RateLimited:
            if command.idempotency_key is not None:
                existing = await self._uow.idempotency.get(command.tenant_id, command.idempotency_key, now)
                if existing is not None:
                    return await self._answer_from(command, existing, fingerprint)
            raise

    async def _resolve_templates(
        self,
        command: SendMessageCommand,
        content: MessageContent,
        tenant: Tenant,
        sender: Sender,
        provider: ProviderName,
    ) -> tuple[MessageContent, TemplateCategory | None, Template | None, TemplateCategory | None]:
        """``content`` with its template resolved through the catalogue, and the fallback template
        resolved (checked even when the window is open: a broken fallback is refused at once); each
        with its category in the catalogue (None: not a template, or one by Content SID alone)."""
        category = None
        if content.template is not None:
            template, category = await resolve_template_and_category(
                self._uow,
                tenant,
                sender,
                provider,
                TemplateChoice(content.template, command.template_header_media),
                catalogue=self._catalogue,
            )
            content = dataclasses.replace(content, template=template)
        elif command.template_header_media is not None:
            raise InvalidInput("template_header_media: only a template has a header")
        fallback, fallback_category = None, None
        if command.fallback_template is not None:
            if content.template is not None:
                raise InvalidInput(
                    "fallback_template: a template reaches the contact with the window closed too; "
                    "a fallback is for free-form messages"
                )
            fallback, fallback_category = await resolve_template_and_category(
                self._uow,
                tenant,
                sender,
                provider,
                command.fallback_template,
                field="fallback_template",
                catalogue=self._catalogue,
            )
        return content, category, fallback, fallback_category

    def _refuse_unsendable(self, provider: ProviderName, content: MessageContent) -> None:
        """Refuse a message the provider its sender sends through cannot send."""
        reason = self._provider.unsupported(provider, content)
        if reason is not None:
            raise UnsupportedByProvider(reason)

    async def _with_provider_ids(self, tenant_id: UUID, content: MessageContent) -> MessageContent:
        """``content`` with the messages its reaction and its reply point at named by their provider's id,
        where the client named them by ours."""
        reaction, reply_to = content.reaction, content.reply_to
        if reaction is not None:
            provider_id = await self._provider_id(
                tenant_id, reaction.provider_message_id, "reaction.message_id"
            )
            if provider_id != reaction.provider_message_id:
                content = dataclasses.replace(
                    content, reaction=dataclasses.replace(reaction, provider_message_id=provider_id)
                )
        if reply_to is not None:
            provider_id = await self._provider_id(tenant_id, reply_to, "reply_to")
            if provider_id != reply_to:
                content = dataclasses.replace(content, reply_to=provider_id)
        return content

    async def _provider_id(self, tenant_id: UUID, reference: str, field: str) -> str:
        """The provider's id of the message ``reference`` names: ``reference`` itself, unless it is one of
        our message ids."""
        try:
            message_id = UUID(reference)
        except ValueError:
            return reference
        message = await self._uow.messages.get(tenant_id, message_id)
        if message is None:
            raise UnknownMessageReference(f"{field}: this tenant has no message {reference}")
        if message.provider_sid is None:
            raise UnknownMessageReference(
                f"{field}: message {reference} has not reached the provider yet, "
                "so WhatsApp cannot point at it"
            )
        return message.provider_sid

    async def _sending_profile(
        self, tenant_id: UUID, requested_sender: PhoneNumber | None, recipient: str, *, in_memory: bool
    ) -> tuple[Tenant, Sender, ProviderName, SendConsent | None, bool]:
        """The tenant, its sender and provider, the recipient's opt-out, and whether it was read (not
        with a profile from memory: the write checks it then)."""
        profiles = self._sending_profiles if in_memory else None
        sender_number = requested_sender.e164 if requested_sender is not None else None
        found = profiles.get(tenant_id, sender_number) if profiles is not None else None
        consent_read = found is None
        if found is None:
            version = profiles.version() if profiles is not None else None
            found = await self._uow.acceptance.sending_profile(tenant_id, requested_sender, recipient)
            if found is not None and profiles is not None:
                profiles.keep(tenant_id, sender_number, found, version)
        if found is None:
            raise NotFound("the tenant does not exist")
        tenant, sender = found.tenant, found.sender
        if not tenant.is_active:
            raise AccessDenied("the tenant is suspended")
        if sender is None:
            if requested_sender is not None:
                raise UnknownSender(f"{requested_sender} is not one of this tenant's WhatsApp senders")
            raise NoDefaultSender("the tenant has no default sender: pass from_number")
        return tenant, sender, found.provider, found.refusal, consent_read

    async def _replay(self, command: SendMessageCommand, fingerprint: str) -> SendResult:
        assert command.idempotency_key is not None
        async with self._uow:
            existing = await self._uow.idempotency.get(
                command.tenant_id, command.idempotency_key, self._clock.now()
            )
            if existing is None:  # expired in between: vanishingly rare, and safe to refuse
                raise IdempotencyKeyInUse("a request with this Idempotency-Key is being processed")
            return await self._answer_from(command, existing, fingerprint)

    async def _answer_from(
        self, command: SendMessageCommand, record: IdempotencyRecord, fingerprint: str
    ) -> SendResult:
        """Inside a transaction: the answer to a request that reuses an idempotency key."""
        if record.request_fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used for a different request; use a new key for a new message"
            )
        status = record.response_status
        if status is None:
            # A first request that died before answering counts as accepted once it is clearly gone.
            started_long_ago = self._clock.now() - record.created_at > timedelta(
                seconds=self._wait_seconds + 30
            )
            if not started_long_ago:
                raise IdempotencyKeyInUse("a request with this Idempotency-Key is still being processed")
            status = _status_code(dispatched=False)
        message = (
            await self._uow.messages.get(record.tenant_id, record.message_id) if record.message_id else None
        )
        if message is None:
            raise NotFound("the message of this Idempotency-Key no longer exists")
        return SendResult(
            message=message,
            dispatched=status == _status_code(dispatched=True),
            replayed=True,
            sent_fallback=_sent_fallback(command, message),
        )

    async def _dispatch_inline(self, message: Message) -> tuple[Message, bool]:
        job = await self._dispatcher.claim(message.id)
        task = self._dispatcher.start(job) if job is not None else self._dispatcher.running(message.id)
        if task is None:  # a worker in another process took it first
            return message, False
        try:
            # shield: on timeout the dispatch goes on in the background; only the waiting stops.
            settled = await asyncio.wait_for(asyncio.shield(task), self._wait_seconds)
        except TimeoutError:
            return message, False
        if settled is None or settled.status is MessageStatus.ACCEPTED:
            return settled or message, False
        return settled, True


def _sent_fallback(command: SendMessageCommand, message: Message) -> bool:
    """Whether ``message`` is the fallback template ``command`` named (its window was closed): a request
    with a fallback names no template of its own, so a template on the message is the fallback."""
    return command.fallback_template is not None and message.content.template is not None


def _answers_at_once(command: SendMessageCommand) -> bool:
    """Whether the answer (202) is settled as the message is accepted: asked to respond async, or
    scheduled (never dispatched inline)."""
    return command.respond_async or command.send_at is not None


def _scheduled_for(command: SendMessageCommand, now: datetime) -> datetime | None:
    """When the message is to be sent, in UTC, if it is scheduled (within the bounds)."""
    if command.send_at is None:
        return None
    send_at = check_send_at(command.send_at, now)
    if command.fallback_template is not None:
        raise InvalidInput(
            "fallback_template: a scheduled message meets the 24-hour window at its send_at, where a "
            "closed window fails it; schedule a template instead to reach the contact whatever the window"
        )
    return send_at


def _status_code(dispatched: bool) -> int:
    return 201 if dispatched else 202


def _check_session_window(contact: PhoneNumber, conversation: Conversation | None, now: datetime) -> None:
    """Free-form messages reach a contact only within 24 hours of the contact's last message."""
    if conversation is not None and conversation.window_open(now):
        return
    if conversation is None or conversation.last_inbound_at is None:
        why = f"{contact} has not written to you yet"
    else:
        why = f"{contact} last wrote at {_iso(conversation.last_inbound_at)}, at least 24 hours ago"
    raise SessionWindowClosed(
        f"the 24-hour session window is closed: {why}. Outside it WhatsApp delivers only approved "
        "templates: send one (template, or content_sid and content_variables) instead of a free-form "
        "message, or name a fallback_template to be sent when the window is closed"
    )


def _refuse_opted_out(contact: PhoneNumber, policy: ConsentPolicy, category: TemplateCategory | None) -> None:
    """A person who opted out gets only templates of the categories the tenant's policy lets through
    (``category`` None: not a template, or one the catalogue does not hold)."""
    if policy.allows(category):
        return
    allowed = ", ".join(sorted(c.value for c in policy.allowed_categories)) or "none"
    raise RecipientOptedOut(
        f"{contact} opted out of messages from this tenant; until they opt in again (by writing START, "
        f"or POST /api/consent/{{phone}}) only templates of these categories reach them: {allowed}"
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class RetryMessage:
    """Send a failed outbound message again, as the same message (its history shows both attempts).

    A retry is a send: it counts against the tenant's send limits like POST /api/send, and one
    refused by them leaves the message failed as it was.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        dispatcher: Dispatcher,
        clock: Clock,
        *,
        send_limits: TenantSendLimits = NO_SEND_LIMITS,
    ) -> None:
        self._uow = uow
        self._dispatcher = dispatcher
        self._clock = clock
        self._send_limits = send_limits

    async def __call__(self, tenant_id: UUID, message_id: UUID) -> Message:
        async with self._uow:
            message = await self._uow.messages.get(tenant_id, message_id)
            if message is None:
                raise NotFound("no such message")
            if not message.may_be_retried:
                raise MessageNotRetryable(
                    f"only failed outbound messages can be retried; this one is {message.status}"
                )
            tenant = await self._uow.tenants.get(tenant_id)
            if tenant is None or not tenant.is_active:
                raise AccessDenied("the tenant is suspended")
            now = self._clock.now()
            if message.is_free_form and tenant.enforces_session_window:
                conversation = await self._uow.conversations.get(tenant_id, message.contact)
                _check_session_window(message.contact, conversation, now)
            retried = message.accepted_again(now)
            await self._uow.messages.update(retried)
            await self._uow.jobs.enqueue(DispatchJob.due_now(message, now))
            await self._send_limits.count(tenant)
            await self._uow.commit()
        self._dispatcher.notify()
        return retried
