"""The committed Postman collection is generated from the OpenAPI schema and kept in step with it."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from entrypoints.container import create_container
from entrypoints.http.app import create_app
from entrypoints.postman import POSTMAN_SCHEMA, collection_from_openapi, render
from entrypoints.settings import load_settings

COLLECTION_FILE = Path(__file__).resolve().parents[2] / "postman" / "wa-gateway.postman_collection.json"
REGENERATE = "uv run wa-gateway postman -o postman/wa-gateway.postman_collection.json"
HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data_dir = tmp_path_factory.mktemp("postman")
    settings = load_settings(environ={"DATA_DIR": str(data_dir)}, env_file=None)
    return create_app(create_container(settings)).openapi_schema.to_schema()


@pytest.fixture(scope="module")
def collection(schema: dict[str, Any]) -> dict[str, Any]:
    return collection_from_openapi(schema)


def requests_of(collection: dict[str, Any]) -> list[dict[str, Any]]:
    """Every request item, wherever it sits in the folder tree."""
    found = []
    stack = list(reversed(collection["item"]))
    while stack:
        node = stack.pop()
        if "request" in node:
            found.append(node)
        stack.extend(reversed(node.get("item", [])))
    return found


def item_named(collection: dict[str, Any], name: str) -> dict[str, Any]:
    matches = [item for item in requests_of(collection) if item["name"] == name]
    assert len(matches) == 1, f"{len(matches)} requests named {name!r}"
    return matches[0]


def operation_by_id(schema: dict[str, Any], operation_id: str) -> dict[str, Any]:
    for path_item in schema["paths"].values():
        for method in HTTP_METHODS:
            if path_item.get(method, {}).get("operationId") == operation_id:
                operation: dict[str, Any] = path_item[method]
                return operation
    raise AssertionError(f"no operation {operation_id!r}")


def test_the_committed_collection_is_up_to_date(collection: dict[str, Any]) -> None:
    expected = render(collection)
    assert COLLECTION_FILE.is_file(), f"{COLLECTION_FILE.name} is missing: run `{REGENERATE}`"
    assert COLLECTION_FILE.read_text(encoding="utf-8") == expected, (
        f"{COLLECTION_FILE.name} no longer matches the OpenAPI schema: run `{REGENERATE}` and commit it"
    )


def test_every_operation_appears_exactly_once(schema: dict[str, Any], collection: dict[str, Any]) -> None:
    expected = Counter(
        (method.upper(), "{{baseUrl}}" + re.sub(r"\{([^}]+)\}", r":\1", path), operation.get("summary"))
        for path, path_item in schema["paths"].items()
        for method, operation in path_item.items()
        if method in HTTP_METHODS
    )
    actual = Counter(
        (item["request"]["method"], item["request"]["url"]["raw"].split("?")[0], item["name"])
        for item in requests_of(collection)
    )
    assert actual == expected


def test_folders_follow_the_tags(schema: dict[str, Any], collection: dict[str, Any]) -> None:
    tags = {
        operation["tags"][0]
        for path_item in schema["paths"].values()
        for method, operation in path_item.items()
        if method in HTTP_METHODS
    }
    assert {folder["name"] for folder in collection["item"]} == tags


def test_the_collection_is_v2_1_with_its_variables_and_bearer_auth(collection: dict[str, Any]) -> None:
    assert collection["info"]["schema"] == POSTMAN_SCHEMA
    variables = {variable["key"]: variable["value"] for variable in collection["variable"]}
    assert variables == {
        "baseUrl": "http://127.0.0.1:8000",
        "username": "demo",
        "password": "password",
        "accessToken": "",
        "refreshToken": "",
    }
    assert collection["auth"] == {
        "type": "bearer",
        "bearer": [{"key": "token", "value": "{{accessToken}}", "type": "string"}],
    }


def test_the_login_request_stores_the_token(schema: dict[str, Any], collection: dict[str, Any]) -> None:
    login = item_named(collection, operation_by_id(schema, "login")["summary"])
    assert requests_of(collection)[0] is login, "login runs first in the Collection Runner"
    assert login["request"]["auth"] == {"type": "noauth"}
    assert json.loads(login["request"]["body"]["raw"]) == {
        "username": "{{username}}",
        "password": "{{password}}",
    }
    scripts = [event["script"]["exec"] for event in login["event"] if event["listen"] == "test"]
    assert len(scripts) == 1
    assert 'pm.collectionVariables.set("accessToken", pm.response.json().access_token);' in "\n".join(
        scripts[0]
    )


def test_the_refresh_request_sends_and_stores_the_refresh_token(
    schema: dict[str, Any], collection: dict[str, Any]
) -> None:
    refresh = item_named(collection, operation_by_id(schema, "refreshSession")["summary"])
    assert refresh["request"]["auth"] == {"type": "noauth"}
    assert json.loads(refresh["request"]["body"]["raw"]) == {"refresh_token": "{{refreshToken}}"}
    script = "\n".join(
        line for event in refresh["event"] if event["listen"] == "test" for line in event["script"]["exec"]
    )
    assert 'pm.collectionVariables.set("refreshToken", pm.response.json().refresh_token);' in script
    assert 'pm.collectionVariables.set("accessToken", pm.response.json().access_token);' in script


def test_only_operations_without_security_opt_out_of_the_bearer_token(
    schema: dict[str, Any], collection: dict[str, Any]
) -> None:
    for path_item in schema["paths"].values():
        for method, operation in path_item.items():
            if method not in HTTP_METHODS:
                continue
            request = item_named(collection, operation["summary"])["request"]
            if operation.get("security"):
                assert "auth" not in request, f"{operation['operationId']} should inherit the Bearer auth"
            else:
                assert request["auth"] == {"type": "noauth"}, operation["operationId"]


def test_send_message_has_a_json_body_from_the_schema_examples(
    schema: dict[str, Any], collection: dict[str, Any]
) -> None:
    send = item_named(collection, operation_by_id(schema, "sendMessage")["summary"])["request"]
    assert {"key": "Content-Type", "value": "application/json"} in send["header"]
    body = json.loads(send["body"]["raw"])
    assert body["to_number"] == "+14155550123"
    assert "body" in body


# The generator on its own, with small schemas.

TOY_SCHEMA: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "toy", "version": "2"},
    "tags": [{"name": "things", "description": "Things"}, {"name": "auth"}],
    "security": [{"BearerToken": []}],
    "paths": {
        "/things/{thing_id}": {
            "parameters": [
                {"name": "thing_id", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "put": {
                "operationId": "putThing",
                "summary": "Replace a thing",
                "tags": ["things"],
                "parameters": [
                    {
                        "name": "dry_run",
                        "in": "query",
                        "description": "Only check",
                        "schema": {"type": "boolean"},
                    },
                    {
                        "name": "mode",
                        "in": "query",
                        "required": True,
                        "schema": {"$ref": "#/components/schemas/Mode"},
                    },
                ],
                "requestBody": {
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}
                },
            },
        },
        "/token": {
            "post": {
                "operationId": "login",
                "summary": "Log in",
                "tags": ["auth"],
                "security": [],
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "username": {"type": "string"},
                                    "password": {"type": "string"},
                                },
                            }
                        }
                    }
                },
            }
        },
    },
    "components": {
        "schemas": {
            "Mode": {"type": "string", "enum": ["fast", "slow"]},
            "Thing": {
                "type": "object",
                "required": ["name", "tags"],
                "properties": {
                    "name": {"type": "string", "examples": ["lamp"]},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "when": {"type": "string", "format": "date-time"},
                    "note": {"oneOf": [{"type": "string"}, {"type": "null"}]},
                    "mode": {"$ref": "#/components/schemas/Mode"},
                },
            },
        }
    },
}


def test_the_generator_follows_refs_and_fills_placeholders() -> None:
    toy = collection_from_openapi(TOY_SCHEMA)
    assert [folder["name"] for folder in toy["item"]] == ["auth", "things"]
    put = item_named(toy, "Replace a thing")["request"]
    assert put["method"] == "PUT"
    assert "auth" not in put
    assert put["url"]["raw"] == "{{baseUrl}}/things/:thing_id?mode=fast"
    assert put["url"]["path"] == ["things", ":thing_id"]
    assert put["url"]["variable"] == [{"key": "thing_id", "value": "0"}]
    assert put["url"]["query"] == [
        {"key": "dry_run", "value": "true", "description": "Only check", "disabled": True},
        {"key": "mode", "value": "fast", "description": "One of: fast, slow."},
    ]
    # Required and non-nullable members; nullable optional ones are left out.
    assert json.loads(put["body"]["raw"]) == {
        "name": "lamp",
        "tags": ["<string>"],
        "when": "2026-01-01T00:00:00Z",
        "mode": "fast",
    }
    login = item_named(toy, "Log in")
    assert login["request"]["auth"] == {"type": "noauth"}
    assert json.loads(login["request"]["body"]["raw"]) == {
        "username": "{{username}}",
        "password": "{{password}}",
    }


def test_the_generator_does_not_depend_on_the_order_of_paths() -> None:
    reordered = {**TOY_SCHEMA, "paths": dict(reversed(list(TOY_SCHEMA["paths"].items())))}
    assert render(collection_from_openapi(reordered)) == render(collection_from_openapi(TOY_SCHEMA))
