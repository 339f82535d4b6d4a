"""Housekeeping: the purges of expired and finished rows, run every interval by each API or worker process."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from dependency_injector import providers

from application.errors import StorageUnavailable
from entrypoints.background import housekeeping
from entrypoints.container import Container, create_container
from entrypoints.settings import load_settings

PURGES = (
    "purge_idempotency_keys",
    "purge_webhook_deliveries",
    "purge_expired_sessions",
    "purge_audit_log",
    "apply_retention",
)


class FakePurge:
    """A purge use case that counts its runs; it may fail, and it may end housekeeping on a given run."""

    def __init__(self, *, fails_with: Exception | None = None) -> None:
        self.runs = 0
        self.fails_with = fails_with
        self.stop_on_run: tuple[int, asyncio.Event] | None = None

    async def __call__(self) -> int:
        self.runs += 1
        if self.stop_on_run is not None and self.runs == self.stop_on_run[0]:
            self.stop_on_run[1].set()
        if self.fails_with is not None:
            raise self.fails_with
        return 1


def _container_with(tmp_path: Path, purges: dict[str, FakePurge]) -> Container:
    container = create_container(load_settings(environ={"DATA_DIR": str(tmp_path)}, env_file=None))
    for name, purge in purges.items():
        getattr(container, name).override(providers.Object(purge))
    return container


@pytest.mark.parametrize("failing", PURGES)
@pytest.mark.parametrize(
    "error",
    [RuntimeError("relation audit_log does not exist"), StorageUnavailable("database unavailable")],
    ids=["unexpected-error", "database-unavailable"],
)
async def test_a_failing_purge_is_logged_and_the_other_purges_and_later_rounds_still_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, failing: str, error: Exception
) -> None:
    stop = asyncio.Event()
    purges = {name: FakePurge(fails_with=error if name == failing else None) for name in PURGES}
    purges[PURGES[0]].stop_on_run = (2, stop)  # the second round is the last

    with caplog.at_level(logging.INFO, logger="entrypoints.background"):
        await housekeeping(_container_with(tmp_path, purges), stop, interval_seconds=0)

    assert {name: purge.runs for name, purge in purges.items()} == dict.fromkeys(PURGES, 2)
    failures = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(failures) == 2  # one a round
    if isinstance(error, RuntimeError):
        assert all(record.exc_info and record.exc_info[1] is error for record in failures)
    purged = [record.getMessage() for record in caplog.records if record.getMessage().startswith("purged 1 ")]
    assert len(purged) == 2 * (len(PURGES) - 1)
