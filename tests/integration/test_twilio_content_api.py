"""TwilioTemplateProvider against the Twilio emulator's Content API, over real HTTP: templates created
and submitted for WhatsApp's approval, approved or rejected as the emulator's clock moves, found in the
account's list (those made in Twilio's console too), replaced, deleted, and every refusal or silence of
Twilio's in our words."""

from __future__ import annotations

import base64
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from adapters.twilio.provider import TwilioMessagingProvider
from adapters.twilio.templates import TwilioTemplateProvider
from application.ports.providers import OutboundRequest, OutcomeKind
from application.ports.templates import (
    RemoteTemplate,
    TemplateProviderRefused,
    TemplateProviderUnavailable,
)
from domain.administration.tenancy import (
    MetaCredentials,
    ProviderAccount,
    ProviderName,
    Tenant,
    TwilioCredentials,
)
from domain.messaging.messages import Message, MessageContent, Template
from domain.phone import PhoneNumber
from domain.templates.catalogue import TemplateStatus
from domain.templates.definition import (
    ButtonKind,
    HeaderFormat,
    TemplateButton,
    TemplateCategory,
    TemplateDefinition,
    TemplateHeader,
)
from emulators.twilio import (
    ApiKey,
    CallbackSettings,
    ContentReview,
    EmulatorConfig,
    RunningEmulator,
    running_emulator,
)
from tests.support.provider_accounts import twilio_account

ACCOUNT = "AC" + "4d" * 16
TOKEN = "the-tenants-auth-token"
KEY_SID = "SK" + "5e" * 16
KEY_SECRET = "the-tenants-api-key-secret"
OTHER_ACCOUNT = "AC" + "6f" * 16
OTHER_TOKEN = "another-tenants-auth-token"
SENDER = "+14155238886"
CUSTOMER = "+14155550100"
REVIEW_SECONDS = 600
NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)

CONFIG = EmulatorConfig(
    accounts={ACCOUNT: TOKEN, OTHER_ACCOUNT: OTHER_TOKEN},
    api_keys={KEY_SID: ApiKey(account_sid=ACCOUNT, secret=KEY_SECRET)},
    callbacks=CallbackSettings(step_delay_seconds=60),
    content_review=ContentReview(approval_delay_seconds=REVIEW_SECONDS, rejected_words=("guaranteed",)),
)

ACME = Tenant(name="acme", provider=ProviderName.TWILIO, created_at=NOW)
ACME_ACCOUNT = twilio_account(ACME, TwilioCredentials(account_sid=ACCOUNT, auth_token=TOKEN))
GLOBEX = Tenant(name="globex", provider=ProviderName.TWILIO, created_at=NOW)
GLOBEX_ACCOUNT = twilio_account(GLOBEX, TwilioCredentials(account_sid=OTHER_ACCOUNT, auth_token=OTHER_TOKEN))

ORDER_SHIPPED = TemplateDefinition(
    name="order_shipped",
    language="en",
    category=TemplateCategory.UTILITY,
    body="Hi {{1}}, order {{2}} has shipped.",
    examples=(("1", "Ana"), ("2", "A-1001")),
)


def definition(name: str = "order_shipped", **changes: Any) -> TemplateDefinition:
    fields = {
        "language": "en",
        "category": TemplateCategory.UTILITY,
        "body": ORDER_SHIPPED.body,
        "examples": ORDER_SHIPPED.examples,
        **changes,
    }
    return TemplateDefinition(name=name, **fields)


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with running_emulator(CONFIG) as running:
        yield running


@pytest.fixture
async def templates(emulator: RunningEmulator) -> AsyncIterator[TwilioTemplateProvider]:
    provider = TwilioTemplateProvider(timeout_seconds=2.0, api_base_url=emulator.base_url, page_size=2)
    try:
        yield provider
    finally:
        await provider.aclose()


