"""The emulator's aiohttp application: Twilio's REST routes, the control API, and start/stop hooks."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from emulators.twilio import api, control, media
from emulators.twilio.callbacks import Webhooks
from emulators.twilio.config import EmulatorConfig
from emulators.twilio.keys import STATE, WEBHOOKS
from emulators.twilio.state import EmulatorState

ACCOUNT = "/2010-04-01/Accounts/{account_sid}"
MAX_REQUEST_BYTES = 1024 * 1024


def create_app(state: EmulatorState | EmulatorConfig | None = None) -> web.Application:
    """An application serving ``state`` (a fresh state for a config, or the default config)."""
    if not isinstance(state, EmulatorState):
        state = EmulatorState(state)
    app = web.Application(middlewares=[control.control_errors], client_max_size=MAX_REQUEST_BYTES)
    app[STATE] = state
    app[WEBHOOKS] = Webhooks(state)
    app.router.add_post(f"{ACCOUNT}/Messages.json", api.create_message)
    app.router.add_get(f"{ACCOUNT}/Messages.json", api.list_messages)
    app.router.add_get(f"{ACCOUNT}/Messages/{{sid}}.json", api.fetch_message)
    app.router.add_get(f"{ACCOUNT}/Messages/{{sid}}/Media/{{media_sid}}", media.fetch_media)
    app.router.add_get(f"{media.CDN_PATH}/{{token}}", media.cdn_media)
    app.router.add_routes(control.routes)
    app.router.add_route("*", "/{tail:.*}", api.not_found)
    app.cleanup_ctx.append(_webhook_session)
    app.on_shutdown.append(_release_held_requests)
    return app


async def _webhook_session(app: web.Application) -> AsyncIterator[None]:
    webhooks = app[WEBHOOKS]
    await webhooks.open()
    yield
    await app[STATE].cancel_background()
    await webhooks.close()


async def _release_held_requests(app: web.Application) -> None:
    """Requests held by the ``timeout`` fault end (connection dropped) instead of delaying shutdown."""
    state = app[STATE]
    state.closing.set()
    await state.cancel_background()
