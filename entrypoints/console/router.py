"""The console's routes, its template engine and its CSRF protection, for ``create_app``."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from litestar import Request, Router
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import CacheControlHeader
from litestar.enums import RequestEncodingType
from litestar.static_files import create_static_files_router

from application.errors import ApplicationError, InvalidInput
from application.ports.templates import TemplateProviderRefused, TemplateProviderUnavailable
from domain.errors import DomainError
from entrypoints.console.errors import console_error_handler
from entrypoints.console.pages.administration import ADMINISTRATION_CONTROLLERS
from entrypoints.console.pages.campaigns import CampaignsController
from entrypoints.console.pages.contacts import ContactsController
from entrypoints.console.pages.dashboard import DashboardController
from entrypoints.console.pages.inbox import InboxController
from entrypoints.console.pages.messages import MessagesController
from entrypoints.console.pages.platform import PlatformTenantsController
from entrypoints.console.pages.scheduled import ScheduledController
from entrypoints.console.pages.sign_in import SignInController
from entrypoints.console.pages.templates import TemplatesController
from entrypoints.console.rendering import (
    CONSOLE_CONTENT_SECURITY_POLICY,
    CONSOLE_PATH,
    STATIC_DIR,
    STATIC_PATH,
)
from entrypoints.http.access import public
from entrypoints.settings import Settings

CSRF_COOKIE = "wa_console_csrf"


async def refuse_unstorable_text(request: Request[Any, Any, Any]) -> None:
    """A console form or address holding U+0000 is refused (422) before any page sees it: no database
    can store it reliably (PostgreSQL's text cannot at all), as the API refuses it at its edge."""
    if any("\x00" in value for _, value in request.query_params.multi_items()):
        raise InvalidInput("a field holds a NUL character (U+0000), which cannot be stored")
    if request.method in {"POST", "PUT", "PATCH"} and request.content_type[0] in _FORM_TYPES:
        form = await request.form()
        if any(isinstance(value, str) and "\x00" in value for _, value in form.multi_items()):
            raise InvalidInput("a field holds a NUL character (U+0000), which cannot be stored")


_FORM_TYPES = frozenset({RequestEncodingType.URL_ENCODED.value, RequestEncodingType.MULTI_PART.value})


def console_router() -> Router:
    return Router(
        CONSOLE_PATH,
        route_handlers=[
            SignInController,
            DashboardController,
            InboxController,
            MessagesController,
            ScheduledController,
            CampaignsController,
            ContactsController,
            *ADMINISTRATION_CONTROLLERS,
            TemplatesController,
            PlatformTenantsController,
        ],
        include_in_schema=False,
        before_request=refuse_unstorable_text,
        response_headers={"Content-Security-Policy": CONSOLE_CONTENT_SECURITY_POLICY},
        exception_handlers={
            ApplicationError: console_error_handler,
            DomainError: console_error_handler,
            TemplateProviderRefused: console_error_handler,
            TemplateProviderUnavailable: console_error_handler,
        },
    )


def static_files_router() -> Router:
    return create_static_files_router(
        STATIC_PATH,
        directories=[STATIC_DIR],
        opt=public("the console's stylesheet and script"),
        cache_control=CacheControlHeader(public=True, max_age=3600),
        include_in_schema=False,
    )


def csrf_config(settings: Settings) -> CSRFConfig:
    """A CSRF token (double-submit, signed) on every console form. The API is excluded: it takes no
    cookie, so a forged cross-site request carries no credential there."""
    assert settings.jwt_secret is not None  # load_settings makes sure of it
    return CSRFConfig(
        secret=hmac.new(settings.jwt_secret.encode(), b"console csrf", hashlib.sha256).hexdigest(),
        cookie_name=CSRF_COOKIE,
        cookie_path=CONSOLE_PATH,
        cookie_httponly=True,
        cookie_samesite="strict",
        cookie_secure=(settings.public_base_url or "").startswith("https://"),
        # Every path but the console's (written so that "/" itself is not matched: Litestar takes a
        # pattern matching everything for a mistake; "/" has no route that a form could reach).
        exclude=[rf"^/(?!{CONSOLE_PATH.lstrip('/')}(/|$))."],
    )
