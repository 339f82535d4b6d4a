"""The OpenAPI schema is the contract clients (and the Postman collection) are built from."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.api import Api, openapi_schema

HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")
PROBLEM_MEDIA_TYPE = "application/problem+json"
WRITES = ("put", "post", "patch", "delete")
PUBLIC_OPERATIONS = {"login", "refreshSession", "health", "readiness"}


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
    assert first == json.dumps(openapi_schema(tmp_path), sort_keys=True)


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
# per-address limit at least, except Twilio's callbacks (posted from a few shared addresses), which are
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


def test_every_operation_that_writes_declares_the_409_of_a_concurrent_update(schema: dict[str, Any]) -> None:
    # Any transaction that writes can lose to a concurrent one (a deadlock, a serialization failure, a
    # stale SQLite snapshot) after its retries: the answer is 409 concurrent-update.
    writes = [(path, method, op) for path, method, op in operations(schema) if method in WRITES]
    undeclared = [
        f"{method.upper()} {path}"
        for path, method, operation in writes
        if PROBLEM_MEDIA_TYPE not in operation["responses"].get("409", {}).get("content", {})
    ]
    assert len(writes) >= 25, "the schema lost operations"
    assert undeclared == [], "operations that write without declaring 409"


# ------------------------------------------------------------------ the schema says what the server does


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].removeprefix("#/components/schemas/")
        node = schema["components"]["schemas"][name]
    return node


def object_schemas(schema: dict[str, Any], node: dict[str, Any], where: str) -> Iterator[tuple[str, Any]]:
    """Every object schema in ``node`` and below it (properties, items, unions), with where it is."""
    node = resolve(schema, node)
    if node.get("type") == "object" and "properties" in node:
        yield where, node
    for name, child in node.get("properties", {}).items():
        yield from object_schemas(schema, child, f"{where}.{name}")
    for key in ("oneOf", "anyOf", "allOf"):
        for child in node.get(key, []):
            yield from object_schemas(schema, child, where)
    if isinstance(node.get("items"), dict):
        yield from object_schemas(schema, node["items"], f"{where}[]")


def json_request_bodies(schema: dict[str, Any], *except_tags: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, method, operation in operations(schema):
        if set(except_tags) & set(operation.get("tags", [])):
            continue
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            yield f"{method.upper()} {path}", content["application/json"]["schema"]


# What a provider posts is read as the provider sends it, fields it adds without notice included: the
# schema says so (additionalProperties: true), and nothing in it is believed before its signature.
PROVIDER_CALLBACKS = "provider callbacks"


def test_every_json_request_body_refuses_unknown_fields_and_says_so(schema: dict[str, Any]) -> None:
    # The server refuses unknown fields (forbid_unknown_fields): a client built from the schema must
    # know, rather than learn it from a 400.
    bodies = list(json_request_bodies(schema, PROVIDER_CALLBACKS))
    assert len(bodies) >= 15, "the schema lost request bodies"
    open_objects = [
        f"{operation} {where}"
        for operation, body in bodies
        for where, node in object_schemas(schema, body, "body")
        if node.get("additionalProperties") is not False
    ]
    assert open_objects == []


def types_of(node: dict[str, Any]) -> set[str]:
    declared = node.get("type", [])
    return set(declared) if isinstance(declared, list) else {declared}


def string_schemas(schema: dict[str, Any], node: dict[str, Any], where: str) -> Iterator[tuple[str, Any]]:
    """Every string schema in ``node`` and below it, with where it is (a map's keys and values too)."""
    node = resolve(schema, node)
    if "string" in types_of(node):
        yield where, node
    for member in [resolve(schema, child) for child in node.get("oneOf", []) + node.get("anyOf", [])]:
        if "string" in types_of(member):
            # Constraints may sit beside the union (as Litestar writes them) or in the member.
            yield where, {**{k: v for k, v in node.items() if k not in {"oneOf", "anyOf"}}, **member}
        else:
            yield from string_schemas(schema, member, where)
    for name, child in node.get("properties", {}).items():
        yield from string_schemas(schema, child, f"{where}.{name}")
    if isinstance(node.get("items"), dict):
        yield from string_schemas(schema, node["items"], f"{where}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from string_schemas(schema, node["additionalProperties"], f"{where}{{value}}")
    if "propertyNames" in node:
        yield f"{where}{{key}}", node["propertyNames"]


def test_every_text_in_a_json_request_body_says_which_characters_it_takes(schema: dict[str, Any]) -> None:
    # Client text reaches the database, and PostgreSQL text cannot hold U+0000: every string a client
    # sends is declared with a pattern (or is one of a closed set), which the server enforces.
    unconstrained = [
        f"{operation} {where}"
        for operation, body in json_request_bodies(schema)
        for where, node in string_schemas(schema, body, "body")
        if not ({"pattern", "enum", "const"} & set(node))
    ]
    assert unconstrained == []


async def test_options_answers_with_every_method_the_schema_has_for_the_path(
    schema: dict[str, Any], api: Api
) -> None:
    wrong = []
    for path, path_item in schema["paths"].items():
        documented = {method.upper() for method in HTTP_METHODS if method in path_item} | {"OPTIONS"}
        concrete = re.sub(r"\{[^}]+\}", lambda name: PATH_EXAMPLES[name.group(0)], path)
        response = await api.client.options(concrete)
        allowed = {method.strip() for method in response.headers.get("allow", "").split(",")}
        if response.status_code != 204 or allowed != documented:
            wrong.append(
                f"{path}: {response.status_code} Allow {sorted(allowed)}, schema {sorted(documented)}"
            )
    assert wrong == []


PATH_EXAMPLES = {
    "{contact}": "+14155550123",
    "{phone}": "+14155550123",
    "{delivery_id}": "msg_" + "0" * 26,
    **{
        f"{{{name}}}": "00000000-0000-4000-8000-000000000000"
        for name in (
            "message_id",
            "conversation_id",
            "tenant_id",
            "user_id",
            "sender_id",
            "key_id",
            "endpoint_id",
            "account_id",
            "media_id",
            "contact_id",
            "template_id",
            "campaign_id",
        )
    },
}
