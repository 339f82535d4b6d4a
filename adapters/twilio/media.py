"""Fetching the media customers send through Twilio (implements ``InboundMediaFetcher``).

An inbound message's ``MediaUrl`` is a resource of Twilio's REST API
(``https://api.twilio.com/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media/{MediaSid}``).
With HTTP Basic authentication on media turned on (as it should be), a GET needs the account's
credentials, and Twilio answers with a redirect to a short-lived URL on its CDN that needs none. So the
credentials go with the first request only, and only to Twilio's API (or the emulator's, when
``api_base_url`` is set: a Twilio URL is sent there instead, as the SDK's requests are): a MediaUrl on
any other host, or of another account, is refused, and a redirect is followed without credentials.

aiohttp is used directly rather than the SDK: the SDK reads every answer whole into text, and a media
file is streamed into the media store as it arrives. Proxy variables never apply (``trust_env=False``).
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urljoin, urlsplit, urlunsplit

import aiohttp

from adapters.retry_after import parse_retry_after
from application.errors import MediaTooLarge
from application.ports.media import FetchedMedia, MediaFetchFailed
from domain.administration.tenancy import ProviderAccount, TwilioCredentials
from domain.messaging.content import Media

TWILIO_API = "https://api.twilio.com"
TWILIO_DOMAIN = "twilio.com"
MAX_REDIRECTS = 3
_CHUNK_BYTES = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class TwilioMediaFetcher:
    """``timeout_seconds`` bounds each download whole (redirects and body included),
    ``connect_timeout_seconds`` the opening of each connection. The HTTP session opens on first use,
    inside the running loop; ``aclose()`` closes it."""

    def __init__(
        self,
        *,
        api_base_url: str | None = None,
        timeout_seconds: float = 60.0,
        connect_timeout_seconds: float = 5.0,
    ) -> None:
        base = urlsplit((api_base_url or TWILIO_API).rstrip("/"))
        if base.scheme not in ("http", "https") or not base.netloc:
            raise ValueError(f"the Twilio API base URL {api_base_url!r} is not an absolute http(s) URL")
        self._base = base
        self._rewrite = api_base_url is not None
        self._timeout = aiohttp.ClientTimeout(
            total=timeout_seconds, connect=min(connect_timeout_seconds, timeout_seconds)
        )
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(trust_env=False, timeout=self._timeout)
        return self._session

    @contextlib.asynccontextmanager
    async def fetch(
        self, account: ProviderAccount, media: Media, max_bytes: int
    ) -> AsyncIterator[FetchedMedia]:
        credentials = account.credentials
        if not isinstance(credentials, TwilioCredentials):
            raise MediaFetchFailed(
                f"the account is a {account.provider} account, not a Twilio one", permanent=True
            )
        if media.url is None:
            raise MediaFetchFailed("the media item has no Twilio MediaUrl", permanent=True)
        url = self._api_url(media.url, credentials)
        headers = {"Authorization": _basic(credentials.api_username, credentials.api_password)}
        response = await self._get(url, headers)
        try:
            for _ in range(MAX_REDIRECTS):
                if response.status not in _REDIRECTS:
                    break
                location = response.headers.get("Location")
                if not location:
                    raise MediaFetchFailed("Twilio answered a redirect without a Location", permanent=False)
                url = urljoin(url, location)
                if urlsplit(url).scheme not in ("http", "https"):
                    raise MediaFetchFailed("Twilio redirected to a URL that is not http(s)", permanent=True)
                response.release()
                response = await self._get(url, {})  # the CDN's URL is signed: no credentials go there
            _check_status(response)
            if response.content_length is not None and response.content_length > max_bytes:
                raise MediaTooLarge(max_bytes)
            yield FetchedMedia(
                content_type=response.headers.get("Content-Type"),
                size=response.content_length,
                chunks=_chunks(response, max_bytes),
            )
        finally:
            response.release()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _api_url(self, media_url: str, credentials: TwilioCredentials) -> str:
        """Where to GET ``media_url`` with the account's credentials: on Twilio's API (or the emulator
        standing in for it), under the account's own resources; MediaFetchFailed otherwise."""
        parts = urlsplit(media_url)
        host = (parts.hostname or "").lower()
        base_path = self._base.path
        if self._rewrite and (host == TWILIO_DOMAIN or host.endswith("." + TWILIO_DOMAIN)):
            path = parts.path  # Twilio's URL, sent to the emulator standing in for it
        elif (parts.scheme, parts.netloc.lower()) == (
            self._base.scheme,
            self._base.netloc.lower(),
        ) and parts.path.startswith(base_path):
            path = parts.path[len(base_path) :]
        else:
            raise MediaFetchFailed(
                "the MediaUrl is not on Twilio's API: no credentials go there", permanent=True
            )
        if not path.startswith(f"/2010-04-01/Accounts/{credentials.account_sid}/"):
            raise MediaFetchFailed("the MediaUrl is not a resource of the account", permanent=True)
        return urlunsplit((self._base.scheme, self._base.netloc, base_path + path, parts.query, ""))

    async def _get(self, url: str, headers: dict[str, str]) -> aiohttp.ClientResponse:
        try:
            return await self._http().get(url, headers=headers, allow_redirects=False)
        except (TimeoutError, aiohttp.ClientError) as error:
            raise MediaFetchFailed(
                f"Twilio's media could not be reached ({_describe(error)})", permanent=False
            ) from error


def _check_status(response: aiohttp.ClientResponse) -> None:
    status = response.status
    if 200 <= status < 300:
        return
    if status in _REDIRECTS:
        raise MediaFetchFailed(f"Twilio redirected more than {MAX_REDIRECTS} times", permanent=True)
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        wait = f", asked to wait {retry_after:g} s" if retry_after is not None else ""
        raise MediaFetchFailed(f"Twilio answered HTTP {status}{wait}", permanent=False)
    raise MediaFetchFailed(f"Twilio refused the media (HTTP {status})", permanent=True)


async def _chunks(response: aiohttp.ClientResponse, max_bytes: int) -> AsyncIterator[bytes]:
    size = 0
    try:
        async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
            size += len(chunk)
            if size > max_bytes:
                raise MediaTooLarge(max_bytes)
            yield chunk
    except (TimeoutError, aiohttp.ClientError) as error:
        raise MediaFetchFailed(
            f"the media download broke off ({_describe(error)})", permanent=False
        ) from error


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def _describe(error: BaseException) -> str:
    if isinstance(error, aiohttp.ClientConnectorError):
        return error.strerror or type(error).__name__
    return type(error).__name__
