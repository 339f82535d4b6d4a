"""Running a transaction again when the database gave it up for a concurrent one."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from application.errors import TransactionConflict

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ConflictRetry:
    """Run a transaction, and again (``attempts`` times in all) while it ends in TransactionConflict.

    Between attempts it waits a random pause below a bound that doubles each time, from
    ``first_pause_seconds`` up to ``max_pause_seconds`` ("full jitter"): transactions that collided
    once start again at different moments instead of colliding again in step. When the last attempt
    conflicts too, its TransactionConflict is raised (an HTTP caller gets a 409).

    Give it only what is safe to run twice: a function that opens its own unit of work and does
    nothing outside the database (no provider call, no webhook), so that a rolled-back attempt left
    nothing behind.
    """

    attempts: int = 5
    first_pause_seconds: float = 0.01
    max_pause_seconds: float = 0.25
    rng: Callable[[], float] = random.random
    sleep: Callable[[float], Awaitable[object]] = field(default=asyncio.sleep)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("a transaction is attempted at least once")

    async def run(self, transaction: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(1, self.attempts):
            try:
                return await transaction()
            except TransactionConflict as conflict:
                bound = min(self.max_pause_seconds, self.first_pause_seconds * 2 ** (attempt - 1))
                pause = self.rng() * bound
                logger.info(
                    "transaction conflicted with a concurrent one (%s); attempt %d of %d in %.0f ms",
                    conflict.detail,
                    attempt + 1,
                    self.attempts,
                    pause * 1000,
                )
                await self.sleep(pause)
        try:
            return await transaction()
        except TransactionConflict:
            logger.warning("transaction still conflicted after %d attempts: given up", self.attempts)
            raise
