"""Customers' media for real: the gateway served by uvicorn on PostgreSQL with its embedded workers, the
Twilio emulator and the Meta emulator posting customers' photos and documents to it over HTTP, the
media worker fetching each from its provider with the account's credentials into the media store (the
local disk, and once an S3 bucket on moto's server), and GET /api/media/{id} serving the same bytes.

Acme's number is on Twilio, Globex's on Meta's Cloud API.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from aiobotocore.session import get_session
from moto.server import ThreadedMotoServer

from adapters.database.migrate import upgrade
from adapters.security.secret_box import generate_key
from application.administration.onboarding import CreateTenantCommand
from application.authorization import OPERATOR
from domain.administration.tenancy import ProviderName, Role, TwilioCredentials
from emulators import meta, twilio
from entrypoints.container import Container, create_container
from entrypoints.settings import load_settings
from tests.support.served_gateway import base_url_of, listening_socket, served

CUSTOMER = "+14155550100"
SANDBOX_NUMBER = "+14155238886"
META_DISPLAY = "15550100002"
CREDENTIALS_KEY = generate_key()  # one for the session: earlier tests' tenants stay in the database
PHOTO = b"\xff\xd8\xff\xe0" + hashlib.sha256(b"a photo").digest() * 2000  # 64 KiB: several chunks
INVOICE = b"%PDF-1.7\n" + b"an invoice line\n" * 500
S3_REGION, S3_KEY_ID, S3_SECRET = "us-east-1", "testing", "testing"
WAIT_SECONDS = 15.0


@dataclass(frozen=True)
class Tenant:
    id: UUID
    headers: dict[str, str]


@dataclass
class World:
    http: httpx.AsyncClient
    container: Container
    at_twilio: twilio.RunningEmulator  # the emulators standing in for the providers
    at_meta: meta.RunningEmulator
    twilio_account: str
    acme: Tenant  # on Twilio
    globex: Tenant  # on Meta
    phone_number_id: str
    inbound_url: str

    async def twilio_customer_sends(self, *files: twilio.MediaFile, body: str = "see attached") -> str:
        delivery = await self.at_twilio.send_inbound(
            self.inbound_url,
            from_=f"whatsapp:{CUSTOMER}",
            to=f"whatsapp:{SANDBOX_NUMBER}",
            body=body,
            account_sid=self.twilio_account,
            media=files,
        )
        assert delivery.http_status == 200, delivery.response_body
        return delivery.message_sid

    async def meta_customer_sends(self, content: bytes, **message: Any) -> str:
        delivery = await self.at_meta.send_inbound(
            meta.InboundMessage(
                from_=CUSTOMER,
                phone_number_id=self.phone_number_id,
                media_content_base64=base64.b64encode(content).decode(),
                **message,
            )
        )
        assert delivery.http_status == 200, delivery.response_body
        (wamid,) = delivery.message_ids
        return wamid

    async def settled(self, tenant: Tenant, provider_sid: str) -> dict[str, Any]:
        """The message the provider calls ``provider_sid``, once each of its media is kept or given up."""
        async with asyncio.timeout(WAIT_SECONDS):
            while True:
                response = await self.http.get("/api/messages?direction=inbound", headers=tenant.headers)
                assert response.status_code == 200, response.text
                found = [m for m in response.json()["items"] if m["provider_sid"] == provider_sid]
                if found and all("stored_media_id" in i or "not_kept" in i for i in found[0]["media"]):
                    message: dict[str, Any] = found[0]
                    return message
                await asyncio.sleep(0.05)


def meta_id() -> str:
    return str(uuid.uuid4().int)[:16]


async def log_in(container: Container, http: httpx.AsyncClient, tenant_id: UUID) -> dict[str, str]:
    username, password = f"admin-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(12)
    await container.create_user()(OPERATOR, tenant_id, username, password, Role.TENANT_ADMIN)
    login = await http.post("/auth/login", json={"username": username, "password": password})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


@asynccontextmanager
async def running_world(
    postgres_url: str, data_dir: Path, media_settings: Mapping[str, str]
) -> AsyncIterator[World]:
    upgrade(postgres_url)
    twilio_sid, twilio_token = "AC" + uuid.uuid4().hex, secrets.token_urlsafe(24)
    app_id, app_secret, verify_token = meta_id(), secrets.token_urlsafe(24), secrets.token_urlsafe(12)
    waba_id, phone_number_id, meta_token = meta_id(), meta_id(), secrets.token_urlsafe(24)
    sock = listening_socket()
    gateway_url = base_url_of(sock)
    twilio_config = twilio.EmulatorConfig(accounts={twilio_sid: twilio_token})
    meta_config = meta.EmulatorConfig(
        apps={
            app_id: meta.App(
                secret=app_secret, callback_url=f"{gateway_url}/webhooks/meta", verify_token=verify_token
            )
        },
        businesses={
            waba_id: meta.Business(
                app_id=app_id,
                phone_numbers={phone_number_id: meta.PhoneNumber(display_phone_number=META_DISPLAY)},
                access_tokens=(meta_token,),
            )
        },
    )
    async with (
        twilio.running_emulator(twilio_config) as twilio_emulator,
        meta.running_emulator(meta_config) as meta_emulator,
    ):
        settings = load_settings(
            environ={
                "DATA_DIR": str(data_dir),
                "DATABASE_URL": postgres_url,
                "DB_POOL_SIZE": "4",
                "ARGON2_TIME_COST": "1",
                "ARGON2_MEMORY_KIB": "8192",
                "ARGON2_PARALLELISM": "1",
                "TWILIO_API_BASE_URL": twilio_emulator.base_url,
                "META_GRAPH_API_BASE_URL": meta_emulator.base_url,
                "PUBLIC_BASE_URL": gateway_url,
                "PROVIDER_TIMEOUT_SECONDS": "5",
                "MEDIA_DOWNLOAD_TIMEOUT_SECONDS": "10",
                "CREDENTIALS_KEYS": CREDENTIALS_KEY,
                "LOG_LEVEL": "WARNING",
                **media_settings,
            },
            env_file=None,
        )
        container = create_container(settings)
        async with (
            served(container, sock),
            httpx.AsyncClient(base_url=gateway_url, trust_env=False, timeout=10) as http,
        ):
            acme = await container.create_tenant()(
                OPERATOR,
                CreateTenantCommand(
                    name=f"Acme {uuid.uuid4().hex[:8]}",
                    provider=ProviderName.TWILIO,
                    twilio_credentials=TwilioCredentials(account_sid=twilio_sid, auth_token=twilio_token),
                ),
            )
            await container.add_sender()(OPERATOR, acme.id, SANDBOX_NUMBER)
            globex = await container.create_tenant()(
                OPERATOR,
                CreateTenantCommand(name=f"Globex {uuid.uuid4().hex[:8]}", provider=ProviderName.SANDBOX),
            )
            globex_headers = await log_in(container, http, globex.id)
            account = await http.post(
                "/api/provider-accounts",
                json={
                    "provider": "meta",
                    "label": "Meta",
                    "meta": {
                        "business_account_id": waba_id,
                        "access_token": meta_token,
                        "app_secret": app_secret,
                        "verify_token": verify_token,
                    },
                },
                headers=globex_headers,
            )
            assert account.status_code == 201, account.text
            sender = await http.post(
                "/api/senders",
                json={
                    "phone_number": f"+{META_DISPLAY}",
                    "account_id": account.json()["id"],
                    "provider_number_id": phone_number_id,
                },
                headers=globex_headers,
            )
            assert sender.status_code == 201, sender.text
            yield World(
                http=http,
                container=container,
                at_twilio=twilio_emulator,
                at_meta=meta_emulator,
                twilio_account=twilio_sid,
                acme=Tenant(acme.id, await log_in(container, http, acme.id)),
                globex=Tenant(globex.id, globex_headers),
                phone_number_id=phone_number_id,
                inbound_url=f"{gateway_url}/webhooks/twilio/inbound",
            )


@pytest.fixture
async def world(postgres_url: str, tmp_path: Path) -> AsyncIterator[World]:
    async with running_world(postgres_url, tmp_path, {"MEDIA_STORE": "local"}) as running:
        yield running


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
async def s3_bucket(s3_endpoint: str) -> str:
    bucket = f"media-{uuid.uuid4().hex}"
    async with get_session().create_client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=S3_REGION,
        aws_access_key_id=S3_KEY_ID,
        aws_secret_access_key=S3_SECRET,
    ) as client:
        await client.create_bucket(Bucket=bucket)
    return bucket


async def test_a_customers_photo_through_twilio_is_kept_on_disk_and_served_with_the_same_bytes(
    world: World, tmp_path: Path
) -> None:
    sid = await world.twilio_customer_sends(twilio.MediaFile(content_type="image/jpeg", content=PHOTO))

    message = await world.settled(world.acme, sid)

    [item] = message["media"]
    assert item["stored_media_url"] == f"/api/media/{item['stored_media_id']}"
    served = await world.http.get(item["stored_media_url"], headers=world.acme.headers)
    assert served.status_code == 200
    assert served.content == PHOTO
    assert (served.headers["content-type"], served.headers["content-disposition"]) == ("image/jpeg", "inline")
    assert served.headers["etag"] == f'"{hashlib.sha256(PHOTO).hexdigest()}"'
    kept = tmp_path / "media" / str(world.acme.id) / f"{item['stored_media_id']}.media"
    assert kept.is_file(), "the local store keeps it under the data directory"
    at_api, at_cdn = world.at_twilio.state.media_fetches
    assert (at_api.authorization_sent, at_api.auth.username) == (True, world.twilio_account)
    assert at_cdn.authorization_sent is False, "no credentials went with the redirect"


async def test_a_customers_document_through_meta_is_kept_and_served_as_an_attachment(world: World) -> None:
    wamid = await world.meta_customer_sends(
        INVOICE, document={"filename": "invoice 1042.pdf", "mime_type": "application/pdf"}
    )

    message = await world.settled(world.globex, wamid)

    [item] = message["media"]
    assert (item["type"], item["filename"], item["content_type"]) == (
        "document",
        "invoice 1042.pdf",
        "application/pdf",
    )
    served = await world.http.get(item["stored_media_url"], headers=world.globex.headers)
    assert served.status_code == 200
    assert served.content == INVOICE
    assert served.headers["content-disposition"].startswith('attachment; filename="invoice 1042.pdf"')
    assert served.headers["content-security-policy"] == "sandbox"
    assert served.headers["x-content-type-options"] == "nosniff"


async def test_another_tenants_media_is_not_found(world: World) -> None:
    sid = await world.twilio_customer_sends(twilio.MediaFile(content_type="image/jpeg", content=PHOTO))
    [item] = (await world.settled(world.acme, sid))["media"]

    response = await world.http.get(item["stored_media_url"], headers=world.globex.headers)

    assert response.status_code == 404
    assert PHOTO not in response.content


async def test_media_twilio_refuses_is_not_kept_and_the_message_stays(world: World) -> None:
    world.at_twilio.state.update_faults(media_error_status=404)

    sid = await world.twilio_customer_sends(
        twilio.MediaFile(content_type="image/jpeg", content=PHOTO), body="my parcel"
    )

    message = await world.settled(world.acme, sid)
    [item] = message["media"]
    assert item["not_kept"] == "Twilio refused the media (HTTP 404)"
    assert "stored_media_id" not in item
    assert message["body"] == "my parcel"


async def test_a_customers_photo_is_kept_in_an_s3_bucket_and_served_from_it(
    postgres_url: str, tmp_path: Path, s3_endpoint: str, s3_bucket: str
) -> None:
    media_settings = {
        "MEDIA_STORE": "s3",
        "MEDIA_S3_ENDPOINT_URL": s3_endpoint,
        "MEDIA_S3_BUCKET": s3_bucket,
        "MEDIA_S3_REGION": S3_REGION,
        "MEDIA_S3_ACCESS_KEY_ID": S3_KEY_ID,
        "MEDIA_S3_SECRET_ACCESS_KEY": S3_SECRET,
        "MEDIA_S3_PREFIX": "wa-gateway",
    }
    async with running_world(postgres_url, tmp_path, media_settings) as world:
        sid = await world.twilio_customer_sends(twilio.MediaFile(content_type="image/jpeg", content=PHOTO))
        [item] = (await world.settled(world.acme, sid))["media"]
        served = await world.http.get(item["stored_media_url"], headers=world.acme.headers)

        async with get_session().create_client(
            "s3",
            endpoint_url=s3_endpoint,
            region_name=S3_REGION,
            aws_access_key_id=S3_KEY_ID,
            aws_secret_access_key=S3_SECRET,
        ) as client:
            listed = await client.list_objects_v2(Bucket=s3_bucket)

    assert served.status_code == 200
    assert served.content == PHOTO
    assert [entry["Key"] for entry in listed.get("Contents", [])] == [
        f"wa-gateway/{world.acme.id}/{item['stored_media_id']}"
    ]
    assert not (tmp_path / "media").exists(), "nothing went to the local disk"