@pytest.fixture
async def control(emulator: RunningEmulator) -> AsyncIterator[aiohttp.ClientSession]:
    """The emulator's control API, as a test (or a person at Twilio's console) drives it."""
    async with aiohttp.ClientSession(base_url=emulator.base_url, trust_env=False) as session:
        yield session


async def advance_clock(control: aiohttp.ClientSession, seconds: float) -> None:
    async with control.post("/_emulator/clock", json={"advance_seconds": seconds}) as response:
        assert response.status == 200, await response.text()


async def made_in_console(control: aiohttp.ClientSession, **command: Any) -> dict[str, Any]:
    async with control.post("/_emulator/content", json=command) as response:
        body: dict[str, Any] = await response.json()
        assert response.status == 201, body
        return body


def by_id(listed: list[RemoteTemplate]) -> dict[str, RemoteTemplate]:
    return {template.provider_template_id: template for template in listed}


# ------------------------------------------------------------------------------------ the lifecycle


async def test_a_created_template_is_pending_until_whatsapp_approves_it(
    emulator: RunningEmulator, templates: TwilioTemplateProvider, control: aiohttp.ClientSession
) -> None:
    created = await templates.create(ACME_ACCOUNT, ORDER_SHIPPED)

    assert created.status is TemplateStatus.PENDING
    assert created.provider_template_id.startswith("HX")
    assert (created.name, created.language, created.definition) == ("order_shipped", "en", ORDER_SHIPPED)
    content = emulator.state.contents[created.provider_template_id]
    assert content.account_sid == ACCOUNT
    assert content.types == {"twilio/text": {"body": "Hi {{1}}, order {{2}} has shipped."}}
    assert content.variables == {"1": "Ana", "2": "A-1001"}
    assert content.approval is not None
    assert (content.approval.name, content.approval.category) == ("order_shipped", "UTILITY")
    assert [template.status for template in await templates.list(ACME_ACCOUNT)] == [TemplateStatus.PENDING]

    await advance_clock(control, REVIEW_SECONDS)

    [listed] = await templates.list(ACME_ACCOUNT)
    assert (listed.provider_template_id, listed.status) == (
        created.provider_template_id,
        TemplateStatus.APPROVED,
    )
    assert listed.rejection_reason is None
    assert listed.definition == ORDER_SHIPPED


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        (definition("reject_order_shipped"), "The template does not comply with WhatsApp's Business Policy"),
        (
            definition(body="Returns are guaranteed, {{1}}, for order {{2}}."),
            "The template does not comply with WhatsApp's Business Policy: it contains 'guaranteed'",
        ),
    ],
    ids=["name", "word"],
)
async def test_a_rejected_template_carries_whatsapps_reason(
    templates: TwilioTemplateProvider,
    control: aiohttp.ClientSession,
    template: TemplateDefinition,
    reason: str,
) -> None:
    created = await templates.create(ACME_ACCOUNT, template)
    assert created.status is TemplateStatus.PENDING

    await advance_clock(control, REVIEW_SECONDS)

    [listed] = await templates.list(ACME_ACCOUNT)
    assert (listed.status, listed.rejection_reason) == (TemplateStatus.REJECTED, reason)


