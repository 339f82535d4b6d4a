"""The Twilio emulator over real HTTP, with the real Twilio SDK as its client.

The SDK is pointed at the emulator the plain way (``client.api.base_url``), so these tests exercise the
emulator, not the gateway's HTTP client. Webhooks are received by a small aiohttp server of their own.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from emulators.twilio import (
    ApiKey,
    AuthKind,
    CallbackOrder,
    CallbackSettings,
    EmulatorConfig,
    EmulatorState,
    FailureKind,
    Faults,
    ForcedError,
    MediaFile,
    RunningEmulator,
    Stage,
    running_emulator,
)
from emulators.twilio.command import add_arguments, config_from_arguments
from tests.support.http_servers import serving

ACCOUNT = "AC" + "a1" * 16
TOKEN = "auth-token-of-account-a"
OTHER_ACCOUNT = "AC" + "b2" * 16
OTHER_TOKEN = "auth-token-of-account-b"
KEY_SID = "SK" + "c3" * 16
KEY_SECRET = "secret-of-the-api-key"
SENDER = "whatsapp:+14155238886"
CUSTOMER = "whatsapp:+14155550100"
OTHER_CUSTOMER = "whatsapp:+14155550123"
SID = re.compile(r"SM[0-9a-f]{32}")

# The SDK's own async client still passes aiohttp's deprecated BasicAuth; that is the SDK's business.
pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated.*:DeprecationWarning:twilio")

CONFIG = EmulatorConfig(
    accounts={ACCOUNT: TOKEN, OTHER_ACCOUNT: OTHER_TOKEN},
    api_keys={KEY_SID: ApiKey(account_sid=ACCOUNT, secret=KEY_SECRET)},
    senders={OTHER_ACCOUNT: ("+14155238886",)},
    callbacks=CallbackSettings(step_delay_seconds=0.005),
    seed=7,
)


@dataclass
class Received:
    url: str
    params: dict[str, str]
    signature: str


@dataclass
class WebhookReceiver:
    """An HTTP server standing in for the gateway's webhook endpoints."""

    base_url: str = ""
    received: list[Received] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def statuses(self) -> list[str]:
        return [r.params["MessageStatus"] for r in self.received if "MessageStatus" in r.params]


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver()

    async def record(request: web.Request) -> web.Response:
        form = await request.post()
        receiver.received.append(
            Received(
                url=str(request.url),
                params={key: str(value) for key, value in form.items()},
                signature=request.headers.get("X-Twilio-Signature", ""),
            )
        )
        return web.Response(text="<Response/>", content_type="text/xml")

    app = web.Application()
    app.router.add_post("/{tail:.*}", record)
    async with serving(app) as base_url:
        receiver.base_url = base_url
        yield receiver


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with running_emulator(CONFIG) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def sdk_http() -> AsyncIterator[AsyncTwilioHttpClient]:
    client = AsyncTwilioHttpClient()
    try:
        yield client
    finally:
        await client.close()  # type: ignore[no-untyped-call]  # the SDK is untyped


def twilio(
    emulator: RunningEmulator,
    http_client: AsyncTwilioHttpClient,
    username: str = ACCOUNT,
    password: str = TOKEN,
) -> Client:
    client = Client(username, password, ACCOUNT, http_client=http_client)  # type: ignore[no-untyped-call]
    client.region = client.edge = None
    client.api.base_url = emulator.base_url
    return client


def basic(username: str = ACCOUNT, password: str = TOKEN) -> dict[str, str]:
    """HTTP Basic credentials as a header (aiohttp 3.14 deprecates its BasicAuth helper)."""
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


async def post_message(
    http: aiohttp.ClientSession,
    emulator: RunningEmulator,
    data: dict[str, Any] | list[tuple[str, str]],
    *,
    auth: dict[str, str] | None = None,
    account: str = ACCOUNT,
) -> tuple[int, dict[str, Any], Mapping[str, str]]:
    url = emulator.url(f"/2010-04-01/Accounts/{account}/Messages.json")
    async with http.post(url, data=data, headers=auth or basic()) as response:
        return response.status, await response.json(), response.headers


# -- authentication ---------------------------------------------------------------------------------


async def test_wrong_auth_token_gets_twilios_401(
    emulator: RunningEmulator, sdk_http: AsyncTwilioHttpClient
) -> None:
    client = twilio(emulator, sdk_http, password="not-the-token")
    with pytest.raises(TwilioRestException) as raised:
        await client.messages.create_async(to=CUSTOMER, from_=SENDER, body="hello")
    assert raised.value.status == 401
    assert raised.value.code == 20003
    assert emulator.state.requests[-1].outcome == "unauthorized"
    assert emulator.state.messages == {}


