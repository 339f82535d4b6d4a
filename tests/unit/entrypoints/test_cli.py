"""The ``wa-gateway`` command as an operator meets it: its help, what it says when it cannot ask for a
secret, and what ``serve`` hands to its HTTP server (granian or uvicorn)."""

from __future__ import annotations

import argparse
import inspect
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import granian
import pytest
import uvicorn

from entrypoints import cli
from entrypoints.settings import ConfigurationError, load_settings

WA_GATEWAY = str(Path(sys.executable).parent / "wa-gateway")


def parsers_of(parser: argparse.ArgumentParser, name: str = "wa-gateway") -> Iterator[tuple[str, Any]]:
    """(command, parser) for the program and every one of its sub-commands, however deep."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command, subparser in action.choices.items():
                yield from parsers_of(subparser, f"{name} {command}")


def test_every_command_option_and_argument_of_the_cli_has_help() -> None:
    undocumented = []
    for command, parser in parsers_of(cli.build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if isinstance(action, argparse._SubParsersAction):
                undocumented += [f"{command} {sub.dest}" for sub in action._choices_actions if not sub.help]
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                undocumented.append(f"{command} {'/'.join(action.option_strings) or action.dest}")

    assert undocumented == []


def test_the_parser_walk_reaches_every_command() -> None:
    commands = {command for command, _ in parsers_of(cli.build_parser())}

    assert {
        "wa-gateway serve",
        "wa-gateway tenant create",
        "wa-gateway twilio-emulator",
        "wa-gateway meta-emulator",
    } <= commands


def run_without_a_terminal(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The command as a script or a container job runs it: stdin a pipe, no controlling terminal."""
    environment = {key: value for key, value in os.environ.items() if key in {"PATH", "HOME", "LANG"}}
    return subprocess.run(
        [WA_GATEWAY, *args],
        input=stdin,
        cwd=tmp_path,
        env={**environment, "DEMO_DATA": "false"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        start_new_session=True,  # no /dev/tty for getpass to fall back on
    )


TWILIO_TENANT = (
    "tenant",
    "create",
    "Globex",
    "--provider",
    "twilio",
    "--twilio-account-sid",
    "AC" + "1" * 32,
)


@pytest.mark.parametrize(
    ("arguments", "stdin", "expected"),
    [
        pytest.param(TWILIO_TENANT, "", "pipe it in with --secrets-stdin", id="no terminal to ask on"),
        pytest.param(
            (*TWILIO_TENANT, "--secrets-stdin"), "", "stdin has no Twilio auth token", id="nothing on stdin"
        ),
        pytest.param(
            (*TWILIO_TENANT, "--secrets-stdin", "--api-key-sid", "SK" + "2" * 32),
            "an-auth-token\n",
            "stdin has no Twilio API key secret",
            id="the second secret missing",
        ),
        pytest.param(
            ("user", "create", "platform", "root", "--role", "platform_admin"),
            "",
            "pipe it in with --password-stdin",
            id="a password with no terminal to ask on",
        ),
    ],
)
def test_a_secret_the_cli_cannot_read_is_a_usage_error_not_a_traceback(
    tmp_path: Path, arguments: tuple[str, ...], stdin: str, expected: str
) -> None:
    result = run_without_a_terminal(tmp_path, *arguments, stdin=stdin)

    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


Started = list[tuple[str, dict[str, Any]]]


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> Started:
    """Both HTTP servers replaced by recorders: (server, the options serve gave it) for each start."""
    started: Started = []

    def run_uvicorn(app: str, **options: Any) -> None:
        uvicorn.Config(app, **options)  # uvicorn's own Config accepts every option serve passes
        started.append(("uvicorn", {"app": app, **options}))

    class RecordingGranian:
        def __init__(self, target: str, **options: Any) -> None:
            inspect.signature(granian.Granian).bind(target, **options)  # and so does Granian
            started.append(("granian", {"app": target, **options}))

        def serve(self) -> None:
            pass

    monkeypatch.setattr(uvicorn, "run", run_uvicorn)
    monkeypatch.setattr(granian, "Granian", RecordingGranian)
    monkeypatch.setattr(cli, "configure_logging", lambda *_, **__: None)  # this process's logging stays
    return started


def serve(tmp_path: Path, *arguments: str, **environ: str) -> None:
    settings = load_settings(
        environ={"DATA_DIR": str(tmp_path), "DEMO_DATA": "false", **environ}, env_file=None
    )
    cli.cmd_serve(cli.build_parser().parse_args(["serve", *arguments]), settings)


def test_serve_runs_uvicorn_unless_the_option_or_the_setting_names_granian(
    tmp_path: Path, started: Started
) -> None:
    serve(tmp_path)
    serve(tmp_path, HTTP_SERVER="granian")
    serve(tmp_path, "--server", "granian")
    serve(tmp_path, "--server", "uvicorn", HTTP_SERVER="granian")

    assert [server for server, _ in started] == ["uvicorn", "granian", "granian", "uvicorn"]


def test_an_unknown_http_server_setting_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="http_server"):
        load_settings(environ={"DATA_DIR": str(tmp_path), "HTTP_SERVER": "gunicorn"}, env_file=None)


@pytest.mark.parametrize("server", cli.HTTP_SERVERS)
def test_either_server_serves_the_app_factory_on_the_address_with_the_workers_and_no_access_log(
    tmp_path: Path, started: Started, server: str
) -> None:
    serve(tmp_path, "--server", server, "--host", "0.0.0.0", "--port", "8123", "--workers", "3")  # noqa: S104

    ((name, options),) = started
    host = options["host"] if name == "uvicorn" else options["address"]
    access_log = options["access_log"] if name == "uvicorn" else options["log_access"]
    assert (name, options["app"], options["factory"]) == (server, cli.ASGI_APP_FACTORY, True)
    assert (host, options["port"], options["workers"]) == ("0.0.0.0", 8123, 3)  # noqa: S104
    assert access_log is False  # the request middleware logs each request, with its id


def test_granian_replaces_a_worker_that_exits(tmp_path: Path, started: Started) -> None:
    serve(tmp_path, "--server", "granian", "--workers", "2")

    ((_, options),) = started
    assert options["respawn_failed_workers"] is True  # granian's default is to stop the whole server


def test_serve_hands_uvicorn_its_worker_healthcheck_timeout(tmp_path: Path, started: Started) -> None:
    serve(tmp_path, "--server", "uvicorn", "--workers", "2", "--worker-healthcheck-timeout", "45")
    serve(tmp_path, "--server", "uvicorn", "--workers", "2")

    assert [options["timeout_worker_healthcheck"] for _, options in started] == [
        45,
        cli.WORKER_HEALTHCHECK_TIMEOUT_SECONDS,
    ]
    assert uvicorn.Config("app").timeout_worker_healthcheck < cli.WORKER_HEALTHCHECK_TIMEOUT_SECONDS


# What a worker process must not import before it answers its supervisor's first health check.
APPLICATION_MODULES = {"entrypoints.container", "litestar", "sqlalchemy", "psycopg", "twilio"}


def test_a_process_serve_spawns_can_answer_its_health_check_before_loading_the_application() -> None:
    # Each worker process of `serve --workers N` re-runs the `wa-gateway` script, which imports the
    # CLI, before it answers the supervisor; the application is loaded after that.
    code = f"import sys, entrypoints.cli; print(sorted(set(sys.modules) & {APPLICATION_MODULES!r}))"

    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert loaded.stdout.strip() == "[]"
