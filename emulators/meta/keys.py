"""Typed keys for what the aiohttp application holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from emulators.meta.callbacks import Webhooks
    from emulators.meta.state import EmulatorState

STATE: web.AppKey[EmulatorState] = web.AppKey("state")
WEBHOOKS: web.AppKey[Webhooks] = web.AppKey("webhooks")
