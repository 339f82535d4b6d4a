"""The OpenAPI schema and the server's answers agree: what a client built from the schema sends is what
the server takes, and what the server refuses, the schema says.

- JSON request bodies are decoded strictly, as their JSON types say: Litestar converts them with
  msgspec's lax rules, made for query strings (``0`` would pass for ``false``, ``"10"`` for ``10``).
  The route gets that decoding; Litestar does not decode the body again.
- A request body's schema is msgspec's view of it: ``additionalProperties: false`` (unknown fields are
  refused), and every constraint, nested ones included.
- ``OPTIONS`` lists every method of the path: Litestar 2's automatic answer lists only the methods of
  the first handler registered on the path (litestar-org/litestar#4169, fixed in Litestar 3).
- Every operation that writes declares the 409 of a concurrent update, which any of them can answer.
"""

from __future__ import annotations

import functools
import json
import re
from typing import TYPE_CHECKING, Any

import msgspec
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin  # no public name
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException, ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, RequestBody, Schema
from litestar.routes import HTTPRoute
from litestar.status_codes import HTTP_415_UNSUPPORTED_MEDIA_TYPE
from litestar.utils.scope.state import ScopeState

from entrypoints.http.access import is_automatic_options
from entrypoints.http.problems import problem_responses

if TYPE_CHECKING:
    from litestar import Litestar, Request
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.connection import ASGIConnection
    from litestar.types import Message, Scope
    from litestar.typing import FieldDefinition


# ------------------------------------------------------------------------------------- request bodies


def _json_body_type(request: ASGIConnection[Any, Any, Any, Any]) -> Any | None:
    """The type of the route's JSON request body (its ``data`` parameter), None if it reads none."""
    parameter = request.route_handler.parsed_fn_signature.parameters.get("data")
    if parameter is None:
        return None
    media_type = getattr(parameter.kwarg_definition, "media_type", RequestEncodingType.JSON)
    return parameter.annotation if media_type == RequestEncodingType.JSON else None


def require_json_content_type(request: ASGIConnection[Any, Any, Any, Any]) -> None:
    """A JSON route refuses a body declared as something else with 415 (Litestar would parse it anyway)."""
    content_type = request.headers.get("content-type")
    if content_type is None or _json_body_type(request) is None:
        return
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise ClientException(
            f"send the body as application/json, not {media_type or 'an empty type'}",
            status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        )


@functools.cache
def _strict_decoder(body_type: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(body_type, strict=True)


# msgspec names where in the body a value failed: "... - at `$.twilio.account_sid`".
_AT = re.compile(r" - at `\$\.?(?P<key>[^`]*)`$")


async def decode_json_body_strictly(request: Request[Any, Any, Any]) -> None:
    """Refuse a JSON body that its type takes only by coercion, with the 400 Litestar would give; keep
    the body decoded for the route, so that it is decoded once.

    A body that is not JSON at all is left to Litestar, whose answer is the same 400 as ever.
    """
    body_type = _json_body_type(request)
    if body_type is None:
        return
    body = await request.body()
    if not body:
        return
    try:
        decoded = _strict_decoder(body_type).decode(body)
    except msgspec.ValidationError as error:
        at = _AT.search(str(error))
        message = str(error)[: at.start()] if at else str(error)
        raise ValidationException(
            detail=f"Validation failed for {request.method} {request.url.path}",
            extra=[{"message": message, "key": (at and at["key"]) or None, "source": "body"}],
        ) from None
    except msgspec.DecodeError:
        return
    # Request.json() returns what the connection state holds, and the route's conversion of a value
    # already of its type returns that value itself (msgspec.convert).
    ScopeState.from_scope(request.scope).json = decoded


class RequestBodySchemaPlugin(StructSchemaPlugin):
    """The schema of a request body (a Struct that refuses unknown fields) as msgspec, which decodes it,
    sees it: ``additionalProperties: false``, and every constraint of every property.

    Litestar documents a Struct's properties itself, and loses the constraints it cannot read: those
    of a union's members, of list items, of a map's keys and values. msgspec's own JSON Schema of the
    property replaces Litestar's, unless it refers to another component (a nested Struct, an enum),
    whose name is Litestar's to give.
    """

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        struct = field_definition.type_
        info = msgspec.inspect.type_info(struct)
        if not (isinstance(info, msgspec.inspect.StructType) and info.forbid_unknown_fields):
            return schema
        (reference,), components = msgspec.json.schema_components((struct,))
        definition = components[reference["$ref"].rpartition("/")[2]]
        properties = dict(schema.properties or {})
        for name, property_schema in definition["properties"].items():
            if "$ref" not in json.dumps(property_schema):
                properties[name] = _litestar_schema(property_schema)
        schema.properties = properties
        schema.additional_properties = False
        return schema


# JSON Schema keywords whose value is a schema, or a list of schemas.
_SUBSCHEMA = {"items", "additionalProperties", "propertyNames"}
_SUBSCHEMAS = {"anyOf", "oneOf", "allOf"}


def _litestar_schema(node: dict[str, Any]) -> Schema:
    """A JSON Schema dict (msgspec's) as Litestar's ``Schema``, keyword by keyword."""
    return Schema(**{re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower(): _keyword(k, v) for k, v in node.items()})


def _keyword(keyword: str, value: Any) -> Any:
    if keyword in _SUBSCHEMA and isinstance(value, dict):
        return _litestar_schema(value)
    if keyword in _SUBSCHEMAS:
        return [_litestar_schema(member) for member in value]
    return OpenAPIType(value) if keyword == "type" else value


# -------------------------------------------------------------------------------------------- OPTIONS


def _methods_of_path(app: Litestar, path_template: str) -> list[str]:
    for route in app.routes:
        if isinstance(route, HTTPRoute) and route.path_format == path_template:
            return sorted(route.methods)
    return []


async def allow_every_method_of_the_path(message: Message, scope: Scope) -> None:
    """A ``before_send`` hook: the automatic ``OPTIONS`` answer's ``Allow`` lists every method of the path."""
    if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
        return
    handler = scope.get("route_handler")
    if handler is None or not is_automatic_options(handler):
        return
    methods = _methods_of_path(scope["app"], scope.get("path_template", ""))
    if methods:
        MutableScopeHeaders.from_message(message)["Allow"] = ", ".join(methods)


# ------------------------------------------------------------------------------- concurrent updates

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def declare_concurrent_updates(app: Litestar) -> None:
    """Declare a 409 problem on every operation that writes.

    Any transaction that writes can lose to a concurrent one (a deadlock or a serialization failure on
    PostgreSQL, a snapshot made stale by another writer on SQLite); when retrying does not help, the
    answer is 409 concurrent-update (problems.py), whichever route it was.
    """
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if isinstance(handler, HTTPRouteHandler) and handler.http_methods & _WRITE_METHODS:
                handler.responses = {**problem_responses(409), **(handler.responses or {})}


def csv_file_body(example: str, description: str) -> RequestBody:
    """The request body of a route that reads a CSV file as it arrives (not decoded by the framework,
    so the schema is declared here): UTF-8 text of ``text/csv``."""
    return RequestBody(
        content={
            "text/csv": OpenAPIMediaType(
                schema=Schema(type=OpenAPIType.STRING, description="A CSV file, UTF-8"), example=example
            )
        },
        description=description,
        required=True,
    )
