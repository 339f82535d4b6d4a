"""Meta's template webhooks (``message_template_status_update``, ``message_template_quality_update``) read
into updates of our catalogue, and the message webhook reader leaving them alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.meta.template_webhooks import template_updates, template_updates_of
from adapters.meta.webhooks import MetaOtherChange, parse_delivery
from application.ports.templates import TemplateStatusUpdate
from domain.administration.tenancy import ProviderName
from domain.templates.catalogue import TemplateQuality, TemplateStatus
from tests.support.meta import BUSINESS_ACCOUNT_ID

AT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
TEMPLATE_ID = 806312974732579


def status_change(event: str, reason: str | None = "NONE", **more: Any) -> dict[str, Any]:
    return {
        "field": "message_template_status_update",
        "value": {
            "event": event,
            "message_template_id": TEMPLATE_ID,
            "message_template_name": "order_shipped",
            "message_template_language": "en_US",
            "reason": reason,
            **more,
        },
    }


def quality_change(score: str) -> dict[str, Any]:
    return {
        "field": "message_template_quality_update",
        "value": {
            "previous_quality_score": "GREEN",
            "new_quality_score": score,
            "message_template_id": TEMPLATE_ID,
            "message_template_name": "order_shipped",
            "message_template_language": "en_US",
        },
    }


def delivery(*changes: dict[str, Any]) -> bytes:
    entry = {"id": BUSINESS_ACCOUNT_ID, "time": 1735787045, "changes": list(changes)}
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


def update(**fields: Any) -> TemplateStatusUpdate:
    base: dict[str, Any] = {
        "provider": ProviderName.META,
        "business_account_id": BUSINESS_ACCOUNT_ID,
        "provider_template_id": str(TEMPLATE_ID),
        "name": "order_shipped",
        "language": "en_US",
        "status": None,
        "reason": None,
        "quality": None,
        "at": AT,
    }
    return TemplateStatusUpdate(**(base | fields))


def test_an_approval_names_the_template_by_its_id_under_its_business_account() -> None:
    assert template_updates_of(delivery(status_change("APPROVED")), at=AT) == [
        update(status=TemplateStatus.APPROVED)
    ]


def test_a_rejection_carries_metas_reason() -> None:
    (rejected,) = template_updates_of(delivery(status_change("REJECTED", "INVALID_FORMAT")), at=AT)

    assert rejected == update(status=TemplateStatus.REJECTED, reason="INVALID_FORMAT")


@pytest.mark.parametrize(
    ("event", "status"),
    [
        ("PENDING", TemplateStatus.PENDING),
        ("IN_APPEAL", TemplateStatus.PENDING),
        ("PAUSED", TemplateStatus.PAUSED),
        ("DISABLED", TemplateStatus.DISABLED),
        ("REINSTATED", TemplateStatus.APPROVED),
    ],
)
def test_each_status_event_in_our_words(event: str, status: TemplateStatus) -> None:
    (read,) = template_updates_of(delivery(status_change(event)), at=AT)

    assert read.status is status


def test_a_flag_changes_no_status_and_says_the_quality_went_low() -> None:
    (flagged,) = template_updates_of(delivery(status_change("FLAGGED")), at=AT)

    assert (flagged.status, flagged.quality) == (None, TemplateQuality.LOW)


@pytest.mark.parametrize(
    ("score", "quality"),
    [
        ("GREEN", TemplateQuality.HIGH),
        ("YELLOW", TemplateQuality.MEDIUM),
        ("RED", TemplateQuality.LOW),
        ("UNKNOWN", TemplateQuality.UNKNOWN),
    ],
)
def test_a_quality_update_changes_the_quality_alone(score: str, quality: TemplateQuality) -> None:
    assert template_updates_of(delivery(quality_change(score)), at=AT) == [update(quality=quality)]


@pytest.mark.parametrize("event", ["PENDING_DELETION", "DELETED", "LOCKED", "SOMETHING_NEW"])
def test_events_that_say_nothing_the_catalogue_keeps_are_left_alone(event: str) -> None:
    assert template_updates_of(delivery(status_change(event)), at=AT) == []


def test_a_malformed_change_is_left_out_and_the_rest_kept() -> None:
    no_id = status_change("APPROVED")
    del no_id["value"]["message_template_id"]
    no_score = quality_change("PURPLE")

    updates = template_updates_of(delivery(no_id, no_score, status_change("PAUSED")), at=AT)

    assert updates == [update(status=TemplateStatus.PAUSED)]


def test_a_template_id_given_as_text_is_read_as_well() -> None:
    change = status_change("APPROVED")
    change["value"]["message_template_id"] = str(TEMPLATE_ID)

    assert template_updates_of(delivery(change), at=AT) == [update(status=TemplateStatus.APPROVED)]


def test_changes_of_other_fields_are_not_template_updates() -> None:
    other = MetaOtherChange(BUSINESS_ACCOUNT_ID, "phone_number_quality_update", {"event": "FLAGGED"})

    assert template_updates([other], at=AT) == []


def test_the_message_reader_leaves_template_changes_for_this_reader() -> None:
    body = delivery(status_change("APPROVED"), quality_change("RED"))

    read = parse_delivery(body)

    assert read.changes == ()
    assert [change.field for change in read.other_changes] == [
        "message_template_status_update",
        "message_template_quality_update",
    ]
    assert len(template_updates(read.other_changes, at=AT)) == 2