async def test_the_list_finds_templates_made_in_twilios_console_and_leaves_out_what_was_never_submitted(
    templates: TwilioTemplateProvider, control: aiohttp.ClientSession
) -> None:
    ours = await templates.create(ACME_ACCOUNT, ORDER_SHIPPED)
    console = await made_in_console(
        control,
        account_sid=ACCOUNT,
        friendly_name="Spring sale",
        language="es",
        variables={"1": "20"},
        types={
            "twilio/text": {"body": "Rebajas del {{1}} %"},
            "twilio/quick-reply": {"body": "Rebajas del {{1}} %", "actions": [{"title": "Ver", "id": "ver"}]},
        },
        approval={"name": "spring_sale", "category": "MARKETING", "status": "approved"},
    )
    await made_in_console(
        control,
        account_sid=ACCOUNT,
        friendly_name="SMS only",
        language="en",
        types={"twilio/text": {"body": "Never sent to WhatsApp"}},
    )
    await made_in_console(
        control,
        account_sid=ACCOUNT,
        friendly_name="Pick a slot",
        language="en",
        types={"twilio/list-picker": {"body": "Pick a slot", "button": "Slots", "items": []}},
        approval={"name": "pick_a_slot", "category": "UTILITY", "status": "approved"},
    )
    await made_in_console(
        control,
        account_sid=OTHER_ACCOUNT,
        friendly_name="Not yours",
        language="en",
        types={"twilio/text": {"body": "Globex's"}},
        approval={"name": "not_yours", "category": "UTILITY"},
    )

    listed = by_id(await templates.list(ACME_ACCOUNT))

    assert sorted(template.name for template in listed.values()) == [
        "order_shipped",
        "pick_a_slot",
        "spring_sale",
    ]
    assert listed[ours.provider_template_id].definition == ORDER_SHIPPED
    sale = listed[console["sid"]]
    assert (sale.name, sale.language, sale.status) == ("spring_sale", "es", TemplateStatus.APPROVED)
    assert sale.definition == TemplateDefinition(
        name="spring_sale",
        language="es",
        category=TemplateCategory.MARKETING,
        body="Rebajas del {{1}} %",
        buttons=(TemplateButton(ButtonKind.QUICK_REPLY, text="Ver"),),
        examples=(("1", "20"),),
    )
    [unreadable] = [template for template in listed.values() if template.name == "pick_a_slot"]
    assert unreadable.definition is None  # listed, in a shape the gateway cannot read


async def test_the_list_reads_every_page(
    emulator: RunningEmulator, templates: TwilioTemplateProvider
) -> None:
    created = {
        (await templates.create(ACME_ACCOUNT, definition(f"notice_{n}"))).provider_template_id
        for n in range(5)
    }

    listed = await templates.list(ACME_ACCOUNT)

    assert {template.provider_template_id for template in listed} == created
    pages = [r for r in emulator.state.requests if r.path == "/v1/ContentAndApprovals"]
    assert [r.query.get("Page", ["0"]) for r in pages] == [["0"], ["1"], ["2"]]
    assert all(r.query["PageSize"] == ["2"] for r in pages)


async def test_whatsapp_pausing_or_disabling_a_template_shows_in_the_list(
    templates: TwilioTemplateProvider, control: aiohttp.ClientSession
) -> None:
    paused = await templates.create(ACME_ACCOUNT, definition("weekly_digest"))
    disabled = await templates.create(ACME_ACCOUNT, definition("daily_digest"))
    for template, status in ((paused, "paused"), (disabled, "disabled")):
        path = f"/_emulator/content/{template.provider_template_id}/status"
        async with control.post(path, json={"status": status}) as response:
            assert response.status == 200, await response.text()

    listed = by_id(await templates.list(ACME_ACCOUNT))

    assert listed[paused.provider_template_id].status is TemplateStatus.PAUSED
    assert listed[disabled.provider_template_id].status is TemplateStatus.DISABLED


async def test_an_update_makes_a_new_content_resource_and_deletes_the_old_one(
    emulator: RunningEmulator, templates: TwilioTemplateProvider, control: aiohttp.ClientSession
) -> None:
    old = await templates.create(ACME_ACCOUNT, ORDER_SHIPPED)
    await advance_clock(control, REVIEW_SECONDS)
    changed = definition(body="Hello {{1}}, your order {{2}} is on its way.")

    new = await templates.update(ACME_ACCOUNT, old.provider_template_id, changed)

    assert new.provider_template_id != old.provider_template_id
    assert (new.status, new.definition) == (TemplateStatus.PENDING, changed)
    assert old.provider_template_id not in emulator.state.contents
    [listed] = await templates.list(ACME_ACCOUNT)
    assert (listed.provider_template_id, listed.definition) == (new.provider_template_id, changed)


