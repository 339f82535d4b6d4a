"""Running the emulator: inside a test (``running_emulator``) or as a process (``serve``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import msgspec

from emulators.common.server import RunningEmulatorBase, serve_until_cancelled, serving
from emulators.meta.app import create_app
from emulators.meta.callbacks import Verification, Webhooks
from emulators.meta.config import EmulatorConfig, ForcedError
from emulators.meta.control import ConsoleTemplateCommand, made_in_console
from emulators.meta.inbound import InboundMessage
from emulators.meta.keys import WEBHOOKS
from emulators.meta.state import Delivery, EmulatorState
from emulators.meta.templates import TemplateRecord


@dataclass(frozen=True, slots=True)
class RunningEmulator(RunningEmulatorBase[EmulatorState, Webhooks]):
    """A started emulator: point a Graph API client at ``base_url`` (``{base_url}/v23.0/...``);
    inspect or change ``state``; make customers write with ``send_inbound``."""

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

    async def advance_clock(self, seconds: float) -> list[Delivery]:
        """Move the emulator's clock forward and decide the templates whose review time came; the
        template webhooks posted."""
        self.state.advance_clock(seconds)
        return await self.webhooks.review_due()

    def console_template(self, **fields: Any) -> TemplateRecord:
        """A template made as if in Meta's console (approved unless ``status`` says otherwise); the
        fields are those of ``POST /_emulator/templates``."""
        return made_in_console(self.state, msgspec.convert(fields, ConsoleTemplateCommand))

    async def template_event(
        self, template_id: str, event: str, reason: str | None = None
    ) -> Delivery | None:
        """Pause, disable, reinstate, flag … a template, posting its status webhook."""
        return await self.webhooks.change_template_status(self.state.templates[template_id], event, reason)

    async def template_quality(self, template_id: str, score: str) -> Delivery | None:
        return await self.webhooks.change_template_quality(self.state.templates[template_id], score)

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
    async with serving(app, host, port) as base_url:
        yield RunningEmulator(base_url=base_url, state=state, webhooks=app[WEBHOOKS])


async def serve(
    config: EmulatorConfig,
    host: str,
    port: int,
    on_ready: Callable[[RunningEmulator], None] | None = None,
) -> None:
    """Run until cancelled (Ctrl-C under ``asyncio.run``)."""
    await serve_until_cancelled(running_emulator(config, host, port), on_ready)
