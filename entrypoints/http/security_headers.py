"""Headers on every answer that tell browsers and caches how to treat it.

- ``X-Content-Type-Options: nosniff``: a browser takes each answer as its declared type, never guesses.
- ``Referrer-Policy: no-referrer``: following a link from a page of ours tells the other site nothing.
- ``Content-Security-Policy``: an API answer may load, run or frame nothing; a route that serves a page
  (the documentation) sets its own policy, which is kept.
- ``Cache-Control: no-store`` on every answer to a request that carries a credential, and on the
  ``/auth/`` routes, whose answers hold tokens: no shared or browser cache keeps them. A route that
  declares its answer ``private`` itself (a media file: the caller's browser may keep it and revalidate
  it by its ETag, no shared cache may) keeps its own.
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"
AUTH_ROUTES_PREFIX = "/auth/"
_CREDENTIAL_HEADERS = (b"authorization", b"cookie")


def carries_credentials(scope: Scope) -> bool:
    """The request sends a credential, or its answer holds one (login, refresh)."""
    if str(scope.get("path", "")).startswith(AUTH_ROUTES_PREFIX):
        return True
    return any(name.lower() in _CREDENTIAL_HEADERS for name, _ in scope.get("headers", ()))


async def security_headers_on_every_response(message: Message, scope: Scope) -> None:
    """A ``before_send`` hook: it sees every answer, those no route gave (404, 405, 500) included."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    if headers.get("Content-Security-Policy") is None:
        headers["Content-Security-Policy"] = API_CONTENT_SECURITY_POLICY
    if carries_credentials(scope) and not _declared_private(scope, headers.get("Cache-Control")):
        headers["Cache-Control"] = "no-store"


def _declared_private(scope: Scope, cache_control: str | None) -> bool:
    """The route set ``Cache-Control: private`` itself (never on the /auth/ routes: tokens are no-store)."""
    if cache_control is None or str(scope.get("path", "")).startswith(AUTH_ROUTES_PREFIX):
        return False
    return "private" in (directive.strip().lower() for directive in cache_control.split(","))
