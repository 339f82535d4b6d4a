"""Sending WhatsApp messages through each tenant's own Twilio account."""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from datetime import UTC, timedelta
from typing import TYPE_CHECKING

import aiohttp
from twilio.base import values
from twilio.base.exceptions import TwilioException

from adapters.retry_after import parse_retry_after
from adapters.twilio.content import twilio_fields, unsupported_by_twilio
from adapters.twilio.errors import refused_send
from adapters.twilio.http_client import GatewayTwilioHttpClient, forget_last_response, last_response
from adapters.twilio.statuses import status_at_twilio
from application.ports.providers import (
    LookupResult,
    OutboundRequest,
    OutcomeKind,
    ProviderLookup,
    ReadReceipt,
    ReadReceiptOutcome,
    SendOutcome,
)
from domain.administration.tenancy import ProviderName, TwilioCredentials
from domain.messaging.failures import FailureCode
from domain.messaging.messages import MessageContent

if TYPE_CHECKING:
    from twilio.rest import Client
    from twilio.rest.api.v2010.account.message import MessageInstance

logger = logging.getLogger(__name__)

# How far around our own timestamp a message found at Twilio may have been created to be ours.
_LOOKUP_WINDOW = timedelta(minutes=10)
_LOOKUP_PAGE_SIZE = 200

_MAX_CACHED_CLIENTS = 1024


def load_rest_client() -> None:
    """Import Twilio's REST client now, with the part of it a send uses, in a process that is there to
    dispatch: its first send would otherwise wait for the imports."""
    import twilio.rest.api.v2010.account.message  # noqa: F401  (and twilio.rest with it)


