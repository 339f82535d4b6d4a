"""The emulator's aiohttp application: the Graph API routes, media downloads and the control API."""

from __future__ import annotations

from aiohttp import web

from emulators.common.app import emulator_app
from emulators.meta import api, control
from emulators.meta.callbacks import Webhooks
from emulators.meta.config import EmulatorConfig
from emulators.meta.keys import STATE, WEBHOOKS
from emulators.meta.state import EmulatorState

VERSION = "/{version:v[0-9]+\\.[0-9]+}"
# A JSON send is small; an upload may be as large as the largest media Meta takes, and a little more.
UPLOAD_OVERHEAD_BYTES = 1024 * 1024


def create_app(state: EmulatorState | EmulatorConfig | None = None) -> web.Application:
    """An application serving ``state`` (a fresh state for a config, or the default config)."""
    if not isinstance(state, EmulatorState):
        state = EmulatorState(state)
    webhooks = Webhooks(state)
    app = emulator_app(
        state, STATE, webhooks, client_max_size=state.config.max_media_bytes + UPLOAD_OVERHEAD_BYTES
    )
    app[WEBHOOKS] = webhooks
    app.router.add_routes(control.routes)
    app.router.add_get("/_media/{handle}", api.download_media)
    for prefix in (VERSION, ""):
        app.router.add_post(f"{prefix}/{{object_id}}/messages", api.send_message)
        app.router.add_post(f"{prefix}/{{object_id}}/media", api.upload_media)
        app.router.add_post(f"{prefix}/{{object_id}}/message_templates", api.create_template)
        app.router.add_get(f"{prefix}/{{object_id}}/message_templates", api.list_templates)
        app.router.add_delete(f"{prefix}/{{object_id}}/message_templates", api.delete_templates)
        app.router.add_post(f"{prefix}/{{object_id}}", api.update_template)
        app.router.add_get(f"{prefix}/{{object_id}}", api.get_object)
        app.router.add_delete(f"{prefix}/{{object_id}}", api.delete_object)
    app.router.add_route("*", "/{tail:.*}", api.not_found)
    return app
