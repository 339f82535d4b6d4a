"""Twilio's webhooks: incoming WhatsApp messages, and delivery status callbacks for the ones we sent.

Nothing in a webhook is believed before its signature is. The tenant is found from its own WhatsApp
number (``To`` of an inbound message, ``From`` of a status callback) together with ``AccountSid``: the
same number can serve several tenants (Twilio's shared sandbox number does), each on its own Twilio
account. The signature must then verify with that tenant's auth token over the URL Twilio called and
every field it posted; only then are the fields this module uses decoded. Anything else is one
``WebhookRejected``, and nothing is stored.

What a sender that cannot sign costs is bounded, and Twilio's own traffic is never held back by it.
Twilio posts every tenant's callbacks from a few shared addresses, so a limit on failures per address
alone would let one tenant's rotated auth token, a number removed here but still configured at Twilio,
or forgeries through a proxy the gateway was not told about (TRUSTED_PROXIES) lock every tenant out,
and Twilio does not post a refused webhook again. So:

1. A webhook that cannot be Twilio's (no signature of Twilio's form, no Twilio account, no phone
   number) is refused at once: no lookup, nothing counted.
2. ``TwilioSigners`` knows every configured number's account and auth token (one query, kept a few
   seconds, shared by concurrent webhooks). A webhook it verifies is Twilio's, for a configured
   number, and goes on without a limit: no failure anywhere holds it back.
3. Any other webhook (a wrong signature, a number or account not configured, or one configured in
   the last few seconds) is checked against the database, as an attempt counted *before* the
   lookup: ``failure_limit`` per client address, Twilio account and number, and ten times that per
   client address. One that verifies is given back (and makes ``TwilioSigners`` read again); one that
   fails stays counted. Past a limit, RateLimited before any lookup. A tenant whose token went stale
   thus spends its own account and number's allowance, a fraction of the address's, and never
   another tenant's; what forgers can make the database do is bounded per address.
"""

from __future__ import annotations

import enum
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

from application.errors import (
    AlreadyExists,
    CredentialsUnreadable,
    InvalidInput,
    StorageUnavailable,
    WebhookRejected,
)
from application.ports.clock import Clock
from application.ports.messages import StatusChange
from application.ports.metrics import Metrics
from application.ports.principal import UNKNOWN_CLIENT_ADDRESS
from application.ports.provider_callbacks import TwilioSigner, WebhookSignatureVerifier
from application.ports.rate_limits import RateLimit, RateLimiter
from application.ports.unit_of_work import UnitOfWork
from application.rate_limits import CountedLimit, attempt
from application.shared_outcome import SharedOutcome
from application.tenant_webhooks.events import record_message_received, record_status_changed
from domain.administration.tenancy import ProviderName, is_twilio_account_sid
from domain.errors import InvalidPhoneNumber
from domain.messaging.messages import Message, MessageContent, MessageStatus
from domain.messaging.provider_errors import describe_error
from domain.phone import PhoneNumber

logger = logging.getLogger(__name__)

_MESSAGE_SID = re.compile(r"[A-Z]{2}[0-9a-fA-F]{32}")
_WA_ID = re.compile(r"[0-9]{1,32}")
_MAX_PROFILE_NAME = 256
_MAX_ERROR_MESSAGE = 1000

# Twilio's MessageStatus values → ours. Twilio's "accepted" and "scheduled" mean Twilio has the message
# and will send it: queued, as far as we are concerned (our own ``accepted`` means "not yet handed over").
# A canceled message (a scheduled one called off) will never be sent: failed, which is final.
# "partially_delivered" (some parts of a multi-part message arrived) is not delivered: sent is the most
# it proves. "receiving"/"received" describe inbound messages and never apply to one we sent: ignored,
# like any status Twilio may add in the future.
TWILIO_STATUSES: Mapping[str, MessageStatus] = {
    "accepted": MessageStatus.QUEUED,
    "scheduled": MessageStatus.QUEUED,
    "queued": MessageStatus.QUEUED,
    "sending": MessageStatus.SENDING,
    "sent": MessageStatus.SENT,
    "partially_delivered": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "failed": MessageStatus.FAILED,
    "undelivered": MessageStatus.UNDELIVERED,
    "canceled": MessageStatus.FAILED,
}
_CANCELED_REASON = "the message was canceled before it was sent"


