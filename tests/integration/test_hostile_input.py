"""Hostile input on PostgreSQL, served as the application's role with row-level security in force: no
answer is a server error, whatever a client puts where.

Every operation of the OpenAPI schema gets otherwise valid requests (the authorization matrix's bodies,
a tenant's own ids) with one value made hostile at a time: in a path parameter, a query parameter, a
header or a body field, strings with U+0000 (which PostgreSQL text cannot hold), lone surrogates (as
JSON escapes, and as invalid UTF-8 in URLs and forms), huge strings and unusual unicode; date-times past
either end of time or with extreme offsets; forged cursors made of all of these; numbers and booleans
of the wrong type. Hypothesis draws them, derandomized, so CI runs the same cases every time; the run
reports how many it sent.

First the cases known to have failed on PostgreSQL only, one by one; then the property, over every
operation, and over every place a phone number goes.
"""

from __future__ import annotations

import base64
import json
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from entrypoints.container import create_container
from entrypoints.http.app import create_app
from tests.support.authorization_world import BODIES, OPERATIONS, Caller, World, built_world
from tests.support.gateways import PASSWORD, gateway_settings
from tests.support.run_summary import TERMINAL_SUMMARY

EXAMPLES_PER_OPERATION = 24

# --------------------------------------------------------------------------------------- hostile values

NUL = "\x00"
HOSTILE_TEXT = [
    NUL,
    f"a{NUL}b",
    NUL * 64,
    "\ud800",  # a lone high surrogate: sent as the JSON escape \ud800, or as invalid UTF-8 in a URL
    "a\udfffb",
    "\udbff\udc00",  # two escapes that JSON decoders join into one character (U+10FC00)
    "x" * 5_000,
    "é" * 3_000,
    "👋🏽" * 1_000,
    "\u202e\u200b\ufeff\u2028\u2029",
    "Z\u0337\u0322\u031b\u0353a\u0336\u0321l\u0338g\u0334o\u0335",
    "\uffff\U0010ffff\ufffd",
    "' OR 1=1 --",
    "%00",
    "\\u0000",
    "\r\n\t",
    " ",
    "",
]
HOSTILE_MOMENTS = [
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00+23:59",
    "0001-01-01T00:00:00-14:00",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59.999999-23:59",
    "9999-12-31T23:59:59.999999+14:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "0001-01-01T00:00:00",
    "0000-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "2026-01-01T24:00:00Z",
    "2026-01-01T00:00:60Z",
    "2026-01-01T00:00:00+24:00",
    "2026-01-01T00:00:00.0000000001Z",
    "2026-01-01",
    "-2026-01-01T00:00:00Z",
    "2026-W01-1",
]
# Phone numbers a plan's length rules let through though E.164 (and every phone column) stops at 15
# digits, digits of other scripts, WhatsApp's prefix, stray spaces.
ODD_NUMBERS = [
    "+4911111111111111",
    "+6211111111111111",
    "+8111111111111111",
    "+8211111111111111",
    "+2341111111111111",
    "+5981111111111111",
    "whatsapp:+4911111111111111",
    "+\u0664\u0669" + "\u0661" * 14,  # Arabic-Indic digits, sixteen of them
    "+\uff11\uff14\uff11\uff15\uff15\uff15\uff15\uff10\uff11\uff12\uff13",  # fullwidth digits
    "+\u00b9\u2074\u00b9\u2075\u2075\u2075\u2075\u2070\u00b9\u00b2\u00b3",  # superscript digits
    "+" + "9" * 30,
    "+0014155550123",
    " +14155550123",
    "whatsapp: +14155550123",
]
# Where a client or a provider writes a phone number.
PHONE_FIELDS = {"to_number", "from_number", "phone_number", "contact", "From", "To"}
# Offsets as far as Python allows them (strictly within a day).
_OFFSETS = st.builds(
    timezone,
    st.timedeltas(min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59)),
)


def text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(HOSTILE_TEXT),
        # Any code point, surrogates and U+0000 included.
        st.text(st.characters(exclude_categories=()), max_size=30),
        st.builds(
            lambda piece, count: piece * count,
            st.sampled_from(["x", NUL, "é", "\ud800"]),
            st.integers(1, 70_000),
        ),
    )


def phone_numbers() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(ODD_NUMBERS),
        st.builds(
            lambda prefix, country, digits: f"{prefix}+{country}{digits}",
            st.sampled_from(["", "whatsapp:"]),
            st.sampled_from(sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)),
            st.text("0123456789", max_size=20),
        ),
        text(),
    )


def moments() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(HOSTILE_MOMENTS),
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999_999))
        .flatmap(
            lambda naive: st.one_of(st.just(naive), _OFFSETS.map(lambda offset: naive.replace(tzinfo=offset)))
        )
        .map(datetime.isoformat),
    )


