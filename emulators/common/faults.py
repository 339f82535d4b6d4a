"""Injected misbehaviour: latency, random failures, requests held past any timeout, dropped connections."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import web

from emulators.common.settings import FailureKind
from emulators.common.state import EmulatorStateBase, RequestRecord

State = EmulatorStateBase[Any, Any, Any]


async def apply_latency(state: State) -> None:
    """Wait ``latency_ms`` (cut short when the emulator shuts down)."""
    latency = state.faults.latency_ms
    milliseconds = state.rng.uniform(*latency) if isinstance(latency, tuple) else latency
    if milliseconds > 0:
        await _wait_unless_closing(state, milliseconds / 1000)


def pick_failure(state: State) -> FailureKind | None:
    """A random failure for this request, ``failure_rate`` of the time."""
    faults = state.faults
    if faults.failure_rate <= 0 or state.rng.random() >= faults.failure_rate:
        return None
    failure: FailureKind = state.rng.choice(faults.failure_kinds)
    return failure


async def hold(state: State) -> None:
    """Keep the request open for ``hold_seconds``, or until the emulator shuts down."""
    await _wait_unless_closing(state, state.faults.hold_seconds)


async def _wait_unless_closing(state: State, seconds: float) -> None:
    if state.closing.is_set():
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(state.closing.wait(), timeout=seconds)


def drop_connection(request: web.BaseRequest) -> web.Response:
    """Close the connection without answering; the returned response is never written."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    return web.Response(status=499)


async def unanswered(
    request: web.BaseRequest, state: State, record: RequestRecord, failure: FailureKind
) -> web.Response | None:
    """A ``drop`` or ``timeout`` failure ends the request without an answer (recorded as ``dropped`` or
    ``timed_out``); None for the failures the provider answers with its own error body."""
    if failure is FailureKind.DROP:
        state.finish_request(record, "dropped")
        return drop_connection(request)
    if failure is FailureKind.TIMEOUT:
        await hold(state)
        state.finish_request(record, "timed_out")
        return drop_connection(request)
    return None
