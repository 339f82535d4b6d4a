"""Errors on console pages become pages: the same table of error classes as the API's problems decides
the status and the title, shown in the user's language with a way back. A request without a live
session is sent to the sign-in form, and back where it was going after."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from application.errors import ApplicationError, InvalidToken
from entrypoints.console.i18n import translatable
from entrypoints.console.rendering import CONSOLE_PATH, local_path, render
from entrypoints.http.access import CONSOLE_SESSION_COOKIE, principal_of
from entrypoints.http.problems import classify, http_exception_handler, unexpected_error_handler

logger = logging.getLogger(__name__)

SIGN_IN_PATH = f"{CONSOLE_PATH}/login"
_TITLES = {
    400: translatable("Bad request"),
    403: translatable("Forbidden"),
    404: translatable("Not found"),
    405: translatable("Method not allowed"),
    409: translatable("Conflict"),
    413: translatable("Request body too large"),
    422: translatable("Invalid input"),
    429: translatable("Too many requests"),
    503: translatable("Service unavailable"),
}


def is_console_request(request: Request[Any, Any, Any]) -> bool:
    path = request.url.path
    return path == CONSOLE_PATH or path.startswith(f"{CONSOLE_PATH}/")


def sign_in_redirect(request: Request[Any, Any, Any]) -> Response[Any]:
    """To the sign-in form, remembering the page asked for (after a form: the console's start, since a
    form's effect is not replayed)."""
    target = CONSOLE_PATH
    if request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response: Response[Any] = Redirect(
        f"{SIGN_IN_PATH}?{urlencode({'next': local_path(target)})}", status_code=HTTP_303_SEE_OTHER
    )
    response.delete_cookie(CONSOLE_SESSION_COOKIE, path=CONSOLE_PATH)
    return response


def error_page(request: Request[Any, Any, Any], status: int, detail: str | None) -> Template:
    return render(
        request,
        "error.html",
        principal=principal_of(request),
        status_code=status,
        status=status,
        title=_TITLES.get(status, translatable("Error")),
        detail=detail,
    )


def refusal_status(error: Exception, default: int = 422) -> int:
    """The status a page refusing a form answers with: the API's for the same error (one table)."""
    problem_type = classify(error)
    return problem_type.status if problem_type is not None else default


def refusal_detail(error: Exception) -> str:
    """What the use case said, to show beside the form it refused."""
    return error.detail if isinstance(error, ApplicationError) else str(error)


def console_error_handler(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    """The console router's handler for the application's and domain's errors."""
    if isinstance(error, InvalidToken):
        return sign_in_redirect(request)
    problem_type = classify(error)
    if problem_type is None or problem_type.status >= 500:
        unexpected_error_handler(request, error)  # logs it, with the traceback
        return error_page(request, 500, None)
    detail = error.detail if isinstance(error, ApplicationError) else str(error)
    return error_page(request, problem_type.status, detail)


def console_http_exception_handler(request: Request[Any, Any, Any], error: HTTPException) -> Response[Any]:
    """Litestar's own errors (404, 405, a refused CSRF token, a bad form) on a console path are pages;
    elsewhere they stay problems."""
    if not is_console_request(request):
        return http_exception_handler(request, error)
    if error.status_code >= 500:
        unexpected_error_handler(request, error)
        return error_page(request, 500, None)
    detail = error.detail
    if error.status_code == 403:  # Litestar's CSRF check: the only 403 it raises by itself here
        detail = "the form has expired or did not come from this page; reload the page and try again"
    return error_page(request, error.status_code, detail)
