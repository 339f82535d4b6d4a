"""What the emulator knows and how it misbehaves: accounts, senders, callbacks and injected faults.

Every type here is a frozen ``msgspec.Struct`` so the same definitions serve the Python API, the CLI
and the JSON control API (``/_emulator/...``).
"""

from __future__ import annotations

import enum
from typing import Annotated, TypeVar

import msgspec

Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
NonNegative = Annotated[float, msgspec.Meta(ge=0.0)]

WHATSAPP_PREFIX = "whatsapp:"

S = TypeVar("S", bound=msgspec.Struct)


def bare_number(address: str) -> str:
    """``whatsapp:+14155238886`` → ``+14155238886``; the key used for per-number settings."""
    text = address.strip()
    return text[len(WHATSAPP_PREFIX) :] if text.lower().startswith(WHATSAPP_PREFIX) else text


class FailureKind(enum.StrEnum):
    """Ways a message-creation request can fail at random (``Faults.failure_rate``)."""

    RATE_LIMITED = "rate_limited"  # HTTP 429, code 20429, with a Retry-After header
    SERVER_ERROR = "server_error"  # HTTP 500, code 20500
    UNAVAILABLE = "unavailable"  # HTTP 503, code 20503
    TIMEOUT = "timeout"  # no answer for ``hold_seconds``, then the connection is closed
    DROP = "drop"  # the request is read, then the connection is closed without a response


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


class Faults(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Misbehaviour, changeable while the emulator runs (``PATCH /_emulator/faults``).

    ``latency_ms`` (fixed, or ``[min, max]`` for a uniform range) delays every Twilio API request.
    ``failure_rate`` of the message-creation requests fail with one of ``failure_kinds`` (picked
    uniformly; repeat a kind to weight it); with ``create_before_failing`` a 5xx, timeout or dropped
    connection strikes after the message was created, as when Twilio's answer is lost.
    ``to_errors``/``from_errors`` force an error for a number (``+E164``, with or without
    ``whatsapp:``). Status callbacks are posted ``1 + duplicate_callbacks`` times each, in
    ``callback_order``. ``media_error_status`` makes every GET of a MediaUrl fail with that status.
    """

    # Checked in __post_init__: msgspec 0.22 mis-validates Meta constraints inside this union.
    latency_ms: float | tuple[float, float] = 0.0
    failure_rate: Probability = 0.0
    failure_kinds: tuple[FailureKind, ...] = (FailureKind.RATE_LIMITED,)
    create_before_failing: bool = False
    retry_after_seconds: Annotated[int, msgspec.Meta(ge=0)] = 1
    hold_seconds: NonNegative = 60.0
    to_errors: dict[str, ForcedError] = {}
    from_errors: dict[str, ForcedError] = {}
    duplicate_callbacks: Annotated[int, msgspec.Meta(ge=0, le=10)] = 0
    callback_order: CallbackOrder = CallbackOrder.IN_ORDER
    # Every GET of a MediaUrl is answered with this status (and Twilio's error body) while it is set.
    media_error_status: Annotated[int, msgspec.Meta(ge=400, le=599)] | None = None

    def __post_init__(self) -> None:
        bounds = self.latency_ms if isinstance(self.latency_ms, tuple) else (self.latency_ms,)
        if min(bounds) < 0:
            raise ValueError("latency_ms: a latency is at least 0")
        if bounds[0] > bounds[-1]:
            raise ValueError("latency_ms: the range's minimum is larger than its maximum")
        if not self.failure_kinds:
            raise ValueError("failure_kinds: name at least one kind")

    def error_for(self, *, to: str, from_: str) -> ForcedError | None:
        return self.to_errors.get(bare_number(to)) or self.from_errors.get(bare_number(from_))

    def normalized(self) -> Faults:
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
    seed: int | None = None


def validated(value: S) -> S:
    """``value`` checked against its declared constraints (built in Python, a Struct is not checked).

    Raises ValueError (msgspec.ValidationError) naming the offending field.
    """
    return msgspec.convert(msgspec.to_builtins(value), type(value))
