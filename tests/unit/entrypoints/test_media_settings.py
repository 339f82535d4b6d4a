"""Where media are kept: MEDIA_STORE and its settings, checked at start-up, and the store the container
builds from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.media.local import LocalMediaStore
from adapters.media.s3 import S3MediaStore
from application.ports.media_store import MediaStore
from entrypoints.container import create_container, shutdown
from entrypoints.settings import ConfigurationError, Settings, load_settings

S3 = {
    "MEDIA_STORE": "s3",
    "MEDIA_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
    "MEDIA_S3_BUCKET": "wa-media",
    "MEDIA_S3_ACCESS_KEY_ID": "minio-user",
    "MEDIA_S3_SECRET_ACCESS_KEY": "minio-password",
}


def settings_with(tmp_path: Path, **environ: str) -> Settings:
    return load_settings(environ={"DATA_DIR": str(tmp_path), **environ}, env_file=None)


async def test_by_default_media_are_kept_on_disk_in_the_data_directory_up_to_16_mib(tmp_path: Path) -> None:
    container = create_container(settings_with(tmp_path))

    store = container.media_store()

    assert isinstance(store, LocalMediaStore)
    assert isinstance(store, MediaStore)
    assert store.max_bytes == 16 * 1024 * 1024
    await store.put("acme/photo-1", b"the photo", "image/jpeg")
    assert (tmp_path / "media" / "acme" / "photo-1.media").is_file()
    await shutdown(container)


async def test_media_dir_and_media_max_bytes_choose_where_and_how_much(tmp_path: Path) -> None:
    container = create_container(
        settings_with(tmp_path, MEDIA_DIR=str(tmp_path / "elsewhere"), MEDIA_MAX_BYTES="1000")
    )

    store = container.media_store()

    assert store.max_bytes == 1000
    await store.put("acme/photo-1", b"the photo", "image/jpeg")
    assert (tmp_path / "elsewhere" / "acme" / "photo-1.media").is_file()
    await shutdown(container)


async def test_media_store_s3_keeps_media_in_the_bucket(tmp_path: Path) -> None:
    container = create_container(settings_with(tmp_path, **S3, MEDIA_MAX_BYTES="5000000"))

    store = container.media_store()

    assert isinstance(store, S3MediaStore)
    assert isinstance(store, MediaStore)
    assert store.max_bytes == 5_000_000
    await shutdown(container)


@pytest.mark.parametrize(
    ("environ", "complaint"),
    [
        ({"MEDIA_STORE": "ftp"}, "media_store"),
        ({"MEDIA_MAX_BYTES": "0"}, "MEDIA_MAX_BYTES"),
        ({**S3, "MEDIA_S3_BUCKET": ""}, "MEDIA_S3_BUCKET"),
        ({**S3, "MEDIA_S3_SECRET_ACCESS_KEY": ""}, "MEDIA_S3_SECRET_ACCESS_KEY"),
        ({**S3, "MEDIA_S3_PREFIX": "../other-app"}, "MEDIA_S3_PREFIX"),
        ({"MEDIA_DOWNLOAD_ATTEMPTS": "0"}, "MEDIA_DOWNLOAD_ATTEMPTS"),
        ({"MEDIA_DOWNLOAD_TIMEOUT_SECONDS": "0"}, "MEDIA_DOWNLOAD_TIMEOUT_SECONDS"),
    ],
)
def test_media_settings_that_cannot_work_stop_the_start(
    tmp_path: Path, environ: dict[str, str], complaint: str
) -> None:
    with pytest.raises(ConfigurationError, match=complaint):
        settings_with(tmp_path, **environ)