@dataclass(frozen=True, slots=True)
class SignedWebhook:
    """A webhook as it arrived: what the signature covers, and the signature.

    ``url`` is the full URL as Twilio called it (the public one, query string included), ``params``
    every posted field with all its values, in the order posted, and ``signature`` the
    ``X-Twilio-Signature`` header ("" when there was none). ``client_address`` is where it came from:
    failed checks are counted against it.
    """

    url: str
    params: Mapping[str, Sequence[str]]
    signature: str
    client_address: str = UNKNOWN_CLIENT_ADDRESS

    def field(self, name: str) -> str:
        """The first value of a posted field, "" if it was not posted.

        U+0000 comes back as U+FFFD: PostgreSQL text cannot hold it, and a customer's message is kept
        rather than lost over one character. The signature is checked over ``params``, as posted.
        """
        values = self.params.get(name)
        return values[0].replace("\x00", "\ufffd") if values else ""


@dataclass(frozen=True, slots=True)
class InboundMessageWebhook(SignedWebhook):
    """Twilio's POST to a number's messaging webhook: a customer wrote to one of our numbers."""


@dataclass(frozen=True, slots=True)
class StatusCallbackWebhook(SignedWebhook):
    """Twilio's POST to a message's StatusCallback URL: the message moved on (or failed)."""


class SignatureFailureLimit:
    """Failed signature checks counted per client address, Twilio account and number (``limit``), and
    per client address (``ADDRESS_FACTOR`` times ``limit``). None or an amount of 0: no limit."""

    SCOPE = "twilio-signature-failures"
    # The whole address may fail this many times what one account and number may: one misconfigured
    # tenant or number fills its own allowance long before the address's, which only rotating
    # accounts and numbers (forgeries) reach.
    ADDRESS_FACTOR = 10

    def __init__(self, limit: RateLimit | None) -> None:
        self._limit = limit if limit is not None and limit.amount > 0 else None

    def counted(self, address: str, account_sid: str, number: PhoneNumber) -> list[CountedLimit]:
        if self._limit is None:
            return []
        per_address = RateLimit(self._limit.amount * self.ADDRESS_FACTOR, self._limit.per_seconds)
        return [
            CountedLimit(
                f"{self.SCOPE}:address:{address}:account:{account_sid}:number:{number.identity}",
                self._limit,
                "too many webhooks for this Twilio account and number from this address failed their "
                "signature check; wait before posting more",
                scope=self.SCOPE,
            ),
            CountedLimit(
                f"{self.SCOPE}:address:{address}",
                per_address,
                "too many webhooks from this address failed their signature check; wait before posting more",
                scope=self.SCOPE,
            ),
        ]


