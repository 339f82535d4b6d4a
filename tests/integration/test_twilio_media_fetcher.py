"""TwilioMediaFetcher against the Twilio emulator, over real HTTP: a customer's MediaUrl fetched with the
account's credentials, Twilio's redirect to its CDN followed without them, credentials never sent off
Twilio's API, and every failure told as one that may pass or one that will not."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from aiohttp import web

from adapters.twilio.media import TwilioMediaFetcher
from application.errors import MediaTooLarge
from application.ports.media import MediaFetchFailed
from domain.administration.tenancy import MetaCredentials, ProviderAccount, TwilioCredentials
from domain.messaging.content import Media, MediaKind
from emulators.twilio import ApiKey, EmulatorConfig, MediaFile, RunningEmulator, running_emulator
from tests.support.meta import meta_credentials
from tests.support.repositories import T0

ACCOUNT = "AC" + "a1" * 16
TOKEN = "auth-token-of-account-a"
OTHER_ACCOUNT = "AC" + "b2" * 16
KEY_SID = "SK" + "c3" * 16
KEY_SECRET = "secret-of-the-api-key"
PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 300  # 75 KiB: several chunks
ACME = TwilioCredentials(ACCOUNT, TOKEN)


def account(credentials: TwilioCredentials | MetaCredentials = ACME) -> ProviderAccount:
    return ProviderAccount(tenant_id=uuid4(), credentials=credentials, created_at=T0)


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    config = EmulatorConfig(
        accounts={ACCOUNT: TOKEN, OTHER_ACCOUNT: "auth-token-of-account-b"},
        api_keys={KEY_SID: ApiKey(account_sid=ACCOUNT, secret=KEY_SECRET)},
        seed=5,
    )
    async with running_emulator(config) as running:
        yield running


@pytest.fixture
async def fetcher(emulator: RunningEmulator) -> AsyncIterator[TwilioMediaFetcher]:
    fetcher = TwilioMediaFetcher(api_base_url=emulator.base_url, timeout_seconds=5.0)
    try:
        yield fetcher
    finally:
        await fetcher.aclose()


@pytest.fixture
async def nobody() -> AsyncIterator[str]:
    """A URL that accepts nothing: the webhook the emulator posts inbound messages to."""

    async def accept(_: web.Request) -> web.Response:
        return web.Response(text="<Response/>", content_type="text/xml")

    app = web.Application()
    app.router.add_post("/{tail:.*}", accept)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/webhooks/twilio/inbound"
    finally:
        await runner.cleanup()


async def customer_sends(
    emulator: RunningEmulator, webhook: str, content: bytes = PHOTO, content_type: str = "image/jpeg"
) -> Media:
    """A customer's message with one file, as Twilio posts it: the media item the gateway reads."""
    delivery = await emulator.send_inbound(
        webhook,
        from_="whatsapp:+14155550100",
        to="whatsapp:+14155238886",
        account_sid=ACCOUNT,
        media=[MediaFile(content_type=content_type, content=content)],
    )
    return Media(kind=MediaKind.IMAGE, url=delivery.params["MediaUrl0"], content_type=content_type)


async def fetched(
    fetcher: TwilioMediaFetcher,
    media: Media,
    *,
    credentials: TwilioCredentials = ACME,
    max_bytes: int = 1 << 20,
) -> tuple[bytes, str | None, int | None]:
    async with fetcher.fetch(account(credentials), media, max_bytes) as file:
        return b"".join([chunk async for chunk in file.chunks]), file.content_type, file.size


async def test_the_media_url_is_fetched_with_the_accounts_credentials_and_the_cdn_without(
    emulator: RunningEmulator, fetcher: TwilioMediaFetcher, nobody: str
) -> None:
    media = await customer_sends(emulator, nobody)

    assert await fetched(fetcher, media) == (PHOTO, "image/jpeg", len(PHOTO))
    at_api, at_cdn = emulator.state.media_fetches
    assert (at_api.at_cdn, at_api.authorization_sent, at_api.auth.username) == (False, True, ACCOUNT)
    assert (at_cdn.at_cdn, at_cdn.authorization_sent, at_cdn.http_status) == (True, False, 200)


async def test_an_api_key_is_what_authenticates_when_the_account_has_one(
    emulator: RunningEmulator, fetcher: TwilioMediaFetcher, nobody: str
) -> None:
    media = await customer_sends(emulator, nobody)
    with_key = TwilioCredentials(ACCOUNT, TOKEN, api_key_sid=KEY_SID, api_key_secret=KEY_SECRET)

    content, _, _ = await fetched(fetcher, media, credentials=with_key)

    assert content == PHOTO
    assert emulator.state.media_fetches[0].auth.username == KEY_SID


