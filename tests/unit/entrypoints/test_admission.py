"""Admission control: at most so many requests at once; one that waits too long is answered 503 at once."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, cast

import pytest
from litestar import get, post
from litestar.types import Message, ReceiveMessage, Scope

from adapters.metrics.prometheus import PrometheusMetrics
from entrypoints.http.admission import AdmissionControl, AdmissionGate, long_lived, patient
from entrypoints.http.rate_limits import probe
from entrypoints.settings import ConfigurationError, load_settings

QUEUE_TIMEOUT = 0.5
PATIENT_TIMEOUT = 10.0


class FakeClock:
    """Sleeps that end only when the test moves the clock past them."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    async def sleep(self, seconds: float) -> None:
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + seconds, wake))
        await wake

    async def advance(self, seconds: float) -> None:
        self.now += seconds
        for deadline, wake in self._sleepers:
            if deadline <= self.now and not wake.done():
                wake.set_result(None)
        await settle()


class FakeMetrics:
    def __init__(self) -> None:
        self.shed: list[str] = []

    def request_shed(self, reason: str) -> None:
        self.shed.append(reason)


class HeldApp:
    """An application whose requests run until the test lets them finish (or fail)."""

    def __init__(self) -> None:
        self.started = 0
        self.finished = 0
        self._release: asyncio.Future[BaseException | None] | None = None

    def _gate(self) -> asyncio.Future[BaseException | None]:
        if self._release is None:
            self._release = asyncio.get_running_loop().create_future()
        return self._release

    def finish(self, error: BaseException | None = None) -> None:
        self._gate().set_result(error)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        self.started += 1
        error = await asyncio.shield(self._gate())
        if error is not None:
            raise error
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        self.finished += 1


class Exchange:
    """One request through the middleware, and what it was answered."""

    def __init__(self, middleware: AdmissionControl, app: Any, scope: Scope) -> None:
        self.messages: list[Message] = []
        self.task = asyncio.create_task(middleware.handle(scope, self._receive, self._send, app))

    async def _receive(self) -> ReceiveMessage:
        return {"type": "http.disconnect"}

    async def _send(self, message: Message) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int | None:
        starts = [m for m in self.messages if m["type"] == "http.response.start"]
        return starts[0]["status"] if starts else None

    def header(self, name: str) -> str | None:
        start = next(m for m in self.messages if m["type"] == "http.response.start")
        found = [v.decode() for k, v in start["headers"] if k.decode().lower() == name]
        return found[0] if found else None

    def body(self) -> Any:
        return json.loads(
            b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body")
        )


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


@get("/api/send-like", sync_to_thread=False)
def api_route() -> None: ...


@get("/healthz", opt=probe("probes are never held back"), sync_to_thread=False)
def probe_route() -> None: ...


@get("/events", opt=long_lived("stays open"), sync_to_thread=False)
def stream_route() -> None: ...


@post("/webhooks/status-like", opt=patient("a provider does not post it again"), sync_to_thread=False)
def callback_route() -> None: ...


def scope_for(route: Any = api_route, path: str = "/api/send-like") -> Scope:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": path,
        "route_handler": route,
        "headers": [],
    }
    return cast(Scope, scope)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def metrics() -> FakeMetrics:
    return FakeMetrics()


def control(
    clock: FakeClock, metrics: FakeMetrics, *, limit: int = 1
) -> tuple[AdmissionControl, AdmissionGate]:
    gate = AdmissionGate(limit, QUEUE_TIMEOUT, timer=clock.sleep)
    return AdmissionControl(gate, metrics, patient_timeout_seconds=PATIENT_TIMEOUT), gate


async def test_a_request_that_waits_past_the_queue_timeout_gets_503_problem_with_retry_after(
    clock: FakeClock, metrics: FakeMetrics
) -> None:
    middleware, _ = control(clock, metrics)
    app = HeldApp()
    first = Exchange(middleware, app, scope_for())
    await settle()
    second = Exchange(middleware, app, scope_for())
    await settle()
    await clock.advance(QUEUE_TIMEOUT / 2)
    assert second.status is None  # still waiting its turn

    await clock.advance(QUEUE_TIMEOUT / 2)
    await second.task

    assert second.status == 503
    assert second.header("retry-after") == "1"
    assert second.header("content-type") == "application/problem+json"
    problem = second.body()
    assert problem["type"] == "/problems/service-unavailable"
    assert problem["status"] == 503
    assert problem["instance"] == "/api/send-like"
    assert app.started == 1  # the shed request never reached the application
    assert metrics.shed == ["queue-timeout"]
    app.finish()
    await first.task
    assert first.status == 200


async def test_a_providers_callback_waits_its_turn_longer_than_a_clients_request(
    clock: FakeClock, metrics: FakeMetrics
) -> None:
    middleware, _ = control(clock, metrics)
    app = HeldApp()
    first = Exchange(middleware, app, scope_for())
    await settle()
    callback = Exchange(middleware, app, scope_for(callback_route, "/webhooks/status-like"))
    send = Exchange(middleware, app, scope_for())
    await settle()

    await clock.advance(QUEUE_TIMEOUT)
    await send.task
    assert send.status == 503  # the client's request is shed: the client sends it again
    assert callback.status is None  # the callback still waits: a shed status would be lost

    app.finish()
    await first.task
    await callback.task
    assert callback.status == 200
    assert metrics.shed == ["queue-timeout"]


