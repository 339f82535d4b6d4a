"""Sending through the emulated Cloud API: every message type Meta takes, Meta's answer, its checks and
its error bodies, and marking a customer's message as read."""

from __future__ import annotations

import re
from typing import Any

import pytest

from emulators.meta import AuthKind, InboundMessage, RunningEmulator
from tests.support.meta_emulator import (
    CUSTOMER,
    CUSTOMER_WA_ID,
    DISPLAY_PHONE_NUMBER,
    EXPIRED_TOKEN,
    MEXICAN_NUMBER,
    MEXICAN_WA_ID,
    OTHER_PHONE_NUMBER_ID,
    OTHER_TOKEN,
    PHONE_NUMBER_ID,
    GraphAnswer,
    GraphClient,
)

WAMID = re.compile(r"wamid\.[A-Za-z0-9+/=]{40,}")
ENVELOPE = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER}

KINDS: dict[str, dict[str, Any]] = {
    "text": {"type": "text", "text": {"body": "Your order shipped", "preview_url": False}},
    "image": {"type": "image", "image": {"link": "https://cdn.example.com/a.jpg", "caption": "Look"}},
    "video": {"type": "video", "video": {"link": "https://cdn.example.com/a.mp4"}},
    "audio": {"type": "audio", "audio": {"link": "https://cdn.example.com/a.ogg"}},
    "document": {
        "type": "document",
        "document": {
            "link": "https://cdn.example.com/a.pdf",
            "filename": "invoice.pdf",
            "caption": "Invoice",
        },
    },
    "sticker": {"type": "sticker", "sticker": {"link": "https://cdn.example.com/a.webp"}},
    "template": {
        "type": "template",
        "template": {
            "name": "order_update",
            "language": {"code": "en_US"},
            "components": [
                {
                    "type": "header",
                    "parameters": [{"type": "image", "image": {"link": "https://e.com/h.png"}}],
                },
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "42"}],
                },
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "0",
                    "parameters": [{"type": "payload", "payload": "TRACK-42"}],
                },
            ],
        },
    },
    "reply buttons": {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "header": {"type": "text", "text": "Your order"},
            "body": {"text": "Change it?"},
            "footer": {"text": "Acme"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "change", "title": "Change"}},
                    {"type": "reply", "reply": {"id": "cancel", "title": "Cancel"}},
                    {"type": "reply", "reply": {"id": "keep", "title": "Keep"}},
                ]
            },
        },
    },
    "list": {
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": "Pick a slot"},
            "action": {
                "button": "Slots",
                "sections": [
                    {"title": "Morning", "rows": [{"id": "9", "title": "9:00", "description": "Early"}]},
                    {
                        "title": "Afternoon",
                        "rows": [{"id": "14", "title": "14:00"}, {"id": "16", "title": "16:00"}],
                    },
                ],
            },
        },
    },
    "cta_url": {
        "type": "interactive",
        "interactive": {
            "type": "cta_url",
            "body": {"text": "Track your parcel"},
            "action": {
                "name": "cta_url",
                "parameters": {"display_text": "Track", "url": "https://acme.example.com/t/42"},
            },
        },
    },
    "location": {
        "type": "location",
        "location": {"latitude": 37.4847, "longitude": -122.148, "name": "Acme HQ", "address": "1 Main St"},
    },
    "contacts": {
        "type": "contacts",
        "contacts": [
            {"name": {"formatted_name": "Ana Lima", "first_name": "Ana"}, "phones": [{"phone": "+1"}]}
        ],
    },
    "reaction": {"type": "reaction", "reaction": {"message_id": "wamid.HBgLMTQxNTU1NTAxMDA=", "emoji": "👍"}},
    "reply": {
        "type": "text",
        "text": {"body": "Yes"},
        "context": {"message_id": "wamid.HBgLMTQxNTU1NTAxMDA="},
    },
}


@pytest.mark.parametrize("kind", KINDS)
async def test_every_message_type_is_accepted_with_metas_answer(
    emulator: RunningEmulator, graph: GraphClient, kind: str
) -> None:
    body = {**ENVELOPE, **KINDS[kind]}

    answer = await graph.send(body)

    assert answer.status == 200, answer.body
    (sent,) = answer.body["messages"]
    assert answer.body["messaging_product"] == "whatsapp"
    assert answer.body["contacts"] == [{"input": CUSTOMER, "wa_id": CUSTOMER_WA_ID}]
    assert WAMID.fullmatch(sent["id"])
    message = emulator.state.messages[sent["id"]]
    assert message.request == body
    assert (message.type, message.wa_id, message.phone_number_id) == (
        body["type"],
        CUSTOMER_WA_ID,
        PHONE_NUMBER_ID,
    )
    assert emulator.state.requests[-1].outcome == "accepted"


