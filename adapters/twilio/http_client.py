"""The Twilio SDK's own HTTP-client hook, used to reach an emulator and to enforce a real timeout."""

from __future__ import annotations

import base64
import logging
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.request import Request as TwilioRequest
from twilio.http.response import Response

_logger = logging.getLogger("wa_gateway.twilio.http")

# The SDK's exceptions drop the response headers (Retry-After). The last response is kept per task,
# so concurrent sends through one shared client never see each other's.
_last_response: ContextVar[Response | None] = ContextVar("twilio_last_response", default=None)


def last_response() -> Response | None:
    """The last response this task received through a GatewayTwilioHttpClient, if any."""
    return _last_response.get()


def forget_last_response() -> None:
    _last_response.set(None)


def _basic_authorization(username: str, password: str) -> str:
    # Built by hand: aiohttp 3.14 deprecates BasicAuth and the ``auth`` argument.
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


class GatewayTwilioHttpClient(AsyncTwilioHttpClient):
    """An AsyncTwilioHttpClient that

    - sends every request to ``base_url`` instead of ``*.twilio.com`` when one is given (an emulator),
      whatever Twilio domain the SDK built the URL for;
    - applies ``timeout_seconds`` to every request: the SDK's own client ignores its timeout;
    - sends ``data`` as JSON when the request says ``Content-Type: application/json`` (the Content API
      takes JSON; the SDK's own async client form-encodes it whatever the header says);
    - ignores proxy variables from the environment (aiohttp's trust_env stays off).

    It opens its aiohttp session in the constructor, so create it inside a running event loop.
    """

    def __init__(self, *, timeout_seconds: float, base_url: str | None = None) -> None:
        super().__init__(pool_connections=True, timeout=timeout_seconds, logger=_logger)
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._base = urlsplit(base_url.rstrip("/")) if base_url else None

    def _rewrite(self, url: str) -> str:
        if self._base is None:
            return url
        parts = urlsplit(url)
        path = self._base.path + parts.path
        return urlunsplit((self._base.scheme, self._base.netloc, path, parts.query, parts.fragment))

    async def request(  # type: ignore[override]  # the SDK's base class declares it sync
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the SDK's signature
        allow_redirects: bool = False,
    ) -> Response:
        headers = dict(headers or {})
        if auth:
            headers["Authorization"] = _basic_authorization(*auth)
        as_json = headers.get("Content-Type") == "application/json"
        kwargs: dict[str, Any] = {
            "method": method.upper(),
            "url": self._rewrite(url),
            "params": params,
            "json" if as_json else "data": data,
            "headers": headers,
            "timeout": aiohttp.ClientTimeout(total=timeout) if timeout else self._timeout,
            "allow_redirects": allow_redirects,
        }
        self._test_only_last_request = TwilioRequest(
            **{**kwargs, "data": data, "auth": auth, "timeout": timeout}
        )
        session = self.session
        assert session is not None, "created with pool_connections=True"
        async with session.request(**kwargs) as response:
            text = await response.text()
            received = Response(response.status, text, response.headers)
        self._test_only_last_response = received
        _last_response.set(received)
        return received
