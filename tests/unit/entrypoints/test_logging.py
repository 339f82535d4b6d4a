"""Logs: JSON lines through structlog, a request id on every line of a request, no bodies or secrets."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from application.identity import api_keys
from application.log_context import log_context
from domain.identity.credentials import API_KEY_PREFIX, NewApiKeySecret, new_api_key_secret
from domain.messaging.messages import MessageContent
from entrypoints.log_redaction import MAX_LINE_CHARS, REDACTED, redact_text, redacted
from entrypoints.logging_setup import QUIET_LOGGERS, configure_logging
from entrypoints.settings import load_settings
from tests.support.api import Api

BODY = {"to_number": "+14155550123", "body": "Your order has shipped"}
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


class CapturedLogs:
    def __init__(self) -> None:
        self.stream = io.StringIO()

    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text().splitlines() if line.strip()]

    def clear(self) -> None:
        self.stream.seek(0)
        self.stream.truncate()


def _configure(level: str, log_format: str) -> Iterator[CapturedLogs]:
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    names = (*QUIET_LOGGERS, "uvicorn", "uvicorn.error", "uvicorn.access", "_granian", "granian.access")
    saved = {name: (logging.getLogger(name).level, logging.getLogger(name).propagate) for name in names}
    captured = CapturedLogs()
    configure_logging(level, "json" if log_format == "json" else "console", stream=captured.stream)
    try:
        yield captured
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)
        for name, (level_of, propagate) in saved.items():
            logging.getLogger(name).setLevel(level_of)
            logging.getLogger(name).propagate = propagate
        logging.captureWarnings(False)
        structlog.reset_defaults()


@pytest.fixture
def debug_logs() -> Iterator[CapturedLogs]:
    """Everything, down to DEBUG, as JSON lines."""
    yield from _configure("DEBUG", "json")


@pytest.fixture
def info_logs() -> Iterator[CapturedLogs]:
    """What production logs by default: INFO and up, as JSON lines."""
    yield from _configure("INFO", "json")


# ------------------------------------------------------------------------------------ request ids


async def test_every_line_of_a_request_carries_its_request_id(api: Api, debug_logs: CapturedLogs) -> None:
    headers = await api.login(api.acme)
    debug_logs.clear()

    response = await api.client.post(
        "/api/send", json=BODY, headers={**headers, "X-Request-ID": "order-1042.attempt-1"}
    )

    assert response.status_code == 201
    assert response.headers["x-request-id"] == "order-1042.attempt-1"
    lines = debug_logs.lines()
    assert {line["request_id"] for line in lines} == {"order-1042.attempt-1"}, lines
    loggers = {line["logger"] for line in lines}
    # The access line, and the inline dispatch's provider call with its own job id and message id.
    assert {"entrypoints.http.access", "application.messaging.dispatch_message"} <= loggers
    (access,) = [line for line in lines if line["logger"] == "entrypoints.http.access"]
    assert (access["route"], access["status"], access["method"]) == ("/api/send", 201, "POST")
    dispatched = [line for line in lines if line["logger"] == "application.messaging.dispatch_message"]
    assert all(line["message_id"] == response.json()["id"] and line["job_id"] for line in dispatched)
    assert all(line["level"] in {"debug", "info", "warning", "error", "critical"} for line in lines)
    assert all(line["timestamp"].endswith("Z") for line in lines)


@pytest.mark.parametrize(
    "offered",
    ["has spaces", "x" * 129, "<script>", "semi;colon", ""],
    ids=["spaces", "too-long", "markup", "semicolon", "empty"],
)
async def test_an_unsafe_request_id_is_replaced_by_a_generated_one(
    api: Api,
    debug_logs: CapturedLogs,
    offered: str,
) -> None:
    response = await api.client.get("/healthz", headers={"X-Request-ID": offered})

    request_id = response.headers["x-request-id"]
    assert GENERATED_ID.fullmatch(request_id)
    assert {line["request_id"] for line in debug_logs.lines()} == {request_id}


async def test_a_request_without_an_id_gets_a_generated_one(api: Api) -> None:
    first = await api.client.get("/healthz")
    second = await api.client.get("/healthz")

    assert GENERATED_ID.fullmatch(first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_error_responses_carry_the_request_id_too(api: Api) -> None:
    response = await api.client.post("/api/send", json=BODY, headers={"X-Request-ID": "req-401"})

    assert response.status_code == 401
    assert response.headers["x-request-id"] == "req-401"


# ------------------------------------------------------------------------------ what is never logged


async def test_info_logs_hold_no_message_body_password_or_token(api: Api, info_logs: CapturedLogs) -> None:
    headers = await api.login(api.acme)
    body = "secret-order-details-9f2c"

    response = await api.client.post("/api/send", json={**BODY, "body": body}, headers=headers)

    assert response.status_code == 201
    text = info_logs.text()
    assert "provider answered accepted" in text  # the dispatch was logged ...
    assert body not in text  # ... but not what the message said
    assert api.acme.password not in text
    assert headers["Authorization"].removeprefix("Bearer ") not in text


def test_the_twilio_sdk_and_sql_stay_quiet_whatever_the_level(debug_logs: CapturedLogs) -> None:
    for name in ("twilio", "twilio.http_client", "wa_gateway.twilio.http", "sqlalchemy.engine.Engine"):
        assert not logging.getLogger(name).isEnabledFor(logging.INFO), name


# ------------------------------------------------------------------------------------- the setup


def test_stdlib_and_uvicorn_lines_are_rendered_as_json_with_the_bound_context(
    info_logs: CapturedLogs,
) -> None:
    with log_context(request_id="abc"):
        logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
        logging.getLogger("application.somewhere").warning("sender %s paused", "+14155238886")
    logging.getLogger("application.somewhere").info("outside", extra={"message_id": "m-1"})

    first, second, third = info_logs.lines()
    assert first == {**first, "event": "Started server process [42]", "logger": "uvicorn.error"}
    assert (first["request_id"], first["level"]) == ("abc", "info")
    assert (second["event"], second["level"], second["request_id"]) == (
        "sender +14155238886 paused",
        "warning",
        "abc",
    )
    assert "request_id" not in third
    assert third["message_id"] == "m-1"


@pytest.fixture
def info_logs_after_granian_set_up_its_own() -> Iterator[CapturedLogs]:
    """As in `serve --server granian`: granian configures its loggers first (in its constructor, and in
    each worker process), then the app's logging setup runs."""
    from granian.log import LogLevels
    from granian.log import configure_logging as configure_granian_logging

    configure_granian_logging(LogLevels.info)
    yield from _configure("INFO", "json")


