"""Providers' callbacks over HTTP: Twilio's and Meta's, authenticated by the provider's signature, not
by a Bearer token.

Twilio's signature covers the URL Twilio called, so that URL is rebuilt here from ``PUBLIC_BASE_URL``
(the address Twilio is given) plus the path and raw query string of the request, never from the Host
header: behind a proxy or a tunnel the app sees another host, scheme and port than Twilio used, and a
Host header is whatever the client sends. Without ``PUBLIC_BASE_URL`` (development) the URL as received
is used. Meta's covers the raw body. The body is handed on as it came: the provider's adapter parses
and checks it.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, QueryParameter, RawBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from application.inbound.receive_delivery import ReceiveProviderDelivery
from application.inbound.receive_message import ReceiveInboundMessage
from application.inbound.record_status_report import RecordStatusReport
from application.inbound.subscription_check import AnswerSubscriptionCheck
from application.ports.provider_callbacks import ProviderCallback
from entrypoints.http.access import public
from entrypoints.http.admission import patient
from entrypoints.http.client_address import client_address
from entrypoints.http.dependencies import container_of, provide
from entrypoints.http.inbound.schemas import (
    MetaDeliveryOperation,
    TwilioInboundOperation,
    TwilioStatusOperation,
)
from entrypoints.http.problems import problem_responses
from entrypoints.http.rate_limits import never_rate_limited

SIGNATURE_HEADER = "X-Twilio-Signature"
TWIML_MEDIA_TYPE = "text/xml"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
# Path characters kept as they are when the routed path is put back into a URL.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"

# Declared for the OpenAPI schema; the Twilio adapter reads it from the callback's headers.
Signature = Annotated[
    str | None,
    HeaderParameter(
        name=SIGNATURE_HEADER,
        required=False,
        description="Twilio's signature of the URL and every posted field, with the tenant's auth token",
    ),
]


def called_url(request: Request[Any, Any, Any], public_base_url: str | None) -> str:
    """The URL the provider called, as it signed it."""
    if not public_base_url:
        return str(request.url)
    path = quote(request.scope["path"], safe=_PATH_SAFE)
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{public_base_url.rstrip('/')}{path}" + (f"?{query}" if query else "")


def provider_callback(request: Request[Any, Any, Any], body: bytes) -> ProviderCallback:
    """The callback as it arrived: the URL as the provider called it, the raw body, every header, and
    the address it came from."""
    public_base_url = container_of(request).settings().public_base_url
    return ProviderCallback(
        url=called_url(request, public_base_url),
        content_type=request.content_type[0],
        body=body,
        headers={name.lower(): request.headers[name] for name in request.headers},
        client_address=client_address(request),
    )


_INBOUND_DESCRIPTION = (
    "Set this URL as the WhatsApp sender's incoming-message webhook in Twilio. The tenant is the one "
    "whose number is `To` and whose Twilio account is `AccountSid`; the `X-Twilio-Signature` must verify "
    "with that tenant's auth token, else 403 and nothing is stored (posts from one address that keep "
    "failing that check for one account and number get 429 for a while; Twilio's own never do). A "
    "message Twilio delivers twice (same `MessageSid`) is stored once. The reply is empty TwiML: nothing "
    "is sent back."
)


class TwilioCallbacksController(Controller):
    """Twilio's callbacks.

    They are exempt from the per-address request limit: Twilio posts every tenant's callbacks (several
    per message, repeats included) from a small pool of shared addresses, so a per-address limit would
    throttle Twilio itself, and a refused webhook is not posted again. What is limited is failed
    signature checks, by a rule under which a webhook Twilio signed for a configured number is never
    refused (adapters/twilio/callback_authentication.py): TWILIO_SIGNATURE_FAILURES_PER_MINUTE per
    client address, Twilio account and number, ten times that per client address. Each request is
    bounded by the body size limit; one that cannot be Twilio's (no signature, or not of Twilio's form)
    is refused before any lookup, one with a wrong signature after at most one indexed lookup and a few
    HMACs.
    """

    path = "/"
    tags = ["provider callbacks"]
    opt = {
        **public("Twilio's signature (X-Twilio-Signature), checked by the Twilio adapter"),
        **never_rate_limited("Twilio posts every tenant's callbacks from a few shared addresses"),
        **patient("Twilio does not post a status callback again: one shed is lost"),
    }
    dependencies = {
        "receive_inbound_message": provide(lambda c: c.receive_twilio_message),
        "record_status_report": provide(lambda c: c.record_twilio_status),
    }

    @post(
        "/webhooks/twilio/inbound",
        operation_id="receiveTwilioMessage",
        summary="Twilio callback: an incoming WhatsApp message",
        description=_INBOUND_DESCRIPTION,
        status_code=HTTP_200_OK,
        media_type=TWIML_MEDIA_TYPE,
        operation_class=TwilioInboundOperation,
        responses=problem_responses(400, 403, 413, 422, 429, 503),
    )
    async def inbound(
        self,
        request: Request[Any, Any, Any],
        body: RawBody,
        receive_inbound_message: NamedDependency[ReceiveInboundMessage],
        signature: Signature = None,
    ) -> Response[str]:
        return await _receive(request, body, receive_inbound_message)

    @post(
        "/webhook/twilio",
        operation_id="receiveTwilioMessageLegacy",
        summary="Twilio callback: an incoming WhatsApp message (former address)",
        description="The address of earlier versions, kept for senders configured with it. "
        + _INBOUND_DESCRIPTION,
        status_code=HTTP_200_OK,
        media_type=TWIML_MEDIA_TYPE,
        operation_class=TwilioInboundOperation,
        deprecated=True,
        responses=problem_responses(400, 403, 413, 422, 429, 503),
    )
    async def inbound_legacy(
        self,
        request: Request[Any, Any, Any],
        body: RawBody,
        receive_inbound_message: NamedDependency[ReceiveInboundMessage],
        signature: Signature = None,
    ) -> Response[str]:
        return await _receive(request, body, receive_inbound_message)

    @post(
        "/webhooks/twilio/status",
        operation_id="recordTwilioStatus",
        summary="Twilio callback: a message's delivery status",
        description=(
            "The StatusCallback of every message sent through Twilio. Signed like the inbound webhook "
            "(the tenant's number is `From`). A status only moves forward; every distinct report, "
            "applied or not, is kept in the message's timeline, and a repeat of one kept already "
            "(same MessageSid, status and error code) changes nothing. Reports about unknown messages "
            "are acknowledged and dropped."
        ),
        status_code=HTTP_204_NO_CONTENT,
        operation_class=TwilioStatusOperation,
        responses=problem_responses(400, 403, 413, 422, 429, 503),
    )
    async def status(
        self,
        request: Request[Any, Any, Any],
        body: RawBody,
        record_status_report: NamedDependency[RecordStatusReport],
        signature: Signature = None,
    ) -> None:
        await record_status_report(provider_callback(request, body))


async def _receive(
    request: Request[Any, Any, Any], body: bytes, receive_inbound_message: ReceiveInboundMessage
) -> Response[str]:
    await receive_inbound_message(provider_callback(request, body))
    return Response(EMPTY_TWIML, status_code=HTTP_200_OK, media_type=TWIML_MEDIA_TYPE)


META_SIGNATURE_HEADER = "X-Hub-Signature-256"
# Meta's deliveries may reach 3 MB (a batch of many changes); MAX_REQUEST_BODY_BYTES suits the JSON API,
# and a delivery refused for its size would be delivered again, refused again, for days.
META_MAX_BODY_BYTES = 3 * 1024 * 1024

MetaSignature = Annotated[
    str | None,
    HeaderParameter(
        name=META_SIGNATURE_HEADER,
        required=False,
        description="`sha256=` and the hex HMAC-SHA256 of the raw body with the Meta app's secret",
    ),
]
HubMode = Annotated[
    str | None, QueryParameter(name="hub.mode", required=False, description="Always `subscribe`")
]
HubVerifyToken = Annotated[
    str | None,
    QueryParameter(
        name="hub.verify_token",
        required=False,
        description="The verify token given to Meta with the callback URL: a Meta account's",
    ),
]
HubChallenge = Annotated[
    str | None,
    QueryParameter(name="hub.challenge", required=False, description="What to echo"),
]


class MetaCallbacksController(Controller):
    """Meta's webhooks (WhatsApp Cloud API): the subscription handshake, and deliveries.

    Like Twilio's, they are exempt from the per-address request limit: Meta posts every tenant's webhooks
    from a pool of shared addresses, and retries what is refused. What is limited is failed checks, by
    a rule under which Meta's own webhooks for a configured account are never refused
    (adapters/meta/callback_authentication.py): META_SIGNATURE_FAILURES_PER_MINUTE per client address,
    for deliveries whose signature matches no configured account's app secret and for handshakes with
    a verify token that is none of theirs. A delivery without a signature of Meta's form is refused
    before any lookup.
    """

    path = "/"
    tags = ["provider callbacks"]
    opt = {
        **public("Meta's signature (X-Hub-Signature-256) and verify token, checked by the Meta adapter"),
        **never_rate_limited("Meta posts every tenant's webhooks from a pool of shared addresses"),
        **patient("Meta retries a webhook for days, but later and later: statuses would arrive late"),
    }
    dependencies = {
        "receive_delivery": provide(lambda c: c.receive_meta_delivery),
        "answer_subscription_check": provide(lambda c: c.answer_meta_subscription_check),
    }

    @get(
        "/webhooks/meta",
        operation_id="verifyMetaWebhook",
        summary="Meta callback: the webhook subscription handshake",
        media_type=MediaType.TEXT,
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 403, 429, 503),
    )
    async def verify(
        self,
        request: Request[Any, Any, Any],
        answer_subscription_check: NamedDependency[AnswerSubscriptionCheck],
        mode: HubMode = None,
        verify_token: HubVerifyToken = None,
        challenge: HubChallenge = None,
    ) -> Response[str]:
        """Meta calls this when the callback URL `PUBLIC_BASE_URL/webhooks/meta` is saved in a Meta
        app's WhatsApp configuration. The answer is `hub.challenge`, as plain text, when
        `hub.mode` is `subscribe` and `hub.verify_token` is the verify token of one of the Meta
        accounts configured here (`POST /api/provider-accounts`); otherwise 403 (and, from one address
        that keeps guessing, 429 for a while)."""
        echoed = await answer_subscription_check(provider_callback(request, b""))
        return Response(echoed, status_code=HTTP_200_OK, media_type=MediaType.TEXT)

    @post(
        "/webhooks/meta",
        operation_id="receiveMetaWebhook",
        summary="Meta callback: customers' messages and delivery statuses",
        media_type=MediaType.TEXT,
        status_code=HTTP_200_OK,
        operation_class=MetaDeliveryOperation,
        request_max_body_size=META_MAX_BODY_BYTES,
        responses=problem_responses(400, 403, 413, 422, 429, 503),
    )
    async def deliver(
        self,
        request: Request[Any, Any, Any],
        body: RawBody,
        receive_delivery: NamedDependency[ReceiveProviderDelivery],
        signature: MetaSignature = None,
    ) -> Response[bytes]:
        """Meta posts here every change at the WhatsApp Business Accounts subscribed through the app:
        customers' messages and the statuses of messages sent. `X-Hub-Signature-256` must verify over
        the raw body with the app secret of one of the Meta accounts configured here, else 403 and
        nothing is stored. Each `messages` change goes to the tenant whose sender has its
        `metadata.phone_number_id`, and only if that sender's account has the app secret that signed
        the delivery; changes for other numbers are logged and skipped. A message Meta delivers again
        (same `wamid`) is stored once; a status only moves its message forward, and every distinct
        report is kept in the message's timeline. The answer is an empty 200 — also when some changes
        were skipped, as Meta would deliver them again for days — and 503 when the database is
        unavailable, so that Meta delivers the whole batch again later."""
        await receive_delivery(provider_callback(request, body))
        return Response(b"", status_code=HTTP_200_OK, media_type=MediaType.TEXT)
