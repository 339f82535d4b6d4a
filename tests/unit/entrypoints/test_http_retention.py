"""Retention and a person's data over HTTP, through the real app with fakes behind it: tenant admins set
the retention, the history shows redacted messages as such, and a person's records are exported and
erased in every form of their number."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.support.api import ACCESS_CONTROL, Api, ApiOptions, assert_problem

ROSA_NATIONAL = "+525512345678"
ROSA_WHATSAPP = "+5215512345678"


@pytest.fixture
def api_options() -> ApiOptions:
    return ACCESS_CONTROL.with_settings()


async def audit_actions(api: Api, admin: dict[str, str]) -> list[dict[str, Any]]:
    response = await api.client.get("/api/audit", headers=admin)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["items"]
    return entries


async def test_a_tenant_without_a_policy_keeps_everything(api: Api) -> None:
    alice = await api.bearer("alice")

    response = await api.client.get("/api/retention", headers=alice)

    assert response.status_code == 200, response.text
    assert response.json() == {"days": None, "mode": None, "updated_at": None}


async def test_a_tenant_admin_sets_changes_and_removes_the_policy(api: Api) -> None:
    alice = await api.bearer("alice")

    set_ = await api.client.put("/api/retention", json={"days": 90}, headers=alice)
    changed = await api.client.put("/api/retention", json={"days": 30, "mode": "delete"}, headers=alice)

    assert set_.status_code == 200, set_.text
    assert (set_.json()["days"], set_.json()["mode"]) == (90, "redact")
    assert (changed.json()["days"], changed.json()["mode"]) == (30, "delete")
    assert (await api.client.get("/api/retention", headers=alice)).json()["days"] == 30
    removed = await api.client.put("/api/retention", json={"days": None}, headers=alice)
    assert removed.json() == {"days": None, "mode": None, "updated_at": None}
    details = [e["details"] for e in await audit_actions(api, alice) if e["action"] == "retention.set"]
    assert details == [
        {"days": "forever"},
        {"days": "30", "mode": "delete"},
        {"days": "90", "mode": "redact"},
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"days": 0},
        {"days": 3651},
        {"days": "30"},
        {"days": 30, "mode": "shred"},
        {"days": 30, "extra": 1},
        {},
    ],
)
async def test_a_bad_policy_is_a_400_and_changes_nothing(api: Api, body: dict[str, Any]) -> None:
    alice = await api.bearer("alice")

    assert_problem(await api.client.put("/api/retention", json=body, headers=alice), 400, "validation-failed")

    assert (await api.client.get("/api/retention", headers=alice)).json()["days"] is None


async def test_agents_may_not_touch_the_retention_or_a_persons_data(api: Api) -> None:
    ana = await api.bearer("ana")

    for method, path in (
        ("GET", "/api/retention"),
        ("PUT", "/api/retention"),
        ("GET", f"/api/contacts/{ROSA_NATIONAL}/data"),
        ("DELETE", f"/api/contacts/{ROSA_NATIONAL}/data"),
    ):
        body = {"days": 30} if method == "PUT" else None
        response = await api.client.request(method, path, json=body, headers=ana)
        assert_problem(response, 403, "forbidden")


async def test_the_history_shows_a_redacted_message_with_an_empty_body(api: Api) -> None:
    alice = await api.bearer("alice")
    await api.customer_writes(api.acme, ROSA_NATIONAL, timedelta(days=40), body="my address is …")
    await api.client.put("/api/retention", json={"days": 30}, headers=alice)

    assert await api.container.apply_retention()() == 1

    [message] = (await api.client.get("/api/messages", headers=alice)).json()["items"]
    assert (message["body"], message["redacted"], message["status"]) == ("", True, "received")
    assert message["redacted_at"] is not None
    [conversation] = (await api.client.get("/api/conversations", headers=alice)).json()["items"]
    assert "my address" not in str(conversation)


async def test_a_persons_data_is_exported_then_erased_in_every_form_of_the_number(api: Api) -> None:
    alice = await api.bearer("alice")
    await api.customer_writes(api.acme, ROSA_NATIONAL, timedelta(hours=2), body="hola")
    await api.customer_writes(api.acme, ROSA_WHATSAPP, timedelta(hours=1), body="¿hay novedades?")
    await api.customer_writes(api.acme, "+4915112345678", timedelta(hours=1), body="not hers")
    await api.customer_writes(api.globex, ROSA_NATIONAL, timedelta(hours=1), body="at globex")

    exported = await api.client.get(f"/api/contacts/{ROSA_WHATSAPP}/data", headers=alice)

    assert exported.status_code == 200, exported.text
    document = exported.json()
    assert (document["contact"], document["forms"]) == (ROSA_NATIONAL, [ROSA_NATIONAL, ROSA_WHATSAPP])
    assert [m["body"] for m in document["records"]["messages"]] == ["hola", "¿hay novedades?"]
    assert len(document["records"]["conversations"]) == 1
    assert document["truncated"] is False

    erased = await api.client.delete(f"/api/contacts/{ROSA_NATIONAL}/data", headers=alice)

    assert erased.status_code == 200, erased.text
    assert erased.json()["removed"]["messages"] == 2
    assert erased.json()["removed"]["conversations"] == 1
    assert erased.json()["kept"] == {"consent_opt_out": 0}
    again = (await api.client.get(f"/api/contacts/{ROSA_NATIONAL}/data", headers=alice)).json()
    assert again["records"]["messages"] == []
    left = (await api.client.get("/api/messages", headers=alice)).json()["items"]
    assert [m["body"] for m in left] == ["not hers"]
    actions = [e["action"] for e in await audit_actions(api, alice)]
    assert actions[:3] == ["contact.exported", "contact.erased", "contact.exported"]  # newest first
    assert "5512345678" not in str(await audit_actions(api, alice))
    bob = await api.bearer("bob")
    at_globex = (await api.client.get("/api/messages", headers=bob)).json()["items"]
    assert [m["body"] for m in at_globex] == ["at globex"]


async def test_an_erasure_takes_the_contact_and_consent_ledger_and_keeps_an_opt_out_that_sends_honour(
    api: Api,
) -> None:
    alice = await api.bearer("alice")
    created = await api.client.post(
        "/api/contacts", json={"phone_number": ROSA_WHATSAPP, "name": "Rosa"}, headers=alice
    )
    assert created.status_code == 201, created.text
    opted_out = await api.client.post(
        f"/api/consent/{ROSA_NATIONAL}", json={"state": "opted_out", "note": "asked by phone"}, headers=alice
    )
    assert opted_out.status_code == 200, opted_out.text

    records = (await api.client.get(f"/api/contacts/{ROSA_NATIONAL}/data", headers=alice)).json()["records"]
    assert [(c["name"], c["phone_number"]) for c in records["contact"]] == [("Rosa", ROSA_WHATSAPP)]
    assert [c["state"] for c in records["consent"]] == ["opted_out"]
    assert [(e["state"], e["note"]) for e in records["consent_ledger"]] == [("opted_out", "asked by phone")]

    erased = await api.client.delete(f"/api/contacts/{ROSA_WHATSAPP}/data", headers=alice)

    assert erased.status_code == 200, erased.text
    removed = erased.json()["removed"]
    assert (removed["contacts"], removed["consent_ledger"], removed["consent_states"]) == (1, 1, 0)
    assert erased.json()["kept"] == {"consent_opt_out": 1}
    after = (await api.client.get(f"/api/contacts/{ROSA_NATIONAL}/data", headers=alice)).json()["records"]
    assert (after["contact"], after["consent_ledger"]) == ([], [])
    assert [(c["state"], c["number"]) for c in after["consent"]] == [("opted_out", ROSA_NATIONAL)]
    assert (await api.client.get("/api/contacts", headers=alice)).json()["items"] == []
    refused = await api.send(alice, to_number=ROSA_WHATSAPP, body="Spring sale!")
    assert_problem(refused, 422, "recipient-opted-out")


async def test_a_number_that_is_no_number_is_a_422(api: Api) -> None:
    alice = await api.bearer("alice")

    for method in ("GET", "DELETE"):
        response = await api.client.request(method, "/api/contacts/not-a-number/data", headers=alice)
        assert_problem(response, 422, "invalid-phone-number")
