"""What every emulator holds while it runs: its random source, its faults, its background work, and
its record of the API requests it received and the webhooks it posted."""

from __future__ import annotations

import asyncio
import random
from abc import ABC, abstractmethod
from collections import Counter, deque
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from emulators.common.settings import FaultSettings, merged, validated

F = TypeVar("F", bound=FaultSettings)
F_co = TypeVar("F_co", bound=FaultSettings, covariant=True)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(slots=True, kw_only=True)
class RequestRecord:
    """One request to the provider's API, kept for assertions (a provider adds what it received)."""

    id: int
    received_at: datetime
    method: str
    path: str
    outcome: str = "pending"
    http_status: int | None = None
    error_code: int | None = None


@dataclass(slots=True, kw_only=True)
class PostedWebhook:
    """One webhook POST the emulator made, with what came back (a provider adds what it posted)."""

    kind: str
    url: str
    sent_at: datetime
    http_status: int | None = None
    error: str | None = None
    response_body: str = ""


R = TypeVar("R", bound=RequestRecord)
W = TypeVar("W", bound=PostedWebhook)


class StartupConfig(Protocol[F_co]):
    """What the shared state reads of a provider's start-up configuration."""

    @property
    def faults(self) -> F_co: ...

    @property
    def max_records(self) -> int: ...

    @property
    def seed(self) -> int | None: ...


class EmulatorStateBase(ABC, Generic[F, R, W]):
    """The part of a running emulator's state every provider has. Tests may read it directly; change
    it through the methods. ``_load`` takes ``config`` at start-up, and again on ``reset()``."""

    config: StartupConfig[F]
    faults: F

    def __init__(self, config: StartupConfig[F]) -> None:
        self.config = config
        self.rng = random.Random(config.seed)  # noqa: S311 - fault injection, not cryptography
        self.closing = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()
        self._load()

    def _load(self) -> None:
        """Take the start-up settings and forget what was received and posted (a provider adds its own)."""
        config = self.config
        self.faults = config.faults.normalized()
        self._last_request_id = 0
        self._requests: deque[R] = deque(maxlen=config.max_records)
        self._deliveries: deque[W] = deque(maxlen=config.max_records)
        self._stats: Counter[str] = Counter()

    # -- what was received and sent -------------------------------------------------------------

    @property
    @abstractmethod
    def messages(self) -> Mapping[str, object]:
        """The messages the emulator knows, by their provider id."""

    @property
    def requests(self) -> list[R]:
        return list(self._requests)

    @property
    def deliveries(self) -> list[W]:
        return list(self._deliveries)

    @property
    def stats(self) -> Counter[str]:
        return self._stats

    def _next_request_id(self) -> int:
        self._last_request_id += 1
        return self._last_request_id

    def _keep_request(self, record: R) -> R:
        self._requests.append(record)
        self._stats["requests"] += 1
        return record

    def finish_request(
        self, record: R, outcome: str, *, http_status: int | None = None, error_code: int | None = None
    ) -> None:
        record.outcome = outcome
        record.http_status = http_status
        record.error_code = error_code
        self._stats[f"outcome.{outcome}"] += 1
        if error_code is not None:
            self._stats[f"error.{error_code}"] += 1

    def record_delivery(self, delivery: W) -> None:
        self._deliveries.append(delivery)

    # -- behaviour ------------------------------------------------------------------------------

    def set_faults(self, faults: F) -> None:
        """Replace the faults; ValueError (msgspec.ValidationError) if a value is out of range."""
        self.faults = validated(faults).normalized()

    def update_faults(self, **changes: Any) -> F:
        """Change some fault settings, e.g. ``update_faults(failure_rate=0.5)``; the result is validated."""
        self.set_faults(merged(self.faults, changes))
        return self.faults

    # -- background work ------------------------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``work`` in the background; reset() and shutdown cancel it."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def cancel_background(self) -> None:
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def settle(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - a plain deadline
        """Wait until every message's progression and webhook has finished (for tests)."""
        async with asyncio.timeout(timeout):
            while self._background:
                await asyncio.gather(*list(self._background), return_exceptions=True)

    async def reset(self) -> None:
        """Forget everything received, created and posted; return to the start-up configuration."""
        await self.cancel_background()
        self.rng = random.Random(self.config.seed)  # noqa: S311 - fault injection, not cryptography
        self._load()
