"""The production-like setup (Dockerfile, compose.yaml) checked for structure.

No Docker engine runs on development or CI machines, and the docker client there has no compose
plugin, so ``docker compose config`` cannot validate compose.yaml: these tests load it with PyYAML and
check what matters instead (services, health checks, start order, no secret written in the file).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
SECRET_NAMES = re.compile(r"SECRET|PASSWORD|TOKEN|KEYS?$|DATABASE_URL", re.IGNORECASE)
LONG_RUNNING = ("postgres", "redis", "api", "worker")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def test_the_stack_has_its_database_cache_migration_api_and_worker(services: dict[str, Any]) -> None:
    assert set(services) == {"postgres", "redis", "migrate", "api", "worker"}


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_every_long_running_service_has_a_health_check(services: dict[str, Any], name: str) -> None:
    check = services[name]["healthcheck"]
    assert check["test"]
    assert not check.get("disable")
    assert {"interval", "timeout", "retries"} <= set(check)


def test_the_api_checks_readiness_and_the_worker_its_own_health_port(services: dict[str, Any]) -> None:
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    worker = services["worker"]
    assert "9100/healthz" in " ".join(worker["healthcheck"]["test"])
    assert worker["command"][:3] == ["worker", "--metrics-port", "9100"]


def test_migrations_run_once_before_the_api_and_the_worker(services: dict[str, Any]) -> None:
    migrate = services["migrate"]
    # as the owner, then the application's role (row-level security binds it) is created and granted
    assert migrate["command"] == ["db", "upgrade", "--grant-app-role"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("api", "worker"):
        depends_on = services[name]["depends_on"]
        assert depends_on["postgres"] == {"condition": "service_healthy"}
        assert depends_on["redis"] == {"condition": "service_healthy"}
        assert depends_on["migrate"] == {"condition": "service_completed_successfully"}


def test_the_api_runs_two_processes_and_leaves_dispatch_to_the_worker(services: dict[str, Any]) -> None:
    api = services["api"]
    command = api["command"]
    assert command[0] == "serve"
    assert command[command.index("--workers") + 1] == "2"
    assert api["environment"]["EMBEDDED_DISPATCHER"] == "false"
    # Both processes' metrics add up behind the one port.
    assert api["environment"]["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")  # noqa: S108 - a tmpfs
    assert "/tmp" in api["tmpfs"]  # noqa: S108


def test_the_gateway_services_share_one_image_and_read_their_settings_from_the_env_file(
    services: dict[str, Any],
) -> None:
    for name in ("migrate", "api", "worker"):
        service = services[name]
        assert service["build"] == "."
        assert service["image"] == "wa-gateway:local"
        assert service["env_file"] == "compose.env"
        assert service["read_only"] is True
        assert service["cap_drop"] == ["ALL"]


def test_no_secret_is_written_in_compose_yaml(services: dict[str, Any]) -> None:
    for name, service in services.items():
        environment = service.get("environment") or {}
        assert isinstance(environment, dict), f"{name}: use a mapping"
        secrets = [key for key in environment if SECRET_NAMES.search(key)]
        assert secrets == [], f"{name} sets {secrets} inline: put them in compose.env"
    assert "compose.env" in (ROOT / ".gitignore").read_text().split()


def test_the_env_file_example_names_every_secret_and_leaves_them_empty() -> None:
    values = dict(
        line.split("=", 1)
        for line in (ROOT / "compose.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    for name in (
        "POSTGRES_PASSWORD",
        "APP_DATABASE_PASSWORD",
        "JWT_SECRET",
        "CREDENTIALS_KEYS",
        "METRICS_TOKEN",
    ):
        assert values[name] == "", name
    assert values["ENVIRONMENT"] == "production"
    assert values["DATABASE_URL"].startswith("postgresql://")
    # the application and the migrations connect as different roles
    assert values["MIGRATION_DATABASE_URL"].split("@")[0] != values["DATABASE_URL"].split("@")[0]


def test_the_dockerfile_builds_a_small_non_root_image_from_the_declared_dependencies() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    assert stages == ["python:3.11-slim", "python:3.11-slim"]
    assert "uv sync --no-dev --no-install-project" in dockerfile
    assert "uv sync --no-dev --no-editable" in dockerfile
    (user,) = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert user.split(":")[0] not in {"root", "0"}
    assert re.search(r"^HEALTHCHECK .*\n.*/healthz", dockerfile, re.MULTILINE)
    assert 'ENTRYPOINT ["wa-gateway"]' in dockerfile


def test_the_image_takes_its_pins_from_pyproject_toml_never_from_a_local_lock_file() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = " ".join(re.findall(r"^COPY (.*)$", dockerfile, re.MULTILINE))

    assert "pyproject.toml" in copied
    assert "uv.lock" not in copied
    assert "uv.lock" in (ROOT / ".dockerignore").read_text().split()


def test_the_build_context_leaves_out_secrets_and_local_state() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", "compose.env", ".venv", ".git", ".wa-gateway"} <= set(ignored)
