"""What the authorization matrix (test_authorization_matrix.py) and the hostile-input suite
(test_hostile_input.py) run against: every kind of caller, the role table of docs/administration.md,
every operation of the OpenAPI schema with the access its route declares, a valid body for each, and a
world of two tenants (A and B) that have something of every kind a path can name.

A new path parameter or request body fails the matrix until PATH_PARAMETERS or BODIES says what tenant
B's value of it is, or what a valid body is.
"""

from __future__ import annotations

import enum
import re
import secrets
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
import sqlalchemy as sa
from dependency_injector import providers
from litestar.routes import HTTPRoute

from adapters.database.tables import metadata
from application.media.downloads import DownloadOutcome
from application.principal import Principal
from domain.administration.tenancy import Role
from entrypoints.container import Container, warn_unless_row_level_security_binds
from entrypoints.http.access import Access, access_for, is_automatic_options
from tests.support.cross_tenant import cross_tenant_connection
from tests.support.gateways import (
    PASSWORD,
    Gateway,
    bearer,
    database_of_its_own,
    gateway_settings,
    running_gateway,
)
from tests.support.media import FakeMediaFetcher, ProviderFile

# The sandbox's magic number that Twilio refuses (21211): a send to it ends failed, so it can be retried.
FAILING_CONTACT = "+15005550001"

# ------------------------------------------------------------------------------------------- callers


class Caller(enum.Enum):
    """Every kind of credential: users of each role, and API keys of each role a key can have."""

    PLATFORM_ADMIN = ("platform-admin", Role.PLATFORM_ADMIN, True)
    TENANT_ADMIN = ("tenant-admin", Role.TENANT_ADMIN, True)
    AGENT = ("agent", Role.AGENT, True)
    TENANT_ADMIN_KEY = ("tenant-admin-key", Role.TENANT_ADMIN, False)
    AGENT_KEY = ("agent-key", Role.AGENT, False)

    def __init__(self, label: str, role: Role, is_user: bool) -> None:
        self.label = label
        self.role = role
        self.is_user = is_user

    def admitted_by(self, access: Access) -> bool:
        principal = Principal(user_id=uuid4() if self.is_user else None, tenant_id=uuid4(), role=self.role)
        return access.admits(principal)

    def told_person_required_by(self, access: Access) -> bool:
        """Refused as a key where a person of the same role would be admitted."""
        return not self.is_user and access.person_only is not None and self.role in access.roles


TENANT_CALLERS = [caller for caller in Caller if caller is not Caller.PLATFORM_ADMIN]


# ------------------------------------------------------------- the role table in docs/administration.md

ROLES_DOC = Path(__file__).resolve().parents[2] / "docs" / "administration.md"
# The table's columns, by their header.
COLUMNS = {
    "Platform admin": Caller.PLATFORM_ADMIN,
    "Tenant admin": Caller.TENANT_ADMIN,
    "Agent": Caller.AGENT,
    "Tenant-admin key": Caller.TENANT_ADMIN_KEY,
    "Agent key": Caller.AGENT_KEY,
}


class Cell(enum.Enum):
    ADMITTED = "yes"
    PERSON_REQUIRED = "person"  # the role may, but not with an API key: 403 person-required
    REFUSED = "—"  # 403 forbidden


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def role_table(text: str) -> dict[tuple[str, str], dict[Caller, Cell]]:
    """The operation table of the "Roles" section of the role table's document: (method, path) -> each
    caller's cell. The section runs from its heading (``## Roles`` or ``### Roles``) to the next heading."""
    heading = re.search(r"^#{2,3} Roles\n", text, re.MULTILINE)
    assert heading is not None, "docs/administration.md has no Roles section"
    section = re.split(r"^#", text[heading.end() :], maxsplit=1, flags=re.MULTILINE)[0]
    lines = iter(section.splitlines())
    for line in lines:
        if line.startswith("| Operation |"):
            callers = [COLUMNS[name] for name in _cells(line)[1:]]
            break
    else:
        raise AssertionError("the Roles section of docs/administration.md has no '| Operation |' table")
    next(lines)  # the separator row
    table: dict[tuple[str, str], dict[Caller, Cell]] = {}
    for line in lines:
        if not line.startswith("|"):
            break
        operation, *cells = _cells(line)
        match = re.fullmatch(r"`(GET|POST|PUT|PATCH|DELETE) (/\S*)`", operation)
        assert match is not None, f"role table: {operation!r} is not `METHOD /path`"
        key = (match.group(1), match.group(2))
        assert key not in table, f"role table: {operation} is listed twice"
        table[key] = {caller: Cell(cell) for caller, cell in zip(callers, cells, strict=True)}
    return table


