"""Twilio's callbacks through the real Litestar app, with the database replaced by fakes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from domain.administration.tenancy import TwilioCredentials
from domain.messaging.content import Media, MediaKind
from domain.messaging.messages import Message, MessageContent, MessageStatus
from domain.phone import PhoneNumber
from tests.support.api import Api, ApiOptions, MakeApi, assert_problem
from tests.support.fakes import FakeDatabase, FakeUnitOfWork, FixedClock, TenantAccount
from tests.support.provider_accounts import set_twilio_credentials
from tests.support.twilio_callbacks import (
    ACME_ACCOUNT,
    ACME_TOKEN,
    CUSTOMER,
    GLOBEX_ACCOUNT,
    GLOBEX_TOKEN,
    INBOUND_SID,
    OUTBOUND_SID,
    PUBLIC_BASE_URL,
    Params,
    inbound_params,
    sign,
    status_params,
)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
TEST_SERVER = "http://testserver.local"  # what the app sees: the test client's base URL


@dataclass
class Gateway:
    client: AsyncTestClient[Any]
    database: FakeDatabase
    acme: TenantAccount

    async def post(
        self, path: str, params: Params, *, signed_for: str | None = None, token: str = ACME_TOKEN
    ) -> httpx.Response:
        """POST the form as Twilio would, signed for ``signed_for`` (the public URL of ``path``)."""
        url = signed_for or f"{PUBLIC_BASE_URL}{path}"
        headers = {"X-Twilio-Signature": sign(token, url, params)}
        return await self.client.post(path, data=params, headers=headers)


@pytest.fixture
def api_options() -> ApiOptions:
    return ApiOptions(settings={"PUBLIC_BASE_URL": PUBLIC_BASE_URL})


async def as_twilio_reaches(api: Api) -> Gateway:
    """The app as Twilio reaches it: acme and globex hold their Twilio credentials."""
    seed = FakeUnitOfWork(api.database)
    await set_twilio_credentials(seed, api.acme.tenant.id, TwilioCredentials(ACME_ACCOUNT, ACME_TOKEN))
    await set_twilio_credentials(seed, api.globex.tenant.id, TwilioCredentials(GLOBEX_ACCOUNT, GLOBEX_TOKEN))
    return Gateway(api.client, api.database, api.acme)


@pytest.fixture
async def gateway(api: Api) -> Gateway:
    return await as_twilio_reaches(api)


# ------------------------------------------------------------------------------------------ inbound


async def test_a_signed_inbound_message_is_stored_and_answered_with_empty_twiml(gateway: Gateway) -> None:
    response = await gateway.post("/webhooks/twilio/inbound", inbound_params(body="Hi!"))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text == EMPTY_TWIML
    (stored,) = gateway.database.messages.all()
    assert (stored.tenant_id, stored.provider_sid, stored.content.body) == (
        gateway.acme.tenant.id,
        INBOUND_SID,
        "Hi!",
    )
    assert gateway.database.conversations.all()[0].contact == PhoneNumber.parse(CUSTOMER)


async def test_the_same_message_posted_twice_is_stored_once_and_both_get_200(gateway: Gateway) -> None:
    first = await gateway.post("/webhooks/twilio/inbound", inbound_params())
    second = await gateway.post("/webhooks/twilio/inbound", inbound_params())

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.text == EMPTY_TWIML
    assert len(gateway.database.messages.all()) == 1


async def test_blank_fields_are_part_of_the_signature(gateway: Gateway) -> None:
    # A media-only message posts Body= and may post ProfileName=: Twilio signs those blank fields too.
    media = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
    params = inbound_params(body="", media=[media], profile_name="")

    response = await gateway.post("/webhooks/twilio/inbound", params)

    assert response.status_code == 200, response.text
    (stored,) = gateway.database.messages.all()
    assert stored.content == MessageContent(
        media=(Media(kind=MediaKind.IMAGE, url=media, content_type="image/jpeg"),)
    )
    assert stored.profile_name is None


async def test_the_former_address_is_an_alias(gateway: Gateway) -> None:
    response = await gateway.post("/webhook/twilio", inbound_params())

    assert response.status_code == 200, response.text
    assert response.text == EMPTY_TWIML
    assert len(gateway.database.messages.all()) == 1


@pytest.mark.parametrize("path", ["/webhooks/twilio/inbound", "/webhook/twilio"])
async def test_a_forged_inbound_message_is_a_403_problem_and_nothing_is_stored(
    gateway: Gateway, path: str
) -> None:
    forged = await gateway.post(path, inbound_params(), token="not-the-tenants-token")
    unsigned = await gateway.client.post(path, data=inbound_params())
    other_tenant = await gateway.post(path, inbound_params(account_sid=GLOBEX_ACCOUNT), token=GLOBEX_TOKEN)

    for response in (forged, unsigned, other_tenant):
        problem = assert_problem(response, 403, "webhook-signature-invalid")
        assert "signature" in problem["detail"]
    assert forged.json() == unsigned.json() == other_tenant.json()  # one answer, whatever was wrong
    assert gateway.database.messages.all() == []
    assert gateway.database.conversations.all() == []


async def test_a_body_that_is_not_a_form_is_refused(gateway: Gateway) -> None:
    params = inbound_params()
    response = await gateway.client.post(
        "/webhooks/twilio/inbound",
        json={name: values[0] for name, values in params.items()},
        headers={
            "X-Twilio-Signature": sign(ACME_TOKEN, f"{PUBLIC_BASE_URL}/webhooks/twilio/inbound", params)
        },
    )

    assert_problem(response, 403, "webhook-signature-invalid")
    assert gateway.database.messages.all() == []


# --------------------------------------------------------------------------- the URL that was signed


async def test_the_signature_covers_the_public_url_not_the_host_header(gateway: Gateway) -> None:
    # Behind a proxy the app sees another host; Twilio signed the public URL it was given.
    as_twilio_signed = await gateway.post("/webhooks/twilio/inbound", inbound_params())
    for_the_host_header = await gateway.post(
        "/webhooks/twilio/inbound",
        inbound_params(sid="SM" + "7" * 32),
        signed_for=f"{TEST_SERVER}/webhooks/twilio/inbound",
    )

    assert as_twilio_signed.status_code == 200, as_twilio_signed.text
    assert_problem(for_the_host_header, 403, "webhook-signature-invalid")
    assert [m.provider_sid for m in gateway.database.messages.all()] == [INBOUND_SID]


async def test_a_forged_host_header_does_not_change_the_signed_url(gateway: Gateway) -> None:
    params = inbound_params()
    signed_for_attacker = sign(ACME_TOKEN, "https://attacker.example/webhooks/twilio/inbound", params)

    response = await gateway.client.post(
        "/webhooks/twilio/inbound",
        data=params,
        headers={"X-Twilio-Signature": signed_for_attacker, "Host": "attacker.example"},
    )

    assert_problem(response, 403, "webhook-signature-invalid")


async def test_without_a_public_base_url_the_url_as_received_is_signed(make_api: MakeApi) -> None:
    gateway = await as_twilio_reaches(await make_api(PUBLIC_BASE_URL=""))
    response = await gateway.post(
        "/webhooks/twilio/inbound",
        inbound_params(),
        signed_for=f"{TEST_SERVER}/webhooks/twilio/inbound",
    )

    assert response.status_code == 200, response.text
    assert len(gateway.database.messages.all()) == 1


async def test_a_public_base_url_with_a_path_prefix_and_trailing_slash(make_api: MakeApi) -> None:
    gateway = await as_twilio_reaches(await make_api(PUBLIC_BASE_URL="https://example.com/wa/"))
    response = await gateway.post(
        "/webhooks/twilio/inbound",
        inbound_params(),
        signed_for="https://example.com/wa/webhooks/twilio/inbound",
    )

    assert response.status_code == 200, response.text


# ---------------------------------------------------------------------------------- status callbacks


async def an_outbound_message_awaiting_reports(gateway: Gateway) -> tuple[FakeUnitOfWork, Message, str]:
    """A message Acme sent, stored; and the status callback URL Twilio reports on it at."""
    uow = FakeUnitOfWork(gateway.database)
    message = Message.new_outbound(
        tenant_id=gateway.acme.tenant.id,
        sender=gateway.acme.sender.phone_number,
        contact=PhoneNumber.parse(CUSTOMER),
        content=MessageContent(body="Your order has shipped"),
        now=FixedClock().now(),
    )
    await uow.messages.add(message)
    return uow, message, f"/webhooks/twilio/status?message_id={message.id}"


async def test_a_signed_status_callback_moves_the_message_and_is_answered_204(gateway: Gateway) -> None:
    uow, message, path = await an_outbound_message_awaiting_reports(gateway)

    sent = await gateway.post(path, status_params("sent"))
    delivered = await gateway.post(path, status_params("delivered"))
    stale = await gateway.post(path, status_params("sending"))

    assert [r.status_code for r in (sent, delivered, stale)] == [204, 204, 204]
    assert sent.content == b""
    stored = await uow.messages.get(message.tenant_id, message.id)
    assert stored is not None
    assert (stored.provider_sid, stored.status) == (OUTBOUND_SID, MessageStatus.DELIVERED)
    events = await uow.messages.list_status_events(message.tenant_id, message.id)
    assert [(e.status, e.applied) for e in events] == [
        (MessageStatus.SENT, True),
        (MessageStatus.DELIVERED, True),
        (MessageStatus.SENDING, False),
    ]


async def test_a_signed_status_callback_replayed_25_times_leaves_the_timeline_as_it_was(
    gateway: Gateway,
) -> None:
    uow, message, path = await an_outbound_message_awaiting_reports(gateway)
    for reported in ("sending", "sent", "delivered", "sent"):
        await gateway.post(path, status_params(reported))
    before = await uow.messages.list_status_events(message.tenant_id, message.id)

    replays = [await gateway.post(path, status_params("delivered")) for _ in range(25)]

    assert {r.status_code for r in replays} == {204}  # Twilio stops retrying on a 2xx
    assert len(before) == 3  # the fourth report repeated the second
    assert await uow.messages.list_status_events(message.tenant_id, message.id) == before


async def test_the_query_string_is_part_of_the_signed_url(gateway: Gateway) -> None:
    response = await gateway.post(
        "/webhooks/twilio/status?message_id=00000000-0000-0000-0000-000000000001",
        status_params("delivered"),
        signed_for=f"{PUBLIC_BASE_URL}/webhooks/twilio/status",
    )

    assert_problem(response, 403, "webhook-signature-invalid")


async def test_unknown_messages_and_statuses_are_acknowledged(gateway: Gateway) -> None:
    unknown_message = await gateway.post("/webhooks/twilio/status", status_params("delivered"))
    unknown_status = await gateway.post("/webhooks/twilio/status", status_params("teleported"))

    assert (unknown_message.status_code, unknown_status.status_code) == (204, 204)


async def test_a_forged_status_callback_is_a_403_problem(gateway: Gateway) -> None:
    forged = await gateway.post("/webhooks/twilio/status", status_params("read"), token="guessed")

    assert_problem(forged, 403, "webhook-signature-invalid")


# ------------------------------------------------------------------------------------- operations


async def test_webhooks_are_not_throttled_per_address(make_api: MakeApi) -> None:
    # Twilio posts every tenant's callbacks from a few shared addresses.
    gateway = await as_twilio_reaches(await make_api(REQUESTS_PER_MINUTE_PER_IP="3"))
    statuses = [
        (await gateway.post("/webhooks/twilio/status", status_params("delivered"))).status_code
        for _ in range(6)
    ]
    assert statuses == [204] * 6
    # The same address is limited on the API (401: no credential, until the limit).
    api = [(await gateway.client.get("/api/messages")).status_code for _ in range(4)]
    assert api == [401, 401, 401, 429]


async def test_posts_failing_the_signature_check_for_one_account_and_number_get_429_after_the_limit(
    make_api: MakeApi,
) -> None:
    gateway = await as_twilio_reaches(await make_api(TWILIO_SIGNATURE_FAILURES_PER_MINUTE="5"))
    # Without a signature nothing is looked up, so nothing is counted: each is a 403.
    unsigned = [
        await gateway.client.post("/webhooks/twilio/status", data=status_params("read")) for _ in range(8)
    ]
    forged = [
        await gateway.post("/webhooks/twilio/inbound", inbound_params(), token="guessed") for _ in range(8)
    ]
    signed = await gateway.post("/webhooks/twilio/inbound", inbound_params())

    assert [r.status_code for r in unsigned] == [403] * 8
    assert [r.status_code for r in forged] == [403] * 5 + [429] * 3
    for refused in forged[5:]:
        assert_problem(refused, 429, "too-many-requests")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["ratelimit-policy"] == '"default";q=5;w=60'
    assert signed.status_code == 200, signed.text  # Twilio's own post from that address still goes in
    assert len(gateway.database.messages.all()) == 1


async def test_the_webhooks_are_documented_without_bearer_security(gateway: Gateway) -> None:
    schema = (await gateway.client.get("/docs/openapi.json")).json()

    for path in ("/webhooks/twilio/inbound", "/webhook/twilio", "/webhooks/twilio/status"):
        operation = schema["paths"][path]["post"]
        assert operation["tags"] == ["provider callbacks"]
        assert "security" not in operation
        form = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
        assert {"AccountSid", "MessageSid"} <= set(form["properties"])
        assert any(p["name"] == "X-Twilio-Signature" and p["in"] == "header" for p in operation["parameters"])
        assert "429" in operation["responses"]
    assert schema["paths"]["/webhook/twilio"]["post"]["deprecated"] is True
    assert "text/xml" in schema["paths"]["/webhooks/twilio/inbound"]["post"]["responses"]["200"]["content"]
