"""Provider accounts over HTTP: a tenant's Twilio and Meta accounts, write-only secrets, and senders that
send through one."""

from __future__ import annotations

import json
from typing import Any

from domain.administration.tenancy import ProviderName
from domain.messaging.content import MessageKind
from tests.support.api import Api, assert_problem
from tests.support.fakes import FakeUnitOfWork
from tests.support.message_kinds import SENDS
from tests.support.use_cases import accept

META_TOKEN = "EAAG-meta-access-token-0123456789"
META_APP_SECRET = "meta-app-secret-abcdef"
META_VERIFY_TOKEN = "meta-verify-token-xyz"
TWILIO_TOKEN = "twilio-auth-token-98765"
ACCOUNTS = "/api/provider-accounts"
NUMBER_ID = "106540352242922"
CUSTOMER = "+14155550100"


def meta_account(**overrides: Any) -> dict[str, Any]:
    meta = {
        "business_account_id": "102290129340398",
        "access_token": META_TOKEN,
        "app_secret": META_APP_SECRET,
        "verify_token": META_VERIFY_TOKEN,
    } | overrides
    return {"provider": "meta", "label": "Meta, Brazil", "meta": meta}


def twilio_account() -> dict[str, Any]:
    return {"provider": "twilio", "twilio": {"account_sid": "AC" + "1" * 32, "auth_token": TWILIO_TOKEN}}


def assert_no_secret_in(text: str) -> None:
    for secret in (META_TOKEN, META_APP_SECRET, META_VERIFY_TOKEN, TWILIO_TOKEN):
        assert secret not in text
        assert secret[-8:] not in text


async def test_a_tenant_admin_adds_a_meta_and_a_twilio_account_and_no_answer_carries_a_secret(
    api: Api,
) -> None:
    alice = await api.bearer("alice")

    meta = await api.client.post(ACCOUNTS, json=meta_account(), headers=alice)
    twilio = await api.client.post(ACCOUNTS, json=twilio_account(), headers=alice)

    assert meta.status_code == 201, meta.text
    assert twilio.status_code == 201, twilio.text
    assert meta.json()["meta"] == {"business_account_id": "102290129340398", "graph_api_version": "v23.0"}
    assert meta.json()["twilio"] is None
    assert twilio.json()["twilio"] == {"account_sid": "AC" + "1" * 32, "api_key_sid": None}
    listed = await api.client.get(ACCOUNTS, headers=alice)
    assert [(a["provider"], a["label"]) for a in listed.json()] == [("meta", "Meta, Brazil"), ("twilio", "")]
    one = await api.client.get(f"{ACCOUNTS}/{meta.json()['id']}", headers=alice)
    for response in (meta, twilio, listed, one):
        assert_no_secret_in(response.text)
    entries = (await api.client.get("/api/audit-log", headers=alice)).text
    assert_no_secret_in(entries)


async def test_credentials_under_the_other_providers_name_or_malformed_change_nothing(api: Api) -> None:
    alice = await api.bearer("alice")

    mismatched = {"provider": "twilio", "meta": meta_account()["meta"]}
    both = twilio_account() | {"meta": meta_account()["meta"]}
    for body, status, problem in (
        (mismatched, 422, "invalid-input"),
        (both, 422, "invalid-input"),
        (meta_account(business_account_id="not-digits"), 422, "invalid-input"),
        (meta_account(graph_api_version="23"), 422, "invalid-input"),
        ({"provider": "sandbox"}, 400, "validation-failed"),
        (meta_account() | {"extra": 1}, 400, "validation-failed"),
    ):
        assert_problem(await api.client.post(ACCOUNTS, json=body, headers=alice), status, problem)

    assert (await api.client.get(ACCOUNTS, headers=alice)).json() == []


async def test_only_a_person_sets_credentials_and_agents_see_no_accounts(api: Api) -> None:
    alice = await api.bearer("alice")
    key, _ = await api.api_key(alice, role="tenant_admin")
    account = (await api.client.post(ACCOUNTS, json=meta_account(), headers=alice)).json()

    assert_problem(
        await api.client.post(ACCOUNTS, json=meta_account(), headers=key),
        403,
        "person-required",
    )
    assert_problem(
        await api.client.patch(
            f"{ACCOUNTS}/{account['id']}", json={"meta": meta_account()["meta"]}, headers=key
        ),
        403,
        "person-required",
    )
    renamed = await api.client.patch(
        f"{ACCOUNTS}/{account['id']}", json={"label": "Meta, Mexico"}, headers=key
    )
    assert renamed.json()["label"] == "Meta, Mexico"
    ana = await api.bearer("ana")
    assert_problem(await api.client.get(ACCOUNTS, headers=ana), 403, "forbidden")