async def test_only_a_template_send_answers_with_its_pacing_status(graph: GraphClient) -> None:
    template = await graph.send({**ENVELOPE, **KINDS["template"]})
    text = await graph.send_text()

    assert template.body["messages"][0]["message_status"] == "accepted"
    assert "message_status" not in text.body["messages"][0]


async def test_the_reply_context_and_opaque_data_are_kept(
    emulator: RunningEmulator, graph: GraphClient
) -> None:
    answer = await graph.send_text(context={"message_id": "wamid.ABC"}, biz_opaque_callback_data="x" * 512)

    message = emulator.state.messages[answer.body["messages"][0]["id"]]
    assert (message.context_message_id, message.biz_opaque_callback_data) == ("wamid.ABC", "x" * 512)


async def test_any_graph_api_version_or_none_is_served(graph: GraphClient) -> None:
    for version in ("v21.0", "v23.0", "v99.9", None):
        answer = await graph.call(
            "POST",
            f"/{PHONE_NUMBER_ID}/messages",
            json={**ENVELOPE, "type": "text", "text": {"body": "hi"}},
            version=version,
        )
        assert answer.status == 200, version


async def test_a_number_whatsapp_knows_by_another_id_answers_with_that_wa_id(graph: GraphClient) -> None:
    answer = await graph.send_text(to=MEXICAN_NUMBER)

    assert answer.body["contacts"] == [{"input": MEXICAN_NUMBER, "wa_id": MEXICAN_WA_ID}]


async def test_the_phone_number_describes_itself(graph: GraphClient) -> None:
    answer = await graph.call("GET", f"/{PHONE_NUMBER_ID}")

    assert answer.status == 200
    assert answer.body["display_phone_number"] == DISPLAY_PHONE_NUMBER
    assert answer.body["id"] == PHONE_NUMBER_ID


# -- authentication and unknown objects ---------------------------------------------------------------


def assert_graph_error(answer: GraphAnswer, status: int, code: int) -> dict[str, Any]:
    assert answer.status == status, answer.body
    error = answer.error
    assert error["code"] == code
    assert isinstance(error["fbtrace_id"], str)
    assert error["fbtrace_id"]
    assert answer.headers["x-fb-trace-id"]
    return error


@pytest.mark.parametrize("token", ["not-a-token", None])
async def test_a_wrong_or_missing_token_is_a_401_with_code_190(
    emulator: RunningEmulator, graph: GraphClient, token: str | None
) -> None:
    answer = await graph.send_text(token=token) if token else await graph.send({**ENVELOPE}, token=None)

    error = assert_graph_error(answer, 401, 190)
    assert error == {
        "message": "Invalid OAuth access token - Cannot parse access token",
        "type": "OAuthException",
        "code": 190,
        "fbtrace_id": error["fbtrace_id"],
    }
    assert answer.headers["WWW-Authenticate"].startswith("OAuth")
    assert emulator.state.messages == {}
    request = emulator.state.requests[-1]
    assert (request.outcome, request.auth.kind) == (
        "unauthorized",
        AuthKind.INVALID if token else AuthKind.MISSING,
    )


async def test_an_expired_token_is_190_with_subcode_463(
    emulator: RunningEmulator, graph: GraphClient
) -> None:
    answer = await graph.send_text(token=EXPIRED_TOKEN)

    error = assert_graph_error(answer, 401, 190)
    assert error["error_subcode"] == 463
    assert error["message"].startswith("Error validating access token: Session has expired")
    assert emulator.state.requests[-1].auth.kind is AuthKind.EXPIRED


@pytest.mark.parametrize(
    ("phone_number_id", "token"),
    [("9999999999999999", "access-token-of-acme"), (OTHER_PHONE_NUMBER_ID, "access-token-of-acme")],
    ids=["unknown-phone-number-id", "another-business-number"],
)
async def test_a_number_the_token_cannot_see_does_not_exist(
    emulator: RunningEmulator, graph: GraphClient, phone_number_id: str, token: str
) -> None:
    answer = await graph.send(
        {**ENVELOPE, "text": {"body": "x"}}, phone_number_id=phone_number_id, token=token
    )

    error = assert_graph_error(answer, 400, 100)
    assert error["error_subcode"] == 33
    assert error["type"] == "GraphMethodException"
    assert error["message"].startswith(
        f"Unsupported post request. Object with ID '{phone_number_id}' does not exist"
    )
    assert emulator.state.messages == {}


async def test_each_business_sends_from_its_own_number(graph: GraphClient) -> None:
    answer = await graph.send(
        {**ENVELOPE, "text": {"body": "x"}}, phone_number_id=OTHER_PHONE_NUMBER_ID, token=OTHER_TOKEN
    )

    assert answer.status == 200


# -- Meta's checks ----------------------------------------------------------------------------------------

LONG = "x" * 4097