class TwilioSigners:
    """Every configured Twilio sender's number, account and auth token, read in one query and kept
    ``max_age_seconds``; webhooks arriving meanwhile share one read. A sender added or a token changed
    is known here at the latest ``max_age_seconds`` later (sooner once a webhook for it verified
    against the database). What it knows only decides whether a webhook must be counted: the database
    still decides whom a webhook is for. When the database cannot be read, it knows nobody. The tokens
    stay in this process's memory meanwhile, opened, as every check against the database opens them.
    """

    def __init__(
        self,
        new_uow: Callable[[], UnitOfWork],
        *,
        max_age_seconds: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._new_uow = new_uow
        self._signers = SharedOutcome(self._read, max_age_seconds=max_age_seconds, monotonic=monotonic)

    async def auth_tokens(self, number: PhoneNumber, account_sid: str) -> list[str]:
        """The auth tokens that may sign webhooks for ``number`` on the account ``account_sid``."""
        try:
            signers = await self._signers.get()
        except StorageUnavailable:
            return []
        return [
            signer.auth_token
            for signer in signers.get(number.identity, ())
            if signer.account_sid == account_sid
        ]

    def forget(self) -> None:
        """What is known is out of date (a webhook just verified that was not known): read again."""
        self._signers.forget()

    async def _read(self) -> dict[str, list[TwilioSigner]]:
        uow = self._new_uow()
        async with uow:
            signers = await uow.tenants.twilio_signers()
        by_number: dict[str, list[TwilioSigner]] = {}
        for signer in signers:
            by_number.setdefault(signer.phone_number.identity, []).append(signer)
        return by_number


@dataclass(frozen=True, slots=True)
class _Screened:
    known: bool  # TwilioSigners verified it
    counted: list[CountedLimit]  # what checking it against the database is counted against


class _Authenticator:
    """Which tenants a webhook proves it is for: the owners of the number whose Twilio account is
    ``AccountSid`` and whose auth token signed it (oldest sender first). Refuses when there are none.

    ``screen`` runs first, outside any transaction: it refuses, without a lookup, a webhook that cannot
    be Twilio's, and says what the check must be counted against (nothing, for a webhook ``signers``
    verified). The caller counts it as an attempt that fails with WebhookRejected.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        verifier: WebhookSignatureVerifier,
        failures: SignatureFailureLimit,
        signers: TwilioSigners | None,
    ) -> None:
        self._uow = uow
        self._verifier = verifier
        self._failures = failures
        self._signers = signers

    async def screen(self, webhook: SignedWebhook, number_field: str) -> _Screened:
        raw_number, account_sid = webhook.field(number_field), webhook.field("AccountSid")
        # What cannot be Twilio's is noise from anyone: its request line says enough, and a warning each
        # would let anyone flood the log. A wrong signature for a real number (below) is worth one.
        noise = logging.DEBUG
        if not self._verifier.is_well_formed(webhook.signature):
            _refuse(webhook, "missing or malformed signature", raw_number, account_sid, level=noise)
        if not is_twilio_account_sid(account_sid):
            _refuse(webhook, "AccountSid is not a Twilio account", raw_number, account_sid, level=noise)
        try:
            number = PhoneNumber.parse(raw_number)
        except InvalidPhoneNumber:
            _refuse(webhook, f"{number_field} is not a phone number", raw_number, account_sid, level=noise)
        if self._signers is not None and any(
            self._signed_with(webhook, token)
            for token in await self._signers.auth_tokens(number, account_sid)
        ):
            return _Screened(known=True, counted=[])
        counted = self._failures.counted(webhook.client_address, account_sid, number)
        return _Screened(known=False, counted=counted)

    async def tenants(self, webhook: SignedWebhook, number_field: str, *, known: bool) -> list[UUID]:
        """The tenants, read in the caller's transaction. ``known``: ``screen`` verified it already
        (else it is news for ``signers``)."""
        raw_number, account_sid = webhook.field(number_field), webhook.field("AccountSid")
        number = PhoneNumber.parse(raw_number)
        senders = await self._uow.senders.find_all_by_number(number)
        if not senders:
            _refuse(webhook, "no tenant has this number", raw_number, account_sid)
        accounts_matched = 0
        verified: list[UUID] = []
        for sender in senders:
            try:
                credentials = await self._uow.tenants.get_twilio_credentials(sender.tenant_id)
            except CredentialsUnreadable:
                logger.error(
                    "tenant %s: stored Twilio credentials do not open; webhook skipped for it",
                    sender.tenant_id,
                )
                continue
            if credentials is None or credentials.account_sid != account_sid:
                continue
            accounts_matched += 1
            if self._signed_with(webhook, credentials.auth_token):
                verified.append(sender.tenant_id)
        if not verified:
            why = "bad or missing signature" if accounts_matched else "the account does not own this number"
            _refuse(webhook, why, raw_number, account_sid)
        if not known and self._signers is not None:
            self._signers.forget()
        return verified

    def _signed_with(self, webhook: SignedWebhook, auth_token: str) -> bool:
        return self._verifier.is_valid(
            url=webhook.url, params=webhook.params, signature=webhook.signature, auth_token=auth_token
        )


def _refuse(
    webhook: SignedWebhook, reason: str, number: str, account_sid: str, *, level: int = logging.WARNING
) -> NoReturn:
    logger.log(
        level,
        "Twilio webhook refused: %s (number %r, AccountSid %r, from %s)",
        reason,
        number[:64],
        account_sid[:64],
        webhook.client_address[:64],
    )
    raise WebhookRejected()


@dataclass(frozen=True, slots=True)
class InboundReceipt:
    message: Message
    duplicate: bool  # Twilio delivered this MessageSid before: nothing was stored this time


class ReceiveInboundMessage:
    """Store a customer's message once, however often Twilio delivers it, and update the conversation.

    Duplicates are recognised by ``MessageSid``: looked up first, and a concurrent twin that still
    reaches the unique index is recognised after the fact. The message, its conversation and its
    ``message.received`` event for the tenant's webhooks are written in one transaction.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        verifier: WebhookSignatureVerifier,
        clock: Clock,
        *,
        limiter: RateLimiter | None = None,
        failure_limit: RateLimit | None = None,
        signers: TwilioSigners | None = None,
    ) -> None:
        self._uow = uow
        self._limiter = limiter
        self._authenticator = _Authenticator(uow, verifier, SignatureFailureLimit(failure_limit), signers)
        self._clock = clock

    async def __call__(self, webhook: InboundMessageWebhook) -> InboundReceipt:
        screened = await self._authenticator.screen(webhook, "To")
        async with attempt(self._limiter, screened.counted, failure=WebhookRejected):
            try:
                return await self._receive(webhook, known=screened.known)
            except AlreadyExists:
                # Another request stored this MessageSid between our lookup and our insert.
                async with self._uow:
                    existing = await self._uow.messages.get_by_provider_sid(_message_sid(webhook))
                if existing is None:
                    raise
                return InboundReceipt(message=existing, duplicate=True)

    async def _receive(self, webhook: InboundMessageWebhook, *, known: bool) -> InboundReceipt:
        async with self._uow:
            tenants = await self._authenticator.tenants(webhook, "To", known=known)
            if len(tenants) > 1:
                logger.warning(
                    "tenants %s share number %s and Twilio account %s: the inbound message goes to the "
                    "oldest sender's tenant",
                    ", ".join(map(str, tenants)),
                    webhook.field("To"),
                    webhook.field("AccountSid"),
                )
            sid = _message_sid(webhook)
            existing = await self._uow.messages.get_by_provider_sid(sid)
            if existing is not None:
                return InboundReceipt(message=existing, duplicate=True)
            message = Message.new_inbound(
                tenant_id=tenants[0],
                sender=PhoneNumber.parse(webhook.field("To")),
                contact=PhoneNumber.parse(webhook.field("From")),
                content=_inbound_content(webhook),
                provider_sid=sid,
                now=self._clock.now(),
                profile_name=webhook.field("ProfileName").strip()[:_MAX_PROFILE_NAME] or None,
                wa_id=wa_id if _WA_ID.fullmatch(wa_id := webhook.field("WaId")) else None,
            )
            await self._uow.messages.add(message)
            await self._uow.conversations.record_message(message)
            await record_message_received(self._uow, message, message.created_at)
            await self._uow.commit()
        return InboundReceipt(message=message, duplicate=False)


