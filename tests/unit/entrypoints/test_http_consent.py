"""Consent over HTTP, through the real app with fakes behind it: a person opted out by hand is refused
by POST /api/send (422 recipient-opted-out, nothing stored), the ledger and the policy are read and set
by who may, and bad input is a clear 4xx that changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import ACCESS_CONTROL, Api, ApiOptions, assert_problem

CUSTOMER = "+5491123456789"  # an Argentine mobile in the international form (with the 9)
SAME_PERSON = "+541123456789"  # the same line without the 9


@pytest.fixture
def api_options() -> ApiOptions:
    return ACCESS_CONTROL


async def set_consent(api: Api, headers: dict[str, str], phone: str, **body: Any) -> dict[str, Any]:
    response = await api.client.post(f"/api/consent/{phone}", json=body, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_a_person_opted_out_by_an_agent_is_refused_by_send_and_nothing_is_stored(api: Api) -> None:
    ana = await api.bearer("ana")
    opted_out = await set_consent(api, ana, CUSTOMER, state="opted_out", note="asked by phone")
    messages_before = len(api.database.messages.all())

    refused = await api.client.post(
        "/api/send",
        json={"to_number": SAME_PERSON, "body": "Spring sale!"},
        headers={**ana, "Idempotency-Key": "sale-1"},
    )

    problem = assert_problem(refused, 422, "recipient-opted-out")
    assert "opted out" in problem["detail"]
    assert len(api.database.messages.all()) == messages_before
    assert await api.database.idempotency.get(api.acme.tenant.id, "sale-1", api.clock.now()) is None
    assert opted_out["state"] == "opted_out"
    assert opted_out["may_message"] is False
    assert opted_out["recent_changes"][0]["source"] == "api"
    assert opted_out["recent_changes"][0]["note"] == "asked by phone"
    assert opted_out["recent_changes"][0]["actor"] == f"user:{api.agent.id}"


async def test_a_person_opted_back_in_is_sent_to_again(api: Api) -> None:
    ana = await api.bearer("ana")
    await set_consent(api, ana, CUSTOMER, state="opted_out")
    await set_consent(api, ana, SAME_PERSON, state="opted_in")

    response = await api.send(ana, to_number=CUSTOMER, body="Welcome back")

    assert response.status_code in (201, 202), response.text


async def test_a_person_never_asked_may_be_messaged(api: Api) -> None:
    alice = await api.login(api.acme)

    response = await api.client.get(f"/api/consent/{CUSTOMER}", headers=alice)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["state"], body["may_message"], body["recent_changes"]) == (None, True, [])
    assert body["identity"] == CUSTOMER


async def test_the_ledger_pages_oldest_first_and_filters_by_person(api: Api) -> None:
    alice = await api.login(api.acme)
    for state in ("opted_out", "opted_in", "opted_out"):
        await set_consent(api, alice, CUSTOMER, state=state)
    await set_consent(api, alice, "+14155550100", state="opted_out")

    first = (await api.client.get("/api/consent/ledger", params={"limit": 2}, headers=alice)).json()
    rest = (
        await api.client.get("/api/consent/ledger", params={"after": first["next_cursor"]}, headers=alice)
    ).json()
    theirs = (
        await api.client.get("/api/consent/ledger", params={"phone": SAME_PERSON}, headers=alice)
    ).json()

    assert [e["state"] for e in first["items"] + rest["items"]] == [
        "opted_out",
        "opted_in",
        "opted_out",
        "opted_out",
    ]
    assert len(theirs["items"]) == 3
    assert_problem(
        await api.client.get("/api/consent/ledger", params={"after": "nope"}, headers=alice),
        400,
        "invalid-cursor",
    )


async def test_another_tenants_consent_is_neither_seen_nor_applied(api: Api) -> None:
    alice, bob = await api.login(api.acme), await api.login(api.globex)
    await set_consent(api, alice, CUSTOMER, state="opted_out")

    seen = (await api.client.get(f"/api/consent/{CUSTOMER}", headers=bob)).json()
    ledger = (await api.client.get("/api/consent/ledger", headers=bob)).json()

    assert seen["state"] is None
    assert ledger["items"] == []


async def test_the_policy_is_read_by_agents_and_set_by_tenant_admins_with_an_audit_entry(api: Api) -> None:
    alice, ana = await api.login(api.acme), await api.bearer("ana")
    policy = {
        "opt_out_keywords": ["Basta"],
        "opt_in_keywords": ["Volví"],
        "opt_out_reply": "You will hear no more from us. Write START to come back.",
        "allowed_categories": ["authentication", "utility"],
    }

    defaults = (await api.client.get("/api/consent/policy", headers=ana)).json()
    refused = await api.client.put("/api/consent/policy", json=policy, headers=ana)
    saved = await api.client.put("/api/consent/policy", json=policy, headers=alice)
    audit = (
        await api.client.get("/api/audit", params={"action": "consent_policy.set"}, headers=alice)
    ).json()

    assert defaults["updated_at"] is None
    assert "stop" in defaults["recognised_opt_out"]
    assert defaults["allowed_categories"] == ["authentication"]
    assert_problem(refused, 403, "forbidden")
    assert saved.status_code == 200, saved.text
    assert saved.json()["opt_out_keywords"] == ["basta"]
    assert "basta" in saved.json()["recognised_opt_out"]
    assert saved.json()["allowed_categories"] == ["authentication", "utility"]
    assert (await api.client.get("/api/consent/policy", headers=ana)).json() == saved.json()
    assert [entry["details"] for entry in audit["items"]] == [
        {"keyword_mode": "add", "allowed_categories": "authentication,utility"}
    ]


@pytest.mark.parametrize(
    ("body", "status", "problem_type"),
    [
        ({"opt_in_keywords": ["STOP"]}, 422, "invalid-input"),  # a default opt-out word
        ({"opt_out_keywords": ["?!"]}, 422, "invalid-input"),
        ({"opt_out_keywords": ["x" * 65]}, 400, "validation-failed"),
        ({"opt_out_keywords": ["w"] * 51}, 400, "validation-failed"),
        ({"allowed_categories": ["promotional"]}, 400, "validation-failed"),
        ({"opt_out_reply": "a" * 1025}, 400, "validation-failed"),
        ({"keyword_mode": "merge"}, 400, "validation-failed"),
        ({"unknown": True}, 400, "validation-failed"),
    ],
    ids=[
        "both lists",
        "empty keyword",
        "long keyword",
        "many keywords",
        "category",
        "reply",
        "mode",
        "field",
    ],
)
async def test_a_policy_that_breaks_a_rule_is_refused_and_nothing_changes(
    api: Api, body: dict[str, Any], status: int, problem_type: str
) -> None:
    alice = await api.login(api.acme)

    assert_problem(
        await api.client.put("/api/consent/policy", json=body, headers=alice), status, problem_type
    )

    assert (await api.client.get("/api/consent/policy", headers=alice)).json()["updated_at"] is None


@pytest.mark.parametrize(
    ("phone", "body", "status", "problem_type"),
    [
        ("12345", {"state": "opted_out"}, 422, "invalid-phone-number"),
        (CUSTOMER, {"state": "maybe"}, 400, "validation-failed"),
        (CUSTOMER, {"state": "opted_out", "note": "n" * 501}, 400, "validation-failed"),
        (CUSTOMER, {"state": "opted_out", "source": "keyword"}, 400, "validation-failed"),
    ],
    ids=["number", "state", "note", "source"],
)
async def test_a_bad_consent_change_is_refused_and_nothing_is_ledgered(
    api: Api, phone: str, body: dict[str, Any], status: int, problem_type: str
) -> None:
    alice = await api.login(api.acme)

    assert_problem(
        await api.client.post(f"/api/consent/{phone}", json=body, headers=alice), status, problem_type
    )

    assert api.database.consent.ledger() == []


async def test_platform_admins_read_no_tenants_consent(api: Api) -> None:
    root = await api.bearer(api.root.username)

    assert_problem(await api.client.get(f"/api/consent/{CUSTOMER}", headers=root), 403, "forbidden")
