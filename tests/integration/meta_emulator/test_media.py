"""Media as the Cloud API serves it: upload, describe (a short-lived download URL), download with the
bearer token, delete, and send an uploaded medium by its id."""

from __future__ import annotations

import hashlib

import aiohttp

from emulators.meta import RunningEmulator
from tests.support.meta_emulator import (
    CUSTOMER,
    OTHER_PHONE_NUMBER_ID,
    OTHER_TOKEN,
    PHONE_NUMBER_ID,
    TOKEN,
    GraphClient,
)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


async def upload_png(graph: GraphClient) -> str:
    answer = await graph.upload(PNG, "image/png", filename="receipt.png")
    assert answer.status == 200, answer.body
    media_id: str = answer.body["id"]
    return media_id


async def download(
    http: aiohttp.ClientSession, url: str, token: str | None = TOKEN
) -> tuple[int, bytes, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.get(url, headers=headers) as response:
        return response.status, await response.read(), response.headers.get("Content-Type", "")


async def test_an_upload_answers_with_a_media_id_only(emulator: RunningEmulator, graph: GraphClient) -> None:
    answer = await graph.upload(PNG, "image/png", filename="receipt.png")

    assert answer.status == 200
    assert list(answer.body) == ["id"]
    assert answer.body["id"].isdigit()
    media = emulator.state.media[answer.body["id"]]
    assert (media.content, media.mime_type, media.filename) == (PNG, "image/png", "receipt.png")
    assert emulator.state.requests[-1].form == {
        "messaging_product": "whatsapp",
        "type": "image/png",
        "file": "receipt.png",
    }


async def test_a_medium_describes_itself_with_a_download_url_that_needs_the_token(
    emulator: RunningEmulator, graph: GraphClient, http: aiohttp.ClientSession
) -> None:
    media_id = await upload_png(graph)

    described = await graph.call("GET", f"/{media_id}")

    assert described.status == 200
    assert described.body == {
        "url": described.body["url"],
        "mime_type": "image/png",
        "sha256": hashlib.sha256(PNG).hexdigest(),
        "file_size": len(PNG),
        "id": media_id,
        "messaging_product": "whatsapp",
    }
    url = described.body["url"]
    assert url.startswith(f"{emulator.base_url}/_media/")
    assert f"mid={media_id}" in url
    assert await download(http, url) == (200, PNG, "image/png")
    assert (await download(http, url, token=None))[0] == 401
    assert (await download(http, url, token="not-a-token"))[0] == 401
    assert (await download(http, url, token=OTHER_TOKEN))[0] == 404  # another business's token


async def test_a_download_url_expires_and_a_new_one_can_be_asked_for(
    emulator: RunningEmulator, graph: GraphClient, http: aiohttp.ClientSession
) -> None:
    media_id = await upload_png(graph)
    old_url = (await graph.call("GET", f"/{media_id}")).body["url"]

    emulator.state.advance_clock(emulator.state.config.media_url_ttl_seconds + 1)

    assert (await download(http, old_url))[0] == 404
    new_url = (await graph.call("GET", f"/{media_id}")).body["url"]
    assert new_url != old_url
    assert (await download(http, new_url))[:2] == (200, PNG)


async def test_a_medium_is_the_business_own(graph: GraphClient) -> None:
    media_id = await upload_png(graph)

    answer = await graph.call("GET", f"/{media_id}", token=OTHER_TOKEN)

    assert (answer.status, answer.error["code"], answer.error["error_subcode"]) == (400, 100, 33)


async def test_a_deleted_medium_is_gone(graph: GraphClient, http: aiohttp.ClientSession) -> None:
    media_id = await upload_png(graph)
    url = (await graph.call("GET", f"/{media_id}")).body["url"]

    deleted = await graph.call("DELETE", f"/{media_id}")

    assert (deleted.status, deleted.body) == (200, {"success": True})
    gone = await graph.call("GET", f"/{media_id}")
    assert (gone.status, gone.error["code"], gone.error["error_subcode"]) == (400, 100, 33)
    assert (await download(http, url))[0] == 404
    assert (await graph.call("DELETE", f"/{media_id}")).status == 400


async def test_describing_a_medium_for_another_number_of_the_business_is_refused(graph: GraphClient) -> None:
    media_id = await upload_png(graph)

    answer = await graph.call("GET", f"/{media_id}?phone_number_id=123")
    mine = await graph.call("GET", f"/{media_id}?phone_number_id={PHONE_NUMBER_ID}")

    assert (answer.status, answer.error["code"]) == (400, 100)
    assert mine.status == 200


async def test_an_uploaded_medium_is_sent_by_its_id_by_its_business_only(graph: GraphClient) -> None:
    media_id = await upload_png(graph)
    image = {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "image", "image": {"id": media_id}}

    mine = await graph.send(image)
    theirs = await graph.send(image, phone_number_id=OTHER_PHONE_NUMBER_ID, token=OTHER_TOKEN)

    assert mine.status == 200
    assert (theirs.status, theirs.error["code"]) == (400, 131009)


async def test_uploads_meta_refuses(graph: GraphClient) -> None:
    no_product = await graph.upload(PNG, "image/png", messaging_product=None)
    wrong_type = await graph.upload(b"MZ\x90\x00", "application/x-msdownload")
    empty = await graph.upload(b"", "image/png")
    too_large_sticker = await graph.upload(b"RIFF" + b"\x00" * 600 * 1024, "image/webp")
    no_token = await graph.upload(PNG, "image/png", token=None)

    assert (no_product.status, no_product.error["code"]) == (400, 100)
    assert (wrong_type.status, wrong_type.error["code"]) == (400, 100)
    assert "image/png" in wrong_type.error["error_data"]["details"]
    assert (empty.status, empty.error["code"]) == (400, 131053)
    assert (too_large_sticker.status, too_large_sticker.error["code"]) == (400, 131053)
    assert (no_token.status, no_token.error["code"]) == (401, 190)