def test_granians_lines_come_through_ours_but_not_its_access_lines(
    info_logs_after_granian_set_up_its_own: CapturedLogs,
) -> None:
    logging.getLogger("_granian").info("Spawning worker-%d with PID: %d", 1, 42)
    logging.getLogger("granian.access").info("127.0.0.1 - GET /healthz 200")

    (line,) = info_logs_after_granian_set_up_its_own.lines()
    assert line == {**line, "event": "Spawning worker-1 with PID: 42", "logger": "_granian", "level": "info"}


def test_exceptions_are_one_json_line_with_a_structured_traceback(info_logs: CapturedLogs) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("application.somewhere").exception("it failed")

    (line,) = info_logs.lines()
    assert line["event"] == "it failed"
    assert line["exception"][0]["exc_type"] == "ValueError"


def test_the_console_format_is_readable_lines() -> None:
    for captured in _configure("INFO", "console"):
        with log_context(request_id="req-7"):
            logging.getLogger("application.somewhere").info("hello %s", "there")
        text = captured.text()
        assert "hello there" in text
        assert "request_id=req-7" in text
        assert not text.lstrip().startswith("{")


def test_the_log_format_defaults_to_console_in_development_and_json_in_production(tmp_path: Path) -> None:
    base = {"DATA_DIR": str(tmp_path)}
    production = {
        "ENVIRONMENT": "production",
        "DATABASE_URL": "postgresql://u@h/db",
        "JWT_SECRET": "x" * 40,
        "CREDENTIALS_KEYS": "k",
    }

    assert load_settings(environ=base, env_file=None).resolved_log_format == "console"
    assert load_settings(environ=production, env_file=None).resolved_log_format == "json"
    assert load_settings(environ={**base, "LOG_FORMAT": "json"}, env_file=None).resolved_log_format == "json"


