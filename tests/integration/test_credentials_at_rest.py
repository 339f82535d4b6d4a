"""A dump of the database holds no tenant secret: what an attacker with a backup would see."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from adapters.database.migrate import upgrade
from application.administration.onboarding import CreateTenantCommand
from application.authorization import OPERATOR
from domain.administration.tenancy import ProviderName, TwilioCredentials
from entrypoints.container import create_container, shutdown
from entrypoints.settings import load_settings

AUTH_TOKEN = "auth-token-that-must-never-be-in-a-dump-7f3a"
API_KEY_SECRET = "api-key-secret-that-must-never-be-in-a-dump-91c2"


async def test_a_database_dump_contains_no_plaintext_secret(
    postgres_url: str, postgres_admin_url: str, tmp_path: Path
) -> None:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("pg_dump is not installed")
        pytest.skip("pg_dump is not installed")
    upgrade(postgres_url)
    settings = load_settings(environ={"DATA_DIR": str(tmp_path), "DATABASE_URL": postgres_url}, env_file=None)
    container = create_container(settings)
    credentials = TwilioCredentials(
        account_sid="AC" + "5" * 32,
        auth_token=AUTH_TOKEN,
        api_key_sid="SK" + "6" * 32,
        api_key_secret=API_KEY_SECRET,
    )
    try:
        await container.create_tenant()(
            OPERATOR,
            CreateTenantCommand(
                name="Dumped tenant", provider=ProviderName.TWILIO, twilio_credentials=credentials
            ),
        )
    finally:
        await shutdown(container)

    # A backup runs as a role that bypasses row-level security (here the superuser): pg_dump refuses to
    # dump a table whose policies would hide rows from it.
    conninfo = postgres_admin_url.replace("postgresql+psycopg://", "postgresql://", 1)
    completed = await asyncio.to_thread(
        subprocess.run,
        [pg_dump, "--data-only", "--dbname", conninfo],
        capture_output=True,
        check=True,
        timeout=60,
    )
    dump: bytes = completed.stdout

    assert b"AC" + b"5" * 32 in dump, "the dump holds the tenant's row"
    for secret in (AUTH_TOKEN, API_KEY_SECRET):
        assert secret.encode() not in dump
        assert secret[-12:].encode() not in dump
