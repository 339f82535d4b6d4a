"""The template catalogue in the console, through the real app with fakes behind it: the list with each
listing's status, a template's preview, the creation form, deletion and the sync, and who may do what."""

from __future__ import annotations

import pytest
from dependency_injector import providers

from domain.administration.tenancy import ProviderName
from domain.templates.catalogue import TemplateQuality, TemplateStatus
from tests.support.api import Api
from tests.support.console import ConsolePages, text_of
from tests.support.fakes import FakeUnitOfWork
from tests.support.template_providers import FakeTemplateProviders, add_meta, add_twilio
from tests.support.templates import INVOICE_READY, ORDER_UPDATE, SHIPPING_NOTICE, catalogue_template

VALID_FORM = {
    "name": "order_shipped",
    "language": "en_US",
    "category": "utility",
    "header_format": "text",
    "header_text": "Order {{1}}",
    "body": "Hi {{2}}, your order has shipped.",
    "footer": "Reply STOP to opt out",
    "button_1_kind": "url",
    "button_1_text": "Track",
    "button_1_value": "https://shop.example.com/t/{{3}}",
    "examples": "1=A-1001\n2=Ana\n\n3=A-1001\n",
}


@pytest.fixture
def fake_providers(api: Api) -> FakeTemplateProviders:
    """Every provider's template catalogue, in memory, behind the app's use cases."""
    fake = FakeTemplateProviders()
    api.container.template_providers.override(providers.Object(fake))
    return fake


async def console_of(api: Api, username: str) -> ConsolePages:
    console = ConsolePages(api.client)
    await console.sign_in(username)
    return console


async def catalogue_size(api: Api, headers: dict[str, str]) -> int:
    response = await api.client.get("/api/templates", headers=headers)
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


# ------------------------------------------------------------------------------------------ reading


async def test_the_catalogue_shows_each_accounts_status_with_the_rejection_reason(api: Api) -> None:
    uow = FakeUnitOfWork(api.database)
    twilio = await add_twilio(uow, api.clock, api.acme)
    await catalogue_template(
        uow,
        api.acme.tenant.id,
        ORDER_UPDATE,
        api.clock.now(),
        account_id=twilio.id,
        provider=ProviderName.TWILIO,
        status=TemplateStatus.REJECTED,
        reason="The body reads as promotional for a utility template",
    )
    await catalogue_template(uow, api.acme.tenant.id, SHIPPING_NOTICE, api.clock.now())
    await catalogue_template(uow, api.globex.tenant.id, INVOICE_READY, api.clock.now())
    ana = await console_of(api, "ana")

    page = text_of(await ana.get("/console/templates"))

    assert "order_update pt_BR" in page
    assert "Rejected Reason: The body reads as promotional for a utility template" in page
    assert f"Twilio · account {str(twilio.id)[:8]} Rejected" in page  # an agent reads no account's label
    assert "shipping_notice en" in page
    assert "Sandbox Approved" in page
    assert "invoice_ready" not in page  # globex's
    assert "Sync with providers" not in page  # an agent reads only


async def test_the_catalogue_filters_by_status_and_name_and_shows_quality(
    api: Api, fake_providers: FakeTemplateProviders
) -> None:
    uow = FakeUnitOfWork(api.database)
    meta = await add_meta(uow, api.clock, api.acme)
    for definition in (ORDER_UPDATE, SHIPPING_NOTICE):
        await catalogue_template(
            uow,
            api.acme.tenant.id,
            definition,
            api.clock.now(),
            account_id=meta.id,
            provider=ProviderName.META,
            status=TemplateStatus.PAUSED if definition is ORDER_UPDATE else TemplateStatus.APPROVED,
        )
    alice = await console_of(api, "alice")

    paused = text_of(await alice.get("/console/templates", status="paused"))
    named = text_of(await alice.get("/console/templates", name="shipping_notice"))

    assert "order_update" in paused
    assert "Meta · Meta Paused" in paused
    assert "shipping_notice" not in paused
    assert "shipping_notice" in named
    assert "order_update" not in named


async def test_a_template_page_shows_its_components_and_the_preview_renders_the_values(api: Api) -> None:
    template = await catalogue_template(
        FakeUnitOfWork(api.database), api.acme.tenant.id, SHIPPING_NOTICE, api.clock.now()
    )
    ana = await console_of(api, "ana")
    path = f"/console/templates/{template.id}"

    page = text_of(await ana.get(path))
    preview = text_of(
        await ana.get(path, preview="1", var_1="B-7", var_2="Rosa", var_3="June 1", var_4="B-7")
    )

    assert "Order {{1}}" in page
    assert "Hi {{2}}, your order ships on {{3}}." in page
    assert "Reply STOP to opt out" in page
    assert "https://example.com/track/{{4}}" in page
    assert "Delete this template" not in page  # an agent reads only
    assert "As the customer sees it Order B-7 Hi Rosa, your order ships on June 1." in preview
    assert "Track (https://example.com/track/B-7)" in preview


