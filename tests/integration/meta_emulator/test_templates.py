"""Message templates on the emulator, as a Cloud API client sees them on the wire: created pending review,
checked as Meta checks them, listed page by page with the fields asked for, described, edited and deleted;
reviewed on the emulator's clock with signed template webhooks; made, paused and rated through the
control API; and sent only once approved, with their parameters."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from emulators.meta import RunningEmulator
from tests.support.meta_emulator import (
    CUSTOMER,
    OTHER_TOKEN,
    TOKEN,
    WABA_ID,
    GraphClient,
    WebhookReceiver,
)

TEMPLATES = f"/{WABA_ID}/message_templates"
ORDER_SHIPPED: dict[str, Any] = {
    "name": "order_shipped",
    "language": "en_US",
    "category": "UTILITY",
    "components": [
        {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}", "example": {"header_text": ["A-42"]}},
        {
            "type": "BODY",
            "text": "Hi {{1}}, it leaves with {{2}} today.",
            "example": {"body_text": [["Ana", "DHL"]]},
        },
        {
            "type": "BUTTONS",
            "buttons": [
                {
                    "type": "URL",
                    "text": "Track",
                    "url": "https://t.example.com/{{1}}",
                    "example": ["https://t.example.com/X1"],
                }
            ],
        },
    ],
}


def with_body(text: str, **fields: Any) -> dict[str, Any]:
    return {**ORDER_SHIPPED, "components": [{"type": "BODY", "text": text}], **fields}


async def test_a_created_template_is_pending_with_its_id_and_category(
    emulator: RunningEmulator, graph: GraphClient
) -> None:
    answer = await graph.call("POST", TEMPLATES, json=ORDER_SHIPPED)

    assert answer.status == 200
    assert answer.body == {"id": answer.body["id"], "status": "PENDING", "category": "UTILITY"}
    assert emulator.state.templates[answer.body["id"]].status == "PENDING"


async def test_the_same_name_and_language_twice_is_refused_as_meta_refuses_it(graph: GraphClient) -> None:
    await graph.call("POST", TEMPLATES, json=ORDER_SHIPPED)

    answer = await graph.call("POST", TEMPLATES, json=ORDER_SHIPPED)

    assert answer.status == 400
    assert answer.error["code"] == 100
    assert answer.error["error_subcode"] == 2388024
    assert answer.error["error_user_title"] == "Message template already exists"
    assert answer.error["is_transient"] is False
    assert (await graph.call("POST", TEMPLATES, json={**ORDER_SHIPPED, "language": "es"})).status == 200


@pytest.mark.parametrize(
    ("body", "title"),
    [
        ({**ORDER_SHIPPED, "name": "Order Shipped"}, "Invalid template name"),
        (with_body("Hi {{1}}, welcome aboard."), "Missing sample values"),
        (
            with_body("Your code is {{1}}", example=None),
            "Variables can't be at the start or end of the template",
        ),
        (with_body("Hi {{1}} and {{3}}."), "Variable parameters are not sequential"),
        (with_body("Hi {{first_name}}, hello."), "Invalid parameter format"),
        (
            {**ORDER_SHIPPED, "components": [{"type": "FOOTER", "text": "x"}]},
            "Message template body is missing",
        ),
    ],
    ids=["name", "no example", "variable at the end", "gap", "named in positional", "no body"],
)
async def test_a_template_meta_would_refuse_is_refused_with_a_title_for_its_author(
    emulator: RunningEmulator, graph: GraphClient, body: dict[str, Any], title: str
) -> None:
    answer = await graph.call("POST", TEMPLATES, json={k: v for k, v in body.items() if v is not None})

    assert answer.status == 400
    assert (answer.error["code"], answer.error["error_user_title"]) == (100, title)
    assert emulator.state.templates == {}


async def test_an_unknown_category_is_refused(graph: GraphClient) -> None:
    answer = await graph.call("POST", TEMPLATES, json={**ORDER_SHIPPED, "category": "SPAM"})

    assert (answer.status, answer.error["code"]) == (400, 100)


async def test_review_approves_once_the_clock_passes_and_posts_a_signed_webhook(
    emulator: RunningEmulator, graph: GraphClient, receiver: WebhookReceiver, http: aiohttp.ClientSession
) -> None:
    created = (await graph.call("POST", TEMPLATES, json=ORDER_SHIPPED)).body

    async with http.post(emulator.url("/_emulator/clock"), json={"advance_seconds": 5}) as response:
        clock = await response.json()

    (webhook,) = receiver.received
    assert webhook.signed_with()
    assert webhook.payload["entry"][0]["id"] == WABA_ID
    (change,) = webhook.payload["entry"][0]["changes"]
    assert change == {
        "field": "message_template_status_update",
        "value": {
            "event": "APPROVED",
            "message_template_id": int(created["id"]),
            "message_template_name": "order_shipped",
            "message_template_language": "en_US",
            "reason": "NONE",
            "message_template_category": "UTILITY",
        },
    }
    assert [w["template_events"] for w in clock["template_webhooks"]] == [[[created["id"], "APPROVED"]]]
    assert emulator.state.templates[created["id"]].status == "APPROVED"


async def test_review_also_comes_as_time_passes(
    emulator: RunningEmulator, graph: GraphClient, http: aiohttp.ClientSession
) -> None:
    async with http.patch(emulator.url("/_emulator/template_review"), json={"review_seconds": 0}) as response:
        assert (await response.json())["review_seconds"] == 0
    created = (await graph.call("POST", TEMPLATES, json=ORDER_SHIPPED)).body

    await emulator.state.settle()

    assert emulator.state.templates[created["id"]].status == "APPROVED"


@pytest.mark.parametrize(
    "body",
    [with_body("Please reject me."), {**ORDER_SHIPPED, "name": "reject_this_one"}],
    ids=["a word in the body", "the name's start"],
)
async def test_review_rejects_by_the_configured_rule_with_a_reason(
    emulator: RunningEmulator, graph: GraphClient, receiver: WebhookReceiver, body: dict[str, Any]
) -> None:
    created = (await graph.call("POST", TEMPLATES, json=body)).body

    await emulator.advance_clock(5)

    value = receiver.received[0].values()[0]
    assert (value["event"], value["reason"]) == ("REJECTED", "INVALID_FORMAT")
    assert "recommendation" in value["rejection_info"]
    listed = await graph.call("GET", f"/{created['id']}")
    assert (listed.body["status"], listed.body["rejected_reason"]) == ("REJECTED", "INVALID_FORMAT")


async def test_the_listing_gives_the_fields_asked_for_page_by_page(
    emulator: RunningEmulator, graph: GraphClient, http: aiohttp.ClientSession
) -> None:
    ids = [
        (await graph.call("POST", TEMPLATES, json=with_body(f"Notice {n}.", name=f"notice_{n}"))).body["id"]
        for n in range(3)
    ]

    first = await graph.call("GET", f"{TEMPLATES}?fields=name,status&limit=2")

    assert first.body["data"] == [
        {"name": "notice_0", "status": "PENDING", "id": ids[0]},
        {"name": "notice_1", "status": "PENDING", "id": ids[1]},
    ]
    after = first.body["paging"]["cursors"]["after"]
    assert "next" in first.body["paging"]
    async with http.get(first.body["paging"]["next"], headers={"Authorization": f"Bearer {TOKEN}"}) as page:
        followed = await page.json()
    second = await graph.call("GET", f"{TEMPLATES}?fields=name&limit=2&after={after}")
    assert followed["data"] == [{"name": "notice_2", "status": "PENDING", "id": ids[2]}]
    assert second.body["data"] == [{"name": "notice_2", "id": ids[2]}]
    assert "next" not in second.body["paging"]


async def test_an_edit_sends_a_template_back_to_review(emulator: RunningEmulator, graph: GraphClient) -> None:
    created = (await graph.call("POST", TEMPLATES, json=ORDER_SHIPPED)).body
    pending_edit = await graph.call(
        "POST", f"/{created['id']}", json={"components": ORDER_SHIPPED["components"]}
    )
    await emulator.advance_clock(5)

    edited = await graph.call(
        "POST", f"/{created['id']}", json={"components": [{"type": "BODY", "text": "Shipped."}]}
    )
    recategorised = await graph.call("POST", f"/{created['id']}", json={"category": "MARKETING"})

    assert pending_edit.error["error_user_title"] == "Message template can't be edited"
    assert edited.body == {"success": True}
    assert recategorised.error["error_user_title"] == "Message template can't be edited"
    template = emulator.state.templates[created["id"]]
    assert (template.status, template.body_text) == ("PENDING", "Shipped.")


async def test_a_delete_by_name_takes_every_language_and_the_template_is_gone(
    emulator: RunningEmulator, graph: GraphClient
) -> None:
    english = (await graph.call("POST", TEMPLATES, json=ORDER_SHIPPED)).body
    await graph.call("POST", TEMPLATES, json={**ORDER_SHIPPED, "language": "es"})

    deleted = await graph.call("DELETE", f"{TEMPLATES}?name=order_shipped")
    again = await graph.call("DELETE", f"{TEMPLATES}?name=order_shipped&hsm_id={english['id']}")
    described = await graph.call("GET", f"/{english['id']}")

    assert deleted.body == {"success": True}
    assert again.error["error_user_title"] == "Message template not found"
    assert (described.error["code"], described.error["error_subcode"]) == (100, 33)
    statuses = (await graph.call("GET", f"{TEMPLATES}?fields=status")).body["data"]
    assert [t["status"] for t in statuses] == ["PENDING_DELETION", "PENDING_DELETION"]


async def test_another_business_token_cannot_see_the_templates(graph: GraphClient) -> None:
    answer = await graph.call("GET", TEMPLATES, token=OTHER_TOKEN)

    assert (answer.status, answer.error["code"], answer.error["error_subcode"]) == (400, 100, 33)


async def test_the_console_makes_pauses_and_rates_templates_with_their_webhooks(
    emulator: RunningEmulator, receiver: WebhookReceiver, http: aiohttp.ClientSession
) -> None:
    console = {"waba_id": WABA_ID, **with_body("Made by hand.", name="by_hand")}
    async with http.post(emulator.url("/_emulator/templates"), json=console) as response:
        assert response.status == 201
        made = await response.json()
    assert made["status"] == "APPROVED"
    assert receiver.received == []

    async with http.post(
        emulator.url(f"/_emulator/templates/{made['id']}/status"), json={"event": "PAUSED"}
    ) as r:
        assert (await r.json())["template"]["status"] == "PAUSED"
    async with http.post(
        emulator.url(f"/_emulator/templates/{made['id']}/quality"), json={"score": "RED"}
    ) as r:
        assert (await r.json())["template"]["quality_score"]["score"] == "RED"
    async with http.post(
        emulator.url(f"/_emulator/templates/{made['id']}/status"), json={"event": "BOGUS"}
    ) as r:
        assert r.status == 400

    paused, rated = receiver.received
    assert paused.values()[0]["event"] == "PAUSED"
    assert (
        paused.payload["entry"][0]["changes"][0]["field"],
        rated.payload["entry"][0]["changes"][0]["field"],
    ) == (
        "message_template_status_update",
        "message_template_quality_update",
    )
    assert (rated.values()[0]["previous_quality_score"], rated.values()[0]["new_quality_score"]) == (
        "UNKNOWN",
        "RED",
    )


def send_body(**template: Any) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "template", "template": template}


ORDER_SHIPPED_PARAMETERS = [
    {"type": "header", "parameters": [{"type": "text", "text": "A-42"}]},
    {"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "DHL"}]},
    {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "X1"}]},
]


async def test_a_created_template_is_sent_only_once_approved_and_with_its_parameters(
    emulator: RunningEmulator, graph: GraphClient
) -> None:
    await graph.call("POST", TEMPLATES, json=ORDER_SHIPPED)
    language = {"code": "en_US"}
    in_review = await graph.send(
        send_body(name="order_shipped", language=language, components=ORDER_SHIPPED_PARAMETERS)
    )
    await emulator.advance_clock(5)

    sent = await graph.send(
        send_body(name="order_shipped", language=language, components=ORDER_SHIPPED_PARAMETERS)
    )
    short = await graph.send(
        send_body(name="order_shipped", language=language, components=ORDER_SHIPPED_PARAMETERS[:2])
    )

    assert in_review.error["code"] == 132001
    assert sent.status == 200
    assert short.error["code"] == 132000


async def test_a_deleted_template_cannot_be_sent(emulator: RunningEmulator, graph: GraphClient) -> None:
    await graph.call("POST", TEMPLATES, json=ORDER_SHIPPED)
    await emulator.advance_clock(5)
    await graph.call("DELETE", f"{TEMPLATES}?name=order_shipped")

    answer = await graph.send(
        send_body(name="order_shipped", language={"code": "en_US"}, components=ORDER_SHIPPED_PARAMETERS)
    )

    assert answer.error["code"] == 132001
