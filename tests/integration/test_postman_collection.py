"""The committed Postman collection, run by newman (Postman's command-line runner) as a user runs it:
against a real `wa-gateway serve` on SQLite holding the demo data of the README's quick start, with
a platform admin created as docs/administration.md says, so that every folder runs. Every request checks its
status; not one check may fail, and the demo must still work afterwards, twice over.

newman comes from npm, installed once into a cache directory (``~/.cache/wa-gateway``). Without node
and npm the test is skipped with the reason, or fails under ``CI=true``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

from tests.support.gateways import create_platform_admin, free_port, served_gateway

NEWMAN_VERSION = "6.2.2"
COLLECTION = Path(__file__).resolve().parents[2] / "postman" / "wa-gateway.postman_collection.json"
ADMIN_USERNAME, ADMIN_PASSWORD = "root", "a platform admin password"
SETTINGS = {
    # Nothing listens at the webhook endpoint the collection registers (a free port on this machine):
    # deliveries are recorded and retried, which is all the requests look at.
    "WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true",
    "LOG_LEVEL": "WARNING",
}


def unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def cache_directory() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wa-gateway"


@pytest.fixture(scope="module")
def newman() -> Path:
    """newman's executable, installed with npm into the cache on first use."""
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        unavailable("node and npm are needed to run the Postman collection with newman")
    installed = cache_directory() / f"newman-{NEWMAN_VERSION}"
    executable = installed / "node_modules" / ".bin" / "newman"
    if not executable.exists():
        installed.parent.mkdir(parents=True, exist_ok=True)
        # Installed aside and moved into place in one step, so a concurrent run never sees half of it.
        staging = Path(tempfile.mkdtemp(prefix=".newman-", dir=installed.parent))
        installing = subprocess.run(
            [npm, "install", "--prefix", str(staging), "--no-audit", "--no-fund", f"newman@{NEWMAN_VERSION}"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if installing.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            unavailable(f"npm could not install newman {NEWMAN_VERSION}: {installing.stderr[-2000:]}")
        try:
            staging.rename(installed)
        except OSError:  # another run put it there first
            shutil.rmtree(staging, ignore_errors=True)
    return executable


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("postman")
    with served_gateway(directory, SETTINGS) as base:
        create_platform_admin(directory, SETTINGS, ADMIN_USERNAME, ADMIN_PASSWORD)
        yield base


def run_collection(newman: Path, base: str, report: Path) -> tuple[dict[str, Any], str]:
    """newman's JSON report of one run of the collection, and what it printed."""
    variables = {
        "baseUrl": base,
        "webhookUrl": f"http://127.0.0.1:{free_port()}/events",
        "adminUsername": ADMIN_USERNAME,
        "adminPassword": ADMIN_PASSWORD,
    }
    completed = subprocess.run(
        [
            str(newman),
            "run",
            str(COLLECTION),
            "--reporters",
            "cli,json",
            "--reporter-json-export",
            str(report),
        ]
        + ["--color", "off", "--disable-unicode", "--timeout-request", "30000"]
        + [argument for key, value in variables.items() for argument in ("--env-var", f"{key}={value}")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert report.is_file(), f"newman wrote no report:\n{completed.stdout}\n{completed.stderr}"
    # newman colours some lines of its failure table even with --color off.
    return json.loads(report.read_text()), re.sub(r"\x1b\[[0-9;]*m", "", completed.stdout)


def request_names(collection: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for node in collection["item"]:
        names.extend(run_request_names(node))
    return names


def run_request_names(node: dict[str, Any]) -> list[str]:
    if "request" in node:
        return [str(node["name"])]
    return [name for child in node.get("item", []) for name in run_request_names(child)]


def demo_still_works(base: str) -> None:
    """The demo user logs in with the README's password and sends from the demo sender, and the run
    left no Twilio credentials, sender, webhook endpoint or working API key on the demo tenant."""
    with httpx.Client(base_url=base, timeout=30) as client:
        login = client.post("/auth/login", json={"username": "demo", "password": "password"})
        assert login.status_code == 200, login.text
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        sent = client.post("/api/send", json={"to_number": "+14155550123", "body": "still here"})
        assert sent.status_code in (201, 202), sent.text
        assert sent.json()["from_number"] == "+14155238886"
        assert client.get("/api/credentials").json()["configured"] is False
        assert [sender["phone_number"] for sender in client.get("/api/senders").json()] == ["+14155238886"]
        assert client.get("/api/webhooks").json()["items"] == []
        assert not [key for key in client.get("/api/api-keys").json() if key["active"]]
        client.post("/auth/logout")


def test_newman_runs_every_request_of_the_collection_with_no_failed_check_and_the_demo_still_works(
    newman: Path, gateway: str, tmp_path: Path
) -> None:
    expected_requests = request_names(json.loads(COLLECTION.read_text()))
    # Twice: a run leaves nothing behind that would make the next one fail.
    for attempt in (1, 2):
        report, printed = run_collection(newman, gateway, tmp_path / f"newman-{attempt}.json")
        run = report["run"]
        failures = [
            f"{failure['source'].get('name')}: {failure['error'].get('message')}"
            for failure in run["failures"]
        ]
        assert failures == [], f"run {attempt}:\n" + "\n".join(failures) + f"\n{printed[-6000:]}"
        # A request's scripts may send requests of their own (waiting for a state): one item each.
        executed = {execution["item"]["id"]: execution["item"]["name"] for execution in run["executions"]}
        assert list(executed.values()) == expected_requests, (
            f"run {attempt} skipped requests:\n{printed[-6000:]}"
        )
        assertions = run["stats"]["assertions"]
        assert assertions["total"] == len(expected_requests)
        assert assertions["failed"] == 0
        demo_still_works(gateway)