async def test_another_tenants_account_is_not_found_and_cannot_be_sent_through(api: Api) -> None:
    alice, bob = await api.bearer("alice"), await api.bearer("bob")
    account = (await api.client.post(ACCOUNTS, json=meta_account(), headers=alice)).json()

    assert_problem(await api.client.get(f"{ACCOUNTS}/{account['id']}", headers=bob), 404, "not-found")
    assert_problem(await api.client.delete(f"{ACCOUNTS}/{account['id']}", headers=bob), 404, "not-found")
    assert_problem(
        await api.client.post(
            "/api/senders",
            json={
                "phone_number": "+5511955550100",
                "account_id": account["id"],
                "provider_number_id": "1065",
            },
            headers=bob,
        ),
        422,
        "invalid-input",
    )
    assert [s["phone_number"] for s in (await api.client.get("/api/senders", headers=bob)).json()] == [
        api.globex.sender.phone_number.e164
    ]


async def test_a_sender_on_a_meta_account_needs_its_phone_number_id_which_no_other_sender_has(
    api: Api,
) -> None:
    alice, bob = await api.bearer("alice"), await api.bearer("bob")
    mine = (await api.client.post(ACCOUNTS, json=meta_account(), headers=alice)).json()
    theirs = (await api.client.post(ACCOUNTS, json=meta_account(), headers=bob)).json()

    assert_problem(
        await api.client.post(
            "/api/senders", json={"phone_number": "+5511955550100", "account_id": mine["id"]}, headers=alice
        ),
        422,
        "invalid-input",
    )
    added = await api.client.post(
        "/api/senders",
        json={
            "phone_number": "+5511955550100",
            "account_id": mine["id"],
            "provider_number_id": NUMBER_ID,
        },
        headers=alice,
    )
    assert added.status_code == 201, added.text
    assert (added.json()["account_id"], added.json()["provider_number_id"]) == (mine["id"], NUMBER_ID)
    assert_problem(
        await api.client.post(
            "/api/senders",
            json={
                "phone_number": "+5511955550199",
                "account_id": theirs["id"],
                "provider_number_id": NUMBER_ID,
            },
            headers=bob,
        ),
        409,
        "conflict",
    )


async def test_a_sender_moves_between_accounts_and_back_to_the_tenants_provider(api: Api) -> None:
    alice = await api.bearer("alice")
    meta = (await api.client.post(ACCOUNTS, json=meta_account(), headers=alice)).json()
    twilio = (await api.client.post(ACCOUNTS, json=twilio_account(), headers=alice)).json()
    sender_path = f"/api/senders/{api.acme.sender.id}"

    to_meta = await api.client.patch(
        sender_path, json={"account_id": meta["id"], "provider_number_id": NUMBER_ID}, headers=alice
    )
    assert (to_meta.json()["account_id"], to_meta.json()["provider_number_id"]) == (
        meta["id"],
        NUMBER_ID,
    )
    to_twilio = await api.client.patch(sender_path, json={"account_id": twilio["id"]}, headers=alice)
    assert (to_twilio.json()["account_id"], to_twilio.json()["provider_number_id"]) == (twilio["id"], None)
    relabelled = await api.client.patch(sender_path, json={"label": "sales"}, headers=alice)
    assert relabelled.json()["account_id"] == twilio["id"], "a change without account_id moves nothing"
    back = await api.client.patch(sender_path, json={"account_id": None}, headers=alice)
    assert (back.json()["account_id"], back.json()["provider_number_id"]) == (None, None)


async def test_an_account_a_sender_sends_through_stays_until_the_sender_moves(api: Api) -> None:
    alice = await api.bearer("alice")
    account = (await api.client.post(ACCOUNTS, json=twilio_account(), headers=alice)).json()
    sender_path = f"/api/senders/{api.acme.sender.id}"
    await api.client.patch(sender_path, json={"account_id": account["id"]}, headers=alice)

    assert_problem(
        await api.client.delete(f"{ACCOUNTS}/{account['id']}", headers=alice),
        409,
        "account-in-use",
    )
    await api.client.patch(sender_path, json={"account_id": None}, headers=alice)
    assert (await api.client.delete(f"{ACCOUNTS}/{account['id']}", headers=alice)).status_code == 204
    assert (await api.client.get(ACCOUNTS, headers=alice)).json() == []