ROLE_TABLE = role_table(ROLES_DOC.read_text())


# ------------------------------------------------------------------------------------ path parameters


class Scope(enum.Enum):
    TENANT_ID = "an id of a tenant's own thing: another tenant's is a 404"
    TENANT_VALUE = "a value anyone may know, not an id: another tenant's gives an empty answer"
    PLATFORM_ID = "an id only platform admins use, and they see every tenant by design"


# Every path parameter of the API. A parameter missing here fails the matrix: say what it is first.
PATH_PARAMETERS: dict[str, Scope] = {
    "message_id": Scope.TENANT_ID,
    "conversation_id": Scope.TENANT_ID,
    "user_id": Scope.TENANT_ID,
    "sender_id": Scope.TENANT_ID,
    "key_id": Scope.TENANT_ID,
    "endpoint_id": Scope.TENANT_ID,
    "account_id": Scope.TENANT_ID,
    "delivery_id": Scope.TENANT_ID,
    "media_id": Scope.TENANT_ID,
    "template_id": Scope.TENANT_ID,
    "contact_id": Scope.TENANT_ID,
    "campaign_id": Scope.TENANT_ID,
    "contact": Scope.TENANT_VALUE,  # a customer's phone number; two tenants may well share one
    "phone": Scope.TENANT_VALUE,  # a person's number, whose consent each tenant keeps apart
    "tenant_id": Scope.PLATFORM_ID,
}

# Operations that need another of the tenant's things than the one their path parameter usually names:
# a customer's message is marked read, not the failed outbound one the others use; a campaign's audience
# is uploaded once, and a canceled campaign cannot be paused: those two act on campaigns of their own.
OTHER_IDS: dict[str, dict[str, str]] = {
    "markMessageRead": {"message_id": "inbound_message_id"},
    # Scheduled messages: one to move, another to call off (a canceled one cannot be moved).
    "rescheduleMessage": {"message_id": "scheduled_message_id"},
    "cancelScheduledMessage": {"message_id": "message_to_cancel_id"},
    "uploadCampaignAudience": {"campaign_id": "upload_campaign_id"},
    "cancelCampaign": {"campaign_id": "cancel_campaign_id"},
}

