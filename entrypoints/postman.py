"""A Postman collection (v2.1.0) generated from the OpenAPI schema, so the two cannot drift.

Requests run in the order of ``postman_flow.FLOW``, as a user works: log in first, then each part of
the API, log out last. Created ids are saved into collection variables by each request's test script
and used by the requests after it, and every request checks its status. Everything the flow does not
say comes from the schema: method, URL, parameters, example bodies, and auth (the collection's Bearer
``{{accessToken}}``, or none where the operation needs no security). An operation no step names still
appears, with the schema's example values, in the folder of its tag.

Pure functions of the schema dict: the same schema always gives the same collection.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from entrypoints.postman_flow import FLOW, SAVED_VARIABLES, USER_VARIABLES, Flow, Folder, Step

POSTMAN_SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"

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


class FlowMismatch(ValueError):
    """A step of the flow names a parameter, body or token its operation does not have."""


@dataclass(frozen=True, slots=True)
class _Operation:
    path: str
    method: str
    operation: Mapping[str, Any]
    shared_parameters: list[Any]

    @property
    def tag(self) -> str:
        return str((self.operation.get("tags") or [UNTAGGED])[0])


def collection_from_openapi(schema: Mapping[str, Any], flow: Flow = FLOW) -> dict[str, Any]:
    """The Postman collection running every operation of ``schema`` in the order of ``flow``."""
    components: Mapping[str, Any] = schema.get("components", {}).get("schemas", {})
    default_security: list[Any] = schema.get("security", [])
    tag_descriptions = {
        str(tag["name"]): str(tag.get("description") or "") for tag in schema.get("tags", []) if "name" in tag
    }

    # By path and method, not in the schema's dict order, so that the output is stable.
    operations: dict[str, _Operation] = {}
    for path, path_item in sorted(schema.get("paths", {}).items()):
        for method in HTTP_METHODS:
            if method in path_item:
                operation = path_item[method]
                key = str(operation.get("operationId") or f"{method.upper()} {path}")
                operations[key] = _Operation(path, method, operation, path_item.get("parameters", []))

    def item(step: Step, folder: Folder) -> dict[str, Any]:
        return _step_item(operations[step.operation_id], step, folder, components, default_security)

    unnamed_by_folder, unnamed_by_tag = _unnamed(operations, flow)
    folders: list[dict[str, Any]] = []
    for folder in flow.folders:
        items = [item(step, folder) for step in folder.steps if step.operation_id in operations]
        items.extend(item(Step(key), folder) for key in unnamed_by_folder.pop(folder.name, []))
        for tag in folder.tags:
            items.extend(item(Step(key), folder) for key in unnamed_by_tag.pop(tag, []))
        items.extend(item(step, folder) for step in folder.closing if step.operation_id in operations)
        if items:
            folders.append(_folder(folder, items))

    others = []
    for tag, keys in sorted(unnamed_by_tag.items()):
        tag_folder = Folder(tag, tag_descriptions.get(tag, ""), steps=())
        others.append(_folder(tag_folder, [item(Step(key), tag_folder) for key in keys]))
    names = [folder["name"] for folder in folders]
    at = names.index(flow.other_tags_before) if flow.other_tags_before in names else len(folders)
    folders[at:at] = others

    return {
        "info": _info(schema.get("info", {})),
        "item": folders,
        "auth": _bearer("accessToken"),
        "variable": [
            *(_variable(key, value, description) for key, value, description in USER_VARIABLES),
            *(_variable(key, "", description) for key, description in SAVED_VARIABLES.items()),
        ],
    }


def _unnamed(
    operations: Mapping[str, _Operation], flow: Flow
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The operations no step names: by the folder that claims their path, else by their tag."""
    named = {step.operation_id for folder in flow.folders for step in (*folder.steps, *folder.closing)}
    by_folder: dict[str, list[str]] = {}
    by_tag: dict[str, list[str]] = {}
    for key, found in operations.items():
        if key in named:
            continue
        claimed_by = next(
            (folder.name for folder in flow.folders if any(map(found.path.startswith, folder.paths))), None
        )
        if claimed_by is not None:
            by_folder.setdefault(claimed_by, []).append(key)
        else:
            by_tag.setdefault(found.tag, []).append(key)
    return by_folder, by_tag


def _info(info: Mapping[str, Any]) -> dict[str, Any]:
    title = str(info.get("title", "API"))
    collection_info: dict[str, Any] = {
        "_postman_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:openapi:{title}")),
        "name": title,
        "schema": POSTMAN_SCHEMA,
    }
    if info.get("description"):
        collection_info["description"] = str(info["description"])
    if info.get("version"):
        collection_info["version"] = str(info["version"])
    return collection_info