async def test_a_deleted_template_is_gone_and_deleting_it_again_is_no_error(
    emulator: RunningEmulator, templates: TwilioTemplateProvider
) -> None:
    created = await templates.create(ACME_ACCOUNT, ORDER_SHIPPED)

    await templates.delete(ACME_ACCOUNT, created)
    await templates.delete(ACME_ACCOUNT, created)

    assert await templates.list(ACME_ACCOUNT) == []
    assert [r.http_status for r in emulator.state.requests if r.method == "DELETE"] == [204, 404]


async def test_a_message_may_name_a_content_sid_of_its_account_but_not_a_deleted_one(
    emulator: RunningEmulator, templates: TwilioTemplateProvider
) -> None:
    kept = await templates.create(ACME_ACCOUNT, ORDER_SHIPPED)
    deleted = await templates.create(ACME_ACCOUNT, definition("order_delayed"))
    await templates.delete(ACME_ACCOUNT, deleted)
    messages = TwilioMessagingProvider(timeout_seconds=2.0, api_base_url=emulator.base_url)
    try:
        sent = await messages.send(template_message(kept.provider_template_id))
        refused = await messages.send(template_message(deleted.provider_template_id))
    finally:
        await messages.aclose()

    assert sent.kind is OutcomeKind.ACCEPTED, sent
    assert (refused.kind, refused.error_code) == (OutcomeKind.REJECTED, 21655)


def template_message(content_sid: str) -> OutboundRequest:
    message = Message.new_outbound(
        tenant_id=ACME.id,
        sender=PhoneNumber.parse(SENDER),
        contact=PhoneNumber.parse(CUSTOMER),
        content=MessageContent(template=Template.of(content_sid, {"1": "Ana", "2": "A-1001"})),
        now=NOW,
    )
    return OutboundRequest(tenant=ACME, message=message, account=ACME_ACCOUNT)


async def test_an_api_key_reaches_its_accounts_templates_and_each_account_sees_only_its_own(
    templates: TwilioTemplateProvider,
) -> None:
    with_key = twilio_account(
        ACME,
        TwilioCredentials(
            account_sid=ACCOUNT, auth_token=TOKEN, api_key_sid=KEY_SID, api_key_secret=KEY_SECRET
        ),
    )
    created = await templates.create(with_key, ORDER_SHIPPED)

    assert [t.provider_template_id for t in await templates.list(ACME_ACCOUNT)] == [
        created.provider_template_id
    ]
    assert await templates.list(GLOBEX_ACCOUNT) == []
    await templates.delete(GLOBEX_ACCOUNT, created)  # not Globex's: nothing happens to it
    assert len(await templates.list(ACME_ACCOUNT)) == 1


# ------------------------------------------------------------------------------------------- round trips

ROUND_TRIPS: dict[str, TemplateDefinition] = {
    "twilio/text": ORDER_SHIPPED,
    "twilio/media": definition(
        header=TemplateHeader(HeaderFormat.VIDEO, example_url="https://cdn.example.com/unboxing.mp4")
    ),
    "twilio/quick-reply": definition(
        buttons=(
            TemplateButton(ButtonKind.QUICK_REPLY, text="Yes"),
            TemplateButton(ButtonKind.QUICK_REPLY, text="No"),
        )
    ),
    "twilio/call-to-action": definition(
        buttons=(
            TemplateButton(ButtonKind.URL, text="Track it", url="https://shop.example.com/track/{{3}}"),
            TemplateButton(ButtonKind.PHONE_NUMBER, text="Call us", phone_number="+14155550100"),
            TemplateButton(ButtonKind.COPY_CODE, text="Copy code", example="SAVE10"),
        ),
        examples=(("1", "Ana"), ("2", "A-1001"), ("3", "A-1001")),
    ),
    "whatsapp/card": definition(
        category=TemplateCategory.MARKETING,
        header=TemplateHeader(HeaderFormat.TEXT, text="Order {{1}}"),
        footer="Reply STOP to opt out",
        buttons=(
            TemplateButton(ButtonKind.QUICK_REPLY, text="Stop promotions"),
            TemplateButton(ButtonKind.URL, text="Shop", url="https://shop.example.com"),
        ),
    ),
    "whatsapp/card with media": definition(
        header=TemplateHeader(HeaderFormat.DOCUMENT, example_url="https://cdn.example.com/invoice.pdf"),
        buttons=(TemplateButton(ButtonKind.PHONE_NUMBER, text="Call us", phone_number="+14155550100"),),
    ),
}


