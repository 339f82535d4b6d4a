"""The committed Postman collection is generated from the OpenAPI schema and kept in step with it."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from entrypoints.postman import POSTMAN_SCHEMA, FlowMismatch, collection_from_openapi, render
from entrypoints.postman_flow import FLOW, Flow, Folder, Step

COLLECTION_FILE = Path(__file__).resolve().parents[3] / "postman" / "wa-gateway.postman_collection.json"
REGENERATE = "uv run wa-gateway postman -o postman/wa-gateway.postman_collection.json"
HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")


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


def requests_with_their_operations(
    schema: dict[str, Any], collection: dict[str, Any]
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Each request of the collection, with the schema's operation it calls."""
    by_route = {
        (method.upper(), "{{baseUrl}}" + re.sub(r"\{([^}]+)\}", r":\1", path)): operation
        for path, path_item in schema["paths"].items()
        for method, operation in path_item.items()
        if method in HTTP_METHODS
    }
    for item in requests_of(collection):
        request = item["request"]
        yield item, by_route[(request["method"], request["url"]["raw"].split("?")[0])]


SET_VARIABLE = re.compile(r'pm\.collectionVariables\.set\("([^"]+)"')
USED_VARIABLE = re.compile(r"\{\{([^{}]+)\}\}")


def script_of(item: dict[str, Any], listen: str) -> str:
    return "\n".join(
        line
        for event in item.get("event", [])
        if event["listen"] == listen
        for line in event["script"]["exec"]
    )


def checks_of(item: dict[str, Any]) -> str:
    """The request's test script: its status check and what it saves."""
    return script_of(item, "test")


def bearer_of(collection: dict[str, Any], item: dict[str, Any]) -> str | None:
    """The variable holding the Bearer token the request sends (its own, its folder's or the
    collection's), None when it sends none."""
    for auth in (item["request"].get("auth"), folder_of(collection, item).get("auth"), collection["auth"]):
        if auth:
            if auth["type"] != "bearer":
                return None
            return str(auth["bearer"][0]["value"]).strip("{}")
    return None