async def test_a_path_no_route_answers_gets_a_request_id_too(api: Api) -> None:
    echoed = await api.client.get("/no/such/path", headers={"X-Request-ID": "lost-1"})
    generated = await api.client.get("/no/such/path")

    assert echoed.status_code == 404
    assert echoed.headers["x-request-id"] == "lost-1"
    assert GENERATED_ID.fullmatch(generated.headers["x-request-id"])


# ----------------------------------------------------------------------- unhandled errors, both formats

SECRET_BODY = "the customer's card ends in 4242, ship to the back door"
NEW_PASSWORD = "a new password nobody may read"


@pytest.fixture(params=["json", "console"])
def error_logs(request: pytest.FixtureRequest) -> Iterator[CapturedLogs]:
    """INFO and up, in each of the two log formats."""
    yield from _configure("INFO", request.param)


def _assert_useful_error_line(logs: CapturedLogs, request_id: str, function: str) -> None:
    """The error line still says what failed, where (file, line, function) and for which request."""
    text = logs.text()
    assert "RuntimeError" in text
    assert "the storage layer broke" in text
    assert function in text
    assert "test_logging.py" in text
    if text.lstrip().startswith("{"):
        (line,) = [line for line in logs.lines() if line.get("exception")]
        assert line["request_id"] == request_id
        (error,) = [e for e in line["exception"] if e["exc_type"] == "RuntimeError"]
        assert error["exc_value"] == "the storage layer broke"
        frame = error["frames"][-1]
        assert (frame["name"], frame["filename"].endswith("test_logging.py")) == (function, True)
        assert isinstance(frame["lineno"], int)
        assert all("locals" not in frame for frame in error["frames"])
    else:
        assert f"request_id={request_id}" in text
        assert 'test_logging.py", line ' in text


def _fail(*_: Any, **__: Any) -> Any:
    raise RuntimeError("the storage layer broke")


