"""The contact book through the real Litestar app: its routes, their problems, CSV in and out."""

from __future__ import annotations

import csv
import io

from tests.support.api import Api, assert_problem

CSV = {"Content-Type": "text/csv"}


async def test_a_contact_is_created_read_changed_and_deleted(api: Api) -> None:
    admin = await api.login(api.acme)
    created = await api.client.post(
        "/api/contacts",
        json={"phone_number": "+5215512345678", "name": "Ana", "attributes": {"city": "Monterrey"}},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    contact = created.json()
    assert created.headers["location"] == f"/api/contacts/{contact['id']}"
    assert (contact["identity"], contact["phone_number"], contact["tags"]) == (
        "+525512345678",
        "+5215512345678",
        [],
    )

    changed = await api.client.patch(
        f"/api/contacts/{contact['id']}",
        json={"attributes": {"city": None, "plan": "gold"}, "tags": ["vip"], "notes": "Calls back"},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["attributes"] == {"plan": "gold"}
    assert (changed.json()["tags"], changed.json()["notes"], changed.json()["name"]) == (
        ["vip"],
        "Calls back",
        "Ana",
    )

    replaced = await api.client.patch(
        f"/api/contacts/{contact['id']}",
        json={"attributes": {"team": "blue"}, "attributes_mode": "replace", "name": None},
        headers=admin,
    )
    assert (replaced.json()["attributes"], replaced.json()["name"]) == ({"team": "blue"}, None)

    fetched = await api.client.get(f"/api/contacts/{contact['id']}", headers=admin)
    assert fetched.json() == replaced.json()

    deleted = await api.client.delete(f"/api/contacts/{contact['id']}", headers=admin)
    assert deleted.status_code == 204
    gone = await api.client.get(f"/api/contacts/{contact['id']}", headers=admin)
    assert_problem(gone, 404, "not-found")


async def test_a_contact_breaking_the_rules_is_a_422_naming_each_field(api: Api) -> None:
    admin = await api.login(api.acme)

    response = await api.client.post(
        "/api/contacts",
        json={"phone_number": "12345", "attributes": {"City": "x"}, "tags": ["Not A Slug"]},
        headers=admin,
    )

    problem = assert_problem(response, 422, "invalid-contact")
    assert [error["field"] for error in problem["errors"]] == ["phone_number", "attributes.City", "tags"]
    assert api.database.contacts.all() == []


async def test_a_second_contact_of_the_same_person_is_a_409(api: Api) -> None:
    admin = await api.login(api.acme)
    await api.client.post("/api/contacts", json={"phone_number": "+525512345678"}, headers=admin)

    response = await api.client.post("/api/contacts", json={"phone_number": "+5215512345678"}, headers=admin)

    assert_problem(response, 409, "conflict")


async def test_the_list_searches_filters_and_pages(api: Api) -> None:
    admin = await api.login(api.acme)
    for n, (name, tags, city) in enumerate(
        [("Ana", ["vip"], "Monterrey"), ("Bea", ["vip", "news"], "Berlin"), ("Carla", [], "Berlin")]
    ):
        response = await api.client.post(
            "/api/contacts",
            json={
                "phone_number": f"+4915112345{n:03d}",
                "name": name,
                "tags": tags,
                "attributes": {"city": city},
            },
            headers=admin,
        )
        assert response.status_code == 201, response.text

    async def names(query: str) -> list[str]:
        response = await api.client.get(f"/api/contacts?{query}", headers=admin)
        assert response.status_code == 200, response.text
        return sorted(item["name"] for item in response.json()["items"])

    assert await names("q=bE") == ["Bea"]
    assert await names("tag=vip") == ["Ana", "Bea"]
    assert await names("tag=vip&tag=news") == ["Bea"]
    assert await names("attribute=city%3DBerlin") == ["Bea", "Carla"]
    assert await names("attribute=city%3DBerlin&tag=vip") == ["Bea"]

    first = (await api.client.get("/api/contacts?limit=2", headers=admin)).json()
    rest = (
        await api.client.get(f"/api/contacts?limit=2&cursor={first['next_cursor']}", headers=admin)
    ).json()
    assert len(first["items"]) == 2
    assert rest["next_cursor"] is None
    assert sorted(item["name"] for item in first["items"] + rest["items"]) == ["Ana", "Bea", "Carla"]


async def test_a_bad_filter_is_a_clear_4xx(api: Api) -> None:
    admin = await api.login(api.acme)

    assert_problem(
        await api.client.get("/api/contacts?tag=NOT%20A%20TAG", headers=admin), 422, "invalid-contact"
    )
    assert_problem(await api.client.get("/api/contacts?attribute=city", headers=admin), 422, "invalid-input")
    assert_problem(
        await api.client.get("/api/contacts?cursor=nonsense", headers=admin), 400, "invalid-cursor"
    )


async def test_the_export_is_csv_with_a_column_per_attribute_and_no_formulas(api: Api) -> None:
    admin = await api.login(api.acme)
    await api.client.post(
        "/api/contacts",
        json={
            "phone_number": "+4915112345678",
            "name": "=1+1",
            "attributes": {"plan": "gold"},
            "tags": ["a", "b"],
        },
        headers=admin,
    )

    response = await api.client.get("/api/contacts/export", headers=admin)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    [header, row] = list(csv.reader(io.StringIO(response.text)))
    assert header == [
        "id",
        "phone",
        "identity",
        "name",
        "profile_name",
        "tags",
        "notes",
        "created_at",
        "updated_at",
        "attr.plan",
    ]
    exported = dict(zip(header, row, strict=True))
    assert (exported["phone"], exported["name"], exported["tags"], exported["attr.plan"]) == (
        "'+4915112345678",
        "'=1+1",
        "a;b",
        "gold",
    )


async def test_an_import_answers_its_report_and_a_second_one_changes_nothing(api: Api) -> None:
    admin = await api.login(api.acme)
    body = "phone,name,tags,attr.city\r\n+5215512345678,Ana,vip,Monterrey\r\nnope,Nobody,,\r\n"

    first = await api.client.post("/api/contacts/import", content=body.encode(), headers=admin | CSV)
    second = await api.client.post("/api/contacts/import", content=body.encode(), headers=admin | CSV)

    assert first.status_code == 200, first.text
    assert first.json() == {
        "rows": 2,
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
        "rejections": [{"line": 3, "reason": first.json()["rejections"][0]["reason"]}],
    }
    assert first.json()["rejections"][0]["reason"].startswith("phone: ")
    assert (second.json()["created"], second.json()["unchanged"]) == (0, 1)


async def test_a_file_with_a_bad_header_is_a_422_and_changes_nothing(api: Api) -> None:
    admin = await api.login(api.acme)

    response = await api.client.post(
        "/api/contacts/import", content=b"name,email\r\nAna,ana@example.com\r\n", headers=admin | CSV
    )

    problem = assert_problem(response, 422, "invalid-contact-file")
    assert "'email' is not one a contact has" in problem["detail"]
    assert api.database.contacts.all() == []


async def test_agents_edit_contacts_but_neither_import_nor_delete_them(api: Api) -> None:
    agent = await api.bearer(api.agent.username)
    created = await api.client.post("/api/contacts", json={"phone_number": "+4915112345678"}, headers=agent)
    assert created.status_code == 201, created.text

    imported = await api.client.post(
        "/api/contacts/import", content=b"phone\r\n+4915112345679\r\n", headers=agent | CSV
    )
    deleted = await api.client.delete(f"/api/contacts/{created.json()['id']}", headers=agent)

    assert_problem(imported, 403, "forbidden")
    assert_problem(deleted, 403, "forbidden")


async def test_another_tenants_contact_is_a_404(api: Api) -> None:
    acme, globex = await api.login(api.acme), await api.login(api.globex)
    created = (
        await api.client.post("/api/contacts", json={"phone_number": "+4915112345678"}, headers=acme)
    ).json()

    for response in (
        await api.client.get(f"/api/contacts/{created['id']}", headers=globex),
        await api.client.patch(f"/api/contacts/{created['id']}", json={"name": "Taken"}, headers=globex),
        await api.client.delete(f"/api/contacts/{created['id']}", headers=globex),
    ):
        assert_problem(response, 404, "not-found")
    assert (await api.client.get("/api/contacts", headers=globex)).json()["items"] == []