async def test_a_twilio_media_url_goes_to_the_configured_api(
    emulator: RunningEmulator, fetcher: TwilioMediaFetcher, nobody: str
) -> None:
    media = await customer_sends(emulator, nobody)
    as_twilio_writes_it = (
        media.url.replace(emulator.base_url, "https://api.twilio.com") if media.url else None
    )
    assert as_twilio_writes_it is not None

    content, _, _ = await fetched(fetcher, Media(kind=MediaKind.IMAGE, url=as_twilio_writes_it))

    assert content == PHOTO


async def test_no_credentials_go_to_a_url_off_twilios_api(
    emulator: RunningEmulator, fetcher: TwilioMediaFetcher, nobody: str
) -> None:
    received: list[web.Request] = []

    async def record(request: web.Request) -> web.Response:
        received.append(request)
        return web.Response(body=PHOTO, content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/{tail:.*}", record)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    elsewhere = (
        f"http://127.0.0.1:{runner.addresses[0][1]}/2010-04-01/Accounts/{ACCOUNT}/Messages/MM1/Media/ME1"
    )
    try:
        with pytest.raises(MediaFetchFailed) as refused:
            await fetched(fetcher, Media(kind=MediaKind.IMAGE, url=elsewhere))
    finally:
        await runner.cleanup()

    assert refused.value.permanent
    assert received == [], "nothing was asked of that host"


async def test_a_media_url_of_another_account_is_refused(
    emulator: RunningEmulator, fetcher: TwilioMediaFetcher, nobody: str
) -> None:
    media = await customer_sends(emulator, nobody)
    assert media.url is not None
    others = Media(kind=MediaKind.IMAGE, url=media.url.replace(ACCOUNT, OTHER_ACCOUNT))

    with pytest.raises(MediaFetchFailed) as refused:
        await fetched(fetcher, others)

    assert refused.value.permanent
    assert emulator.state.media_fetches == []


@pytest.mark.parametrize(("status", "permanent"), [(404, True), (401, True), (503, False), (429, False)])
async def test_twilios_refusals_are_permanent_and_its_troubles_are_not(
    emulator: RunningEmulator, fetcher: TwilioMediaFetcher, nobody: str, status: int, permanent: bool
) -> None:
    media = await customer_sends(emulator, nobody)
    emulator.state.update_faults(media_error_status=status)

    with pytest.raises(MediaFetchFailed) as failed:
        await fetched(fetcher, media)

    assert failed.value.permanent is permanent
    assert f"HTTP {status}" in failed.value.reason


async def test_a_file_larger_than_allowed_is_refused_as_its_length_is_announced(
    emulator: RunningEmulator, fetcher: TwilioMediaFetcher, nobody: str
) -> None:
    media = await customer_sends(emulator, nobody)

    with pytest.raises(MediaTooLarge):
        await fetched(fetcher, media, max_bytes=len(PHOTO) - 1)


async def test_twilio_unreachable_is_a_failure_that_may_pass() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fetcher = TwilioMediaFetcher(api_base_url=f"http://127.0.0.1:{port}", timeout_seconds=2.0)
    url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages/MM1/Media/ME1"
    try:
        with pytest.raises(MediaFetchFailed) as failed:
            await fetched(fetcher, Media(kind=MediaKind.IMAGE, url=url))
    finally:
        await fetcher.aclose()

    assert not failed.value.permanent


async def test_a_slow_twilio_times_out_as_a_failure_that_may_pass(
    emulator: RunningEmulator, nobody: str
) -> None:
    media = await customer_sends(emulator, nobody)
    emulator.state.update_faults(latency_ms=5000)
    impatient = TwilioMediaFetcher(api_base_url=emulator.base_url, timeout_seconds=0.2)
    try:
        with pytest.raises(MediaFetchFailed) as failed:
            await fetched(impatient, media)
    finally:
        await impatient.aclose()

    assert not failed.value.permanent


async def test_an_account_of_another_provider_fetches_nothing(fetcher: TwilioMediaFetcher) -> None:
    url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages/MM1/Media/ME1"
    with pytest.raises(MediaFetchFailed) as refused:
        async with fetcher.fetch(account(meta_credentials()), Media(kind=MediaKind.IMAGE, url=url), 1024):
            pass

    assert refused.value.permanent