def render(collection: Mapping[str, Any]) -> str:
    """The collection as committed: indented, keys sorted, a trailing newline."""
    return json.dumps(collection, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _folder(folder: Folder, items: list[dict[str, Any]]) -> dict[str, Any]:
    node: dict[str, Any] = {"name": folder.name, "item": items}
    if folder.description:
        node["description"] = folder.description
    if folder.bearer:
        node["auth"] = _bearer(folder.bearer)
    if folder.runs_if:
        node["event"] = [
            _script(
                "prerequest",
                [
                    f"// Skipped unless {folder.runs_if} is set.",
                    f'if (!pm.variables.get("{folder.runs_if}")) {{',
                    "    pm.execution.skipRequest();",
                    "}",
                ],
            )
        ]
    return node


def _bearer(variable: str) -> dict[str, Any]:
    return {"type": "bearer", "bearer": [{"key": "token", "value": f"{{{{{variable}}}}}", "type": "string"}]}


def _variable(key: str, value: str, description: str) -> dict[str, Any]:
    return {"key": key, "value": value, "type": "string", "description": description}


def _script(listen: str, lines: list[str]) -> dict[str, Any]:
    return {"listen": listen, "script": {"type": "text/javascript", "exec": lines}}


def _step_item(
    found: _Operation,
    step: Step,
    folder: Folder,
    components: Mapping[str, Any],
    default_security: list[Any],
) -> dict[str, Any]:
    operation = found.operation
    where = f"{folder.name} / {step.name or step.operation_id}"
    parameters = _parameters(found.shared_parameters, operation.get("parameters", []), components)
    _give_values(parameters, "path", step.path, where)
    _give_values(parameters, "query", step.query, where)
    _give_values(parameters, "header", step.headers, where)

    request: dict[str, Any] = {
        "method": found.method.upper(),
        "header": [],
        "url": _url(found.path, parameters, components),
    }
    description = step.description or operation.get("description")
    if description:
        request["description"] = str(description)

    body = _resolve(operation.get("requestBody"), components)
    content: Mapping[str, Any] = body.get("content", {}) if isinstance(body, Mapping) else {}
    media_type = next(iter(content), None)
    if media_type is not None:
        request["header"].append({"key": "Content-Type", "value": media_type})
        if media_type == FORM_MEDIA_TYPE:
            request["body"] = _form_body(content[media_type], components)
        else:
            request["body"] = _body(content[media_type], components, step.body, where)
    elif step.body:
        raise FlowMismatch(f"{where}: the operation takes no body")
    for parameter in parameters:
        if parameter.get("in") == "header":
            request["header"].append(_parameter_entry(parameter, components))

    security = operation.get("security", default_security)
    if not any(requirement for requirement in security):
        if step.bearer:
            raise FlowMismatch(f"{where}: the operation takes no credential")
        request["auth"] = {"type": "noauth"}
    elif step.bearer:
        request["auth"] = _bearer(step.bearer)

    events = []
    if step.before:
        events.append(_script("prerequest", list(step.before)))
    events.append(_script("test", _test_lines(step.expect or _success_statuses(operation), step.saves)))
    return {
        "name": step.name or str(operation.get("summary") or step.operation_id),
        "request": request,
        "response": [],
        "event": events,
    }


def _give_values(
    parameters: list[Mapping[str, Any]], location: str, values: Mapping[str, str], where: str
) -> None:
    """Give parameters the flow's values, as examples that are sent (not left disabled)."""
    known = {str(p.get("name")) for p in parameters if p.get("in") == location}
    unknown = set(values) - known
    if unknown:
        raise FlowMismatch(f"{where}: no {location} parameter {', '.join(sorted(unknown))}")
    for index, parameter in enumerate(parameters):
        if parameter.get("in") == location and parameter.get("name") in values:
            parameters[index] = {**parameter, "example": values[str(parameter["name"])], "required": True}


def _success_statuses(operation: Mapping[str, Any]) -> tuple[int, ...]:
    statuses = sorted(int(code) for code in operation.get("responses", {}) if str(code).startswith("2"))
    return tuple(statuses) or (200,)


def _test_lines(expect: tuple[int, ...], saves: Mapping[str, str]) -> list[str]:
    codes = json.dumps(list(expect), separators=(", ", ": "))
    lines = [
        f'pm.test("status is {" or ".join(str(code) for code in expect)}", function () {{',
        f"    pm.expect(pm.response.code).to.be.oneOf({codes});",
        "});",
    ]
    if saves:
        lines.append(f"if ({codes}.includes(pm.response.code)) {{")
        lines.append("    const body = pm.response.json();")
        lines.extend(
            f'    pm.collectionVariables.set("{name}", {expression});' for name, expression in saves.items()
        )
        lines.append("}")
    return lines


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


def _body(
    media: Mapping[str, Any], components: Mapping[str, Any], values: Mapping[str, Any], where: str
) -> dict[str, Any]:
    """The schema's example body, with the flow's values in place of the example's."""
    if "example" in media:
        example: Any = media["example"]
    elif media.get("examples"):
        example = _first_named_example(media["examples"], components)
    else:
        example = _example(media.get("schema", {}), components, 0)
    if isinstance(example, str) and not values:  # a file rather than JSON (the contact import's CSV)
        return {"mode": "raw", "raw": example, "options": {"raw": {"language": "text"}}}
    if values:
        if not isinstance(example, dict):
            raise FlowMismatch(f"{where}: the body is not an object")
        example = {**example, **values}
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
