"""A Postman collection (v2.1.0) generated from the OpenAPI schema, so the two cannot drift.

One folder per tag, one request per operation. Requests inherit the collection's Bearer auth
(``{{accessToken}}``) unless the operation needs no security; the login request posts
``{{username}}``/``{{password}}`` and stores the returned access token, so running "login" first
makes every other request work.

Pure functions of the schema dict: the same schema always gives the same collection.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

POSTMAN_SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
LOGIN_OPERATION_ID = "login"
REFRESH_OPERATION_ID = "refreshSession"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_USERNAME = "demo"
DEFAULT_PASSWORD = "password"  # noqa: S105 - the development demo user's documented password

HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")
UNTAGGED = "default"
MAX_DEPTH = 8
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"

# Placeholders for values the schema gives no example for, by string format.
FORMAT_PLACEHOLDERS: dict[str, str] = {
    "uuid": "<uuid>",
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
}

_PATH_PARAMETER = re.compile(r"\{([^}/:]+)(?::[^}]*)?\}")


def collection_from_openapi(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The Postman collection describing every operation of ``schema``."""
    components: Mapping[str, Any] = schema.get("components", {}).get("schemas", {})
    default_security: list[Any] = schema.get("security", [])
    info = schema.get("info", {})
    title = str(info.get("title", "API"))

    declared_tags = [tag for tag in schema.get("tags", []) if "name" in tag]
    tag_order = {str(tag["name"]): index for index, tag in enumerate(declared_tags)}
    tag_descriptions = {str(tag["name"]): str(tag.get("description") or "") for tag in declared_tags}

    # Sorted, not in the schema's dict order: the login request first (the Collection Runner then
    # authenticates before anything else), then by path and method.
    operations = sorted(
        (
            (path_item[method].get("operationId") != LOGIN_OPERATION_ID, path, HTTP_METHODS.index(method)),
            method,
            path_item,
        )
        for path, path_item in schema.get("paths", {}).items()
        for method in HTTP_METHODS
        if method in path_item
    )
    folders: dict[str, list[dict[str, Any]]] = {}
    folder_keys: dict[str, tuple[bool, int, str]] = {}
    for (not_login, path, _), method, path_item in operations:
        operation = path_item[method]
        tag = str((operation.get("tags") or [UNTAGGED])[0])
        item = _request_item(
            path, method, operation, path_item.get("parameters", []), components, default_security
        )
        folders.setdefault(tag, []).append(item)
        key = (not_login, tag_order.get(tag, len(tag_order)), tag)
        folder_keys[tag] = min(key, folder_keys.get(tag, key))

    collection_info: dict[str, Any] = {
        "_postman_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:openapi:{title}")),
        "name": title,
        "schema": POSTMAN_SCHEMA,
    }
    if info.get("description"):
        collection_info["description"] = str(info["description"])
    if info.get("version"):
        collection_info["version"] = str(info["version"])

    return {
        "info": collection_info,
        "item": [
            _folder(tag, folders[tag], tag_descriptions.get(tag))
            for tag in sorted(folders, key=folder_keys.__getitem__)
        ],
        "auth": {
            "type": "bearer",
            "bearer": [{"key": "token", "value": "{{accessToken}}", "type": "string"}],
        },
        "variable": [
            _variable("baseUrl", DEFAULT_BASE_URL, "Where the API runs"),
            _variable("username", DEFAULT_USERNAME, "Who the login request logs in as"),
            _variable("password", DEFAULT_PASSWORD, "The password of that user"),
            _variable("accessToken", "", "Set by the login request; sent as the Bearer token"),
            _variable(
                "refreshToken", "", "Set by the login and refresh requests; sent by the refresh request"
            ),
        ],
    }


