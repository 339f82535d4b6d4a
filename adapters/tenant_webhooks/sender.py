"""POSTing webhook deliveries with aiohttp: a hard timeout, no redirects, and guarded addresses.

- The whole attempt (connect, send, answer) has ``timeout_seconds``; the first ``max_excerpt_bytes``
  of the answer are kept, the rest is never read.
- Redirects are not followed: a 3xx is an answer like any other non-2xx (and a redirect could lead
  to an address the guard would refuse).
- Names are resolved by a resolver that refuses the lot when any address is one webhooks may not
  reach, and the connection goes to the addresses it returned: what was checked is what is used.
  IP literals never reach a resolver, so they are checked before the request.
- No proxy from the environment, no cookies kept between deliveries.
"""

from __future__ import annotations

import logging
import socket
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from adapters.tenant_webhooks.destinations import DestinationPolicy, ip_literal
from application.errors import WebhookUrlRefused
from application.ports.tenant_webhooks import WebhookRequest, WebhookResponse

logger = logging.getLogger(__name__)

MAX_EXCERPT_BYTES = 1024


class DestinationRefused(OSError):
    """Raised by the resolver: aiohttp wraps it in ClientConnectorDNSError, the sender unwraps it."""


class GuardedResolver(AbstractResolver):
    """The system resolver, refusing names that resolve to an address the policy refuses."""

    def __init__(self, policy: DestinationPolicy) -> None:
        self._policy = policy
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        addresses = [address for result in results if (address := ip_literal(result["host"])) is not None]
        try:
            self._policy.check_addresses(host, addresses)
        except WebhookUrlRefused as refused:
            raise DestinationRefused(refused.detail) from None
        return results

    async def close(self) -> None:
        await self._inner.close()


class AiohttpWebhookSender:
    """Create and use it inside a running event loop; ``aclose()`` it at shutdown."""

    def __init__(
        self,
        *,
        timeout_seconds: float,
        policy: DestinationPolicy,
        max_excerpt_bytes: int = MAX_EXCERPT_BYTES,
    ) -> None:
        self._timeout_seconds = timeout_seconds
        self._policy = policy
        self._max_excerpt_bytes = max_excerpt_bytes
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(self._policy),
                use_dns_cache=False,  # every connection resolves, and is checked, afresh
                limit=200,
                limit_per_host=20,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
                timeout=aiohttp.ClientTimeout(total=self._timeout_seconds),
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def send(self, request: WebhookRequest) -> WebhookResponse:
        started = time.monotonic()

        def elapsed_ms() -> int:
            return int((time.monotonic() - started) * 1000)

        host = urlsplit(request.url).hostname or ""
        literal = ip_literal(host)
        if literal is not None and (reason := self._policy.refusal(literal)) is not None:
            return WebhookResponse(
                duration_ms=0,
                error=f"refused: {host} is not a public address ({reason}); webhooks go to public "
                "addresses only",
            )
        try:
            async with self._client().post(
                request.url, data=request.body, headers=dict(request.headers), allow_redirects=False
            ) as response:
                excerpt = await self._excerpt(response)
                return WebhookResponse(
                    duration_ms=elapsed_ms(),
                    status_code=response.status,
                    body_excerpt=excerpt,
                    retry_after_seconds=retry_after_seconds(response.headers.get("Retry-After")),
                )
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as error:
            return WebhookResponse(duration_ms=elapsed_ms(), error=self._failure(error, host))

    def _failure(self, error: Exception, host: str) -> str:
        """Why an attempt got no answer, in words for the deliveries log."""
        if isinstance(error, TimeoutError):
            return f"timed out after {self._timeout_seconds:g} s"
        if isinstance(error, aiohttp.ClientConnectorError):
            if isinstance(error.os_error, DestinationRefused):
                return f"refused: {error.os_error}"
            return f"cannot connect to {host}: {_describe(error.os_error)}"
        return f"request failed: {_describe(error)}"

    async def _excerpt(self, response: aiohttp.ClientResponse) -> str | None:
        """At most ``max_excerpt_bytes`` of the body; a body that stalls keeps what arrived."""
        chunks: list[bytes] = []
        size = 0
        try:
            while size < self._max_excerpt_bytes:
                chunk = await response.content.read(self._max_excerpt_bytes - size)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        except (TimeoutError, aiohttp.ClientError):
            pass
        if not chunks:
            return None
        return b"".join(chunks).decode("utf-8", "replace")


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None when absent or invalid."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _describe(error: BaseException) -> str:
    text = str(error).partition("\n")[0][:200]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