def forged_cursors() -> st.SearchStrategy[str]:
    """Cursors made the way ours are (base64url of a JSON list), around hostile parts."""
    part = st.one_of(
        st.sampled_from(["c", "d", "t", "msg_" + "0" * 26]),
        moments(),
        text(),
        st.uuids().map(str),
        st.integers(),
    )
    return st.one_of(
        st.lists(part, max_size=4).map(
            lambda parts: base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")
        ),
        text(),
    )


def numbers() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.integers(min_value=-(2**80), max_value=2**80),
        st.sampled_from([0, -1, 2**63, -(2**63) - 1, 1.5, 1e308, -0.0, True, False, None, "10", [], {}]),
    )


def for_query(name: str, schema: dict[str, Any]) -> st.SearchStrategy[str]:
    if name == "cursor":
        return forged_cursors()
    if name in PHONE_FIELDS:
        return phone_numbers()
    if any(member.get("format") == "date-time" for member in _members(schema)):
        return st.one_of(moments(), text())
    if any(member.get("type") == "integer" for member in _members(schema)):
        return st.one_of(numbers().map(json.dumps), text())
    return text()


def for_body(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A hostile JSON value for a body field: text for text, anything of another type otherwise."""
    kinds = {member.get("type") for member in _members(schema)}
    if "string" in kinds:
        return st.one_of(text(), moments())
    return st.one_of(numbers(), text())


def _fit_in_a_url(value: str) -> str:
    # Servers and proxies refuse longer request lines (uvicorn at 64 KiB) before the app sees them.
    return value[:2_000]


def _members(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [schema, *schema.get("oneOf", []), *schema.get("anyOf", [])]


# A header value is latin-1 text without controls (HTTP allows no more); Twilio's signature is one too.
HEADER_TEXT = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=300),
    st.sampled_from(["respond-async" * 50, "x" * 8_000, "0001-01-01T00:00:00+14:00"]),
)

# ------------------------------------------------------------------------------------------ operations


def the_schema() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        schema: dict[str, Any] = create_app(
            create_container(gateway_settings(Path(directory)))
        ).openapi_schema.to_schema()
    return schema


SCHEMA = the_schema()


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = SCHEMA["components"]["schemas"][node["$ref"].rpartition("/")[2]]
    return node


@dataclass(frozen=True)
class Target:
    """Where the hostile value goes."""

    location: str  # path, query, header, body, form
    name: str
    shape: str = ""  # for a body field: "" the field itself, "[]" an item of it, "{}" a value, "{key}" a key
    schema: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def values(self) -> st.SearchStrategy[Any]:
        if self.location == "header":
            return HEADER_TEXT
        strings = phone_numbers() if self.name in PHONE_FIELDS and self.shape == "" else text()
        if self.location == "form":
            return strings
        if self.location == "path":
            return strings.map(_fit_in_a_url)
        if self.location == "query":
            return for_query(self.name, self.schema).map(_fit_in_a_url)
        if self.shape == "{key}":
            return text()
        return strings if self.name in PHONE_FIELDS else for_body(self.schema)

    def __str__(self) -> str:
        return f"{self.location} {self.name}{self.shape}"


def targets_of(operation: dict[str, Any]) -> list[Target]:
    # A query parameter the operation does not declare, so that every operation has something to take.
    targets = [Target("query", "undeclared")]
    targets += [
        Target(parameter["in"], parameter["name"], schema=parameter.get("schema", {}))
        for parameter in operation.get("parameters", [])
    ]
    content = operation.get("requestBody", {}).get("content", {})
    for media_type, body in content.items():
        location = "body" if media_type == "application/json" else "form"
        for name, declared in _resolve(body["schema"]).get("properties", {}).items():
            property_schema = _resolve(declared)
            targets.append(Target(location, name, schema=property_schema))
            for member in map(_resolve, _members(property_schema)):
                if member.get("type") == "array":
                    targets.append(Target(location, name, "[]", member.get("items", {})))
                if isinstance(member.get("additionalProperties"), dict):
                    targets.append(Target(location, name, "{}", member["additionalProperties"]))
                    targets.append(Target(location, name, "{key}"))
    return targets


@dataclass(frozen=True)
class HostileOperation:
    method: str
    path: str
    operation_id: str
    caller: str  # "nobody", "root", "admin", or "fresh admin" (a session of its own each time)
    targets: tuple[Target, ...]

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def hostile_operations() -> list[HostileOperation]:
    access = {operation.operation_id: operation for operation in OPERATIONS}
    operations = []
    for path, item in SCHEMA["paths"].items():
        for method, operation in item.items():
            if method not in {"get", "put", "post", "patch", "delete"}:
                continue
            declared = access[operation["operationId"]]
            if declared.access.is_public:
                caller = "nobody"
            elif Caller.PLATFORM_ADMIN in declared.admitted and Caller.TENANT_ADMIN not in declared.admitted:
                caller = "root"
            else:
                # Logging out ends the caller's session: that one gets a session of its own every time.
                caller = "fresh admin" if operation["operationId"] == "logout" else "admin"
            operations.append(
                HostileOperation(
                    method.upper(), path, operation["operationId"], caller, tuple(targets_of(operation))
                )
            )
    # Deletions last, so that every other operation finds the things they delete.
    return sorted(operations, key=lambda operation: operation.method == "DELETE")


HOSTILE_OPERATIONS = hostile_operations()

# Bodies that change nothing the cases depend on: the matrix's, except that a password change names a
# wrong current password (the admin's sessions must live on), a user keeps their role, and a login is
# the admin's.
BASE_BODIES: dict[str, Any] = {
    **BODIES,
    "changePassword": {"current_password": "not the password", "new_password": "a brand new password"},
    # An unknown username costs a full-strength hash (so that it answers as slowly as a known one).
    "login": {"username": "acme-admin", "password": PASSWORD},
    "updateUser": {"role": "agent"},
}
TWILIO_FORM = {"AccountSid": "AC" + "0" * 32, "MessageSid": "SM" + "0" * 32, "From": "whatsapp:+14155550123"}


# ------------------------------------------------------------------------------------------- requests


def _url_text(value: str) -> str:
    """A value percent-encoded for a URL, lone surrogates as the (invalid) UTF-8 bytes they would be."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


@dataclass
class Hostile:
    """One operation's hostile request: an otherwise valid one with ``target`` set to ``value``."""

    operation: HostileOperation
    target: Target
    value: Any

    def request(self, ids: dict[str, str]) -> tuple[str, str, dict[bytes, bytes], bytes | None]:
        path_values = dict(ids)
        query, headers = "", dict[bytes, bytes]()
        if self.target.location == "path":
            path_values[self.target.name] = self.value
        elif self.target.location == "query":
            query = f"?{self.target.name}={_url_text(self.value)}"
        elif self.target.location == "header":
            headers[self.target.name.encode()] = self.value.encode("latin-1")
        path = self.operation.path
        for name, value in path_values.items():
            path = path.replace(f"{{{name}}}", _url_text(value))
        return self.operation.method, path + query, headers, self._body()

    def _body(self) -> bytes | None:
        if self.target.location == "form":
            fields = {**TWILIO_FORM, self.target.name: self.value}
            return "&".join(
                f"{_url_text(name)}={_url_text(value)}" for name, value in fields.items()
            ).encode()
        body = BASE_BODIES.get(self.operation.operation_id)
        if isinstance(body, str):  # a file rather than JSON (the contact import's CSV): sent as it is
            return body.encode()
        if body is None and self.target.location != "body":
            return None
        body = dict(body or {})
        if self.target.location == "body":
            name, shape, value = self.target.name, self.target.shape, self.value
            if shape == "{key}":
                body[name] = {value: "x"}
            else:
                body[name] = {"": value, "[]": [value], "{}": {"1": value}}[shape]
        # ensure_ascii: a lone surrogate goes out as the escape JSON allows, not as invalid UTF-8.
        return json.dumps(body, ensure_ascii=True).encode()


def hostile_requests(operation: HostileOperation) -> st.SearchStrategy[Hostile]:
    return st.sampled_from(operation.targets).flatmap(
        lambda target: target.values().map(lambda value: Hostile(operation, target, value))
    )


# ---------------------------------------------------------------------------------------------- world


@pytest.fixture(scope="module")
async def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    """Two tenants with something of every kind, on PostgreSQL as the application's role. Acme's admin
    makes the tenant requests; the platform admin's requests name Globex, which they may suspend."""
    async with built_world(request, "postgres", tmp_path_factory.mktemp("hostile")) as world:
        yield world


@dataclass
class Tally:
    cases: int = 0
    operations: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)


