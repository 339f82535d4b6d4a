"""Running the emulator: inside a test (``running_emulator``) or as a process (``serve``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from emulators.meta.app import create_app
from emulators.meta.callbacks import Verification, Webhooks
from emulators.meta.config import EmulatorConfig, ForcedError
from emulators.meta.inbound import InboundMessage
from emulators.meta.keys import WEBHOOKS
from emulators.meta.state import Delivery, EmulatorState

SHUTDOWN_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class RunningEmulator:
    """A started emulator: point a Graph API client at ``base_url`` (``{base_url}/v23.0/...``);
    inspect or change ``state``; make customers write with ``send_inbound``."""

    base_url: str
    state: EmulatorState
    webhooks: Webhooks

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    async def reset(self) -> None:
        await self.state.reset()

    async def send_inbound(self, message: InboundMessage) -> Delivery:
        """A customer writes: post the signed webhook (see ``InboundMessage``)."""
        return await self.webhooks.send_inbound(message)

    async def send_inbound_batch(
        self, messages: Sequence[InboundMessage], *, merge: bool | None = None
    ) -> Delivery:
        """Several customers' messages in one webhook."""
        return await self.webhooks.send_inbound_batch(messages, merge=merge)

    async def send_status(self, message_id: str, status: str, error: ForcedError | None = None) -> Delivery:
        """Post a status webhook for a sent message now."""
        return await self.webhooks.send_status(message_id, status, error)

    async def verify(
        self,
        *,
        app_id: str | None = None,
        url: str | None = None,
        verify_token: str | None = None,
        challenge: str | None = None,
    ) -> Verification:
        """Meta's verification GET on the callback URL; what came back."""
        return await self.webhooks.verify(
            app_id=app_id, url=url, verify_token=verify_token, challenge=challenge
        )


@asynccontextmanager
async def running_emulator(
    config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningEmulator]:
    """Serve the emulator on ``host:port`` (0: any free port) for the duration of the block."""
    state = EmulatorState(config)
    app = create_app(state)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        display_host = f"[{bound_host}]" if ":" in bound_host else bound_host
        yield RunningEmulator(
            base_url=f"http://{display_host}:{bound_port}", state=state, webhooks=app[WEBHOOKS]
        )
    finally:
        await runner.cleanup()


async def serve(
    config: EmulatorConfig,
    host: str,
    port: int,
    on_ready: Callable[[RunningEmulator], None] | None = None,
) -> None:
    """Run until cancelled (Ctrl-C under ``asyncio.run``)."""
    async with running_emulator(config, host, port) as emulator:
        if on_ready is not None:
            on_ready(emulator)
        await asyncio.Event().wait()
