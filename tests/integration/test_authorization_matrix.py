"""The authorization matrix, generated from the role table in docs/administration.md and the OpenAPI
schema: every operation of the API against every kind of caller, on the real app (composition root, real
JWTs and API keys), once on a SQLite file and once on PostgreSQL as production runs there: migrated by
the owner, served as the application's role with row-level security in force. SQLite shows the
application's own checks; PostgreSQL shows them with RLS under them, which must change no answer.

Who may call what is read from the role table in docs/administration.md's "Roles" section (one row per
operation, one column per kind of caller: ``yes``, ``person`` or ``—``), so the documentation and the
behaviour cannot drift apart: the table must list exactly the schema's operations, every route's
declaration must say what its row says, and the requests below hold the running gateway to it.

Two tenants, A and B, have something of every kind a path can name. Then:

(a) no credential → 401 on every operation that is not declared public;
(b) every caller the table does not admit → 403 (with tenant B's ids in the path): ``person-required``
    for an API key where the table says ``person``, ``forbidden`` otherwise;
(c) every caller of tenant A that a route admits, on tenant B's ids → 404, whatever the method, with a
    valid body so that validation cannot answer first; on nested paths, also with one of A's own ids
    beside one of B's;
(d) every GET tenant A may call without naming an id → 200, with nothing of tenant B in it;
and after all that (when the world of A and B is torn down), tenant B's rows are exactly what they were;
and in a world of its own, B's own admin gets a success where A got a 404 (so the 404s are about the
tenant, not about a malformed request).

The cases come from ``app.openapi_schema`` and the role table in docs/administration.md, so a new route
is in the matrix as soon as it exists (and fails it until the role table says who may call it). A new
path parameter or request body fails the matrix until the tables of tests/support/authorization_world.py
say what tenant B's value of it is, or what a valid body is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from itertools import product
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.authorization_world import (
    BODIES,
    OPERATIONS,
    PATH_PARAMETERS,
    RAW_BODIES,
    ROLE_TABLE,
    TENANT_CALLERS,
    Caller,
    Cell,
    Operation,
    Scope,
    World,
    built_world,
    rows_of_tenant,
)
from tests.support.gateways import DATABASES

# What the declarations must come to for the routes where a mistake would hurt most: checked against
# what the matrix reads from the declarations, so the matrix cannot drift to agreeing with a wrong one.
ALL_TENANT_CALLERS = frozenset(TENANT_CALLERS)
SENSITIVE_ROUTES: dict[tuple[str, str], frozenset[Caller]] = {
    ("GET", "/api/credentials"): frozenset({Caller.TENANT_ADMIN, Caller.TENANT_ADMIN_KEY}),
    ("PUT", "/api/credentials"): frozenset({Caller.TENANT_ADMIN}),
    ("GET", "/admin/tenants"): frozenset({Caller.PLATFORM_ADMIN}),
    ("POST", "/admin/tenants"): frozenset({Caller.PLATFORM_ADMIN}),
    ("POST", "/admin/tenants/{tenant_id}/suspend"): frozenset({Caller.PLATFORM_ADMIN}),
    ("POST", "/admin/tenants/{tenant_id}/users"): frozenset({Caller.PLATFORM_ADMIN}),
    # A leaked key cannot mint its successors (a key, or an admin to log in as), revoke the keys that
    # replace it, take an admin's account over, or learn a secret.
    ("POST", "/api/api-keys"): frozenset({Caller.TENANT_ADMIN}),
    ("DELETE", "/api/api-keys/{key_id}"): frozenset({Caller.TENANT_ADMIN}),
    ("POST", "/api/users"): frozenset({Caller.TENANT_ADMIN}),
    ("PATCH", "/api/users/{user_id}"): frozenset({Caller.TENANT_ADMIN}),
    ("POST", "/api/webhooks"): frozenset({Caller.TENANT_ADMIN}),
    ("POST", "/api/webhooks/{endpoint_id}/rotate-secret"): frozenset({Caller.TENANT_ADMIN}),
    ("GET", "/api/audit"): frozenset({Caller.TENANT_ADMIN, Caller.TENANT_ADMIN_KEY}),
    ("GET", "/admin/audit"): frozenset({Caller.PLATFORM_ADMIN}),
    # Platform admins read no tenant's messages.
    ("GET", "/api/messages"): ALL_TENANT_CALLERS,
    ("POST", "/api/send"): ALL_TENANT_CALLERS,
    ("GET", "/api/messages/{message_id}"): ALL_TENANT_CALLERS,
    # Only a person has a password or a session.
    ("POST", "/api/me/password"): frozenset({Caller.PLATFORM_ADMIN, Caller.TENANT_ADMIN, Caller.AGENT}),
    ("POST", "/auth/logout"): frozenset({Caller.PLATFORM_ADMIN, Caller.TENANT_ADMIN, Caller.AGENT}),
}


# ----------------------------------------------------------------------------------- what is checked

PROTECTED = [operation for operation in OPERATIONS if not operation.access.is_public]


def _parameter_ids(operation: Operation) -> list[str]:
    return [name for name in operation.parameters if PATH_PARAMETERS.get(name) is Scope.TENANT_ID]


def unauthenticated_cases() -> Iterator[Any]:
    for operation in PROTECTED:
        yield pytest.param(operation, id=str(operation))


def wrong_role_cases() -> Iterator[Any]:
    for operation in PROTECTED:
        for caller in Caller:
            if caller not in operation.admitted:
                yield pytest.param(operation, caller, id=f"{operation} {caller.label}")


def _refusal(operation: Operation, caller: Caller) -> str:
    return "person-required" if operation.expected.get(caller) is Cell.PERSON_REQUIRED else "forbidden"


def tenant_a_callers(operation: Operation) -> list[Caller]:
    """The callers of a tenant the route admits, in a fixed order."""
    return [caller for caller in TENANT_CALLERS if caller in operation.admitted]


def cross_tenant_cases() -> Iterator[Any]:
    """(operation, caller, owners): ``owners`` says whose id each tenant-scoped parameter gets, at least
    one B's. A path with one id has one combination; a nested one also mixes A's ids with B's."""
    for operation in PROTECTED:
        ids = _parameter_ids(operation)
        if not ids:
            continue
        combinations = [dict(zip(ids, owners, strict=True)) for owners in product("AB", repeat=len(ids))]
        for caller in tenant_a_callers(operation):
            for owners in combinations:
                if "B" not in owners.values():
                    continue
                mixed = "A" in owners.values()
                mix = " (" + ",".join(f"{name}={owner}" for name, owner in owners.items()) + ")"
                yield pytest.param(
                    operation, caller, owners, id=f"{operation} {caller.label}{mix if mixed else ''}"
                )