TALLY = Tally()


@pytest.fixture(scope="module", autouse=True)
def report_the_tally() -> Iterator[None]:
    yield
    if TALLY.cases:
        line = (
            f"hostile input on PostgreSQL: {TALLY.cases} cases over {len(TALLY.operations)} operations, "
            f"statuses {dict(sorted(TALLY.statuses.items()))}"
        )
        print(line)
        TERMINAL_SUMMARY.append(line)


async def send(world: World, hostile: Hostile) -> httpx.Response:
    operation = hostile.operation
    if operation.caller == "fresh admin":
        credential = await world.gateway.bearer_of("acme-admin")
    else:
        credential = {"nobody": {}, "root": world.root, "admin": world.a.admin}[operation.caller]
    method, url, headers, body = hostile.request({**world.a.ids, "tenant_id": world.b.tenant_id})
    if body is not None:
        form = hostile.target.location == "form" or operation.path.startswith("/webhook")
        headers[b"content-type"] = b"application/x-www-form-urlencoded" if form else b"application/json"
    for name, value in credential.items():
        headers[name.encode()] = value.encode()
    return await world.gateway.client.request(method, url, headers=headers, content=body)


# -------------------------------------------------------------------------- the cases, one by one


# Text with U+0000, moments past either end of time, forged cursors: refused at the edge before any SQL
# (tests/unit/entrypoints/test_http_hostile_input.py has them one by one); the property covers them
# on PostgreSQL.


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/send", {"to_number": "+4911111111111111", "body": "hi"}),
        ("/api/send", {"to_number": "whatsapp:+8211111111111111", "body": "hi"}),
        ("/api/senders", {"phone_number": "+2341111111111111"}),
    ],
    ids=["send to", "send to a whatsapp address", "sender"],
)
async def test_a_number_of_more_than_fifteen_digits_is_refused_with_422_before_the_database(
    world: World, path: str, body: dict[str, str]
) -> None:
    response = await world.gateway.client.post(path, json=body, headers=world.a.admin)

    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"].endswith("/invalid-phone-number")
    assert "more than 15 digits" in problem["detail"]


