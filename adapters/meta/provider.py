"""Sending WhatsApp messages through each tenant's WhatsApp Business Account on Meta's Cloud API.

Meta ships no official Python SDK. The best-kept community one, pywa, is built on httpx and its own
handler framework and error classes; the gateway needs none of that, and needs what it would hide: its
own per-request timeouts, telling a connection that never opened (safe to retry) from a request that
got no answer (never resent blindly), its own error table, and an emulator's base URL. So the Graph API
is called through a thin client of our own (``graph.py``) over the aiohttp the gateway already uses.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import aiohttp

from adapters.meta.errors import refused_send
from adapters.meta.graph import (
    GraphApiClient,
    GraphFailure,
    GraphNoAnswer,
    GraphRefused,
    GraphUnreachable,
    JsonObject,
    MediaTooLarge,
)
from adapters.meta.message_bodies import message_body, unsupported
from adapters.meta.statuses import status_at_meta
from application.errors import MediaTooLarge as FileTooLarge
from application.ports.media import FetchedMedia, MediaFetchFailed
from application.ports.providers import (
    LookupResult,
    OutboundRequest,
    OutcomeKind,
    ProviderLookup,
    ReadReceipt,
    ReadReceiptOutcome,
    SendOutcome,
)
from domain.administration.tenancy import MetaCredentials, ProviderAccount, ProviderName
from domain.messaging.content import Media
from domain.messaging.failures import FailureCode
from domain.messaging.messages import MessageContent

logger = logging.getLogger(__name__)

_MAX_WAMID_LENGTH = 256


class NotAMetaAccount(GraphFailure):
    def __init__(self) -> None:
        super().__init__("the account is not a Meta (WhatsApp Cloud API) account")


class MetaMessagingProvider:
    """Sends messages with the Graph API (``POST /{version}/{phone-number-id}/messages``) using the
    account's access token; also marks inbound messages read and uploads and downloads media.

    ``api_base_url`` replaces ``https://graph.facebook.com`` (an emulator); ``timeout_seconds`` bounds
    each call. The HTTP session opens on first use, inside the running loop; ``aclose()`` closes it.
    """

    def __init__(
        self,
        *,
        timeout_seconds: float = 10.0,
        api_base_url: str | None = None,
        download_timeout_seconds: float = 60.0,
    ) -> None:
        self._graph = GraphApiClient(
            base_url=api_base_url,
            timeout_seconds=timeout_seconds,
            download_timeout_seconds=download_timeout_seconds,
        )

    def unsupported(self, provider: ProviderName, content: MessageContent) -> str | None:
        """Why Meta cannot send ``content`` (several media in one message, a Twilio template, a
        caption on audio …), in words a person can act on; None when it can."""
        return unsupported(content)

    async def send(self, request: OutboundRequest) -> SendOutcome:
        credentials = _credentials_of(request.account)
        problem = _refusal_before_sending(request, credentials)
        if problem is not None or credentials is None or request.provider_number_id is None:
            set_up = credentials is not None and request.provider_number_id
            return SendOutcome(
                kind=OutcomeKind.REJECTED,
                reason=problem,
                # Not set up to send through Meta, or a message Meta cannot take.
                failure_code=FailureCode.UNSUPPORTED_CONTENT if set_up else FailureCode.ACCOUNT_MISCONFIGURED,
            )
        message = request.message
        body = message_body(
            message.content, to=message.contact.e164.removeprefix("+"), callback_data=str(message.id)
        )
        try:
            answer = await self._graph.post_json(credentials, (request.provider_number_id, "messages"), body)
        except GraphRefused as refusal:
            return refused_send(refusal.error)
        except GraphUnreachable as error:
            # The connection was never made, so Meta cannot have the message.
            return SendOutcome(
                kind=OutcomeKind.RETRYABLE, reason=str(error), failure_code=FailureCode.PROVIDER_ERROR
            )
        except GraphNoAnswer as error:
            # Sent, but no usable answer: the message may exist at Meta.
            return SendOutcome(kind=OutcomeKind.UNKNOWN, reason=str(error))
        return _accepted(answer)

    async def lookup(self, request: OutboundRequest) -> ProviderLookup:
        """Meta's Cloud API has no lookup of a message by id or by recipient, so this always answers
        NOT_SUPPORTED.

        A message whose send got no answer is settled by its status webhooks instead: every message is
        sent with our id in ``biz_opaque_callback_data``, which each of its status webhooks carries
        back, so a ``sent``/``delivered``/``failed`` report ties the wamid to our message even though
        the send's own answer was lost.
        """
        return ProviderLookup(result=LookupResult.NOT_SUPPORTED)

    async def mark_read(self, request: OutboundRequest, *, typing_indicator: bool) -> ReadReceipt:
        message, number_id = request.message, request.provider_number_id
        if request.account is None or number_id is None or message.provider_sid is None:
            return ReadReceipt(
                ReadReceiptOutcome.REFUSED,
                "the sender has no Meta account and phone number id, or the message no WhatsApp id",
            )
        try:
            await self.mark_as_read(request.account, number_id, message.provider_sid, typing_indicator)
        except GraphRefused as refusal:
            return ReadReceipt(ReadReceiptOutcome.REFUSED, refused_send(refusal.error).reason)
        except GraphFailure as error:
            return ReadReceipt(ReadReceiptOutcome.UNAVAILABLE, str(error))
        return ReadReceipt(ReadReceiptOutcome.MARKED)

    async def mark_as_read(
        self,
        account: ProviderAccount,
        provider_number_id: str,
        wamid: str,
        typing_indicator: bool = False,
    ) -> None:
        """Mark the customer's message ``wamid`` read (blue ticks), showing the typing indicator for a
        while when ``typing_indicator``. GraphFailure when Meta did not do it."""
        body: JsonObject = {"messaging_product": "whatsapp", "status": "read", "message_id": wamid}
        if typing_indicator:
            body["typing_indicator"] = {"type": "text"}
        answer = await self._graph.post_json(
            _required_credentials(account), (provider_number_id, "messages"), body
        )
        if answer.get("success") is not True:
            raise GraphNoAnswer("Meta did not confirm the message was marked read")

    async def upload(
        self,
        account: ProviderAccount,
        provider_number_id: str,
        data: bytes,
        content_type: str,
        filename: str,
    ) -> str:
        """Upload a file for the number to send (``POST /{version}/{phone-number-id}/media``,
        multipart); the media id to send it by. GraphFailure when Meta did not take it."""
        form = aiohttp.FormData()
        form.add_field("messaging_product", "whatsapp")
        form.add_field("type", content_type)
        form.add_field("file", data, filename=filename, content_type=content_type)
        answer = await self._graph.post_form(
            _required_credentials(account), (provider_number_id, "media"), form
        )
        media_id = answer.get("id")
        if not isinstance(media_id, str) or not media_id:
            raise GraphNoAnswer("Meta answered the upload without a media id")
        return media_id

    @contextlib.asynccontextmanager
    async def fetch(
        self, account: ProviderAccount, media: Media, max_bytes: int
    ) -> AsyncIterator[FetchedMedia]:
        """The media item a customer sent, by its media id (implements ``InboundMediaFetcher``): ``GET
        /{version}/{media-id}`` describes it with a short-lived URL, which is streamed with the same
        bearer token. Meta refusing (a 4xx) is permanent; no connection, a timeout, a 5xx or a rate limit
        may pass."""
        credentials = _credentials_of(account)
        if credentials is None:
            raise MediaFetchFailed(
                f"the account is a {account.provider} account, not a Meta one", permanent=True
            )
        if media.provider_media_id is None:
            raise MediaFetchFailed("the media item has no Meta media id", permanent=True)
        async with contextlib.AsyncExitStack() as stack:
            try:
                described = await self._graph.get_json(credentials, (media.provider_media_id,))
                url = described.get("url")
                if not isinstance(url, str) or not url:
                    raise GraphNoAnswer("Meta described the media without a URL")
                size = described.get("file_size")
                if isinstance(size, int) and not isinstance(size, bool) and size > max_bytes:
                    raise MediaTooLarge(max_bytes)
                stream = await stack.enter_async_context(
                    self._graph.open_download(credentials, url, max_bytes)
                )
            except MediaTooLarge as error:
                raise FileTooLarge(max_bytes) from error
            except GraphFailure as failure:
                raise _fetch_failed(failure) from failure
            mime_type = described.get("mime_type")
            yield FetchedMedia(
                content_type=mime_type if isinstance(mime_type, str) and mime_type else stream.content_type,
                size=stream.size,
                chunks=_fetched_chunks(stream.chunks, max_bytes),
            )

    async def aclose(self) -> None:
        await self._graph.aclose()


# Meta's error codes of a request refused for its rate, not for what it asked: worth asking again.
_RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80007, 130429})


def _fetch_failed(failure: GraphFailure) -> MediaFetchFailed:
    """A Graph API failure as the port says it: permanent when Meta refused (a 4xx that is no rate
    limit), worth another attempt otherwise."""
    if isinstance(failure, GraphRefused):
        error = failure.error
        retryable = error.http_status == 429 or error.http_status >= 500 or error.code in _RATE_LIMIT_CODES
        return MediaFetchFailed(
            f"Meta refused the media (HTTP {error.http_status}): {failure}", permanent=not retryable
        )
    return MediaFetchFailed(str(failure), permanent=False)


async def _fetched_chunks(chunks: AsyncIterator[bytes], max_bytes: int) -> AsyncIterator[bytes]:
    """The download's chunks, its failures as the port says them."""
    try:
        async for chunk in chunks:
            yield chunk
    except MediaTooLarge as error:
        raise FileTooLarge(max_bytes) from error
    except GraphFailure as failure:
        raise _fetch_failed(failure) from failure