async def test_the_twilio_credentials_route_sets_the_tenants_first_twilio_account(api: Api) -> None:
    alice = await api.bearer("alice")
    body = {"account_sid": "AC" + "2" * 32, "auth_token": TWILIO_TOKEN}

    assert (await api.client.put("/api/credentials", json=body, headers=alice)).status_code == 200
    assert (await api.client.put("/api/credentials", json=body, headers=alice)).status_code == 200

    accounts = (await api.client.get(ACCOUNTS, headers=alice)).json()
    assert [(a["provider"], a["twilio"]["account_sid"]) for a in accounts] == [
        (ProviderName.TWILIO, "AC" + "2" * 32)
    ]
    summary = (await api.client.get("/api/credentials", headers=alice)).json()
    assert summary == {"configured": True, "account_sid": "AC" + "2" * 32, "api_key_sid": None}
    assert_no_secret_in(json.dumps(accounts))


async def test_a_tenant_cannot_be_put_on_meta_as_a_whole(api: Api) -> None:
    root = await api.bearer("root")

    created = await api.client.post(
        "/admin/tenants", json={"name": "Initech", "provider": "meta"}, headers=root
    )
    moved = await api.client.patch(
        f"/admin/tenants/{api.acme.tenant.id}", json={"provider": "meta"}, headers=root
    )

    assert "per sender" in assert_problem(created, 422, "invalid-input")["detail"]
    assert "per sender" in assert_problem(moved, 422, "invalid-input")["detail"]


async def test_what_a_sender_can_send_is_its_own_accounts_providers_to_say(api: Api) -> None:
    """Acme is a sandbox tenant: its sender can send buttons until it moves to a Twilio account, which
    cannot (without a Content template), and can again once it is back on the tenant's provider."""
    api.provider.cannot_send[(ProviderName.TWILIO, MessageKind.INTERACTIVE)] = "needs a Content Template"
    alice = await api.bearer("alice")
    twilio = (await api.client.post(ACCOUNTS, json=twilio_account(), headers=alice)).json()
    sender_path = f"/api/senders/{api.acme.sender.id}"
    buttons = SENDS["interactive"]

    assert (await api.send(alice, to_number=CUSTOMER, **buttons)).status_code == 201
    await api.client.patch(sender_path, json={"account_id": twilio["id"]}, headers=alice)
    stored = len(api.database.messages.all())
    refused = await api.send(alice, to_number=CUSTOMER, **buttons)
    assert "Content Template" in assert_problem(refused, 422, "unsupported-by-provider")["detail"]
    assert len(api.database.messages.all()) == stored
    await api.client.patch(sender_path, json={"account_id": None}, headers=alice)
    assert (await api.send(alice, to_number=CUSTOMER, **buttons)).status_code == 201


async def test_a_sender_does_not_move_while_a_message_of_its_is_being_sent(api: Api) -> None:
    """Its confirmation would be sought at the new provider, not found there, and the message sent twice."""
    alice = await api.bearer("alice")
    twilio = (await api.client.post(ACCOUNTS, json=twilio_account(), headers=alice)).json()
    sender_path = f"/api/senders/{api.acme.sender.id}"
    uow = FakeUnitOfWork(api.database)
    message = await accept(uow, api.acme, api.clock)
    async with uow:
        [job] = await uow.jobs.claim_due(owner="worker-1", now=api.clock.now(), lease_seconds=60, limit=10)
        await uow.commit()

    refused = await api.client.patch(sender_path, json={"account_id": twilio["id"]}, headers=alice)

    assert "being sent" in assert_problem(refused, 409, "sender-busy")["detail"]
    sender = (await api.client.get("/api/senders", headers=alice)).json()[0]
    assert sender["account_id"] is None
    async with uow:
        assert await uow.jobs.complete(job.message_id, owner="worker-1")
        await uow.commit()
    moved = await api.client.patch(sender_path, json={"account_id": twilio["id"]}, headers=alice)
    assert moved.json()["account_id"] == twilio["id"], moved.text
    assert message.sender == api.acme.sender.phone_number
