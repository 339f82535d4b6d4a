"""Meta's webhooks through the real Litestar app, with the database replaced by fakes: the subscription
handshake, signed deliveries routed number by number to their tenants, and what may never get in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient

from domain.administration.tenancy import Sender
from domain.messaging.messages import Direction, Message, MessageContent, MessageStatus
from domain.phone import PhoneNumber
from tests.support.api import Api, ApiOptions, MakeApi, assert_problem
from tests.support.fakes import FakeDatabase, FakeUnitOfWork, TenantAccount
from tests.support.meta_webhooks import (
    CUSTOMER,
    OWN_APP_SECRET,
    PLATFORM_APP_SECRET,
    delivery,
    display_number,
    entry,
    messages_change,
    on_meta,
    signed,
    status,
    text_message,
)

ACME_WABA, GLOBEX_WABA = "102290129340398", "102290129340399"
ACME_NUMBER_ID, GLOBEX_NUMBER_ID = "106540352242922", "106540352242923"
ACME_VERIFY_TOKEN, GLOBEX_VERIFY_TOKEN = "acme-verify-token", "globex-verify-token"
UNKNOWN_NUMBER_ID = "999999999999999"
WAMID = "wamid.HBgLMTQxNTU1NTAxMDAVAgASGBQzQTAwMDAwMDAwMDAwMDAwMDAwMQA="
OUTBOUND_WAMID = "wamid.HBgLMTQxNTU1NTAxMDAVAgARGBI5QTAwMDAwMDAwMDAwMDAwMDAwMQA="


@dataclass
class Gateway:
    client: AsyncTestClient[Any]
    database: FakeDatabase
    acme: TenantAccount
    globex: TenantAccount
    acme_sender: Sender
    globex_sender: Sender

    async def deliver(self, body: bytes, app_secret: str = PLATFORM_APP_SECRET) -> httpx.Response:
        return await self.client.post("/webhooks/meta", content=body, headers=signed(body, app_secret))

    async def verify(self, verify_token: str, challenge: str = "1158201444") -> httpx.Response:
        params = {"hub.mode": "subscribe", "hub.verify_token": verify_token, "hub.challenge": challenge}
        return await self.client.get("/webhooks/meta", params=params)

    def inbound(self) -> list[Message]:
        return [m for m in self.database.messages.all() if m.direction is Direction.INBOUND]

    def acme_change(self, *, messages: list[dict[str, Any]] | None = None, **more: Any) -> dict[str, Any]:
        return messages_change(ACME_NUMBER_ID, display_number(self.acme), messages=messages, **more)

    def globex_change(self, *, messages: list[dict[str, Any]] | None = None, **more: Any) -> dict[str, Any]:
        return messages_change(GLOBEX_NUMBER_ID, display_number(self.globex), messages=messages, **more)


@pytest.fixture
def api_options() -> ApiOptions:
    return ApiOptions(settings={"PUBLIC_BASE_URL": "https://gateway.example.com"})


async def as_meta_reaches(api: Api, *, globex_app_secret: str = PLATFORM_APP_SECRET) -> Gateway:
    """Acme and Globex each with a Meta account and their sender on it; by default both WhatsApp
    Business Accounts are subscribed through one app (the platform's)."""
    seed = FakeUnitOfWork(api.database)
    acme_sender = await on_meta(
        seed,
        api.acme,
        phone_number_id=ACME_NUMBER_ID,
        business_account_id=ACME_WABA,
        verify_token=ACME_VERIFY_TOKEN,
    )
    globex_sender = await on_meta(
        seed,
        api.globex,
        phone_number_id=GLOBEX_NUMBER_ID,
        business_account_id=GLOBEX_WABA,
        app_secret=globex_app_secret,
        verify_token=GLOBEX_VERIFY_TOKEN,
    )
    return Gateway(api.client, api.database, api.acme, api.globex, acme_sender, globex_sender)


@pytest.fixture
async def gateway(api: Api) -> Gateway:
    return await as_meta_reaches(api)


# ----------------------------------------------------------------------------- the handshake


async def test_the_handshake_echoes_the_challenge_for_any_configured_accounts_verify_token(
    gateway: Gateway,
) -> None:
    for token in (ACME_VERIFY_TOKEN, GLOBEX_VERIFY_TOKEN):
        response = await gateway.verify(token, challenge="1158201444")

        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        assert response.text == "1158201444"


async def test_a_handshake_with_another_token_or_not_of_metas_form_is_a_403_problem(gateway: Gateway) -> None:
    wrong = await gateway.verify("a-guessed-token")
    no_mode = await gateway.client.get(
        "/webhooks/meta", params={"hub.verify_token": ACME_VERIFY_TOKEN, "hub.challenge": "1"}
    )
    bare = await gateway.client.get("/webhooks/meta")

    for response in (wrong, no_mode, bare):
        problem = assert_problem(response, 403, "webhook-verify-token-invalid")
        assert "verify token" in problem["detail"]
        assert "1158201444" not in response.text


async def test_an_account_added_a_moment_ago_is_checked_against_the_database(api: Api) -> None:
    # The first handshake makes the process read every account's token; Globex's comes after.
    seed = FakeUnitOfWork(api.database)
    await on_meta(seed, api.acme, phone_number_id=ACME_NUMBER_ID, business_account_id=ACME_WABA)
    params = {"hub.mode": "subscribe", "hub.verify_token": "a-verify-token", "hub.challenge": "7"}
    assert (await api.client.get("/webhooks/meta", params=params)).text == "7"

    await on_meta(
        seed,
        api.globex,
        phone_number_id=GLOBEX_NUMBER_ID,
        business_account_id=GLOBEX_WABA,
        verify_token="globex-just-now",
    )
    response = await api.client.get(
        "/webhooks/meta", params={**params, "hub.verify_token": "globex-just-now"}
    )

    assert response.status_code == 200, response.text
    assert response.text == "7"


async def test_verify_token_guesses_from_one_address_get_429_after_the_limit_but_meta_still_gets_in(
    make_api: MakeApi,
) -> None:
    gateway = await as_meta_reaches(await make_api(META_SIGNATURE_FAILURES_PER_MINUTE="3"))

    guesses = [await gateway.verify(f"guess-{n}") for n in range(5)]
    right = await gateway.verify(ACME_VERIFY_TOKEN, challenge="42")

    assert [r.status_code for r in guesses] == [403, 403, 403, 429, 429]
    assert_problem(guesses[-1], 429, "too-many-requests")
    assert 1 <= int(guesses[-1].headers["retry-after"]) <= 60
    assert right.status_code == 200, right.text  # a token it knows is never held back
    assert right.text == "42"


# ----------------------------------------------------------------------------- signatures


async def test_a_delivery_without_a_valid_signature_is_a_403_problem_and_nothing_is_stored(
    gateway: Gateway,
) -> None:
    body = delivery(entry(ACME_WABA, gateway.acme_change(messages=[text_message(WAMID, "Hi")])))

    unsigned = await gateway.client.post(
        "/webhooks/meta", content=body, headers={"Content-Type": "application/json"}
    )
    malformed = await gateway.client.post(
        "/webhooks/meta", content=body, headers={"X-Hub-Signature-256": "sha1=abc"}
    )
    wrong_secret = await gateway.deliver(body, app_secret="not-any-accounts-secret")
    tampered = await gateway.client.post(
        "/webhooks/meta",
        content=body.replace(b"Hi", b"Hello"),
        headers=signed(body, PLATFORM_APP_SECRET),
    )

    for response in (unsigned, malformed, wrong_secret, tampered):
        assert_problem(response, 403, "webhook-signature-invalid")
    assert unsigned.json() == wrong_secret.json()  # one answer, whatever was wrong
    assert gateway.database.messages.all() == []
    assert gateway.database.conversations.all() == []


async def test_deliveries_failing_the_signature_check_get_429_after_the_limit_but_metas_own_go_in(
    make_api: MakeApi,
) -> None:
    gateway = await as_meta_reaches(await make_api(META_SIGNATURE_FAILURES_PER_MINUTE="3"))
    body = delivery(entry(ACME_WABA, gateway.acme_change(messages=[text_message(WAMID, "Hi")])))

    # Without a signature of Meta's form nothing is looked up, so nothing is counted.
    unsigned = [await gateway.client.post("/webhooks/meta", content=body) for _ in range(5)]
    forged = [await gateway.deliver(body, app_secret="guessed") for _ in range(5)]
    genuine = await gateway.deliver(body)

    assert [r.status_code for r in unsigned] == [403] * 5
    assert [r.status_code for r in forged] == [403, 403, 403, 429, 429]
    assert forged[-1].headers["ratelimit-policy"] == '"default";q=3;w=60'
    assert genuine.status_code == 200, genuine.text
    assert len(gateway.inbound()) == 1


async def test_a_delivery_signed_by_an_app_configured_a_moment_ago_is_checked_against_the_database(
    api: Api,
) -> None:
    seed = FakeUnitOfWork(api.database)
    await on_meta(seed, api.acme, phone_number_id=ACME_NUMBER_ID, business_account_id=ACME_WABA)
    await api.client.get("/webhooks/meta")  # nothing to check: the process knows no account yet
    first = delivery(
        entry(ACME_WABA, messages_change(ACME_NUMBER_ID, "14155238886", messages=[text_message(WAMID, "1")]))
    )
    assert (
        await api.client.post("/webhooks/meta", content=first, headers=signed(first, PLATFORM_APP_SECRET))
    ).status_code == 200

    await on_meta(
        seed,
        api.globex,
        phone_number_id=GLOBEX_NUMBER_ID,
        business_account_id=GLOBEX_WABA,
        app_secret=OWN_APP_SECRET,
    )
    body = delivery(
        entry(
            GLOBEX_WABA,
            messages_change(GLOBEX_NUMBER_ID, "447911123456", messages=[text_message(WAMID + "2", "2")]),
        )
    )
    response = await api.client.post("/webhooks/meta", content=body, headers=signed(body, OWN_APP_SECRET))

    assert response.status_code == 200, response.text
    assert {m.tenant_id for m in api.database.messages.all()} == {api.acme.tenant.id, api.globex.tenant.id}


async def test_a_signed_body_that_is_not_a_delivery_is_refused_and_nothing_is_stored(
    gateway: Gateway,
) -> None:
    response = await gateway.deliver(b'{"object": "page", "entry": []}')
    not_json = await gateway.deliver(b"not json")

    assert_problem(response, 422, "invalid-input")
    assert_problem(not_json, 422, "invalid-input")
    assert gateway.database.messages.all() == []


# ----------------------------------------------------------------------------- routing


async def test_a_delivery_is_answered_with_an_empty_200_and_its_message_stored_for_the_numbers_tenant(
    gateway: Gateway,
) -> None:
    body = delivery(entry(ACME_WABA, gateway.acme_change(messages=[text_message(WAMID, "Hi there")])))

    response = await gateway.deliver(body)

    assert response.status_code == 200, response.text
    assert response.content == b""
    (stored,) = gateway.inbound()
    assert (stored.tenant_id, stored.provider_sid, stored.content.body) == (
        gateway.acme.tenant.id,
        WAMID,
        "Hi there",
    )
    assert (stored.sender, stored.contact) == (gateway.acme_sender.phone_number, PhoneNumber.parse(CUSTOMER))
    assert (stored.profile_name, stored.wa_id) == ("Ana", CUSTOMER.removeprefix("+"))
    (conversation,) = gateway.database.conversations.all()
    assert (conversation.tenant_id, conversation.last_message_id) == (gateway.acme.tenant.id, stored.id)


async def test_a_batch_for_two_tenants_numbers_gives_each_tenant_its_own(gateway: Gateway) -> None:
    body = delivery(
        entry(ACME_WABA, gateway.acme_change(messages=[text_message(WAMID + "a", "for Acme")])),
        entry(
            GLOBEX_WABA,
            gateway.globex_change(messages=[text_message(WAMID + "g1", "for Globex")]),
            gateway.globex_change(messages=[text_message(WAMID + "g2", "for Globex too")]),
        ),
    )

    response = await gateway.deliver(body)

    assert response.status_code == 200, response.text
    by_tenant = {(m.tenant_id, m.content.body) for m in gateway.inbound()}
    assert by_tenant == {
        (gateway.acme.tenant.id, "for Acme"),
        (gateway.globex.tenant.id, "for Globex"),
        (gateway.globex.tenant.id, "for Globex too"),
    }


async def test_one_tenants_app_cannot_put_messages_on_another_tenants_number(make_api: MakeApi) -> None:
    # Globex subscribed through an app of its own; Acme signs with the platform's, which it knows.
    gateway = await as_meta_reaches(await make_api(), globex_app_secret=OWN_APP_SECRET)
    body = delivery(
        entry(GLOBEX_WABA, gateway.globex_change(messages=[text_message(WAMID + "x", "injected")])),
        entry(ACME_WABA, gateway.acme_change(messages=[text_message(WAMID + "a", "genuine")])),
    )

    response = await gateway.deliver(body, app_secret=PLATFORM_APP_SECRET)

    assert response.status_code == 200, response.text  # the rest of the delivery goes in
    assert [(m.tenant_id, m.content.body) for m in gateway.inbound()] == [(gateway.acme.tenant.id, "genuine")]


async def test_on_a_shared_app_a_number_is_only_heard_under_its_own_business_account(
    gateway: Gateway,
) -> None:
    """Acme and Globex share the platform's app, so its secret signs for both: Globex's number is heard
    only when the change comes under Globex's WhatsApp Business Account, so Acme (or Acme's account
    naming Globex's number id) cannot put messages on it."""
    body = delivery(
        entry(ACME_WABA, gateway.globex_change(messages=[text_message(WAMID + "x", "injected")])),
        entry(GLOBEX_WABA, gateway.globex_change(messages=[text_message(WAMID + "g", "genuine")])),
    )

    response = await gateway.deliver(body, app_secret=PLATFORM_APP_SECRET)

    assert response.status_code == 200, response.text
    assert [(m.tenant_id, m.content.body) for m in gateway.inbound()] == [
        (gateway.globex.tenant.id, "genuine")
    ]


async def test_changes_for_a_number_no_sender_has_are_skipped_with_a_200(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    body = delivery(
        entry(
            ACME_WABA,
            messages_change(UNKNOWN_NUMBER_ID, "15550000000", messages=[text_message(WAMID, "lost")]),
        )
    )

    response = await gateway.deliver(body)

    assert response.status_code == 200, response.text
    assert gateway.database.messages.all() == []
    assert UNKNOWN_NUMBER_ID in caplog.text


async def test_changes_of_other_fields_are_acknowledged_and_left_alone(gateway: Gateway) -> None:
    template_update = {
        "field": "message_template_status_update",
        "value": {"event": "APPROVED", "message_template_name": "order_update"},
    }

    response = await gateway.deliver(delivery(entry(ACME_WABA, template_update)))

    assert response.status_code == 200, response.text
    assert gateway.database.messages.all() == []


# ----------------------------------------------------------------------------- repeats and statuses


async def test_a_message_delivered_twice_or_twice_in_one_batch_is_stored_once(gateway: Gateway) -> None:
    message = text_message(WAMID, "Hi")
    once = delivery(entry(ACME_WABA, gateway.acme_change(messages=[message])))
    twice_in_one = delivery(
        entry(ACME_WABA, gateway.acme_change(messages=[message]), gateway.acme_change(messages=[message]))
    )

    responses = [
        await gateway.deliver(once),
        await gateway.deliver(once),
        await gateway.deliver(twice_in_one),
    ]

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [m.provider_sid for m in gateway.inbound()] == [WAMID]
    assert len(gateway.database.conversations.all()) == 1


async def an_outbound_message(gateway: Gateway) -> Message:
    """A message Acme sent whose wamid is not recorded yet: its reports tie it back by our id."""
    uow = FakeUnitOfWork(gateway.database)
    message = Message.new_outbound(
        tenant_id=gateway.acme.tenant.id,
        sender=gateway.acme_sender.phone_number,
        contact=PhoneNumber.parse(CUSTOMER),
        content=MessageContent(body="Your order has shipped"),
        now=gateway.acme.tenant.created_at,
    )
    await uow.messages.add(message)
    return message


async def timeline(gateway: Gateway, message: Message) -> list[tuple[MessageStatus, bool]]:
    events = await FakeUnitOfWork(gateway.database).messages.list_status_events(message.tenant_id, message.id)
    return [(event.status, event.applied) for event in events]


async def stored(gateway: Gateway, tenant_id: UUID, message_id: UUID) -> Message:
    message = await FakeUnitOfWork(gateway.database).messages.get(tenant_id, message_id)
    assert message is not None
    return message


async def test_statuses_move_the_message_forward_only_and_each_distinct_one_is_kept(gateway: Gateway) -> None:
    message = await an_outbound_message(gateway)

    def reports(*statuses: str) -> bytes:
        items = [status(OUTBOUND_WAMID, s, message_id=message.id) for s in statuses]
        return delivery(entry(ACME_WABA, gateway.acme_change(statuses=items)))

    answers = [
        await gateway.deliver(reports("delivered")),
        await gateway.deliver(reports("sent")),  # late
        await gateway.deliver(reports("delivered", "delivered")),  # repeats
        await gateway.deliver(reports("read")),
    ]

    assert {r.status_code for r in answers} == {200}
    after = await stored(gateway, message.tenant_id, message.id)
    assert (after.status, after.provider_sid) == (MessageStatus.READ, OUTBOUND_WAMID)
    assert await timeline(gateway, message) == [
        (MessageStatus.DELIVERED, True),
        (MessageStatus.SENT, False),
        (MessageStatus.READ, True),
    ]


async def test_a_failed_status_keeps_metas_error_code(gateway: Gateway) -> None:
    message = await an_outbound_message(gateway)
    items = [status(OUTBOUND_WAMID, "failed", message_id=message.id, error_code=131026)]

    response = await gateway.deliver(delivery(entry(ACME_WABA, gateway.acme_change(statuses=items))))

    assert response.status_code == 200, response.text
    after = await stored(gateway, message.tenant_id, message.id)
    assert (after.status, after.error_code) == (MessageStatus.FAILED, 131026)
    assert after.error_message is not None


async def test_a_status_for_another_tenants_message_changes_nothing(gateway: Gateway) -> None:
    message = await an_outbound_message(gateway)  # Acme's
    items = [status(OUTBOUND_WAMID, "read", message_id=message.id)]

    response = await gateway.deliver(delivery(entry(GLOBEX_WABA, gateway.globex_change(statuses=items))))

    assert response.status_code == 200, response.text
    after = await stored(gateway, message.tenant_id, message.id)
    assert (after.status, after.provider_sid) == (MessageStatus.ACCEPTED, None)


# ----------------------------------------------------------------------------- operations


async def test_an_unavailable_database_is_a_503_for_meta_to_deliver_again(gateway: Gateway, api: Api) -> None:
    def unavailable() -> FakeUnitOfWork:
        uow = FakeUnitOfWork(gateway.database)
        uow.available = False
        return uow

    body = delivery(entry(ACME_WABA, gateway.acme_change(messages=[text_message(WAMID, "Hi")])))
    api.container.unit_of_work.override(providers.Factory(unavailable))
    try:
        response = await gateway.deliver(body)
    finally:
        api.container.unit_of_work.reset_last_overriding()

    assert_problem(response, 503, "service-unavailable")
    assert response.headers["retry-after"]
    assert gateway.database.messages.all() == []


async def test_webhooks_are_not_throttled_per_address(make_api: MakeApi) -> None:
    gateway = await as_meta_reaches(await make_api(REQUESTS_PER_MINUTE_PER_IP="3"))
    body = delivery(entry(ACME_WABA, gateway.acme_change(messages=[text_message(WAMID, "Hi")])))

    answers = [(await gateway.deliver(body)).status_code for _ in range(6)]
    handshakes = [(await gateway.verify(ACME_VERIFY_TOKEN)).status_code for _ in range(3)]

    assert answers == [200] * 6
    assert handshakes == [200] * 3


async def test_a_delivery_larger_than_the_api_body_limit_is_taken(gateway: Gateway) -> None:
    # The app's MAX_REQUEST_BODY_BYTES here is 8 KiB; Meta's deliveries may reach 3 MB.
    messages = [text_message(f"{WAMID}{n}", "x" * 1000) for n in range(20)]
    body = delivery(entry(ACME_WABA, gateway.acme_change(messages=messages)))
    assert len(body) > 16 * 1024

    response = await gateway.deliver(body)

    assert response.status_code == 200, response.text
    assert len(gateway.inbound()) == 20


async def test_the_meta_routes_are_documented_without_bearer_security(gateway: Gateway) -> None:
    schema = (await gateway.client.get("/docs/openapi.json")).json()

    handshake = schema["paths"]["/webhooks/meta"]["get"]
    deliveries = schema["paths"]["/webhooks/meta"]["post"]
    for operation in (handshake, deliveries):
        assert operation["tags"] == ["provider callbacks"]
        assert "security" not in operation
        assert {"403", "429", "503"} <= set(operation["responses"])
    assert {p["name"] for p in handshake["parameters"]} >= {"hub.mode", "hub.verify_token", "hub.challenge"}
    assert "text/plain" in handshake["responses"]["200"]["content"]
    body = deliveries["requestBody"]["content"]["application/json"]
    assert body["schema"]["required"] == ["object", "entry"]
    assert any(p["name"] == "X-Hub-Signature-256" and p["in"] == "header" for p in deliveries["parameters"])


async def test_each_status_keeps_metas_pricing_category_in_the_timeline(gateway: Gateway, api: Api) -> None:
    message = await an_outbound_message(gateway)
    items = [status(OUTBOUND_WAMID, s, message_id=message.id) for s in ("sent", "delivered", "read")]

    await gateway.deliver(delivery(entry(ACME_WABA, gateway.acme_change(statuses=items))))

    details = await api.client.get(f"/api/messages/{message.id}", headers=await api.login(api.acme))
    assert [(e["status"], e["pricing_category"]) for e in details.json()["timeline"]] == [
        ("sent", "utility"),
        ("delivered", "utility"),
        ("read", None),  # Meta prices a message on its sent and delivered reports only
    ]
