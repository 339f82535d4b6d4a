"""A Meta emulator: a real HTTP server speaking the WhatsApp Cloud API (Graph API) wire format.

For tests, benchmarks and development without a Meta app. It stands in for Meta, so it knows nothing
of the gateway's own code (no domain, application or adapters imports).

    async with running_emulator(EmulatorConfig(apps=..., businesses=...)) as emulator:
        ...  # point the client at emulator.base_url; assert on emulator.state

What it serves: ``POST /{version}/{phone-number-id}/messages`` (every message type, mark as read),
``POST /{version}/{phone-number-id}/media``, ``GET``/``DELETE /{version}/{media-id}``, message templates
(``/{version}/{waba-id}/message_templates``: create, list, delete; ``POST /{version}/{template-id}``:
edit) reviewed on the emulator's clock with signed template webhooks, media downloads
that need the bearer token, signed webhooks (statuses, and customers' messages through the inbound
simulation), the verification handshake, fault injection, and a JSON control API under
``/_emulator/`` (see control.py). ``wa-gateway meta-emulator`` runs it as a process.
"""

from emulators.common.settings import FailureKind
from emulators.meta.app import create_app
from emulators.meta.callbacks import SIGNATURE_HEADER, Verification, sign
from emulators.meta.config import (
    App,
    Business,
    EmulatorConfig,
    Faults,
    ForcedError,
    PhoneNumber,
    SessionWindow,
    Stage,
    Template,
    TemplateReview,
    WebhookOrder,
    WebhookSettings,
)
from emulators.meta.inbound import InboundMessage
from emulators.meta.server import RunningEmulator, running_emulator, serve
from emulators.meta.state import (
    AuthKind,
    Delivery,
    EmulatorState,
    InboundRecord,
    MediaRecord,
    MessageRecord,
    ReceivedRequest,
)
from emulators.meta.templates import TemplateRecord

__all__ = [
    "SIGNATURE_HEADER",
    "App",
    "AuthKind",
    "Business",
    "Delivery",
    "EmulatorConfig",
    "EmulatorState",
    "FailureKind",
    "Faults",
    "ForcedError",
    "InboundMessage",
    "InboundRecord",
    "MediaRecord",
    "MessageRecord",
    "PhoneNumber",
    "ReceivedRequest",
    "RunningEmulator",
    "SessionWindow",
    "Stage",
    "Template",
    "TemplateRecord",
    "TemplateReview",
    "Verification",
    "WebhookOrder",
    "WebhookSettings",
    "create_app",
    "running_emulator",
    "serve",
    "sign",
]