class CallbackOutcome(enum.StrEnum):
    APPLIED = "applied"  # the message moved forward
    # Stale (logged in the timeline) or a repeat (logged already): the status stays.
    NOT_APPLIED = "not_applied"
    UNKNOWN_MESSAGE = "unknown_message"  # no message of the tenant has this MessageSid
    IGNORED_STATUS = "ignored_status"  # not a status of an outbound message (or one we do not know)


@dataclass(frozen=True, slots=True)
class CallbackResult:
    outcome: CallbackOutcome
    message: Message | None = None  # the advanced message, when APPLIED


class RecordStatusCallback:
    """Apply a signed status callback: forward only, every distinct report kept in the message's timeline.

    Callbacks arrive out of order and more than once; the repository's conditional update decides
    whether one moves the message. A callback can also overtake the send's own record of the
    MessageSid: the StatusCallback URL carries our ``message_id``, and the sid is attached from it.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        verifier: WebhookSignatureVerifier,
        clock: Clock,
        *,
        metrics: Metrics,
        limiter: RateLimiter | None = None,
        failure_limit: RateLimit | None = None,
        signers: TwilioSigners | None = None,
    ) -> None:
        self._uow = uow
        self._limiter = limiter
        self._authenticator = _Authenticator(uow, verifier, SignatureFailureLimit(failure_limit), signers)
        self._clock = clock
        self._metrics = metrics

    async def __call__(self, webhook: StatusCallbackWebhook) -> CallbackResult:
        screened = await self._authenticator.screen(webhook, "From")
        async with attempt(self._limiter, screened.counted, failure=WebhookRejected):
            return await self._record(webhook, known=screened.known)

    async def _record(self, webhook: StatusCallbackWebhook, *, known: bool) -> CallbackResult:
        async with self._uow:
            tenants = await self._authenticator.tenants(webhook, "From", known=known)
            sid = _message_sid(webhook)
            reported = webhook.field("MessageStatus") or webhook.field("SmsStatus")
            status = TWILIO_STATUSES.get(reported.lower())
            if status is None:
                logger.info("status callback for %s ignored: status %r", sid, reported[:40])
                return CallbackResult(CallbackOutcome.IGNORED_STATUS)
            if not await self._find_message(webhook, tenants, sid):
                logger.info("status callback %r for unknown message %s ignored", reported, sid)
                return CallbackResult(CallbackOutcome.UNKNOWN_MESSAGE)
            error_code = _error_code(webhook.field("ErrorCode"))
            error_message = describe_error(
                error_code, webhook.field("ErrorMessage")[:_MAX_ERROR_MESSAGE] or None
            )
            if reported.lower() == "canceled" and error_message is None:
                error_message = _CANCELED_REASON
            change = StatusChange(
                provider_sid=sid, status=status, error_code=error_code, error_message=error_message
            )
            advanced = await self._uow.messages.advance_status(change, self._clock.now())
            if advanced is not None:
                await record_status_changed(self._uow, advanced, advanced.updated_at)
            await self._uow.commit()
        if advanced is None:
            return CallbackResult(CallbackOutcome.NOT_APPLIED)
        self._metrics.message_status(ProviderName.TWILIO, advanced.status, advanced.tenant_id)
        return CallbackResult(CallbackOutcome.APPLIED, advanced)

    async def _find_message(self, webhook: StatusCallbackWebhook, tenants: list[UUID], sid: str) -> bool:
        """Whether one of ``tenants`` has the message, attaching ``sid`` to it first if need be."""
        message = await self._uow.messages.get_by_provider_sid(sid)
        message_id = _our_message_id(webhook.url)
        if message is None and message_id is not None:
            for tenant_id in tenants:
                if await self._uow.messages.attach_provider_sid(tenant_id, message_id, sid):
                    return True
            # The send's own update, or a concurrent callback, may have attached it meanwhile.
            message = await self._uow.messages.get_by_provider_sid(sid)
        return message is not None and message.tenant_id in tenants


def _message_sid(webhook: SignedWebhook) -> str:
    sid = webhook.field("MessageSid") or webhook.field("SmsSid")
    if not _MESSAGE_SID.fullmatch(sid):
        raise InvalidInput("MessageSid is missing or is not a Twilio message SID")
    return sid


def _inbound_content(webhook: SignedWebhook) -> MessageContent:
    body = webhook.field("Body")
    media_urls = tuple(
        url
        for index in range(_count(webhook.field("NumMedia")))
        if (url := webhook.field(f"MediaUrl{index}"))
    )
    if not body.strip() and not media_urls:
        body = _describe_contentless(webhook)
    return MessageContent(body=body, media_urls=media_urls)


def _describe_contentless(webhook: SignedWebhook) -> str:
    """A line of text for a message without body or media (a shared location, an unsupported type)."""
    latitude, longitude = webhook.field("Latitude"), webhook.field("Longitude")
    if latitude and longitude:
        label = webhook.field("Label") or webhook.field("Address")
        return f"[location {latitude[:20]},{longitude[:20]}]" + (f" {label[:200]}" if label else "")
    kind = webhook.field("MessageType")[:40] or "empty"
    return f"[{kind} message]"


def _count(value: str) -> int:
    return int(value) if value.isdigit() and len(value) <= 3 else 0


def _error_code(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) <= 9 else None


def _our_message_id(url: str) -> UUID | None:
    """The ``message_id`` our provider adapter puts on every StatusCallback URL, if there is one."""
    values = parse_qs(urlsplit(url).query).get("message_id", [])
    try:
        return UUID(values[0]) if len(values) == 1 else None
    except ValueError:
        return None
