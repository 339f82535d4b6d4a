"""The template catalogue over real HTTP, on the composition root with the sandbox's templates, on SQLite
and on PostgreSQL (as the application's role, row-level security in force): a template created, listed,
read and previewed; the catalogue exported, edited, planned and applied round trip; deleted. Who may do
what, and problems that name each field."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.gateways import DATABASES, PASSWORD, Gateway, database_of_its_own, running_gateway

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
