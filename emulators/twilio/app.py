"""The emulator's aiohttp application: Twilio's REST routes (the Messages API's and the Content API's)
and the control API."""

from __future__ import annotations

from aiohttp import web

from emulators.common.app import emulator_app
from emulators.twilio import api, content, control, media
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
    webhooks = Webhooks(state)
    app = emulator_app(state, STATE, webhooks, client_max_size=MAX_REQUEST_BYTES)
    app[WEBHOOKS] = webhooks
    app.router.add_post(f"{ACCOUNT}/Messages.json", api.create_message)
    app.router.add_get(f"{ACCOUNT}/Messages.json", api.list_messages)
    app.router.add_get(f"{ACCOUNT}/Messages/{{sid}}.json", api.fetch_message)
    app.router.add_get(f"{ACCOUNT}/Messages/{{sid}}/Media/{{media_sid}}", media.fetch_media)
    app.router.add_get(f"{media.CDN_PATH}/{{token}}", media.cdn_media)
    app.router.add_post(content.CONTENT_PATH, content.create_content)
    app.router.add_get(content.CONTENT_PATH, content.list_contents)
    app.router.add_get(f"{content.CONTENT_PATH}/{{sid}}", content.fetch_content)
    app.router.add_delete(f"{content.CONTENT_PATH}/{{sid}}", content.delete_content)
    app.router.add_post(f"{content.CONTENT_PATH}/{{sid}}/ApprovalRequests/whatsapp", content.create_approval)
    app.router.add_get(f"{content.CONTENT_PATH}/{{sid}}/ApprovalRequests", content.fetch_approvals)
    app.router.add_get(content.LIST_PATH, content.list_content_and_approvals)
    app.router.add_routes(control.routes)
    app.router.add_route("*", "/{tail:.*}", api.not_found)
    return app