# A valid body for every operation that takes one, so a 404 (or 403, 401) is never masked by a 400/422.
# Each would succeed for a caller allowed to make it, on ids of the caller's own tenant.
BODIES: dict[str, Any] = {
    "sendMessage": {"to_number": "+14155550999", "body": "matrix"},
    "createUser": {"username": "matrix-user", "password": PASSWORD, "role": "agent"},
    "updateUser": {"role": "tenant_admin"},
    "addSender": {"phone_number": "+14155230999", "label": "matrix"},
    "updateSender": {"label": "taken over"},
    "setCredentials": {"account_sid": "AC" + "9" * 32, "auth_token": "matrix-auth-token"},
    "addProviderAccount": {
        "provider": "twilio",
        "twilio": {"account_sid": "AC" + "8" * 32, "auth_token": "matrix-auth-token"},
    },
    "updateProviderAccount": {"label": "taken over"},
    "markMessageRead": {"typing_indicator": True},
    "rescheduleMessage": {"send_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
    "createApiKey": {"name": "matrix", "role": "agent"},
    "createWebhookEndpoint": {"url": "http://127.0.0.1:9/matrix", "events": ["message.received"]},
    "updateWebhookEndpoint": {"description": "taken over"},
    "rotateWebhookSecret": {"overlap_seconds": 0},
    "createTemplate": {
        "name": "matrix_template",
        "language": "en",
        "category": "utility",
        "body": "Hello {{1}}, from the matrix.",
        "examples": {"1": "Ana"},
        "accounts": ["sandbox"],
    },
    "previewTemplate": {"variables": {"first_name": "Ana"}},
    "createContact": {"phone_number": "+14155550998", "name": "Matrix", "tags": ["matrix"]},
    "updateContact": {"name": "Taken Over", "attributes": {"plan": "gold"}},
    "setConsent": {"state": "opted_in", "note": "matrix"},
    "setConsentPolicy": {"opt_out_keywords": ["BASTA"], "opt_out_reply": "You will hear no more from us."},
    "planTemplates": {"templates": [], "delete_missing": False},
    "applyTemplates": {"templates": [], "delete_missing": False},
    "changePassword": {"current_password": PASSWORD, "new_password": "a brand new password"},
    "adminCreateTenant": {"name": "Matrix Corp"},
    "adminUpdateTenant": {"name": "Taken Over"},
    "adminCreateTenantUser": {"username": "matrix-admin", "password": PASSWORD, "role": "tenant_admin"},
    "login": {"username": "nobody", "password": PASSWORD},
    "refreshSession": {"refresh_token": "wagrt_" + "x" * 43},
    "setRetention": {"days": 365, "mode": "redact"},
    "createCampaign": {
        "name": "Matrix campaign",
        "template": {"name": "campaign_notice", "language": "en"},
        "audience": {"csv": True},
        "pace": {"messages_per_second": 1},
    },
}
# Bodies that are not JSON, with their content type.
RAW_BODIES: dict[str, tuple[bytes, str]] = {
    "uploadCampaignAudience": (b"phone,first_name\n+14155550777,Ana\n", "text/csv"),
    "importContacts": (b"phone,name\r\n+14155550997,Matrix\r\n", "text/csv"),
}


# ----------------------------------------------------------------------------------------- operations


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # as in the OpenAPI schema: /api/users/{user_id}
    operation_id: str
    access: Access
    parameters: tuple[str, ...]  # path parameters, in path order
    takes_body: bool

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def expected(self) -> dict[Caller, Cell]:
        """What the role table in docs/administration.md says of each caller (nothing: the table lacks the
        operation)."""
        return ROLE_TABLE.get((self.method, self.path), {})

    @property
    def admitted(self) -> frozenset[Caller]:
        return frozenset(caller for caller, cell in self.expected.items() if cell is Cell.ADMITTED)

    @property
    def declared(self) -> dict[Caller, Cell]:
        """What the route's own declaration says of each caller."""
        return {
            caller: (
                Cell.ADMITTED
                if caller.admitted_by(self.access)
                else Cell.PERSON_REQUIRED
                if caller.told_person_required_by(self.access)
                else Cell.REFUSED
            )
            for caller in Caller
        }

    def scopes(self) -> set[Scope]:
        return {PATH_PARAMETERS[name] for name in self.parameters}

    def url(self, values: dict[str, str]) -> str:
        return re.sub(r"{([a-z_]+)}", lambda match: values[match.group(1)], self.path)


def _schema_path(route_path: str) -> str:
    return re.sub(r"{([a-z_]+):[a-z]+}", r"{\1}", route_path)


def operations_of_the_schema() -> list[Operation]:
    """Every operation of the OpenAPI schema, with the access its route declares.

    The app is built as the composition root builds it; nothing connects until a request comes, so this
    runs at collection time.
    """
    from entrypoints.container import create_container
    from entrypoints.http.app import create_app

    with tempfile.TemporaryDirectory() as directory:
        app = create_app(create_container(gateway_settings(Path(directory))))
        schema = app.openapi_schema.to_schema()
    declared: dict[tuple[str, str], Access | None] = {}
    for route in app.routes:
        assert isinstance(route, HTTPRoute), f"{route.path}: only HTTP routes are expected"
        for handler in route.route_handlers:
            if is_automatic_options(handler):
                continue
            for method in handler.http_methods:
                declared[(method, _schema_path(route.path))] = access_for(handler)
    operations = []
    for path, item in schema["paths"].items():
        for method, spec in item.items():
            if method not in {"get", "put", "post", "patch", "delete"}:
                continue
            access = declared.get((method.upper(), path))
            assert access is not None, f"{method.upper()} {path}: no route declaring its access"
            operations.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    operation_id=spec["operationId"],
                    access=access,
                    parameters=tuple(p["name"] for p in spec.get("parameters", []) if p["in"] == "path"),
                    takes_body="requestBody" in spec,
                )
            )
    return operations


