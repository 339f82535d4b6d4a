"""A thin async client of Meta's Graph API, as far as the WhatsApp Cloud API needs it.

Every call names the account it is made for: the bearer token and the Graph API version come from that
account's ``MetaCredentials``, so one client (one connection pool) serves every tenant. Each request is
bounded by its own timeout; proxy variables in the environment never apply (``trust_env=False``: they
would also catch a local emulator's address). What went wrong is told apart as the caller needs it:

- ``GraphRefused``: Meta answered with an error (its ``{"error": {...}}`` body is read into a
  ``GraphError``); Meta did not do what was asked.
- ``GraphUnreachable``: no connection was made, so nothing reached Meta: safe to try again.
- ``GraphNoAnswer``: the request went out (or may have) and no usable answer came back (a timeout, a
  dropped connection, a body that is not JSON): Meta may have acted on it.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

from adapters.retry_after import parse_retry_after
from domain.administration.tenancy import MetaCredentials

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://graph.facebook.com"
# A Graph API answer is a few hundred bytes; anything far larger is not one.
_MAX_ANSWER_BYTES = 1024 * 1024
_MAX_ERROR_TEXT = 1000
_CHUNK_BYTES = 64 * 1024

JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class GraphError:
    """Meta's error body, ``{"error": {"message", "type", "code", "error_subcode", "error_data",
    "fbtrace_id"}}``, with the HTTP status it came with and the Retry-After it asked for, if any."""

    http_status: int
    code: int | None = None
    subcode: int | None = None
    type: str | None = None
    message: str | None = None
    # error_data.details: what Meta says went wrong in this request (which parameter, say).
    details: str | None = None
    fbtrace_id: str | None = None
    retry_after_seconds: float | None = None
    # error_user_title / error_user_msg: what Meta says to the person who made the request (the
    # message-template endpoints explain a refused template this way).
    user_title: str | None = None
    user_message: str | None = None

    @property
    def meta_words(self) -> str | None:
        """What Meta said, for a person: the details when there are any, else the message."""
        return self.details or self.message

    @property
    def user_words(self) -> str | None:
        """What Meta told the person who asked: its title and message for them when it gave them, else
        ``meta_words``."""
        parts = [part for part in (self.user_title, self.user_message) if part]
        return ": ".join(parts) if parts else self.meta_words


class GraphFailure(Exception):
    """A Graph API call that did not succeed; the message is safe to show."""


class GraphRefused(GraphFailure):
    def __init__(self, error: GraphError) -> None:
        self.error = error
        super().__init__(error.meta_words or f"Meta answered HTTP {error.http_status}")


class GraphUnreachable(GraphFailure):
    """No connection to the Graph API could be made: the request never left."""


class GraphNoAnswer(GraphFailure):
    """The request was sent, or may have been, and no usable answer came back."""


class MediaTooLarge(GraphFailure):
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        super().__init__(f"the media is larger than the {max_bytes} bytes allowed")


@dataclass(frozen=True, slots=True)
class MediaStream:
    """A media file being downloaded: its type and announced size as Meta's media host gave them, and
    its bytes as they arrive (iterate once)."""

    content_type: str
    size: int | None
    chunks: AsyncIterator[bytes]


# Where the Graph API's media URLs point (lookaside.fbsbx.com today), and nowhere else gets the token.
_META_MEDIA_DOMAINS = ("fbsbx.com", "facebook.com", "fbcdn.net", "whatsapp.net")


class GraphApiClient:
    """Calls ``base_url`` (Meta's Graph API, or an emulator of it) with one account's credentials.

    The aiohttp session is opened on the first call, inside the running event loop, and closed by
    ``aclose()``. ``timeout_seconds`` bounds every API call whole; ``connect_timeout_seconds`` bounds
    opening a connection (a connection that never opened is ``GraphUnreachable``, whatever the
    timeout); media downloads are bounded by ``download_timeout_seconds`` instead.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        timeout_seconds: float = 10.0,
        connect_timeout_seconds: float = 5.0,
        download_timeout_seconds: float = 60.0,
    ) -> None:
        base = (base_url or DEFAULT_BASE_URL).rstrip("/")
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"the Graph API base URL {base!r} is not an absolute http(s) URL")
        self._base_url = base
        connect = min(connect_timeout_seconds, timeout_seconds)
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds, connect=connect)
        self._download_timeout = aiohttp.ClientTimeout(total=download_timeout_seconds, connect=connect)
        self._session: aiohttp.ClientSession | None = None

    @property
    def base_url(self) -> str:
        return self._base_url

    def _is_metas_media_url(self, url: str) -> bool:
        """Whether the bearer token may go to ``url``: Meta's own hosts over https, or the host the client
        was pointed at (an emulator, in development)."""
        parts, base = urlsplit(url), urlsplit(self._base_url)
        host = (parts.hostname or "").lower()
        if parts.scheme == base.scheme and parts.netloc == base.netloc:
            return True
        return parts.scheme == "https" and any(
            host == domain or host.endswith("." + domain) for domain in _META_MEDIA_DOMAINS
        )

    def url(self, credentials: MetaCredentials, *segments: str) -> str:
        """The URL of ``segments`` under the account's Graph API version, each segment escaped."""
        path = "/".join(quote(segment, safe="") for segment in (credentials.graph_api_version, *segments))
        return f"{self._base_url}/{path}"

    def _http(self) -> aiohttp.ClientSession:
        # Created on first use: aiohttp binds a session to the loop it is created in.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(trust_env=False, timeout=self._timeout)
        return self._session

    async def post_json(
        self, credentials: MetaCredentials, segments: tuple[str, ...], body: Mapping[str, Any]
    ) -> JsonObject:
        return await self._call("POST", self.url(credentials, *segments), credentials, json_body=body)

    async def post_form(
        self, credentials: MetaCredentials, segments: tuple[str, ...], form: aiohttp.FormData
    ) -> JsonObject:
        return await self._call("POST", self.url(credentials, *segments), credentials, form=form)

    async def get_json(
        self,
        credentials: MetaCredentials,
        segments: tuple[str, ...],
        query: Mapping[str, str] | None = None,
    ) -> JsonObject:
        return await self._call("GET", self.url(credentials, *segments), credentials, query=query)

    async def delete_json(
        self,
        credentials: MetaCredentials,
        segments: tuple[str, ...],
        query: Mapping[str, str] | None = None,
    ) -> JsonObject:
        return await self._call("DELETE", self.url(credentials, *segments), credentials, query=query)

    async def _call(
        self,
        method: str,
        url: str,
        credentials: MetaCredentials,
        *,
        json_body: Mapping[str, Any] | None = None,
        form: aiohttp.FormData | None = None,
        query: Mapping[str, str] | None = None,
    ) -> JsonObject:
        headers = {"Authorization": f"Bearer {credentials.access_token}", "Accept": "application/json"}
        data: bytes | aiohttp.FormData | None = form
        if json_body is not None:
            data = json.dumps(json_body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        try:
            async with self._http().request(
                method, url, data=data, headers=headers, params=query, allow_redirects=False
            ) as response:
                raw = await _read_at_most(response, _MAX_ANSWER_BYTES)
                status, response_headers = response.status, response.headers
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as error:
            raise GraphUnreachable(f"Meta's Graph API is unreachable ({_describe(error)})") from error
        except (TimeoutError, aiohttp.ClientError) as error:
            raise GraphNoAnswer(f"no answer from Meta's Graph API ({_describe(error)})") from error
        except _TooLarge as error:
            raise GraphNoAnswer("Meta's answer was far larger than any Graph API answer") from error
        if 200 <= status < 300:
            answer = _json_object(raw)
            if answer is None:
                raise GraphNoAnswer(f"Meta answered HTTP {status} with a body that is not a JSON object")
            return answer
        raise GraphRefused(read_error(status, raw, response_headers.get("Retry-After")))

    @contextlib.asynccontextmanager
    async def open_download(
        self, credentials: MetaCredentials, url: str, max_bytes: int
    ) -> AsyncIterator[MediaStream]:
        """``url`` (a media URL the Graph API gave) fetched with the account's bearer token, its bytes
        streamed as they arrive until the block ends. MediaTooLarge as soon as the announced length or
        the bytes read exceed ``max_bytes``; GraphRefused for an error answer; GraphUnreachable or
        GraphNoAnswer (from the chunks too) when the transfer fails."""
        if not self._is_metas_media_url(url):
            raise GraphNoAnswer("Meta gave a media URL that is not on one of its hosts over https")
        headers = {"Authorization": f"Bearer {credentials.access_token}"}
        try:
            response = await self._http().get(
                url, headers=headers, allow_redirects=False, timeout=self._download_timeout
            )
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as error:
            raise GraphUnreachable(f"Meta's media host is unreachable ({_describe(error)})") from error
        except (TimeoutError, aiohttp.ClientError) as error:
            raise GraphNoAnswer(f"the media download broke off ({_describe(error)})") from error
        try:
            if not 200 <= response.status < 300:
                try:
                    raw = await _read_at_most(response, _MAX_ANSWER_BYTES)
                except (_TooLarge, TimeoutError, aiohttp.ClientError):
                    raw = b""
                raise GraphRefused(read_error(response.status, raw, response.headers.get("Retry-After")))
            if response.content_length is not None and response.content_length > max_bytes:
                raise MediaTooLarge(max_bytes)
            yield MediaStream(
                content_type=response.headers.get("Content-Type", "application/octet-stream"),
                size=response.content_length,
                chunks=_media_chunks(response, max_bytes),
            )
        finally:
            response.release()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class _TooLarge(Exception):
    pass


async def _media_chunks(response: aiohttp.ClientResponse, max_bytes: int) -> AsyncIterator[bytes]:
    size = 0
    try:
        async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
            size += len(chunk)
            if size > max_bytes:
                raise MediaTooLarge(max_bytes)
            yield chunk
    except (TimeoutError, aiohttp.ClientError) as error:
        raise GraphNoAnswer(f"the media download broke off ({_describe(error)})") from error


async def _read_at_most(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body, read in chunks; _TooLarge as soon as it passes ``limit`` bytes (the rest is left)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _json_object(raw: bytes) -> JsonObject | None:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def read_error(http_status: int, raw: bytes, retry_after: str | None = None) -> GraphError:
    """Meta's error body read into a GraphError; a body of another form gives the HTTP status alone."""
    retry_after_seconds = parse_retry_after(retry_after)
    body = _json_object(raw)
    error = body.get("error") if body is not None else None
    if not isinstance(error, dict):
        return GraphError(http_status=http_status, retry_after_seconds=retry_after_seconds)
    error_data = error.get("error_data")
    details = error_data.get("details") if isinstance(error_data, dict) else None
    return GraphError(
        http_status=http_status,
        code=_integer(error.get("code")),
        subcode=_integer(error.get("error_subcode")),
        type=_text(error.get("type")),
        message=_text(error.get("message")),
        details=_text(details),
        fbtrace_id=_text(error.get("fbtrace_id")),
        retry_after_seconds=retry_after_seconds,
        user_title=_text(error.get("error_user_title")),
        user_message=_text(error.get("error_user_msg")),
    )


def _integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) <= 12:
        return int(value)
    return None


def _text(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:_MAX_ERROR_TEXT]


def _describe(error: BaseException) -> str:
    if isinstance(error, aiohttp.ClientConnectorError):
        return error.strerror or type(error).__name__
    return type(error).__name__
