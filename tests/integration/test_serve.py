"""`wa-gateway serve` as a user runs it: a real process, real HTTP, no configuration at all."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from entrypoints.cli import HTTP_SERVERS
from tests.support.gateways import (
    READY_TIMEOUT_SECONDS,
    WA_GATEWAY,
    ManagedProcess,
    clean_environment,
    free_port,
    served_gateway,
    wa_gateway,
)

# Generous on purpose: this is a deadline for "it starts at all", not a measure of speed.
BUSY_MACHINE_READY_DEADLINE_SECONDS = 300


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """`wa-gateway serve` with no settings at all, in a fresh shell's environment; its base URL."""
    with served_gateway(tmp_path, {}) as base:
        yield base


def test_serve_with_no_configuration_runs_the_readme_walkthrough(served: str, tmp_path: Path) -> None:
    with httpx.Client(base_url=served, timeout=10) as client:
        login = client.post("/auth/login", json={"username": "demo", "password": "password"})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

        sent = client.post(
            "/api/send",
            json={"to_number": "whatsapp:+14155550123", "body": "Your order has shipped"},
            headers=headers,
        )
        assert sent.status_code == 201, sent.text
        assert sent.json()["status"] == "queued"
        assert sent.json()["from_number"] == "+14155238886"

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            history = client.get("/api/messages", params={"limit": 2}, headers=headers).json()
            if history["items"][0]["status"] == "delivered":
                break
            time.sleep(0.2)
        assert history["items"][0]["id"] == sent.json()["id"]
        assert history["items"][0]["status"] == "delivered"
        assert client.get("/docs/openapi.json").json()["openapi"].startswith("3.1")
    # Development keeps its database and generated secrets in the working directory's data folder.
    assert (tmp_path / ".wa-gateway" / "wa-gateway.db").is_file()
    assert (tmp_path / ".wa-gateway" / "jwt-secret").stat().st_mode & 0o077 == 0


def test_db_upgrade_creates_the_schema_and_can_run_again(tmp_path: Path) -> None:
    for _ in range(2):
        result = wa_gateway(tmp_path, {}, "db", "upgrade")
        assert result.returncode == 0, result.stderr
        assert "upgraded to the latest revision" in result.stdout

    with sqlite3.connect(tmp_path / ".wa-gateway" / "wa-gateway.db") as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"tenants", "senders", "users", "messages"} <= tables


def test_production_mode_without_secrets_refuses_to_start(tmp_path: Path) -> None:
    result = wa_gateway(tmp_path, {"ENVIRONMENT": "production"}, "serve")

    assert result.returncode == 1
    assert "DATABASE_URL" in result.stderr
    assert "JWT_SECRET" in result.stderr
    assert "CREDENTIALS_KEYS" in result.stderr
    assert not (tmp_path / ".wa-gateway").exists()


@contextmanager
def busy_cpus(processes: int) -> Iterator[None]:
    """Keep every core busy: ``processes`` interpreters spinning until the block ends."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


# Each API process's lifespan starts and stops an embedded dispatcher, named for its host and pid: lines
# any server writes alike, through the app's logging.
DISPATCHER_STARTED = re.compile(r"dispatcher [^:\s]+:(\d+):\w+ started")
DISPATCHER_STOPPED = re.compile(r"dispatcher [^:\s]+:(\d+):\w+ stopped")


def started_workers(serve: ManagedProcess) -> list[int]:
    """The pids of the API processes that have run their lifespan's start-up, in order."""
    return [int(pid) for pid in DISPATCHER_STARTED.findall(serve.log_path.read_text(errors="replace"))]


def wait_for_workers(serve: ManagedProcess, count: int, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and serve.alive() and len(started_workers(serve)) < count:
        time.sleep(0.5)
    workers = started_workers(serve)
    assert len(workers) >= count, f"{count} workers never started:\n{serve.log_tail(40)}"
    return workers


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A dead child not yet reaped by its supervisor is a zombie: gone all the same.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("server", HTTP_SERVERS)
def test_serve_with_two_workers_starts_on_a_busy_machine_replaces_a_lost_worker_and_stops_cleanly(
    tmp_path: Path, server: str
) -> None:
    environment = {**clean_environment(), "DEMO_DATA": "false"}
    assert wa_gateway(tmp_path, environment, "db", "upgrade").returncode == 0
    port = free_port()
    healthz = f"http://127.0.0.1:{port}/healthz"
    serve = ManagedProcess(
        "serve",
        [WA_GATEWAY, "serve", "--server", server, "--port", str(port), "--workers", "2"],
        environment,
        tmp_path,
    )
    try:
        with busy_cpus(2 * (os.cpu_count() or 1)):
            first, second = wait_for_workers(serve, 2, BUSY_MACHINE_READY_DEADLINE_SECONDS)
            assert httpx.get(healthz, timeout=30).status_code == 200
        # The supervisor never gave up on a worker that was still starting: both first ones still run.
        assert all(is_running(pid) for pid in (first, second)), serve.log_tail(40)

        os.kill(first, signal.SIGKILL)
        *_, replacement = wait_for_workers(serve, 3, READY_TIMEOUT_SECONDS)
        assert replacement not in (first, second)
        assert httpx.get(healthz, timeout=30).status_code == 200
    finally:
        status = serve.stop(timeout=READY_TIMEOUT_SECONDS)  # SIGTERM

    # Both live workers finished their lifespan (the dispatcher stopped) before the server exited.
    assert status == 0, serve.log_tail(40)
    stopped = DISPATCHER_STOPPED.findall(serve.log_path.read_text(errors="replace"))
    assert sorted(int(pid) for pid in stopped) == sorted([second, replacement])
