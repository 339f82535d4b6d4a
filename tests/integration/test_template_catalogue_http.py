"""The template catalogue over real HTTP, on the composition root with the sandbox's templates, on SQLite
and on PostgreSQL (as the application's role, row-level security in force): a template created, listed,
read and previewed; the catalogue exported, edited, planned and applied round trip; deleted. Who may do
what, and problems that name each field. With a Meta account (its provider's catalogue a fake): the
periodic sync and a status webhook change the listing, tell the tenant's webhooks and the audit trail."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from dependency_injector import providers

from application.ports.templates import TemplateStatusUpdate
from domain.administration.tenancy import ProviderName
from domain.templates.catalogue import TemplateQuality, TemplateStatus
from tests.support.gateways import DATABASES, PASSWORD, Gateway, database_of_its_own, running_gateway
from tests.support.template_providers import FakeTemplateProviders

ORDER_SHIPPED: dict[str, Any] = {
    "name": "order_shipped",
    "language": "en_US",
    "category": "utility",
    "body": "Hi {{1}}, your order {{2}} has shipped.",
    "footer": "Reply STOP to opt out",
    "buttons": [{"type": "url", "text": "Track", "url": "https://shop.example.com/t/{{3}}"}],
    "examples": {"1": "Ana", "2": "A-1001", "3": "A-1001"},
}
WELCOME: dict[str, Any] = {
    "name": "welcome",
    "language": "en",
    "category": "marketing",
    "body": "Welcome, {{first_name}}!",
    "examples": {"first_name": "Ana"},
}


class Tenant:
    def __init__(self, gateway: Gateway, admin: dict[str, str], agent: dict[str, str]) -> None:
        self.gateway = gateway
        self.admin = admin
        self.agent = agent


@pytest.fixture(params=DATABASES)
async def acme(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Tenant]:
    """A sandbox tenant (no provider accounts: its templates live in the sandbox) with an admin and an
    agent."""
    with database_of_its_own(request, request.param) as overrides:
        async with running_gateway(tmp_path, overrides) as gateway:
            root = await gateway.create_platform_admin()
            tenant = (await gateway.call("POST", "/admin/tenants", root, {"name": "Acme"})).json()
            await gateway.call(
                "POST",
                f"/admin/tenants/{tenant['id']}/users",
                root,
                {"username": "acme-admin", "password": PASSWORD, "role": "tenant_admin"},
            )
            admin = await gateway.bearer_of("acme-admin")
            await gateway.call(
                "POST", "/api/users", admin, {"username": "acme-agent", "password": PASSWORD, "role": "agent"}
            )
            yield Tenant(gateway, admin, await gateway.bearer_of("acme-agent"))


async def test_a_template_round_trip_from_creation_through_templates_as_code_to_deletion(
    acme: Tenant,
) -> None:
    client, admin, agent = acme.gateway.client, acme.admin, acme.agent

    created = await client.post("/api/templates", json=ORDER_SHIPPED, headers=admin)
    assert created.status_code == 201, created.text
    template = created.json()
    assert created.headers["location"] == f"/api/templates/{template['id']}"
    assert template["template"] == ORDER_SHIPPED
    [listing] = template["listings"]
    assert (listing["provider"], listing["account_id"], listing["status"]) == ("sandbox", None, "approved")
    assert listing["provider_template_id"].startswith("sandbox-")

    page = (await client.get("/api/templates", headers=agent)).json()
    assert [item["id"] for item in page["items"]] == [template["id"]]
    assert page["next_cursor"] is None
    assert (await client.get("/api/templates?status=pending", headers=agent)).json()["items"] == []
    fetched = await client.get(f"/api/templates/{template['id']}", headers=agent)
    assert fetched.json() == template

    preview = await client.post(
        f"/api/templates/{template['id']}/preview",
        json={"variables": {"1": "Ana", "2": "A-7", "3": "A-7"}},
        headers=agent,
    )
    assert preview.status_code == 200, preview.text
    assert preview.json() == {
        "header": None,
        "body": "Hi Ana, your order A-7 has shipped.",
        "footer": "Reply STOP to opt out",
        "buttons": ["Track (https://shop.example.com/t/A-7)"],
        "text": "Hi Ana, your order A-7 has shipped.\n\nReply STOP to opt out",
    }

    exported = (await client.get("/api/templates/export", headers=agent)).json()
    assert exported == {"templates": [ORDER_SHIPPED]}
    edited = copy.deepcopy(exported)
    edited["templates"][0]["body"] = "Hello {{1}}, order {{2}} is on its way."
    edited["templates"].append(WELCOME)

    plan = await client.post("/api/templates/plan", json=edited, headers=agent)
    assert plan.status_code == 200, plan.text
    assert [item["name"] for item in plan.json()["create"]] == ["welcome"]
    assert [change["wanted"]["body"] for change in plan.json()["update"]] == [
        "Hello {{1}}, order {{2}} is on its way."
    ]
    assert (plan.json()["delete"], plan.json()["empty"]) == ([], False)

    applied = await client.post("/api/templates/apply", json=edited, headers=admin)
    assert applied.status_code == 200, applied.text
    assert applied.json()["plan"] == plan.json()
    assert [(o["action"], o["name"], o["done"]) for o in applied.json()["outcomes"]] == [
        ("create", "welcome", True),
        ("update", "order_shipped", True),
    ]
    assert applied.json()["complete"] is True
    assert (await client.get("/api/templates/export", headers=agent)).json() == edited
    again = await client.post("/api/templates/apply", json=edited, headers=admin)
    assert (again.json()["plan"]["empty"], again.json()["outcomes"]) == (True, [])

    # The sandbox has no provider accounts to sync.
    synced = await client.post("/api/templates/sync", headers=admin)
    assert synced.status_code == 200, synced.text
    assert synced.json() == {"accounts": []}

    deleted = await client.delete(f"/api/templates/{template['id']}", headers=admin)
    assert deleted.status_code == 204
    assert (await client.get(f"/api/templates/{template['id']}", headers=agent)).status_code == 404
    remaining = (await client.get("/api/templates", headers=agent)).json()["items"]
    assert [item["template"]["name"] for item in remaining] == ["welcome"]


async def test_agents_read_and_preview_but_only_admins_change_the_catalogue(acme: Tenant) -> None:
    client, admin, agent = acme.gateway.client, acme.admin, acme.agent
    template = (await client.post("/api/templates", json=ORDER_SHIPPED, headers=admin)).json()

    refused = [
        await client.post("/api/templates", json=WELCOME, headers=agent),
        await client.delete(f"/api/templates/{template['id']}", headers=agent),
        await client.post("/api/templates/sync", headers=agent),
        await client.post("/api/templates/apply", json={"templates": []}, headers=agent),
    ]

    assert [response.status_code for response in refused] == [403, 403, 403, 403]
    assert (await client.get(f"/api/templates/{template['id']}", headers=agent)).status_code == 200
    duplicate = await client.post("/api/templates", json=ORDER_SHIPPED, headers=admin)
    assert duplicate.status_code == 409


async def test_problems_name_each_field_that_breaks_a_rule(acme: Tenant) -> None:
    client, admin = acme.gateway.client, acme.admin

    invalid = await client.post(
        "/api/templates", json={**WELCOME, "name": "Welcome Back", "body": "Hi {{1}}"}, headers=admin
    )
    assert invalid.status_code == 422, invalid.text
    problem = invalid.json()
    assert problem["type"] == "/problems/invalid-template"
    assert {"name", "body"} <= {error["field"] for error in problem["errors"]}

    in_a_file = await client.post(
        "/api/templates/plan",
        json={"templates": [ORDER_SHIPPED, {**WELCOME, "body": "Welcome, {{first_name}}"}]},
        headers=admin,
    )
    assert in_a_file.status_code == 422, in_a_file.text
    assert [error["field"] for error in in_a_file.json()["errors"]] == ["templates[1].body"]

    template = (await client.post("/api/templates", json=ORDER_SHIPPED, headers=admin)).json()
    values = await client.post(
        f"/api/templates/{template['id']}/preview", json={"variables": {"1": "Ana"}}, headers=admin
    )
    assert values.status_code == 422, values.text
    assert values.json()["type"] == "/problems/invalid-template-values"
    fields = {error["field"] for error in values.json()["errors"]}
    assert fields
    assert all(field.startswith("variables.") for field in fields)
    assert "variables.2" in fields

    unknown_field = await client.post("/api/templates", json={**WELCOME, "colour": "red"}, headers=admin)
    assert unknown_field.status_code == 400


META_ACCOUNT = {
    "provider": "meta",
    "label": "Acme's Meta",
    "meta": {
        "business_account_id": "102290129340398",
        "access_token": "acme-meta-access-token",
        "app_secret": "acme-meta-app-secret",
        "verify_token": "acme-meta-verify-token",
    },
}


async def test_the_periodic_sync_and_a_status_webhook_reach_the_catalogue_and_the_tenants_webhooks(
    acme: Tenant,
) -> None:
    gateway, admin = acme.gateway, acme.admin
    remote = FakeTemplateProviders()
    gateway.container.template_providers.override(providers.Object(remote))
    account = (await gateway.call("POST", "/api/provider-accounts", admin, META_ACCOUNT)).json()
    endpoint = (
        await gateway.call(
            "POST", "/api/webhooks", admin, {"url": "http://127.0.0.1:9/acme", "events": ["template.status"]}
        )
    ).json()
    template = (await gateway.call("POST", "/api/templates", admin, ORDER_SHIPPED)).json()
    [listing] = template["listings"]
    assert (listing["provider"], listing["account_id"], listing["status"]) == (
        "meta",
        account["id"],
        "pending",
    )

    remote.decide(UUID(account["id"]), "order_shipped", TemplateStatus.REJECTED, reason="INVALID_FORMAT")
    report = await gateway.container.sync_all_templates()()

    assert (report.tenants, report.unreachable_accounts, report.failed_tenants) == (1, 0, 0)
    synced = (await gateway.call("GET", f"/api/templates/{template['id']}", admin)).json()
    assert (synced["listings"][0]["status"], synced["listings"][0]["rejection_reason"]) == (
        "rejected",
        "INVALID_FORMAT",
    )

    update = TemplateStatusUpdate(
        provider=ProviderName.META,
        business_account_id="102290129340398",
        provider_template_id=listing["provider_template_id"],
        name="order_shipped",
        language="en_US",
        status=TemplateStatus.APPROVED,
        reason=None,
        quality=TemplateQuality.HIGH,
        at=datetime.now(UTC) + timedelta(seconds=1),
    )
    apply = gateway.container.apply_template_status_update()
    assert await apply(update, frozenset({UUID(account["id"])})) is True
    assert await apply(update, frozenset({UUID(account["id"])})) is False

    approved = (await gateway.call("GET", f"/api/templates/{template['id']}", admin)).json()["listings"][0]
    assert (approved["status"], approved["quality"]) == ("approved", "high")
    deliveries = (await gateway.call("GET", f"/api/webhooks/{endpoint['id']}/deliveries", admin)).json()
    statuses = sorted(item["payload"]["data"]["status"] for item in deliveries["items"])
    assert statuses == ["approved", "rejected"]
    audit = (await gateway.call("GET", "/api/audit?action=template.status_changed", admin)).json()
    assert {entry["actor"]["type"] for entry in audit["items"]} == {"system"}
    assert len(audit["items"]) == 2
