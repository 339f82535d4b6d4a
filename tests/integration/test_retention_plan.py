"""A redaction batch must not read the rows redacted before it (PostgreSQL's plan, checked).

After a year of redactions most of a tenant's old messages are redacted already; a batch that found
its candidates by scanning the tenant's messages by time would read all of them every round. The
partial index ix_messages_retention holds only the unredacted ones: this seeds a large redacted past
and counts the rows the plan actually reads from messages.
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

from adapters.database.engine import create_database_engine
from adapters.database.retention import expired_messages
from domain.messaging.retention import RetentionMode, RetentionPolicy
from tests.support.databases import UowFactory, empty_all_tables
from tests.support.repositories import OUR_NUMBER, T0
from tests.support.repositories.dispatch import tenant_with_sender

pytestmark = pytest.mark.postgres

REDACTED_PAST = 20_000
WAITING = 30
BATCH = 10
NOW = T0 + timedelta(days=400)


@pytest.fixture
async def engine(postgres_url: str, postgres_admin_url: str) -> AsyncIterator[AsyncEngine]:
    empty_all_tables(postgres_admin_url)
    engine = create_database_engine(postgres_url, pool_size=2, max_overflow=0)
    try:
        yield engine
    finally:
        await engine.dispose()


def seed(admin_url: str, tenant_id: object) -> None:
    """``REDACTED_PAST`` old messages redacted already, then ``WAITING`` old ones that are not."""
    with psycopg.connect(admin_url.replace("postgresql+psycopg://", "postgresql://", 1)) as connection:
        for count, redacted_at, start in (
            (REDACTED_PAST, NOW - timedelta(days=1), T0),
            (WAITING, None, T0 + timedelta(days=10)),
        ):
            connection.execute(
                "INSERT INTO messages (id, tenant_id, direction, status, sender_number, contact_number, body,"
                " media_urls, created_at, updated_at, redacted_at)"
                " SELECT gen_random_uuid(), %(tenant)s, 'outbound', 'read', %(sender)s, '+4915112345678',"
                " '', '[]', %(start)s + g * interval '1 second', %(start)s, %(redacted_at)s"
                " FROM generate_series(1, %(count)s) g",
                {
                    "tenant": tenant_id,
                    "sender": OUR_NUMBER.e164,
                    "start": start,
                    "count": count,
                    "redacted_at": redacted_at,
                },
            )
        connection.commit()
        connection.execute("ANALYZE messages")


def plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from plan_nodes(child)


def explained(admin_url: str, statement: sa.ClauseElement) -> dict[str, Any]:
    """``statement``'s plan as run (EXPLAIN ANALYZE, rolled back)."""
    compiled = statement.compile(
        dialect=sa.create_engine("postgresql+psycopg://").dialect, compile_kwargs={"literal_binds": True}
    )
    with psycopg.connect(admin_url.replace("postgresql+psycopg://", "postgresql://", 1)) as connection:
        row = connection.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {compiled}").fetchone()
        connection.rollback()  # EXPLAIN ANALYZE took the row locks
    assert row is not None
    plan = row[0] if isinstance(row[0], list) else json.loads(row[0])
    explanation: dict[str, Any] = plan[0]
    return explanation


async def test_a_redaction_batch_reads_the_unredacted_candidates_only(
    uow_factory: UowFactory, postgres_admin_url: str
) -> None:
    tenant = await tenant_with_sender(uow_factory)
    seed(postgres_admin_url, tenant.id)
    policy = RetentionPolicy(tenant_id=tenant.id, days=30, mode=RetentionMode.REDACT, updated_at=T0)

    pick = expired_messages(
        tenant.id, policy.horizon(NOW), BATCH, unredacted_only=True, dialect_name="postgresql"
    )
    on_messages = [
        node
        for node in plan_nodes(explained(postgres_admin_url, pick)["Plan"])
        if node.get("Relation Name") == "messages"
    ]
    read = sum(
        (n["Actual Rows"] + n.get("Rows Removed by Filter", 0)) * n["Actual Loops"] for n in on_messages
    )
    async with uow_factory() as uow:
        batch = await uow.retention.redact_expired(policy, NOW, BATCH)
        await uow.commit()

    assert batch.counts["messages"] == BATCH
    assert {node["Node Type"] for node in on_messages} <= {
        "Index Scan",
        "Index Only Scan",
        "Bitmap Heap Scan",
    }
    assert {node.get("Index Name") for node in on_messages} - {None} <= {"ix_messages_retention"}
    assert read <= 2 * BATCH, f"read {read} rows to pick {BATCH} behind {REDACTED_PAST} redacted ones"
