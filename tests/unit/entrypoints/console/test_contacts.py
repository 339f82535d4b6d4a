"""The contact book in the console, through the real app with fakes behind it: the list with its search
and tag filter, a contact with its consent, the edit form, opting out and back in, and (for tenant
admins) deleting, importing, exporting and a person's data handed over or erased."""

from __future__ import annotations

import json
import re
from typing import Any

from domain.consent.model import ConsentSource
from tests.support.api import Api
from tests.support.console import ConsolePages, csrf_token_of, text_of

ANA_NUMBER = "+5215512345678"
BEA_NUMBER = "+14155550123"


async def signed_in(api: Api, username: str) -> ConsolePages:
    console = ConsolePages(api.client)
    await console.sign_in(username)
    return console


async def add_contact(api: Api, username: str = "alice", **contact: Any) -> dict[str, Any]:
    response = await api.client.post("/api/contacts", json=contact, headers=await api.bearer(username))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def contact_over_api(api: Api, contact_id: str) -> dict[str, Any]:
    response = await api.client.get(f"/api/contacts/{contact_id}", headers=await api.bearer("alice"))
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def contact_ids(page: str) -> list[str]:
    return re.findall(r'href="/console/contacts/([0-9a-f-]{36})"', page)


# ------------------------------------------------------------------------------------------ the list


async def test_an_agent_finds_contacts_by_name_or_number_and_by_tag_and_no_other_tenants(api: Api) -> None:
    ana = await add_contact(api, phone_number=ANA_NUMBER, name="Ana Pérez", tags=["vip"])
    bea = await add_contact(api, phone_number=BEA_NUMBER, name="Bea")
    theirs = await add_contact(api, "bob", phone_number="+447911000111", name="Globex's Carol")
    console = await signed_in(api, "ana")

    everyone = await console.get("/console/contacts")
    by_name = await console.get("/console/contacts", q="Pérez")
    by_number = await console.get("/console/contacts", q="4155550123")
    by_tag = await console.get("/console/contacts", tag="vip")

    assert contact_ids(everyone) == [bea["id"], ana["id"]]  # newest first
    assert theirs["id"] not in everyone
    assert "Globex's Carol" not in text_of(everyone)
    assert contact_ids(by_name) == [ana["id"]]
    assert contact_ids(by_number) == [bea["id"]]
    assert contact_ids(by_tag) == [ana["id"]]
    assert 'value="vip"' in by_tag  # the filter is kept in the form
    assert "No contact matches this search." in text_of(await console.get("/console/contacts", q="nobody"))
    assert 'href="/console/contacts"' in everyone  # the navigation shows the section
    assert "Import a CSV file" not in text_of(everyone)  # an agent neither imports nor exports


async def test_the_next_page_link_carries_the_cursor_and_the_search(api: Api) -> None:
    for n in range(51):
        await add_contact(api, phone_number=f"+1415555{n:04d}", name=f"Customer {n}")
    console = await signed_in(api, "ana")

    first = await console.get("/console/contacts", q="Customer")
    found = re.search(r'href="(/console/contacts\?[^"]*cursor=[^"]*)" rel="next"', first)
    assert found is not None
    second = await console.get(found.group(1).replace("&amp;", "&"))

    assert len(contact_ids(first)) == 50
    assert "q=Customer" in found.group(1)
    assert len(contact_ids(second)) == 1
    assert not set(contact_ids(first)) & set(contact_ids(second))


# -------------------------------------------------------------------------------------- one contact


async def test_a_contact_page_shows_its_details_its_consent_and_a_link_to_its_messages(api: Api) -> None:
    contact = await add_contact(
        api,
        phone_number=ANA_NUMBER,
        name="Ana",
        tags=["vip", "wholesale"],
        attributes={"city": "Monterrey"},
        notes="Calls back after six",
    )
    console = await signed_in(api, "ana")

    page = await console.get(f"/console/contacts/{contact['id']}")
    text = text_of(page)

    assert "Ana" in text
    assert ANA_NUMBER in text
    assert "vip" in text
    assert "wholesale" in text
    assert "city Monterrey" in text
    assert "Calls back after six" in text
    assert "Never asked: the person may be messaged." in text
    assert f'href="/console/messages?contact=%2B{ANA_NUMBER[1:]}"' in page
    assert "Erase this person's data" not in text  # tenant admins only
    assert "Delete this contact" not in text


