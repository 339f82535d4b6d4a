"""The end-to-end scenario's Meta tenants: their WhatsApp Business Accounts at the Meta emulator, and
their provider accounts, senders and template at the gateway, set up as a tenant admin would.

Each Meta tenant is made like the Twilio ones (``bench.provision``: the tenant and its admin, through
the CLI); the rest goes through the API with the admin's token: a Meta provider account (its business
account id, access token, app secret and verify token), a sender on it (its phone-number id), and the
bench template, created at Meta and sent only once Meta approved it (the emulator reviews it and posts
the template status webhook to ``/webhooks/meta``). Every business account hangs off one app, as a
platform's tenants would: one app secret signs every webhook, one callback URL receives them.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench import processes
from bench.processes import WA_GATEWAY, Service, post_json

if TYPE_CHECKING:
    from bench.run import Gateway, Runner

APP_ID = "1000000000000099"
APP_SECRET = "bench-meta-app-secret"  # noqa: S105 - a throwaway app of the emulator
VERIFY_TOKEN = "bench-meta-verify-token"  # noqa: S105 - a throwaway app of the emulator
WEBHOOK_PATH = "/webhooks/meta"
# Meta's own pace between a message's statuses is its business; the Twilio emulator's default (500 ms
# between callbacks) keeps the two providers' messages comparable.
STATUS_STEP_S = 0.5
# Meta posts a webhook again when the receiver fails it (for days, less and less often): a few quick
# retries stand for that, so a status the gateway refused once (a 503 under load) is not lost.
WEBHOOK_RETRIES = 5
WEBHOOK_RETRY_DELAY_S = 2.0
TEMPLATE_REVIEW_S = 0.5  # the emulator reviews a new template this long after it is created
APPROVAL_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class MetaTenant:
    """One Meta tenant of the end-to-end scenario: its names at the gateway and its ids at Meta."""

    index: int

    @property
    def name(self) -> str:
        return f"bench-e2e-meta-{self.index:02d}"

    @property
    def username(self) -> str:
        return f"e2emeta{self.index:02d}"

    @property
    def waba_id(self) -> str:
        return f"20000000000{self.index:05d}"

    @property
    def phone_number_id(self) -> str:
        return f"30000000000{self.index:05d}"

    @property
    def phone_number(self) -> str:
        return f"+1415526{self.index:04d}"

    @property
    def access_token(self) -> str:
        return f"bench-meta-access-token-{self.index:02d}"


def meta_tenants(count: int) -> list[MetaTenant]:
    return [MetaTenant(index) for index in range(count)]


def emulator_config(
    tenants: list[MetaTenant], callback_url: str, latency_ms: float, callback_timeout_s: float
) -> dict[str, Any]:
    """The emulator's ``--config`` (emulators/meta/config.py's EmulatorConfig, as JSON): the app whose
    webhooks go to ``callback_url``, and each tenant's business account with one number and token."""
    return {
        "apps": {APP_ID: {"secret": APP_SECRET, "callback_url": callback_url, "verify_token": VERIFY_TOKEN}},
        "businesses": {
            tenant.waba_id: {
                "app_id": APP_ID,
                "phone_numbers": {
                    tenant.phone_number_id: {"display_phone_number": tenant.phone_number.removeprefix("+")}
                },
                "access_tokens": [tenant.access_token],
            }
            for tenant in tenants
        },
        # --config replaces every command-line setting, --latency-ms included: the latency goes here.
        "faults": {"latency_ms": latency_ms},
        # A slow answer is waited for (see end_to_end.CALLBACK_TIMEOUT_S), a failed one posted again.
        "webhooks": {
            "step_delay_seconds": STATUS_STEP_S,
            "timeout_seconds": callback_timeout_s,
            "retry_attempts": WEBHOOK_RETRIES,
            "retry_delay_seconds": WEBHOOK_RETRY_DELAY_S,
        },
        "template_review": {"review_seconds": TEMPLATE_REVIEW_S},
    }


def start_meta_emulator(
    runner: Runner, gateway: Gateway, tenants: list[MetaTenant], callback_timeout_s: float
) -> tuple[Service, str]:
    """`wa-gateway meta-emulator` at the address the gateway's META_GRAPH_API_BASE_URL names, posting
    its webhooks to the API's ``/webhooks/meta``; and its URL."""
    assert gateway.api is not None
    assert gateway.api.base_url is not None
    assert gateway.meta_api_url is not None
    config = emulator_config(
        tenants,
        f"{gateway.api.base_url}{WEBHOOK_PATH}",
        runner.options.provider_latency_ms,
        callback_timeout_s,
    )
    config_path = runner.log_dir / "meta-emulator.json"
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    port = urllib.parse.urlsplit(gateway.meta_api_url).port
    emulator = processes.start(
        "meta-emulator",
        [WA_GATEWAY, "meta-emulator", "--port", str(port), "--config", str(config_path)],
        gateway.env,
        runner.log_dir,
        health_url=f"{gateway.meta_api_url}/_emulator/health",
    )
    return emulator, gateway.meta_api_url


def connect_tenants(base: str, tenants: list[MetaTenant], tokens: list[str]) -> None:
    """Each tenant's Meta account, its sender and the bench template; back once Meta approved every
    tenant's template (a template waiting for approval cannot be sent)."""
    from bench.run import BENCH_TEMPLATE, create_template

    for tenant, token in zip(tenants, tokens, strict=True):
        account = post_json(
            f"{base}/api/provider-accounts",
            token,
            {
                "provider": "meta",
                "label": "Meta",
                "meta": {
                    "business_account_id": tenant.waba_id,
                    "access_token": tenant.access_token,
                    "app_secret": APP_SECRET,
                    "verify_token": VERIFY_TOKEN,
                },
            },
        )
        post_json(
            f"{base}/api/senders",
            token,
            {
                "phone_number": tenant.phone_number,
                "account_id": account["id"],
                "provider_number_id": tenant.phone_number_id,
            },
        )
        create_template(base, token, BENCH_TEMPLATE)
    deadline = time.monotonic() + APPROVAL_TIMEOUT_S
    waiting = list(tokens)
    while waiting:
        waiting = [token for token in waiting if not _template_approved(base, token, BENCH_TEMPLATE["name"])]
        if waiting and time.monotonic() > deadline:
            raise RuntimeError(
                f"Meta did not approve the bench template of {len(waiting)} tenant(s) "
                f"in {APPROVAL_TIMEOUT_S:.0f} s (see meta-emulator.log and gateway-api.log)"
            )
        if waiting:
            time.sleep(0.2)


def _template_approved(base: str, token: str, name: str) -> bool:
    page = _get(f"{base}/api/templates?name={urllib.parse.quote(name)}", token)
    listings = [listing for item in page["items"] for listing in item["listings"]]
    return bool(listings) and all(listing["status"] == "approved" for listing in listings)


def _get(url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": token})  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.load(response)
