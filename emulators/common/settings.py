"""Settings every emulator takes, and the faults it can inject.

Every type here is a frozen ``msgspec.Struct`` so the same definitions serve the Python API, the CLI
and the JSON control API (``/_emulator/...``); a provider's settings build on them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Annotated, Any, Self, TypeVar

import msgspec

Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
NonNegative = Annotated[float, msgspec.Meta(ge=0.0)]

S = TypeVar("S", bound=msgspec.Struct)


def validated(value: S) -> S:
    """``value`` checked against its declared constraints (built in Python, a Struct is not checked).

    Raises ValueError (msgspec.ValidationError) naming the offending field.
    """
    return msgspec.convert(msgspec.to_builtins(value), type(value))


def merged(current: S, changes: Mapping[str, Any]) -> S:
    """``current`` with some fields changed, checked like ``validated`` (an unknown field is refused)."""
    return msgspec.convert(msgspec.to_builtins(current) | msgspec.to_builtins(changes), type(current))


class FailureKind(enum.StrEnum):
    """Ways a provider's API request can fail at random (``FaultSettings.failure_rate``)."""

    RATE_LIMITED = "rate_limited"  # HTTP 429 with the provider's throttling code
    SERVER_ERROR = "server_error"  # HTTP 500 with the provider's error body
    UNAVAILABLE = "unavailable"  # HTTP 503 with the provider's error body
    TIMEOUT = "timeout"  # no answer for ``hold_seconds``, then the connection is closed
    DROP = "drop"  # the request is read, then the connection is closed without a response


# Failures that can strike after the message was created (``create_before_failing``); a 429 cannot.
AFTER_CREATION = frozenset(
    {FailureKind.SERVER_ERROR, FailureKind.UNAVAILABLE, FailureKind.TIMEOUT, FailureKind.DROP}
)


class FaultSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Misbehaviour every emulator can inject, changeable while it runs (``PATCH /_emulator/faults``).

    ``latency_ms`` (fixed, or ``[min, max]`` for a uniform range) delays every API request.
    ``failure_rate`` of the requests that create a message fail with one of ``failure_kinds`` (picked
    uniformly; repeat a kind to weight it); with ``create_before_failing`` a 5xx, timeout or dropped
    connection strikes after the message was created, as when the provider's answer is lost. A
    ``timeout`` holds the request ``hold_seconds``.
    """

    # Checked in __post_init__: msgspec mis-validates Meta constraints inside this union.
    latency_ms: float | tuple[float, float] = 0.0
    failure_rate: Probability = 0.0
    failure_kinds: tuple[FailureKind, ...] = (FailureKind.RATE_LIMITED,)
    create_before_failing: bool = False
    hold_seconds: NonNegative = 60.0

    def __post_init__(self) -> None:
        bounds = self.latency_ms if isinstance(self.latency_ms, tuple) else (self.latency_ms,)
        if min(bounds) < 0:
            raise ValueError("latency_ms: a latency is at least 0")
        if bounds[0] > bounds[-1]:
            raise ValueError("latency_ms: the range's minimum is larger than its maximum")
        if not self.failure_kinds:
            raise ValueError("failure_kinds: name at least one kind")

    def strikes_before_creation(self, failure: FailureKind) -> bool:
        """Whether ``failure`` answers the request instead of creating the message."""
        return not (self.create_before_failing and failure in AFTER_CREATION)

    def normalized(self) -> Self:
        """The same faults with every key in the form the provider looks it up by."""
        return self