async def test_an_agent_opts_a_person_out_and_back_in_from_the_console(api: Api) -> None:
    contact = await add_contact(api, phone_number=ANA_NUMBER, name="Ana")
    console = await signed_in(api, "ana")
    path = f"/console/contacts/{contact['id']}"

    out = await console.submit(f"{path}/consent", {"state": "opted_out"}, from_page=path)
    opted_out = text_of(await console.get(out.headers["location"]))
    back = await console.submit(f"{path}/consent", {"state": "opted_in"}, from_page=path)
    opted_in = text_of(await console.get(back.headers["location"]))

    assert out.headers["location"] == f"{path}?done=opted-out"
    assert "The person is opted out" in opted_out
    assert "Opted out" in opted_out
    assert "Opted in Since" in opted_in
    assert "From: the console" in opted_in
    ledger = await api.client.get(f"/api/consent/{ANA_NUMBER}", headers=await api.bearer("alice"))
    changes = ledger.json()["recent_changes"]
    assert [(change["state"], change["source"]) for change in changes] == [
        ("opted_in", ConsentSource.CONSOLE.value),
        ("opted_out", ConsentSource.CONSOLE.value),
    ]


async def test_a_state_that_is_neither_is_refused_and_changes_nothing(api: Api) -> None:
    contact = await add_contact(api, phone_number=ANA_NUMBER)
    console = await signed_in(api, "ana")
    path = f"/console/contacts/{contact['id']}"

    await console.submit(f"{path}/consent", {"state": "maybe"}, from_page=path, expect=422)

    assert "Never asked" in text_of(await console.get(path))


async def test_the_edit_form_replaces_the_name_tags_attributes_and_notes(api: Api) -> None:
    contact = await add_contact(
        api, phone_number=ANA_NUMBER, name="Ana", tags=["old"], attributes={"city": "Monterrey"}
    )
    console = await signed_in(api, "ana")
    path = f"/console/contacts/{contact['id']}"

    response = await console.submit(
        path,
        {
            "name": "Ana Pérez",
            "tags": "vip, wholesale,",
            "attributes": "plan=gold\n\nteam = blue\n",
            "notes": "",
        },
        from_page=path,
    )

    assert response.headers["location"] == f"{path}?done=saved"
    changed = await contact_over_api(api, contact["id"])
    assert changed["name"] == "Ana Pérez"
    assert sorted(changed["tags"]) == ["vip", "wholesale"]
    assert changed["attributes"] == {"plan": "gold", "team": "blue"}
    assert changed["notes"] is None
    assert "The contact was saved." in text_of(await console.get(response.headers["location"]))


async def test_a_refused_edit_comes_back_with_the_problem_and_what_was_typed_and_changes_nothing(
    api: Api,
) -> None:
    contact = await add_contact(api, phone_number=ANA_NUMBER, name="Ana")
    console = await signed_in(api, "ana")
    path = f"/console/contacts/{contact['id']}"

    not_a_pair = await console.submit(
        path, {"name": "Ana María", "attributes": "city Monterrey"}, from_page=path, expect=422
    )
    too_long = await console.submit(path, {"name": "A" * 201}, from_page=path, expect=422)

    assert "attributes: line 1 is not written key=value" in text_of(not_a_pair.text)
    assert 'value="Ana María"' in not_a_pair.text
    assert "city Monterrey" in not_a_pair.text
    assert "name: is at most 200 characters" in text_of(too_long.text)
    assert (await contact_over_api(api, contact["id"]))["name"] == "Ana"


# ---------------------------------------------------------------------------------- tenant admins only


async def test_agents_may_not_delete_import_export_or_touch_a_persons_data(api: Api) -> None:
    contact = await add_contact(api, phone_number=ANA_NUMBER)
    console = await signed_in(api, "ana")
    path = f"/console/contacts/{contact['id']}"

    await console.submit(f"{path}/delete", from_page=path, expect=403)
    await console.submit(f"{path}/erase", from_page=path, expect=403)
    await console.get(f"{path}/erase", expect=403)
    await console.get(f"{path}/data.json", expect=403)
    await console.get("/console/contacts/import", expect=403)
    await console.get("/console/contacts/export.csv", expect=403)

    assert (await contact_over_api(api, contact["id"]))["id"] == contact["id"]


async def test_a_platform_admin_has_no_contacts(api: Api) -> None:
    root = await signed_in(api, "root")

    await root.get("/console/contacts", expect=403)
    assert 'href="/console/contacts"' not in await root.get("/console")


async def test_another_tenants_contact_is_not_found(api: Api) -> None:
    theirs = await add_contact(api, "bob", phone_number=ANA_NUMBER)
    console = await signed_in(api, "alice")

    await console.get(f"/console/contacts/{theirs['id']}", expect=404)


