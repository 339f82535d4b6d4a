"""A claim that skips a busy sender must not read that sender's backlog (PostgreSQL's plan, checked).

Filtering the due-time index would read every skipped job older than the first one the claim may
take — the busy sender's whole backlog, on every poll. The claim walks the queue sender by sender
instead; this seeds a backlog and counts the rows the plan actually reads from the queue.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.database.dispatch_queue import _due_jobs, _due_skipping, _lease_statement
from adapters.database.engine import create_database_engine
from domain.phone import PhoneNumber
from tests.support.databases import UowFactory, empty_all_tables
from tests.support.repositories import OUR_NUMBER, T0
from tests.support.repositories.dispatch import accepted_with_job, claim, tenant_with_sender

pytestmark = pytest.mark.postgres

BACKLOG = 20_000
QUIET_NUMBER = PhoneNumber.parse("+447911123456")


@pytest.fixture
async def engine(postgres_url: str, postgres_admin_url: str) -> AsyncIterator[AsyncEngine]:
    empty_all_tables(postgres_admin_url)
    engine = create_database_engine(postgres_url, pool_size=2, max_overflow=0)
    try:
        yield engine
    finally:
        await engine.dispose()


def seed_backlog(admin_url: str, tenant_id: object) -> None:
    """``BACKLOG`` accepted messages of one sender, each with a due job older than T0."""
    with psycopg.connect(admin_url.replace("postgresql+psycopg://", "postgresql://", 1)) as connection:
        connection.execute(
            "INSERT INTO messages (id, tenant_id, direction, status, sender_number, contact_number, body,"
            " media_urls, created_at, updated_at)"
            " SELECT gen_random_uuid(), %(tenant)s, 'outbound', 'accepted', %(sender)s, '+4915112345678',"
            " 'hi', '[]', %(start)s + g * interval '1 millisecond', %(start)s"
            " FROM generate_series(1, %(count)s) g",
            {
                "tenant": tenant_id,
                "sender": OUR_NUMBER.e164,
                "start": T0 - timedelta(hours=1),
                "count": BACKLOG,
            },
        )
        connection.execute(
            "INSERT INTO dispatch_jobs (message_id, tenant_id, sender_number, phase, attempts,"
            " available_at, created_at)"
            " SELECT id, tenant_id, sender_number, 'send', 0, created_at, created_at FROM messages"
        )
        connection.commit()
        connection.execute("ANALYZE dispatch_jobs")
        connection.execute("ANALYZE senders")


def plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from plan_nodes(child)


def explained(admin_url: str, claim: sa.ClauseElement) -> dict[str, Any]:
    """``claim``'s plan as run (EXPLAIN ANALYZE, rolled back)."""
    statement = claim.compile(
        dialect=sa.create_engine("postgresql+psycopg://").dialect, compile_kwargs={"literal_binds": True}
    )
    with psycopg.connect(admin_url.replace("postgresql+psycopg://", "postgresql://", 1)) as connection:
        row = connection.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}").fetchone()
        connection.rollback()  # EXPLAIN ANALYZE took the row locks
    assert row is not None
    plan = row[0] if isinstance(row[0], list) else json.loads(row[0])
    explanation: dict[str, Any] = plan[0]
    return explanation


def queue_rows_read(admin_url: str) -> tuple[int, set[str]]:
    """Rows the skipping claim's plan reads from dispatch_jobs, and how it reads them."""
    claim = _due_skipping(T0, 50, [OUR_NUMBER.e164], [])
    on_queue = [
        n
        for n in plan_nodes(explained(admin_url, claim)["Plan"])
        if n.get("Relation Name") == "dispatch_jobs"
    ]
    read = sum(
        (n["Actual Rows"] + n.get("Rows Removed by Filter", 0) + n.get("Rows Removed by Index Recheck", 0))
        * n["Actual Loops"]
        for n in on_queue
    )
    return read, {n["Node Type"] for n in on_queue}


async def test_a_claim_skipping_a_busy_sender_takes_the_other_job_without_reading_the_backlog(
    uow_factory: UowFactory, postgres_admin_url: str
) -> None:
    busy, quiet = (
        await tenant_with_sender(uow_factory),
        await tenant_with_sender(uow_factory, numbers=(QUIET_NUMBER,)),
    )
    seed_backlog(postgres_admin_url, busy.id)
    waiting = await accepted_with_job(uow_factory, quiet, due=T0, sender=QUIET_NUMBER)

    read, scans = queue_rows_read(postgres_admin_url)
    claimed = await claim(uow_factory, "a", T0, skip_senders=(OUR_NUMBER,))

    assert [job.message_id for job in claimed] == [waiting.id]
    assert "Seq Scan" not in scans
    assert read < 100, f"read {read} rows of the queue for one job behind a backlog of {BACKLOG}"


async def test_a_claim_leases_the_jobs_it_locked_by_key_without_scanning_the_queue(
    uow_factory: UowFactory, postgres_admin_url: str
) -> None:
    tenant = await tenant_with_sender(uow_factory)
    seed_backlog(postgres_admin_url, tenant.id)

    claim_of_50 = _lease_statement(_due_jobs(T0, 50, (), (), "postgresql"), "a", T0, 30)
    update = explained(postgres_admin_url, claim_of_50)["Plan"]
    # What the UPDATE reads to find the rows it leases (its InitPlan picks and locks them first).
    (scan,) = [n for n in update["Plans"] if n.get("Parent Relationship") != "InitPlan"]
    read = sum(n["Actual Rows"] + n.get("Rows Removed by Filter", 0) for n in plan_nodes(scan))

    assert len(await claim(uow_factory, "a", T0, limit=50)) == 50
    assert all(n["Node Type"] != "Seq Scan" for n in plan_nodes(scan))
    assert read <= 2 * 50, f"read {read} rows of the queue to lease 50 jobs of a backlog of {BACKLOG}"
