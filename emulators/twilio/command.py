"""``wa-gateway twilio-emulator``: the options, and running the emulator as a process."""

from __future__ import annotations

import argparse

from emulators.common.command import (
    add_fault_arguments,
    add_listen_arguments,
    fault_options,
    pair,
    run_until_interrupted,
)
from emulators.common.settings import validated
from emulators.twilio.config import ApiKey, CallbackSettings, ContentReview, EmulatorConfig, Faults
from emulators.twilio.server import RunningEmulator, serve

DEFAULT_PORT = 8099
DEFAULT_ACCOUNT_SID = "AC" + "0" * 31 + "1"
DEFAULT_AUTH_TOKEN = "emulator-auth-token"  # noqa: S105 - a well-known development credential


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_listen_arguments(parser, DEFAULT_PORT)
    parser.add_argument(
        "--account",
        action="append",
        default=[],
        type=pair,
        metavar="SID:TOKEN",
        help=f"an account and its auth token (repeatable; default {DEFAULT_ACCOUNT_SID}:"
        f"{DEFAULT_AUTH_TOKEN})",
    )
    parser.add_argument(
        "--api-key",
        action="append",
        default=[],
        type=_triple,
        metavar="KEY_SID:ACCOUNT_SID:SECRET",
        help="an API key of an account (repeatable)",
    )
    parser.add_argument(
        "--sender",
        action="append",
        default=[],
        type=pair,
        metavar="ACCOUNT_SID:+E164",
        help="a From number an account may use (repeatable); an account with none may use any",
    )
    add_fault_arguments(parser, failing="message creations")
    parser.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds of a 429")
    parser.add_argument(
        "--callback-delay-ms", type=float, default=500.0, help="time between two statuses of a message"
    )
    parser.add_argument(
        "--approval-delay",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how long WhatsApp takes to approve (or reject) a template submitted through the Content API",
    )
    parser.add_argument("--seed", type=int, default=None, help="make injected faults reproducible")


def config_from_arguments(args: argparse.Namespace) -> EmulatorConfig:
    """The configuration the options describe; ValueError says what is wrong with them."""
    accounts = dict(args.account) or {DEFAULT_ACCOUNT_SID: DEFAULT_AUTH_TOKEN}
    senders: dict[str, list[str]] = {}
    for account_sid, number in args.sender:
        senders.setdefault(account_sid, []).append(number)
    config = EmulatorConfig(
        accounts=accounts,
        api_keys={key: ApiKey(account_sid=account, secret=secret) for key, account, secret in args.api_key},
        senders={account: tuple(numbers) for account, numbers in senders.items()},
        faults=Faults(**fault_options(args), retry_after_seconds=args.retry_after),
        callbacks=CallbackSettings(step_delay_seconds=args.callback_delay_ms / 1000),
        content_review=ContentReview(approval_delay_seconds=args.approval_delay),
        seed=args.seed,
    )
    return validated(config)


def run(config: EmulatorConfig, host: str, port: int) -> None:
    """Serve until interrupted."""
    run_until_interrupted(serve(config, host, port, on_ready=lambda emulator: _announce(emulator, config)))


def _announce(emulator: RunningEmulator, config: EmulatorConfig) -> None:
    lines = [f"twilio-emulator: serving Twilio's Messages and Content APIs on {emulator.base_url}"]
    lines += [f"  account {sid}  auth token {token}" for sid, token in config.accounts.items()]
    lines += [f"  api key {sid} of {key.account_sid}" for sid, key in config.api_keys.items()]
    lines.append(f"  control API: {emulator.base_url}/_emulator/config (Ctrl-C to stop)")
    print("\n".join(lines), flush=True)


def _triple(text: str) -> tuple[str, str, str]:
    parts = text.split(":", 2)
    if len(parts) != 3 or not all(parts):
        raise argparse.ArgumentTypeError(f"{text!r}: expected KEY_SID:ACCOUNT_SID:SECRET")
    return parts[0], parts[1], parts[2]
