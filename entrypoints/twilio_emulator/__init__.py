"""A Twilio emulator: a real HTTP server speaking Twilio's wire format for WhatsApp messages.

For tests, benchmarks and development without a Twilio account. It stands in for Twilio, so it knows
nothing of the gateway's own code (no domain, application or adapters imports).

    async with running_emulator(EmulatorConfig(accounts={"AC...": "token"})) as emulator:
        ...  # point the Twilio SDK at emulator.base_url; assert on emulator.state

What it serves: ``POST/GET /2010-04-01/Accounts/{sid}/Messages.json``, ``GET .../Messages/{sid}.json``,
signed status callbacks, signed inbound messages, fault injection, and a JSON control API under
``/_emulator/`` (see control.py). ``wa-gateway twilio-emulator`` runs it as a process.
"""

from entrypoints.twilio_emulator.app import create_app
from entrypoints.twilio_emulator.callbacks import SIGNATURE_HEADER, sign
from entrypoints.twilio_emulator.config import (
    ApiKey,
    CallbackOrder,
    CallbackSettings,
    EmulatorConfig,
    FailureKind,
    Faults,
    ForcedError,
    Stage,
)
from entrypoints.twilio_emulator.server import RunningEmulator, running_emulator, serve
from entrypoints.twilio_emulator.state import (
    AuthKind,
    Delivery,
    EmulatorState,
    MessageRecord,
    ReceivedRequest,
)

__all__ = [
    "SIGNATURE_HEADER",
    "ApiKey",
    "AuthKind",
    "CallbackOrder",
    "CallbackSettings",
    "Delivery",
    "EmulatorConfig",
    "EmulatorState",
    "FailureKind",
    "Faults",
    "ForcedError",
    "MessageRecord",
    "ReceivedRequest",
    "RunningEmulator",
    "Stage",
    "create_app",
    "running_emulator",
    "serve",
    "sign",
]
