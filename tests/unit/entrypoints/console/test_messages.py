"""The console's messages: the history with its filters and pages, one message with its timeline and
its retry, the Failed quick filter, and the exports (CSV and NDJSON) of the filtered history."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from application.ports.messages import StatusChange
from domain.administration.tenancy import ProviderName
from domain.messaging.failures import Failure, FailureCode
from domain.messaging.messages import Message, MessageContent, MessageStatus
from domain.phone import PhoneNumber
from entrypoints.console.message_exports import CSV_COLUMNS
from entrypoints.console.pages import messages as messages_page
from tests.support.api import ACCESS_CONTROL, Api, ApiOptions
from tests.support.console import ConsolePages, csrf_token_of, text_of
from tests.support.fakes import TenantAccount

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
CAROL = "+14155550123"
DAVE = "+14155550199"
OPTED_OUT = Failure(
    FailureCode.RECIPIENT_OPTED_OUT,
    ProviderName.TWILIO,
    21610,
    "Attempt to send to unsubscribed recipient",
    reason="the recipient has opted out of messages from this sender",
)


@pytest.fixture
def api_options() -> ApiOptions:
    return ACCESS_CONTROL  # no embedded dispatcher: a retried message stays accepted


async def add_message(
    api: Api,
    account: TenantAccount,
    *,
    body: str = "hello",
    contact: str = CAROL,
    at: datetime = T0,
    inbound: bool = False,
    status: MessageStatus | None = None,
    failure: Failure | None = None,
) -> Message:
    sender, customer = account.sender.phone_number, PhoneNumber.parse(contact)
    if inbound:
        message = Message.new_inbound(
            tenant_id=account.tenant.id,
            sender=sender,
            contact=customer,
            content=MessageContent(body=body),
            provider_sid=f"SM-{at.isoformat()}-{body}",
            now=at,
        )
    else:
        message = Message.new_outbound(
            tenant_id=account.tenant.id,
            sender=sender,
            contact=customer,
            content=MessageContent(body=body),
            now=at,
        )
    if failure is not None:
        message = message.failed(failure, at)
    if status is not None:
        message = replace(message, status=status)
    await api.database.messages.add(message)
    return message


async def signed_in(api: Api, username: str = "ana") -> ConsolePages:
    console = ConsolePages(api.client)
    await console.sign_in(username)
    return console


def message_ids(page: str) -> list[str]:
    """The ids of the messages the history table lists, in its order."""
    return re.findall(r'href="/console/messages/([0-9a-f-]{36})"', page)


def link_to(page: str, label: str) -> str:
    found = re.search(rf'<a href="([^"]*)"[^>]*>{re.escape(label)}</a>', page)
    assert found is not None, f"no link {label!r}"
    return html.unescape(found.group(1))


# ----------------------------------------------------------------------------------------- the history


async def test_the_history_lists_the_tenants_messages_newest_first_and_no_other_tenants(api: Api) -> None:
    older = await add_message(api, api.acme, body="first", at=T0)
    newer = await add_message(api, api.acme, body="second", at=T0 + timedelta(minutes=1), inbound=True)
    theirs = await add_message(api, api.globex, body="globex secret", at=T0 + timedelta(minutes=2))
    console = await signed_in(api)

    page = await console.get("/console/messages")

    assert message_ids(page) == [str(newer.id), str(older.id)]
    assert str(theirs.id) not in page
    assert "globex secret" not in page
    text = text_of(page)
    assert "2026-01-10 12:00" in text
    assert "first" in text
    assert "Accepted" in text
    assert "Received" in text


async def test_the_filters_narrow_the_history_and_are_kept_in_the_form(api: Api) -> None:
    to_carol = await add_message(api, api.acme, contact=CAROL, at=T0)
    from_carol = await add_message(api, api.acme, contact=CAROL, at=T0 + timedelta(days=1), inbound=True)
    to_dave = await add_message(api, api.acme, contact=DAVE, at=T0 + timedelta(days=2))
    delivered = await add_message(
        api, api.acme, contact=DAVE, at=T0 + timedelta(days=3), status=MessageStatus.DELIVERED
    )
    await add_message(api, api.globex, contact=CAROL, at=T0)
    console = await signed_in(api)

    async def listed(**filters: str) -> list[str]:
        response = await console.client.get("/console/messages", params=filters)
        assert response.status_code == 200, response.text
        return message_ids(response.text)

    assert await listed(contact=CAROL) == [str(from_carol.id), str(to_carol.id)]
    assert await listed(direction="inbound") == [str(from_carol.id)]
    assert await listed(status="delivered") == [str(delivered.id)]
    assert await listed(status="accepted", contact=DAVE) == [str(to_dave.id)]
    # Both days are whole days in UTC, both included.
    assert await listed(**{"from": "2026-01-11", "to": "2026-01-12"}) == [str(to_dave.id), str(from_carol.id)]
    assert await listed(to="2026-01-10") == [str(to_carol.id)]
    assert await listed(kind="location") == []
    assert await listed(status="", direction="", contact="", to="") == [
        str(m.id) for m in (delivered, to_dave, from_carol, to_carol)
    ]
    page = await console.get("/console/messages", contact=CAROL, status="accepted")
    assert f'value="{CAROL}"' in page
    assert '<option value="accepted" selected>' in page


async def test_the_older_link_carries_the_cursor_and_the_filters(api: Api) -> None:
    sent = [await add_message(api, api.acme, at=T0 + timedelta(seconds=n), body=f"n{n}") for n in range(60)]
    await add_message(api, api.acme, contact=DAVE, at=T0 + timedelta(hours=1))
    console = await signed_in(api)

    first = await console.get("/console/messages", contact=CAROL)
    older = link_to(first, "Older")
    second = await console.get(older)

    newest_first = [str(m.id) for m in reversed(sent)]
    assert message_ids(first) == newest_first[:50]
    assert message_ids(second) == newest_first[50:]
    assert "contact=%2B14155550123" in older
    assert "cursor=" in older
    assert "Older" not in text_of(second)
    assert link_to(second, "Newest") == "/console/messages?contact=%2B14155550123"


async def test_the_failed_quick_filter_shows_failed_and_undelivered_messages_with_their_reason(
    api: Api,
) -> None:
    await add_message(api, api.acme, at=T0, status=MessageStatus.DELIVERED)
    failed = await add_message(api, api.acme, at=T0 + timedelta(minutes=1), failure=OPTED_OUT)
    undelivered = await add_message(api, api.acme, at=T0 + timedelta(minutes=2), body="undelivered one")
    await api.database.messages.attach_provider_sid(api.acme.tenant.id, undelivered.id, "SM-undelivered")
    await api.database.messages.advance_status(
        StatusChange(
            "SM-undelivered",
            MessageStatus.UNDELIVERED,
            63016,
            "outside the window",
            failure_code=FailureCode.SESSION_WINDOW_CLOSED,
        ),
        T0 + timedelta(minutes=3),
    )
    await add_message(api, api.globex, failure=OPTED_OUT)
    console = await signed_in(api)

    start = await console.get("/console/messages")
    page = await console.get(link_to(start, "Failed messages"))

    assert message_ids(page) == [str(undelivered.id), str(failed.id)]
    text = text_of(page)
    assert "the recipient has opted out of messages from this sender" in text
    assert "recipient-opted-out" in text
    assert "session-window-closed" in text
    assert "Undelivered" in text
    assert "Failed" in text


async def test_hostile_text_is_shown_as_text(api: Api) -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    message = await add_message(api, api.acme, body=hostile)
    console = await signed_in(api)

    for path in ("/console/messages", f"/console/messages/{message.id}"):
        page = await console.get(path)
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert "&lt;script&gt;" in page
        assert '<script>alert("x")</script>' in text_of(page)


@pytest.mark.parametrize(
    ("filters", "explanation", "status"),
    [
        ({"status": "lost"}, "The status is not one of the listed ones.", 422),
        ({"direction": "sideways"}, "The direction is not one of the listed ones.", 422),
        ({"from": "2026-13-45"}, "The from date is not a date (YYYY-MM-DD).", 422),
        ({"to": "yesterday"}, "The to date is not a date (YYYY-MM-DD).", 422),
        ({"from": "2026-02-02", "to": "2026-02-01"}, "The from date is after the to date.", 422),
        ({"failure_code": "bad-luck"}, "The failure reason is not one of the listed ones.", 422),
        ({"contact": "not a number"}, "'not a number' is not an international number", 422),
        ({"contact": "+1" * 40}, "The contact is too long to be a phone number.", 422),
        ({"cursor": "garbage"}, "The link to older messages is broken; start again from the newest.", 400),
    ],
)
async def test_a_bad_filter_is_explained_on_the_page(
    api: Api, filters: dict[str, str], explanation: str, status: int
) -> None:
    await add_message(api, api.acme, body="must not show")
    console = await signed_in(api)

    page = await console.get("/console/messages", expect=status, **filters)

    assert 'role="alert"' in page
    assert explanation in text_of(page)
    assert "must not show" not in page
    assert '<form method="get"' in page  # the form is there to correct it
    if "cursor" not in filters:  # an export starts from the newest message, whatever the page
        await console.get("/console/messages/export.csv", expect=status, **filters)


async def test_the_first_and_last_days_there_are_are_filters_like_any_other(api: Api) -> None:
    message = await add_message(api, api.acme)
    await signed_in(api)
    widest = {"from": "0001-01-01", "to": "9999-12-31"}

    everything = await api.client.get("/console/messages", params=widest)
    exported = await api.client.get("/console/messages/export.csv", params=widest)

    assert message_ids(everything.text) == [str(message.id)]
    assert str(message.id) in exported.text


async def test_a_bad_filter_is_explained_in_spanish_to_a_spanish_reader(api: Api) -> None:
    console = await signed_in(api)
    await console.get("/console/language/es", expect=303)

    page = await console.get("/console/messages", expect=422, status="lost")

    assert "El estado no es uno de los de la lista." in text_of(page)


# ------------------------------------------------------------------------------------------ one message


async def test_a_message_shows_its_text_timeline_and_failure(api: Api) -> None:
    message = await add_message(api, api.acme, body="line one\nline two", failure=OPTED_OUT)
    console = await signed_in(api)

    page = await console.get(f"/console/messages/{message.id}")

    text = text_of(page)
    assert "line one\nline two" in html.unescape(page)
    assert "Why it failed" in text
    assert "the recipient has opted out of messages from this sender" in text
    assert "21610" in text
    assert "Attempt to send to unsubscribed recipient" in text
    assert "Retry: send this message again" in text


async def test_a_redacted_message_says_its_content_was_removed_and_offers_no_retry(api: Api) -> None:
    sent = await add_message(api, api.acme, body="my address is …", failure=OPTED_OUT)
    redacted = replace(sent, content=MessageContent(redacted=True), redacted_at=T0 + timedelta(days=90))
    api.database.messages.put(redacted)
    console = await signed_in(api)

    history = text_of(await console.get("/console/messages"))
    page = text_of(await console.get(f"/console/messages/{sent.id}"))

    assert "Content removed" in history
    assert "The retention policy removed this message's content." in page
    assert "my address" not in history + page
    assert "Retry: send this message again" not in page


async def test_a_message_links_its_media_by_web_address_only(api: Api) -> None:
    message = Message.new_outbound(
        tenant_id=api.acme.tenant.id,
        sender=api.acme.sender.phone_number,
        contact=PhoneNumber.parse(CAROL),
        content=MessageContent(body="see", media_urls=("https://example.com/a.png?x=1&y=2",)),
        now=T0,
    )
    await api.database.messages.add(message)
    console = await signed_in(api)

    page = await console.get(f"/console/messages/{message.id}")

    assert 'href="https://example.com/a.png?x=1&amp;y=2"' in page


async def test_another_tenants_message_is_not_found(api: Api) -> None:
    theirs = await add_message(api, api.globex, body="globex secret", failure=OPTED_OUT)
    console = await signed_in(api, "alice")

    page = await console.get(f"/console/messages/{theirs.id}", expect=404)
    mine = await console.get("/console/messages")
    response = await api.client.post(
        f"/console/messages/{theirs.id}/retry", data={"_csrf_token": csrf_token_of(mine)}
    )

    assert "globex secret" not in page
    assert response.status_code == 404
    assert (await api.database.messages.get(api.globex.tenant.id, theirs.id)) == theirs


async def test_a_platform_admin_may_not_read_a_tenants_messages(api: Api) -> None:
    message = await add_message(api, api.acme)
    console = await signed_in(api, "root")

    for path in (
        "/console/messages",
        "/console/messages?failed=1",
        f"/console/messages/{message.id}",
        "/console/messages/export.csv",
        "/console/messages/export.ndjson",
    ):
        await console.get(path, expect=403)
    assert "/console/messages" not in await console.get("/console")


# ---------------------------------------------------------------------------------------------- retry


async def test_a_failed_message_is_retried_through_the_form(api: Api) -> None:
    failed = await add_message(api, api.acme, failure=OPTED_OUT)
    console = await signed_in(api)
    path = f"/console/messages/{failed.id}"

    response = await console.submit(f"{path}/retry", from_page=path)

    assert response.headers["location"] == f"{path}?done=retried"
    page = await console.get(response.headers["location"])
    assert "The message was queued to be sent again." in text_of(page)
    retried = await api.database.messages.get(api.acme.tenant.id, failed.id)
    assert retried is not None
    assert retried.status is MessageStatus.ACCEPTED
    assert "Retry: send this message again" not in text_of(page)


async def test_a_forged_retry_without_the_csrf_token_is_refused_and_changes_nothing(api: Api) -> None:
    failed = await add_message(api, api.acme, failure=OPTED_OUT)
    await signed_in(api)

    response = await api.client.post(f"/console/messages/{failed.id}/retry", data={})

    assert response.status_code == 403
    assert (await api.database.messages.get(api.acme.tenant.id, failed.id)) == failed


async def test_a_message_that_may_not_be_retried_says_why(api: Api) -> None:
    delivered = await add_message(api, api.acme, status=MessageStatus.DELIVERED)
    console = await signed_in(api)
    path = f"/console/messages/{delivered.id}"

    assert "Retry: send this message again" not in text_of(await console.get(path))
    response = await console.submit(f"{path}/retry", from_page=path, expect=409)

    text = text_of(response.text)
    assert "only failed outbound messages can be retried; this one is delivered" in text
    assert link_to(response.text, "Back to the message") == path
    assert (await api.database.messages.get(api.acme.tenant.id, delivered.id)) == delivered


# -------------------------------------------------------------------------------------------- exports


async def test_the_csv_export_holds_the_filtered_messages_with_a_header(api: Api) -> None:
    to_carol = await add_message(api, api.acme, contact=CAROL, at=T0, body="for carol")
    await add_message(api, api.acme, contact=DAVE, at=T0 + timedelta(minutes=1), body="for dave")
    failed = await add_message(api, api.acme, contact=CAROL, at=T0 + timedelta(minutes=2), failure=OPTED_OUT)
    await add_message(api, api.globex, contact=CAROL, body="globex secret")
    console = await signed_in(api)

    page = await console.get("/console/messages", contact=CAROL)
    response = await api.client.get(link_to(page, "CSV"))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert re.match(
        r'attachment; filename="messages-\d{8}T\d{4}Z\.csv"', response.headers["content-disposition"]
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["id"] for row in rows] == [str(failed.id), str(to_carol.id)]
    assert rows[1]["body"] == "for carol"
    assert rows[1]["to_number"] == "'" + CAROL  # a cell starting with + is written as text
    assert rows[0]["status"] == "failed"
    assert rows[0]["failure_code"] == "recipient-opted-out"
    assert rows[0]["failure_reason"] == "the recipient has opted out of messages from this sender"
    assert "globex secret" not in response.text


async def test_the_csv_export_neutralises_cells_a_spreadsheet_would_run(api: Api) -> None:
    bodies = [
        '=HYPERLINK("http://evil")',
        "+1+1",
        "-2",
        "@SUM(A1)",
        "\tx",
        "\rx",
        " =1+2",
        "\uff1d1+2",  # a full-width equals sign
        "plain = text",
    ]
    for n, body in enumerate(bodies):
        await add_message(api, api.acme, body=body, at=T0 + timedelta(seconds=n))
    await signed_in(api)

    response = await api.client.get("/console/messages/export.csv")

    exported = [row["body"] for row in csv.DictReader(io.StringIO(response.text, newline=""))]
    assert exported == ["plain = text", *(f"'{body}" for body in reversed(bodies[:-1]))]


async def test_the_ndjson_export_has_one_api_message_a_line(api: Api) -> None:
    failed = await add_message(api, api.acme, failure=OPTED_OUT, at=T0)
    await add_message(api, api.acme, at=T0 + timedelta(minutes=1), status=MessageStatus.DELIVERED)
    console = await signed_in(api)
    headers = await api.bearer("ana")

    page = await console.get("/console/messages", failed="1")
    response = await api.client.get(link_to(page, "NDJSON"))

    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert response.headers["content-disposition"].endswith('.ndjson"')
    lines = [json.loads(line) for line in response.text.splitlines()]
    from_api = (await api.client.get(f"/api/messages/{failed.id}", headers=headers)).json()
    del from_api["timeline"]
    assert lines == [from_api]


async def test_an_export_of_many_pages_is_complete_and_in_order(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(messages_page, "EXPORT_PAGE_SIZE", 7)
    sent = [await add_message(api, api.acme, at=T0 + timedelta(seconds=n), body=f"n{n}") for n in range(250)]
    await signed_in(api)
    newest_first = [str(m.id) for m in reversed(sent)]

    as_csv = await api.client.get("/console/messages/export.csv")
    as_ndjson = await api.client.get("/console/messages/export.ndjson")

    assert [row["id"] for row in csv.DictReader(io.StringIO(as_csv.text))] == newest_first
    assert [json.loads(line)["id"] for line in as_ndjson.text.splitlines()] == newest_first


async def test_an_export_with_nothing_to_export_is_a_header_or_nothing(api: Api) -> None:
    await signed_in(api)

    as_csv = await api.client.get("/console/messages/export.csv", params={"status": "read"})
    as_ndjson = await api.client.get("/console/messages/export.ndjson", params={"status": "read"})

    assert as_csv.text.splitlines() == [",".join(CSV_COLUMNS)]
    assert as_ndjson.text == ""
