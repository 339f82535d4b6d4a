"""The built-in sandbox provider: behaves like Twilio, sends nothing over any network."""

from __future__ import annotations

import asyncio
import logging
import secrets

from application.ports.messages import StatusChange
from application.ports.providers import (
    LookupResult,
    OutboundRequest,
    OutcomeKind,
    ProviderLookup,
    ReadReceipt,
    ReadReceiptOutcome,
    SendOutcome,
    StatusListener,
)
from domain.administration.tenancy import ProviderName
from domain.messaging.failures import FailureCode
from domain.messaging.messages import MessageContent, MessageStatus

logger = logging.getLogger(__name__)

# Twilio's documented magic "To" numbers for test credentials, the error each one produces, and the
# reason and failure code a message refused by it keeps (as the Twilio adapter words and maps it).
MAGIC_FAILURES: dict[str, tuple[int, str, FailureCode]] = {
    "+15005550001": (
        21211,
        "the 'To' number is not a valid phone number",
        FailureCode.RECIPIENT_INVALID,
    ),
    "+15005550002": (
        21612,
        "Twilio cannot route a message to this number",
        FailureCode.RECIPIENT_UNAVAILABLE,
    ),
    "+15005550003": (
        21408,
        "sending to this region is not enabled on the Twilio account",
        FailureCode.ACCOUNT_MISCONFIGURED,
    ),
    "+15005550004": (
        21610,
        "the recipient has opted out of messages from this sender",
        FailureCode.RECIPIENT_OPTED_OUT,
    ),
    "+15005550009": (
        21614,
        "the 'To' number is not a mobile number",
        FailureCode.RECIPIENT_INVALID,
    ),
}


def new_message_sid() -> str:
    """A Twilio-shaped message id: ``SM`` and 32 hex digits."""
    return "SM" + secrets.token_hex(16)


class SandboxMessagingProvider:
    """Accepts every message of every kind (but Twilio's magic failing numbers) and reports queued → sent
    → delivered.

    Status reports go to ``listener`` after the configured delays, as Twilio's status callbacks would.
    """

    def __init__(
        self,
        listener: StatusListener,
        *,
        sent_after_seconds: float = 0.2,
        delivered_after_seconds: float = 1.0,
    ) -> None:
        self._listener = listener
        self._sent_after = sent_after_seconds
        self._delivered_after = delivered_after_seconds
        self._progressions: set[asyncio.Task[None]] = set()

    def unsupported(self, provider: ProviderName, content: MessageContent) -> str | None:
        return None  # it sends nothing anywhere, so it can send anything

    async def mark_read(self, request: OutboundRequest, *, typing_indicator: bool) -> ReadReceipt:
        return ReadReceipt(ReadReceiptOutcome.MARKED)  # nobody is there to see it

    async def send(self, request: OutboundRequest) -> SendOutcome:
        failure = MAGIC_FAILURES.get(request.message.contact.e164)
        if failure is not None:
            code, reason, failure_code = failure
            return SendOutcome(
                kind=OutcomeKind.REJECTED, error_code=code, reason=reason, failure_code=failure_code
            )
        sid = new_message_sid()
        task = asyncio.create_task(self._progress(sid))
        self._progressions.add(task)
        task.add_done_callback(self._progressions.discard)
        return SendOutcome(kind=OutcomeKind.ACCEPTED, provider_sid=sid, status=MessageStatus.QUEUED)

    async def lookup(self, request: OutboundRequest) -> ProviderLookup:
        # The sandbox always answers, so no outcome of it is ever unknown: there is nothing to find.
        return ProviderLookup(result=LookupResult.NOT_FOUND)

    async def _progress(self, sid: str) -> None:
        try:
            await asyncio.sleep(self._sent_after)
            await self._listener(StatusChange(provider_sid=sid, status=MessageStatus.SENT))
            await asyncio.sleep(max(0.0, self._delivered_after - self._sent_after))
            await self._listener(StatusChange(provider_sid=sid, status=MessageStatus.DELIVERED))
        except asyncio.CancelledError:
            raise
        except Exception:
            # A lost simulated callback is what Twilio's real ones sometimes are; log it, never crash.
            logger.exception("sandbox status report for %s failed", sid)

    async def aclose(self) -> None:
        for task in list(self._progressions):
            task.cancel()
        await asyncio.gather(*self._progressions, return_exceptions=True)
