"""What every emulator's command shares: where it listens, the faults it injects, running until
interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from emulators.common.settings import FailureKind


def add_listen_arguments(parser: argparse.ArgumentParser, default_port: int) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=default_port, help="port to listen on (default: %(default)s)"
    )


def add_fault_arguments(parser: argparse.ArgumentParser, *, failing: str) -> None:
    """The options of the shared faults; ``failing`` names the requests that may fail (plural)."""
    parser.add_argument(
        "--latency-ms", type=latency, default=0.0, metavar="MS|MIN-MAX", help="delay of every API request"
    )
    parser.add_argument("--failure-rate", type=float, default=0.0, help=f"share (0-1) of {failing} that fail")
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


def fault_options(args: argparse.Namespace) -> dict[str, Any]:
    """The shared fault settings the options of ``add_fault_arguments`` describe."""
    failure_kinds = tuple(FailureKind(kind) for kind in args.failure_kind) or (FailureKind.RATE_LIMITED,)
    return {
        "latency_ms": args.latency_ms,
        "failure_rate": args.failure_rate,
        "failure_kinds": failure_kinds,
        "create_before_failing": args.create_before_failing,
    }


def run_until_interrupted(main: Coroutine[Any, Any, None]) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main)


def pair(text: str) -> tuple[str, str]:
    first, separator, second = text.partition(":")
    if not separator or not first or not second:
        raise argparse.ArgumentTypeError(f"{text!r}: expected two values separated by ':'")
    return first, second


def latency(text: str) -> float | tuple[float, float]:
    low, separator, high = text.partition("-")
    try:
        if not separator:
            return float(text)
        return (float(low), float(high))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: expected milliseconds, or MIN-MAX") from error
