"""Running the emulator: inside a test (``running_emulator``) or as a process (``serve``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from emulators.common.server import RunningEmulatorBase, serve_until_cancelled, serving
from emulators.twilio.app import create_app
from emulators.twilio.callbacks import Webhooks
from emulators.twilio.config import EmulatorConfig, MediaFile
from emulators.twilio.keys import WEBHOOKS
from emulators.twilio.state import Delivery, EmulatorState


@dataclass(frozen=True, slots=True)
class RunningEmulator(RunningEmulatorBase[EmulatorState, Webhooks]):
    """A started emulator: point a Twilio client at ``base_url``; inspect or change ``state``."""

    async def send_inbound(
        self,
        url: str,
        *,
        from_: str,
        to: str,
        body: str = "",
        account_sid: str | None = None,
        media_urls: Sequence[str] = (),
        media_content_types: Sequence[str] = (),
        profile_name: str = "",
        extra: Mapping[str, str] | None = None,
        signed_url: str | None = None,
        media: Sequence[MediaFile] = (),
    ) -> Delivery:
        """Post a signed inbound WhatsApp message to ``url`` (see ``Webhooks.send_inbound``)."""
        return await self.webhooks.send_inbound(
            url=url,
            from_=from_,
            to=to,
            body=body,
            account_sid=account_sid,
            media_urls=media_urls,
            media_content_types=media_content_types,
            profile_name=profile_name,
            extra=extra,
            signed_url=signed_url,
            media=media,
        )


@asynccontextmanager
async def running_emulator(
    config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningEmulator]:
    """Serve the emulator on ``host:port`` (0: any free port) for the duration of the block."""
    state = EmulatorState(config)
    app = create_app(state)
    async with serving(app, host, port) as base_url:
        state.base_url = base_url
        yield RunningEmulator(base_url=base_url, state=state, webhooks=app[WEBHOOKS])


async def serve(
    config: EmulatorConfig,
    host: str,
    port: int,
    on_ready: Callable[[RunningEmulator], None] | None = None,
) -> None:
    """Run until cancelled (Ctrl-C under ``asyncio.run``)."""
    await serve_until_cancelled(running_emulator(config, host, port), on_ready)
