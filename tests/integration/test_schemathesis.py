"""Schemathesis against the OpenAPI schema of a running gateway, as a tenant admin: every operation,
a bounded number of generated requests each (valid and invalid ones), no response may be a server
error, and every response must conform to the schema's status codes, content types and headers.

A real `wa-gateway serve` process (the demo tenant) rather than the ASGI app in this process: the
server runs its own event loop and lifespan, as in production, and schemathesis drives it over HTTP.
It runs twice: on a SQLite file, and on a PostgreSQL database of its own served as production serves
it (migrated by the owner, DATABASE_URL the application's role), so row-level security is in force
under every generated request. Derandomized, so CI runs the same examples every time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from adapters.database.tenant_scope import CROSS_TENANT_SETTING
from tests.support.gateways import DATABASES, create_platform_admin, database_of_its_own, served_gateway

MAX_EXAMPLES = 60  # per operation, valid and invalid requests together
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
]
# Operations that would end the session every other case authenticates with.
SESSION_ENDING = {("POST", "/auth/logout")}


SETTINGS = {
    # Generated requests come fast and from one address; the limits are tested elsewhere.
    "REQUESTS_PER_MINUTE_PER_IP": "1000000",
    "LOGIN_ATTEMPTS_PER_MINUTE": "1000000",
    "TWILIO_SIGNATURE_FAILURES_PER_MINUTE": "0",
    "META_SIGNATURE_FAILURES_PER_MINUTE": "0",
    "TENANT_SENDS_PER_MINUTE": "0",
    # Cheap password hashing: generated requests log in and create users.
    "ARGON2_TIME_COST": "1",
    "ARGON2_MEMORY_KIB": "1024",
    "ARGON2_PARALLELISM": "1",
    "LOG_LEVEL": "WARNING",
}
ROOT_PASSWORD = "a platform admin password"


@pytest.fixture(scope="module", params=DATABASES)
def gateway(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = Path(tmp_path_factory.mktemp(f"schemathesis-{request.param}"))
    with database_of_its_own(request, request.param) as database_settings:
        settings = {**SETTINGS, **database_settings}
        with served_gateway(directory, settings) as base:
            # A platform admin, so that the /admin operations are exercised too (a tenant admin gets 403).
            create_platform_admin(directory, settings, "root", ROOT_PASSWORD)
            if "DATABASE_URL" in database_settings:
                assert_bound_by_row_level_security(database_settings["DATABASE_URL"])
            yield base


def assert_bound_by_row_level_security(database_url: str) -> None:
    """The role the gateway serves as sees no user without a tenant bound, though the platform admin and
    the demo tenant's admin exist: every generated request then runs with row-level security in force."""
    conninfo = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(conninfo) as connection:
        (unbound,) = connection.execute("SELECT count(*) FROM users").fetchone() or (None,)
        connection.execute("SELECT set_config(%s, 'on', true)", (CROSS_TENANT_SETTING,))
        (every_tenant,) = connection.execute("SELECT count(*) FROM users").fetchone() or (None,)
    assert unbound == 0, f"the gateway's role sees {unbound} users with no tenant bound"
    assert every_tenant is not None
    assert every_tenant >= 2, "the platform admin and the demo tenant's admin should exist"


def bearer(base: str, path: str) -> dict[str, str]:
    """A fresh session for an operation on ``path``: the platform admin for /admin, the demo tenant's
    admin otherwise (a fresh one each time: a generated request may end or demote the last one)."""
    username, password = ("root", ROOT_PASSWORD) if path.startswith("/admin") else ("demo", "password")
    login = httpx.post(f"{base}/auth/login", json={"username": username, "password": password}, timeout=10)
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def exercise(operation: Any, base: str, statuses: Counter[int], failures: list[str]) -> None:
    """Up to MAX_EXAMPLES generated requests (valid and invalid) to one operation, each checked."""
    headers = bearer(base, operation.path)

    @given(case=st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in GenerationMode)))
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call(base_url=base, headers=headers, timeout=30)
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except Exception as failure:  # one failed check, or a group of them
            failures.append(f"{case.method} {case.formatted_path}: {failure}")

    run()


def test_no_operation_answers_with_a_server_error(gateway: str) -> None:
    base = gateway
    api_schema = schemathesis.openapi.from_url(f"{base}/docs/openapi.json")
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    operations = 0
    for result in api_schema.get_all_operations():
        if not isinstance(result, Ok):
            failures.append(f"an operation could not be loaded: {result.err()}")
            continue
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SESSION_ENDING:
            continue
        operations += 1
        exercise(operation, base, statuses, failures)
    print(
        f"schemathesis: {operations} operations, {statuses.total()} requests, "
        f"{len(failures)} failures, statuses {dict(sorted(statuses.items()))}"
    )
    assert operations >= 40, "the schema lost operations"
    assert not failures, "\n\n".join(failures[:20])
