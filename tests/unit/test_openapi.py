"""The OpenAPI schema is the contract clients (and the Postman collection) are built from."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from entrypoints.container import create_container
from entrypoints.http.app import create_app
from entrypoints.settings import load_settings

HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")
PROBLEM_MEDIA_TYPE = "application/problem+json"
PUBLIC_OPERATIONS = {"login", "refreshSession", "health", "readiness"}


def build_schema(data_dir: Path) -> dict[str, Any]:
    settings = load_settings(environ={"DATA_DIR": str(data_dir)}, env_file=None)
    return create_app(create_container(settings)).openapi_schema.to_schema()


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_schema(tmp_path_factory.mktemp("openapi"))


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, path_item in schema["paths"].items():
        for method in HTTP_METHODS:
            if method in path_item:
                yield path, method, path_item[method]


def requires_bearer(operation: dict[str, Any], schema: dict[str, Any]) -> bool:
    security = operation.get("security", schema.get("security", []))
    return any("BearerToken" in requirement for requirement in security)


def test_the_schema_is_openapi_3_1(schema: dict[str, Any]) -> None:
    assert schema["openapi"].startswith("3.1.")


def test_the_schema_is_plain_json_and_the_same_every_time(schema: dict[str, Any], tmp_path: Path) -> None:
    # `wa-gateway openapi` writes json.dumps of this; random generated examples would also make
    # every build differ.
    first = json.dumps(schema, sort_keys=True)
    assert first == json.dumps(build_schema(tmp_path), sort_keys=True)


def test_the_bearer_token_scheme_is_declared(schema: dict[str, Any]) -> None:
    scheme = schema["components"]["securitySchemes"]["BearerToken"]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"


def test_every_operation_has_a_unique_operation_id_and_tags(schema: dict[str, Any]) -> None:
    ids = [str(operation.get("operationId")) for _, _, operation in operations(schema)]
    missing_ids = [
        f"{m.upper()} {p}" for p, m, operation in operations(schema) if not operation.get("operationId")
    ]
    missing_tags = [f"{m.upper()} {p}" for p, m, operation in operations(schema) if not operation.get("tags")]
    assert missing_ids == [], "operations without operationId"
    assert missing_tags == [], "operations without tags"
    duplicates = sorted(name for name, count in Counter(ids).items() if count > 1)
    assert duplicates == [], "operationIds must be unique"


def test_every_api_route_requires_the_bearer_token(schema: dict[str, Any]) -> None:
    api = [(path, method, op) for path, method, op in operations(schema) if path.startswith("/api/")]
    assert api, "no /api routes in the schema"
    open_routes = [f"{m.upper()} {p}" for p, m, op in api if not requires_bearer(op, schema)]
    assert open_routes == []


def test_login_and_health_routes_need_no_token(schema: dict[str, Any]) -> None:
    public = {
        op["operationId"]: op for _, _, op in operations(schema) if op.get("operationId") in PUBLIC_OPERATIONS
    }
    assert set(public) == PUBLIC_OPERATIONS
    assert [name for name, op in public.items() if requires_bearer(op, schema)] == []


def test_error_responses_are_documented_as_problem_details(schema: dict[str, Any]) -> None:
    wrong = []
    for path, method, operation in operations(schema):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            content = response.get("content", {})
            if set(content) != {PROBLEM_MEDIA_TYPE} or content[PROBLEM_MEDIA_TYPE]["schema"] != {
                "$ref": "#/components/schemas/Problem"
            }:
                wrong.append(f"{method.upper()} {path} {status}: {sorted(content)}")
    assert wrong == [], "error responses not declared with problem_responses(...)"


def test_the_problem_schema_has_the_rfc_9457_members(schema: dict[str, Any]) -> None:
    problem = schema["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "instance"} <= set(problem["properties"])
    assert set(problem["required"]) == {"type", "title", "status"}


def test_declared_query_parameter_constraints_reach_the_schema(schema: dict[str, Any]) -> None:
    # Litestar drops a Parameter(...) wrapped around FromQuery[...] from the schema and from
    # validation alike: the constraints must be declared with QueryParameter(...).
    parameters = {p["name"]: p for p in schema["paths"]["/api/messages"]["get"]["parameters"]}
    assert parameters["limit"]["schema"].get("minimum") == 1
    assert parameters["limit"].get("description")
    assert parameters["cursor"]["schema"].get("maxLength") == 200


# Probes and metrics scrapes are never rate limited; every other operation counts against the
# per-address limit at least, except Twilio's webhooks (posted from a few shared addresses), which are
# limited by their failed signature checks instead.
NEVER_RATE_LIMITED = {"health", "readiness"}


def test_every_operation_that_can_answer_429_declares_it_with_retry_after(schema: dict[str, Any]) -> None:
    undeclared, without_headers = [], []
    for path, method, operation in operations(schema):
        if operation["operationId"] in NEVER_RATE_LIMITED:
            continue
        too_many = operation["responses"].get("429")
        if too_many is None or PROBLEM_MEDIA_TYPE not in too_many.get("content", {}):
            undeclared.append(f"{method.upper()} {path}")
            continue
        retry_after = too_many.get("headers", {}).get("Retry-After", {})
        if retry_after.get("schema", {}).get("type") != "integer" or not retry_after.get("required"):
            without_headers.append(f"{method.upper()} {path}")
    assert undeclared == [], "operations that may answer 429 without declaring it"
    assert without_headers == [], "429 answers that do not declare Retry-After (integer seconds)"


def test_operations_that_are_never_rate_limited_declare_no_429(schema: dict[str, Any]) -> None:
    probes = [op for _, _, op in operations(schema) if op["operationId"] in NEVER_RATE_LIMITED]
    assert len(probes) == len(NEVER_RATE_LIMITED)
    assert [op["operationId"] for op in probes if "429" in op["responses"]] == []
