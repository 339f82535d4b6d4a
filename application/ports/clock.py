"""The time, so that use cases can be tested at any moment."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable


# Runtime-checkable: an HTTP handler may take the clock as a dependency (Litestar checks it).
@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware in UTC."""
        ...
