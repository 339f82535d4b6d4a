"""Campaigns in the console, through the real app with fakes behind it: the list with each campaign's
progress, one campaign with its counts and recipients, paused, resumed and canceled by a tenant admin,
its recipients exported as CSV, and what is refused."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.api import Api, ApiOptions
from tests.support.console import ConsolePages, text_of

TEMPLATE = {
    "name": "spring_sale",
    "language": "en",
    "category": "marketing",
    "body": "Hi {{1}}, our spring sale starts today.",
    "examples": {"1": "Ana"},
    "accounts": ["sandbox"],
}


@pytest.fixture
def api_options() -> ApiOptions:
    # The app's clock stands still: a campaign starting later stays scheduled while it is looked at.
    return ApiOptions(fixed_clock=True)


async def signed_in(api: Api, username: str = "alice") -> ConsolePages:
    console = ConsolePages(api.client)
    await console.sign_in(username)
    return console


async def create_campaign(api: Api, name: str, username: str = "alice", **more: Any) -> dict[str, Any]:
    headers = await api.bearer(username)
    template = await api.client.post("/api/templates", json=TEMPLATE, headers=headers)
    assert template.status_code in (201, 409), template.text
    body = {
        "name": name,
        "template": {"name": "spring_sale", "language": "en"},
        "variables": {"1": {"attribute": "first_name"}},
        "audience": {
            "recipients": [
                {"number": "+14155550123", "attributes": {"first_name": "Ana"}},
                {"number": "+14155550124", "attributes": {"first_name": "Ben"}},
            ]
        },
        "pace": {"messages_per_second": 2, "daily_cap": 500},
        "quiet_hours": {"start": "21:00", "end": "08:00"},
        **more,
    }
    response = await api.client.post("/api/campaigns", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def campaign_over_api(api: Api, campaign_id: str, username: str = "alice") -> dict[str, Any]:
    response = await api.client.get(f"/api/campaigns/{campaign_id}", headers=await api.bearer(username))
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def listed_ids(page: str) -> list[str]:
    return re.findall(r'href="/console/campaigns/([0-9a-f-]{36})"', page)


async def test_the_campaigns_page_lists_the_tenants_campaigns_newest_first_with_their_progress(
    api: Api,
) -> None:
    first = await create_campaign(api, "Spring sale")
    second = await create_campaign(api, "Summer sale")
    theirs = await create_campaign(api, "Globex secret", username="bob")
    console = await signed_in(api, "ana")

    page = await console.get("/console/campaigns")
    text = text_of(page)

    assert set(listed_ids(page)) == {first["id"], second["id"]}
    assert theirs["id"] not in page
    assert "Globex secret" not in text
    assert "spring_sale (en)" in text
    assert "2 msg/s" in text
    assert "of 2 targeted" in text
    assert 'href="/console/campaigns"' in await console.get("/console")


async def test_a_campaign_shows_its_counts_quiet_hours_cap_and_recipients(api: Api) -> None:
    campaign = await create_campaign(api, "Spring sale")
    console = await signed_in(api, "ana")

    page = await console.get(f"/console/campaigns/{campaign['id']}")
    text = text_of(page)

    assert "Spring sale" in text
    assert "21:00-08:00" in text
    assert "500" in text
    assert "+14155550123" in text
    assert "+14155550124" in text
    assert f'href="/console/campaigns/{campaign["id"]}/recipients.csv"' in page
    assert "/pause" not in page  # an agent reads, and changes nothing


async def test_the_recipients_are_filtered_by_state_and_exported_as_csv(api: Api) -> None:
    campaign = await create_campaign(api, "Spring sale")
    console = await signed_in(api, "ana")

    failed_only = text_of(await console.get(f"/console/campaigns/{campaign['id']}", state="failed"))
    export = await api.client.get(f"/console/campaigns/{campaign['id']}/recipients.csv")

    assert "+14155550123" not in failed_only
    assert "No recipient in this state." in failed_only
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert "+14155550123" in export.text
    assert "+14155550124" in export.text


async def test_a_tenant_admin_pauses_resumes_and_cancels_a_campaign(api: Api) -> None:
    campaign = await create_campaign(api, "Spring sale")
    console = await signed_in(api)
    path = f"/console/campaigns/{campaign['id']}"

    paused = await console.submit(f"{path}/pause", from_page=path)
    assert paused.headers["location"] == f"{path}?done=paused"
    assert (await campaign_over_api(api, campaign["id"]))["status"] == "paused"
    assert "nothing more of it is sent" in text_of(await console.get(paused.headers["location"]))

    resumed = await console.submit(f"{path}/resume", from_page=path)
    assert resumed.headers["location"] == f"{path}?done=resumed"
    assert (await campaign_over_api(api, campaign["id"]))["status"] != "paused"

    canceled = await console.submit(f"{path}/cancel", from_page=path)
    assert canceled.headers["location"] == f"{path}?done=canceled"
    assert (await campaign_over_api(api, campaign["id"]))["status"] == "canceled"


async def test_a_refused_change_comes_back_with_why_and_changes_nothing(api: Api) -> None:
    campaign = await create_campaign(api, "Spring sale")
    console = await signed_in(api)
    path = f"/console/campaigns/{campaign['id']}"
    await console.submit(f"{path}/cancel", from_page=path)

    again = await console.submit(f"{path}/pause", from_page=path, expect=409)

    assert 'role="alert"' in again.text
    assert "Spring sale" in text_of(again.text)
    assert (await campaign_over_api(api, campaign["id"]))["status"] == "canceled"


async def test_agents_may_not_change_a_campaign_and_a_form_needs_its_csrf_token(api: Api) -> None:
    campaign = await create_campaign(api, "Spring sale")
    path = f"/console/campaigns/{campaign['id']}"
    agent = await signed_in(api, "ana")

    await agent.submit(f"{path}/pause", from_page=path, expect=403)
    forged = await api.client.post(f"{path}/cancel", follow_redirects=False)

    assert forged.status_code == 403
    assert (await campaign_over_api(api, campaign["id"]))["status"] == "scheduled"


async def test_another_tenants_campaign_is_not_found(api: Api) -> None:
    theirs = await create_campaign(api, "Globex secret", username="bob")
    console = await signed_in(api)

    await console.get(f"/console/campaigns/{theirs['id']}", expect=404)
    await console.submit(
        f"/console/campaigns/{theirs['id']}/pause", from_page="/console/campaigns", expect=404
    )
    export = await api.client.get(f"/console/campaigns/{theirs['id']}/recipients.csv")

    assert export.status_code == 404
    assert (await campaign_over_api(api, theirs["id"], "bob"))["status"] == "scheduled"


async def test_a_platform_admin_has_no_campaigns(api: Api) -> None:
    root = await signed_in(api, "root")

    await root.get("/console/campaigns", expect=403)
