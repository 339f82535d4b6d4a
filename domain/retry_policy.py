"""The rules of getting a message to the provider: attempts, backoff, and when to give up."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter (delay drawn uniformly from 0..cap), capped per attempt.

    ``max_attempts`` counts every call to the provider, the first one included.
    """

    max_attempts: int = 8
    base_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts is at least 1")

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts

    def delay_after(
        self, attempts: int, *, retry_after: timedelta | None = None, rng: random.Random | None = None
    ) -> timedelta:
        """How long to wait after the ``attempts``-th failed attempt; never less than the provider asked."""
        ceiling: timedelta = min(self.max_delay, self.base_delay * (2 ** max(0, attempts - 1)))
        fraction: float = (rng or random).random()
        jittered = ceiling * fraction
        if retry_after is not None and retry_after > jittered:
            return retry_after
        return jittered
