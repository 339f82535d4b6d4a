"""The app under test for the HTTP tests: ``api`` is the app of the test module's ``api_options``;
``make_api`` starts more apps, or the same one with other settings. See tests/support/api.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest

from tests.support.api import Api, ApiOptions, MakeApi, openapi_schema, running_api


@pytest.fixture
def api_options() -> ApiOptions:
    """The options of this module's app; a test module overrides this fixture to choose its own."""
    return ApiOptions()


@pytest.fixture
async def make_api(
    api_options: ApiOptions, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[MakeApi]:
    """Start an app (see ``MakeApi``), each with a data directory of its own; all stop when the test ends."""
    async with AsyncExitStack() as running:

        async def make(options: ApiOptions | None = None, **settings: str) -> Api:
            chosen = (options or api_options).with_settings(**settings)
            return await running.enter_async_context(running_api(tmp_path_factory.mktemp("api"), chosen))

        yield make


@pytest.fixture
async def api(make_api: MakeApi) -> Api:
    return await make_api()


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The OpenAPI schema of the app with its default settings, built once per module."""
    return openapi_schema(tmp_path_factory.mktemp("openapi"))
