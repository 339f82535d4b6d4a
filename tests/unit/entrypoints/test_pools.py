"""Which database pools a process opens, and how long their work waits for a connection."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrypoints.container import Container, create_container, create_worker_container, shutdown
from entrypoints.settings import Settings, load_settings

POSTGRES_URL = "postgresql+psycopg://app@127.0.0.1:5432/unused"  # engines connect lazily: nothing opens


def _settings(tmp_path: Path, **environ: str) -> Settings:
    return load_settings(
        environ={"DATA_DIR": str(tmp_path), "DATABASE_URL": POSTGRES_URL, **environ}, env_file=None
    )


def _timeout(container: Container, which: str) -> float:
    engine = getattr(container, which)()
    return float(engine.pool.timeout())


async def test_an_api_process_that_dispatches_keeps_a_patient_pool_for_its_background_work(
    tmp_path: Path,
) -> None:
    container = create_container(_settings(tmp_path, DB_POOL_TIMEOUT_MS="1000"))
    try:
        assert container.background_engine() is not container.engine()
        assert _timeout(container, "engine") == pytest.approx(1.0)  # a request is refused fast
        assert _timeout(container, "background_engine") == pytest.approx(30.0)
    finally:
        await shutdown(container)


async def test_a_worker_has_one_pool_whose_work_waits_for_a_connection(tmp_path: Path) -> None:
    container = create_worker_container(_settings(tmp_path, DB_POOL_TIMEOUT_MS="1000"))
    try:
        assert container.background_engine() is container.engine()
        assert _timeout(container, "engine") == pytest.approx(30.0)  # no request to refuse fast
    finally:
        await shutdown(container)
