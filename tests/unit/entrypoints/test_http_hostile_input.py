"""Hostile input: oversized, mistyped, malformed, SQL-looking or deeply nested requests get a 4xx
problem (or are stored literally), never a 500."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import litestar.connection.request
import pytest
from litestar.serialization import decode_json

from tests.support.api import Api, assert_problem


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/auth/login", {"username": "alice", "password": "x" * 10_000}),
        ("/api/send", {"to_number": "+14155550123", "body": "x" * 10_000}),
        ("/auth/refresh", {"refresh_token": "x" * 10_000}),
    ],
)
async def test_bodies_over_the_size_limit_get_413_on_every_route(api: Api, path: str, body: object) -> None:
    headers = await api.login(api.acme)
    response = await api.client.post(
        path, content=json.dumps(body), headers={**headers, "Content-Type": "application/json"}
    )
    assert_problem(response, 413, "payload-too-large")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
async def test_a_json_route_refuses_another_content_type_with_415(api: Api, content_type: str) -> None:
    headers = await api.login(api.acme)
    response = await api.client.post(
        "/api/send",
        content=json.dumps({"to_number": "+14155550123", "body": "hi"}),
        headers={**headers, "Content-Type": content_type},
    )
    assert_problem(response, 415, "unsupported-media-type")


async def test_sql_looking_text_is_stored_and_read_back_literally(api: Api) -> None:
    headers = await api.login(api.acme)
    body = "'; DROP TABLE messages; -- \" OR 1=1 /* ) UNION SELECT * FROM users"
    sent = await api.send(headers, to_number="+14155550123", body=body)
    assert sent.status_code == 201, sent.text

    read = await api.client.get(f"/api/messages/{sent.json()['id']}", headers=headers)
    assert read.status_code == 200
    assert read.json()["body"] == body


@pytest.mark.parametrize("contact", ["' OR 1=1 --", "+1415'; DROP TABLE messages; --", "%' OR '%'='"])
async def test_a_contact_filter_with_sql_is_refused_with_422(api: Api, contact: str) -> None:
    headers = await api.login(api.acme)
    response = await api.client.get("/api/messages", params={"contact": contact}, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_very_long_token_is_a_401_problem(api: Api) -> None:
    response = await api.client.get("/api/messages", headers={"Authorization": "Bearer " + "a" * 60_000})
    assert_problem(response, 401, "invalid-token")


async def test_a_very_long_header_is_not_a_500(api: Api) -> None:
    headers = await api.login(api.acme)
    response = await api.client.get("/api/messages", headers={**headers, "X-Padding": "p" * 60_000})
    assert response.status_code < 500


@pytest.mark.parametrize(
    "content",
    [
        b'{"username": "alice", "password": "\xff\xfe\xfd"}',  # invalid UTF-8
        b'{"username": "al\\u0000ice", "password": "x\\u0000"}',  # null bytes in JSON strings
        b"[" * 5_000 + b"]" * 5_000,  # deeply nested
        b'{"username": ' + b'{"a": ' * 3_000 + b"1" + b"}" * 3_000 + b', "password": "x"}',
    ],
)
async def test_malformed_json_is_a_4xx_problem(api: Api, content: bytes) -> None:
    response = await api.client.post(
        "/auth/login", content=content, headers={"Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


NUL = "\x00"
# Every text a client sends, with U+0000 in it: PostgreSQL text cannot hold it.
TEXT_WITH_NUL = [
    pytest.param(
        "POST", "/auth/login", {"username": f"al{NUL}ice", "password": "x"}, None, id="login username"
    ),
    pytest.param(
        "POST", "/api/send", {"to_number": "+14155550123", "body": f"hi{NUL}"}, None, id="send body"
    ),
    pytest.param(
        "POST",
        "/api/send",
        {"to_number": "+14155550123", "body": f"hi{NUL}"},
        {"Idempotency-Key": "order-1"},
        id="send body with an idempotency key",
    ),
    pytest.param(
        "POST",
        "/api/send",
        {"to_number": "+14155550123", "media_url": f"https://example.com/a{NUL}.png"},
        None,
        id="media url",
    ),
    pytest.param(
        "POST",
        "/api/send",
        {
            "to_number": "+14155550123",
            "content_sid": "HX" + "0" * 32,
            "content_variables": {"1": f"12{NUL}1"},
        },
        None,
        id="template variable",
    ),
    pytest.param(
        "POST",
        "/api/senders",
        {"phone_number": "+14155238999", "label": f"main{NUL}"},
        None,
        id="sender label",
    ),
    pytest.param("POST", "/api/api-keys", {"name": f"orders{NUL}"}, None, id="api key name"),
    pytest.param(
        "POST",
        "/api/webhooks",
        {"url": "https://crm.example.com/hooks", "events": ["message.received"], "description": f"crm{NUL}"},
        None,
        id="webhook description",
    ),
    pytest.param("POST", "/admin/tenants", {"name": f"Initech{NUL}"}, None, id="tenant name"),
]


@pytest.mark.parametrize(("method", "path", "body", "headers"), TEXT_WITH_NUL)
async def test_text_with_a_nul_character_is_refused_with_400_wherever_a_client_sends_it(
    api: Api, method: str, path: str, body: dict[str, Any], headers: dict[str, str] | None
) -> None:
    credential = await (api.bearer("root") if path.startswith("/admin") else api.login(api.acme))

    response = await api.client.request(method, path, json=body, headers={**credential, **(headers or {})})

    problem = assert_problem(response, 400, "validation-failed")
    assert problem["errors"][0]["source"] == "body"


# Moments Python (and so the gateway) cannot turn into UTC: a day's offset past either end of time.
MOMENTS_OUT_OF_RANGE = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]


@pytest.mark.parametrize("moment", MOMENTS_OUT_OF_RANGE)
@pytest.mark.parametrize("name", ["since", "until"])
@pytest.mark.parametrize(
    "path", ["/api/messages", "/api/conversations/+14155550123/messages", "/api/audit", "/admin/audit"]
)
async def test_a_filter_moment_out_of_range_is_refused_with_400(
    api: Api, path: str, name: str, moment: str
) -> None:
    headers = await (api.bearer("root") if path.startswith("/admin") else api.login(api.acme))

    response = await api.client.get(path, params={name: moment}, headers=headers)

    problem = assert_problem(response, 400, "validation-failed")
    assert problem["errors"][0]["field"] == name


def forged_cursor(*parts: str) -> str:
    """A cursor made the way ours are, around parts a client chose."""
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


@pytest.mark.parametrize("moment", MOMENTS_OUT_OF_RANGE)
@pytest.mark.parametrize(
    ("path", "tag"),
    [("/api/messages", None), ("/api/conversations", "c"), ("/api/audit", "a"), ("/admin/audit", "a")],
    ids=["history", "conversations", "audit trail", "every tenant's audit trail"],
)
async def test_a_cursor_with_a_moment_out_of_range_is_refused_with_400(
    api: Api, path: str, tag: str | None, moment: str
) -> None:
    headers = await (api.bearer("root") if path.startswith("/admin") else api.login(api.acme))
    position = (moment, str(uuid4()))
    cursor = forged_cursor(*((tag, *position) if tag else position))

    response = await api.client.get(path, params={"cursor": cursor}, headers=headers)

    assert_problem(response, 400, "invalid-cursor")


async def test_a_tenant_cursor_with_a_nul_character_is_refused_with_400(api: Api) -> None:
    root = await api.bearer("root")

    response = await api.client.get(
        "/admin/tenants", params={"cursor": forged_cursor("t", NUL)}, headers=root
    )

    assert_problem(response, 400, "invalid-cursor")


async def test_a_client_that_hangs_up_mid_body_is_not_logged_as_a_server_error(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    # Raw ASGI: the body starts, then the client disconnects (what wrk does at the end of every run).
    events: Iterator[dict[str, Any]] = iter(
        [
            {"type": "http.request", "body": b'{"username": "al', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )

    async def receive() -> dict[str, Any]:
        return next(events)

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/auth/login",
        "raw_path": b"/auth/login",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"40")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }

    with caplog.at_level(logging.INFO):
        await api.client.app(scope, receive, send)

    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 499
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert any("client disconnected" in record.getMessage() for record in caplog.records)


# A JSON body means what its JSON types say: msgspec's lax coercions (0 for false, "10" for 10) belong to
# query strings, where everything arrives as text.
COERCED = [
    pytest.param("POST", "/api/webhooks", {"enabled": 0}, id="0 for a boolean"),
    pytest.param("POST", "/api/webhooks", {"enabled": "true"}, id="a string for a boolean"),
    pytest.param("POST", "/api/send", {"to_number": "+14155550123", "body": 12}, id="a number for text"),
    pytest.param(
        "PATCH", "/admin/tenants/{tenant_id}", {"sends_per_minute": "10"}, id="a string for a number"
    ),
    pytest.param("PATCH", "/admin/tenants/{tenant_id}", {"session_window_check": 1}, id="1 for a boolean"),
    pytest.param("PATCH", "/admin/tenants/{tenant_id}", {"sends_per_day": 10.0}, id="a float for a number"),
]


@pytest.mark.parametrize(("method", "path", "body"), COERCED)
async def test_a_json_body_value_of_another_json_type_is_refused_with_400(
    api: Api, method: str, path: str, body: dict[str, Any]
) -> None:
    credential = await (api.bearer("root") if path.startswith("/admin") else api.login(api.acme))
    if path == "/api/webhooks":
        body = {"url": "https://crm.example.com/hooks", "events": ["message.received"], **body}

    response = await api.client.request(
        method, path.format(tenant_id=api.acme.tenant.id), json=body, headers=credential
    )

    problem = assert_problem(response, 400, "validation-failed")
    (field,) = problem["errors"]
    assert field["source"] == "body"
    assert field["field"] == next(name for name in body if name not in {"url", "events", "to_number"})


async def test_a_json_body_is_decoded_once_strictly_and_the_route_gets_that_decoding(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = await api.login(api.acme)
    decoded_by_litestar: list[bytes] = []

    def litestars_decoder(value: bytes, *args: Any, **kwargs: Any) -> Any:
        decoded_by_litestar.append(value)
        return decode_json(value, *args, **kwargs)

    monkeypatch.setattr(litestar.connection.request, "decode_json", litestars_decoder)

    sent = await api.send(headers, to_number="+14155550123", body="hi")
    refused = await api.client.post("/api/webhooks", json={"enabled": 0}, headers=headers)

    assert sent.status_code == 201, sent.text
    assert_problem(refused, 400, "validation-failed")
    assert decoded_by_litestar == []
