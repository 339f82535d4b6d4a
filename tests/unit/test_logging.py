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

from application.log_context import log_context
from entrypoints.logging_setup import QUIET_LOGGERS, configure_logging
from entrypoints.settings import load_settings
from tests.unit.test_http_api import Api, api  # noqa: F401 - the fixture

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
    names = (*QUIET_LOGGERS, "uvicorn", "uvicorn.error", "uvicorn.access")
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


async def test_every_line_of_a_request_carries_its_request_id(api: Api, debug_logs: CapturedLogs) -> None:  # noqa: F811
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
    assert {"entrypoints.http.access", "application.use_cases.dispatch"} <= loggers
    (access,) = [line for line in lines if line["logger"] == "entrypoints.http.access"]
    assert (access["route"], access["status"], access["method"]) == ("/api/send", 201, "POST")
    dispatched = [line for line in lines if line["logger"] == "application.use_cases.dispatch"]
    assert all(line["message_id"] == response.json()["id"] and line["job_id"] for line in dispatched)
    assert all(line["level"] in {"debug", "info", "warning", "error", "critical"} for line in lines)
    assert all(line["timestamp"].endswith("Z") for line in lines)


@pytest.mark.parametrize(
    "offered",
    ["has spaces", "x" * 129, "<script>", "semi;colon", ""],
    ids=["spaces", "too-long", "markup", "semicolon", "empty"],
)
async def test_an_unsafe_request_id_is_replaced_by_a_generated_one(
    api: Api,  # noqa: F811
    debug_logs: CapturedLogs,
    offered: str,
) -> None:
    response = await api.client.get("/healthz", headers={"X-Request-ID": offered})

    request_id = response.headers["x-request-id"]
    assert GENERATED_ID.fullmatch(request_id)
    assert {line["request_id"] for line in debug_logs.lines()} == {request_id}


async def test_a_request_without_an_id_gets_a_generated_one(api: Api) -> None:  # noqa: F811
    first = await api.client.get("/healthz")
    second = await api.client.get("/healthz")

    assert GENERATED_ID.fullmatch(first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_error_responses_carry_the_request_id_too(api: Api) -> None:  # noqa: F811
    response = await api.client.post("/api/send", json=BODY, headers={"X-Request-ID": "req-401"})

    assert response.status_code == 401
    assert response.headers["x-request-id"] == "req-401"


# ------------------------------------------------------------------------------ what is never logged


async def test_info_logs_hold_no_message_body_password_or_token(api: Api, info_logs: CapturedLogs) -> None:  # noqa: F811
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


async def test_a_path_no_route_answers_gets_a_request_id_too(api: Api) -> None:  # noqa: F811
    echoed = await api.client.get("/no/such/path", headers={"X-Request-ID": "lost-1"})
    generated = await api.client.get("/no/such/path")

    assert echoed.status_code == 404
    assert echoed.headers["x-request-id"] == "lost-1"
    assert GENERATED_ID.fullmatch(generated.headers["x-request-id"])