async def test_a_providers_callback_is_shed_after_the_patient_timeout(
    clock: FakeClock, metrics: FakeMetrics
) -> None:
    middleware, _ = control(clock, metrics)
    app = HeldApp()
    first = Exchange(middleware, app, scope_for())
    await settle()
    callback = Exchange(middleware, app, scope_for(callback_route, "/webhooks/status-like"))
    await settle()

    await clock.advance(PATIENT_TIMEOUT)
    await callback.task

    assert callback.status == 503
    app.finish()
    await first.task


async def test_a_waiting_request_takes_the_slot_a_finished_one_gives_back(
    clock: FakeClock, metrics: FakeMetrics
) -> None:
    middleware, gate = control(clock, metrics)
    app = HeldApp()
    first = Exchange(middleware, app, scope_for())
    await settle()
    second = Exchange(middleware, app, scope_for())
    await settle()

    app.finish()
    await asyncio.gather(first.task, second.task)

    assert (first.status, second.status) == (200, 200)
    assert metrics.shed == []
    assert gate.in_flight == 0


async def test_requests_are_admitted_in_the_order_they_came(clock: FakeClock, metrics: FakeMetrics) -> None:
    gate = AdmissionGate(1, QUEUE_TIMEOUT, timer=clock.sleep)
    assert await gate.enter()
    order: list[str] = []

    async def wait(name: str) -> None:
        assert await gate.enter()
        order.append(name)
        gate.leave()

    waiting = [asyncio.create_task(wait(name)) for name in ("b", "c", "d")]
    await settle()
    gate.leave()
    await asyncio.gather(*waiting)

    assert order == ["b", "c", "d"]
    assert gate.in_flight == 0


async def test_probes_and_long_lived_streams_are_never_held_back_nor_counted(
    clock: FakeClock, metrics: FakeMetrics
) -> None:
    middleware, gate = control(clock, metrics)
    app = HeldApp()
    busy = Exchange(middleware, app, scope_for())
    await settle()
    health = Exchange(middleware, app, scope_for(probe_route, "/healthz"))
    stream = Exchange(middleware, app, scope_for(stream_route, "/events"))
    await settle()

    assert app.started == 3
    assert gate.in_flight == 1
    app.finish()
    await asyncio.gather(busy.task, health.task, stream.task)
    assert metrics.shed == []


async def test_the_slot_is_given_back_when_the_application_fails(
    clock: FakeClock, metrics: FakeMetrics
) -> None:
    middleware, gate = control(clock, metrics)
    app = HeldApp()
    failing = Exchange(middleware, app, scope_for())
    await settle()
    app.finish(RuntimeError("a defect"))

    with pytest.raises(RuntimeError):
        await failing.task
    assert gate.in_flight == 0

    after = Exchange(middleware, HeldApp(), scope_for())
    await settle()
    assert after.status is None  # admitted at once: it runs (its application holds it)
    assert gate.in_flight == 1
    after.task.cancel()


async def test_the_slot_is_given_back_when_the_client_disconnects(
    clock: FakeClock, metrics: FakeMetrics
) -> None:
    middleware, gate = control(clock, metrics)

    async def reads_until_the_client_is_gone(scope: Scope, receive: Any, send: Any) -> None:
        message = await receive()
        assert message["type"] == "http.disconnect"  # nobody to answer: the application just ends

    gone = Exchange(middleware, reads_until_the_client_is_gone, scope_for())
    await gone.task

    assert gone.messages == []
    assert gate.in_flight == 0


async def test_a_request_cancelled_while_running_or_waiting_gives_its_place_back(
    clock: FakeClock, metrics: FakeMetrics
) -> None:
    middleware, gate = control(clock, metrics)
    app = HeldApp()
    running = Exchange(middleware, app, scope_for())
    await settle()
    waiting = Exchange(middleware, app, scope_for())
    await settle()

    waiting.task.cancel()
    running.task.cancel()
    await asyncio.gather(running.task, waiting.task, return_exceptions=True)

    assert gate.in_flight == 0
    assert gate.waiting == 0
    assert await gate.enter()


async def test_with_no_queue_timeout_a_busy_process_refuses_at_once(
    clock: FakeClock, metrics: FakeMetrics
) -> None:
    gate = AdmissionGate(1, 0, timer=clock.sleep)
    assert await gate.enter()
    assert not await gate.enter()
    gate.leave()
    assert await gate.enter()


def test_refused_requests_are_counted_in_the_prometheus_metrics() -> None:
    metrics = PrometheusMetrics()
    metrics.request_shed("queue-timeout")

    text, _ = metrics.exposition()
    assert b'wa_gateway_requests_shed_total{reason="queue-timeout"} 1.0' in text


@pytest.mark.parametrize(
    "setting",
    [
        {"DB_POOL_TIMEOUT_MS": "0"},
        {"REQUEST_QUEUE_TIMEOUT_MS": "-1"},
        {"CALLBACK_QUEUE_TIMEOUT_MS": "-1"},
        {"MAX_CONCURRENT_REQUESTS": "-1"},
    ],
)
def test_bounds_that_cannot_work_are_refused_at_start_up(setting: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        load_settings(environ={"DATA_DIR": str(tmp_path), **setting}, env_file=None)
