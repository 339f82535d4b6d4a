"""GET /api/media/{id} through the real Litestar app, the database and the media store replaced by
fakes: a tenant's own files only, served as data that can never run in the gateway's origin, and
revalidated by their ETag; and a customer's media from Twilio's callback to the file served."""

from __future__ import annotations

import hashlib
from uuid import UUID, uuid4

import pytest

from application.ports.media import KeptMedia, media_key
from domain.administration.tenancy import TwilioCredentials
from domain.messaging.content import Media, MediaKind
from domain.messaging.messages import Message, MessageContent
from domain.phone import PhoneNumber
from tests.support.api import Api, ApiOptions, assert_problem
from tests.support.fakes import FakeUnitOfWork, TenantAccount
from tests.support.media import ProviderFile
from tests.support.provider_accounts import set_twilio_credentials
from tests.support.twilio_callbacks import (
    ACME_ACCOUNT,
    ACME_TOKEN,
    CUSTOMER,
    PUBLIC_BASE_URL,
    inbound_params,
    sign,
)

PHOTO = b"\xff\xd8\xff\xe0" + b"a photo of a broken parcel" * 100
PHOTO_URL = (
    f"https://api.twilio.com/2010-04-01/Accounts/{ACME_ACCOUNT}/Messages/MM{'1' * 32}/Media/ME{'1' * 32}"
)


@pytest.fixture
def api_options() -> ApiOptions:
    # No background workers: a test runs the media worker itself when it wants a download.
    return ApiOptions(settings={"PUBLIC_BASE_URL": PUBLIC_BASE_URL, "EMBEDDED_DISPATCHER": "false"})


async def keep(
    api: Api,
    account: TenantAccount,
    content: bytes,
    content_type: str,
    *,
    kind: MediaKind = MediaKind.IMAGE,
    filename: str | None = None,
) -> KeptMedia:
    """A file the gateway keeps for ``account``: a customer's message naming it, its record, its bytes."""
    media_id = uuid4()
    message = Message.new_inbound(
        tenant_id=account.tenant.id,
        sender=account.sender.phone_number,
        contact=PhoneNumber.parse(CUSTOMER),
        content=MessageContent(
            media=(
                Media(
                    kind=kind,
                    provider_media_id="1234567890",
                    content_type=content_type,
                    filename=filename,
                    stored_media_id=str(media_id),
                ),
            )
        ),
        provider_sid=f"wamid.{uuid4().hex}",
        now=api.clock.now(),
    )
    stored = await api.media_store.put(media_key(account.tenant.id, media_id), content, content_type)
    kept = KeptMedia(
        id=media_id,
        tenant_id=account.tenant.id,
        message_id=message.id,
        content_type=content_type,
        size=stored.size,
        sha256=stored.sha256,
        created_at=api.clock.now(),
        filename=filename,
    )
    seed = FakeUnitOfWork(api.database)
    await seed.messages.add(message)
    await seed.media.add(kept)
    return kept


# ------------------------------------------------------------------------------------------ serving


async def test_an_image_is_served_inline_with_its_type_size_and_etag(api: Api) -> None:
    kept = await keep(api, api.acme, PHOTO, "image/jpeg")

    response = await api.client.get(f"/api/media/{kept.id}", headers=await api.bearer("ana"))

    assert response.status_code == 200
    assert response.content == PHOTO
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["content-length"] == str(len(PHOTO))
    assert response.headers["content-disposition"] == "inline"
    assert response.headers["etag"] == f'"{hashlib.sha256(PHOTO).hexdigest()}"'


async def test_a_file_is_data_never_a_page_of_the_gateway(api: Api) -> None:
    kept = await keep(api, api.acme, PHOTO, "image/jpeg")

    response = await api.client.get(f"/api/media/{kept.id}", headers=await api.login(api.acme))

    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == "sandbox"
    cache = {directive.strip() for directive in response.headers["cache-control"].split(",")}
    assert "private" in cache, "the caller's browser may keep it; no shared cache may"
    assert "no-store" not in cache


async def test_a_document_is_an_attachment_under_its_own_filename(api: Api) -> None:
    kept = await keep(
        api, api.acme, b"%PDF-1.7", "application/pdf", kind=MediaKind.DOCUMENT, filename='Factura "nº 7".pdf'
    )

    response = await api.client.get(f"/api/media/{kept.id}", headers=await api.login(api.acme))

    assert response.status_code == 200
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"Factura _n_ 7_.pdf\"; filename*=UTF-8''Factura%20%22n%C2%BA%207%22.pdf"
    )


async def test_a_document_without_a_filename_is_an_attachment_named_for_its_id(api: Api) -> None:
    kept = await keep(api, api.acme, b"one line", "text/plain", kind=MediaKind.DOCUMENT)

    response = await api.client.get(f"/api/media/{kept.id}", headers=await api.login(api.acme))

    assert response.headers["content-disposition"].startswith(f'attachment; filename="media-{kept.id}"')
    assert response.headers["content-type"] == "text/plain", "served as kept, no charset of our own"


async def test_an_api_key_of_the_tenant_fetches_its_media(api: Api) -> None:
    kept = await keep(api, api.acme, PHOTO, "image/jpeg")
    key, _ = await api.api_key(await api.login(api.acme), role="agent")

    response = await api.client.get(f"/api/media/{kept.id}", headers=key)

    assert response.status_code == 200
    assert response.content == PHOTO