async def test_a_tenant_admin_deletes_a_contact(api: Api) -> None:
    contact = await add_contact(api, phone_number=ANA_NUMBER)
    console = await signed_in(api, "alice")
    path = f"/console/contacts/{contact['id']}"

    response = await console.submit(f"{path}/delete", from_page=path)

    assert response.headers["location"] == "/console/contacts?done=deleted"
    await console.get(path, expect=404)


async def test_a_form_without_its_csrf_token_is_refused(api: Api) -> None:
    contact = await add_contact(api, phone_number=ANA_NUMBER, name="Ana")
    await signed_in(api, "alice")
    path = f"/console/contacts/{contact['id']}"

    edit = await api.client.post(path, data={"name": "Forged"}, follow_redirects=False)
    delete = await api.client.post(f"{path}/delete", follow_redirects=False)

    assert (edit.status_code, delete.status_code) == (403, 403)
    assert (await contact_over_api(api, contact["id"]))["name"] == "Ana"


async def upload(console: ConsolePages, content: bytes, *, expect: int) -> str:
    token = csrf_token_of(await console.get("/console/contacts/import"))
    response = await console.client.post(
        "/console/contacts/import",
        data={"_csrf_token": token},
        files={"file": ("contacts.csv", content, "text/csv")},
        follow_redirects=False,
    )
    assert response.status_code == expect, response.text[:500]
    return str(response.text)


async def test_a_tenant_admin_imports_a_csv_file_and_reads_its_report(api: Api) -> None:
    await add_contact(api, phone_number=ANA_NUMBER, name="Ana")
    console = await signed_in(api, "alice")
    csv_file = (
        f"phone,name,tags\n{ANA_NUMBER},Ana Pérez,vip\n{BEA_NUMBER},Bea,\nnot a number,Nobody,\n"
    ).encode()

    report = text_of(await upload(console, csv_file, expect=200))

    assert "Rows read 3" in report
    assert "Contacts created 1" in report
    assert "Contacts updated 1" in report
    assert "Contacts unchanged 0" in report
    assert "Rows rejected 1" in report
    assert re.search(r"\b4 phone: ", report)  # the line and its reason
    listed = text_of(await console.get("/console/contacts"))
    assert "Ana Pérez" in listed
    assert "Bea" in listed


async def test_a_file_whose_header_is_wrong_is_refused_with_why_and_imports_nothing(api: Api) -> None:
    console = await signed_in(api, "alice")

    page = await upload(console, f"number,name\n{ANA_NUMBER},Ana\n".encode(), expect=422)

    assert "phone" in text_of(page)
    assert 'id="form-error"' in page
    assert "No contacts yet." in text_of(await console.get("/console/contacts"))


async def test_a_tenant_admin_exports_the_book_as_csv(api: Api) -> None:
    await add_contact(api, phone_number=ANA_NUMBER, name="Ana", attributes={"city": "Monterrey"})
    console = await signed_in(api, "alice")

    response = await console.client.get("/console/contacts/export.csv")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    header, row = response.text.splitlines()[:2]
    assert header.startswith("id,phone,identity,name")
    assert "attr.city" in header
    assert "Ana" in row
    assert "Monterrey" in row


async def test_a_tenant_admin_downloads_everything_held_then_erases_it_after_confirming(api: Api) -> None:
    contact = await add_contact(api, phone_number=ANA_NUMBER, name="Ana")
    admin = await api.login(api.acme)
    sent = await api.send(admin, to_number=ANA_NUMBER, body="Your order shipped")
    assert sent.status_code in (201, 202), sent.text
    console = await signed_in(api, "alice")
    path = f"/console/contacts/{contact['id']}"

    held = await console.client.get(f"{path}/data.json")
    confirmation = text_of(await console.get(f"{path}/erase"))
    erased = await console.submit(f"{path}/erase", from_page=f"{path}/erase", expect=200)

    assert held.status_code == 200
    assert "attachment" in held.headers["content-disposition"]
    assert [m["body"] for m in json.loads(held.text)["records"]["messages"]] == ["Your order shipped"]
    assert "It cannot be undone." in confirmation
    report = text_of(erased.text)
    assert "The person's data was erased." in report
    assert "messages 1" in report
    history = await api.client.get("/api/messages", headers=admin)
    assert history.json()["items"] == []


async def test_the_contacts_pages_speak_spanish(api: Api) -> None:
    contact = await add_contact(api, phone_number=ANA_NUMBER, name="Ana")
    console = await signed_in(api, "alice")
    api.client.cookies.set("wa_console_lang", "es")

    listed = text_of(await console.get("/console/contacts"))
    one = text_of(await console.get(f"/console/contacts/{contact['id']}"))

    assert "Contactos" in listed
    assert "Importar un archivo CSV" in listed
    assert "Nunca se ha preguntado" in one
    assert "Dar de baja" in one
