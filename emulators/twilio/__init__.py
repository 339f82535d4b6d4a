"""A Twilio emulator: a real HTTP server speaking Twilio's wire format for WhatsApp messages.

For tests, benchmarks and development without a Twilio account. It stands in for Twilio, so it knows
nothing of the gateway's own code (no domain, application or adapters imports).

    async with running_emulator(EmulatorConfig(accounts={"AC...": "token"})) as emulator:
        ...  # point the Twilio SDK at emulator.base_url; assert on emulator.state

What it serves: ``POST/GET /2010-04-01/Accounts/{sid}/Messages.json``, ``GET .../Messages/{sid}.json``,
the Content API's templates and their WhatsApp approvals (``/v1/Content``, ``/v1/ContentAndApprovals``,
see content.py; point a client's every Twilio domain at ``base_url``), signed status callbacks, signed
inbound messages (with media served at their MediaUrls behind the account's Basic credentials, see
media.py), fault injection, and a JSON control API under
``/_emulator/`` (see control.py). ``wa-gateway twilio-emulator`` runs it as a process.
"""

from emulators.common.settings import FailureKind
from emulators.twilio.app import create_app
from emulators.twilio.callbacks import SIGNATURE_HEADER, sign
from emulators.twilio.config import (
    ApiKey,
    CallbackOrder,
    CallbackSettings,
    ContentReview,
    EmulatorConfig,
    Faults,
    ForcedError,
    MediaFile,
    Stage,
)
from emulators.twilio.server import RunningEmulator, running_emulator, serve
from emulators.twilio.state import (
    ApprovalRecord,
    AuthKind,
    ContentRecord,
    Delivery,
    EmulatorState,
    MediaFetch,
    MediaRecord,
    MessageRecord,
    ReceivedRequest,
)

__all__ = [
    "SIGNATURE_HEADER",
    "ApiKey",
    "ApprovalRecord",
    "AuthKind",
    "CallbackOrder",
    "CallbackSettings",
    "ContentRecord",
    "ContentReview",
    "Delivery",
    "EmulatorConfig",
    "EmulatorState",
    "FailureKind",
    "Faults",
    "ForcedError",
    "MediaFetch",
    "MediaFile",
    "MediaRecord",
    "MessageRecord",
    "ReceivedRequest",
    "RunningEmulator",
    "Stage",
    "create_app",
    "running_emulator",
    "serve",
    "sign",
]