@pytest.mark.parametrize(
    ("body", "code", "details"),
    [
        pytest.param(
            {"to": CUSTOMER, "text": {"body": "x"}}, 100, "messaging_product is required", id="no-product"
        ),
        pytest.param(
            {**ENVELOPE, "messaging_product": "sms", "text": {"body": "x"}}, 100, "WHATSAPP", id="product"
        ),
        pytest.param(
            {"messaging_product": "whatsapp", "text": {"body": "x"}}, 100, "to is required", id="no-to"
        ),
        pytest.param({**ENVELOPE, "to": "call me", "text": {"body": "x"}}, 131009, "'to'", id="bad-to"),
        pytest.param(
            {**ENVELOPE, "to": "+1 555 0100 01"[:3], "text": {"body": "x"}}, 131009, "'to'", id="short-to"
        ),
        pytest.param(
            {**ENVELOPE, "recipient_type": "group", "text": {"body": "x"}}, 100, "recipient_type", id="group"
        ),
        pytest.param({**ENVELOPE, "type": "carrier_pigeon"}, 100, "Param type", id="unknown-type"),
        pytest.param({**ENVELOPE, "type": "text"}, 131008, "'text' is required", id="no-text-object"),
        pytest.param({**ENVELOPE, "text": {"body": ""}}, 131009, "text[body]", id="empty-body"),
        pytest.param({**ENVELOPE, "text": {"body": LONG}}, 131009, "at most 4096", id="long-body"),
        pytest.param(
            {**ENVELOPE, "text": {"body": "x", "bold": True}}, 100, 'key "bold"', id="unexpected-key"
        ),
        pytest.param({**ENVELOPE, "text": "hello"}, 100, "JSON object", id="text-not-object"),
        pytest.param(
            {**ENVELOPE, "type": "image", "image": {"id": "1", "link": "https://e.com/a.png"}},
            100,
            "not both",
            id="media-id-and-link",
        ),
        pytest.param(
            {**ENVELOPE, "type": "image", "image": {}}, 131008, "image[id] or image[link]", id="no-media"
        ),
        pytest.param(
            {**ENVELOPE, "type": "image", "image": {"link": "ftp://e.com/a.png"}},
            131009,
            "URL",
            id="media-link",
        ),
        pytest.param(
            {**ENVELOPE, "type": "image", "image": {"id": "123456"}},
            131009,
            "media id",
            id="unknown-media-id",
        ),
        pytest.param(
            {**ENVELOPE, "type": "audio", "audio": {"link": "https://e.com/a.ogg", "caption": "x"}},
            100,
            'key "caption"',
            id="audio-caption",
        ),
        pytest.param(
            {**ENVELOPE, "type": "template", "template": {"language": {"code": "en_US"}}},
            131008,
            "template[name]",
            id="template-name",
        ),
        pytest.param(
            {**ENVELOPE, "type": "template", "template": {"name": "order_update"}},
            131008,
            "template[language]",
            id="template-language",
        ),
        pytest.param(
            {
                **ENVELOPE,
                "type": "interactive",
                "interactive": {
                    "type": "button",
                    "body": {"text": "?"},
                    "action": {
                        "buttons": [
                            {"type": "reply", "reply": {"id": str(i), "title": str(i)}} for i in range(4)
                        ]
                    },
                },
            },
            131009,
            "between 1 and 3",
            id="four-buttons",
        ),
        pytest.param(
            {
                **ENVELOPE,
                "type": "interactive",
                "interactive": {
                    "type": "button",
                    "body": {"text": "?"},
                    "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "x" * 21}}]},
                },
            },
            131009,
            "at most 20",
            id="long-button-title",
        ),
        pytest.param(
            {
                **ENVELOPE,
                "type": "interactive",
                "interactive": {"type": "button", "action": {"buttons": []}},
            },
            131008,
            "interactive[body]",
            id="button-without-body",
        ),
        pytest.param(
            {
                **ENVELOPE,
                "type": "interactive",
                "interactive": {
                    "type": "list",
                    "body": {"text": "?"},
                    "action": {
                        "button": "Pick",
                        "sections": [{"rows": [{"id": str(i), "title": str(i)} for i in range(11)]}],
                    },
                },
            },
            131009,
            "at most 10 rows",
            id="eleven-rows",
        ),
        pytest.param(
            {
                **ENVELOPE,
                "type": "interactive",
                "interactive": {"type": "list", "body": {"text": "?"}, "action": {"button": "Pick"}},
            },
            131008,
            "sections",
            id="list-without-sections",
        ),
        pytest.param(
            {
                **ENVELOPE,
                "type": "interactive",
                "interactive": {
                    "type": "cta_url",
                    "body": {"text": "?"},
                    "action": {
                        "name": "cta_url",
                        "parameters": {"display_text": "Go", "url": "javascript:x"},
                    },
                },
            },
            131009,
            "url",
            id="cta-url",
        ),
        pytest.param(
            {**ENVELOPE, "type": "location", "location": {"latitude": 91, "longitude": 0}},
            131009,
            "between -90 and 90",
            id="latitude",
        ),
        pytest.param(
            {**ENVELOPE, "type": "location", "location": {"latitude": 1}}, 131008, "longitude", id="lng"
        ),
        pytest.param({**ENVELOPE, "type": "contacts", "contacts": []}, 131009, "non-empty", id="no-contacts"),
        pytest.param(
            {**ENVELOPE, "type": "contacts", "contacts": [{"phones": []}]},
            131008,
            "[name]",
            id="contact-name",
        ),
        pytest.param(
            {**ENVELOPE, "type": "reaction", "reaction": {"emoji": "👍"}}, 131008, "message_id", id="reaction"
        ),
        pytest.param(
            {**ENVELOPE, "text": {"body": "x"}, "biz_opaque_callback_data": "x" * 513},
            100,
            "at most 512",
            id="opaque-data",
        ),
        pytest.param(
            {**ENVELOPE, "text": {"body": "x"}, "context": {"id": "wamid.x"}}, 100, "context", id="context"
        ),
        pytest.param(
            {**ENVELOPE, "to": DISPLAY_PHONE_NUMBER, "text": {"body": "x"}}, 131021, None, id="to-self"
        ),
    ],
)
async def test_a_send_meta_refuses_gets_metas_error_body(
    emulator: RunningEmulator, graph: GraphClient, body: dict[str, Any], code: int, details: str | None
) -> None:
    answer = await graph.send(body)

    error = assert_graph_error(answer, 400, code)
    assert set(error) == {"message", "type", "code", "error_data", "fbtrace_id"}
    assert error["type"] == "OAuthException"
    assert error["message"].startswith(f"(#{code}) ")
    assert error["error_data"]["messaging_product"] == "whatsapp"
    if details is not None:
        assert details in error["error_data"]["details"]
    assert emulator.state.messages == {}
    assert emulator.state.requests[-1].outcome == "rejected"


