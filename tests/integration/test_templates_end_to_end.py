"""Templates across both providers for real: the gateway on PostgreSQL, a tenant with a Twilio number and
a Meta number, the Twilio emulator's Content API and the Meta emulator's message templates over HTTP.

A template created through the API goes to both providers and waits for their review; Meta's verdict
comes by its signed webhook at once, Twilio's with a sync; each change is a ``template.status`` event
and an audit entry. Sends by name are checked against the catalogue and go out in each provider's own
form, a fallback goes when the window is closed, templates made in the providers' consoles appear after
a sync, and a file of templates round-trips through export, plan and apply.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from emulators import meta, twilio
from tests.support.two_providers import CUSTOMER, META_NUMBER, TWILIO_NUMBER, World, two_provider_world

# The Twilio SDK's own async client passes aiohttp's deprecated BasicAuth; that is the SDK's business.
pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated.*:DeprecationWarning:twilio")

REVIEW_SECONDS = 3600  # both emulators decide a review only when a test moves their clocks
ORDER_SHIPPED = {
    "name": "order_shipped",
    "language": "en",
    "category": "utility",
    "body": "Hi {{1}}, your order {{2}} has shipped.",
    "footer": "Thanks for shopping with us",
    "examples": {"1": "Ana", "2": "A-1001"},
}


@pytest.fixture
async def world(postgres_url: str, tmp_path: Path) -> AsyncIterator[World]:
    async with two_provider_world(
        postgres_url,
        tmp_path,
        content_review=twilio.ContentReview(approval_delay_seconds=REVIEW_SECONDS),
        template_review=meta.TemplateReview(review_seconds=REVIEW_SECONDS),
        environment={"WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true", "TEMPLATE_SYNC_SECONDS": "0"},
    ) as world:
        yield world


def closed_port() -> int:
    """A local port nothing listens on: tenant webhooks to it stay pending, for the test to read."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def events_endpoint(world: World) -> str:
    endpoint = await world.api(
        "POST",
        "/api/webhooks",
        {"url": f"http://127.0.0.1:{closed_port()}/hooks", "events": ["template.status"]},
        expect=201,
    )
    endpoint_id: str = endpoint["id"]
    return endpoint_id


async def template_events(world: World, endpoint_id: str) -> list[dict[str, Any]]:
    page = await world.api("GET", f"/api/webhooks/{endpoint_id}/deliveries")
    return [item["payload"]["data"] for item in page["items"] if item["event_type"] == "template.status"]