def render(collection: Mapping[str, Any]) -> str:
    """The collection as committed: indented, keys sorted, a trailing newline."""
    return json.dumps(collection, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _folder(name: str, items: list[dict[str, Any]], description: str | None) -> dict[str, Any]:
    folder: dict[str, Any] = {"name": name, "item": items}
    if description:
        folder["description"] = description
    return folder


def _variable(key: str, value: str, description: str) -> dict[str, Any]:
    return {"key": key, "value": value, "type": "string", "description": description}


def _request_item(
    path: str,
    method: str,
    operation: Mapping[str, Any],
    shared_parameters: list[Any],
    components: Mapping[str, Any],
    default_security: list[Any],
) -> dict[str, Any]:
    operation_id = operation.get("operationId")
    is_login = operation_id == LOGIN_OPERATION_ID
    parameters = _parameters(shared_parameters, operation.get("parameters", []), components)

    request: dict[str, Any] = {
        "method": method.upper(),
        "header": [],
        "url": _url(path, parameters, components),
    }
    description = operation.get("description")
    if description:
        request["description"] = str(description)

    body = operation.get("requestBody")
    if body is not None:
        body = _resolve(body, components)
        content: Mapping[str, Any] = body.get("content", {})
        media_type = next(iter(content), None)
        if media_type is not None:
            request["header"].append({"key": "Content-Type", "value": media_type})
            if media_type == FORM_MEDIA_TYPE:
                request["body"] = _form_body(content[media_type], components)
            else:
                request["body"] = _body(content[media_type], components, is_login=is_login)
    for parameter in parameters:
        if parameter.get("in") == "header":
            request["header"].append(_parameter_entry(parameter, components))

    security = operation.get("security", default_security)
    if not any(requirement for requirement in security):
        request["auth"] = {"type": "noauth"}

    item: dict[str, Any] = {
        "name": str(operation.get("summary") or operation_id or f"{method.upper()} {path}"),
        "request": request,
        "response": [],
    }
    if is_login or operation_id == REFRESH_OPERATION_ID:
        item["event"] = [_store_token_script()]
    return item


def _parameters(shared: list[Any], own: list[Any], components: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Path-level parameters overridden by the operation's own (same name and location)."""
    merged: dict[tuple[str, str], Mapping[str, Any]] = {}
    for parameter in [*shared, *own]:
        resolved = _resolve(parameter, components)
        merged[(str(resolved.get("in")), str(resolved.get("name")))] = resolved
    return list(merged.values())


def _url(path: str, parameters: list[Mapping[str, Any]], components: Mapping[str, Any]) -> dict[str, Any]:
    postman_path = _PATH_PARAMETER.sub(lambda match: f":{match.group(1)}", path)
    url: dict[str, Any] = {
        "host": ["{{baseUrl}}"],
        "path": [segment for segment in postman_path.split("/") if segment],
    }
    query = [_parameter_entry(p, components) for p in parameters if p.get("in") == "query"]
    enabled = "&".join(f"{q['key']}={q['value']}" for q in query if not q.get("disabled"))
    url["raw"] = "{{baseUrl}}" + postman_path + (f"?{enabled}" if enabled else "")
    if query:
        url["query"] = query
    variables = [_parameter_entry(p, components) for p in parameters if p.get("in") == "path"]
    for variable in variables:
        variable.pop("disabled", None)
    if variables:
        url["variable"] = variables
    return url


def _parameter_entry(parameter: Mapping[str, Any], components: Mapping[str, Any]) -> dict[str, Any]:
    schema = _resolve(parameter.get("schema", {}), components)
    if "example" in parameter:
        value: Any = parameter["example"]
    elif parameter.get("examples"):
        value = _first_named_example(parameter["examples"], components)
    else:
        value = _example(schema, components, 0)
    entry: dict[str, Any] = {"key": str(parameter["name"]), "value": _as_text(value)}
    description = _parameter_description(parameter, schema, components)
    if description:
        entry["description"] = description
    if not parameter.get("required", False):
        entry["disabled"] = True
    return entry


def _parameter_description(
    parameter: Mapping[str, Any], schema: Mapping[str, Any], components: Mapping[str, Any]
) -> str:
    parts = [str(parameter.get("description") or schema.get("description") or "")]
    choices = _enum(schema, components)
    if choices:
        parts.append("One of: " + ", ".join(_as_text(choice) for choice in choices) + ".")
    return " ".join(part for part in parts if part)


def _enum(schema: Mapping[str, Any], components: Mapping[str, Any]) -> list[Any]:
    schema = _resolve(schema, components)
    if "enum" in schema:
        return [choice for choice in schema["enum"] if choice is not None]
    for key in ("oneOf", "anyOf"):
        for option in schema.get(key, []):
            choices = _enum(option, components)
            if choices:
                return choices
    return []


def _first_named_example(examples: Mapping[str, Any], components: Mapping[str, Any]) -> Any:
    first = _resolve(next(iter(examples.values())), components)
    return first.get("value")


def _body(media: Mapping[str, Any], components: Mapping[str, Any], *, is_login: bool) -> dict[str, Any]:
    if "example" in media:
        example: Any = media["example"]
    elif media.get("examples"):
        example = _first_named_example(media["examples"], components)
    else:
        example = _example(media.get("schema", {}), components, 0)
    if is_login and isinstance(example, dict):
        example = {
            key: f"{{{{{key}}}}}" if key in {"username", "password"} else v for key, v in example.items()
        }
    if isinstance(example, dict) and set(example) == {"refresh_token"}:
        example = {"refresh_token": "{{refreshToken}}"}
    return {"mode": "raw", "raw": json.dumps(example, indent=2), "options": {"raw": {"language": "json"}}}


def _form_body(media: Mapping[str, Any], components: Mapping[str, Any]) -> dict[str, Any]:
    """A form-encoded body (Twilio's webhooks): one key per documented field."""
    schema = _resolve(media.get("schema", {}), components)
    fields = schema.get("properties", {}) if isinstance(schema, Mapping) else {}
    return {
        "mode": "urlencoded",
        "urlencoded": [
            {"key": name, "value": _as_text(_example(field, components, 1)), "type": "text"}
            for name, field in fields.items()
        ],
    }


def _store_token_script() -> dict[str, Any]:
    return {
        "listen": "test",
        "script": {
            "type": "text/javascript",
            "exec": [
                'pm.test("logged in", function () {',
                "    pm.response.to.have.status(200);",
                "});",
                "if (pm.response.code === 200) {",
                '    pm.collectionVariables.set("accessToken", pm.response.json().access_token);',
                '    pm.collectionVariables.set("refreshToken", pm.response.json().refresh_token);',
                "}",
            ],
        },
    }


def _resolve(node: Any, components: Mapping[str, Any]) -> Any:
    """Follow ``$ref`` pointers into ``#/components/schemas`` (other nodes are returned as they are)."""
    seen: set[str] = set()
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
        reference = node["$ref"]
        prefix = "#/components/schemas/"
        if reference in seen or not reference.startswith(prefix):
            return {}
        seen.add(reference)
        node = components.get(reference.removeprefix(prefix), {})
    return node


def _example(schema: Any, components: Mapping[str, Any], depth: int) -> Any:  # noqa: PLR0911
    """An example value: the schema's own examples first, then a placeholder by type."""
    schema = _resolve(schema, components)
    if not isinstance(schema, Mapping) or depth > MAX_DEPTH:
        return None
    if schema.get("examples"):
        return schema["examples"][0]
    for key in ("example", "const"):
        if key in schema:
            return schema[key]
    if schema.get("enum"):
        return schema["enum"][0]
    if schema.get("default") not in (None, "", [], {}):
        return schema["default"]
    for key in ("oneOf", "anyOf"):
        options = [option for option in schema.get(key, []) if not _is_null(option, components)]
        if options:
            return _example(options[0], components, depth + 1)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = _example(part, components, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    return _placeholder(schema, components, depth)


def _placeholder(schema: Mapping[str, Any], components: Mapping[str, Any], depth: int) -> Any:  # noqa: PLR0911
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object" or "properties" in schema:
        required = set(schema.get("required", []))
        return {
            name: _example(property_schema, components, depth + 1)
            for name, property_schema in schema.get("properties", {}).items()
            if name in required or not _is_nullable(property_schema, components)
        }
    if kind == "array":
        return [_example(schema.get("items", {}), components, depth + 1)]
    if kind == "integer":
        return int(schema.get("minimum", 0))
    if kind == "number":
        return schema.get("minimum", 0)
    if kind == "boolean":
        return True
    if kind == "string":
        return FORMAT_PLACEHOLDERS.get(str(schema.get("format")), "<string>")
    return None


def _is_null(schema: Any, components: Mapping[str, Any]) -> bool:
    schema = _resolve(schema, components)
    return isinstance(schema, Mapping) and schema.get("type") == "null"


def _is_nullable(schema: Any, components: Mapping[str, Any]) -> bool:
    schema = _resolve(schema, components)
    if not isinstance(schema, Mapping):
        return True
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    return any(_is_null(option, components) for key in ("oneOf", "anyOf") for option in schema.get(key, []))


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value)