def folder_of(collection: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    return next(folder for folder in collection["item"] if any(child is item for child in folder["item"]))


def test_the_committed_collection_is_up_to_date(collection: dict[str, Any]) -> None:
    expected = render(collection)
    assert COLLECTION_FILE.is_file(), f"{COLLECTION_FILE.name} is missing: run `{REGENERATE}`"
    assert COLLECTION_FILE.read_text(encoding="utf-8") == expected, (
        f"{COLLECTION_FILE.name} no longer matches the OpenAPI schema: run `{REGENERATE}` and commit it"
    )


def test_the_collection_is_v2_1_with_its_variables_and_bearer_auth(collection: dict[str, Any]) -> None:
    assert collection["info"]["schema"] == POSTMAN_SCHEMA
    variables = {variable["key"]: variable["value"] for variable in collection["variable"]}
    given = {key: value for key, value in variables.items() if value}
    assert given == {
        "baseUrl": "http://127.0.0.1:8000",
        "username": "demo",
        "password": "password",
        "contact": "+14155550123",
        "webhookUrl": "https://example.com/wa-gateway/events",
    }
    assert {"accessToken", "refreshToken", "adminUsername", "adminPassword"} <= set(variables)
    assert all(variable["description"] for variable in collection["variable"])
    assert collection["auth"] == {
        "type": "bearer",
        "bearer": [{"key": "token", "value": "{{accessToken}}", "type": "string"}],
    }


def test_every_operation_appears_and_every_request_has_its_own_name(
    schema: dict[str, Any], collection: dict[str, Any]
) -> None:
    expected = {
        (method.upper(), "{{baseUrl}}" + re.sub(r"\{([^}]+)\}", r":\1", path))
        for path, path_item in schema["paths"].items()
        for method in path_item
        if method in HTTP_METHODS
    }
    requests = requests_of(collection)
    actual = {(item["request"]["method"], item["request"]["url"]["raw"].split("?")[0]) for item in requests}
    assert actual == expected
    names = Counter(item["name"] for item in requests)
    assert [name for name, count in names.items() if count > 1] == []


def test_every_step_of_the_flow_names_an_operation_of_the_schema(schema: dict[str, Any]) -> None:
    operation_ids = {
        operation["operationId"]
        for path_item in schema["paths"].values()
        for method, operation in path_item.items()
        if method in HTTP_METHODS
    }
    named = {step.operation_id for folder in FLOW.folders for step in (*folder.steps, *folder.closing)}
    assert named - operation_ids == set()


def test_the_run_logs_in_first_refreshes_and_logs_out_last(
    schema: dict[str, Any], collection: dict[str, Any]
) -> None:
    requests = requests_of(collection)
    login, refresh, logout = (
        operation_by_id(schema, operation_id)["summary"]
        for operation_id in ("login", "refreshSession", "logout")
    )
    assert [item["name"] for item in requests[:2]] == [login, refresh]
    assert requests[-1]["name"] == logout
    assert json.loads(requests[0]["request"]["body"]["raw"]) == {
        "username": "{{username}}",
        "password": "{{password}}",
    }
    assert json.loads(requests[1]["request"]["body"]["raw"]) == {"refresh_token": "{{refreshToken}}"}
    for item in requests[:2]:
        script = checks_of(item)
        assert 'pm.collectionVariables.set("accessToken", body.access_token);' in script
        assert 'pm.collectionVariables.set("refreshToken", body.refresh_token);' in script
    # No request before the last ends the session the others use.
    ending = {"/auth/logout", "/api/me/password"}
    for item in requests[:-1]:
        if item["request"]["url"]["raw"].removeprefix("{{baseUrl}}") in ending:
            assert bearer_of(collection, item) != "accessToken", item["name"]
    assert bearer_of(collection, requests[-1]) == "accessToken"


def test_no_request_carries_a_placeholder(collection: dict[str, Any]) -> None:
    """Ids are variables saved by earlier requests; bodies and sent parameters hold real values."""
    for item in requests_of(collection):
        request = item["request"]
        sent = [variable["value"] for variable in request["url"].get("variable", [])]
        sent += [entry["value"] for entry in request["url"].get("query", []) if not entry.get("disabled")]
        sent += [entry["value"] for entry in request["header"] if not entry.get("disabled")]
        body = request.get("body", {})
        sent.append(body.get("raw", ""))
        sent += [field["value"] for field in body.get("urlencoded", [])]
        placeholders = [value for value in sent if re.search(r"<(string|uuid)>", value)]
        assert placeholders == [], item["name"]


def test_every_variable_a_request_uses_is_declared_and_set_before_it_is_used(
    collection: dict[str, Any],
) -> None:
    declared = {variable["key"]: variable["value"] for variable in collection["variable"]}
    # What the user gives (the platform admin's login may be left empty: its folder is then skipped).
    available = {key for key, value in declared.items() if value} | {"adminUsername", "adminPassword"}
    for item in requests_of(collection):
        before = script_of(item, "prerequest")
        used = set(USED_VARIABLE.findall(json.dumps(item["request"]) + before))
        used |= {bearer_of(collection, item)} - {None}
        used = {name for name in used if not name.startswith("$")}  # Postman's own, such as {{$guid}}
        assert used <= set(declared), f"{item['name']} uses undeclared {used - set(declared)}"
        available |= set(SET_VARIABLE.findall(before))
        assert used <= available, f"{item['name']} uses {used - available} before a request sets it"
        available |= set(SET_VARIABLE.findall(checks_of(item)))


def test_every_request_checks_a_status_its_operation_documents(
    schema: dict[str, Any], collection: dict[str, Any]
) -> None:
    for item, operation in requests_with_their_operations(schema, collection):
        checked = re.search(
            r"pm\.expect\(pm\.response\.code\)\.to\.be\.oneOf\((\[[^]]*\])\)", checks_of(item)
        )
        assert checked, f"{item['name']} checks no status"
        statuses = json.loads(checked.group(1))
        assert statuses, item["name"]
        assert {str(status) for status in statuses} <= set(operation["responses"]), item["name"]


def test_twilio_credentials_are_set_only_on_the_tenant_the_platform_admin_creates(
    schema: dict[str, Any], collection: dict[str, Any]
) -> None:
    summary = operation_by_id(schema, "setCredentials")["summary"]
    item = item_named(collection, summary)
    assert bearer_of(collection, item) == "tenantAdminAccessToken"
    request = item["request"]
    body = json.loads(request["body"]["raw"])
    assert body == {"account_sid": "{{twilioAccountSid}}", "auth_token": "{{twilioAuthToken}}"}
    assert folder_of(collection, item)["name"] == "Platform admin"


def test_the_platform_admin_folder_runs_only_with_a_platform_admin_login(
    schema: dict[str, Any], collection: dict[str, Any]
) -> None:
    folder = next(folder for folder in collection["item"] if folder["name"] == "Platform admin")
    assert folder["auth"]["bearer"][0]["value"] == "{{adminAccessToken}}"
    skip = "\n".join(line for event in folder["event"] for line in event["script"]["exec"])
    assert 'if (!pm.variables.get("adminUsername")) {' in skip
    assert "pm.execution.skipRequest();" in skip
    admin_operations = {
        operation["summary"]
        for path, path_item in schema["paths"].items()
        for method, operation in path_item.items()
        if method in HTTP_METHODS and path.startswith("/admin/")
    }
    assert admin_operations <= {item["name"] for item in folder["item"]}
    first = folder["item"][0]
    assert json.loads(first["request"]["body"]["raw"]) == {
        "username": "{{adminUsername}}",
        "password": "{{adminPassword}}",
    }
    assert 'pm.collectionVariables.set("adminAccessToken", body.access_token);' in checks_of(first)


def test_only_operations_without_security_opt_out_of_the_bearer_token(
    schema: dict[str, Any], collection: dict[str, Any]
) -> None:
    for item, operation in requests_with_their_operations(schema, collection):
        request = item["request"]
        if operation.get("security"):
            assert request.get("auth", {"type": "bearer"})["type"] == "bearer", item["name"]
        else:
            assert request["auth"] == {"type": "noauth"}, item["name"]


def test_send_message_has_a_json_body_from_the_schema_examples(
    schema: dict[str, Any], collection: dict[str, Any]
) -> None:
    send = item_named(collection, operation_by_id(schema, "sendMessage")["summary"])["request"]
    assert {"key": "Content-Type", "value": "application/json"} in send["header"]
    body = json.loads(send["body"]["raw"])
    assert body == {"to_number": "{{contact}}", "body": "Your order has shipped"}
    variables = {variable["key"]: variable["value"] for variable in collection["variable"]}
    assert variables["contact"] == "+14155550123"


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


NO_FLOW = Flow(folders=())
TOY_FLOW = Flow(
    folders=(
        Folder(
            "Start",
            "Log in first",
            steps=(
                Step(
                    "login",
                    body={"username": "{{username}}", "password": "{{password}}"},
                    saves={"accessToken": "body.access_token"},
                ),
            ),
        ),
        Folder(
            "Things",
            "What a user does with things",
            steps=(
                Step(
                    "putThing",
                    name="Replace the saved thing",
                    path={"thing_id": "{{thingId}}"},
                    query={"dry_run": "false"},
                    body={"tags": ["red"]},
                    expect=(200, 404),
                    saves={"thingName": "body.name"},
                    before=("// first",),
                    bearer="otherToken",
                ),
            ),
            closing=(Step("login", name="Log in again"),),
            bearer="thingsToken",
        ),
    )
)


def test_the_generator_follows_refs_and_fills_placeholders() -> None:
    toy = collection_from_openapi(TOY_SCHEMA, NO_FLOW)
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
    # Without a step, a request still checks that it answers one of its documented successes.
    assert "pm.expect(pm.response.code).to.be.oneOf([200]);" in checks_of(login)


def test_a_flow_orders_the_requests_gives_them_values_and_saves_what_they_answer() -> None:
    toy = collection_from_openapi(TOY_SCHEMA, TOY_FLOW)
    assert [folder["name"] for folder in toy["item"]] == ["Start", "Things"]
    assert [item["name"] for item in requests_of(toy)] == [
        "Log in",
        "Replace the saved thing",
        "Log in again",
    ]
    login = item_named(toy, "Log in")
    assert json.loads(login["request"]["body"]["raw"]) == {
        "username": "{{username}}",
        "password": "{{password}}",
    }
    assert 'pm.collectionVariables.set("accessToken", body.access_token);' in checks_of(login)

    things = toy["item"][1]
    assert things["auth"]["bearer"][0]["value"] == "{{thingsToken}}"
    put = item_named(toy, "Replace the saved thing")
    request = put["request"]
    assert request["auth"]["bearer"][0]["value"] == "{{otherToken}}"
    assert request["url"]["variable"] == [{"key": "thing_id", "value": "{{thingId}}"}]
    assert request["url"]["raw"] == "{{baseUrl}}/things/:thing_id?dry_run=false&mode=fast"
    # The rest of the body stays the schema's example.
    assert json.loads(request["body"]["raw"])["tags"] == ["red"]
    assert json.loads(request["body"]["raw"])["name"] == "lamp"
    assert script_of(put, "prerequest") == "// first"
    assert checks_of(put).splitlines() == [
        'pm.test("status is 200 or 404", function () {',
        "    pm.expect(pm.response.code).to.be.oneOf([200, 404]);",
        "});",
        "if ([200, 404].includes(pm.response.code)) {",
        "    const body = pm.response.json();",
        '    pm.collectionVariables.set("thingName", body.name);',
        "}",
    ]


def test_operations_no_step_names_join_the_folder_of_their_tag_before_its_closing_steps() -> None:
    flow = Flow(
        folders=(
            Folder("Start", "", steps=(Step("login"),)),
            Folder("Stuff", "", steps=(), tags=("things",), closing=(Step("login", name="Log in again"),)),
        )
    )
    toy = collection_from_openapi(TOY_SCHEMA, flow)
    assert [item["name"] for item in toy["item"][1]["item"]] == ["Replace a thing", "Log in again"]


def test_operations_under_a_path_a_folder_claims_join_it_whatever_their_tag() -> None:
    flow = Flow(
        folders=(
            Folder("Start", "", steps=(Step("login"),)),
            Folder("Admin", "", steps=(), tags=("nothing",), paths=("/things/",)),
        )
    )
    toy = collection_from_openapi(TOY_SCHEMA, flow)
    assert [folder["name"] for folder in toy["item"]] == ["Start", "Admin"]
    assert [item["name"] for item in toy["item"][1]["item"]] == ["Replace a thing"]


def test_a_tag_no_folder_claims_gets_its_folder_where_the_flow_says() -> None:
    flow = Flow(
        folders=(
            Folder("Start", "", steps=(Step("login"),)),
            Folder("End", "", steps=(Step("login", name="Again"),)),
        ),
        other_tags_before="End",
    )
    toy = collection_from_openapi(TOY_SCHEMA, flow)
    assert [folder["name"] for folder in toy["item"]] == ["Start", "things", "End"]


@pytest.mark.parametrize(
    "step",
    [
        Step("putThing", path={"thing": "1"}),
        Step("putThing", query={"verbose": "true"}),
        Step("putThing", headers={"X-Nothing": "1"}),
        Step("login", bearer="accessToken"),
    ],
)
def test_a_step_naming_what_its_operation_does_not_have_is_refused(step: Step) -> None:
    with pytest.raises(FlowMismatch):
        collection_from_openapi(TOY_SCHEMA, Flow(folders=(Folder("Only", "", steps=(step,)),)))


def test_the_generator_does_not_depend_on_the_order_of_paths() -> None:
    reordered = {**TOY_SCHEMA, "paths": dict(reversed(list(TOY_SCHEMA["paths"].items())))}
    assert render(collection_from_openapi(reordered)) == render(collection_from_openapi(TOY_SCHEMA))