def listing_cases() -> Iterator[Any]:
    """The GETs naming no id (a contact number at most): what a tenant lists."""
    for operation in PROTECTED:
        if operation.method != "GET" or operation.scopes() - {Scope.TENANT_VALUE}:
            continue
        for caller in tenant_a_callers(operation):
            yield pytest.param(operation, caller, id=f"{operation} {caller.label}")


# -------------------------------------------------------------------------------------------- the world


@pytest.fixture(scope="module", params=DATABASES)
def database(request: pytest.FixtureRequest) -> str:
    """Every test below runs on each database in turn (the matrix is built once per database)."""
    value: str = request.param
    return value


@pytest.fixture(scope="module")
async def world(
    request: pytest.FixtureRequest, database: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    """The world the matrix runs in, shared by all its cases; when they are done, whichever of them ran
    and in whatever order, tenant B's rows must be exactly what they were."""
    async with built_world(request, database, tmp_path_factory.mktemp("matrix")) as world:
        yield world
        await assert_tenant_b_unchanged(world)


async def assert_tenant_b_unchanged(world: World) -> None:
    after = await rows_of_tenant(world.gateway.container, world.b.tenant_id)

    changed = [table for table in after if after[table] != world.b_rows_before[table]]
    # Reported at the teardown of whichever test ran last, or at the setup of the next database's first.
    assert changed == [], f"on {world.database}, the matrix changed tenant B's rows in {changed}"


def assert_problem(response: httpx.Response, status: int, slug: str) -> None:
    assert response.status_code == status, f"{response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    problem = response.json()
    assert problem["status"] == status
    assert problem["type"].endswith("/" + slug), problem


# ------------------------------------------------------------------------------- the tables themselves


def test_every_path_parameter_and_body_is_in_the_tables() -> None:
    unknown = sorted(
        {
            f"{operation}: {name}"
            for operation in OPERATIONS
            for name in operation.parameters
            if name not in PATH_PARAMETERS
        }
    )
    assert unknown == [], "path parameters the matrix does not know: add them to PATH_PARAMETERS"
    bodiless = sorted(
        str(operation)
        for operation in PROTECTED
        if operation.takes_body and operation.operation_id not in BODIES.keys() | RAW_BODIES.keys()
    )
    assert bodiless == [], "operations taking a body the matrix has none for: add one to BODIES"


def test_the_role_table_lists_every_operation_that_needs_a_credential() -> None:
    listed = set(ROLE_TABLE)
    protected = {(operation.method, operation.path) for operation in PROTECTED}

    assert sorted(protected - listed) == [], "operations the role table in docs/administration.md lacks"
    assert sorted(listed - protected) == [], "role table rows that are no such operation"
    assert all(set(row) == set(Caller) for row in ROLE_TABLE.values())


def test_every_route_declares_what_the_role_table_says() -> None:
    differences = [
        f"{operation} {caller.label}: role table {operation.expected.get(caller)}, route {cell}"
        for operation in PROTECTED
        for caller, cell in operation.declared.items()
        if operation.expected.get(caller) is not cell
    ]

    assert differences == []


def test_the_sensitive_routes_admit_exactly_the_expected_callers() -> None:
    by_route = {(operation.method, operation.path): operation for operation in OPERATIONS}

    for route, expected in SENSITIVE_ROUTES.items():
        assert route in by_route, f"{route} is gone from the schema"
        assert by_route[route].admitted == expected, route


def test_agents_never_reach_credentials_and_only_platform_admins_reach_admin() -> None:
    for operation in OPERATIONS:
        if operation.path.startswith("/api/credentials"):
            assert not operation.admitted & {Caller.AGENT, Caller.AGENT_KEY}, operation
        if operation.path.startswith("/admin"):
            assert operation.admitted == {Caller.PLATFORM_ADMIN}, operation
        elif Caller.PLATFORM_ADMIN in operation.admitted:
            # Outside /admin, a platform admin only ends their session or changes their password.
            assert operation.operation_id in {"logout", "changePassword"}, operation


def test_the_matrix_size(record_property: Any) -> None:
    sizes = Counter(
        {
            "operations": len(OPERATIONS),
            "protected operations": len(PROTECTED),
            "(a) no credential -> 401": len(list(unauthenticated_cases())),
            "(b) wrong role -> 403": len(list(wrong_role_cases())),
            "(c) tenant A on tenant B's ids -> 404": len(list(cross_tenant_cases())),
            "(d) tenant A's lists -> nothing of B": len(list(listing_cases())),
        }
    )
    for kind, count in sizes.items():
        record_property(kind, count)
    print("authorization matrix:", dict(sizes))
    assert sizes["protected operations"] >= 35
    assert sizes["(c) tenant A on tenant B's ids -> 404"] >= 30


# -------------------------------------------------------------------------------------------- the cases


@pytest.mark.parametrize("operation", list(unauthenticated_cases()))
async def test_no_credential_gets_401(world: World, operation: Operation) -> None:
    response = await world.request(operation, world.b_values(), headers={})

    assert_problem(response, 401, "invalid-token")
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("operation", "caller"), list(wrong_role_cases()))
async def test_a_caller_the_role_table_does_not_admit_gets_403(
    world: World, operation: Operation, caller: Caller
) -> None:
    response = await world.request(operation, world.b_values(), world.headers(caller, world.a))

    assert_problem(response, 403, _refusal(operation, caller))


