"""Twilio's callbacks read into our commands: an incoming WhatsApp message (``InboundMessage``), and a
delivery status callback for one we sent (``StatusReport``).

Each is authenticated first (``callback_authentication.py``); only then are the fields its command
needs decoded. Twilio adds fields without notice: every posted field is signed, only these are read.
"""

from __future__ import annotations

import abc
import logging
import re
from collections.abc import Sequence
from typing import Generic, TypeVar
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

from adapters.twilio.callback_authentication import (
    Screening,
    SignatureFailureLimit,
    TwilioCallbackAuthenticator,
    TwilioSigners,
)
from adapters.twilio.content import inbound_content
from adapters.twilio.errors import failure_code_for, readable_reason
from adapters.twilio.form import SignedForm
from adapters.twilio.statuses import reported_status
from application.errors import InvalidInput
from application.inbound.commands import InboundMessage, StatusReport
from application.ports.provider_callbacks import ProviderCallback
from application.ports.rate_limits import RateLimit
from application.ports.unit_of_work import UnitOfWork
from application.rate_limits import CountedLimit
from domain.administration.tenancy import ProviderName
from domain.messaging.failures import provider_words
from domain.phone import PhoneNumber

logger = logging.getLogger(__name__)

_MESSAGE_SID = re.compile(r"[A-Z]{2}[0-9a-fA-F]{32}")
_WA_ID = re.compile(r"[0-9]{1,32}")
_MAX_PROFILE_NAME = 256
_CANCELED_REASON = "the message was canceled before it was sent"

Command = TypeVar("Command")


class _TwilioCallbacks(abc.ABC, Generic[Command]):
    """One kind of Twilio callback: its tenant's number is in ``number_field``."""

    provider = ProviderName.TWILIO
    number_field: str

    def __init__(
        self, *, failure_limit: RateLimit | None = None, signers: TwilioSigners | None = None
    ) -> None:
        self._authenticator = TwilioCallbackAuthenticator(SignatureFailureLimit(failure_limit), signers)

    async def screen(self, callback: ProviderCallback) -> _ScreenedForm[Command]:
        form = SignedForm.of(callback)
        return _ScreenedForm(self, form, await self._authenticator.screen(form, self.number_field))

    async def tenants(self, uow: UnitOfWork, form: SignedForm, screening: Screening) -> list[UUID]:
        return await self._authenticator.tenants(uow, form, self.number_field, screening)

    @abc.abstractmethod
    def read(self, form: SignedForm) -> Command:
        """The command, from a form that was authenticated."""


class _ScreenedForm(Generic[Command]):
    """A Twilio callback that passed the first look (implements ``ScreenedCallback``)."""

    def __init__(self, callbacks: _TwilioCallbacks[Command], form: SignedForm, screening: Screening) -> None:
        self._callbacks = callbacks
        self._form = form
        self._screening = screening
        self._authenticated = False

    @property
    def counted_against(self) -> Sequence[CountedLimit]:
        return self._screening.counted

    async def authenticate(self, uow: UnitOfWork) -> list[UUID]:
        tenants = await self._callbacks.tenants(uow, self._form, self._screening)
        self._authenticated = True
        return tenants

    def command(self) -> Command:
        if not self._authenticated:  # nothing in a callback is believed before its signature is
            raise RuntimeError("a callback's command is read only after it was authenticated")
        return self._callbacks.read(self._form)


class TwilioInboundMessages(_TwilioCallbacks[InboundMessage]):
    """Twilio's POST to a number's messaging webhook: a customer wrote to one of our numbers (``To``)."""

    number_field = "To"

    async def tenants(self, uow: UnitOfWork, form: SignedForm, screening: Screening) -> list[UUID]:
        tenants = await super().tenants(uow, form, screening)
        if len(tenants) > 1:
            logger.warning(
                "tenants %s share number %s and Twilio account %s: the inbound message goes to the "
                "oldest sender's tenant",
                ", ".join(map(str, tenants)),
                form.field("To"),
                form.field("AccountSid"),
            )
        return tenants

    def read(self, form: SignedForm) -> InboundMessage:
        return InboundMessage(
            provider_message_id=_message_sid(form),
            sender=PhoneNumber.parse(form.field("To")),
            contact=PhoneNumber.parse(form.field("From")),
            content=inbound_content(form),
            profile_name=form.field("ProfileName").strip()[:_MAX_PROFILE_NAME] or None,
            wa_id=wa_id if _WA_ID.fullmatch(wa_id := form.field("WaId")) else None,
        )


class TwilioStatusCallbacks(_TwilioCallbacks[StatusReport]):
    """Twilio's POST to a message's StatusCallback URL: the message moved on (or failed). The tenant's
    number is ``From``."""

    number_field = "From"

    def read(self, form: SignedForm) -> StatusReport:
        sid = _message_sid(form)
        reported = form.field("MessageStatus") or form.field("SmsStatus")
        error_code = _error_code(form.field("ErrorCode"))
        twilio_words = provider_words(form.field("ErrorMessage"))
        error_message = readable_reason(error_code, twilio_words)
        if reported.lower() == "canceled" and error_message is None:
            error_message = _CANCELED_REASON
        return StatusReport(
            provider_message_id=sid,
            status=reported_status(reported),
            reported=reported,
            error_code=error_code,
            error_message=error_message,
            message_id=_our_message_id(form.url),
            failure_code=failure_code_for(error_code),
            provider_error_message=twilio_words,
        )


def _message_sid(form: SignedForm) -> str:
    sid = form.field("MessageSid") or form.field("SmsSid")
    if not _MESSAGE_SID.fullmatch(sid):
        raise InvalidInput("MessageSid is missing or is not a Twilio message SID")
    return sid


def _error_code(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) <= 9 else None


def _our_message_id(url: str) -> UUID | None:
    """The ``message_id`` the provider adapter puts on every StatusCallback URL, if there is one."""
    values = parse_qs(urlsplit(url).query).get("message_id", [])
    try:
        return UUID(values[0]) if len(values) == 1 else None
    except ValueError:
        return None