@pytest.mark.parametrize(("content_type", "template"), list(ROUND_TRIPS.items()), ids=list(ROUND_TRIPS))
async def test_each_content_type_reads_back_as_the_definition_it_was_created_from(
    emulator: RunningEmulator,
    templates: TwilioTemplateProvider,
    content_type: str,
    template: TemplateDefinition,
) -> None:
    created = await templates.create(ACME_ACCOUNT, template)

    [listed] = await templates.list(ACME_ACCOUNT)

    assert listed.provider_template_id == created.provider_template_id
    assert listed.definition == template
    assert list(emulator.state.contents[created.provider_template_id].types) == [
        content_type.split(" ", 1)[0]
    ]


# ------------------------------------------------------------------------------------------- errors


async def test_twilios_refusal_is_refused_with_its_words_and_nothing_is_made(
    emulator: RunningEmulator, templates: TwilioTemplateProvider
) -> None:
    ftp = definition(buttons=(TemplateButton(ButtonKind.URL, text="Files", url="ftp://files.example.com"),))

    with pytest.raises(TemplateProviderRefused, match="a URL action's url is an http"):
        await templates.create(ACME_ACCOUNT, ftp)

    assert emulator.state.contents == {}


async def test_a_refused_approval_request_deletes_the_content_resource_it_was_for(
    emulator: RunningEmulator, templates: TwilioTemplateProvider
) -> None:
    without_samples = definition(examples=(("1", "Ana"),))

    with pytest.raises(TemplateProviderRefused, match="sample value is required"):
        await templates.create(ACME_ACCOUNT, without_samples)

    assert emulator.state.contents == {}
    assert [(r.method, r.http_status) for r in emulator.state.requests] == [
        ("POST", 201),
        ("POST", 400),
        ("DELETE", 204),
    ]


async def test_named_variables_are_refused_before_twilio_is_asked(
    emulator: RunningEmulator, templates: TwilioTemplateProvider
) -> None:
    named = definition(body="Hi {{first_name}}", examples=(("first_name", "Ana"),))

    with pytest.raises(TemplateProviderRefused, match="positional variables only"):
        await templates.create(ACME_ACCOUNT, named)

    assert emulator.state.requests == []


async def test_credentials_twilio_does_not_know_are_refused(templates: TwilioTemplateProvider) -> None:
    stranger = twilio_account(ACME, TwilioCredentials(account_sid="AC" + "00" * 16, auth_token="wrong-token"))

    with pytest.raises(TemplateProviderRefused, match="Twilio refused the account credentials"):
        await templates.list(stranger)


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, TemplateProviderRefused), (429, TemplateProviderUnavailable), (503, TemplateProviderUnavailable)],
)
async def test_an_error_status_is_a_refusal_or_a_try_again_later(
    emulator: RunningEmulator, templates: TwilioTemplateProvider, status: int, error: type[Exception]
) -> None:
    emulator.state.update_faults(content_error_status=status)

    with pytest.raises(error):
        await templates.create(ACME_ACCOUNT, ORDER_SHIPPED)
    with pytest.raises(error):
        await templates.list(ACME_ACCOUNT)


