"""What the administration pages share: who may see them, the redirect after a form, and the form shown
again with the use case's message when what was typed is refused."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from litestar import Request, Response
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER
from litestar.types import ExceptionHandlersMap
from litestar.utils.scope.state import ScopeState

from application.errors import AlreadyExists, InvalidInput
from domain.administration.tenancy import Role
from domain.errors import DomainError
from entrypoints.console.errors import refusal_detail, refusal_status
from entrypoints.console.rendering import CONSOLE_PATH, render
from entrypoints.http.access import in_console, principal_of

ADMIN_PATH = f"{CONSOLE_PATH}/admin"
# Every administration page and form: the tenant's admins, signed in to the console.
TENANT_ADMINS_ONLY = in_console(Role.TENANT_ADMIN)

# The errors a use case raises for what was typed (a taken username, a bad number, a refused URL …):
# the form comes back with the message beside it. Other errors (a missing user, a forbidden change)
# are the console's error page.
FORM_ERRORS: tuple[type[Exception], ...] = (InvalidInput, AlreadyExists, DomainError)


def done(path: str, notice: str) -> Response[Any]:
    """Post/Redirect/Get: back to ``path``, which says ``notice`` (a key of its ``notices``)."""
    return Redirect(f"{path}?done={notice}", status_code=HTTP_303_SEE_OTHER)


def no_store(response: Template) -> Template:
    """A page holding a secret shown once: no cache keeps it."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def form_again(
    form_template: str, title: str, *, keep: Iterable[str], context: Mapping[str, Any] | None = None
) -> ExceptionHandlersMap:
    """The ``exception_handlers`` of a form's route: on a refusal, the form (``form_template``, under
    the heading ``title``, with ``context``) again, with the use case's message and the fields named in
    ``keep`` as they were typed. A secret is never kept: its field comes back empty."""
    kept = tuple(keep)
    fixed = dict(context or {})

    def handler(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
        detail = refusal_detail(error)
        return render(
            request,
            "administration/form_again.html",
            principal=principal_of(request),
            status_code=refusal_status(error),
            form_template=form_template,
            title=title,
            error=detail,
            form=_typed(request, kept),
            **fixed,
        )

    return dict.fromkeys(FORM_ERRORS, handler)


def _typed(request: Request[Any, Any, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """The posted values of ``fields`` (the form was decoded already: Litestar keeps it in the scope)."""
    posted = ScopeState.from_scope(request.scope).form
    if not isinstance(posted, dict):
        return {}
    typed: dict[str, Any] = {}
    for name in fields:
        value = posted.get(name)
        if value is not None:
            typed[name] = value
    return typed
