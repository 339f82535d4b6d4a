"""Signing in to the console and out of it: the same users, limits and sessions as the API, a cookie the
browser's scripts cannot read, and forms that only the console's own pages can submit."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from domain.administration.tenancy import Role, TenantStatus
from entrypoints.console.rendering import CONSOLE_CONTENT_SECURITY_POLICY
from entrypoints.http.access import CONSOLE_SESSION_COOKIE
from tests.support.api import PASSWORD, Api, ApiOptions, MakeApi
from tests.support.console import ConsolePages, csrf_token_of, text_of
from tests.support.fakes import FakeUnitOfWork


def session_cookie(response: httpx.Response) -> str:
    (header,) = [
        value for value in response.headers.get_list("set-cookie") if value.startswith(CONSOLE_SESSION_COOKIE)
    ]
    return header


async def test_a_user_signs_in_and_lands_on_the_dashboard(api: Api) -> None:
    console = ConsolePages(api.client)

    await console.sign_in("alice")

    page = await console.get("/console")
    assert "Dashboard" in text_of(page)


async def test_the_session_cookie_is_http_only_same_site_and_scoped_to_the_console(api: Api) -> None:
    token = csrf_token_of(await ConsolePages(api.client).get("/console/login"))

    response = await api.client.post(
        "/console/login",
        data={"_csrf_token": token, "username": "alice", "password": PASSWORD},
        follow_redirects=False,
    )

    cookie = session_cookie(response).lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/console" in cookie
    assert "secure" not in cookie  # the test app's public URL is plain http
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("password", ["wrong password", ""])
async def test_a_wrong_password_shows_the_form_again_with_one_message(api: Api, password: str) -> None:
    console = ConsolePages(api.client)

    response = await console.submit(
        "/console/login",
        {"username": "alice", "password": password},
        from_page="/console/login",
        expect=401,
    )

    assert "The username or password is wrong." in text_of(response.text)
    assert 'name="username" autocomplete="username" required autofocus value="alice"' in response.text
    assert CONSOLE_SESSION_COOKIE not in response.headers.get("set-cookie", "")
    await console.get("/console", expect=303)


async def test_the_login_limits_apply_to_the_console_form(make_api: MakeApi) -> None:
    api = await make_api(ApiOptions().with_settings(LOGIN_ATTEMPTS_PER_MINUTE="2"))
    console = ConsolePages(api.client)
    for _ in range(2):
        await console.submit(
            "/console/login",
            {"username": "alice", "password": "nope"},
            from_page="/console/login",
            expect=401,
        )

    response = await console.submit(
        "/console/login", {"username": "alice", "password": PASSWORD}, from_page="/console/login", expect=429
    )

    assert "Too many failed sign-ins" in text_of(response.text)
    assert int(response.headers["retry-after"]) > 0


async def test_a_page_asked_for_without_a_session_comes_back_after_signing_in(api: Api) -> None:
    response = await api.client.get("/console?x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=%2Fconsole%3Fx%3D1"

    console = ConsolePages(api.client)
    form = await console.get("/console/login", next="/console?x=1")
    assert 'name="next" value="/console?x=1"' in form


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/console", "/api/messages", "/console\\..\\x", "/consolex"],
)
async def test_signing_in_never_sends_the_browser_outside_the_console(api: Api, target: str) -> None:
    console = ConsolePages(api.client)

    response = await console.submit(
        "/console/login",
        {"username": "alice", "password": PASSWORD, "next": target},
        from_page="/console/login",
    )

    assert response.headers["location"] == "/console"


async def test_a_form_without_its_csrf_token_is_refused_and_signs_no_one_in(api: Api) -> None:
    await ConsolePages(api.client).get("/console/login")  # the CSRF cookie is set, as in a real browser

    response = await api.client.post(
        "/console/login", data={"username": "alice", "password": PASSWORD}, follow_redirects=False
    )

    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]
    assert CONSOLE_SESSION_COOKIE not in response.headers.get("set-cookie", "")


async def test_a_forged_sign_out_is_refused_and_the_session_lives_on(api: Api) -> None:
    console = ConsolePages(api.client)
    await console.sign_in("alice")

    response = await api.client.post("/console/logout", data={}, follow_redirects=False)

    assert response.status_code == 403
    await console.get("/console")


async def test_signing_out_ends_the_session_in_every_tab(api: Api) -> None:
    first_tab = ConsolePages(api.client)
    await first_tab.sign_in("alice")
    ticket = api.client.cookies.get(CONSOLE_SESSION_COOKIE)
    assert ticket

    await first_tab.submit("/console/logout", from_page="/console")

    # Another tab (or a copy of the cookie) still sends the ticket: its session is over.
    response = await api.client.get(
        "/console", headers={"Cookie": f"{CONSOLE_SESSION_COOKIE}={ticket}"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login")


async def test_suspending_the_tenant_ends_its_users_console_sessions(api: Api) -> None:
    console = ConsolePages(api.client)
    await console.sign_in("alice")

    FakeUnitOfWork(api.database).tenants.save(replace(api.acme.tenant, status=TenantStatus.SUSPENDED))

    await console.get("/console", expect=303)


async def test_a_role_change_ends_the_users_console_session(api: Api) -> None:
    console = ConsolePages(api.client)
    await console.sign_in("ana")

    FakeUnitOfWork(api.database).users.save(replace(api.agent, role=Role.TENANT_ADMIN))

    await console.get("/console", expect=303)


async def test_a_browser_ticket_is_refused_as_a_bearer_credential_on_the_api(api: Api) -> None:
    await ConsolePages(api.client).sign_in("alice")
    ticket = api.client.cookies.get(CONSOLE_SESSION_COOKIE)
    api.client.cookies.clear()

    response = await api.client.get("/api/messages", headers={"Authorization": f"Bearer {ticket}"})

    assert response.status_code == 401


async def test_an_api_access_token_in_the_cookie_is_no_console_session(api: Api) -> None:
    token = (await api.tokens("alice"))["access_token"]

    response = await api.client.get(
        "/console", headers={"Cookie": f"{CONSOLE_SESSION_COOKIE}={token}"}, follow_redirects=False
    )

    assert response.status_code == 303


async def test_console_pages_carry_a_strict_content_security_policy(api: Api) -> None:
    console = ConsolePages(api.client)
    await console.sign_in("alice")

    for path in ("/console/login", "/console"):
        response = await api.client.get(path)
        assert response.headers["content-security-policy"] == CONSOLE_CONTENT_SECURITY_POLICY
        assert "'unsafe-inline'" not in CONSOLE_CONTENT_SECURITY_POLICY
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_console_pages_answering_an_error_carry_the_same_policy(api: Api) -> None:
    """An error page made by an exception handler loads the console's stylesheet and script too."""
    console = ConsolePages(api.client)
    refused = await console.submit(
        "/console/login", {"username": "alice", "password": "wrong"}, from_page="/console/login", expect=401
    )
    await console.sign_in("alice")
    unknown = await api.client.get("/console/no-such-page")
    forged = await api.client.post("/console/logout", data={})

    assert [refused.status_code, unknown.status_code, forged.status_code] == [401, 404, 403]
    for response in (refused, unknown, forged):
        assert response.headers["content-security-policy"] == CONSOLE_CONTENT_SECURITY_POLICY


async def test_an_unknown_console_page_is_a_page_and_an_unknown_api_route_a_problem(api: Api) -> None:
    console_answer = await api.client.get("/console/no-such-page")
    api_answer = await api.client.get("/api/no-such-route")

    assert console_answer.status_code == api_answer.status_code == 404
    assert "text/html" in console_answer.headers["content-type"]
    assert api_answer.headers["content-type"].startswith("application/problem+json")


async def test_a_nul_character_in_an_address_is_a_clear_refusal(api: Api) -> None:
    console = ConsolePages(api.client)
    await console.sign_in("alice")

    page = await console.get("/console/messages", expect=422, contact="+1415\x00")

    assert "NUL character" in text_of(page)