# ------------------------------------------------------------------------------------- revalidating


async def test_a_copy_the_caller_holds_is_not_sent_again(api: Api) -> None:
    kept = await keep(api, api.acme, PHOTO, "image/jpeg")
    headers = await api.login(api.acme)
    first = await api.client.get(f"/api/media/{kept.id}", headers=headers)

    again = await api.client.get(
        f"/api/media/{kept.id}", headers={**headers, "If-None-Match": first.headers["etag"]}
    )

    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]


@pytest.mark.parametrize(
    "if_none_match", ['"0000"', 'W/"{sha}"', '"0000", "{sha}"', "*"], ids=["other", "weak", "list", "any"]
)
async def test_if_none_match_is_read_as_http_says(api: Api, if_none_match: str) -> None:
    kept = await keep(api, api.acme, PHOTO, "image/jpeg")

    response = await api.client.get(
        f"/api/media/{kept.id}",
        headers={**await api.login(api.acme), "If-None-Match": if_none_match.format(sha=kept.sha256)},
    )

    expected = 200 if if_none_match == '"0000"' else 304
    assert response.status_code == expected


# ------------------------------------------------------------------------------------------ refusing


async def test_another_tenants_file_is_not_found(api: Api) -> None:
    kept = await keep(api, api.acme, PHOTO, "image/jpeg")

    response = await api.client.get(f"/api/media/{kept.id}", headers=await api.login(api.globex))

    assert_problem(response, 404, "not-found")
    assert PHOTO not in response.content


async def test_an_unknown_id_and_a_missing_file_are_not_found(api: Api) -> None:
    kept = await keep(api, api.acme, PHOTO, "image/jpeg")
    await api.media_store.delete(kept.key)
    headers = await api.login(api.acme)

    assert_problem(await api.client.get(f"/api/media/{uuid4()}", headers=headers), 404, "not-found")
    assert_problem(await api.client.get(f"/api/media/{kept.id}", headers=headers), 404, "not-found")


async def test_only_the_tenants_agents_and_admins_fetch_media(api: Api) -> None:
    kept = await keep(api, api.acme, PHOTO, "image/jpeg")

    anonymous = await api.client.get(f"/api/media/{kept.id}")
    platform_admin = await api.client.get(f"/api/media/{kept.id}", headers=await api.bearer("root"))

    assert_problem(anonymous, 401, "invalid-token")
    assert_problem(platform_admin, 403, "forbidden")


# ----------------------------------------------------------------------------------- end to end


async def test_a_customers_photo_through_twilio_is_downloaded_shown_on_its_message_and_served(
    api: Api,
) -> None:
    await set_twilio_credentials(
        FakeUnitOfWork(api.database), api.acme.tenant.id, TwilioCredentials(ACME_ACCOUNT, ACME_TOKEN)
    )
    api.media_fetcher.files[PHOTO_URL] = ProviderFile(PHOTO, "image/jpeg")
    params = inbound_params(body="see the photo", media=[PHOTO_URL], media_types=["image/jpeg"])
    url = f"{PUBLIC_BASE_URL}/webhooks/twilio/inbound"
    received = await api.client.post(
        "/webhooks/twilio/inbound", data=params, headers={"X-Twilio-Signature": sign(ACME_TOKEN, url, params)}
    )
    assert received.status_code == 200, received.text
    headers = await api.login(api.acme)
    [message] = (await api.client.get("/api/messages?direction=inbound", headers=headers)).json()["items"]
    assert "stored_media_url" not in message["media"][0], "not kept yet"

    await api.container.media_downloader().download_due()

    shown = (await api.client.get(f"/api/messages/{message['id']}", headers=headers)).json()
    [item] = shown["media"]
    assert item["stored_media_url"] == f"/api/media/{item['stored_media_id']}"
    assert item["url"] == PHOTO_URL, "Twilio's own URL stays as the provider gave it"
    served = await api.client.get(item["stored_media_url"], headers=headers)
    assert served.status_code == 200
    assert served.content == PHOTO
    assert UUID(item["stored_media_id"]) in {kept.id for kept in api.database.media.all()}


async def test_media_the_gateway_gave_up_on_says_why_on_its_message(api: Api) -> None:
    await set_twilio_credentials(
        FakeUnitOfWork(api.database), api.acme.tenant.id, TwilioCredentials(ACME_ACCOUNT, ACME_TOKEN)
    )
    params = inbound_params(body="see the photo", media=[PHOTO_URL], media_types=["image/jpeg"])
    url = f"{PUBLIC_BASE_URL}/webhooks/twilio/inbound"
    await api.client.post(
        "/webhooks/twilio/inbound", data=params, headers={"X-Twilio-Signature": sign(ACME_TOKEN, url, params)}
    )

    await api.container.media_downloader().download_due()  # Twilio has no such file: 404

    headers = await api.login(api.acme)
    [message] = (await api.client.get("/api/messages?direction=inbound", headers=headers)).json()["items"]
    [item] = message["media"]
    assert item["not_kept"] == "the provider answered HTTP 404"
    assert "stored_media_id" not in item
    assert message["body"] == "see the photo"
