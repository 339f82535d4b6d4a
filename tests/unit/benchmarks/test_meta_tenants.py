"""The end-to-end scenario's Meta side: how many tenants are Meta's, the Meta emulator's configuration
for them, the sends that reach each provider, and the report's counts by provider."""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
import pytest

from bench import report
from bench.end_to_end import TEMPLATE_SID, template_sends, twilio_tenant_count
from bench.meta_tenants import APP_ID, APP_SECRET, VERIFY_TOKEN, emulator_config, meta_tenants
from bench.run import BENCH_TEMPLATE, parse_options
from emulators.meta import EmulatorConfig


def test_half_the_end_to_end_tenants_are_on_meta_by_default() -> None:
    options = parse_options(["--quick", "--e2e-tenants", "16"])

    assert options.e2e_meta_tenants == 8
    assert twilio_tenant_count(options) == 8


def test_no_meta_tenant_keeps_every_end_to_end_tenant_on_twilio() -> None:
    options = parse_options(["--quick", "--e2e-tenants", "4", "--e2e-meta-tenants", "0"])

    assert twilio_tenant_count(options) == 4


@pytest.mark.parametrize("meta", ["4", "-1"])
def test_at_least_one_end_to_end_tenant_stays_on_twilio(meta: str) -> None:
    with pytest.raises(SystemExit):
        parse_options(["--e2e-tenants", "4", "--e2e-meta-tenants", meta])


def test_each_meta_tenant_has_its_own_business_account_number_and_token() -> None:
    tenants = meta_tenants(12)

    for ids in (
        [t.name for t in tenants],
        [t.username for t in tenants],
        [t.waba_id for t in tenants],
        [t.phone_number_id for t in tenants],
        [t.phone_number for t in tenants],
        [t.access_token for t in tenants],
    ):
        assert len(set(ids)) == 12
    assert all(len(t.phone_number_id) == 16 and t.phone_number_id.isdigit() for t in tenants)


def test_the_emulator_configuration_is_the_meta_emulators_own_schema() -> None:
    tenants = meta_tenants(3)
    document = emulator_config(tenants, "http://127.0.0.1:8000/webhooks/meta", 200.0, 600.0)

    config = msgspec.json.decode(json.dumps(document), type=EmulatorConfig)

    app = config.apps[APP_ID]
    assert (app.secret, app.verify_token, app.callback_url) == (
        APP_SECRET,
        VERIFY_TOKEN,
        "http://127.0.0.1:8000/webhooks/meta",
    )
    assert config.faults.latency_ms == 200.0
    assert config.webhooks.timeout_seconds == 600.0
    assert config.webhooks.retry_attempts > 0  # as Meta, a failed status webhook is posted again
    assert config.webhooks.statuses[-1] == "read"  # what the pipeline waits for
    for tenant in tenants:
        business = config.businesses[tenant.waba_id]
        assert business.access_tokens == (tenant.access_token,)
        number = business.phone_numbers[tenant.phone_number_id]
        assert "+" + number.display_phone_number == tenant.phone_number


def lua_values(prelude: str) -> dict[str, Any]:
    """The prelude's ``local NAME = VALUE`` lines: string literals (JSON-compatible here) decoded, a
    list as its strings, anything else as written."""
    values: dict[str, Any] = {}
    for name, value in re.findall(r"^local (\w+) = (.*?)$(?=\nlocal |\Z)", prelude, re.MULTILINE | re.DOTALL):
        if value.startswith("{"):
            values[name] = [json.loads(item) for item in re.findall(r'"(?:[^"\\]|\\.)*"', value)]
        elif value.startswith('"'):
            values[name] = json.loads(value)
        else:
            values[name] = value
    return values


def test_twilio_tenants_send_by_content_sid_and_meta_tenants_by_template_name() -> None:
    send = template_sends(["Bearer twilio-1", "Bearer twilio-2"], ["Bearer meta-1"])

    values = lua_values(send.lua_prelude)
    assert values["tokens"] == ["Bearer twilio-1", "Bearer twilio-2", "Bearer meta-1"]
    assert values["twilio_tenants"] == "2"
    twilio_body = json.loads(values["twilio_body"].replace("%04d", "0001").replace("%d", "7"))
    meta_body = json.loads(values["meta_body"].replace("%04d", "0001").replace("%d", "7"))
    assert twilio_body == {
        "to_number": "+14155570001",
        "content_sid": TEMPLATE_SID,
        "content_variables": {"1": "7"},
    }
    assert meta_body == {
        "to_number": "+14155570001",
        "template": {
            "name": BENCH_TEMPLATE["name"],
            "language": BENCH_TEMPLATE["language"],
            "variables": {"1": "Ana", "2": "A-7"},
        },
    }
    assert "index <= twilio_tenants and twilio_body or meta_body" in send.lua_request


def test_without_meta_tenants_every_send_is_by_content_sid() -> None:
    values = lua_values(template_sends(["Bearer twilio-1"]).lua_prelude)

    assert (values["tokens"], values["twilio_tenants"]) == (["Bearer twilio-1"], "1")


def test_the_report_counts_the_messages_done_by_provider() -> None:
    by_provider = {
        "twilio": {"accepted": 500, "handed_over": 500, "read": 500},
        "meta": {"accepted": 502, "handed_over": 502, "read": 498},
    }

    assert report.provider_counts(by_provider, callbacks=True) == "twilio 500/500 read, meta 498/502 read"
    assert report.provider_counts({"twilio": by_provider["twilio"]}, callbacks=False) == (
        "twilio 500/500 handed over"
    )
