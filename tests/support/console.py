"""The web console as a browser without JavaScript uses it, over an HTTP client: pages are fetched,
forms are posted with the CSRF token of the page they came from, and cookies are kept.

    console = ConsolePages(api.client)
    await console.sign_in("alice")
    page = await console.get("/console")
    await console.submit("/console/users", {"username": "carol"}, from_page="/console/users")
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.api import PASSWORD

_CSRF_INPUT = re.compile(r'name="_csrf_token" value="([^"]*)"')
_TAGS = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")


def csrf_token_of(page: str) -> str:
    found = _CSRF_INPUT.search(page)
    assert found is not None, "the page has no form with a CSRF token"
    return html.unescape(found.group(1))


def text_of(page: str) -> str:
    """What a reader sees of ``page``'s markup: its text, with entities decoded and spaces collapsed."""
    return _SPACES.sub(" ", html.unescape(_TAGS.sub(" ", page))).strip()


@dataclass
class ConsolePages:
    """A browser without JavaScript on the console of the app ``client`` serves (its cookies kept)."""

    client: Any  # AsyncTestClient or httpx.AsyncClient

    async def get(self, path: str, *, expect: int = 200, **params: Any) -> str:
        response: httpx.Response = await self.client.get(path, params=params or None, follow_redirects=False)
        assert response.status_code == expect, f"GET {path}: {response.status_code} {response.text[:500]}"
        return response.text

    async def submit(
        self, path: str, form: dict[str, Any] | None = None, *, from_page: str, expect: int = 303
    ) -> httpx.Response:
        """POST ``form`` to ``path`` as the form on ``from_page`` would (with that page's CSRF token)."""
        token = csrf_token_of(await self.get(from_page))
        response: httpx.Response = await self.client.post(
            path, data={"_csrf_token": token, **(form or {})}, follow_redirects=False
        )
        assert response.status_code == expect, f"POST {path}: {response.status_code} {response.text[:500]}"
        return response

    async def sign_in(self, username: str, password: str = PASSWORD) -> None:
        response = await self.submit(
            "/console/login",
            {"username": username, "password": password, "next": "/console"},
            from_page="/console/login",
        )
        assert response.headers["location"] == "/console"