def listing(template: dict[str, Any], provider: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [item for item in template["listings"] if item["provider"] == provider]
    assert len(found) == 1, template
    return found[0]


async def send(world: World, expect: int | None = None, **body: Any) -> dict[str, Any]:
    response = await world.http.post("/api/send", json={"to_number": CUSTOMER, **body}, headers=world.headers)
    if expect is not None:
        assert response.status_code == expect, response.text
    else:
        assert response.status_code in (201, 202), response.text
    sent: dict[str, Any] = response.json()
    return sent


async def test_a_template_is_reviewed_at_both_providers_then_sent_by_name_with_checked_variables(
    world: World,
) -> None:
    endpoint_id = await events_endpoint(world)

    created = await world.api("POST", "/api/templates", ORDER_SHIPPED, expect=201)

    assert {item["provider"]: item["status"] for item in created["listings"]} == {
        "twilio": "pending",
        "meta": "pending",
    }
    content_sid = listing(created, "twilio")["provider_template_id"]
    meta_template_id = listing(created, "meta")["provider_template_id"]
    assert content_sid in world.twilio.state.contents
    assert meta_template_id in world.meta.state.templates
    shipped = {"name": "order_shipped", "language": "en", "variables": {"1": "Ana", "2": "A-42"}}
    refused = await send(world, expect=422, from_number=META_NUMBER, template=shipped)
    assert refused["type"].endswith("/template-not-approved")

    # Meta decides and says so in a signed webhook: the catalogue has it at once, with no sync.
    await world.meta.advance_clock(REVIEW_SECONDS)
    await world.meta.state.settle()
    after_meta = await world.api("GET", f"/api/templates/{created['id']}")
    assert (listing(after_meta, "meta")["status"], listing(after_meta, "twilio")["status"]) == (
        "approved",
        "pending",
    )

    # Twilio's verdict comes with a sync.
    world.twilio.state.advance_clock(REVIEW_SECONDS)
    synced = await world.api("POST", "/api/templates/sync")
    assert {(item["provider"], item["reached"], item["changed"]) for item in synced["accounts"]} == {
        ("twilio", True, 1),
        ("meta", True, 0),
    }
    approved = await world.api("GET", f"/api/templates/{created['id']}")
    assert {item["status"] for item in approved["listings"]} == {"approved"}

    events = await template_events(world, endpoint_id)
    assert sorted((event["provider"], event["previous_status"], event["status"]) for event in events) == [
        ("meta", "pending", "approved"),
        ("twilio", "pending", "approved"),
    ]
    audit = await world.api("GET", "/api/audit")
    assert len([entry for entry in audit["items"] if "template" in entry["action"]]) >= 3

    # Sent by name from each number, each provider gets it in its own form.
    by_meta = await send(world, from_number=META_NUMBER, template=shipped)
    by_twilio = await send(world, from_number=TWILIO_NUMBER, template=shipped)
    await world.meta.state.settle()
    await world.twilio.state.settle()

    rendered = "Hi Ana, your order A-42 has shipped.\n\nThanks for shopping with us"
    assert by_meta["template"]["rendered"] == by_twilio["template"]["rendered"] == rendered
    (at_meta,) = [m for m in world.meta.state.messages.values() if m.request.get("type") == "template"]
    assert at_meta.request["template"] == {
        "name": "order_shipped",
        "language": {"code": "en"},
        "components": [
            {
                "type": "body",
                "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "A-42"}],
            }
        ],
    }
    (at_twilio,) = [m for m in world.twilio.state.messages.values() if m.content_sid is not None]
    assert at_twilio.content_sid == content_sid
    assert json.loads(at_twilio.content_variables or "{}") == {"1": "Ana", "2": "A-42"}

    # Values that do not fit are refused naming the variable, and nothing is stored.
    history_before = await world.api("GET", "/api/messages")
    for variables, field in (
        ({"1": "Ana"}, "template.variables.2"),
        ({"1": "Ana", "2": "A", "3": "x"}, "template.variables.3"),
    ):
        problem = await send(
            world, expect=422, from_number=META_NUMBER, template={**shipped, "variables": variables}
        )
        assert problem["type"].endswith("/invalid-template-values")
        assert field in [error["field"] for error in problem["errors"]]
    assert await world.api("GET", "/api/messages") == history_before

    # The customer never wrote: a free-form message is refused, or its fallback template goes instead.
    closed = await send(world, expect=422, from_number=META_NUMBER, body="Your order A-42 has shipped!")
    assert closed["type"].endswith("/session-window-closed")
    fallback = await send(
        world, from_number=META_NUMBER, body="Your order A-42 has shipped!", fallback_template=shipped
    )
    assert (fallback["fallback_sent"], fallback["kind"], fallback["template"]["rendered"]) == (
        True,
        "template",
        rendered,
    )


async def test_a_rejection_keeps_its_reason_and_templates_made_in_the_consoles_appear_after_a_sync(
    world: World,
) -> None:
    rejected = await world.api(
        "POST",
        "/api/templates",
        {**ORDER_SHIPPED, "name": "reject_this_one", "category": "marketing"},
        expect=201,
    )
    world.meta.console_template(
        waba_id=world.business.waba_id,
        name="summer_sale",
        language="en_US",
        category="MARKETING",
        components=[{"type": "BODY", "text": "Our summer sale starts today."}],
    )
    console = await world.http.post(
        f"{world.twilio.base_url}/_emulator/content",
        json={
            "account_sid": world.twilio_sid,
            "friendly_name": "summer_sale",
            "language": "en",
            "types": {"twilio/text": {"body": "Our summer sale starts today."}},
            "approval": {"name": "summer_sale", "category": "MARKETING", "status": "approved"},
        },
    )
    assert console.status_code == 201, console.text

    await world.meta.advance_clock(REVIEW_SECONDS)
    await world.meta.state.settle()
    world.twilio.state.advance_clock(REVIEW_SECONDS)
    synced = await world.api("POST", "/api/templates/sync")

    assert sum(item["added"] for item in synced["accounts"]) == 2
    after = await world.api("GET", f"/api/templates/{rejected['id']}")
    for provider in ("meta", "twilio"):
        assert listing(after, provider)["status"] == "rejected"
        assert listing(after, provider)["rejection_reason"]
    page = await world.api("GET", "/api/templates?name=summer_sale")
    assert {
        (item["template"]["language"], item["listings"][0]["provider"], item["listings"][0]["status"])
        for item in page["items"]
    } == {("en_US", "meta", "approved"), ("en", "twilio", "approved")}
    assert (await world.api("GET", "/api/templates?name=summer_sale"))["items"][0]["template"]["body"] == (
        "Our summer sale starts today."
    )


async def test_templates_as_code_round_trip_through_export_plan_and_apply(world: World) -> None:
    await world.api("POST", "/api/templates", ORDER_SHIPPED, expect=201)
    # Meta edits only reviewed templates: the first version is approved before the file changes it.
    await world.meta.advance_clock(REVIEW_SECONDS)
    await world.meta.state.settle()
    world.twilio.state.advance_clock(REVIEW_SECONDS)
    await world.api("POST", "/api/templates/sync")
    exported = await world.api("GET", "/api/templates/export")
    assert [template["name"] for template in exported["templates"]] == ["order_shipped"]

    edited = json.loads(json.dumps(exported))
    edited["templates"][0]["body"] = "Hello {{1}}, your order {{2}} is on its way."
    edited["templates"].append(
        {
            "name": "delivery_window",
            "language": "en",
            "category": "utility",
            "body": "Your delivery arrives between {{1}} and {{2}} today.",
            "examples": {"1": "9am", "2": "11am"},
        }
    )

    plan = await world.api("POST", "/api/templates/plan", edited)
    assert ([t["name"] for t in plan["create"]], [c["wanted"]["name"] for c in plan["update"]]) == (
        ["delivery_window"],
        ["order_shipped"],
    )
    assert (plan["delete"], plan["empty"]) == ([], False)

    await world.api("POST", "/api/templates/apply", edited)
    again = await world.api("POST", "/api/templates/plan", edited)
    assert (again["empty"], again["unchanged"]) == (True, 2)
    reapplied = await world.api("POST", "/api/templates/apply", edited)
    assert reapplied["plan"]["empty"] is True

    shipped = (await world.api("GET", "/api/templates?name=order_shipped"))["items"][0]
    assert shipped["template"]["body"] == "Hello {{1}}, your order {{2}} is on its way."
    meta_id = listing(shipped, "meta")["provider_template_id"]
    assert "is on its way" in json.dumps(world.meta.state.templates[meta_id].components)
    twilio_sid = listing(shipped, "twilio")["provider_template_id"]
    assert twilio_sid in world.twilio.state.contents
    assert len([c for c in world.twilio.state.contents.values() if c.friendly_name == "order_shipped"]) == 1
