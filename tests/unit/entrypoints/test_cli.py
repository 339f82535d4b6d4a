"""The ``wa-gateway`` command as an operator meets it: its help, what it says when it cannot ask for a
secret, and what ``serve`` hands to uvicorn."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from entrypoints import cli
from entrypoints.settings import load_settings

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


def test_serve_hands_uvicorn_its_worker_healthcheck_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[dict[str, Any]] = []

    def run_uvicorn(app: str, **options: Any) -> None:
        uvicorn.Config(app, **options)  # uvicorn's own Config accepts every option serve passes
        started.append(options)

    monkeypatch.setattr(uvicorn, "run", run_uvicorn)
    settings = load_settings(environ={"DATA_DIR": str(tmp_path), "DEMO_DATA": "false"}, env_file=None)
    parser = cli.build_parser()

    cli.cmd_serve(
        parser.parse_args(["serve", "--workers", "2", "--worker-healthcheck-timeout", "45"]), settings
    )
    cli.cmd_serve(parser.parse_args(["serve", "--workers", "2"]), settings)

    assert [options["timeout_worker_healthcheck"] for options in started] == [
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
