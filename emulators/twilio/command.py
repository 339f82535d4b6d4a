"""``wa-gateway twilio-emulator``: the options, and running the emulator as a process."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from emulators.twilio.config import (
    ApiKey,
    CallbackSettings,
    EmulatorConfig,
    FailureKind,
    Faults,
    validated,
)
from emulators.twilio.server import RunningEmulator, serve

DEFAULT_PORT = 8099
DEFAULT_ACCOUNT_SID = "AC" + "0" * 31 + "1"
DEFAULT_AUTH_TOKEN = "emulator-auth-token"  # noqa: S105 - a well-known development credential


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--account",
        action="append",
        default=[],
        type=_pair,
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
        type=_pair,
        metavar="ACCOUNT_SID:+E164",
        help="a From number an account may use (repeatable); an account with none may use any",
    )
    parser.add_argument(
        "--latency-ms", type=_latency, default=0.0, metavar="MS|MIN-MAX", help="delay of every API request"
    )
    parser.add_argument(
        "--failure-rate", type=float, default=0.0, help="share (0-1) of message creations that fail"
    )
    parser.add_argument(
        "--failure-kind",
        action="append",
        default=[],
        choices=[kind.value for kind in FailureKind],
        help="how they fail (repeatable; default rate_limited)",
    )
    parser.add_argument(
        "--create-before-failing",
        action="store_true",
        help="5xx, timeout and drop failures strike after the message was created (a lost answer)",
    )
    parser.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds of a 429")
    parser.add_argument(
        "--callback-delay-ms", type=float, default=500.0, help="time between two statuses of a message"
    )
    parser.add_argument("--seed", type=int, default=None, help="make injected faults reproducible")


def config_from_arguments(args: argparse.Namespace) -> EmulatorConfig:
    """The configuration the options describe; ValueError says what is wrong with them."""
    accounts = dict(args.account) or {DEFAULT_ACCOUNT_SID: DEFAULT_AUTH_TOKEN}
    senders: dict[str, list[str]] = {}
    for account_sid, number in args.sender:
        senders.setdefault(account_sid, []).append(number)
    failure_kinds = tuple(FailureKind(kind) for kind in args.failure_kind) or (FailureKind.RATE_LIMITED,)
    config = EmulatorConfig(
        accounts=accounts,
        api_keys={key: ApiKey(account_sid=account, secret=secret) for key, account, secret in args.api_key},
        senders={account: tuple(numbers) for account, numbers in senders.items()},
        faults=Faults(
            latency_ms=args.latency_ms,
            failure_rate=args.failure_rate,
            failure_kinds=failure_kinds,
            create_before_failing=args.create_before_failing,
            retry_after_seconds=args.retry_after,
        ),
        callbacks=CallbackSettings(step_delay_seconds=args.callback_delay_ms / 1000),
        seed=args.seed,
    )
    return validated(config)


def run(config: EmulatorConfig, host: str, port: int) -> None:
    """Serve until interrupted."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(config, host, port, on_ready=lambda emulator: _announce(emulator, config)))


def _announce(emulator: RunningEmulator, config: EmulatorConfig) -> None:
    lines = [f"twilio-emulator: serving Twilio's Messages API on {emulator.base_url}"]
    lines += [f"  account {sid}  auth token {token}" for sid, token in config.accounts.items()]
    lines += [f"  api key {sid} of {key.account_sid}" for sid, key in config.api_keys.items()]
    lines.append(f"  control API: {emulator.base_url}/_emulator/config (Ctrl-C to stop)")
    print("\n".join(lines), flush=True)


def _pair(text: str) -> tuple[str, str]:
    first, separator, second = text.partition(":")
    if not separator or not first or not second:
        raise argparse.ArgumentTypeError(f"{text!r}: expected two values separated by ':'")
    return first, second


def _triple(text: str) -> tuple[str, str, str]:
    parts = text.split(":", 2)
    if len(parts) != 3 or not all(parts):
        raise argparse.ArgumentTypeError(f"{text!r}: expected KEY_SID:ACCOUNT_SID:SECRET")
    return parts[0], parts[1], parts[2]


def _latency(text: str) -> float | tuple[float, float]:
    low, separator, high = text.partition("-")
    try:
        if not separator:
            return float(text)
        return (float(low), float(high))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: expected milliseconds, or MIN-MAX") from error
