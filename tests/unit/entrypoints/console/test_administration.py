"""The console's tenant administration: users, senders, provider accounts, API keys, webhooks, limits and
the audit log, for the tenant's admins only, each page on the use cases the API's routes call."""

from __future__ import annotations

import pytest

from tests.support.api import ACCESS_CONTROL, Api, ApiOptions
from tests.support.console import ConsolePages, text_of


@pytest.fixture
def api_options() -> ApiOptions:
    return ACCESS_CONTROL


async def console_of(api: Api, username: str = "alice") -> ConsolePages:
    console = ConsolePages(api.client)
    await console.sign_in(username)
    return console


async def test_users_smoke(api: Api) -> None:
    console = await console_of(api)
    page = await console.get("/console/admin/users")
    print(text_of(page))
    response = await console.submit(
        "/console/admin/users", {"username": "x", "password": "short", "role": "agent"}, from_page="/console/admin/users", expect=422
    )
    print(text_of(response.text))