async def test_a_customers_message_with_a_nul_character_is_stored_with_a_replacement_character(
    world: World,
) -> None:
    account_sid, auth_token = "AC" + "5" * 32, "a-token-for-the-inbound-test"
    await world.gateway.call(
        "PUT", "/api/credentials", world.a.admin, {"account_sid": account_sid, "auth_token": auth_token}
    )
    senders = (await world.gateway.call("GET", "/api/senders", world.a.admin)).json()
    default_sender = next(sender["phone_number"] for sender in senders if sender["is_default"])

    await world.gateway.receive_inbound(account_sid, auth_token, default_sender, "+14155550177", f"a{NUL}b")

    page = await world.gateway.call("GET", "/api/messages?contact=%2B14155550177", world.a.admin)
    assert [message["body"] for message in page.json()["items"]] == ["a\ufffdb"]


# ---------------------------------------------------------------------------------------- the property


@pytest.mark.parametrize("operation", [pytest.param(o, id=str(o)) for o in HOSTILE_OPERATIONS])
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
async def test_no_hostile_value_anywhere_gets_a_server_error(
    world: World, operation: HostileOperation, data: st.DataObject
) -> None:
    hostile = data.draw(hostile_requests(operation), label="request")

    response = await send(world, hostile)

    TALLY.cases += 1
    TALLY.operations.add(str(operation))
    TALLY.statuses[response.status_code] += 1
    assert response.status_code < 500, f"{hostile.target}: {response.status_code} {response.text[:500]}"


# Every place a phone number goes, on its own: the property above draws any of an operation's values, and
# reaches a phone field with an odd number too seldom.
PHONE_TARGETS = [
    (operation, target)
    for operation in HOSTILE_OPERATIONS
    for target in operation.targets
    if target.name in PHONE_FIELDS and target.shape == ""
]


@pytest.mark.parametrize(
    ("operation", "target"), [pytest.param(*pair, id=f"{pair[0]} {pair[1]}") for pair in PHONE_TARGETS]
)
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
async def test_no_phone_number_anywhere_gets_a_server_error(
    world: World, operation: HostileOperation, target: Target, data: st.DataObject
) -> None:
    hostile = Hostile(operation, target, data.draw(target.values(), label="number"))

    response = await send(world, hostile)

    TALLY.cases += 1
    TALLY.operations.add(str(operation))
    TALLY.statuses[response.status_code] += 1
    assert response.status_code < 500, f"{hostile.value!r}: {response.status_code} {response.text[:500]}"


def test_the_property_reaches_every_operation_of_the_schema_and_every_value_in_it() -> None:
    operations = {operation.operation_id for operation in OPERATIONS}
    assert {operation.operation_id for operation in HOSTILE_OPERATIONS} == operations
    assert len(operations) >= 40, "the schema lost operations"
    declared = sum(len(operation.targets) - 1 for operation in HOSTILE_OPERATIONS)
    assert declared >= 100, "parameters and body fields went missing"
    phone_fields = {(operation.operation_id, target.name) for operation, target in PHONE_TARGETS}
    assert {("sendMessage", "to_number"), ("addSender", "phone_number")} <= phone_fields
