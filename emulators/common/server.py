"""Running an emulator: inside a test (an application served for the duration of a block) or as a
process (until cancelled)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiohttp import web

from emulators.common.state import EmulatorStateBase
from emulators.common.webhooks import WebhookClient

SHUTDOWN_SECONDS = 2.0

StateT = TypeVar("StateT", bound=EmulatorStateBase[Any, Any, Any])
WebhooksT = TypeVar("WebhooksT", bound=WebhookClient)
E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class RunningEmulatorBase(Generic[StateT, WebhooksT]):
    """A started emulator: point a client at ``base_url``; inspect or change ``state``."""

    base_url: str
    state: StateT
    webhooks: WebhooksT

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    async def reset(self) -> None:
        await self.state.reset()


@asynccontextmanager
async def serving(app: web.Application, host: str, port: int) -> AsyncIterator[str]:
    """Serve ``app`` on ``host:port`` (0: any free port) for the duration of the block; its base URL."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        display_host = f"[{bound_host}]" if ":" in bound_host else bound_host
        yield f"http://{display_host}:{bound_port}"
    finally:
        await runner.cleanup()


async def serve_until_cancelled(
    running: AbstractAsyncContextManager[E], on_ready: Callable[[E], None] | None = None
) -> None:
    """Run until cancelled (Ctrl-C under ``asyncio.run``)."""
    async with running as emulator:
        if on_ready is not None:
            on_ready(emulator)
        await asyncio.Event().wait()
