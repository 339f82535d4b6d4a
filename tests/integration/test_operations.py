"""Operations in real processes: `serve --workers 2` adding up its metrics, JSON logs from the server and
from us, and a worker answering its own /healthz and /metrics."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.gateways import (
    READY_TIMEOUT_SECONDS,
    WA_GATEWAY,
    ManagedProcess,
    clean_environment,
    free_port,
    served_gateway,
    wa_gateway,
    wait_until_answering,
)


def healthz_count(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "wa_gateway_http_requests_total" and sample.labels.get("route") == "/healthz"
    )


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    """One `serve --workers 2` for this module's tests (it takes seconds to start)."""
    tmp_path = tmp_path_factory.mktemp("two-processes")
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    # A file left by an earlier run: serve must clear it before its processes start.
    (metrics_dir / "counter_999999.db").write_bytes(b"stale")
    settings = {
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "EMBEDDED_DISPATCHER": "false",
        "LOG_FORMAT": "json",
    }
    with served_gateway(tmp_path, settings, "--workers", "2") as base:
        yield base, metrics_dir, tmp_path / "serve.log"


def test_serve_with_two_processes_adds_up_their_metrics(two_processes: tuple[str, Path, Path]) -> None:
    base, metrics_dir, _ = two_processes
    before = healthz_count(httpx.get(f"{base}/metrics", timeout=5).text)

    for _ in range(40):  # a new connection each: the two processes share them out
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
    # A request is counted just after its response is sent: give the last one a moment.
    deadline = time.monotonic() + 5
    while healthz_count(httpx.get(f"{base}/metrics", timeout=5).text) < before + 40:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    scrapes = [httpx.get(f"{base}/metrics", timeout=5).text for _ in range(6)]

    # Whichever process answers the scrape, it reports what both of them counted.
    assert {healthz_count(text) for text in scrapes} == {before + 40}
    assert all(text.count("\nwa_gateway_dispatch_queue_depth ") == 1 for text in scrapes)
    assert not (metrics_dir / "counter_999999.db").exists()
    writers = {path.stem.rsplit("_", 1)[1] for path in metrics_dir.glob("*.db")}
    assert len(writers) == 2, f"expected both processes to have answered, got {writers}"


def test_serve_logs_json_lines_with_request_ids(two_processes: tuple[str, Path, Path]) -> None:
    base, _, log = two_processes
    response = httpx.post(
        f"{base}/auth/login",
        json={"username": "demo", "password": "password"},
        headers={"X-Request-ID": "integration-login-1"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "integration-login-1"

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "integration-login-1" not in log.read_text():
        time.sleep(0.1)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    (access,) = [line for line in lines if line.get("request_id") == "integration-login-1"]
    assert (access["logger"], access["route"], access["status"]) == (
        "entrypoints.http.access",
        "/auth/login",
        200,
    )
    # The HTTP server's own lines (granian's, or uvicorn's) come through the same JSON renderer.
    assert any(line["logger"].startswith(("_granian", "uvicorn")) for line in lines)
    assert "password" not in {key for line in lines for key in line}


def test_a_worker_answers_health_and_metrics_on_its_port_and_stops_on_sigterm(tmp_path: Path) -> None:
    assert wa_gateway(tmp_path, {}, "db", "upgrade").returncode == 0
    port = free_port()
    env = {**clean_environment(), "METRICS_TOKEN": "worker-scrape-token"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ or env is not os.environ
    process = ManagedProcess(
        "worker",
        [WA_GATEWAY, "worker", "--metrics-port", str(port), "--metrics-host", "127.0.0.1"],
        env,
        tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{base}/healthz", [process], READY_TIMEOUT_SECONDS)
        refused = httpx.get(f"{base}/metrics", timeout=5)
        scraped = httpx.get(
            f"{base}/metrics", headers={"Authorization": "Bearer worker-scrape-token"}, timeout=5
        )
    finally:
        status = process.stop(timeout=30)

    assert refused.status_code == 401
    assert scraped.status_code == 200
    assert "wa_gateway_dispatch_queue_depth 0.0" in scraped.text
    assert status == 0, process.log_path.read_text()
