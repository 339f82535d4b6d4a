"""The part of an emulator's aiohttp application every provider has: the control API's errors and shared
routes, the webhook session, and a shutdown that does not wait for held requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeVar

from aiohttp import web

from emulators.common.control import control_errors, shared_routes
from emulators.common.state import EmulatorStateBase
from emulators.common.webhooks import WebhookClient

StateT = TypeVar("StateT", bound=EmulatorStateBase[Any, Any, Any])


def emulator_app(
    state: StateT, state_key: web.AppKey[StateT], webhooks: WebhookClient, *, client_max_size: int
) -> web.Application:
    """An application holding ``state`` under ``state_key``, serving the shared control routes; the
    provider adds its own routes, then its answer to any other path."""
    app = web.Application(middlewares=[control_errors], client_max_size=client_max_size)
    app[state_key] = state
    app.router.add_routes(shared_routes(state_key))

    async def webhook_session(_: web.Application) -> AsyncIterator[None]:
        await webhooks.open()
        yield
        await state.cancel_background()
        await webhooks.close()

    async def release_held_requests(_: web.Application) -> None:
        """Requests held by the ``timeout`` fault end (connection dropped) instead of delaying shutdown."""
        state.closing.set()
        await state.cancel_background()

    app.cleanup_ctx.append(webhook_session)
    app.on_shutdown.append(release_held_requests)
    return app
