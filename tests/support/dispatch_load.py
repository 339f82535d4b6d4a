"""Load for the dispatch tests, and the audit that says whether every message was sent exactly once.

Each planned message carries a token of our own in its body, so what the emulator created can be
matched to what the API accepted without trusting anything the gateway stored. The audit holds for
either provider's emulator (tests/support/provider_emulators.py).
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg

from tests.support.provider_emulators import CreatedMessage, EmulatorProcess

TOKEN = re.compile(r"\btoken=([0-9a-f]{32})\b")
# The answers a client retries (with the same Idempotency-Key): the gateway is unavailable (503), the
# first attempt with this key is still being processed (409), or no answer at all.
RETRIED_STATUSES = frozenset({409, 503})


def contacts(count: int) -> list[str]:
    return [f"+1415555{n:04d}" for n in range(count)]


@dataclass(frozen=True, slots=True)
class PlannedMessage:
    token: str
    to: str
    body: str


def plan_messages(count: int, to: Sequence[str], label: str) -> list[PlannedMessage]:
    planned = []
    for n in range(count):
        token = uuid.uuid4().hex
        planned.append(PlannedMessage(token=token, to=to[n % len(to)], body=f"{label} #{n} token={token}"))
    return planned


def token_of(body: str) -> str | None:
    match = TOKEN.search(body)
    return match.group(1) if match else None


@dataclass
class LoadRun:
    """What the clients saw, updated live while the load runs."""

    accepted: dict[str, str] = field(default_factory=dict)  # token → message id
    answers: Counter[int] = field(default_factory=Counter)  # every HTTP answer, retries included
    transport_errors: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)  # answers that break the contract
    given_up: list[str] = field(default_factory=list)  # tokens never accepted by the deadline
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def server_errors(self) -> int:
        """5xx answers other than 503: never acceptable."""
        return sum(count for status, count in self.answers.items() if status >= 500 and status != 503)


async def send_messages(
    api_urls: Sequence[str],
    headers: dict[str, str],
    planned: Sequence[PlannedMessage],
    *,
    concurrency: int,
    deadline: float,
    idempotency_keys: bool = False,
    retry: bool = False,
    run: LoadRun | None = None,
) -> LoadRun:
    """POST every planned message with ``Prefer: respond-async``, round-robin over ``api_urls``.

    With ``retry``, a 503, a 409 or a transport error is retried (same Idempotency-Key) until accepted
    or ``deadline`` (time.monotonic()) passes; without it, anything but 202 is recorded as given up.
    """
    run = run or LoadRun()
    queue: asyncio.Queue[tuple[int, PlannedMessage]] = asyncio.Queue()
    for index, message in enumerate(planned):
        queue.put_nowait((index, message))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits, trust_env=False) as client:

        async def one(index: int, message: PlannedMessage) -> None:
            request_headers = {**headers, "Prefer": "respond-async"}
            if idempotency_keys:
                request_headers["Idempotency-Key"] = f"load-{message.token}"
            attempt = 0
            while True:
                url = api_urls[(index + attempt) % len(api_urls)]
                attempt += 1
                try:
                    response = await client.post(
                        f"{url}/api/send",
                        json={"to_number": message.to, "body": message.body},
                        headers=request_headers,
                    )
                except httpx.TransportError as error:
                    run.transport_errors[type(error).__name__] += 1
                    status = None
                else:
                    status = response.status_code
                    run.answers[status] += 1
                    if status == 202:
                        run.accepted[message.token] = response.json()["id"]
                        return
                    if status not in RETRIED_STATUSES:
                        run.unexpected.append(f"{status} {response.text[:300]}")
                        if status < 500:
                            run.given_up.append(message.token)
                            return
                if not retry or time.monotonic() > deadline:
                    run.given_up.append(message.token)
                    return
                await asyncio.sleep(min(1.0, 0.1 * attempt))

        async def client_loop() -> None:
            while True:
                try:
                    index, message = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await one(index, message)

        await asyncio.gather(*(client_loop() for _ in range(concurrency)))
    run.finished = time.monotonic()
    return run


# -- the audit -------------------------------------------------------------------------------------


async def eventually(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:  # noqa: ASYNC109
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)


def libpq_url(database_url: str) -> str:
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


@dataclass(frozen=True, slots=True)
class QueueState:
    outbound: int
    pending: int  # messages still ``accepted``: not handed to the provider, not failed
    jobs: int


async def queue_state(database_url: str) -> QueueState:
    async with await psycopg.AsyncConnection.connect(libpq_url(database_url), connect_timeout=5) as db:
        row = await (
            await db.execute(
                "SELECT count(*), count(*) FILTER (WHERE status = 'accepted') FROM messages "
                "WHERE direction = 'outbound'"
            )
        ).fetchone()
        jobs = await (await db.execute("SELECT count(*) FROM dispatch_jobs")).fetchone()
    assert row is not None
    assert jobs is not None
    return QueueState(outbound=row[0], pending=row[1], jobs=jobs[0])


async def wait_until_drained(database_url: str, timeout: float) -> tuple[QueueState, float]:  # noqa: ASYNC109
    """Poll until no message is pending and no job is left, or ``timeout`` passes."""
    started = time.monotonic()
    while True:
        try:
            state = await queue_state(database_url)
        except psycopg.OperationalError:
            state = QueueState(outbound=-1, pending=-1, jobs=-1)
        if state.pending == 0 and state.jobs == 0:
            return state, time.monotonic() - started
        if time.monotonic() - started > timeout:
            return state, time.monotonic() - started
        await asyncio.sleep(0.5)


@dataclass
class Audit:
    accepted: int  # messages the API accepted (202)
    stored: int  # outbound messages in the database
    statuses: dict[str, int]
    pending: int
    jobs_left: int
    emulator_created: int  # messages the emulator created, all of them
    created_after_failure: int  # created, but the answer was lost (500/503/timeout/dropped)
    lost_answers_settled: int  # of those, how many the gateway tied to their provider id, not failed
    sent_once: int
    duplicates: dict[str, int]  # token → times the emulator created it (> 1)
    missing: list[str]  # accepted, not failed, and never created at the emulator
    sid_mismatches: list[str]  # stored provider_sid names another message at the emulator
    callback_mismatches: list[str]  # created carrying another message's id (Meta's callback data)
    strangers: int  # created at the emulator without a token we planned
    created_but_failed: list[str]  # tokens the emulator created that the gateway holds as failed
    reported_but_failed: list[str]  # of those, the ones whose status webhook reached the gateway
    unconfirmed: int  # failed as never confirmed: no answer to the send, no status report after it

    def problems(self) -> list[str]:
        found = []
        if self.pending or self.jobs_left:
            found.append(f"{self.pending} message(s) still accepted, {self.jobs_left} job(s) left")
        if self.duplicates:
            shown = dict(list(self.duplicates.items())[:10])
            found.append(f"{len(self.duplicates)} message(s) created more than once at the emulator: {shown}")
        if self.missing:
            found.append(
                f"{len(self.missing)} accepted message(s) never reached the emulator: {self.missing[:10]}"
            )
        if self.sid_mismatches:
            found.append(f"{len(self.sid_mismatches)} SID mismatch(es): {self.sid_mismatches[:10]}")
        if self.callback_mismatches:
            found.append(
                f"{len(self.callback_mismatches)} message(s) sent with another message's id: "
                f"{self.callback_mismatches[:10]}"
            )
        if self.strangers:
            found.append(f"{self.strangers} message(s) at the emulator that no client planned")
        return found

    def summary(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "stored": self.stored,
            "statuses": self.statuses,
            "pending": self.pending,
            "jobs_left": self.jobs_left,
            "emulator_created": self.emulator_created,
            "created_after_failure": self.created_after_failure,
            "lost_answers_settled": self.lost_answers_settled,
            "sent_exactly_once": self.sent_once,
            "duplicates": len(self.duplicates),
            "duplicate_tokens": dict(list(self.duplicates.items())[:20]),
            "missing": len(self.missing),
            "failed": self.statuses.get("failed", 0),
            "failed_unconfirmed": self.unconfirmed,
            "created_but_failed": len(self.created_but_failed),
            "reported_but_failed": len(self.reported_but_failed),
            "sid_mismatches": len(self.sid_mismatches),
            "callback_mismatches": len(self.callback_mismatches),
        }


async def audit(
    database_url: str, emulator: EmulatorProcess, accepted: dict[str, str], planned_tokens: set[str]
) -> Audit:
    async with await psycopg.AsyncConnection.connect(libpq_url(database_url), connect_timeout=5) as db:
        rows = await (
            await db.execute(
                "SELECT id::text, body, status, provider_sid, error_message FROM messages "
                "WHERE direction = 'outbound'"
            )
        ).fetchall()
        jobs = await (await db.execute("SELECT count(*) FROM dispatch_jobs")).fetchone()
    assert jobs is not None
    created: list[CreatedMessage] = await emulator.created_messages()
    per_token: Counter[str] = Counter()
    token_of_sid: dict[str, str | None] = {}
    strangers = 0
    for message in created:
        token = token_of(message.body)
        token_of_sid[message.sid] = token
        if token is None or token not in planned_tokens:
            strangers += 1
        if token is not None:
            per_token[token] += 1
    statuses: Counter[str] = Counter(row[2] for row in rows)
    stored_by_token = {token_of(row[1]): row for row in rows}
    missing = [
        token
        for token in accepted
        if per_token[token] == 0 and (token not in stored_by_token or stored_by_token[token][2] != "failed")
    ]
    mismatches = [
        f"{row[0]}: {row[3]}"
        for row in rows
        if row[3] is not None and row[3] in token_of_sid and token_of_sid[row[3]] != token_of(row[1])
    ]
    callback_mismatches = [
        f"{message.sid}: {message.callback_data}"
        for message in created
        if message.callback_data is not None
        and message.callback_data != accepted.get(token_of(message.body) or "")
    ]
    failed_at_the_gateway = [
        (message, token)
        for message in created
        if (token := token_of(message.body)) in stored_by_token and stored_by_token[token][2] == "failed"
    ]
    settled = sum(
        1
        for message in created
        if message.outcome != "created"
        and (row := stored_by_token.get(token_of(message.body))) is not None
        and row[3] == message.sid
        and row[2] != "failed"
    )
    return Audit(
        accepted=len(accepted),
        stored=len(rows),
        statuses=dict(sorted(statuses.items())),
        pending=statuses.get("accepted", 0),
        jobs_left=jobs[0],
        emulator_created=len(created),
        created_after_failure=sum(1 for message in created if message.outcome != "created"),
        lost_answers_settled=settled,
        sent_once=sum(1 for count in per_token.values() if count == 1),
        duplicates={token: count for token, count in per_token.items() if count > 1},
        missing=missing,
        sid_mismatches=mismatches,
        callback_mismatches=callback_mismatches,
        strangers=strangers,
        created_but_failed=[token for _, token in failed_at_the_gateway if token is not None],
        reported_but_failed=[token for message, token in failed_at_the_gateway if token and message.reported],
        unconfirmed=sum(1 for row in rows if row[2] == "failed" and "never confirmed" in (row[4] or "")),
    )
