"""How often the worker syncs every tenant's templates (TEMPLATE_SYNC_SECONDS), checked at start-up, and
the worker's background work that runs the sync only when it is on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from entrypoints.settings import ConfigurationError, load_settings


def test_templates_are_synced_every_fifteen_minutes_unless_told_otherwise(tmp_path: Path) -> None:
    default = load_settings(environ={"DATA_DIR": str(tmp_path)}, env_file=None)
    off = load_settings(environ={"DATA_DIR": str(tmp_path), "TEMPLATE_SYNC_SECONDS": "0"}, env_file=None)

    assert default.template_sync_seconds == 900
    assert off.template_sync_seconds == 0


def test_a_negative_sync_interval_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="TEMPLATE_SYNC_SECONDS"):
        load_settings(environ={"DATA_DIR": str(tmp_path), "TEMPLATE_SYNC_SECONDS": "-1"}, env_file=None)


async def test_a_stopped_worker_ends_its_template_sync_without_a_round(tmp_path: Path) -> None:
    from entrypoints.background import template_sync
    from entrypoints.container import create_container

    container = create_container(load_settings(environ={"DATA_DIR": str(tmp_path)}, env_file=None))
    stop = asyncio.Event()
    stop.set()

    # A round would reach the (unmigrated) database and log its failure; a stopped loop runs none.
    await template_sync(container, stop, interval_seconds=3600)
