"""What the emulator knows and how it misbehaves: accounts, senders, callbacks and injected faults.

Every type here is a frozen ``msgspec.Struct`` so the same definitions serve the Python API, the CLI
and the JSON control API (``/_emulator/...``).
"""

from __future__ import annotations

import enum
from typing import Annotated, Self

import msgspec

from emulators.common.settings import FaultSettings, NonNegative

WHATSAPP_PREFIX = "whatsapp:"


def bare_number(address: str) -> str:
    """``whatsapp:+14155238886`` → ``+14155238886``; the key used for per-number settings."""
    text = address.strip()
    return text[len(WHATSAPP_PREFIX) :] if text.lower().startswith(WHATSAPP_PREFIX) else text


class CallbackOrder(enum.StrEnum):
    IN_ORDER = "in_order"
    REVERSED = "reversed"  # every status of a message is posted, last one first
    SHUFFLED = "shuffled"


class Stage(enum.StrEnum):
    """When a forced error shows."""

    REQUEST = "request"  # the API call fails with Twilio's error body
    DELIVERY = "delivery"  # the message is created (201), then fails: a failed/undelivered callback


class ForcedError(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An error forced for one number. Unset fields take what Twilio does for ``code`` (see errors.py)."""

    code: int
    stage: Stage | None = None
    http_status: int | None = None
    message: str | None = None


class Faults(FaultSettings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Misbehaviour, changeable while the emulator runs (``PATCH /_emulator/faults``).

    Latency, random failures of message-creation requests, held requests and dropped connections as
    every emulator has them (``FaultSettings``); a failure of kind ``rate_limited`` is a 429 (code
    20429) with ``Retry-After: retry_after_seconds``, ``server_error`` a 500 (20500), ``unavailable`` a
    503 (20503). ``to_errors``/``from_errors`` force an error for a number (``+E164``, with or without
    ``whatsapp:``). Status callbacks are posted ``1 + duplicate_callbacks`` times each, in
    ``callback_order``. ``media_error_status`` makes every GET of a MediaUrl fail with that status,
    ``content_error_status`` every Content API request.
    """

    retry_after_seconds: Annotated[int, msgspec.Meta(ge=0)] = 1
    to_errors: dict[str, ForcedError] = {}
    from_errors: dict[str, ForcedError] = {}
    duplicate_callbacks: Annotated[int, msgspec.Meta(ge=0, le=10)] = 0
    callback_order: CallbackOrder = CallbackOrder.IN_ORDER
    # Every GET of a MediaUrl is answered with this status (and Twilio's error body) while it is set.
    media_error_status: Annotated[int, msgspec.Meta(ge=400, le=599)] | None = None
    # Every Content API request (content.twilio.com) is answered with this status while it is set.
    content_error_status: Annotated[int, msgspec.Meta(ge=400, le=599)] | None = None

    def error_for(self, *, to: str, from_: str) -> ForcedError | None:
        return self.to_errors.get(bare_number(to)) or self.from_errors.get(bare_number(from_))

    def normalized(self) -> Self:
        """The same faults with every per-number key in bare ``+E164`` form."""
        return msgspec.structs.replace(
            self,
            to_errors={bare_number(k): v for k, v in self.to_errors.items()},
            from_errors={bare_number(k): v for k, v in self.from_errors.items()},
        )


DEFAULT_STATUSES = ("queued", "sent", "delivered", "read")


class CallbackSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How a created message progresses, and how its status callbacks are posted.

    A message goes through ``statuses`` one step every ``step_delay_seconds`` (the first step after one
    delay too), and each step is posted to its StatusCallback, if it has one. A message with a
    delivery-stage forced error goes ``queued`` → ``failed`` (or ``undelivered`` for 30xxx codes).
    """

    statuses: tuple[str, ...] = DEFAULT_STATUSES
    step_delay_seconds: NonNegative = 0.05
    timeout_seconds: Annotated[float, msgspec.Meta(gt=0.0)] = 5.0


class ContentReview(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How WhatsApp reviews a Content resource submitted for approval.

    The decision comes ``approval_delay_seconds`` after the submission, by the emulator's clock
    (``POST /_emulator/clock`` moves it forward): rejected when the template's name starts with
    ``reject_name_prefix`` (with ``rejection_reason``) or its text holds one of ``rejected_words``
    (case-insensitive), approved otherwise.
    """

    approval_delay_seconds: NonNegative = 5.0
    reject_name_prefix: str = "reject_"
    rejected_words: tuple[str, ...] = ()
    rejection_reason: str = "The template does not comply with WhatsApp's Business Policy"


class ApiKey(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A Twilio API key (``SK...``) and its secret, belonging to an account."""

    account_sid: str
    secret: str


class MediaFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A file a customer sends with an inbound message: the emulator serves it at the message's MediaUrl
    (``content`` is base64 in JSON)."""

    content_type: str
    content: bytes


class EmulatorConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The emulator's start-up configuration; ``POST /_emulator/reset`` returns to it.

    ``accounts`` maps account SIDs to auth tokens. ``senders``, when it has an entry for an account,
    lists the only ``From`` numbers that account may use (others get error 63007).
    """

    accounts: dict[str, str] = {}
    api_keys: dict[str, ApiKey] = {}
    senders: dict[str, tuple[str, ...]] = {}
    faults: Faults = msgspec.field(default_factory=Faults)
    callbacks: CallbackSettings = msgspec.field(default_factory=CallbackSettings)
    max_body_length: Annotated[int, msgspec.Meta(gt=0)] = 1600
    max_media: Annotated[int, msgspec.Meta(ge=0)] = 10
    max_records: Annotated[int, msgspec.Meta(gt=0)] = 100_000
    # How long the CDN URL a MediaUrl redirects to stays valid.
    media_url_ttl_seconds: Annotated[float, msgspec.Meta(gt=0.0)] = 300.0
    content_review: ContentReview = msgspec.field(default_factory=ContentReview)
    seed: int | None = None