async def test_a_body_that_is_not_json_is_refused(graph: GraphClient) -> None:
    answer = await graph.call("POST", f"/{PHONE_NUMBER_ID}/messages", data=b"to=14155550100")

    assert_graph_error(answer, 400, 100)


async def test_unknown_top_level_parameters_are_ignored_as_the_graph_api_does(graph: GraphClient) -> None:
    answer = await graph.send_text(tracking="abc")

    assert answer.status == 200


# -- templates --------------------------------------------------------------------------------------------


def template(name: str, language: str = "en_US", parameters: int = 2) -> dict[str, Any]:
    body_parameters = [{"type": "text", "text": str(i)} for i in range(parameters)]
    return {
        **ENVELOPE,
        "type": "template",
        "template": {
            "name": name,
            "language": {"code": language},
            "components": [{"type": "body", "parameters": body_parameters}],
        },
    }


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param(template("no_such_template"), 404, 132001, id="unknown-name"),
        pytest.param(template("order_update", language="pt_BR"), 404, 132001, id="unknown-language"),
        pytest.param(template("order_update", parameters=1), 400, 132000, id="parameter-count"),
    ],
)
async def test_a_template_the_business_does_not_have_is_refused(
    graph: GraphClient, body: dict[str, Any], status: int, code: int
) -> None:
    assert_graph_error(await graph.send(body), status, code)


async def test_a_business_without_a_template_catalogue_may_send_any_template(graph: GraphClient) -> None:
    answer = await graph.send(
        template("anything_at_all"), phone_number_id=OTHER_PHONE_NUMBER_ID, token=OTHER_TOKEN
    )

    assert answer.status == 200


# -- mark as read -----------------------------------------------------------------------------------------


async def test_a_customers_message_is_marked_as_read_with_a_typing_indicator(
    emulator: RunningEmulator, graph: GraphClient
) -> None:
    delivery = await emulator.send_inbound(
        InboundMessage(from_=CUSTOMER, phone_number_id=PHONE_NUMBER_ID, text={"body": "Hi"})
    )
    (message_id,) = delivery.message_ids

    answer = await graph.send(
        {
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": message_id,
            "typing_indicator": {"type": "text"},
        }
    )

    assert (answer.status, answer.body) == (200, {"success": True})
    (read,) = emulator.state.reads
    assert (read.message_id, read.typing_indicator) == (message_id, "text")
    assert emulator.state.inbound[message_id].read
    assert emulator.state.messages == {}


async def test_marking_a_message_this_number_never_received_is_refused(graph: GraphClient) -> None:
    answer = await graph.send(
        {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.unknown"}
    )

    assert_graph_error(answer, 400, 100)
