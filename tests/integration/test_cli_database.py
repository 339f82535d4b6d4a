"""``wa-gateway db upgrade`` on PostgreSQL with an owner and an application role (docs/security.md)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import PostgresRoles
from tests.support.gateway_processes import WA_GATEWAY, clean_environment
from tests.support.postgres_server import PostgresServer


@pytest.fixture
def empty_database(postgres_server: PostgresServer, postgres_roles: PostgresRoles) -> Iterator[str]:
    """A new database owned by the owner role, not migrated yet."""
    name = postgres_server.create_database(owner=postgres_roles.owner)
    try:
        yield name
    finally:
        postgres_server.drop_database(name)


def test_db_upgrade_names_the_role_it_migrates_as_and_never_a_password(
    postgres_server: PostgresServer, postgres_roles: PostgresRoles, empty_database: str, tmp_path: Path
) -> None:
    owner, app = postgres_roles.owner, postgres_roles.app
    environment = {
        **clean_environment(),
        "MIGRATION_DATABASE_URL": postgres_server.url_for(empty_database, owner),
        "DATABASE_URL": postgres_server.url_for(empty_database, app),
    }

    result = subprocess.run(
        [WA_GATEWAY, "db", "upgrade"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert f"migrated as role {owner.name!r}, from MIGRATION_DATABASE_URL" in result.stdout
    assert app.name not in result.stdout  # the application's role did not migrate anything
    for password in (owner.password, app.password):
        assert password not in result.stdout + result.stderr