@pytest.mark.parametrize(("operation", "caller", "owners"), list(cross_tenant_cases()))
async def test_tenant_a_gets_404_on_tenant_b_ids(
    world: World, operation: Operation, caller: Caller, owners: dict[str, str]
) -> None:
    values = world.values_for(
        operation,
        world.b_values()
        | {name: (world.a if owner == "A" else world.b).ids[name] for name, owner in owners.items()},
    )

    response = await world.request(operation, values, world.headers(caller, world.a))

    assert_problem(response, 404, "not-found")
    assert not any(marker in response.text for marker in world.b.markers - set(values.values()))


@pytest.mark.parametrize(("operation", "caller"), list(listing_cases()))
async def test_tenant_a_lists_nothing_of_tenant_b(world: World, operation: Operation, caller: Caller) -> None:
    response = await world.request(operation, world.b_values(), world.headers(caller, world.a))

    assert response.status_code == 200, response.text
    # A number the caller named may come back (a consent answer or a person's export names whom it is
    # about): not a leak.
    named = {world.b_values()[name] for name in operation.parameters if name in world.b_values()}
    leaked = sorted(marker for marker in world.b.markers - named if marker in response.text)
    assert leaked == []
    if "contact" in operation.parameters:  # tenant B's contact, unknown to A: nothing held about them
        answer = response.json()
        assert answer.get("items", []) == []
        assert all(records == [] for records in answer.get("records", {}).values())
    if "phone" in operation.parameters:  # tenant B's customer opted out at B, never at A
        assert response.json()["state"] is None


# ---------------------------------------------------------------------------------------- the control


async def test_tenant_b_own_admin_succeeds_where_tenant_a_got_404(
    request: pytest.FixtureRequest, database: str, tmp_path: Path
) -> None:
    """The same requests as (c), with B's ids only, by B's admin: so the 404s were about the tenant, not
    about a request that could not have worked. In a world of its own, built as the matrix's is, since
    these requests change B. Deletions come last: they remove what the others use."""
    operations = {case.values[0] for case in cross_tenant_cases()}
    ordered = sorted(
        operations, key=lambda operation: (operation.method == "DELETE", operation.path, operation.method)
    )
    failures = []
    async with built_world(request, database, tmp_path) as world:
        for operation in ordered:
            response = await world.request(operation, world.b_values(), world.b.admin)
            if not response.is_success:
                failures.append(f"{operation}: {response.status_code} {response.text[:200]}")

    assert failures == []
    assert len(ordered) >= 12