async def test_a_preview_missing_a_value_names_it_and_keeps_the_others(api: Api) -> None:
    template = await catalogue_template(
        FakeUnitOfWork(api.database), api.acme.tenant.id, SHIPPING_NOTICE, api.clock.now()
    )
    ana = await console_of(api, "ana")

    page = await ana.get(f"/console/templates/{template.id}", expect=422, preview="1", var_1="B-7")

    assert "variables.2" in text_of(page)
    assert 'value="B-7"' in page


async def test_another_tenants_template_is_not_found(api: Api) -> None:
    theirs = await catalogue_template(
        FakeUnitOfWork(api.database), api.globex.tenant.id, INVOICE_READY, api.clock.now()
    )
    alice = await console_of(api, "alice")

    await alice.get(f"/console/templates/{theirs.id}", expect=404)


# ------------------------------------------------------------------------------------------ changing


async def test_a_tenant_admin_creates_a_template_on_the_chosen_accounts(
    api: Api, fake_providers: FakeTemplateProviders
) -> None:
    uow = FakeUnitOfWork(api.database)
    twilio = await add_twilio(uow, api.clock, api.acme)
    meta = await add_meta(uow, api.clock, api.acme)
    alice = await console_of(api, "alice")
    form_page = await alice.get("/console/templates/new")
    assert "Twilio · Twilio" in text_of(form_page)
    assert "Meta · Meta" in text_of(form_page)

    response = await alice.submit(
        "/console/templates/new",
        {**VALID_FORM, "accounts": [str(twilio.id)]},
        from_page="/console/templates/new",
    )

    location = response.headers["location"]
    assert location.startswith("/console/templates/")
    assert location.endswith("?done=created")
    created = (
        await api.client.get(
            location.split("?")[0].replace("/console", "/api"), headers=await api.login(api.acme)
        )
    ).json()
    assert created["template"] == {
        "name": "order_shipped",
        "language": "en_US",
        "category": "utility",
        "header": {"format": "text", "text": "Order {{1}}"},
        "body": "Hi {{2}}, your order has shipped.",
        "footer": "Reply STOP to opt out",
        "buttons": [{"type": "url", "text": "Track", "url": "https://shop.example.com/t/{{3}}"}],
        "examples": {"1": "A-1001", "2": "Ana", "3": "A-1001"},
    }
    assert [(listing["provider"], listing["status"]) for listing in created["listings"]] == [
        ("twilio", "pending")
    ]
    assert fake_providers.names_at(twilio.id) == ["order_shipped"]
    assert fake_providers.names_at(meta.id) == []
    shown = text_of(await alice.get(location))
    assert "The template was created." in shown
    assert "Pending" in shown


async def test_an_invalid_template_shows_every_field_problem_keeps_the_values_and_changes_nothing(
    api: Api, fake_providers: FakeTemplateProviders
) -> None:
    alice = await console_of(api, "alice")
    admin = await api.login(api.acme)
    form = {
        **VALID_FORM,
        "name": "Order Shipped!",
        "language": "english",
        "body": "{{2}} your order has shipped",
        "footer": "Hi {{1}}",
        "button_1_value": "http://shop.example.com/t/{{3}}",
        "examples": "1=A-1001\nthis line has no equals sign",
        "accounts": ["sandbox"],
    }

    response = await alice.submit(
        "/console/templates/new", form, from_page="/console/templates/new", expect=422
    )

    page = text_of(response.text)
    assert "The template was not created." in page
    for field in ("name", "language", "body", "footer", "buttons[0].url", "examples"):
        assert f"{field} :" in page, field
    assert "line 2 is not written name=value" in page
    assert 'value="Order Shipped!"' in response.text
    assert "{{2}} your order has shipped</textarea>" in response.text
    assert 'aria-invalid="true"' in response.text
    assert await catalogue_size(api, admin) == 0
    assert fake_providers.calls == []


async def test_a_template_on_no_account_is_shown_again_with_the_reason(
    api: Api, fake_providers: FakeTemplateProviders
) -> None:
    alice = await console_of(api, "alice")

    response = await alice.submit(
        "/console/templates/new", VALID_FORM, from_page="/console/templates/new", expect=422
    )

    assert "at least one account" in text_of(response.text)
    assert await catalogue_size(api, await api.login(api.acme)) == 0


