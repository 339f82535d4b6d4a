"""The documentation at /docs works offline and loads nothing from another host; every answer carries
the headers that tell browsers and caches how to treat it; DOCS_ENABLED=false leaves the docs out."""

from __future__ import annotations

import argparse
import json
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from entrypoints import cli
from entrypoints.settings import load_settings
from tests.support.api import PASSWORD, Api, ApiOptions, MakeApi


@pytest.fixture
def api_options() -> ApiOptions:
    return ApiOptions(settings={"EMBEDDED_DISPATCHER": "false"})


class PageReferences(HTMLParser):
    """Every URL a page makes the browser load, and whether it has inline scripts or styles."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_code: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name in ("src", "href", "data-openapi-url"):
            if attributes.get(name):
                self.urls.append(str(attributes[name]))
        if "style" in attributes or any(name.startswith("on") for name in attributes):
            self.inline_code.append(f"<{tag}> attribute")
        if tag == "style":
            self.inline_code.append("<style>")
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_code.append("<script> body")


def references_of(page: str) -> PageReferences:
    parser = PageReferences()
    parser.feed(page)
    return parser


EXPECTED_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".json": "application/vnd.oai.openapi+json",
}


async def test_the_docs_page_loads_only_files_of_its_own_origin_and_each_answers_with_its_type(
    api: Api,
) -> None:
    client = api.client

    page = await client.get("/docs")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    references = references_of(page.text)
    assert {Path(url).suffix for url in references.urls} == set(
        EXPECTED_TYPES
    )  # the UI, its style, the schema
    for url in references.urls:
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("", ""), f"{url} is not on this origin"
        assert url.startswith("/"), url
        answer = await client.get(url)
        assert answer.status_code == 200, url
        assert answer.headers["content-type"].split(";")[0] == EXPECTED_TYPES[Path(url).suffix], url
        assert answer.content, url
    assert "SwaggerUIBundle" in (await client.get("/docs/assets/swagger-ui-bundle.js")).text


async def test_the_docs_page_runs_no_inline_code_and_its_policy_allows_this_origin_only(
    api: Api,
) -> None:
    client = api.client

    page = await client.get("/docs")

    assert references_of(page.text).inline_code == []
    policy = {
        directive.split()[0]: set(directive.split()[1:])
        for directive in page.headers["content-security-policy"].split(";")
    }
    assert policy["default-src"] == {"'none'"}
    for directive in ("script-src", "style-src", "connect-src"):
        assert policy[directive] == {"'self'"}, directive
    assert policy["img-src"] == {"'self'", "data:"}  # Swagger UI's icons are inlined in its stylesheet
    assert policy["frame-ancestors"] == {"'none'"}
    # The start-up script is ours: it names no other host (Swagger UI's validator badge is off).
    script = (await client.get("/docs/assets/start-swagger-ui.js")).text
    assert "://" not in script
    assert "validatorUrl: null" in script


async def test_only_the_files_the_docs_page_uses_are_served(api: Api) -> None:
    client = api.client

    for name in ("index.html", "swagger-ui-bundle.js.map", "..%2F..%2Fsettings.py", "oauth2-redirect.html"):
        assert (await client.get(f"/docs/assets/{name}")).status_code == 404, name


async def test_with_docs_disabled_there_is_no_page_no_file_and_no_schema(make_api: MakeApi) -> None:
    client = (await make_api(DOCS_ENABLED="false")).client

    for path in ("/docs", "/docs/openapi.json", "/docs/assets/swagger-ui-bundle.js", "/docs/swagger"):
        assert (await client.get(path)).status_code == 404, path
    assert (await client.get("/healthz")).status_code == 200


def test_with_docs_disabled_the_cli_still_writes_the_schema(tmp_path: Path) -> None:
    settings = load_settings(environ={"DATA_DIR": str(tmp_path), "DOCS_ENABLED": "false"}, env_file=None)
    output = tmp_path / "openapi.json"

    cli.cmd_openapi(argparse.Namespace(output=str(output)), settings)

    assert json.loads(output.read_text())["openapi"].startswith("3.1")


async def test_every_answer_says_nosniff_and_no_referrer(api: Api) -> None:
    client = api.client

    answers = [
        await client.get("/healthz"),
        await client.get("/docs"),
        await client.get("/no/such/route"),
        await client.get("/api/messages"),  # 401
        await client.delete("/healthz"),  # 405
        await client.post("/auth/login", json={"username": "alice", "password": PASSWORD}),
    ]

    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff", answer.url
        assert answer.headers["referrer-policy"] == "no-referrer", answer.url
        assert "content-security-policy" in answer.headers, answer.url
    # An API answer may load, run or frame nothing.
    assert answers[0].headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


async def test_answers_holding_or_requested_with_a_credential_are_never_stored(
    api: Api,
) -> None:
    client = api.client
    login = await client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
    tokens = login.json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}

    stored_nowhere = [
        login,
        await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}),
        await client.get("/api/messages", headers=bearer),
        await client.get("/api/senders", headers=bearer),
        await client.get("/api/messages", headers={"Authorization": "Bearer forged"}),  # 401
    ]

    for answer in stored_nowhere:
        assert answer.headers.get("cache-control") == "no-store", answer.url
    assert "no-store" not in (await client.get("/docs/assets/swagger-ui.css")).headers["cache-control"]
