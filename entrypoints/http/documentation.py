"""The API's documentation at ``/docs``: Swagger UI served by the gateway itself.

Swagger UI's files come from the ``swagger-ui-bundle-v2`` package (the files of the ``swagger-ui-dist``
npm package, installed with the gateway), so the page works without internet and loads nothing from
another host: no CDN, no font, no favicon, no validator badge. Its own start-up script is a file of
ours rather than an inline script, so the page runs under a Content-Security-Policy that allows this
origin only. ``DOCS_ENABLED=false`` leaves out the page, its files and the schema route altogether.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from litestar import Request, Response, Router, get
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.params import FromPath
from swagger_ui_bundle import swagger_ui_path

from entrypoints.http.access import public

DOCS_PATH = "/docs"
ASSETS_PATH = f"{DOCS_PATH}/assets"
OPENAPI_JSON_PATH = f"{DOCS_PATH}/openapi.json"

# Everything the page needs comes from this origin; inline scripts and styles, other hosts, plugins,
# forms and framing are refused. ``data:`` images are Swagger UI's icons, inlined in its stylesheet.
DOCS_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
# The files change only with the package, and their names carry no version: a browser rechecks hourly.
ASSET_CACHE_CONTROL = "public, max-age=3600"

_JAVASCRIPT = "text/javascript"  # Litestar adds the charset
_CSS = "text/css"


@dataclass(frozen=True, slots=True)
class DocsAsset:
    file: Path
    media_type: str


DOCS_ASSETS = {
    "swagger-ui-bundle.js": DocsAsset(swagger_ui_path / "swagger-ui-bundle.js", _JAVASCRIPT),
    "swagger-ui.css": DocsAsset(swagger_ui_path / "swagger-ui.css", _CSS),
    "favicon-32x32.png": DocsAsset(swagger_ui_path / "favicon-32x32.png", "image/png"),
    "start-swagger-ui.js": DocsAsset(
        Path(__file__).parent / "docs_assets" / "start-swagger-ui.js", _JAVASCRIPT
    ),
}


@cache
def _content_of(name: str) -> bytes:
    return DOCS_ASSETS[name].file.read_bytes()


@get("/assets/{name:str}", operation_id="docsAsset", include_in_schema=False, sync_to_thread=False)
def docs_asset(name: FromPath[str]) -> Response[bytes]:
    """One of the documentation page's files; only those the page uses are served."""
    asset = DOCS_ASSETS.get(name)
    if asset is None:
        raise NotFoundException(f"no documentation file {name!r}")
    return Response(
        _content_of(name),
        media_type=asset.media_type,
        headers={"Cache-Control": ASSET_CACHE_CONTROL},
    )


class SwaggerUIPage(OpenAPIRenderPlugin):
    """The page at ``/docs``. Litestar's ``SwaggerRenderPlugin`` starts Swagger UI with an inline script
    (holding the whole schema) and points at a CDN favicon; this page references files only."""

    def __init__(self) -> None:
        super().__init__(path="/", favicon="", style="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = html.escape(str(openapi_schema["info"]["title"]))
        page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}: API documentation</title>
<link rel="icon" type="image/png" href="{ASSETS_PATH}/favicon-32x32.png">
<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{OPENAPI_JSON_PATH}"></div>
<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="{ASSETS_PATH}/start-swagger-ui.js"></script>
</body>
</html>
"""
        return page.encode()


def documentation_router() -> Router:
    """``/docs``: the page (added by Litestar's OpenAPI plugin, with the schema), and its files."""
    return Router(
        DOCS_PATH,
        route_handlers=[docs_asset],
        include_in_schema=False,
        opt=public("the API's documentation"),
        response_headers={"Content-Security-Policy": DOCS_CONTENT_SECURITY_POLICY},
    )