async def test_an_unhandled_error_logs_no_token_password_or_body_in_either_format(
    api: Api,
    error_logs: CapturedLogs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    headers = await api.login(api.acme)
    token = headers["Authorization"].removeprefix("Bearer ")
    users = api.database.users
    monkeypatch.setattr(api.database.acceptance, "add", _fail)
    monkeypatch.setattr(users, "add", _fail)
    error_logs.clear()

    sent = await api.client.post(
        "/api/send",
        json={**BODY, "body": SECRET_BODY},
        headers={**headers, "X-Request-ID": "send-1", "Cookie": f"session={token}"},
    )
    created = await api.client.post(
        "/api/users",
        json={"username": "carol", "password": NEW_PASSWORD, "role": "agent"},
        headers={**headers, "X-Request-ID": "user-1"},
    )

    assert (sent.status_code, created.status_code) == (500, 500)
    text = error_logs.text()
    for secret in (token, SECRET_BODY, NEW_PASSWORD, api.acme.password):
        assert secret not in text
    assert "Bearer" not in text
    assert "RuntimeError" in text


async def test_a_failing_login_logs_no_password_in_either_format(
    api: Api,
    error_logs: CapturedLogs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(api.database.users, "get_by_username", _fail)

    response = await api.client.post(
        "/auth/login",
        json={"username": "alice", "password": api.acme.password},
        headers={"X-Request-ID": "login-1"},
    )

    assert response.status_code == 500
    assert api.acme.password not in error_logs.text()
    _assert_useful_error_line(error_logs, "login-1", "_fail")


async def test_a_failing_api_key_creation_logs_no_part_of_the_new_key_in_either_format(
    api: Api,
    error_logs: CapturedLogs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    headers = await api.login(api.acme)
    made: list[NewApiKeySecret] = []

    def remembered_secret() -> NewApiKeySecret:
        made.append(new_api_key_secret())
        return made[-1]

    monkeypatch.setattr(api_keys, "new_api_key_secret", remembered_secret)
    monkeypatch.setattr(api.database.api_keys, "add", _fail)
    error_logs.clear()

    response = await api.client.post(
        "/api/api-keys",
        json={"name": "crm", "role": "agent"},
        headers={**headers, "X-Request-ID": "key-1"},
    )

    assert response.status_code == 500
    (secret,) = made
    text = error_logs.text()
    assert secret.key not in text
    # The random part however it was quoted (it may hold "_" itself: cut after the prefix).
    assert secret.key.removeprefix(f"{API_KEY_PREFIX}{secret.prefix}_") not in text
    assert secret.secret_hash not in text
    _assert_useful_error_line(error_logs, "key-1", "_fail")


def test_secrets_are_redacted_at_any_depth_and_inside_exception_messages(error_logs: CapturedLogs) -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
    api_key = "wag_0123456789ab_" + "k" * 43
    scope = {
        "type": "http",
        "path": "/api/send",
        "headers": [(b"authorization", f"Bearer {token}".encode()), (b"cookie", b"session=s3ss10n")],
    }
    try:
        raise ValueError(f"upstream said: Authorization: Bearer {token}; password='hunter2hunter2' {api_key}")
    except ValueError:
        logging.getLogger("application.somewhere").exception(
            "it failed",
            extra={
                "scope": scope,
                "command": {"user": {"username": "carol", "password": "hunter2hunter2"}, "tags": [api_key]},
                "body": SECRET_BODY,
                "client_secret": "s3cr3t-value",
                "database_url": "postgresql://gateway:dbpa55word@db.internal/gateway",
                "key_id": "0123456789ab",
            },
        )

    text = error_logs.text()
    for secret in (token, "s3ss10n", "hunter2hunter2", api_key, SECRET_BODY, "s3cr3t-value", "dbpa55word"):
        assert secret not in text
    # What identifies things stays: the key's visible prefix, its id, the user, the path, the exception.
    assert "wag_0123456789ab_" in text
    assert "key_id" in text
    assert "carol" in text
    assert "/api/send" in text
    assert "ValueError: upstream said" in text or '"exc_type": "ValueError"' in text


@pytest.mark.parametrize(
    ("text", "credential"),
    [
        ('curl -H "Authorization: Bearer abcdefghijk"', "abcdefghijk"),
        ("Authorization=Bearer longtokenvalue123", "longtokenvalue123"),
        ("proxy said: authorization: basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        ("retrying with basic dXNlcjpwYXNzd29yZA== now", "dXNlcjpwYXNzd29yZA=="),
    ],
    ids=["bearer-after-text", "bearer-after-equals", "lowercase-basic-after-name", "lowercase-basic"],
)
def test_a_credential_after_its_scheme_is_redacted_wherever_it_stands_on_the_line(
    text: str, credential: str
) -> None:
    clean = redact_text(text)

    assert credential not in clean
    assert REDACTED in clean


def test_a_message_body_quoted_in_an_exception_message_is_redacted(error_logs: CapturedLogs) -> None:
    content = MessageContent(body=SECRET_BODY)
    try:
        raise ValueError(
            f"could not store {content!r} for { ({'to_number': '+14155550123', 'body': SECRET_BODY}) }"
        )
    except ValueError:
        logging.getLogger("application.somewhere").exception("it failed")

    text = error_logs.text()
    assert SECRET_BODY not in text
    assert "+14155550123" in text  # what is not secret stays
    assert "ValueError" in text


@pytest.mark.parametrize(
    "name", ["authToken", "accessToken", "refreshToken", "newPassword", "apiKey", "clientSecret", "XApiKey"]
)
def test_camel_case_names_are_split_into_words_like_snake_case_ones(name: str) -> None:
    value = "a-value-nobody-may-read"

    assert redacted({name: value}) == {name: REDACTED}
    assert value not in redact_text(f"sent {name}={value} upstream")


# Names a field may have: each either secret or not, the same way as a field and in free text.
FIELD_NAMES = [
    *("password", "new_password", "passphrase", "client_secret", "access_token", "refresh_tokens"),
    *("authorization", "cookie", "credentials", "signature", "jwt", "body", "message_bodies"),
    *("api_key", "private_key", "auth_key", "x-api-key", "AccessToken", "accesstoken", "apikey"),
    *("key_id", "to_number", "username", "tenant_id", "request_id", "status", "tokenizer", "route"),
]


@pytest.mark.parametrize("name", FIELD_NAMES)
def test_a_name_is_secret_or_not_the_same_way_as_a_field_and_in_free_text(name: str) -> None:
    value = "value-of-the-field-1234"

    secret_as_field = redacted({name: value}) == {name: REDACTED}
    secret_in_text = value not in redact_text(f"failed with {name}={value}")
    secret_quoted = value not in redact_text(repr({name: value}))

    assert secret_as_field == secret_in_text == secret_quoted, (
        secret_as_field,
        secret_in_text,
        secret_quoted,
    )


def test_camel_case_and_run_together_secret_names_are_secret_and_ids_are_not() -> None:
    secret = ["jwt", "body", "private_key", "auth_key", "accessToken", "newpassword", "apikey", "AccessToken"]
    kept = ["key_id", "keyId", "to_number", "tokenizer", "username", "request_id"]

    assert redacted(dict.fromkeys(secret, "v")) == dict.fromkeys(secret, REDACTED)
    assert redacted(dict.fromkeys(kept, "v")) == dict.fromkeys(kept, "v")


def test_a_log_line_is_bounded_and_says_it_was_cut(error_logs: CapturedLogs) -> None:
    huge = "x" * 200_000
    try:
        raise RuntimeError("y" * 100_000)
    except RuntimeError:
        logging.getLogger("application.somewhere").exception(
            "something enormous", extra={"request_id": "big-1", "a": huge, "b": huge, "c": [huge] * 5}
        )

    text = error_logs.text()
    assert len(text) <= MAX_LINE_CHARS + 1  # and its newline
    assert "truncated" in text or "cut]" in text
    assert "big-1" in text
    assert "RuntimeError" in text
    if text.lstrip().startswith("{"):
        (line,) = error_logs.lines()  # still one valid JSON object
        assert line["event"] == "something enormous"
        assert line["exception"][0]["exc_type"] == "RuntimeError"


def test_an_overlong_traceback_keeps_the_head_of_the_line_and_the_exception_at_its_end() -> None:
    def chained(depth: int) -> None:
        try:
            if depth:
                chained(depth - 1)
            raise KeyError("the first failure")
        except Exception as error:
            raise RuntimeError(f"wrapped {depth}: " + "w" * 2_000) from error

    for captured in _configure("INFO", "console"):
        try:
            chained(15)
        except RuntimeError:
            logging.getLogger("application.somewhere").exception("head of the line")
        text = captured.text()
        assert len(text) <= MAX_LINE_CHARS + 1
        assert "head of the line" in text
        assert "log line truncated" in text
        assert text.rstrip().endswith("RuntimeError: wrapped 15: " + "w" * 2_000)
