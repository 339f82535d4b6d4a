"""Running a transaction again when the database gave it up for a concurrent one."""

from __future__ import annotations

import pytest

from application.errors import NotFound, TransactionConflict
from application.transactions import ConflictRetry
from tests.support.fakes import FakeSleep


class Transaction:
    """Conflicts ``conflicts`` times, then answers ``"done"``; counts its runs."""

    def __init__(self, conflicts: int, error: Exception | None = None) -> None:
        self.conflicts = conflicts
        self.error = error
        self.runs = 0

    async def __call__(self) -> str:
        self.runs += 1
        if self.error is not None:
            raise self.error
        if self.runs <= self.conflicts:
            raise TransactionConflict()
        return "done"


async def test_a_transaction_that_stops_conflicting_succeeds() -> None:
    transaction = Transaction(conflicts=3)

    assert await ConflictRetry(attempts=4, sleep=FakeSleep()).run(transaction) == "done"
    assert transaction.runs == 4


async def test_the_last_conflict_is_raised_after_the_bounded_number_of_attempts() -> None:
    transaction = Transaction(conflicts=10)

    with pytest.raises(TransactionConflict):
        await ConflictRetry(attempts=4, sleep=FakeSleep()).run(transaction)
    assert transaction.runs == 4


async def test_pauses_are_random_below_a_bound_that_doubles_up_to_a_ceiling() -> None:
    pauses = FakeSleep()
    retry = ConflictRetry(
        attempts=6, first_pause_seconds=0.01, max_pause_seconds=0.05, rng=lambda: 0.5, sleep=pauses
    )

    with pytest.raises(TransactionConflict):
        await retry.run(Transaction(conflicts=10))

    assert pauses.pauses == pytest.approx([0.005, 0.01, 0.02, 0.025, 0.025])


async def test_other_errors_are_not_retried() -> None:
    transaction = Transaction(conflicts=0, error=NotFound("no such sender"))

    with pytest.raises(NotFound):
        await ConflictRetry(sleep=FakeSleep()).run(transaction)
    assert transaction.runs == 1


def test_a_transaction_is_attempted_at_least_once() -> None:
    with pytest.raises(ValueError, match="at least once"):
        ConflictRetry(attempts=0)
