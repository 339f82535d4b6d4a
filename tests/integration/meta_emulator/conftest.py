"""The Meta emulator on a free port with its webhooks going to a receiver of the tests' own, and a Graph
API client for it (see tests/support/meta_emulator.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from emulators.meta import RunningEmulator, running_emulator
from tests.support.meta_emulator import GraphClient, WebhookReceiver, emulator_config, webhook_receiver


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver() as running:
        yield running


@pytest.fixture
async def emulator(receiver: WebhookReceiver) -> AsyncIterator[RunningEmulator]:
    async with running_emulator(emulator_config(receiver.url())) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def graph(http: aiohttp.ClientSession, emulator: RunningEmulator) -> GraphClient:
    return GraphClient(http, emulator.base_url)
