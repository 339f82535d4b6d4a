"""Hostile input: oversized, mistyped, malformed, SQL-looking or deeply nested requests get a 4xx
problem (or are stored literally), never a 500."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tests.unit.test_http_api import Api, api, assert_problem

__all__ = ["api"]


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


async def test_null_bytes_in_a_message_body_are_a_4xx_problem_or_stored_literally(api: Api) -> None:
    headers = await api.login(api.acme)
    sent = await api.send(headers, to_number="+14155550123", body="before\x00after")
    assert sent.status_code < 500, sent.text
    if sent.status_code == 201:
        read = await api.client.get(f"/api/messages/{sent.json()['id']}", headers=headers)
        assert read.json()["body"] == "before\x00after"
    else:
        assert sent.headers["content-type"].startswith("application/problem+json")


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
