"""How a console page is rendered: the template, and what every page's context holds (the language and
its translator, the signed-in user, the navigation, the CSRF token for forms)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import Request
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

from application.principal import Principal
from domain.administration.tenancy import Role
from entrypoints.console.i18n import LANGUAGE_COOKIE, LANGUAGES, negotiate, translatable, translator

CONSOLE_PATH = "/console"
STATIC_PATH = f"{CONSOLE_PATH}/static"
TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
# Pages load what this site serves and nothing else; no inline script or style runs, so text that
# looks like markup can do nothing even if it ever escaped escaping. Every page rendered carries it, an
# error page made by an exception handler too (the router's response headers do not reach those).
CONSOLE_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

_TENANT_USERS = frozenset({Role.AGENT, Role.TENANT_ADMIN})
_TENANT_ADMINS = frozenset({Role.TENANT_ADMIN})
_PLATFORM_ADMINS = frozenset({Role.PLATFORM_ADMIN})
_EVERYONE = frozenset(Role)


@dataclass(frozen=True, slots=True)
class NavigationItem:
    path: str
    label: str  # in English; translated when shown
    roles: frozenset[Role]


# The console's sections, in the order the navigation shows them; each is shown to the roles it serves.
NAVIGATION: tuple[NavigationItem, ...] = (
    NavigationItem(CONSOLE_PATH, translatable("Dashboard"), _EVERYONE),
    NavigationItem(f"{CONSOLE_PATH}/inbox", translatable("Inbox"), _TENANT_USERS),
    NavigationItem(f"{CONSOLE_PATH}/messages", translatable("Messages"), _TENANT_USERS),
    NavigationItem(f"{CONSOLE_PATH}/scheduled", translatable("Scheduled sends"), _TENANT_USERS),
    NavigationItem(f"{CONSOLE_PATH}/campaigns", translatable("Campaigns"), _TENANT_USERS),
    NavigationItem(f"{CONSOLE_PATH}/contacts", translatable("Contacts"), _TENANT_USERS),
    NavigationItem(f"{CONSOLE_PATH}/templates", translatable("Templates"), _TENANT_USERS),
    NavigationItem(f"{CONSOLE_PATH}/admin", translatable("Administration"), _TENANT_ADMINS),
    NavigationItem(f"{CONSOLE_PATH}/platform/tenants", translatable("Tenants"), _PLATFORM_ADMINS),
)


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,  # every value is escaped, in every template: a message body is text, never markup
        undefined=StrictUndefined,  # a misspelt name is an error, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["moment"] = format_moment
    return TemplateConfig(engine=JinjaTemplateEngine.from_environment(environment))


def format_moment(moment: datetime | None) -> str:
    """A moment as the console shows it: UTC, to the minute (the page says the zone)."""
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def language_of(request: Request[Any, Any, Any]) -> str:
    return negotiate(request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language"))


def local_path(target: str | None, default: str = CONSOLE_PATH) -> str:
    """``target`` if it is a path of the console (where a form may send the user back to), else
    ``default``: never another site (an open redirect), never outside the console."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target or not target.startswith(CONSOLE_PATH):
        return default
    if parts.path != CONSOLE_PATH and not parts.path.startswith(f"{CONSOLE_PATH}/"):
        return default
    return target


def render(
    request: Request[Any, Any, Any],
    template_name: str,
    *,
    principal: Principal | None = None,
    status_code: int = 200,
    notices: Mapping[str, str] | None = None,
    **context: Any,
) -> Template:
    """The page ``template_name``, with what every page needs besides ``context``.

    After a form, a page is shown again by a redirect whose ``?done=`` names what was done: the page
    shows ``notices[done]`` (a fixed text, never one taken from the address)."""
    language = language_of(request)
    return Template(
        template_name=template_name,
        status_code=status_code,
        headers={"Content-Security-Policy": CONSOLE_CONTENT_SECURITY_POLICY},
        context={
            "notice": (notices or {}).get(request.query_params.get("done", "")),
            **context,
            **page_context(request, principal, language),
        },
    )


def page_context(
    request: Request[Any, Any, Any], principal: Principal | None, language: str
) -> Mapping[str, Any]:
    path = request.url.path
    return {
        "_": translator(language),
        "lang": language,
        "languages": LANGUAGES,
        "principal": principal,
        "navigation": [item for item in NAVIGATION if principal is not None and principal.role in item.roles],
        "current_path": path,
        "here": path + (f"?{request.url.query}" if request.url.query else ""),
        "console_path": CONSOLE_PATH,
        "static_path": STATIC_PATH,
    }
