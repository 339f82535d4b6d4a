"""Signing in and out of the console, and choosing its language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from application.errors import AuthenticationFailed, RateLimited
from application.identity.authenticate import Authenticate
from application.identity.sessions import Logout
from application.principal import Principal
from domain.administration.tenancy import Role
from entrypoints.console.i18n import LANGUAGE_COOKIE, LANGUAGES, translatable
from entrypoints.console.rendering import CONSOLE_PATH, local_path, render
from entrypoints.http.access import CONSOLE_SESSION_COOKIE, in_console, public
from entrypoints.http.client_address import client_address
from entrypoints.http.dependencies import container_of, provide

_A_YEAR = 365 * 24 * 3600
_TYPED_USERNAME = "sign_in_username"  # request.state: what a refused sign-in shows again


@dataclass(frozen=True, slots=True)
class SignInForm:
    username: str = ""
    password: str = ""
    next: str = ""


def _sign_in_form(
    request: Request[Any, Any, Any], *, status_code: int = 200, error: str | None = None, username: str = ""
) -> Template:
    return render(
        request,
        "sign_in.html",
        status_code=status_code,
        error=error,
        username=username,
        next=local_path(request.query_params.get("next")),
    )


def _refused_sign_in(request: Request[Any, Any, Any], error: Exception) -> Template:
    """The form again, saying why: a wrong username or password, or too many tries."""
    status = 429 if isinstance(error, RateLimited) else 401
    message = (
        translatable("Too many failed sign-ins from here. Wait a few minutes, then try again.")
        if status == 429
        else translatable("The username or password is wrong.")
    )
    # The username typed stays in the form; the password never comes back.
    username = getattr(request.state, _TYPED_USERNAME, "")
    response = _sign_in_form(request, status_code=status, error=message, username=username)
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(error.retry_after_seconds)
    return response


class SignInController(Controller):
    path = "/"
    include_in_schema = False
    dependencies = {
        "authenticate": provide(lambda c: c.authenticate),
        "logout": provide(lambda c: c.logout),
    }

    @get("/login", opt=public("the sign-in form"))
    async def sign_in_form(self, request: Request[Any, Any, Any]) -> Template:
        return _sign_in_form(request)

    @post(
        "/login",
        opt=public("the username and password in the form"),
        exception_handlers={AuthenticationFailed: _refused_sign_in, RateLimited: _refused_sign_in},
    )
    async def sign_in(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[SignInForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        authenticate: NamedDependency[Authenticate],
    ) -> Response[Any]:
        setattr(request.state, _TYPED_USERNAME, data.username)  # for the form shown again if refused
        browser = await authenticate.sign_in_browser(data.username, data.password, client_address(request))
        settings = container_of(request).settings()
        response: Response[Any] = Redirect(local_path(data.next), status_code=HTTP_303_SEE_OTHER)
        response.set_cookie(
            CONSOLE_SESSION_COOKIE,
            browser.ticket,
            path=CONSOLE_PATH,
            max_age=max(0, int((browser.expires_at - datetime.now(UTC)).total_seconds())),
            httponly=True,
            samesite="lax",  # sent when following a link to the console; forms are guarded by CSRF tokens
            secure=(settings.public_base_url or "").startswith("https://"),
        )
        return response

    @post("/logout", opt=in_console(*Role))
    async def sign_out(
        self, principal: NamedDependency[Principal], logout: NamedDependency[Logout]
    ) -> Response[Any]:
        await logout(principal)
        response: Response[Any] = Redirect(f"{CONSOLE_PATH}/login", status_code=HTTP_303_SEE_OTHER)
        response.delete_cookie(CONSOLE_SESSION_COOKIE, path=CONSOLE_PATH)
        return response

    @get("/language/{code:str}", opt=public("a choice of language, kept in a cookie"))
    async def choose_language(self, code: FromPath[str], next: FromQuery[str | None] = None) -> Response[Any]:
        response: Response[Any] = Redirect(local_path(next), status_code=HTTP_303_SEE_OTHER)
        if code in LANGUAGES:
            response.set_cookie(LANGUAGE_COOKIE, code, path=CONSOLE_PATH, max_age=_A_YEAR, samesite="lax")
        return response
