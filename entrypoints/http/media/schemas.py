"""How a kept media file is answered: its headers, and the operation as the OpenAPI schema documents it.

A file a customer sent is served as data, never as a page of the gateway: its own Content-Type (one of
the media types WhatsApp sends, checked when it was kept), ``X-Content-Type-Options: nosniff`` so no
browser takes it for anything else, ``Content-Security-Policy: sandbox`` so that even opened directly it
runs no script and has no origin of ours, and ``Content-Disposition`` saying whether to show it (images,
video, audio) or save it (documents, under their filename). ``Cache-Control: private``: the caller's
own browser may keep it (its ETag is its SHA-256, so it revalidates for nothing), no shared cache may.
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass
from urllib.parse import quote

from litestar.openapi.spec import (
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    Schema,
)

from application.ports.media import KeptMedia
from domain.messaging.content import media_type_of

MEDIA_CONTENT_SECURITY_POLICY = "sandbox"
MEDIA_CACHE_CONTROL = "private, no-cache"
_SHOWN_FAMILIES = ("image/", "video/", "audio/")
_FILENAME_UNSAFE = re.compile(r'[^\x20-\x7e]|["\\]')


def etag(media: KeptMedia) -> str:
    return f'"{media.sha256}"'


class _AnyVersion:
    """``If-None-Match: *``: whatever the file is, the caller has it."""

    def __contains__(self, sha256: object) -> bool:
        return True


def held_versions(if_none_match: str | None) -> Container[str]:
    """The SHA-256s an ``If-None-Match`` names (``W/`` and quotes taken off; ``*``: any)."""
    if not if_none_match:
        return frozenset()
    tags = set()
    for part in if_none_match.split(","):
        tag = part.strip().removeprefix("W/").strip('"')
        if tag == "*":
            return _AnyVersion()
        if tag:
            tags.add(tag)
    return frozenset(tags)


def content_disposition(media: KeptMedia) -> str:
    """``inline`` for what a browser shows (images, video, audio), ``attachment`` for the rest, under
    the document's own filename (as ASCII, and in full as RFC 6266's ``filename*``) or one made of its id."""
    if media_type_of(media.content_type).startswith(_SHOWN_FAMILIES):
        return "inline"
    name = media.filename or f"media-{media.id}"
    fallback = _FILENAME_UNSAFE.sub("_", name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def file_headers(media: KeptMedia) -> dict[str, str]:
    """Every answer about the file (200 and 304) carries these."""
    return {
        "ETag": etag(media),
        "Cache-Control": MEDIA_CACHE_CONTROL,
        "Content-Security-Policy": MEDIA_CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
    }


def _header(description: str, example: str) -> OpenAPIHeader:
    return OpenAPIHeader(description=description, schema=Schema(type=OpenAPIType.STRING, examples=[example]))


_FILE_HEADERS: dict[str, OpenAPIHeader | Reference] = {
    "Content-Length": _header("The file's size in bytes", "48213"),
    "Content-Disposition": _header(
        "inline for images, video and audio; attachment with the document's filename otherwise",
        "attachment; filename=\"invoice.pdf\"; filename*=UTF-8''invoice.pdf",
    ),
    "ETag": _header("The file's SHA-256, quoted: send it back in If-None-Match", '"9f86d0…"'),
    "Cache-Control": _header("Kept by the caller's own browser only", MEDIA_CACHE_CONTROL),
    "Content-Security-Policy": _header("The file runs no script, whatever it is", "sandbox"),
    "X-Content-Type-Options": _header("Taken as its Content-Type, never sniffed", "nosniff"),
}


@dataclass
class MediaOperation(Operation):
    """The operation of the media route: its answers are the file's bytes, of the file's own type."""

    def __post_init__(self) -> None:
        responses = dict(self.responses or {})
        responses["200"] = OpenAPIResponse(
            description="The file, of its own Content-Type (a media type WhatsApp sends)",
            headers=_FILE_HEADERS,
            content={
                "application/octet-stream": OpenAPIMediaType(
                    schema=Schema(type=OpenAPIType.STRING, format=None, content_media_type="*/*")
                )
            },
        )
        responses["304"] = OpenAPIResponse(
            description="Not modified: the If-None-Match named this file's ETag",
            headers={name: _FILE_HEADERS[name] for name in ("ETag", "Cache-Control")},
        )
        self.responses = responses
