"""Posting webhooks: an HTTP session of the emulator's own, and what each POST got back."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import aiohttp

from emulators.common.state import PostedWebhook

logger = logging.getLogger(__name__)

MAX_RESPONSE_TEXT = 2000


class WebhookClient:
    """Posts webhooks with its own HTTP session (proxy variables ignored).

    ``open()`` it inside the event loop that will post (the application's start-up does).
    """

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(trust_env=False)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError(f"{type(self).__name__}.open() was not called")
        return self._session

    async def post_once(
        self,
        delivery: PostedWebhook,
        *,
        data: bytes | Mapping[str, str],
        headers: Mapping[str, str],
        timeout_seconds: float,
    ) -> None:
        """POST ``data`` to ``delivery.url``; the answer (or why there was none) goes on ``delivery``."""
        timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        body = data if isinstance(data, bytes) else dict(data)
        try:
            async with self.session.post(delivery.url, data=body, headers=headers, timeout=timeout) as reply:
                delivery.http_status = reply.status
                delivery.response_body = (await reply.text())[:MAX_RESPONSE_TEXT]
        except (aiohttp.ClientError, TimeoutError) as error:
            delivery.error = f"{type(error).__name__}: {error}"
            logger.info("webhook %s to %s failed: %s", delivery.kind, delivery.url, delivery.error)