class TwilioMessagingProvider:
    """Creates messages with Twilio's REST API using the async SDK and the tenant's credentials."""

    def __init__(
        self,
        *,
        timeout_seconds: float = 10.0,
        api_base_url: str | None = None,
        public_base_url: str | None = None,
    ) -> None:
        self._timeout = timeout_seconds
        self._api_base_url = api_base_url
        self._public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self._http: GatewayTwilioHttpClient | None = None
        # One SDK client per credential set, reused: building one per send cost ~0.4 ms of CPU (its
        # domains and resources are built lazily and kept on the client). Keyed by the credentials
        # themselves, so rotated credentials get a new client and the old one ages out.
        self._clients: OrderedDict[tuple[str, str, str], Client] = OrderedDict()

    def _http_client(self) -> GatewayTwilioHttpClient:
        # Created on first use: aiohttp needs the running loop the requests will run on.
        if self._http is None:
            self._http = GatewayTwilioHttpClient(timeout_seconds=self._timeout, base_url=self._api_base_url)
        return self._http

    def _client(self, credentials: TwilioCredentials) -> Client:
        key = (credentials.api_username, credentials.api_password, credentials.account_sid)
        client = self._clients.get(key)
        if client is not None:
            self._clients.move_to_end(key)
            return client
        # Imported on the first Twilio send (``load_rest_client``): ~10 MiB that an API process
        # answering respond-async only (its workers dispatch) never needs.
        from twilio.rest import Client

        client = Client(*key, http_client=self._http_client())
        # TWILIO_REGION / TWILIO_EDGE in the environment would rewrite every hostname.
        client.region = None
        client.edge = None
        self._clients[key] = client
        if len(self._clients) > _MAX_CACHED_CLIENTS:
            self._clients.popitem(last=False)
        return client

    def unsupported(self, provider: ProviderName, content: MessageContent) -> str | None:
        return unsupported_by_twilio(content)

    async def mark_read(self, request: OutboundRequest, *, typing_indicator: bool) -> ReadReceipt:
        """Twilio's Messages API has no read receipts or typing indicator for WhatsApp."""
        return ReadReceipt(
            ReadReceiptOutcome.NOT_SUPPORTED,
            "Twilio cannot mark a WhatsApp message read: move the sender to a Meta account for read receipts",
        )

    async def send(self, request: OutboundRequest) -> SendOutcome:
        message = request.message
        credentials = _credentials_of(request)
        # A kind Twilio cannot send was refused when it was sent, unless it was accepted for another
        # provider (before its tenant moved to Twilio, say): it is refused here as it would have been.
        refusal = (
            unsupported_by_twilio(message.content)
            if credentials is not None
            else "the sender has no Twilio account configured"
        )
        if credentials is None or refusal is not None:
            return SendOutcome(
                kind=OutcomeKind.REJECTED,
                reason=refusal,
                failure_code=FailureCode.ACCOUNT_MISCONFIGURED
                if credentials is None
                else FailureCode.UNSUPPORTED_CONTENT,
            )
        status_callback: object = values.unset
        if self._public_base_url:
            status_callback = f"{self._public_base_url}/webhooks/twilio/status?message_id={message.id}"
        template = message.content.template
        fields = twilio_fields(message.content)
        forget_last_response()
        try:
            created = await self._client(credentials).messages.create_async(
                to=message.contact.whatsapp_address,
                from_=message.sender.whatsapp_address,
                # A template message has no body or media of its own (MessageContent ensures it).
                body=fields.body or values.unset,
                media_url=fields.media_urls or values.unset,
                persistent_action=fields.persistent_action or values.unset,
                content_sid=template.content_sid if template else values.unset,
                # Twilio takes the placeholder values as one JSON-encoded form field.
                content_variables=json.dumps(template.variables_dict)
                if template and template.variables
                else values.unset,
                status_callback=status_callback,
            )
        except TwilioException as error:
            return refused_send(error, _retry_after_seconds)
        except aiohttp.ClientConnectorError as error:
            # The connection was never made, so Twilio cannot have the message.
            return SendOutcome(
                kind=OutcomeKind.RETRYABLE,
                reason=f"Twilio unreachable: {error.strerror}",
                failure_code=FailureCode.PROVIDER_ERROR,
            )
        except (TimeoutError, aiohttp.ClientError) as error:
            # Sent, but no answer: the message may exist at Twilio.
            return SendOutcome(
                kind=OutcomeKind.UNKNOWN, reason=f"no answer from Twilio ({type(error).__name__})"
            )
        except ValueError as error:
            # A success status with a body that is not JSON: Twilio may well have the message.
            return SendOutcome(kind=OutcomeKind.UNKNOWN, reason=f"unreadable answer from Twilio ({error})")
        return self._accepted(created)

    async def lookup(self, request: OutboundRequest) -> ProviderLookup:
        """Find our message at Twilio with its list filter (To, From) after an unknown outcome.

        Twilio keeps no reference of ours on a message, so a candidate must match the body and media
        count and have been created within minutes of our message (the caller also checks that the SID
        is not another message's of ours). DateSent is not filtered on: a still-queued message has none.
        """
        message = request.message
        credentials = _credentials_of(request)
        if credentials is None:
            return ProviderLookup(result=LookupResult.NOT_FOUND)
        fields = twilio_fields(message.content)
        created_at = message.created_at.astimezone(UTC)
        try:
            # Newest first, page after page, until the candidates are older than the window: a contact
            # who got many messages since ours must not push ours off a first page (then "not found"
            # would send it again).
            candidates = await self._client(credentials).messages.stream_async(
                to=message.contact.whatsapp_address,
                from_=message.sender.whatsapp_address,
                page_size=_LOOKUP_PAGE_SIZE,
            )
            async for candidate in candidates:
                when = candidate.date_created
                if when is not None and when < created_at - _LOOKUP_WINDOW:
                    break
                if when is not None and when > created_at + _LOOKUP_WINDOW:
                    continue
                same_body = (candidate.body or "") == fields.body
                same_media = int(candidate.num_media or 0) == len(fields.media_urls)
                if (same_body and same_media) or message.content.template is not None:
                    return ProviderLookup(
                        result=LookupResult.FOUND,
                        provider_sid=candidate.sid,
                        status=status_at_twilio(str(candidate.status)),
                    )
        except (TwilioException, aiohttp.ClientError, TimeoutError, ValueError):
            return ProviderLookup(result=LookupResult.UNAVAILABLE)
        return ProviderLookup(result=LookupResult.NOT_FOUND)

    @staticmethod
    def _accepted(created: MessageInstance) -> SendOutcome:
        if not created.sid:
            return SendOutcome(kind=OutcomeKind.UNKNOWN, reason="Twilio answered without a message SID")
        return SendOutcome(
            kind=OutcomeKind.ACCEPTED, provider_sid=created.sid, status=status_at_twilio(str(created.status))
        )

    async def aclose(self) -> None:
        self._clients.clear()  # they hold the HTTP client closed below
        if self._http is not None:
            await self._http.close()
            self._http = None


def _credentials_of(request: OutboundRequest) -> TwilioCredentials | None:
    account = request.account
    if account is None or not isinstance(account.credentials, TwilioCredentials):
        return None
    return account.credentials


def _retry_after_seconds() -> float | None:
    """Retry-After of the response that raised, if it had one."""
    response = last_response()
    return parse_retry_after(
        response.headers.get("Retry-After") if response is not None and response.headers else None
    )
