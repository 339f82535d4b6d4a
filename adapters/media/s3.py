"""Media files in a bucket of any S3-compatible service: AWS S3, MinIO, Supabase Storage's S3 endpoint,
Cloudflare R2 … through aiobotocore (botocore's requests, signing and retries, on aiohttp).

The key ``acme/abc`` is the object ``{prefix}/acme/abc``; its Content-Type is the media's, and its
user metadata ``sha256`` holds the SHA-256. An object is created whole or not at all, so readers see the
old object or the new one, never part of one. S3 takes an object's metadata only when its upload
starts, so the bytes are counted and hashed first: up to one part (``part_bytes``) in memory, and a
larger file on a temporary file (TMPDIR), then sent as a multipart upload that is aborted if anything
fails. Reading streams the object's body as it arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import tempfile
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterator
from typing import IO, TYPE_CHECKING, Any, Literal

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from botocore.exceptions import BotoCoreError, ClientError

from adapters.media.intake import in_pieces, off_the_loop
from application.errors import MediaNotFound, MediaStorageUnavailable
from application.ports.media_store import (
    DEFAULT_CONTENT_TYPE,
    MediaContent,
    StoredMedia,
    check_content_type,
    check_media_key,
)

if TYPE_CHECKING:
    from aiobotocore.response import StreamingBody
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

logger = logging.getLogger(__name__)

MIN_PART_BYTES = 5 * 1024 * 1024  # S3's smallest part but the last
DEFAULT_PART_BYTES = 8 * 1024 * 1024
SPOOL_PIECE_BYTES = 256 * 1024
READ_CHUNK_BYTES = 64 * 1024
SHA256_METADATA = "sha256"
# What S3 and its imitators answer for a key that holds nothing (HEAD answers with the bare status).
NOT_FOUND_CODES = frozenset({"NoSuchKey", "NotFound", "404"})
# Failures of the service or of the way to it; ClientError is the service's own answer.
TRANSPORT_ERRORS = (BotoCoreError, aiohttp.ClientError, asyncio.TimeoutError)


class S3MediaStore:
    """A ``MediaStore`` (application/ports/media_store.py) in an S3 bucket.

    ``endpoint_url``: the service's URL (unset: AWS S3 in ``region``). ``access_key_id`` and
    ``secret_access_key``: unset, botocore's usual sources (AWS_* variables, an instance role).
    ``prefix``: keys are stored under it (segments as in a media key). ``path_style``: addressing the
    bucket in the path (``host/bucket/key``, what MinIO and Supabase want) rather than in the host name;
    unset: path style when an endpoint URL is given, the host name (AWS's way) otherwise.
    ``timeout_seconds`` bounds connecting and each read; ``attempts`` counts tries of a request that
    failed in a way botocore deems transient (a refused connection, a 5xx, throttling). The client is
    made on first use, in the running event loop; ``aclose`` closes it.
    """

    def __init__(
        self,
        *,
        bucket: str,
        max_bytes: int,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        prefix: str = "",
        path_style: bool | None = None,
        timeout_seconds: float = 30.0,
        attempts: int = 3,
        part_bytes: int = DEFAULT_PART_BYTES,
    ) -> None:
        if part_bytes < MIN_PART_BYTES:
            raise ValueError(f"parts are at least {MIN_PART_BYTES} bytes")
        prefix = prefix.strip("/")
        self._prefix = f"{check_media_key(prefix)}/" if prefix else ""
        self._bucket = bucket
        self._max_bytes = max_bytes
        self._part_bytes = part_bytes
        self._endpoint_url = endpoint_url
        self._access_key_id = access_key_id
        self._secret_access_key = secret_access_key
        if path_style is None:
            path_style = endpoint_url is not None
        addressing: Literal["path", "virtual"] = "path" if path_style else "virtual"
        self._config = AioConfig(
            region_name=region,
            signature_version="s3v4",
            s3={"addressing_style": addressing},
            connect_timeout=timeout_seconds,
            read_timeout=timeout_seconds,
            retries={"max_attempts": attempts, "mode": "standard"},
            max_pool_connections=50,
            # Checksums only where S3 requires them: several S3-compatible services refuse the ones that
            # botocore adds by default; the SHA-256 in the metadata is ours to check.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._client: S3Client | None = None
        self._exit_stack = contextlib.AsyncExitStack()
        self._opening = asyncio.Lock()

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    async def put(self, key: str, data: bytes | AsyncIterable[bytes], content_type: str) -> StoredMedia:
        object_key = self._object_key(key)
        check_content_type(content_type)
        with _Spool(self._part_bytes) as spool:
            pieces = in_pieces(data, at_least=SPOOL_PIECE_BYTES, max_bytes=self._max_bytes)
            async with contextlib.aclosing(pieces):
                async for piece in pieces:
                    await spool.add(piece)
            media = StoredMedia(key=key, size=spool.size, sha256=spool.sha256, content_type=content_type)
            fields: dict[str, Any] = {
                "Bucket": self._bucket,
                "Key": object_key,
                "ContentType": content_type,
                "Metadata": {SHA256_METADATA: media.sha256},
            }
            with _translated(key, "store"):
                client = await self._s3()
                if media.size <= self._part_bytes:
                    await client.put_object(Body=await spool.whole(), **fields)
                else:
                    await self._upload_in_parts(client, spool, fields)
        return media

    async def open(self, key: str) -> MediaContent:
        object_key = self._object_key(key)
        with _translated(key, "read"):
            client = await self._s3()
            response = await client.get_object(Bucket=self._bucket, Key=object_key)
        body = response["Body"]
        media = StoredMedia(
            key=key,
            size=response["ContentLength"],
            sha256=response.get("Metadata", {}).get(SHA256_METADATA, ""),
            content_type=response.get("ContentType", DEFAULT_CONTENT_TYPE),
        )
        chunks = _chunks(body, key)

        async def close() -> None:
            await chunks.aclose()
            body.close()

        return MediaContent(media, chunks, close)

    async def delete(self, key: str) -> bool:
        object_key = self._object_key(key)
        if not await self.exists(key):
            return False
        with _translated(key, "delete"):
            client = await self._s3()
            await client.delete_object(Bucket=self._bucket, Key=object_key)
        return True

    async def exists(self, key: str) -> bool:
        object_key = self._object_key(key)
        try:
            with _translated(key, "read"):
                client = await self._s3()
                await client.head_object(Bucket=self._bucket, Key=object_key)
        except MediaNotFound:
            return False
        return True

    async def aclose(self) -> None:
        """Close the client's connections (the next call opens a new client)."""
        async with self._opening:
            self._client = None
            await self._exit_stack.aclose()

    def _object_key(self, key: str) -> str:
        return self._prefix + check_media_key(key)

    async def _s3(self) -> S3Client:
        if self._client is None:
            async with self._opening:
                if self._client is None:
                    self._client = await self._exit_stack.enter_async_context(
                        _session().create_client(
                            "s3",
                            endpoint_url=self._endpoint_url,
                            aws_access_key_id=self._access_key_id,
                            aws_secret_access_key=self._secret_access_key,
                            config=self._config,
                        )
                    )
        return self._client

    async def _upload_in_parts(self, client: S3Client, spool: _Spool, fields: dict[str, Any]) -> None:
        upload = await client.create_multipart_upload(**fields)
        upload_id = upload["UploadId"]
        where = {"Bucket": fields["Bucket"], "Key": fields["Key"], "UploadId": upload_id}
        try:
            parts: list[CompletedPartTypeDef] = []
            async for number, part in spool.parts():
                answer = await client.upload_part(PartNumber=number, Body=part, **where)
                parts.append({"PartNumber": number, "ETag": answer["ETag"]})
            await client.complete_multipart_upload(MultipartUpload={"Parts": parts}, **where)
        except BaseException:
            # Shielded: a cancelled put still lets go of the parts it sent, or the bucket keeps them.
            with contextlib.suppress(Exception):
                await asyncio.shield(client.abort_multipart_upload(**where))
            raise


@functools.cache
def _session() -> AioSession:
    """One botocore session for every store of the process: it loads S3's service description once."""
    return get_session()


class _Spool:
    """The bytes to upload, counted and hashed as they arrive: in memory up to one part, on a temporary
    file past that (written off the event loop)."""

    def __init__(self, part_bytes: int) -> None:
        self._part_bytes = part_bytes
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=part_bytes)  # noqa: SIM115
        self._digest = hashlib.sha256()
        self.size = 0

    def __enter__(self) -> _Spool:
        return self

    def __exit__(self, *_: object) -> None:
        self._file.close()

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    async def add(self, piece: bytes) -> None:
        self._digest.update(piece)
        self.size += len(piece)
        if self.size > self._part_bytes:  # on disk, or about to be
            await off_the_loop(self._file.write, piece)
        else:
            self._file.write(piece)

    async def whole(self) -> bytes:
        """Everything, when it fits in one part (and so in memory)."""
        assert self.size <= self._part_bytes
        self._file.seek(0)
        return self._file.read()

    async def parts(self) -> AsyncIterator[tuple[int, bytes]]:
        """Numbered parts of ``part_bytes`` (the last one shorter), read off the event loop."""
        await off_the_loop(self._file.seek, 0)
        number = 1
        while part := await off_the_loop(self._file.read, self._part_bytes):
            yield number, part
            number += 1


async def _chunks(body: StreamingBody, key: str) -> AsyncGenerator[bytes, None]:
    try:
        with _translated(key, "read"):
            async for chunk in body.iter_chunks(READ_CHUNK_BYTES):
                yield chunk
    finally:
        body.close()


@contextlib.contextmanager
def _translated(key: str, action: str) -> Iterator[None]:
    """The S3 client's errors as the port's: MediaNotFound, or MediaStorageUnavailable (logged)."""
    try:
        yield
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in NOT_FOUND_CODES:
            raise MediaNotFound(key) from None
        logger.warning("media store: could not %s %s: S3 answered %s", action, key, code or error)
        raise MediaStorageUnavailable(
            f"the media store could not {action} the file; try again later"
        ) from error
    except TRANSPORT_ERRORS as error:
        logger.warning("media store: could not %s %s: %s", action, key, error)
        raise MediaStorageUnavailable(
            f"the media store could not {action} the file; try again later"
        ) from error
