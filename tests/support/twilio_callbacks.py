"""Building Twilio's callbacks for tests: the form fields Twilio posts, signed as Twilio signs them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from urllib.parse import urlencode
from uuid import UUID

from twilio.request_validator import RequestValidator

from application.ports.provider_callbacks import ProviderCallback
from application.principal import UNKNOWN_CLIENT_ADDRESS

ACME_ACCOUNT = "AC" + "a1" * 16
ACME_TOKEN = "acme-auth-token-0123456789"
GLOBEX_ACCOUNT = "AC" + "b2" * 16
GLOBEX_TOKEN = "globex-auth-token-9876543210"
SANDBOX_NUMBER = "+14155238886"  # acme's default sender in the unit fixtures; Twilio's shared number
CUSTOMER = "+14155550100"
INBOUND_SID = "SM" + "1" * 32
OUTBOUND_SID = "SM" + "2" * 32
PUBLIC_BASE_URL = "https://gateway.example.com"
INBOUND_URL = f"{PUBLIC_BASE_URL}/webhooks/twilio/inbound"
STATUS_URL = f"{PUBLIC_BASE_URL}/webhooks/twilio/status"

Params = dict[str, list[str]]


class _MultiDict:
    """What the SDK's signer reads repeated fields from (``getall``)."""

    def __init__(self, params: Mapping[str, Sequence[str]]) -> None:
        self._params = params

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def getall(self, name: str) -> list[str]:
        return list(self._params[name])


def sign(token: str, url: str, params: Mapping[str, Sequence[str]]) -> str:
    """Twilio's X-Twilio-Signature, computed by the Twilio SDK."""
    validator = RequestValidator(token)  # type: ignore[no-untyped-call]  # the SDK is untyped
    signature: str = validator.compute_signature(url, _MultiDict(params))  # type: ignore[no-untyped-call]
    return signature


def inbound_params(
    *,
    to: str = SANDBOX_NUMBER,
    from_: str = CUSTOMER,
    account_sid: str = ACME_ACCOUNT,
    sid: str = INBOUND_SID,
    body: str = "Hello, is my order on its way?",
    media: Sequence[str] = (),
    media_types: Sequence[str] = (),
    profile_name: str = "Ana",
    wa_id: str = "14155550100",
    **extra: str,
) -> Params:
    params: Params = {
        "AccountSid": [account_sid],
        "ApiVersion": ["2010-04-01"],
        "Body": [body],
        "From": [f"whatsapp:{from_}"],
        "MessageSid": [sid],
        "NumMedia": [str(len(media))],
        "NumSegments": ["1"],
        "ProfileName": [profile_name],
        "SmsMessageSid": [sid],
        "SmsSid": [sid],
        "SmsStatus": ["received"],
        "To": [f"whatsapp:{to}"],
        "WaId": [wa_id],
    }
    for index, url in enumerate(media):
        params[f"MediaUrl{index}"] = [url]
        params[f"MediaContentType{index}"] = [
            media_types[index] if index < len(media_types) else "image/jpeg"
        ]
    params.update({name: [value] for name, value in extra.items()})
    return params


def status_params(
    status: str,
    *,
    sid: str = OUTBOUND_SID,
    from_: str = SANDBOX_NUMBER,
    to: str = CUSTOMER,
    account_sid: str = ACME_ACCOUNT,
    error_code: int | None = None,
    **extra: str,
) -> Params:
    params: Params = {
        "AccountSid": [account_sid],
        "ApiVersion": ["2010-04-01"],
        "ChannelPrefix": ["whatsapp"],
        "From": [f"whatsapp:{from_}"],
        "MessageSid": [sid],
        "MessageStatus": [status],
        "SmsSid": [sid],
        "SmsStatus": [status],
        "To": [f"whatsapp:{to}"],
    }
    if error_code is not None:
        params["ErrorCode"] = [str(error_code)]
    params.update({name: [value] for name, value in extra.items()})
    return params


def status_url(message_id: UUID | None = None) -> str:
    return f"{STATUS_URL}?message_id={message_id}" if message_id else STATUS_URL


def signed_callback(
    url: str,
    params: Mapping[str, Sequence[str]],
    *,
    token: str = ACME_TOKEN,
    signature: str | None = None,
    client_address: str = UNKNOWN_CLIENT_ADDRESS,
) -> ProviderCallback:
    """Twilio's POST of ``params`` to ``url`` as it reaches the gateway: form-encoded, with the
    X-Twilio-Signature made with ``token`` (or ``signature`` itself; "" posts none)."""
    signature = sign(token, url, params) if signature is None else signature
    return ProviderCallback(
        url=url,
        content_type="application/x-www-form-urlencoded",
        body=form_body(params),
        headers={"x-twilio-signature": signature} if signature else {},
        client_address=client_address,
    )


def form_body(params: Mapping[str, Sequence[str]]) -> bytes:
    return urlencode([(name, value) for name, values in params.items() for value in values]).encode()


def with_params(callback: ProviderCallback, params: Mapping[str, Sequence[str]]) -> ProviderCallback:
    """``callback`` with another form posted under the same signature (a field changed after signing)."""
    return replace(callback, body=form_body(params))