def _credentials_of(account: ProviderAccount | None) -> MetaCredentials | None:
    if account is None or not isinstance(account.credentials, MetaCredentials):
        return None
    return account.credentials


def _refusal_before_sending(request: OutboundRequest, credentials: MetaCredentials | None) -> str | None:
    """Why the message cannot go without asking Meta (no Meta account, no phone-number id, a message
    Meta cannot take); None when it can."""
    if credentials is None:
        if request.account is None:
            return "the sender has no Meta (WhatsApp Cloud API) account configured"
        return f"the sender's account is a {request.account.provider} account, not a Meta one"
    if not request.provider_number_id:
        return "the sender has no Meta phone-number id: set it on the sender"
    return unsupported(request.message.content)


def _required_credentials(account: ProviderAccount) -> MetaCredentials:
    credentials = _credentials_of(account)
    if credentials is None:
        raise NotAMetaAccount
    return credentials


def _accepted(answer: JsonObject) -> SendOutcome:
    """Meta's answer to a send: ``{"messages": [{"id": "wamid…", "message_status": "accepted"}], …}``."""
    messages = answer.get("messages")
    first = messages[0] if isinstance(messages, list) and messages else None
    wamid = first.get("id") if isinstance(first, dict) else None
    if not isinstance(wamid, str) or not wamid or len(wamid) > _MAX_WAMID_LENGTH:
        # Meta answered success, so it may well have the message: never resend blindly.
        return SendOutcome(kind=OutcomeKind.UNKNOWN, reason="Meta answered without a message id")
    reported = first.get("message_status") if isinstance(first, dict) else None
    return SendOutcome(
        kind=OutcomeKind.ACCEPTED,
        provider_sid=wamid,
        status=status_at_meta(reported if isinstance(reported, str) else None),
    )
