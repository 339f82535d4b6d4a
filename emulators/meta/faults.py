"""Injected misbehaviour: latency, random failures, requests held past any timeout, dropped connections."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from emulators.meta.config import FailureKind
from emulators.meta.state import EmulatorState


async def apply_latency(state: EmulatorState) -> None:
    """Wait ``latency_ms`` (cut short when the emulator shuts down)."""
    latency = state.faults.latency_ms
    milliseconds = state.rng.uniform(*latency) if isinstance(latency, tuple) else latency
    if milliseconds > 0:
        await _wait_unless_closing(state, milliseconds / 1000)


def pick_failure(state: EmulatorState) -> FailureKind | None:
    """A random failure for this request, ``failure_rate`` of the time."""
    faults = state.faults
    if faults.failure_rate <= 0 or state.rng.random() >= faults.failure_rate:
        return None
    return state.rng.choice(faults.failure_kinds)


async def hold(state: EmulatorState) -> None:
    """Keep the request open for ``hold_seconds``, or until the emulator shuts down."""
    await _wait_unless_closing(state, state.faults.hold_seconds)


async def _wait_unless_closing(state: EmulatorState, seconds: float) -> None:
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