async def test_a_tenant_admin_deletes_a_template(api: Api, fake_providers: FakeTemplateProviders) -> None:
    template = await catalogue_template(
        FakeUnitOfWork(api.database), api.acme.tenant.id, SHIPPING_NOTICE, api.clock.now()
    )
    alice = await console_of(api, "alice")
    path = f"/console/templates/{template.id}"

    response = await alice.submit(f"{path}/delete", from_page=path)

    assert response.headers["location"] == "/console/templates?done=deleted"
    assert "The template was deleted" in text_of(await alice.get(response.headers["location"]))
    assert await catalogue_size(api, await api.login(api.acme)) == 0


async def test_syncing_brings_the_providers_decisions_and_says_so(
    api: Api, fake_providers: FakeTemplateProviders
) -> None:
    twilio = await add_twilio(FakeUnitOfWork(api.database), api.clock, api.acme)
    alice = await console_of(api, "alice")
    await alice.submit(
        "/console/templates/new",
        {**VALID_FORM, "accounts": [str(twilio.id)]},
        from_page="/console/templates/new",
    )
    fake_providers.decide(
        twilio.id,
        "order_shipped",
        TemplateStatus.REJECTED,
        reason="Looks like marketing",
        quality=TemplateQuality.LOW,
    )

    response = await alice.submit("/console/templates/sync", from_page="/console/templates")

    assert response.headers["location"] == "/console/templates?done=synced"
    page = text_of(await alice.get(response.headers["location"]))
    assert "The catalogue is in step with the providers." in page
    assert "Rejected Quality: Low Reason: Looks like marketing" in page


async def test_an_unreachable_provider_is_said_after_a_sync(
    api: Api, fake_providers: FakeTemplateProviders
) -> None:
    twilio = await add_twilio(FakeUnitOfWork(api.database), api.clock, api.acme)
    fake_providers.unavailable.add(twilio.id)
    alice = await console_of(api, "alice")

    response = await alice.submit("/console/templates/sync", from_page="/console/templates")

    assert "could not be reached" in text_of(await alice.get(response.headers["location"]))


# ------------------------------------------------------------------------------------------- access


async def test_an_agent_reads_but_cannot_create_delete_or_sync(
    api: Api, fake_providers: FakeTemplateProviders
) -> None:
    template = await catalogue_template(
        FakeUnitOfWork(api.database), api.acme.tenant.id, SHIPPING_NOTICE, api.clock.now()
    )
    ana = await console_of(api, "ana")
    path = f"/console/templates/{template.id}"

    await ana.get("/console/templates")
    await ana.get(path)
    await ana.get("/console/templates/new", expect=403)
    await ana.submit("/console/templates/new", VALID_FORM, from_page=path, expect=403)
    await ana.submit(f"{path}/delete", from_page=path, expect=403)
    await ana.submit("/console/templates/sync", from_page=path, expect=403)

    assert await catalogue_size(api, await api.login(api.acme)) == 1
    assert fake_providers.calls == []


async def test_a_platform_admin_has_no_templates(api: Api) -> None:
    root = await console_of(api, "root")

    await root.get("/console/templates", expect=403)
    assert "Templates" not in text_of(await root.get("/console"))


async def test_a_form_without_its_csrf_token_is_refused(
    api: Api, fake_providers: FakeTemplateProviders
) -> None:
    await console_of(api, "alice")

    response = await api.client.post("/console/templates/new", data=VALID_FORM, follow_redirects=False)

    assert response.status_code == 403
    assert await catalogue_size(api, await api.login(api.acme)) == 0


async def test_hostile_text_in_a_template_is_shown_as_text(api: Api) -> None:
    hostile = "<script>alert(1)</script>"
    uow = FakeUnitOfWork(api.database)
    twilio = await add_twilio(uow, api.clock, api.acme)
    template = await catalogue_template(
        uow,
        api.acme.tenant.id,
        SHIPPING_NOTICE,
        api.clock.now(),
        account_id=twilio.id,
        provider=ProviderName.TWILIO,
        status=TemplateStatus.REJECTED,
        reason=hostile,
    )
    alice = await console_of(api, "alice")

    for page in (
        await alice.get("/console/templates"),
        await alice.get(
            f"/console/templates/{template.id}", preview="1", var_1=hostile, var_2="a", var_3="b", var_4="c"
        ),
    ):
        assert hostile not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


async def test_the_catalogue_speaks_spanish(api: Api) -> None:
    uow = FakeUnitOfWork(api.database)
    await catalogue_template(uow, api.acme.tenant.id, SHIPPING_NOTICE, api.clock.now())
    alice = await console_of(api, "alice")
    await alice.client.get("/console/language/es", params={"next": "/console/templates"})

    page = text_of(await alice.get("/console/templates"))

    assert "Sincronizar con los proveedores" in page
    assert "Sandbox Aprobada" in page