OPERATIONS = operations_of_the_schema()


# -------------------------------------------------------------------------------------------- the world


@dataclass
class World:
    database: str  # "sqlite" or "postgres"
    gateway: Gateway
    root: dict[str, str]
    a: TenantWorld
    b: TenantWorld
    b_rows_before: dict[str, list[str]]

    def headers(self, caller: Caller, tenant: TenantWorld) -> dict[str, str]:
        if caller is Caller.PLATFORM_ADMIN:
            return self.root
        return {
            Caller.TENANT_ADMIN: tenant.admin,
            Caller.AGENT: tenant.agent,
            Caller.TENANT_ADMIN_KEY: tenant.admin_key,
            Caller.AGENT_KEY: tenant.agent_key,
        }[caller]

    def b_values(self) -> dict[str, str]:
        return {name: self.b.ids[name] for name in PATH_PARAMETERS}

    async def request(
        self, operation: Operation, values: dict[str, str], headers: dict[str, str]
    ) -> httpx.Response:
        url = operation.url(self.values_for(operation, values))
        if operation.operation_id in RAW_BODIES:
            content, content_type = RAW_BODIES[operation.operation_id]
            return await self.gateway.client.request(
                operation.method, url, headers=headers | {"Content-Type": content_type}, content=content
            )
        body = BODIES.get(operation.operation_id) if operation.takes_body else None
        return await self.gateway.client.request(operation.method, url, headers=headers, json=body)

    def values_for(self, operation: Operation, values: dict[str, str]) -> dict[str, str]:
        """``values`` with, for an operation of OTHER_IDS, the other thing of the same tenant."""
        for parameter, other in OTHER_IDS.get(operation.operation_id, {}).items():
            for tenant in (self.a, self.b):
                if tenant.ids[parameter] == values[parameter]:
                    values = values | {parameter: tenant.ids[other]}
        return values


async def rows_of_tenant(container: Container, tenant_id: str) -> dict[str, list[str]]:
    """Every row that belongs to the tenant, table by table (tables without a tenant column: all rows;
    nothing writes them in the matrix, which only reads and is refused). Read past row-level security,
    which would show the application's role nothing here."""
    tenant = UUID(tenant_id)
    rows: dict[str, list[str]] = {}
    async with cross_tenant_connection(container.engine()) as connection:
        for table in metadata.sorted_tables:
            query = sa.select(table)
            if "tenant_id" in table.c:
                query = query.where(table.c.tenant_id == tenant)
            elif table.name == "tenants":
                query = query.where(table.c.id == tenant)
            result = await connection.execute(query)
            rows[table.name] = sorted(repr(tuple(row)) for row in result)
    return rows


@asynccontextmanager
async def built_world(request: pytest.FixtureRequest, database: str, directory: Path) -> AsyncIterator[World]:
    """A gateway on a database of its own, with its platform admin and the two tenants."""
    with database_of_its_own(request, database) as overrides:
        async with running_gateway(directory, overrides) as gateway:
            # The providers' copies of customers' media: each tenant's customer sends a photo.
            gateway.container.inbound_media_fetcher.override(providers.Object(FakeMediaFetcher()))
            # On PostgreSQL the gateway must be what production is: a role that RLS binds.
            assert await warn_unless_row_level_security_binds(gateway.container) is (
                True if database == "postgres" else None
            )
            root = await gateway.create_platform_admin()
            a = await provision_tenant(gateway, root, "Acme", number=1)
            b = await provision_tenant(gateway, root, "Globex", number=2)
            before = await rows_of_tenant(gateway.container, b.tenant_id)
            assert all(
                before[table] for table in ("messages", "conversations", "webhook_deliveries", "media")
            )
            yield World(database=database, gateway=gateway, root=root, a=a, b=b, b_rows_before=before)


