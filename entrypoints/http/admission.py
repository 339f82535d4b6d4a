"""Admission control: an API process works on at most so many requests at once.

A request beyond the limit waits its turn (first come, first served) for a short while, then is answered
503 with Retry-After, before anything of it is read or written. Without a bound, overload queues requests
for seconds (behind the database pool, the event loop) until clients time out, which helps nobody: a
quick 503 lets a client, or a load balancer, try again or elsewhere. Probes, metrics scrapes and
long-lived streams (the console's live inbox) are never held back nor counted. Providers' callbacks
(delivery statuses, customers' messages) wait their turn longer: Twilio does not post a status again,
so a callback shed is a status lost, while a client's send refused with 503 is sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol

import msgspec
from litestar.enums import ScopeType
from litestar.handlers import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from entrypoints.http.problems import PROBLEM_BASE, PROBLEM_MEDIA_TYPE, Problem
from entrypoints.http.rate_limits import is_probe

LONG_LIVED_OPT = "long_lived"
PATIENT_OPT = "admission_patient"
# A shed request comes back after this long: by then the requests ahead of it have mostly finished.
SHED_RETRY_AFTER_SECONDS = 1

Timer = Callable[[float], Awaitable[object]]


def long_lived(reason: str) -> dict[str, str]:
    """The ``opt`` of a route whose requests stay open (a stream of events): admission control leaves
    them alone, since each would hold a slot for as long as it is open; ``reason`` says why."""
    return {LONG_LIVED_OPT: reason}


def patient(reason: str) -> dict[str, str]:
    """The ``opt`` of a route whose requests wait their turn for the longer, patient timeout instead of
    being shed after the short one; ``reason`` says why."""
    return {PATIENT_OPT: reason}


class ShedMetrics(Protocol):
    def request_shed(self, reason: str) -> None: ...


class AdmissionGate:
    """At most ``limit`` holders at once; others wait in order, each up to ``queue_timeout_seconds``.

    ``timer`` sleeps the given seconds (``asyncio.sleep``; a fake clock in tests).
    """

    def __init__(self, limit: int, queue_timeout_seconds: float, *, timer: Timer = asyncio.sleep) -> None:
        if limit < 1:
            raise ValueError("the limit is at least one request")
        self._limit = limit
        self._queue_timeout = queue_timeout_seconds
        self._timer = timer
        self._in_flight = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def waiting(self) -> int:
        return sum(1 for turn in self._waiting if not turn.done())

    async def enter(self, queue_timeout_seconds: float | None = None) -> bool:
        """Take a slot: True once taken (call ``leave`` after), False if none came free in time (the
        gate's queue timeout, or ``queue_timeout_seconds`` for this one request)."""
        if self._in_flight < self._limit and not self._waiting:
            self._in_flight += 1
            return True
        timeout = self._queue_timeout if queue_timeout_seconds is None else queue_timeout_seconds
        if timeout <= 0:
            return False
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        deadline = asyncio.ensure_future(self._timer(timeout))
        try:
            await asyncio.wait((turn, deadline), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            # Cancelled while waiting: a slot handed over meanwhile goes on to the next in line.
            self._give_up(turn)
            raise
        finally:
            deadline.cancel()
        if turn.done():
            return True  # the slot was handed over, even if the deadline passed at the same moment
        self._give_up(turn)
        return False

    def leave(self) -> None:
        """Give the slot back: to the first still waiting, or to the pool."""
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)  # the slot passes on as it is: in_flight stays
                return
        self._in_flight -= 1

    def _give_up(self, turn: asyncio.Future[None]) -> None:
        if turn.done() and not turn.cancelled():
            self.leave()
            return
        turn.cancel()
        with contextlib.suppress(ValueError):
            self._waiting.remove(turn)


def is_admission_exempt(handler: BaseRouteHandler | None) -> bool:
    return handler is not None and (is_probe(handler) or bool(handler.opt.get(LONG_LIVED_OPT)))


class AdmissionControl(ASGIMiddleware):
    """Let a request through once it holds a slot of the gate; answer 503 + Retry-After to one that
    waited too long. The slot is given back however the request ends (an answer, an error, the client
    gone)."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, gate: AdmissionGate, metrics: ShedMetrics, *, patient_timeout_seconds: float) -> None:
        self._gate = gate
        self._metrics = metrics
        self._patient_timeout = patient_timeout_seconds

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        handler = scope.get("route_handler")
        if is_admission_exempt(handler):
            await next_app(scope, receive, send)
            return
        waits_longer = handler is not None and bool(handler.opt.get(PATIENT_OPT))
        if not await self._gate.enter(self._patient_timeout if waits_longer else None):
            self._metrics.request_shed("queue-timeout")
            await _answer_overloaded(scope, send)
            return
        try:
            await next_app(scope, receive, send)
        finally:
            self._gate.leave()


async def _answer_overloaded(scope: Scope, send: Send) -> None:
    problem = Problem(
        type=PROBLEM_BASE + "service-unavailable",
        title="Service unavailable",
        status=503,
        detail="the server is busy with other requests; send this one again after Retry-After seconds",
        instance=scope["path"],
    )
    body = msgspec.json.encode(problem)
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(SHED_RETRY_AFTER_SECONDS).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
