"""``wa-gateway db upgrade`` on PostgreSQL with an owner and an application role (docs/security.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import PostgresRoles
from tests.support.gateways import wa_gateway
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
    settings = {
        "MIGRATION_DATABASE_URL": postgres_server.url_for(empty_database, owner),
        "DATABASE_URL": postgres_server.url_for(empty_database, app),
    }

    result = wa_gateway(tmp_path, settings, "db", "upgrade", timeout=300)

    assert result.returncode == 0, result.stderr
    assert f"migrated as role {owner.name!r}, from MIGRATION_DATABASE_URL" in result.stdout
    assert app.name not in result.stdout  # the application's role did not migrate anything
    for password in (owner.password, app.password):
        assert password not in result.stdout + result.stderr
