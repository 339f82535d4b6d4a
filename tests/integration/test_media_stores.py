"""The media store's contract (application/ports/media_store.py): each test runs on the local disk, on
a real S3-compatible server (moto's, on a free port of this machine, a bucket of its own per test) and on
the in-memory fake the unit tests use, so the three behave alike.

``leftovers`` lists everything the storage behind a store holds: files (temporary ones too) under the
local root, objects and unfinished multipart uploads in the bucket, the fake's entries.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from aiobotocore.session import get_session
from moto.server import ThreadedMotoServer

from adapters.media.local import HEADER_BYTES, LocalMediaStore
from adapters.media.s3 import MIN_PART_BYTES, S3MediaStore
from application.errors import (
    InvalidInput,
    InvalidMediaKey,
    MediaNotFound,
    MediaStorageUnavailable,
    MediaTooLarge,
)
from application.ports.media_store import MediaContent, MediaStore
from tests.support.gateways import free_port

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
from tests.support.media import FakeMediaStore

MiB = 1024 * 1024
LIMIT = 16 * MiB
JPEG = "image/jpeg"
VOICE_NOTE = "audio/ogg; codecs=opus"
ACCESS_KEY = "media-test-access-key"
SECRET_KEY = "media-test-secret-key"
REGION = "us-east-1"
# Larger than the largest chunk a store may hand a reader: a file read in chunks no larger than this was
# never held whole.
LARGEST_CHUNK = MiB


@dataclass
class StoreUnderTest:
    name: str
    make: Callable[[int], MediaStore]  # a store on this test's storage, taking files up to max_bytes
    leftovers: Callable[[], Awaitable[list[str]]]

    def __call__(self, max_bytes: int = LIMIT) -> MediaStore:
        return self.make(max_bytes)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def s3_client(s3_endpoint: str) -> AsyncIterator[S3Client]:
    """The bucket's owner: creates each test's bucket and looks into it."""
    async with get_session().create_client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    ) as client:
        yield client


@pytest.fixture
async def s3_bucket(s3_client: S3Client) -> str:
    bucket = f"media-{uuid.uuid4().hex}"
    await s3_client.create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
async def s3_store(s3_endpoint: str, s3_client: S3Client, s3_bucket: str) -> AsyncIterator[StoreUnderTest]:
    opened: list[S3MediaStore] = []

    def make(max_bytes: int) -> MediaStore:
        store = S3MediaStore(
            bucket=s3_bucket,
            max_bytes=max_bytes,
            endpoint_url=s3_endpoint,
            region=REGION,
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET_KEY,
            prefix="media",
        )
        opened.append(store)
        return store

    async def leftovers() -> list[str]:
        objects = await s3_client.list_objects_v2(Bucket=s3_bucket)
        uploads = await s3_client.list_multipart_uploads(Bucket=s3_bucket)
        return sorted(
            [item["Key"] for item in objects.get("Contents", [])]
            + [f"unfinished upload of {item['Key']}" for item in uploads.get("Uploads", [])]
        )

    try:
        yield StoreUnderTest("s3", make, leftovers)
    finally:
        for store in opened:
            await store.aclose()


@pytest.fixture
def local_store(tmp_path: Path) -> StoreUnderTest:
    root = tmp_path / "media"

    async def leftovers() -> list[str]:
        return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())

    return StoreUnderTest("local", lambda max_bytes: LocalMediaStore(root, max_bytes=max_bytes), leftovers)


@pytest.fixture
def fake_store() -> StoreUnderTest:
    made: list[FakeMediaStore] = []

    def make(max_bytes: int) -> MediaStore:
        store = FakeMediaStore(max_bytes=max_bytes)
        if made:  # one storage per test, as on disk and in the bucket
            store.files = made[0].files
        made.append(store)
        return store

    async def leftovers() -> list[str]:
        return sorted(made[0].files) if made else []

    return StoreUnderTest("fake", make, leftovers)


@pytest.fixture(params=["local", "s3", "fake"])
def stores(request: pytest.FixtureRequest) -> StoreUnderTest:
    chosen: StoreUnderTest = request.getfixturevalue(f"{request.param}_store")
    return chosen


async def read(content: MediaContent) -> bytes:
    return b"".join([chunk async for chunk in content])


async def in_chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def photo(size: int = 300_000) -> bytes:
    return bytes(index % 251 for index in range(size))


# -- storing and reading -----------------------------------------------------------------------------


async def test_a_stored_file_reads_back_with_its_content_type_size_and_sha256(stores: StoreUnderTest) -> None:
    store = stores()
    data = photo()

    stored = await store.put("acme/photo-1", data, JPEG)

    assert (stored.key, stored.size, stored.sha256, stored.content_type) == (
        "acme/photo-1",
        len(data),
        sha256(data),
        JPEG,
    )
    content = await store.open("acme/photo-1")
    assert content.media == stored
    assert await read(content) == data
    assert await store.exists("acme/photo-1")


async def test_a_multi_megabyte_download_is_stored_as_it_arrives_and_read_back_in_chunks(
    stores: StoreUnderTest,
) -> None:
    store = stores()
    # Past one S3 part (8 MiB by default), so the bucket receives it in parts.
    data = bytes(range(256)) * (12 * MiB // 256) + b"tail"

    stored = await store.put("acme/video-1", in_chunks(data), "video/mp4")

    assert (stored.size, stored.sha256) == (len(data), sha256(data))
    content = await store.open("acme/video-1")
    assert (content.media.size, content.media.sha256, content.media.content_type) == (
        len(data),
        sha256(data),
        "video/mp4",
    )
    chunks = [chunk async for chunk in content]
    assert len(chunks) > 1
    assert max(len(chunk) for chunk in chunks) <= LARGEST_CHUNK
    assert b"".join(chunks) == data


async def test_an_empty_file_is_a_file(stores: StoreUnderTest) -> None:
    store = stores()

    stored = await store.put("acme/empty", in_chunks(b""), "text/plain")

    assert (stored.size, stored.sha256) == (0, sha256(b""))
    assert await read(await store.open("acme/empty")) == b""


async def test_a_content_type_with_parameters_is_kept_as_given(stores: StoreUnderTest) -> None:
    store = stores()

    await store.put("acme/voice-1", b"OggS", VOICE_NOTE)

    async with await store.open("acme/voice-1") as content:
        assert content.media.content_type == VOICE_NOTE


async def test_keys_name_separate_files_even_when_one_key_begins_another(stores: StoreUnderTest) -> None:
    store = stores()

    await store.put("acme/m1", b"acme's", JPEG)
    await store.put("globex/m1", b"globex's", JPEG)
    await store.put("acme", b"a key that is also the start of others", JPEG)

    assert await read(await store.open("acme/m1")) == b"acme's"
    assert await read(await store.open("globex/m1")) == b"globex's"
    assert await read(await store.open("acme")) == b"a key that is also the start of others"


async def test_a_reader_that_stops_early_closes_and_the_file_stays_whole(stores: StoreUnderTest) -> None:
    store = stores()
    data = photo(3 * MiB)
    await store.put("acme/photo-1", data, JPEG)

    async with await store.open("acme/photo-1") as content:
        first = await anext(aiter(content))
    assert data.startswith(first)

    assert await read(await store.open("acme/photo-1")) == data
    assert await store.delete("acme/photo-1")


# -- replacing ----------------------------------------------------------------------------------------


async def test_storing_under_a_used_key_replaces_the_file_whole(stores: StoreUnderTest) -> None:
    store = stores()
    await store.put("acme/photo-1", photo(2 * MiB), JPEG)

    replaced = await store.put("acme/photo-1", b"a shorter file", "image/png")

    content = await store.open("acme/photo-1")
    assert content.media == replaced
    assert (content.media.size, content.media.content_type) == (len(b"a shorter file"), "image/png")
    assert await read(content) == b"a shorter file"
    assert await stores.leftovers() == [stored_name(stores, "acme/photo-1")]


async def test_a_reader_of_the_old_file_reads_it_to_the_end_after_it_was_replaced(
    stores: StoreUnderTest,
) -> None:
    store = stores()
    old = photo(3 * MiB)
    await store.put("acme/photo-1", old, JPEG)
    content = await store.open("acme/photo-1")
    first = await anext(aiter(content))

    await store.put("acme/photo-1", b"new", JPEG)

    assert first + b"".join([chunk async for chunk in content]) == old
    assert await read(await store.open("acme/photo-1")) == b"new"


async def test_a_file_being_written_is_not_visible_until_all_of_it_is_there(stores: StoreUnderTest) -> None:
    store = stores()
    await store.put("acme/photo-1", b"the old photo", JPEG)
    finish = asyncio.Event()

    async def slow_download(halfway: asyncio.Event) -> AsyncIterator[bytes]:
        yield b"the first half, "
        halfway.set()
        await finish.wait()
        yield b"the second half"

    halfway = {"acme/photo-1": asyncio.Event(), "acme/photo-2": asyncio.Event()}
    writing = [
        asyncio.create_task(store.put(key, slow_download(event), JPEG)) for key, event in halfway.items()
    ]
    for event in halfway.values():
        await event.wait()

    assert await read(await store.open("acme/photo-1")) == b"the old photo"
    assert not await store.exists("acme/photo-2")
    finish.set()
    await asyncio.gather(*writing)
    for key in halfway:
        assert await read(await store.open(key)) == b"the first half, the second half"


# -- deleting and missing keys -------------------------------------------------------------------------


async def test_a_deleted_file_is_gone(stores: StoreUnderTest) -> None:
    store = stores()
    await store.put("acme/photo-1", photo(), JPEG)

    assert await store.delete("acme/photo-1") is True

    assert await store.exists("acme/photo-1") is False
    with pytest.raises(MediaNotFound):
        await store.open("acme/photo-1")
    assert await store.delete("acme/photo-1") is False
    assert await stores.leftovers() == []


async def test_a_key_that_holds_nothing_is_not_found(stores: StoreUnderTest) -> None:
    store = stores()
    await store.put("acme/photo-1", photo(), JPEG)

    for missing in ("acme/photo-2", "globex/photo-1", "acme"):
        with pytest.raises(MediaNotFound) as raised:
            await store.open(missing)
        assert raised.value.key == missing
        assert await store.exists(missing) is False
        assert await store.delete(missing) is False


# -- the size limit and failed writes ------------------------------------------------------------------


async def test_a_file_of_exactly_the_limit_is_taken(stores: StoreUnderTest) -> None:
    store = stores(max_bytes=1000)

    assert (await store.put("acme/a", bytes(1000), JPEG)).size == 1000
    assert (await store.put("acme/b", in_chunks(bytes(1000), size=300), JPEG)).size == 1000


@pytest.mark.parametrize("arrives", ["at once", "in chunks"])
async def test_a_file_over_the_limit_is_refused_and_leaves_nothing_behind(
    stores: StoreUnderTest, arrives: str
) -> None:
    store = stores(max_bytes=6 * MiB)
    data = photo(6 * MiB + 1)

    with pytest.raises(MediaTooLarge) as raised:
        await store.put("acme/video-1", data if arrives == "at once" else in_chunks(data), "video/mp4")

    assert raised.value.max_bytes == 6 * MiB
    assert store.max_bytes == 6 * MiB
    assert not await store.exists("acme/video-1")
    assert await stores.leftovers() == []


async def test_an_endless_download_is_cut_off_at_the_limit(stores: StoreUnderTest) -> None:
    store = stores(max_bytes=MiB)
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        while True:
            sent += 64 * 1024
            yield bytes(64 * 1024)

    with pytest.raises(MediaTooLarge):
        await store.put("acme/video-1", endless(), "video/mp4")

    assert sent <= MiB + 64 * 1024
    assert await stores.leftovers() == []


async def test_a_replacement_over_the_limit_keeps_the_old_file(stores: StoreUnderTest) -> None:
    store = stores(max_bytes=MiB)
    await store.put("acme/photo-1", b"the old photo", JPEG)

    with pytest.raises(MediaTooLarge):
        await store.put("acme/photo-1", in_chunks(photo(MiB + 1)), JPEG)

    assert await read(await store.open("acme/photo-1")) == b"the old photo"
    assert await stores.leftovers() == [stored_name(stores, "acme/photo-1")]


async def test_a_download_that_fails_midway_raises_its_own_error_and_leaves_nothing(
    stores: StoreUnderTest,
) -> None:
    store = stores()

    async def broken_download() -> AsyncIterator[bytes]:
        yield photo(MiB)
        raise ConnectionResetError("the provider hung up")

    with pytest.raises(ConnectionResetError, match="hung up"):
        await store.put("acme/photo-1", broken_download(), JPEG)

    assert not await store.exists("acme/photo-1")
    assert await stores.leftovers() == []


async def test_a_cancelled_write_leaves_nothing(stores: StoreUnderTest) -> None:
    store = stores()
    halfway = asyncio.Event()

    async def stalled_download() -> AsyncIterator[bytes]:
        yield photo(MiB)
        halfway.set()
        await asyncio.Event().wait()  # never comes
        yield b""

    writing = asyncio.create_task(store.put("acme/photo-1", stalled_download(), JPEG))
    await halfway.wait()
    writing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writing

    assert not await store.exists("acme/photo-1")
    assert await stores.leftovers() == []


# -- what is refused -----------------------------------------------------------------------------------

UNSAFE_KEYS = [
    "",
    "/etc/passwd",
    "../outside",
    "acme/../../outside",
    "acme/..",
    "acme/./photo",
    ".hidden",
    "acme//photo",
    "acme/",
    "acme\\photo",
    "..\\outside",
    "C:photo",
    "acme/photo 1",
    "acme/photo\x00",
    "acme/photo\n",
    "acme/fotó",
    "acme/photo.jpg",
    "a" * 129,
    "/".join(["a" * 100] * 6),
]


@pytest.mark.parametrize("key", UNSAFE_KEYS)
async def test_a_key_that_could_escape_the_store_is_refused_by_every_operation(
    stores: StoreUnderTest, key: str
) -> None:
    store = stores()

    with pytest.raises(InvalidMediaKey):
        await store.put(key, b"data", JPEG)
    with pytest.raises(InvalidMediaKey):
        await store.put(key, in_chunks(b"data"), JPEG)
    with pytest.raises(InvalidMediaKey):
        await store.open(key)
    with pytest.raises(InvalidMediaKey):
        await store.exists(key)
    with pytest.raises(InvalidMediaKey):
        await store.delete(key)
    assert await stores.leftovers() == []


@pytest.mark.parametrize(
    "content_type", ["", "jpeg", "image/jpeg\r\nX-Injected: 1", "image/jpég", "a/" + "b" * 300]
)
async def test_a_content_type_that_cannot_be_served_as_a_header_is_refused(
    stores: StoreUnderTest, content_type: str
) -> None:
    store = stores()

    with pytest.raises(InvalidInput):
        await store.put("acme/photo-1", b"data", content_type)

    assert await stores.leftovers() == []


def stored_name(stores: StoreUnderTest, key: str) -> str:
    """What the storage behind ``stores`` holds for ``key``."""
    return {"local": f"{key}.media", "s3": f"media/{key}", "fake": key}[stores.name]


# -- each store's own ----------------------------------------------------------------------------------


async def test_on_disk_a_file_is_its_header_then_the_bytes_readable_by_the_owner_only(tmp_path: Path) -> None:
    store = LocalMediaStore(tmp_path, max_bytes=LIMIT)

    await store.put("acme/photo-1", b"the photo", JPEG)

    path = tmp_path / "acme" / "photo-1.media"
    assert path.read_bytes()[HEADER_BYTES:] == b"the photo"
    assert path.stat().st_mode & 0o777 == 0o600


async def test_on_disk_a_damaged_file_is_reported_not_served(tmp_path: Path) -> None:
    store = LocalMediaStore(tmp_path, max_bytes=LIMIT)
    await store.put("acme/photo-1", b"the photo", JPEG)
    path = tmp_path / "acme" / "photo-1.media"
    path.write_bytes(path.read_bytes()[:-3])

    with pytest.raises(MediaStorageUnavailable):
        await store.open("acme/photo-1")


async def test_in_the_bucket_an_object_carries_the_content_type_and_sha256(
    s3_endpoint: str, s3_client: S3Client, s3_bucket: str
) -> None:
    store = S3MediaStore(
        bucket=s3_bucket,
        max_bytes=LIMIT,
        endpoint_url=s3_endpoint,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        prefix="/wa-gateway/media/",
        part_bytes=MIN_PART_BYTES,
    )
    try:
        small = await store.put("acme/voice-1", b"OggS", VOICE_NOTE)
        large = await store.put("acme/video-1", in_chunks(photo(11 * MiB)), "video/mp4")

        for media in (small, large):
            head = await s3_client.head_object(Bucket=s3_bucket, Key=f"wa-gateway/media/{media.key}")
            assert head["ContentType"] == media.content_type
            assert head["ContentLength"] == media.size
            assert head["Metadata"] == {"sha256": media.sha256}
    finally:
        await store.aclose()


async def test_an_upload_in_parts_cut_short_is_aborted_in_the_bucket(
    s3_endpoint: str, s3_client: S3Client, s3_bucket: str, s3_store: StoreUnderTest
) -> None:
    async with stalling_proxy(s3_endpoint, stall_on=b"partNumber=2") as (proxy_url, stalled):
        store = S3MediaStore(
            bucket=s3_bucket,
            max_bytes=LIMIT,
            endpoint_url=proxy_url,
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET_KEY,
            prefix="media",
            part_bytes=MIN_PART_BYTES,
        )
        try:
            writing = asyncio.create_task(store.put("acme/video-1", in_chunks(photo(11 * MiB)), "video/mp4"))
            await stalled.wait()
            assert await s3_store.leftovers() == ["unfinished upload of media/acme/video-1"]

            writing.cancel()
            with pytest.raises(asyncio.CancelledError):
                await writing
        finally:
            await store.aclose()

    assert await s3_store.leftovers() == []


@contextlib.asynccontextmanager
async def stalling_proxy(target: str, *, stall_on: bytes) -> AsyncIterator[tuple[str, asyncio.Event]]:
    """A TCP proxy to ``target`` that holds back, for good, the connection whose request carries
    ``stall_on``, and sets the event it yields once it did."""
    host, port = target.removeprefix("http://").split(":")
    stalled = asyncio.Event()
    pipes: set[asyncio.Task[None]] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, upstream: bool) -> None:
        try:
            while data := await reader.read(65536):
                if upstream and stall_on in data:
                    stalled.set()
                    await asyncio.Event().wait()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def serve(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection(host, int(port))
        for task in (
            asyncio.create_task(pipe(client_reader, server_writer, upstream=True)),
            asyncio.create_task(pipe(server_reader, client_writer, upstream=False)),
        ):
            pipes.add(task)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    proxy_port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{proxy_port}", stalled
    finally:
        server.close()
        for task in pipes:
            task.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)
        await server.wait_closed()


async def test_a_bucket_that_cannot_be_reached_or_does_not_exist_is_unavailable(s3_endpoint: str) -> None:
    unreachable = S3MediaStore(
        bucket="media",
        max_bytes=LIMIT,
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        timeout_seconds=2,
        attempts=1,
    )
    missing_bucket = S3MediaStore(
        bucket=f"never-created-{uuid.uuid4().hex}",
        max_bytes=LIMIT,
        endpoint_url=s3_endpoint,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
    )
    try:
        for store in (unreachable, missing_bucket):
            with pytest.raises(MediaStorageUnavailable):
                await store.put("acme/photo-1", b"the photo", JPEG)
            with pytest.raises(MediaStorageUnavailable):
                await store.open("acme/photo-1")
    finally:
        await unreachable.aclose()
        await missing_bucket.aclose()
