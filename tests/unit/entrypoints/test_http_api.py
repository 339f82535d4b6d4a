"""The HTTP API through the real Litestar app, with the database and the provider replaced by fakes."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest
from dependency_injector import providers

from application.operations.readiness import CheckReadiness
from application.ports.providers import OutcomeKind, SendOutcome
from tests.support.api import JWT_SECRET, Api, assert_problem
from tests.support.fakes import FakeDatabase, FakeUnitOfWork

# ---------------------------------------------------------------------------------------------- login


async def test_login_returns_a_bearer_token(api: Api) -> None:
    response = await api.client.post("/auth/login", json={"username": "alice", "password": api.acme.password})

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    claims = jwt.decode(body["access_token"], JWT_SECRET, algorithms=["HS256"], audience="wa-gateway-api")
    assert claims["tid"] == str(api.acme.tenant.id)
    assert claims["sub"] == str(api.acme.user.id)


async def test_wrong_password_and_unknown_user_get_the_same_401(api: Api) -> None:
    wrong_password = await api.client.post("/auth/login", json={"username": "alice", "password": "nope-nope"})
    unknown_user = await api.client.post("/auth/login", json={"username": "mallory", "password": "nope-nope"})

    assert_problem(wrong_password, 401, "invalid-credentials")
    assert wrong_password.json() == unknown_user.json()


async def test_login_validation_errors_name_the_field(api: Api) -> None:
    response = await api.client.post("/auth/login", json={"username": "alice"})

    problem = assert_problem(response, 400, "validation-failed")
    assert "password" in json.dumps(problem["errors"])


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        ("{not json", "application/json"),
        ("username=alice", "application/x-www-form-urlencoded"),
        ("[]", "application/json"),
    ],
)
async def test_malformed_login_bodies_are_problems_not_500s(
    api: Api, content: str, content_type: str
) -> None:
    response = await api.client.post("/auth/login", content=content, headers={"Content-Type": content_type})

    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_repeated_failed_logins_are_throttled_with_retry_after(api: Api) -> None:
    for _ in range(5):
        response = await api.client.post(
            "/auth/login", json={"username": "alice", "password": "wrong-password"}
        )
        assert response.status_code == 401

    throttled = await api.client.post(
        "/auth/login", json={"username": "alice", "password": api.acme.password}
    )

    assert_problem(throttled, 429, "too-many-requests")
    assert int(throttled.headers["retry-after"]) >= 1
    assert throttled.headers["ratelimit-policy"] == '"default";q=5;w=60'
    assert "ratelimit" in throttled.headers
    # Another account is not affected by alice's failures... but the same client address is.
    other = await api.client.post("/auth/login", json={"username": "bob", "password": api.globex.password})
    assert other.status_code == 429


# ------------------------------------------------------------------------------------------ send


async def test_send_stores_the_message_and_returns_201_with_location(api: Api) -> None:
    headers = await api.login(api.acme)

    response = await api.send(headers, to_number="whatsapp:+14155550123", body="Your order has shipped")

    assert response.status_code == 201, response.text
    message = response.json()
    assert message["status"] == "queued"
    assert message["to_number"] == "+14155550123"
    assert message["from_number"] == "+14155238886"
    assert message["body"] == "Your order has shipped"
    assert message["provider_sid"].startswith("SM")
    assert response.headers["location"] == f"/api/messages/{message['id']}"
    assert [m.content.body for m in api.database.messages.all()] == ["Your order has shipped"]


@pytest.mark.parametrize(
    ("media_url", "expected"),
    [
        ("https://example.com/a.png", ["https://example.com/a.png"]),
        (
            ["https://example.com/a.png", "https://example.com/b.pdf"],
            ["https://example.com/a.png", "https://example.com/b.pdf"],
        ),
    ],
)
async def test_send_accepts_one_media_url_or_a_list(api: Api, media_url: Any, expected: list[str]) -> None:
    headers = await api.login(api.acme)

    response = await api.send(headers, to_number="+14155550123", media_url=media_url)

    assert response.status_code == 201, response.text
    assert response.json()["media_urls"] == expected


async def test_send_from_another_tenants_number_is_refused(api: Api) -> None:
    headers = await api.login(api.acme)

    response = await api.send(
        headers, to_number="+14155550123", body="hi", from_number=str(api.globex.sender.phone_number)
    )

    assert_problem(response, 422, "invalid-input")
    assert api.database.messages.all() == []
    assert api.provider.requests == []


async def test_the_tenant_comes_from_the_token_never_from_the_body(api: Api) -> None:
    headers = await api.login(api.acme)

    response = await api.send(
        headers, to_number="+14155550123", body="hi", tenant_id=str(api.globex.tenant.id)
    )

    problem = assert_problem(response, 400, "validation-failed")
    assert "tenant_id" in json.dumps(problem)
    assert api.database.messages.all() == []


async def test_a_number_that_cannot_exist_is_a_problem_that_says_why(api: Api) -> None:
    headers = await api.login(api.acme)

    response = await api.client.post(
        "/api/send", json={"to_number": "+52155123456789", "body": "hi"}, headers=headers
    )

    problem = assert_problem(response, 422, "invalid-phone-number")
    assert problem["detail"] == "'+52155123456789' is not a phone number: too many digits for +52"
    assert api.database.messages.all() == []


@pytest.mark.parametrize(
    ("body", "status", "problem_type"),
    [
        ({"to_number": "12345", "body": "hi"}, 422, "invalid-phone-number"),
        ({"to_number": "+1415555", "body": "hi"}, 422, "invalid-phone-number"),
        ({"to_number": "+14155550123"}, 422, "invalid-message"),
        (
            {"to_number": "+14155550123", "body": "hi", "media_url": "ftp://example.com/a.png"},
            422,
            "invalid-message",
        ),
        ({"to_number": "+14155550123", "body": "x" * 5000}, 400, "validation-failed"),
        (
            {"to_number": "+14155550123", "media_url": ["https://example.com/a.png"] * 11},
            400,
            "validation-failed",
        ),
        ({"to_number": 14155550123, "body": "hi"}, 400, "validation-failed"),
        ({"body": "hi"}, 400, "validation-failed"),
    ],
)
async def test_bad_send_requests_get_problems_and_change_nothing(
    api: Api, body: dict[str, Any], status: int, problem_type: str
) -> None:
    headers = await api.login(api.acme)

    response = await api.client.post("/api/send", json=body, headers=headers)

    assert_problem(response, status, problem_type)
    assert api.database.messages.all() == []
    assert api.provider.requests == []


async def test_a_body_over_the_size_limit_gets_413(api: Api) -> None:
    headers = await api.login(api.acme)

    response = await api.client.post(
        "/api/send",
        content=json.dumps({"to_number": "+14155550123", "body": "x" * 10_000}),
        headers={**headers, "Content-Type": "application/json"},
    )

    assert_problem(response, 413, "payload-too-large")
    assert api.database.messages.all() == []


async def test_a_provider_refusal_is_stored_as_failed_with_its_code(api: Api) -> None:
    api.provider.will_return(SendOutcome(kind=OutcomeKind.REJECTED, error_code=21211, reason="invalid To"))
    headers = await api.login(api.acme)

    response = await api.send(headers, to_number="+14155550123", body="hi")

    assert response.status_code == 201
    assert response.json()["status"] == "failed"
    assert response.json()["error_code"] == 21211


async def test_an_unexpected_error_is_a_500_problem_without_internals(api: Api) -> None:
    api.container.check_readiness.override(
        providers.Factory(ExplodingReadiness, api.container.unit_of_work.provider)
    )

    response = await api.client.get("/readyz")

    problem = assert_problem(response, 500, "internal-error")
    assert "secret internal detail" not in response.text
    assert "Traceback" not in problem["detail"]


class ExplodingReadiness(CheckReadiness):
    async def __call__(self) -> None:
        raise RuntimeError("secret internal detail")


async def test_a_provider_crash_still_accepts_the_message_for_later(api: Api) -> None:
    api.provider.will_raise(RuntimeError("secret internal detail"))
    headers = await api.login(api.acme)

    response = await api.send(headers, to_number="+14155550123", body="hi")

    assert response.status_code == 202
    assert response.json()["status"] == "accepted"
    assert "secret internal detail" not in response.text
    assert len(api.database.jobs.all()) == 1


async def test_a_database_outage_is_a_503_with_retry_after(api: Api) -> None:
    headers = await api.login(api.acme)
    api.container.unit_of_work.override(providers.Factory(_unavailable_uow, api.database))

    send = await api.send(headers, to_number="+14155550123", body="hi")
    ready = await api.client.get("/readyz")

    assert_problem(send, 503, "service-unavailable")
    assert send.headers["retry-after"]
    assert_problem(ready, 503, "service-unavailable")


def _unavailable_uow(database: FakeDatabase) -> FakeUnitOfWork:
    uow = FakeUnitOfWork(database)
    uow.available = False
    return uow


# -------------------------------------------------------------------------------------- tokens


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer",
        "Bearer not-a-jwt",
        "Basic YWxpY2U6cGFzc3dvcmQ=",
        "Bearer " + jwt.encode({"sub": "x"}, "another-secret-that-is-long-enough-too!!", algorithm="HS256"),
    ],
)
async def test_requests_without_a_valid_token_get_401(api: Api, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    send = await api.send(headers, to_number="+14155550123", body="hi")
    history = await api.client.get("/api/messages", headers=headers)

    assert_problem(send, 401, "invalid-token")
    assert send.headers["www-authenticate"].startswith("Bearer")
    assert_problem(history, 401, "invalid-token")
    assert api.database.messages.all() == []


async def test_an_unsigned_token_is_refused(api: Api) -> None:
    headers = await api.login(api.acme)
    real = headers["Authorization"].removeprefix("Bearer ")
    claims = json.loads(base64.urlsafe_b64decode(real.split(".")[1] + "=="))
    unsigned = jwt.encode(claims, key="", algorithm="none")

    response = await api.client.get("/api/messages", headers={"Authorization": f"Bearer {unsigned}"})

    assert_problem(response, 401, "invalid-token")


# ------------------------------------------------------------------------------------- history


async def test_history_pages_through_every_message_once_newest_first(api: Api) -> None:
    headers = await api.login(api.acme)
    sent_ids = []
    for n in range(7):
        response = await api.send(headers, to_number="+14155550123", body=f"message {n}")
        sent_ids.append(response.json()["id"])

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await api.client.get("/api/messages", params=params, headers=headers)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert sorted(seen) == sorted(sent_ids)
    assert len(seen) == len(set(seen)) == 7


async def test_a_history_item_shows_the_message_as_its_own_resource_does(api: Api) -> None:
    headers = await api.login(api.acme)
    sent = await api.send(
        headers, to_number="+14155550123", body="hello", media_url="https://example.com/a.png"
    )

    page = (await api.client.get("/api/messages", headers=headers)).json()
    details = (await api.client.get(f"/api/messages/{sent.json()['id']}", headers=headers)).json()

    (item,) = page["items"]
    assert item == {name: value for name, value in details.items() if name != "timeline"}
    assert item["from_number"] != item["to_number"]
    assert item["to_number"] == "+14155550123"


async def test_history_filters_by_contact_and_status(api: Api) -> None:
    headers = await api.login(api.acme)
    await api.send(headers, to_number="+14155550123", body="to a")
    await api.send(headers, to_number="+14155550124", body="to b")
    api.provider.will_return(SendOutcome(kind=OutcomeKind.REJECTED, error_code=21610, reason="opted out"))
    await api.send(headers, to_number="+14155550124", body="to b, refused")

    by_contact = (
        await api.client.get("/api/messages", params={"contact": "whatsapp:+14155550124"}, headers=headers)
    ).json()
    failed = (await api.client.get("/api/messages", params={"status": "failed"}, headers=headers)).json()

    assert [m["body"] for m in by_contact["items"]] == ["to b, refused", "to b"]
    assert [m["body"] for m in failed["items"]] == ["to b, refused"]


async def test_a_contact_typed_with_an_unencoded_plus_filters_the_history(api: Api) -> None:
    # In a query string an unencoded "+" arrives as a space: "contact=+14155550123" as typed in a shell.
    headers = await api.login(api.acme)
    await api.send(headers, to_number="+14155550123", body="to a")
    await api.send(headers, to_number="+14155550124", body="to b")

    response = await api.client.get("/api/messages?contact=+14155550124", headers=headers)

    assert response.status_code == 200, response.text
    assert [m["body"] for m in response.json()["items"]] == ["to b"]


@pytest.mark.parametrize(
    ("params", "status", "problem_type"),
    [
        ({"limit": 0}, 400, "validation-failed"),
        ({"limit": "ten"}, 400, "validation-failed"),
        ({"status": "teleported"}, 400, "validation-failed"),
        ({"since": "yesterday"}, 400, "validation-failed"),
        ({"cursor": "garbage!"}, 400, "invalid-cursor"),
        ({"contact": "not-a-number"}, 422, "invalid-phone-number"),
    ],
)
async def test_bad_history_queries_get_problems(
    api: Api, params: dict[str, Any], status: int, problem_type: str
) -> None:
    headers = await api.login(api.acme)

    response = await api.client.get("/api/messages", params=params, headers=headers)

    assert_problem(response, status, problem_type)


async def test_a_page_larger_than_100_is_capped(api: Api) -> None:
    headers = await api.login(api.acme)
    for n in range(3):
        await api.send(headers, to_number="+14155550123", body=f"m{n}")

    response = await api.client.get("/api/messages", params={"limit": 1000}, headers=headers)

    assert response.status_code == 200
    assert len(response.json()["items"]) == 3


async def test_a_tenant_never_sees_another_tenants_messages(api: Api) -> None:
    acme = await api.login(api.acme)
    globex = await api.login(api.globex)
    for n in range(3):
        await api.send(acme, to_number="+14155550123", body=f"acme secret {n}")
    acme_page = (await api.client.get("/api/messages", params={"limit": 1}, headers=acme)).json()
    acme_id = acme_page["items"][0]["id"]

    listed = (await api.client.get("/api/messages", headers=globex)).json()
    with_acme_cursor = await api.client.get(
        "/api/messages", params={"cursor": acme_page["next_cursor"]}, headers=globex
    )
    by_id = await api.client.get(f"/api/messages/{acme_id}", headers=globex)

    assert listed == {"items": [], "next_cursor": None}
    assert with_acme_cursor.json()["items"] == []
    assert_problem(by_id, 404, "not-found")
    assert (await api.client.get(f"/api/messages/{acme_id}", headers=acme)).status_code == 200


# ---------------------------------------------------------------------------------- operations


async def test_health_and_readiness(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    assert (await api.client.get("/readyz")).json() == {"status": "ok"}


async def test_unknown_routes_and_methods_are_problems(api: Api) -> None:
    assert_problem(await api.client.get("/nowhere"), 404, "not-found")
    assert_problem(await api.client.delete("/api/send"), 405, "method-not-allowed")
