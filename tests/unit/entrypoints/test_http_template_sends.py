"""POST /api/send with a template of the catalogue, as a client sees it: what went out, the text the
customer saw in history, problems that name what is wrong, and the fallback on a closed window."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain.templates.catalogue import TemplateStatus
from tests.support.api import Api, ApiOptions, assert_problem
from tests.support.fakes import FakeUnitOfWork
from tests.support.templates import INVOICE_READY, ORDER_UPDATE, SHIPPING_NOTICE, catalogue_template

CUSTOMER = "+14155550123"
SHIPPING = {"name": "shipping_notice", "language": "en"}
SHIPPING_VALUES = {"1": "A-42", "2": "Ana", "3": "May 4", "4": "A-42"}


@pytest.fixture
def api_options() -> ApiOptions:
    return ApiOptions(session_window_check=frozenset({"acme"}), fixed_clock=True)


@pytest.fixture(autouse=True)
async def catalogue(api: Api) -> None:
    for definition in (ORDER_UPDATE, SHIPPING_NOTICE, INVOICE_READY):
        await catalogue_template(
            FakeUnitOfWork(api.database), api.acme.tenant.id, definition, api.clock.now()
        )


async def test_a_template_is_sent_and_history_shows_the_text_the_customer_saw(api: Api) -> None:
    headers = await api.login(api.acme)

    response = await api.send(
        headers, to_number=CUSTOMER, template={**SHIPPING, "variables": SHIPPING_VALUES}
    )

    assert response.status_code == 201, response.text
    sent = response.json()
    assert sent["kind"] == "template"
    assert sent["fallback_sent"] is False
    assert sent["template"] == {
        **SHIPPING,
        "variables": SHIPPING_VALUES,
        "rendered": "Order A-42\n\nHi Ana, your order ships on May 4.\n\nReply STOP to opt out",
    }
    shown = (await api.client.get(f"/api/messages/{sent['id']}", headers=headers)).json()
    assert shown["template"] == sent["template"]


async def test_a_media_header_is_given_by_url_and_shown_with_the_templates_kind(api: Api) -> None:
    headers = await api.login(api.acme)
    header_media = {"url": "https://example.com/files/A-42.pdf", "filename": "A-42.pdf"}

    response = await api.send(
        headers,
        to_number=CUSTOMER,
        template={
            "name": "invoice_ready",
            "language": "en",
            "variables": {"customer": "Ana"},
            "header_media": header_media,
        },
    )

    assert response.status_code == 201, response.text
    assert response.json()["template"]["header_media"] == {"type": "document", **header_media}


@pytest.mark.parametrize(
    ("template", "status", "problem_type", "field"),
    [
        ({**SHIPPING, "variables": {"1": "A-42"}}, 422, "invalid-template-values", "template.variables.2"),
        (
            {**SHIPPING, "variables": {**SHIPPING_VALUES, "promo": "x"}},
            422,
            "invalid-template-values",
            "template.variables.promo",
        ),
        ({"name": "welcome", "language": "en"}, 422, "unknown-template", None),
        ({**SHIPPING, "variables": {"1": 42}}, 400, "validation-failed", None),  # values are text
    ],
    ids=["missing variable", "extra variable", "not in the catalogue", "a number for a value"],
)
async def test_a_template_send_that_cannot_go_is_a_problem_and_stores_nothing(
    api: Api, template: dict[str, Any], status: int, problem_type: str, field: str | None
) -> None:
    headers = await api.login(api.acme)

    problem = assert_problem(
        await api.send(headers, to_number=CUSTOMER, template=template), status, problem_type
    )

    if field is not None:
        assert field in [error["field"] for error in problem["errors"]]
    assert api.database.messages.all() == []


async def test_a_template_awaiting_approval_is_refused_saying_so(api: Api) -> None:
    await catalogue_template(
        FakeUnitOfWork(api.database),
        api.acme.tenant.id,
        ORDER_UPDATE,
        api.clock.now(),
        status=TemplateStatus.PENDING,
    )
    headers = await api.login(api.acme)

    response = await api.send(
        headers,
        to_number=CUSTOMER,
        template={"name": "order_update", "language": "pt_BR", "variables": {"1": "Ana"}},
    )

    problem = assert_problem(response, 422, "template-not-approved")
    assert "waiting for the provider's approval" in problem["detail"]
    assert api.database.messages.all() == []


async def test_with_the_window_closed_the_fallback_goes_and_the_answer_says_so(api: Api) -> None:
    headers = await api.login(api.acme)
    fallback = {"name": "order_update", "language": "pt_BR", "variables": {"1": "Ana"}}

    refused = await api.send(headers, to_number=CUSTOMER, body="Your order is on its way")
    response = await api.send(
        headers, to_number=CUSTOMER, body="Your order is on its way", fallback_template=fallback
    )

    assert_problem(refused, 422, "session-window-closed")
    assert response.status_code == 201, response.text
    sent = response.json()
    assert (sent["fallback_sent"], sent["kind"], sent["body"]) == (True, "template", "")
    assert sent["template"]["rendered"] == "Olá Ana, seu pedido está a caminho."


async def test_with_the_window_open_the_message_goes_as_written(api: Api) -> None:
    await api.customer_writes(api.acme, CUSTOMER, timedelta(hours=2))
    headers = await api.login(api.acme)
    fallback = {"name": "order_update", "language": "pt_BR", "variables": {"1": "Ana"}}

    response = await api.send(
        headers, to_number=CUSTOMER, body="Your order is on its way", fallback_template=fallback
    )

    assert response.status_code == 201, response.text
    sent = response.json()
    assert (sent["fallback_sent"], sent["kind"], sent["body"]) == (
        False,
        "text",
        "Your order is on its way",
    )
