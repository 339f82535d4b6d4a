"""Administration → Consent and Retention in the console, through the real app with fakes behind it:
the tenant's consent policy and retention policy read, set, refused and removed, by tenant admins only."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api
from tests.support.console import ConsolePages, text_of


async def signed_in(api: Api, username: str = "alice") -> ConsolePages:
    console = ConsolePages(api.client)
    await console.sign_in(username)
    return console


async def api_get(api: Api, path: str) -> Any:
    response = await api.client.get(path, headers=await api.bearer("alice"))
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_tenant_admin_sets_the_consent_policy(api: Api) -> None:
    console = await signed_in(api)
    before = text_of(await console.get("/console/admin/consent"))

    response = await console.submit(
        "/console/admin/consent",
        {
            "opt_out_keywords": "Basta\n\nno más\n",
            "opt_in_keywords": "VOLVER",
            "keyword_mode": "replace",
            "opt_out_reply": "You will get no more messages.",
            "opt_in_reply": "",
            "allowed_categories": ["authentication", "utility"],
        },
        from_page="/console/admin/consent",
    )

    assert "The tenant has set none" in before
    assert "STOP" in before  # the defaults are shown
    assert response.headers["location"] == "/console/admin/consent?done=consent-saved"
    policy = await api_get(api, "/api/consent/policy")
    assert policy["opt_out_keywords"] == ["basta", "no mas"]
    assert policy["opt_in_keywords"] == ["volver"]
    assert policy["keyword_mode"] == "replace"
    assert policy["opt_out_reply"] == "You will get no more messages."
    assert policy["opt_in_reply"] is None
    assert sorted(policy["allowed_categories"]) == ["authentication", "utility"]
    page = await console.get(response.headers["location"])
    assert "The consent policy was saved." in text_of(page)
    assert 'value="utility" checked' in page


async def test_a_refused_consent_policy_comes_back_with_why_and_changes_nothing(api: Api) -> None:
    console = await signed_in(api)

    response = await console.submit(
        "/console/admin/consent",
        {"opt_out_keywords": "STOP", "opt_in_keywords": "stop", "keyword_mode": "replace"},
        from_page="/console/admin/consent",
        expect=422,
    )

    assert "not both" in text_of(response.text)
    assert 'id="form-error"' in response.text
    assert (await api_get(api, "/api/consent/policy"))["updated_at"] is None


async def test_a_tenant_admin_sets_changes_and_removes_the_retention_policy(api: Api) -> None:
    console = await signed_in(api)
    path = "/console/admin/retention"
    before = text_of(await console.get(path))

    saved = await console.submit(path, {"days": "90", "mode": "redact"}, from_page=path)
    redacting = text_of(await console.get(saved.headers["location"]))
    await console.submit(path, {"days": "30", "mode": "delete"}, from_page=path)
    deleting = text_of(await console.get(path))
    removed = await console.submit(f"{path}/remove", from_page=path)

    assert "it keeps every message" in before
    assert saved.headers["location"] == f"{path}?done=retention-saved"
    assert "older than 90 days lose their text and media" in redacting
    assert "older than 30 days are deleted" in deleting
    assert removed.headers["location"] == f"{path}?done=retention-removed"
    assert (await api_get(api, "/api/retention"))["days"] is None


async def test_a_retention_period_out_of_bounds_comes_back_with_why_and_changes_nothing(api: Api) -> None:
    console = await signed_in(api)
    path = "/console/admin/retention"

    zero = await console.submit(path, {"days": "0", "mode": "redact"}, from_page=path, expect=422)
    words = await console.submit(path, {"days": "ninety", "mode": "redact"}, from_page=path, expect=422)

    assert "1 to 3650 days" in text_of(zero.text)
    assert 'value="0"' in zero.text
    assert "whole number of days" in text_of(words.text)
    assert (await api_get(api, "/api/retention"))["days"] is None


async def test_agents_may_not_read_or_change_the_policies(api: Api) -> None:
    ana = await signed_in(api, "ana")

    for path in ("/console/admin/consent", "/console/admin/retention"):
        await ana.get(path, expect=403)
    await ana.submit("/console/admin/retention", {"days": "1"}, from_page="/console/contacts", expect=403)
    await ana.submit("/console/admin/retention/remove", from_page="/console/contacts", expect=403)

    assert (await api_get(api, "/api/retention"))["days"] is None