# ------------------------------------------------------------------------------------------- a tenant


@dataclass
class TenantWorld:
    """One tenant with something of every kind: the kinds are named as the path parameters are."""

    name: str
    tenant_id: str
    admin: dict[str, str]  # a tenant admin's access token
    agent: dict[str, str]  # an agent's access token
    admin_key: dict[str, str]  # an API key acting as a tenant admin
    agent_key: dict[str, str]  # an API key acting as an agent
    ids: dict[str, str] = field(default_factory=dict)
    # Values of this tenant that no other tenant's answer may contain.
    markers: set[str] = field(default_factory=set)


async def provision_tenant(gateway: Gateway, root: dict[str, str], name: str, *, number: int) -> TenantWorld:
    """A tenant created by the platform admin, then filled by its own admin and agent: a second user,
    two senders, Twilio credentials, two API keys, a webhook endpoint, an outbound message, a failed
    one, a customer's inbound message with a photo (which gives a conversation, a webhook delivery
    and a kept media file), and a message template (in the sandbox).

    ``number`` (0-9) keeps phone numbers and account SIDs apart between tenants.
    """
    slug = name.lower()
    default_sender, second_sender = f"+1415523{number}886", f"+1415523{number}887"
    contact = f"+1415555{number}123"
    account_sid, auth_token = "AC" + secrets.token_hex(16), secrets.token_urlsafe(24)

    tenant = (
        await gateway.call("POST", "/admin/tenants", root, {"name": name, "session_window_check": False})
    ).json()
    await gateway.call(
        "POST",
        f"/admin/tenants/{tenant['id']}/users",
        root,
        {"username": f"{slug}-admin", "password": PASSWORD, "role": "tenant_admin"},
    )
    admin = await gateway.bearer_of(f"{slug}-admin")
    await gateway.call("POST", "/api/senders", admin, {"phone_number": default_sender, "label": "main"})
    sender = (
        await gateway.call("POST", "/api/senders", admin, {"phone_number": second_sender, "label": "spare"})
    ).json()
    await gateway.call(
        "PUT", "/api/credentials", admin, {"account_sid": account_sid, "auth_token": auth_token}
    )
    agent_user = (
        await gateway.call(
            "POST", "/api/users", admin, {"username": f"{slug}-agent", "password": PASSWORD, "role": "agent"}
        )
    ).json()
    agent = await gateway.bearer_of(f"{slug}-agent")
    agent_key = (
        await gateway.call("POST", "/api/api-keys", admin, {"name": "orders", "role": "agent"})
    ).json()
    admin_key = (
        await gateway.call("POST", "/api/api-keys", admin, {"name": "crm", "role": "tenant_admin"})
    ).json()
    provider_account = (
        await gateway.call(
            "POST",
            "/api/provider-accounts",
            admin,
            {
                "provider": "meta",
                "label": f"{name}'s Meta",
                "meta": {
                    "business_account_id": "1022901293" + str(len(slug)),
                    "access_token": f"{slug}-meta-access-token",
                    "app_secret": f"{slug}-meta-app-secret",
                    "verify_token": f"{slug}-meta-verify-token",
                },
            },
        )
    ).json()
    endpoint = (
        await gateway.call(
            "POST",
            "/api/webhooks",
            admin,
            {
                "url": f"http://127.0.0.1:9/{slug}",
                "events": ["message.received", "message.status", "message.failed"],
                "description": f"{name}'s CRM",
            },
        )
    ).json()
    outbound = (
        await gateway.call("POST", "/api/send", agent, {"to_number": contact, "body": f"hello from {name}"})
    ).json()
    failed = (
        await gateway.call(
            "POST", "/api/send", agent, {"to_number": FAILING_CONTACT, "body": f"{name} fails"}
        )
    ).json()
    assert failed["status"] == "failed", failed
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    scheduled, to_cancel = [
        (
            await gateway.call(
                "POST",
                "/api/send",
                agent,
                {"to_number": contact, "body": f"{name} later", "send_at": tomorrow},
            )
        ).json()
        for _ in range(2)
    ]
    photo_url = (
        f"https://api.twilio.com/2010-04-01/Accounts/{account_sid}/Messages/MM{secrets.token_hex(16)}"
        f"/Media/ME{secrets.token_hex(16)}"
    )
    fetcher = gateway.container.inbound_media_fetcher()
    assert isinstance(fetcher, FakeMediaFetcher)
    fetcher.files[photo_url] = ProviderFile(f"{name}'s photo".encode(), "image/jpeg")
    await gateway.receive_inbound(
        account_sid, auth_token, default_sender, contact, f"hi {name}", media_urls=[photo_url]
    )
    assert await gateway.container.media_downloader().download_due() == [DownloadOutcome.KEPT]
    inbound = (await gateway.call("GET", "/api/messages?direction=inbound&limit=1", admin)).json()["items"][0]
    [photo] = inbound["media"]
    deliveries = (await gateway.call("GET", f"/api/webhooks/{endpoint['id']}/deliveries", admin)).json()[
        "items"
    ]
    assert deliveries, "the inbound message should have produced a webhook delivery"
    [conversation] = (await gateway.call("GET", "/api/conversations?limit=1", admin)).json()["items"]
    template = (
        await gateway.call(
            "POST",
            "/api/templates",
            admin,
            {
                "name": f"{slug}_welcome",
                "language": "en",
                "category": "marketing",
                "body": f"Welcome to {name}, {{{{first_name}}}}!",
                "examples": {"first_name": "Ana"},
                "accounts": ["sandbox"],
            },
        )
    ).json()
    # The customer asked (by phone, say) to hear no more: their consent and its ledger are the tenant's.
    consent_note = f"{slug} asked by phone"
    opted_out = await gateway.call(
        "POST", f"/api/consent/{contact}", agent, {"state": "opted_out", "note": consent_note}
    )
    assert opted_out.status_code == 200, opted_out.text

    [customer] = (await gateway.call("GET", "/api/contacts?limit=1", admin)).json()["items"]
    await gateway.call(
        "POST",
        "/api/templates",
        admin,
        {
            "name": "campaign_notice",
            "language": "en",
            "category": "marketing",
            "body": "Hello {{1}}, news from us.",
            "examples": {"1": "Ana"},
            "accounts": ["sandbox"],
        },
    )
    campaigns = [
        (await gateway.call("POST", "/api/campaigns", admin, BODIES["createCampaign"])).json()["id"]
        for _ in range(3)
    ]

    return TenantWorld(
        name=name,
        tenant_id=tenant["id"],
        admin=admin,
        agent=agent,
        admin_key=bearer(admin_key["key"]),
        agent_key=bearer(agent_key["key"]),
        ids={
            "message_id": failed["id"],
            "user_id": agent_user["id"],
            "sender_id": sender["id"],
            "key_id": agent_key["id"],
            "endpoint_id": endpoint["id"],
            "account_id": provider_account["id"],
            "inbound_message_id": inbound["id"],
            "scheduled_message_id": scheduled["id"],
            "message_to_cancel_id": to_cancel["id"],
            "delivery_id": deliveries[0]["id"],
            "media_id": photo["stored_media_id"],
            "template_id": template["id"],
            "contact_id": customer["id"],
            "campaign_id": campaigns[0],
            "upload_campaign_id": campaigns[1],
            "cancel_campaign_id": campaigns[2],
            "conversation_id": conversation["id"],
            "contact": contact,
            "phone": contact,
            "tenant_id": tenant["id"],
        },
        markers={
            tenant["id"],
            agent_user["id"],
            sender["id"],
            agent_key["id"],
            admin_key["id"],
            endpoint["id"],
            provider_account["id"],
            inbound["id"],
            outbound["id"],
            failed["id"],
            deliveries[0]["id"],
            photo["stored_media_id"],
            template["id"],
            customer["id"],
            *campaigns,
            conversation["id"],
            template["listings"][0]["provider_template_id"],
            contact,
            default_sender,
            second_sender,
            account_sid,
            f"{slug}-admin",
            f"{slug}-agent",
            consent_note,
        },
    )