async def test_401_body_and_header_are_twilios(
    emulator: RunningEmulator, http: aiohttp.ClientSession
) -> None:
    url = emulator.url(f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json")
    async with http.post(url, data={"To": CUSTOMER, "From": SENDER, "Body": "x"}) as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Basic")
        assert await response.json() == {
            "code": 20003,
            "message": "Authenticate",
            "more_info": "https://www.twilio.com/docs/errors/20003",
            "status": 401,
        }
    assert emulator.state.requests[-1].auth.kind is AuthKind.MISSING


async def test_an_accounts_credentials_do_not_open_another_account(
    emulator: RunningEmulator, http: aiohttp.ClientSession
) -> None:
    status, body, _ = await post_message(
        http, emulator, {"To": CUSTOMER, "From": SENDER, "Body": "x"}, account=OTHER_ACCOUNT
    )
    assert (status, body["code"]) == (401, 20003)


async def test_api_key_of_the_account_is_accepted(
    emulator: RunningEmulator, sdk_http: AsyncTwilioHttpClient
) -> None:
    client = twilio(emulator, sdk_http, username=KEY_SID, password=KEY_SECRET)
    created = await client.messages.create_async(to=CUSTOMER, from_=SENDER, body="with a key")
    assert created.account_sid == ACCOUNT
    request = emulator.state.requests[-1]
    assert (request.auth.kind, request.auth.username) == (AuthKind.API_KEY, KEY_SID)


async def test_api_key_with_a_wrong_secret_is_refused(
    emulator: RunningEmulator, sdk_http: AsyncTwilioHttpClient
) -> None:
    client = twilio(emulator, sdk_http, username=KEY_SID, password="wrong")
    with pytest.raises(TwilioRestException) as raised:
        await client.messages.create_async(to=CUSTOMER, from_=SENDER, body="x")
    assert raised.value.code == 20003


# -- creating, fetching and listing -----------------------------------------------------------------


async def test_created_message_has_twilios_shape(
    emulator: RunningEmulator, http: aiohttp.ClientSession
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    status, body, _ = await post_message(
        http, emulator, {"To": CUSTOMER, "From": SENDER, "Body": "Hello from the emulator"}
    )
    assert status == 201
    assert SID.fullmatch(body["sid"])
    assert body["account_sid"] == ACCOUNT
    assert (body["to"], body["from"], body["body"]) == (CUSTOMER, SENDER, "Hello from the emulator")
    assert body["status"] == "queued"
    assert body["direction"] == "outbound-api"
    assert body["api_version"] == "2010-04-01"
    assert (body["num_media"], body["num_segments"]) == ("0", "1")
    assert body["error_code"] is None
    assert body["error_message"] is None
    assert body["date_sent"] is None
    assert parsedate_to_datetime(body["date_created"]) >= before
    assert body["date_created"].endswith("+0000")
    assert body["uri"] == f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{body['sid']}.json"
    assert (
        body["subresource_uris"]["media"]
        == f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{body['sid']}/Media.json"
    )


async def test_the_sdk_reads_what_it_created_and_fetches_it_later(
    emulator: RunningEmulator, sdk_http: AsyncTwilioHttpClient
) -> None:
    client = twilio(emulator, sdk_http)
    media = ["https://cdn.example.com/a.png", "https://cdn.example.com/b.pdf"]
    created = await client.messages.create_async(to=CUSTOMER, from_=SENDER, body="pics", media_url=media)
    assert created.sid is not None
    assert created.sid.startswith("MM")  # Twilio's prefix for a message with media
    assert str(created.status) == "queued"
    assert created.num_media == "2"
    assert isinstance(created.date_created, datetime)
    assert emulator.state.requests[-1].form["MediaUrl"] == media

    await emulator.state.settle()
    fetched = await client.messages(created.sid).fetch_async()
    assert str(fetched.status) == "read"
    assert fetched.date_sent is not None


async def test_fetching_an_unknown_message_is_twilios_404(
    emulator: RunningEmulator, sdk_http: AsyncTwilioHttpClient
) -> None:
    client = twilio(emulator, sdk_http)
    with pytest.raises(TwilioRestException) as raised:
        await client.messages("SM" + "0" * 32).fetch_async()
    assert (raised.value.status, raised.value.code) == (404, 20404)


async def test_list_filters_by_to_from_and_date_sent_and_pages_like_twilio(
    emulator: RunningEmulator, sdk_http: AsyncTwilioHttpClient
) -> None:
    client = twilio(emulator, sdk_http)
    for to, body in ((CUSTOMER, "one"), (OTHER_CUSTOMER, "two"), (CUSTOMER, "three")):
        await client.messages.create_async(to=to, from_=SENDER, body=body)
    await emulator.state.settle()
    today = datetime.now(UTC)

    to_customer = await client.messages.list_async(to=CUSTOMER, page_size=1)
    assert [m.body for m in to_customer] == ["three", "one"]  # newest first, one page at a time
    pages = [r for r in emulator.state.requests if r.method == "GET"]
    assert [r.query.get("Page") for r in pages] == [None, ["1"]]

    assert len(await client.messages.list_async(from_=SENDER)) == 3
    assert len(await client.messages.list_async(from_="whatsapp:+14155550199")) == 0
    assert len(await client.messages.list_async(date_sent=today)) == 3
    assert len(await client.messages.list_async(date_sent_after=today - timedelta(days=1))) == 3
    assert len(await client.messages.list_async(date_sent_before=today - timedelta(days=1))) == 0
    assert len(await client.messages.list_async(to=OTHER_CUSTOMER, date_sent=today)) == 1


async def test_list_page_has_twilios_paging_fields(
    emulator: RunningEmulator, http: aiohttp.ClientSession
) -> None:
    for body in ("a", "b", "c"):
        await post_message(http, emulator, {"To": CUSTOMER, "From": SENDER, "Body": body})
    url = emulator.url(f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json")
    async with http.get(url, params={"To": CUSTOMER, "PageSize": "2"}, headers=basic()) as response:
        page = await response.json()
    assert set(page) == {
        "messages",
        "page",
        "page_size",
        "start",
        "end",
        "uri",
        "first_page_uri",
        "next_page_uri",
        "previous_page_uri",
    }
    assert (page["page"], page["page_size"], page["start"], page["end"]) == (0, 2, 0, 1)
    assert page["previous_page_uri"] is None
    assert "Page=1" in page["next_page_uri"]
    assert "PageToken=PA" in page["next_page_uri"]
    async with http.get(emulator.url(page["next_page_uri"]), headers=basic()) as response:
        last = await response.json()
    assert [m["body"] for m in last["messages"]] == ["a"]
    assert last["next_page_uri"] is None


@pytest.mark.parametrize(
    ("fields", "status", "code", "message"),
    [
        pytest.param(
            {"To": "whatsapp:12345", "From": SENDER, "Body": "x"},
            400,
            21211,
            "The 'To' number whatsapp:12345 is not a valid phone number.",
            id="invalid-to",
        ),
        pytest.param(
            {"To": "+14155550100", "From": SENDER, "Body": "x"},
            400,
            21211,
            "The 'To' number +14155550100 is not a valid phone number.",
            id="to-without-whatsapp-prefix",
        ),
        pytest.param({"From": SENDER, "Body": "x"}, 400, 21604, None, id="missing-to"),
        pytest.param({"To": CUSTOMER, "Body": "x"}, 400, 21603, None, id="missing-from"),
        pytest.param({"To": CUSTOMER, "From": "+14155238886", "Body": "x"}, 400, 21910, None, id="sms-from"),
        pytest.param(
            {"To": CUSTOMER, "From": SENDER}, 400, 21602, "Message body is required.", id="no-content"
        ),
        pytest.param({"To": CUSTOMER, "From": SENDER, "Body": "x" * 1601}, 400, 21617, None, id="too-long"),
        pytest.param(
            [("To", CUSTOMER), ("From", SENDER)]
            + [("MediaUrl", f"https://cdn.example.com/{i}.png") for i in range(11)],
            400,
            21623,
            None,
            id="eleven-media",
        ),
        pytest.param(
            {"To": CUSTOMER, "From": SENDER, "MediaUrl": "ftp://cdn.example.com/a.png"},
            400,
            21620,
            None,
            id="media-url",
        ),
        pytest.param(
            {"To": CUSTOMER, "From": SENDER, "ContentSid": "HX123"}, 400, 21655, None, id="content-sid"
        ),
    ],
)
async def test_validation_errors_are_twilios(
    emulator: RunningEmulator,
    http: aiohttp.ClientSession,
    fields: dict[str, str] | list[tuple[str, str]],
    status: int,
    code: int,
    message: str | None,
) -> None:
    got_status, body, _ = await post_message(http, emulator, fields)
    assert (got_status, body["code"], body["status"]) == (status, code, status)
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    if message is not None:
        assert body["message"] == message
    assert emulator.state.messages == {}
    assert emulator.state.requests[-1].outcome == "rejected"


async def test_content_template_alone_is_a_message(
    emulator: RunningEmulator, http: aiohttp.ClientSession
) -> None:
    fields = {
        "To": CUSTOMER,
        "From": SENDER,
        "ContentSid": "HX" + "d" * 32,
        "ContentVariables": '{"1": "Ana"}',
    }
    status, body, _ = await post_message(http, emulator, fields)
    assert status == 201
    assert emulator.state.messages[body["sid"]].content_variables == '{"1": "Ana"}'


@pytest.mark.parametrize(
    "action", ["geo:52.520008,13.404954|Alexanderplatz 1", "geo:-33.8568,151.2153", "geo:0,-0.00001|"]
)
async def test_a_location_is_a_body_with_a_geo_persistent_action(
    emulator: RunningEmulator, http: aiohttp.ClientSession, action: str
) -> None:
    fields = {"To": CUSTOMER, "From": SENDER, "Body": "Warehouse 7", "PersistentAction": action}

    status, body, _ = await post_message(http, emulator, fields)

    assert status == 201
    assert emulator.state.messages[body["sid"]].persistent_action == (action,)


@pytest.mark.parametrize(
    "action", ["geo:91,0", "geo:52.5", "https://maps.example.com/?q=52.5,13.4", "geo:1,2|a|b"]
)
async def test_a_persistent_action_that_is_not_a_location_is_refused(
    emulator: RunningEmulator, http: aiohttp.ClientSession, action: str
) -> None:
    fields = {"To": CUSTOMER, "From": SENDER, "Body": "here", "PersistentAction": action}

    status, body, _ = await post_message(http, emulator, fields)

    assert (status, body["code"]) == (400, 20001)
    assert emulator.state.messages == {}


async def test_unknown_sender_of_an_account_with_senders_is_63007(
    emulator: RunningEmulator, http: aiohttp.ClientSession
) -> None:
    status, body, _ = await post_message(
        http,
        emulator,
        {"To": CUSTOMER, "From": "whatsapp:+14155550123", "Body": "x"},
        account=OTHER_ACCOUNT,
        auth=basic(OTHER_ACCOUNT, OTHER_TOKEN),
    )
    assert (status, body["code"]) == (400, 63007)
    ok, _, _ = await post_message(
        http,
        emulator,
        {"To": CUSTOMER, "From": SENDER, "Body": "x"},
        account=OTHER_ACCOUNT,
        auth=basic(OTHER_ACCOUNT, OTHER_TOKEN),
    )
    assert ok == 201


async def test_forced_errors_per_number_at_the_request(
    emulator: RunningEmulator, sdk_http: AsyncTwilioHttpClient
) -> None:
    emulator.state.update_faults(
        to_errors={"+14155550123": ForcedError(21211)}, from_errors={SENDER: ForcedError(63007)}
    )
    client = twilio(emulator, sdk_http)
    with pytest.raises(TwilioRestException) as to_error:
        await client.messages.create_async(to=OTHER_CUSTOMER, from_="whatsapp:+14155550100", body="x")
    assert (to_error.value.status, to_error.value.code) == (400, 21211)
    assert f"The 'To' number {OTHER_CUSTOMER} is not a valid phone number." in to_error.value.msg
    with pytest.raises(TwilioRestException) as from_error:
        await client.messages.create_async(to=CUSTOMER, from_=SENDER, body="x")
    assert (from_error.value.status, from_error.value.code) == (400, 63007)


# -- status callbacks --------------------------------------------------------------------------------


def validates(received: Received, token: str = TOKEN) -> bool:
    result: bool = RequestValidator(token).validate(received.url, received.params, received.signature)  # type: ignore[no-untyped-call]
    return result


async def test_status_callbacks_progress_in_order_and_are_signed_like_twilios(
    emulator: RunningEmulator, sdk_http: AsyncTwilioHttpClient, receiver: WebhookReceiver
) -> None:
    callback = receiver.url("/webhooks/twilio/status?message_id=42")
    created = await twilio(emulator, sdk_http).messages.create_async(
        to=CUSTOMER, from_=SENDER, body="hi", status_callback=callback
    )
    await emulator.state.settle()

    assert receiver.statuses() == ["queued", "sent", "delivered", "read"]
    for received in receiver.received:
        assert received.url == callback
        assert validates(received)
        assert not validates(received, token=OTHER_TOKEN)
        assert received.params["MessageSid"] == received.params["SmsSid"] == created.sid
        assert received.params["MessageStatus"] == received.params["SmsStatus"]
        assert received.params["AccountSid"] == ACCOUNT
        assert (received.params["From"], received.params["To"]) == (SENDER, CUSTOMER)
        assert received.params["ApiVersion"] == "2010-04-01"
        assert received.params["ChannelPrefix"] == "whatsapp"
        assert "ErrorCode" not in received.params
    tampered = Received(
        callback, {**receiver.received[0].params, "MessageStatus": "read"}, receiver.received[0].signature
    )
    assert not validates(tampered)


async def test_callbacks_are_signed_with_the_auth_token_when_an_api_key_sent_the_message(
    emulator: RunningEmulator, sdk_http: AsyncTwilioHttpClient, receiver: WebhookReceiver
) -> None:
    client = twilio(emulator, sdk_http, username=KEY_SID, password=KEY_SECRET)
    await client.messages.create_async(
        to=CUSTOMER, from_=SENDER, body="hi", status_callback=receiver.url("/status")
    )
    await emulator.state.settle()
    assert receiver.received
    assert all(validates(received) for received in receiver.received)


async def test_a_number_failing_at_delivery_gets_a_failed_callback_with_its_error_code(
    emulator: RunningEmulator, sdk_http: AsyncTwilioHttpClient, receiver: WebhookReceiver
) -> None:
    emulator.state.update_faults(to_errors={CUSTOMER: ForcedError(63016)})
    client = twilio(emulator, sdk_http)
    created = await client.messages.create_async(
        to=CUSTOMER, from_=SENDER, body="outside the window", status_callback=receiver.url("/status")
    )
    assert str(created.status) == "queued"  # Twilio accepts it; the failure comes later
    assert created.sid is not None
    await emulator.state.settle()
    assert receiver.statuses() == ["queued", "failed"]
    assert receiver.received[-1].params["ErrorCode"] == "63016"
    assert validates(receiver.received[-1])
    fetched = await client.messages(created.sid).fetch_async()
    assert (str(fetched.status), fetched.error_code) == ("failed", 63016)


async def test_a_30xxx_delivery_error_is_undelivered(
    emulator: RunningEmulator, http: aiohttp.ClientSession, receiver: WebhookReceiver
) -> None:
    emulator.state.update_faults(to_errors={CUSTOMER: ForcedError(30003, stage=Stage.DELIVERY)})
    await post_message(
        http, emulator, {"To": CUSTOMER, "From": SENDER, "Body": "x", "StatusCallback": receiver.url("/s")}
    )
    await emulator.state.settle()
    assert receiver.statuses() == ["queued", "undelivered"]


async def test_duplicate_callbacks(
    emulator: RunningEmulator, http: aiohttp.ClientSession, receiver: WebhookReceiver
) -> None:
    emulator.state.update_faults(duplicate_callbacks=1)
    await post_message(
        http, emulator, {"To": CUSTOMER, "From": SENDER, "Body": "x", "StatusCallback": receiver.url("/s")}
    )
    await emulator.state.settle()
    assert receiver.statuses() == [
        "queued",
        "queued",
        "sent",
        "sent",
        "delivered",
        "delivered",
        "read",
        "read",
    ]
    assert all(validates(r) for r in receiver.received)


async def test_out_of_order_callbacks(
    emulator: RunningEmulator, http: aiohttp.ClientSession, receiver: WebhookReceiver
) -> None:
    emulator.state.update_faults(callback_order=CallbackOrder.REVERSED)
    _, body, _ = await post_message(
        http, emulator, {"To": CUSTOMER, "From": SENDER, "Body": "x", "StatusCallback": receiver.url("/s")}
    )
    await emulator.state.settle()
    assert receiver.statuses() == ["read", "delivered", "sent", "queued"]
    assert emulator.state.messages[body["sid"]].status == "read"  # the message itself moved forward

    emulator.state.update_faults(callback_order=CallbackOrder.SHUFFLED)
    receiver.received.clear()
    await post_message(
        http, emulator, {"To": CUSTOMER, "From": SENDER, "Body": "y", "StatusCallback": receiver.url("/s")}
    )
    await emulator.state.settle()
    assert sorted(receiver.statuses()) == ["delivered", "queued", "read", "sent"]


async def test_callback_statuses_and_delays_are_configurable(
    emulator: RunningEmulator, http: aiohttp.ClientSession, receiver: WebhookReceiver
) -> None:
    emulator.state.update_callbacks(statuses=("sent", "delivered"))
    await post_message(
        http, emulator, {"To": CUSTOMER, "From": SENDER, "Body": "x", "StatusCallback": receiver.url("/s")}
    )
    await emulator.state.settle()
    assert receiver.statuses() == ["sent", "delivered"]


# -- injected faults ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        (FailureKind.RATE_LIMITED, 429, 20429),
        (FailureKind.SERVER_ERROR, 500, 20500),
        (FailureKind.UNAVAILABLE, 503, 20503),
    ],
)
async def test_injected_http_failures(
    emulator: RunningEmulator, http: aiohttp.ClientSession, kind: FailureKind, status: int, code: int
) -> None:
    emulator.state.update_faults(failure_rate=1.0, failure_kinds=(kind,), retry_after_seconds=7)
    got, body, headers = await post_message(http, emulator, {"To": CUSTOMER, "From": SENDER, "Body": "x"})
    assert (got, body["code"], body["status"]) == (status, code, status)
    assert set(body) == {"code", "message", "more_info", "status"}
    if status == 429:
        assert headers["Retry-After"] == "7"
    assert emulator.state.messages == {}
    assert emulator.state.stats[f"outcome.{kind.value}"] == 1


async def test_rate_limit_reaches_the_sdk_as_20429(
    emulator: RunningEmulator, sdk_http: AsyncTwilioHttpClient
) -> None:
    emulator.state.update_faults(failure_rate=1.0)
    with pytest.raises(TwilioRestException) as raised:
        await twilio(emulator, sdk_http).messages.create_async(to=CUSTOMER, from_=SENDER, body="x")
    assert (raised.value.status, raised.value.code) == (429, 20429)


async def test_dropped_connection_gives_no_response(
    emulator: RunningEmulator, http: aiohttp.ClientSession
) -> None:
    emulator.state.update_faults(failure_rate=1.0, failure_kinds=(FailureKind.DROP,))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await post_message(http, emulator, {"To": CUSTOMER, "From": SENDER, "Body": "x"})
    request = emulator.state.requests[-1]
    assert request.outcome == "dropped"
    assert request.form["Body"] == ["x"]  # the request was read before the connection was dropped


@pytest.mark.parametrize(("kind", "answer"), [(FailureKind.SERVER_ERROR, 500), (FailureKind.DROP, None)])
async def test_a_failure_can_strike_after_the_message_was_created(
    emulator: RunningEmulator,
    http: aiohttp.ClientSession,
    receiver: WebhookReceiver,
    kind: FailureKind,
    answer: int | None,
) -> None:
    emulator.state.update_faults(failure_rate=1.0, failure_kinds=(kind,), create_before_failing=True)
    fields = {"To": CUSTOMER, "From": SENDER, "Body": "x", "StatusCallback": receiver.url("/s")}
    try:
        status: int | None = (await post_message(http, emulator, fields))[0]
    except aiohttp.ServerDisconnectedError:
        status = None
    assert status == answer
    (message,) = emulator.state.messages.values()  # created all the same
    assert emulator.state.requests[-1].message_sid == message.sid
    await emulator.state.settle()
    assert receiver.statuses() == ["queued", "sent", "delivered", "read"]


async def test_a_rate_limit_never_creates_the_message(
    emulator: RunningEmulator, http: aiohttp.ClientSession
) -> None:
    emulator.state.update_faults(failure_rate=1.0, create_before_failing=True)
    status, _, _ = await post_message(http, emulator, {"To": CUSTOMER, "From": SENDER, "Body": "x"})
    assert status == 429
    assert emulator.state.messages == {}


async def test_timeout_holds_the_request_past_the_client_timeout_without_delaying_shutdown(
    http: aiohttp.ClientSession,
) -> None:
    faults = Faults(failure_rate=1.0, failure_kinds=(FailureKind.TIMEOUT,), hold_seconds=30)
    started = time.monotonic()
    async with running_emulator(EmulatorConfig(accounts={ACCOUNT: TOKEN}, faults=faults)) as emulator:
        url = emulator.url(f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json")
        with pytest.raises(TimeoutError):
            async with http.post(
                url,
                data={"To": CUSTOMER, "From": SENDER, "Body": "x"},
                headers=basic(),
                timeout=aiohttp.ClientTimeout(total=0.3),
            ):
                pass
    assert time.monotonic() - started < 5


async def test_latency_range_delays_requests(emulator: RunningEmulator, http: aiohttp.ClientSession) -> None:
    emulator.state.update_faults(latency_ms=(150, 200))
    started = time.monotonic()
    status, _, _ = await post_message(http, emulator, {"To": CUSTOMER, "From": SENDER, "Body": "x"})
    assert status == 201
    assert time.monotonic() - started >= 0.15


async def test_failure_rate_fails_a_share_of_requests(
    emulator: RunningEmulator, http: aiohttp.ClientSession
) -> None:
    emulator.state.update_faults(
        failure_rate=0.5, failure_kinds=(FailureKind.SERVER_ERROR, FailureKind.RATE_LIMITED)
    )
    statuses = [
        (await post_message(http, emulator, {"To": CUSTOMER, "From": SENDER, "Body": str(i)}))[0]
        for i in range(60)
    ]
    assert {201, 429, 500} == set(statuses)
    stats = emulator.state.stats
    assert stats["outcome.created"] == statuses.count(201)
    assert stats["outcome.server_error"] + stats["outcome.rate_limited"] == 60 - statuses.count(201)


def test_faults_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="failure_rate"):
        EmulatorState(EmulatorConfig(faults=Faults(failure_rate=1.5)))
    with pytest.raises(ValueError, match="minimum"):
        Faults(latency_ms=(10, 1))


# -- the control API --------------------------------------------------------------------------------


async def test_control_api_changes_faults_and_shows_what_was_received(
    emulator: RunningEmulator, http: aiohttp.ClientSession
) -> None:
    async with http.patch(
        emulator.url("/_emulator/faults"), json={"failure_rate": 1, "failure_kinds": ["unavailable"]}
    ) as response:
        assert response.status == 200
        assert (await response.json())["failure_kinds"] == ["unavailable"]
    status, _, _ = await post_message(http, emulator, {"To": CUSTOMER, "From": SENDER, "Body": "x"})
    assert status == 503

    async with http.delete(emulator.url("/_emulator/faults")) as response:
        assert (await response.json())["failure_rate"] == 0
    status, _, _ = await post_message(
        http, emulator, {"To": CUSTOMER, "From": SENDER, "Body": "x", "MediaUrl": "https://e.com/1.png"}
    )
    assert status == 201

    async with http.get(emulator.url("/_emulator/messages")) as response:
        received = (await response.json())["messages"]
    assert [r["outcome"] for r in received] == ["unavailable", "created"]
    assert received[1]["form"] == {
        "To": [CUSTOMER],
        "From": [SENDER],
        "Body": ["x"],
        "MediaUrl": ["https://e.com/1.png"],
    }
    assert received[1]["auth"] == {"kind": "account", "username": ACCOUNT}
    assert received[1]["message_sid"].startswith("MM")

    async with http.get(emulator.url("/_emulator/stats")) as response:
        stats = (await response.json())["stats"]
    assert stats["requests"] == 2
    assert stats["outcome.created"] == stats["outcome.unavailable"] == 1

    async with http.post(emulator.url("/_emulator/reset")) as response:
        assert response.status == 200
    assert emulator.state.requests == []
    assert emulator.state.messages == {}


async def test_control_api_refuses_bad_settings(
    emulator: RunningEmulator, http: aiohttp.ClientSession
) -> None:
    for change in (
        {"failure_rate": 2},
        {"failure_kinds": ["explode"]},
        {"latency_ms": [5, 1]},
        {"nonsense": 1},
    ):
        async with http.patch(emulator.url("/_emulator/faults"), json=change) as response:
            assert response.status == 400, change
            assert "error" in await response.json()
    assert emulator.state.faults == Faults()


async def test_control_api_adds_accounts(emulator: RunningEmulator, http: aiohttp.ClientSession) -> None:
    new_account, new_token = "AC" + "e" * 32, "new-token"
    async with http.post(
        emulator.url("/_emulator/accounts"),
        json={"account_sid": new_account, "auth_token": new_token, "api_keys": {"SK" + "f" * 32: "s"}},
    ) as response:
        assert response.status == 201
    status, _, _ = await post_message(
        http,
        emulator,
        {"To": CUSTOMER, "From": SENDER, "Body": "x"},
        account=new_account,
        auth=basic(new_account, new_token),
    )
    assert status == 201
    async with http.get(emulator.url("/_emulator/config")) as response:
        config = await response.json()
    assert new_account in config["accounts"]
    assert new_token not in str(config)


async def test_inbound_message_is_posted_signed_with_twilios_fields(
    emulator: RunningEmulator, http: aiohttp.ClientSession, receiver: WebhookReceiver
) -> None:
    url = receiver.url("/webhooks/twilio/inbound")
    async with http.post(
        emulator.url("/_emulator/inbound"),
        json={
            "url": url,
            "account_sid": ACCOUNT,
            "from": "+14155550100",
            "to": SENDER,
            "body": "Hi, is my order ready?",
            "media_urls": ["https://media.example.com/photo.jpg"],
            "profile_name": "Ana",
        },
    ) as response:
        assert response.status == 201
        delivery = await response.json()
    assert delivery["http_status"] == 200
    (received,) = receiver.received
    assert validates(received)
    params = received.params
    assert params["MessageSid"] == params["SmsSid"] == delivery["message_sid"]
    assert (params["From"], params["To"]) == (CUSTOMER, SENDER)
    assert (params["Body"], params["ProfileName"], params["WaId"]) == (
        "Hi, is my order ready?",
        "Ana",
        "14155550100",
    )
    assert (params["NumMedia"], params["MediaUrl0"], params["MediaContentType0"]) == (
        "1",
        "https://media.example.com/photo.jpg",
        "image/jpeg",
    )
    assert (params["AccountSid"], params["SmsStatus"], params["MessageType"]) == (
        ACCOUNT,
        "received",
        "image",
    )


@pytest.mark.parametrize(
    ("extra", "message_type"),
    [
        ({"Latitude": "48.8584", "Longitude": "2.2945", "Label": "Tour Eiffel"}, "location"),
        (
            {"ButtonPayload": "yes", "ButtonText": "Yes", "OriginalRepliedMessageSid": "SM" + "2" * 32},
            "button",
        ),
        ({"ListId": "m", "ListTitle": "Medium"}, "interactive"),
    ],
)
async def test_inbound_locations_and_taps_are_posted_with_their_message_type(
    emulator: RunningEmulator, receiver: WebhookReceiver, extra: dict[str, str], message_type: str
) -> None:
    await emulator.send_inbound(
        receiver.url("/webhooks/twilio/inbound"), from_=CUSTOMER, to=SENDER, account_sid=ACCOUNT, extra=extra
    )

    (received,) = receiver.received
    assert validates(received)
    assert received.params["MessageType"] == message_type
    assert {name: received.params[name] for name in extra} == extra


async def test_inbound_can_be_signed_for_the_public_url_of_a_proxied_gateway(
    emulator: RunningEmulator, receiver: WebhookReceiver
) -> None:
    public = "https://gateway.example.com/webhooks/twilio/inbound"
    delivery = await emulator.send_inbound(
        receiver.url("/webhooks/twilio/inbound"),
        from_=CUSTOMER,
        to=SENDER,
        body="hi",
        account_sid=ACCOUNT,
        signed_url=public,
    )
    assert delivery.http_status == 200
    (received,) = receiver.received
    assert not validates(received)
    assert validates(Received(public, received.params, received.signature))


async def test_inbound_to_an_unreachable_gateway_is_recorded_as_failed(emulator: RunningEmulator) -> None:
    delivery = await emulator.send_inbound(
        "http://127.0.0.1:9/webhooks", from_=CUSTOMER, to=SENDER, body="hi", account_sid=ACCOUNT
    )
    assert delivery.http_status is None
    assert delivery.error
    assert emulator.state.stats["inbound_callbacks.failed"] == 1


async def test_proxy_variables_do_not_divert_callbacks(
    emulator: RunningEmulator,
    http: aiohttp.ClientSession,
    receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    await post_message(
        http, emulator, {"To": CUSTOMER, "From": SENDER, "Body": "x", "StatusCallback": receiver.url("/s")}
    )
    await emulator.state.settle()
    assert receiver.statuses() == ["queued", "sent", "delivered", "read"]


# -- the command -------------------------------------------------------------------------------------


def test_command_options_make_a_config() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        [
            "--account", f"{ACCOUNT}:{TOKEN}",
            "--api-key", f"{KEY_SID}:{ACCOUNT}:{KEY_SECRET}",
            "--sender", f"{ACCOUNT}:+14155238886",
            "--latency-ms", "100-250",
            "--failure-rate", "0.1",
            "--failure-kind", "rate_limited",
            "--failure-kind", "drop",
            "--create-before-failing",
            "--seed", "3",
        ]
    )  # fmt: skip
    config = config_from_arguments(args)
    assert config.accounts == {ACCOUNT: TOKEN}
    assert config.api_keys == {KEY_SID: ApiKey(account_sid=ACCOUNT, secret=KEY_SECRET)}
    assert config.senders == {ACCOUNT: ("+14155238886",)}
    assert config.faults.latency_ms == (100.0, 250.0)
    assert config.faults.failure_kinds == (FailureKind.RATE_LIMITED, FailureKind.DROP)
    assert (config.faults.failure_rate, config.seed) == (0.1, 3)
    assert config.faults.create_before_failing
    with pytest.raises(ValueError, match="failure_rate"):
        config_from_arguments(parser.parse_args(["--failure-rate", "2"]))


async def test_settle_waits_for_every_callback(
    emulator: RunningEmulator, receiver: WebhookReceiver, http: aiohttp.ClientSession
) -> None:
    emulator.state.update_callbacks(step_delay_seconds=0.02)
    await asyncio.gather(
        *(
            post_message(
                http,
                emulator,
                {"To": CUSTOMER, "From": SENDER, "Body": str(i), "StatusCallback": receiver.url("/s")},
            )
            for i in range(5)
        )
    )
    await emulator.state.settle()
    assert len(receiver.received) == 20


async def test_control_api_settle_answers_once_every_callback_has_gone_out(
    emulator: RunningEmulator, receiver: WebhookReceiver, http: aiohttp.ClientSession
) -> None:
    await post_message(
        http, emulator, {"To": CUSTOMER, "From": SENDER, "Body": "x", "StatusCallback": receiver.url("/s")}
    )
    async with http.post(emulator.url("/_emulator/settle")) as response:
        assert (response.status, await response.json()) == (200, {"settled": True})
    assert receiver.statuses() == ["queued", "sent", "delivered", "read"]


# -- inbound media ------------------------------------------------------------------------------------

PHOTO = b"\xff\xd8\xff\xe0" + b"a photo of the parcel" * 50


async def inbound_photo(emulator: RunningEmulator, receiver: WebhookReceiver) -> Received:
    await emulator.send_inbound(
        receiver.url("/webhooks/twilio/inbound"),
        from_=CUSTOMER,
        to=SENDER,
        body="the parcel",
        account_sid=ACCOUNT,
        media=[MediaFile(content_type="image/jpeg", content=PHOTO)],
    )
    (received,) = receiver.received
    return received


async def test_an_inbound_photo_is_served_at_its_media_url_behind_the_accounts_credentials(
    emulator: RunningEmulator, http: aiohttp.ClientSession, receiver: WebhookReceiver
) -> None:
    received = await inbound_photo(emulator, receiver)
    media_url = received.params["MediaUrl0"]
    assert validates(received)
    assert (received.params["NumMedia"], received.params["MediaContentType0"]) == ("1", "image/jpeg")
    assert re.fullmatch(
        rf"{re.escape(emulator.base_url)}/2010-04-01/Accounts/{ACCOUNT}/Messages/{received.params['MessageSid']}"
        r"/Media/ME[0-9a-f]{32}",
        media_url,
    )

    async with http.get(media_url, headers=basic(), allow_redirects=False) as redirected:
        assert redirected.status == 307
        cdn_url = redirected.headers["Location"]
    async with http.get(cdn_url) as downloaded:
        assert downloaded.status == 200
        assert downloaded.headers["Content-Type"] == "image/jpeg"
        assert await downloaded.read() == PHOTO

    api_fetch, cdn_fetch = emulator.state.media_fetches
    assert (api_fetch.at_cdn, api_fetch.authorization_sent, api_fetch.auth.kind) == (
        False,
        True,
        AuthKind.ACCOUNT,
    )
    assert (cdn_fetch.at_cdn, cdn_fetch.authorization_sent, cdn_fetch.http_status) == (True, False, 200)


@pytest.mark.parametrize(
    "headers",
    [{}, basic(ACCOUNT, "a-wrong-token"), basic(OTHER_ACCOUNT, OTHER_TOKEN)],
    ids=["no-credentials", "wrong-token", "another-account"],
)
async def test_a_media_url_without_the_accounts_credentials_is_twilios_401(
    emulator: RunningEmulator,
    http: aiohttp.ClientSession,
    receiver: WebhookReceiver,
    headers: dict[str, str],
) -> None:
    received = await inbound_photo(emulator, receiver)

    async with http.get(received.params["MediaUrl0"], headers=headers, allow_redirects=False) as response:
        assert response.status == 401
        assert (await response.json())["code"] == 20003


async def test_an_api_key_of_the_account_opens_its_media(
    emulator: RunningEmulator, http: aiohttp.ClientSession, receiver: WebhookReceiver
) -> None:
    received = await inbound_photo(emulator, receiver)

    async with http.get(received.params["MediaUrl0"], headers=basic(KEY_SID, KEY_SECRET)) as response:
        assert response.status == 200
        assert await response.read() == PHOTO


async def test_a_media_error_status_fails_every_media_url_until_it_is_cleared(
    emulator: RunningEmulator, http: aiohttp.ClientSession, receiver: WebhookReceiver
) -> None:
    received = await inbound_photo(emulator, receiver)
    emulator.state.update_faults(media_error_status=503)

    async with http.get(received.params["MediaUrl0"], headers=basic()) as failing:
        assert failing.status == 503
    emulator.state.update_faults(media_error_status=None)
    async with http.get(received.params["MediaUrl0"], headers=basic()) as served:
        assert served.status == 200


async def test_an_unknown_media_url_and_an_unknown_cdn_token_are_refused(
    emulator: RunningEmulator, http: aiohttp.ClientSession, receiver: WebhookReceiver
) -> None:
    received = await inbound_photo(emulator, receiver)
    unknown = received.params["MediaUrl0"][:-4] + "0000"

    async with http.get(unknown, headers=basic()) as missing:
        assert missing.status == 404
    async with http.get(emulator.url("/_media_cdn/not-a-token")) as expired:
        assert expired.status == 403


async def test_the_control_api_posts_inbound_media_and_lists_it_with_its_fetches(
    emulator: RunningEmulator, http: aiohttp.ClientSession, receiver: WebhookReceiver
) -> None:
    async with http.post(
        emulator.url("/_emulator/inbound"),
        json={
            "url": receiver.url("/webhooks/twilio/inbound"),
            "account_sid": ACCOUNT,
            "from": "+14155550100",
            "to": SENDER,
            "media": [{"content_type": "application/pdf", "content": base64.b64encode(b"%PDF-1.7").decode()}],
        },
    ) as response:
        assert response.status == 201
    (received,) = receiver.received
    async with http.get(received.params["MediaUrl0"], headers=basic()) as downloaded:
        assert await downloaded.read() == b"%PDF-1.7"

    async with http.get(emulator.url("/_emulator/media")) as listed:
        media = await listed.json()
    [file] = media["media"]
    assert (file["url"], file["content_type"], file["size"]) == (
        received.params["MediaUrl0"],
        "application/pdf",
        8,
    )
    assert [(f["at_cdn"], f["http_status"], f["auth"]["kind"]) for f in media["fetches"]] == [
        (False, 307, "account"),
        (True, 200, "missing"),  # the CDN asks for no credentials (a client may still send some)
    ]
