"""Fixtures for the gateway's pages in a real browser (tests/support/browser.py has the helpers).

- ``browser``: Chromium (``CHROMIUM_PATH``, else Debian's ``/usr/bin/chromium``), headless, one for the
  session. Without it the tests are skipped with the reason, or fail under ``CI=true``, where a missing
  browser is a broken pipeline.
- ``console_world``: the whole gateway served over real HTTP by uvicorn on a free port, on a PostgreSQL
  database of its own, beside the Twilio and Meta emulators (``two_provider_world``), with a tenant whose
  admin and agent log in with known passwords, and a platform admin; one for this package's tests.
- ``desktop`` and ``phone``: a page in a fresh browser context (no cookies) at 1280x800 or at a phone's
  390x844, its relative URLs on the gateway; ``screen``: the test once at each size (``screen.page``,
  ``screen.size``: "desktop" or "phone"). ``open_page(DESKTOP or PHONE)`` opens more (two people at
  once). Each context is watched: a test fails if a page's Content-Security-Policy refused something or a
  script threw (``problems_of(page)`` shows what was seen so far).

The browser's calls and the gateway run on the session's event loop, so the tests are ``async``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from domain.administration.tenancy import Role
from tests.support.browser import (
    DESKTOP,
    PHONE,
    SIZES,
    Account,
    ChromiumNotFound,
    ConsoleWorld,
    OpenPage,
    PageProblems,
    Screen,
    chromium_path,
    new_user,
)
from tests.support.databases import PostgresRoles, create_prepared_database
from tests.support.postgres_server import PostgresServer
from tests.support.two_providers import two_provider_world

# Fail fast: a page of this gateway answers in milliseconds, and Playwright's 30 s hides a wrong selector.
ACTION_TIMEOUT_MS = 10_000


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    try:
        executable = chromium_path()
    except ChromiumNotFound as error:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {error}", pytrace=False)
        pytest.skip(str(error))
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="package")
async def console_world(
    postgres_server: PostgresServer,
    postgres_roles: PostgresRoles,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ConsoleWorld]:
    # A database of its own: the world lives through the package's tests, and other tests empty the
    # session's database.
    database = create_prepared_database(postgres_server, postgres_roles)
    try:
        async with two_provider_world(
            postgres_server.url_for(database, postgres_roles.app),
            tmp_path_factory.mktemp("console"),
            # A browser makes many requests, and its tests log in many times, all from 127.0.0.1.
            environment={
                "REQUESTS_PER_MINUTE_PER_IP": "1000000",
                "LOGIN_ATTEMPTS_PER_MINUTE": "1000000",
                "LOG_LEVEL": "WARNING",
                # Webhook endpoints made on the admin pages point at this machine.
                "WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true",
            },
        ) as world:
            yield ConsoleWorld(
                world=world,
                tenant_admin=Account(world.admin_username, world.admin_password, Role.TENANT_ADMIN),
                agent=await new_user(world, Role.AGENT),
                platform_admin=await new_user(world, Role.PLATFORM_ADMIN),
            )
    finally:
        postgres_server.drop_database(database)


@pytest.fixture
async def open_page(browser: Browser, console_world: ConsoleWorld) -> AsyncIterator[OpenPage]:
    """Open a page in a fresh context of the given size (``DESKTOP``, ``PHONE``); all are closed after the
    test, which fails if any of their pages broke the Content-Security-Policy or threw."""
    contexts: list[tuple[BrowserContext, PageProblems]] = []

    async def open_one(size: dict[str, Any]) -> Page:
        context = await browser.new_context(base_url=console_world.base_url, **size)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        contexts.append((context, await PageProblems.watch(context)))
        return await context.new_page()

    yield open_one
    blocking = [problem for _, problems in contexts for problem in problems.blocking()]
    for context, _ in contexts:
        await context.close()
    if blocking:
        pytest.fail("the browser refused or failed to run part of a page:\n" + "\n".join(blocking))


@pytest.fixture
async def desktop(open_page: OpenPage) -> Page:
    return await open_page(DESKTOP)


@pytest.fixture
async def phone(open_page: OpenPage) -> Page:
    return await open_page(PHONE)


@pytest.fixture(params=list(SIZES))
async def screen(request: pytest.FixtureRequest, open_page: OpenPage) -> Screen:
    size: str = request.param
    return Screen(size=size, page=await open_page(SIZES[size]))