async def test_twilio_out_of_reach_is_a_try_again_later() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    templates = TwilioTemplateProvider(timeout_seconds=2.0, api_base_url=f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(TemplateProviderUnavailable, match="could not be reached"):
            await templates.list(ACME_ACCOUNT)
    finally:
        await templates.aclose()


async def test_a_template_of_another_providers_account_is_refused(templates: TwilioTemplateProvider) -> None:
    credentials = MetaCredentials(
        business_account_id="102290129340398",
        access_token="token",
        app_secret="secret",
        verify_token="verify",
    )
    meta_account = ProviderAccount(tenant_id=ACME.id, credentials=credentials, created_at=NOW, label="Meta")
    with pytest.raises(TemplateProviderRefused, match="not a Twilio one"):
        await templates.list(meta_account)


# ------------------------------------------------------------------------------ the emulator's wire


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


async def test_the_emulator_answers_in_twilios_shapes(
    templates: TwilioTemplateProvider, control: aiohttp.ClientSession
) -> None:
    created = await templates.create(ACME_ACCOUNT, ORDER_SHIPPED)
    sid = created.provider_template_id

    async with control.get(f"/v1/Content/{sid}/ApprovalRequests", headers=basic(ACCOUNT, TOKEN)) as response:
        approvals = await response.json()
    async with control.get("/v1/ContentAndApprovals", headers=basic(ACCOUNT, TOKEN)) as response:
        page = await response.json()
    async with control.get(f"/v1/Content/{sid}", headers=basic(ACCOUNT, TOKEN)) as response:
        content = await response.json()

    assert approvals["whatsapp"] | {"type": "whatsapp"} == {
        "type": "whatsapp",
        "name": "order_shipped",
        "category": "UTILITY",
        "content_type": "twilio/text",
        "status": "pending",
        "rejection_reason": "",
        "allow_category_change": True,
    }
    assert page["meta"]["key"] == "contents"
    assert page["meta"]["next_page_url"] is None
    [item] = page["contents"]
    assert item["approval_requests"]["status"] == "pending"
    assert content["sid"] == item["sid"] == sid
    assert content["links"]["approval_create"].endswith(f"/v1/Content/{sid}/ApprovalRequests/whatsapp")
    assert content["date_created"].endswith("Z")


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, 20003),
        (basic(ACCOUNT, "not-the-token"), 401, 20003),
        (basic(OTHER_ACCOUNT, OTHER_TOKEN), 404, 20404),
    ],
    ids=["none", "wrong-token", "another-account"],
)
async def test_the_emulator_keeps_each_accounts_content_to_itself(
    templates: TwilioTemplateProvider,
    control: aiohttp.ClientSession,
    headers: dict[str, str],
    status: int,
    code: int,
) -> None:
    created = await templates.create(ACME_ACCOUNT, ORDER_SHIPPED)

    async with control.get(f"/v1/Content/{created.provider_template_id}", headers=headers) as response:
        body = await response.json()

    assert (response.status, body["code"], body["status"]) == (status, code, status)


async def test_a_status_set_by_hand_must_be_one_of_twilios(
    templates: TwilioTemplateProvider, control: aiohttp.ClientSession
) -> None:
    created = await templates.create(ACME_ACCOUNT, ORDER_SHIPPED)
    path = f"/_emulator/content/{created.provider_template_id}/status"

    async with control.post(path, json={"status": "archived"}) as response:
        assert response.status == 400
        assert "archived" in (await response.json())["error"]
    async with control.post(
        path, json={"status": "rejected", "rejection_reason": "INVALID_FORMAT"}
    ) as response:
        assert response.status == 200

    [listed] = await templates.list(ACME_ACCOUNT)
    assert (listed.status, listed.rejection_reason) == (TemplateStatus.REJECTED, "INVALID_FORMAT")
