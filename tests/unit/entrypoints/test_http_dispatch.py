"""POST /api/send's durable side over HTTP: 201/202, Prefer: respond-async, Idempotency-Key, retry."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from uuid import UUID

import pytest

from application.errors import StorageUnavailable
from application.ports.providers import OutcomeKind, SendOutcome
from domain.messaging.messages import MessageStatus
from tests.support.api import Api, assert_problem

BODY = {"to_number": "+14155550123", "body": "Your order has shipped"}


async def test_respond_async_answers_202_at_once_and_the_message_is_still_sent(api: Api) -> None:
    headers = await api.login(api.acme)

    response = await api.client.post("/api/send", json=BODY, headers={**headers, "Prefer": "respond-async"})

    assert response.status_code == 202
    assert response.headers["preference-applied"] == "respond-async"
    assert response.json()["status"] == "accepted"
    message_id = response.json()["id"]
    for _ in range(100):  # the embedded dispatcher picks it up
        current = (await api.client.get(f"/api/messages/{message_id}", headers=headers)).json()
        if current["status"] != "accepted":
            break
        await asyncio.sleep(0.02)
    assert current["status"] == "queued"
    assert len(api.provider.requests) == 1


async def test_a_provider_slower_than_the_wait_gets_202(api: Api) -> None:
    headers = await api.login(api.acme)

    async def slow(_: object) -> None:
        await asyncio.sleep(1.0)  # the API waits SEND_WAIT_SECONDS (0.3 s in these tests)

    api.provider.on_send = slow
    response = await api.send(headers, **BODY)

    assert response.status_code == 202
    api.provider.on_send = None


async def test_the_same_idempotency_key_replays_the_first_answer_and_sends_once(api: Api) -> None:
    headers = {**(await api.login(api.acme)), "Idempotency-Key": "order-1234-shipped"}

    first = await api.client.post("/api/send", json=BODY, headers=headers)
    again = await api.client.post("/api/send", json=BODY, headers=headers)

    assert first.status_code == 201
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert len(api.provider.requests) == 1
    assert len(api.database.messages.all()) == 1


async def test_the_same_key_with_another_body_is_a_422(api: Api) -> None:
    headers = {**(await api.login(api.acme)), "Idempotency-Key": "k-1"}
    await api.client.post("/api/send", json=BODY, headers=headers)

    other = await api.client.post("/api/send", json={**BODY, "body": "something else"}, headers=headers)

    assert_problem(other, 422, "idempotency-key-reused")
    assert len(api.provider.requests) == 1


async def test_keys_are_scoped_to_the_tenant(api: Api) -> None:
    acme = {**(await api.login(api.acme)), "Idempotency-Key": "shared-key"}
    globex = {**(await api.login(api.globex)), "Idempotency-Key": "shared-key"}

    first = await api.client.post("/api/send", json=BODY, headers=acme)
    second = await api.client.post("/api/send", json=BODY, headers=globex)

    assert first.json()["id"] != second.json()["id"]
    assert len(api.provider.requests) == 2


async def test_a_request_that_fails_validation_does_not_use_up_its_key(api: Api) -> None:
    headers = {**(await api.login(api.acme)), "Idempotency-Key": "k-2"}

    bad = await api.client.post("/api/send", json={**BODY, "to_number": "12"}, headers=headers)
    good = await api.client.post("/api/send", json=BODY, headers=headers)

    assert bad.status_code == 422
    assert good.status_code == 201
    assert "idempotent-replayed" not in good.headers


async def test_the_same_key_while_the_first_request_runs_is_a_409(api: Api) -> None:
    headers = {**(await api.login(api.acme)), "Idempotency-Key": "k-3"}
    first = (await api.send(headers, **BODY)).json()
    # As if that first request were still waiting for the provider: its answer is not recorded yet.
    records = api.database.idempotency
    (key,) = [k for k in records._records if k[1] == "k-3"]
    records._records[key] = replace(records._records[key], response_status=None)

    second = await api.client.post("/api/send", json=BODY, headers=headers)

    assert_problem(second, 409, "idempotency-key-in-use")
    assert [m.id for m in api.database.messages.all()] == [UUID(first["id"])]


async def test_a_respond_async_key_is_settled_when_the_message_is_accepted(
    api: Api,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    headers = {**(await api.login(api.acme)), "Idempotency-Key": "k-4", "Prefer": "respond-async"}

    async def unavailable(*_: object) -> None:
        raise StorageUnavailable("the database is unavailable")

    # The 202 is decided by the commit that accepts the message: no second write to the key can fail
    # after it (and leave a retry facing a 409 "in progress" for half a minute).
    monkeypatch.setattr(api.database.idempotency, "complete", unavailable)
    first = await api.client.post("/api/send", json=BODY, headers=headers)
    again = await api.client.post("/api/send", json=BODY, headers=headers)

    assert first.status_code == 202
    assert again.status_code == 202
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]


async def test_a_malformed_idempotency_key_is_a_400(api: Api) -> None:
    headers = {**(await api.login(api.acme)), "Idempotency-Key": "x" * 300}

    response = await api.client.post("/api/send", json=BODY, headers=headers)

    assert_problem(response, 400, "validation-failed")
    assert api.database.messages.all() == []


async def test_a_failed_message_can_be_retried_and_others_cannot(api: Api) -> None:
    headers = await api.login(api.acme)
    api.provider.will_return(SendOutcome(kind=OutcomeKind.REJECTED, error_code=21610, reason="opted out"))
    failed = (await api.send(headers, **BODY)).json()
    assert failed["status"] == "failed"
    api.provider.outcome = None

    retried = await api.client.post(f"/api/messages/{failed['id']}/retry", headers=headers)
    again = await api.client.post(f"/api/messages/{failed['id']}/retry", headers=headers)

    assert retried.status_code == 202
    assert retried.json()["status"] == "accepted"
    assert retried.json()["error_code"] is None
    assert_problem(again, 409, "message-not-retryable")
    for _ in range(100):
        current = (await api.client.get(f"/api/messages/{failed['id']}", headers=headers)).json()
        if current["status"] != "accepted":
            break
        await asyncio.sleep(0.02)
    assert current["status"] == MessageStatus.QUEUED.value
    assert len(api.provider.requests) == 2


async def test_another_tenants_message_cannot_be_retried(api: Api) -> None:
    acme = await api.login(api.acme)
    api.provider.will_return(SendOutcome(kind=OutcomeKind.REJECTED, error_code=21610, reason="opted out"))
    failed = (await api.send(acme, **BODY)).json()

    response = await api.client.post(
        f"/api/messages/{failed['id']}/retry", headers=await api.login(api.globex)
    )

    assert_problem(response, 404, "not-found")
