"""Media customers sent, over HTTP: the file the gateway keeps of each, streamed from the media store.

Agents and tenant admins, with an access token or an API key; another tenant's file is a 404, as one
that does not exist. A message's media items name theirs (``stored_media_id``, ``stored_media_url``)
once downloaded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_304_NOT_MODIFIED

from application.media.library import MediaFile, OpenMedia
from application.ports.media import MEDIA_PATH
from application.ports.media_store import MediaContent
from application.principal import Principal
from entrypoints.http.access import BEARER, SEND_AND_READ
from entrypoints.http.dependencies import provide
from entrypoints.http.media.schemas import MediaOperation, content_disposition, file_headers, held_versions
from entrypoints.http.problems import problem_responses

IfNoneMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-None-Match",
        max_length=1024,
        required=False,
        description="The ETag of a copy you hold: 304 if it is still this file",
    ),
]


class MediaController(Controller):
    path = MEDIA_PATH
    tags = ["media"]
    security = BEARER
    opt = SEND_AND_READ
    dependencies = {"open_media": provide(lambda c: c.open_media)}

    @get(
        "/{media_id:uuid}",
        operation_id="getMedia",
        summary="A media file a customer sent, as the gateway keeps it",
        operation_class=MediaOperation,
        responses=problem_responses(400, 401, 403, 404, 503),
    )
    async def get_media(
        self,
        media_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        open_media: NamedDependency[OpenMedia],
        if_none_match: IfNoneMatch = None,
    ) -> Response[Any]:
        """The bytes of a media item a customer sent (an image, a voice note, a document …), downloaded
        from the provider when the message came in: its message's media item names it
        (`stored_media_id`, `stored_media_url`) once it is kept. Served with its own `Content-Type`,
        `Content-Length` and `Content-Disposition` (`inline` for images, video and audio; `attachment`
        with the document's filename otherwise), `Content-Security-Policy: sandbox` and
        `X-Content-Type-Options: nosniff` (the file is data, never a page of the gateway), and an `ETag`
        (its SHA-256): with `If-None-Match` naming it the answer is `304` without the bytes. Another
        tenant's file is a 404."""
        opened = await open_media(principal.tenant_id, media_id, held=held_versions(if_none_match))
        return media_answer(opened)


def media_answer(opened: MediaFile) -> Response[Any]:
    """A kept file as every route serving one answers: streamed with its own headers, or 304 when the
    caller holds this version (the API's /api/media/{id} and the console's media route)."""
    media, content = opened.media, opened.content
    headers = file_headers(media)
    if content is None:
        return Response(b"", status_code=HTTP_304_NOT_MODIFIED, headers=headers)
    return Stream(
        _streamed(content),
        headers={
            **headers,
            # As headers: Litestar would add a charset of its own to a text/* media type.
            "Content-Type": media.content_type,
            "Content-Length": str(content.media.size),
            "Content-Disposition": content_disposition(media),
        },
    )


async def _streamed(content: MediaContent) -> AsyncIterator[bytes]:
    """The file's chunks; what the store holds open for it is released however the answer ends."""
    async with content:
        async for chunk in content:
            yield chunk
