"""``wa-gateway meta-emulator``: the options, and running the emulator as a process."""

from __future__ import annotations

import argparse
from pathlib import Path

import msgspec

from emulators.common.command import (
    add_fault_arguments,
    add_listen_arguments,
    fault_options,
    pair,
    run_until_interrupted,
)
from emulators.common.settings import validated
from emulators.meta.config import (
    App,
    Business,
    EmulatorConfig,
    Faults,
    PhoneNumber,
    SessionWindow,
    WebhookSettings,
)
from emulators.meta.server import RunningEmulator, serve

DEFAULT_PORT = 8098
# Well-known development values (numbers in the 555-01xx range are fictional).
DEFAULT_APP_ID = "1000000000000001"
DEFAULT_WABA_ID = "2000000000000001"
DEFAULT_PHONE_NUMBER_ID = "3000000000000001"
DEFAULT_DISPLAY_PHONE_NUMBER = "15550100001"
DEFAULT_ACCESS_TOKEN = "emulator-access-token"  # noqa: S105 - a well-known development credential
DEFAULT_APP_SECRET = "emulator-app-secret"  # noqa: S105 - a well-known development credential
DEFAULT_VERIFY_TOKEN = "emulator-verify-token"  # noqa: S105 - a well-known development credential
DEFAULT_CALLBACK_URL = "http://127.0.0.1:8000/webhooks/meta"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_listen_arguments(parser, DEFAULT_PORT)
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="a JSON file holding the whole configuration (apps, businesses, faults...); "
        "the account options below are then ignored",
    )
    parser.add_argument("--app-id", default=DEFAULT_APP_ID, help="the app's id (default: %(default)s)")
    parser.add_argument(
        "--app-secret",
        default=DEFAULT_APP_SECRET,
        help="the secret webhooks are signed with (default: %(default)s)",
    )
    parser.add_argument(
        "--waba-id", default=DEFAULT_WABA_ID, help="the WhatsApp Business Account id (default: %(default)s)"
    )
    parser.add_argument(
        "--phone-number",
        action="append",
        default=[],
        type=pair,
        metavar="PHONE_NUMBER_ID:DISPLAY_NUMBER",
        help=f"a business phone number (repeatable; default {DEFAULT_PHONE_NUMBER_ID}:"
        f"{DEFAULT_DISPLAY_PHONE_NUMBER})",
    )
    parser.add_argument(
        "--token",
        action="append",
        default=[],
        help=f"an access token of the business (repeatable; default {DEFAULT_ACCESS_TOKEN})",
    )
    parser.add_argument(
        "--expired-token", action="append", default=[], help="a token that answers error 190 (repeatable)"
    )
    parser.add_argument(
        "--callback-url",
        default=DEFAULT_CALLBACK_URL,
        help="where webhooks are posted; empty for nowhere (default: %(default)s)",
    )
    parser.add_argument(
        "--verify-token",
        default=DEFAULT_VERIFY_TOKEN,
        help="the verify token of the webhook handshake (default: %(default)s)",
    )
    parser.add_argument(
        "--enforce-session-window",
        action="store_true",
        help="fail non-template messages (131047) to customers who have not written in 24 hours",
    )
    add_fault_arguments(parser, failing="sends")
    parser.add_argument(
        "--status-delay-ms", type=float, default=500.0, help="time between two statuses of a message"
    )
    parser.add_argument(
        "--media-url-ttl", type=float, default=300.0, help="seconds a media download URL stays valid"
    )
    parser.add_argument("--seed", type=int, default=None, help="make injected faults reproducible")


def config_from_arguments(args: argparse.Namespace) -> EmulatorConfig:
    """The configuration the options describe; ValueError says what is wrong with them."""
    if args.config is not None:
        try:
            return validated(msgspec.json.decode(args.config.read_bytes(), type=EmulatorConfig))
        except (OSError, msgspec.DecodeError) as error:
            raise ValueError(f"--config {args.config}: {error}") from error
    phone_numbers = dict(args.phone_number) or {DEFAULT_PHONE_NUMBER_ID: DEFAULT_DISPLAY_PHONE_NUMBER}
    config = EmulatorConfig(
        apps={
            args.app_id: App(
                secret=args.app_secret, callback_url=args.callback_url or None, verify_token=args.verify_token
            )
        },
        businesses={
            args.waba_id: Business(
                app_id=args.app_id,
                phone_numbers={
                    number_id: PhoneNumber(display_phone_number=display)
                    for number_id, display in phone_numbers.items()
                },
                access_tokens=tuple(args.token) or (DEFAULT_ACCESS_TOKEN,),
                expired_tokens=tuple(args.expired_token),
            )
        },
        faults=Faults(**fault_options(args)),
        webhooks=WebhookSettings(step_delay_seconds=args.status_delay_ms / 1000),
        session_window=SessionWindow(enforced=args.enforce_session_window),
        media_url_ttl_seconds=args.media_url_ttl,
        seed=args.seed,
    )
    return validated(config)


def run(config: EmulatorConfig, host: str, port: int) -> None:
    """Serve until interrupted."""
    run_until_interrupted(serve(config, host, port, on_ready=lambda emulator: _announce(emulator, config)))


def _announce(emulator: RunningEmulator, config: EmulatorConfig) -> None:
    lines = [f"meta-emulator: serving WhatsApp's Cloud API on {emulator.base_url}/v23.0 (any version)"]
    for waba_id, business in config.businesses.items():
        app = config.apps[business.app_id]
        lines.append(f"  business (WABA) {waba_id} of app {business.app_id}, app secret {app.secret}")
        lines += [
            f"    phone number id {number_id}  display number {number.display_phone_number}"
            for number_id, number in business.phone_numbers.items()
        ]
        lines += [f"    access token {token}" for token in business.access_tokens]
        callback = business.callback_url or app.callback_url
        lines.append(f"    webhooks to {callback or '(nowhere)'}  verify token {app.verify_token}")
    lines.append(f"  control API: {emulator.base_url}/_emulator/config (Ctrl-C to stop)")
    print("\n".join(lines), flush=True)
