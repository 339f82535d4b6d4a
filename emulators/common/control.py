"""The generic part of an emulator's JSON control API under ``/_emulator/``, and what a provider's own
control routes are built with.

GET    /_emulator/health      liveness
GET    /_emulator/faults      current faults
PATCH  /_emulator/faults      change some fault settings (JSON object, merged)
PUT    /_emulator/faults      replace all fault settings (unset fields take their defaults)
DELETE /_emulator/faults      back to the start-up faults
GET    /_emulator/stats       counts by outcome
POST   /_emulator/settle      wait until every pending status and webhook has gone out
POST   /_emulator/reset       forget everything, back to the start-up configuration

A mistake of the caller (a body that does not decode, a setting out of range, an unknown name) is a
400 ``{"error": ...}``: raise ``ControlError``, or run the change under ``refused_as_control_error()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from emulators.common.settings import merged
from emulators.common.state import EmulatorStateBase

T = TypeVar("T")
S = TypeVar("S", bound=msgspec.Struct)
StateT = TypeVar("StateT", bound=EmulatorStateBase[Any, Any, Any])


class ControlError(Exception):
    """The caller's mistake: answered 400 with its message."""


def json_response(data: object, status: int = 200) -> web.Response:
    return web.Response(body=msgspec.json.encode(data), status=status, content_type="application/json")


async def read_json(request: web.Request, kind: type[T]) -> T:
    """The request's JSON body as ``kind`` (no body: an empty object)."""
    try:
        return msgspec.json.decode(await request.read() or b"{}", type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise ControlError(str(error)) from error


@contextmanager
def refused_as_control_error() -> Iterator[None]:
    """A LookupError or ValueError raised inside (an unknown name, a bad value) is the caller's mistake."""
    try:
        yield
    except (LookupError, ValueError) as error:
        raise ControlError(str(error)) from error


@web.middleware
async def control_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except ControlError as error:
        return json_response({"error": str(error)}, status=400)
    return response


def add_setting_routes(
    routes: web.RouteTableDef,
    path: str,
    state_key: web.AppKey[StateT],
    current: Callable[[StateT], S],
    change: Callable[[StateT, S], None],
) -> None:
    """``GET path`` shows a setting of the state (``current``); ``PATCH path`` merges a JSON object into
    it, checked, and ``change``s it."""

    @routes.get(path)
    async def show(request: web.Request) -> web.Response:
        return json_response(current(request.app[state_key]))

    @routes.patch(path)
    async def merge(request: web.Request) -> web.Response:
        state = request.app[state_key]
        changes = await read_json(request, dict[str, Any])
        with refused_as_control_error():
            change(state, merged(current(state), changes))
        return json_response(current(state))


def shared_routes(state_key: web.AppKey[StateT]) -> web.RouteTableDef:
    """The control routes every emulator serves, on the state the application holds under ``state_key``."""
    routes = web.RouteTableDef()

    @routes.get("/_emulator/health")
    async def health(_: web.Request) -> web.Response:
        return json_response({"ok": True})

    add_setting_routes(
        routes,
        "/_emulator/faults",
        state_key,
        lambda state: state.faults,
        lambda state, new: state.set_faults(new),
    )

    @routes.put("/_emulator/faults")
    async def put_faults(request: web.Request) -> web.Response:
        state = request.app[state_key]
        state.set_faults(await read_json(request, type(state.faults)))
        return json_response(state.faults)

    @routes.delete("/_emulator/faults")
    async def delete_faults(request: web.Request) -> web.Response:
        state = request.app[state_key]
        state.set_faults(state.config.faults)
        return json_response(state.faults)

    @routes.get("/_emulator/stats")
    async def stats(request: web.Request) -> web.Response:
        state = request.app[state_key]
        return json_response({"stats": dict(sorted(state.stats.items())), "messages": len(state.messages)})

    @routes.post("/_emulator/settle")
    async def settle(request: web.Request) -> web.Response:
        await request.app[state_key].settle()
        return json_response({"settled": True})

    @routes.post("/_emulator/reset")
    async def reset(request: web.Request) -> web.Response:
        await request.app[state_key].reset()
        return json_response({"reset": True})

    return routes
