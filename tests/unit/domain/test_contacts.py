"""A contact's rules: what the tenant may say about a person, every problem named at once by its field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.contacts.contact import (
    MAX_ATTRIBUTE_VALUE_LENGTH,
    MAX_NOTES_LENGTH,
    Contact,
    ContactDetails,
    InvalidContact,
    details_problems,
    profile_name_kept,
)
from domain.phone import PhoneNumber

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def fields_of(details: ContactDetails) -> list[str]:
    return [problem.field for problem in details_problems(details)]


def test_details_within_every_bound_keep_the_rules() -> None:
    details = ContactDetails(
        name="Ana García",
        attributes={f"key_{n}": "v" * MAX_ATTRIBUTE_VALUE_LENGTH for n in range(50)},
        tags=frozenset(f"tag-{n}" for n in range(50)),
        notes="n" * MAX_NOTES_LENGTH,
    )
    assert details_problems(details) == []


@pytest.mark.parametrize(
    ("details", "fields"),
    [
        (ContactDetails(name=""), ["name"]),
        (ContactDetails(name="x" * 201), ["name"]),
        (ContactDetails(attributes={f"k{n}": "v" for n in range(51)}), ["attributes"]),
        (ContactDetails(attributes={"City": "x"}), ["attributes.City"]),
        (ContactDetails(attributes={"1st": "x"}), ["attributes.1st"]),
        (ContactDetails(attributes={"a" * 65: "x"}), ["attributes." + "a" * 65]),
        (ContactDetails(attributes={"city": "x" * 1025}), ["attributes.city"]),
        (ContactDetails(tags=frozenset(f"t{n}" for n in range(51))), ["tags"]),
        (ContactDetails(tags=frozenset({"VIP"})), ["tags"]),
        (ContactDetails(tags=frozenset({"x" * 33})), ["tags"]),
        (ContactDetails(notes="n" * 10_001), ["notes"]),
        (ContactDetails(name="a\x00b"), ["contact"]),
    ],
    ids=[
        "a blank name",
        "a name too long",
        "51 attributes",
        "a key with a capital",
        "a key starting with a digit",
        "a key too long",
        "a value too long",
        "51 tags",
        "a tag with capitals",
        "a tag too long",
        "notes too long",
        "a NUL character",
    ],
)
def test_each_broken_rule_is_named_by_its_field(details: ContactDetails, fields: list[str]) -> None:
    assert fields_of(details) == fields


def test_every_problem_is_reported_at_once() -> None:
    details = ContactDetails(name="", attributes={"Bad": "x"}, tags=frozenset({"No!"}), notes="n" * 10_001)

    with pytest.raises(InvalidContact) as refused:
        Contact.new(uuid4(), PhoneNumber.parse("+4915112345678"), details, T0)

    assert [problem.field for problem in refused.value.problems] == [
        "name",
        "attributes.Bad",
        "tags",
        "notes",
    ]
    assert "attributes.Bad: a key is a lower-case letter" in str(refused.value)


def test_a_contact_is_keyed_by_the_identity_and_keeps_the_form_it_was_made_with() -> None:
    contact = Contact.new(uuid4(), PhoneNumber.parse("+5215512345678"), ContactDetails(), T0)

    assert (contact.identity, contact.phone_number) == ("+525512345678", "+5215512345678")


def test_new_details_move_the_update_time_and_the_same_details_change_nothing() -> None:
    contact = Contact.new(uuid4(), PhoneNumber.parse("+4915112345678"), ContactDetails(name="Jonas"), T0)
    later = T0 + timedelta(hours=1)

    assert contact.with_details(ContactDetails(name="Jonas"), later) is contact
    renamed = contact.with_details(ContactDetails(name="Jonas B."), later)
    assert (renamed.name, renamed.updated_at, renamed.created_at) == ("Jonas B.", later, T0)


def test_a_contacts_attributes_cannot_be_changed_behind_its_back() -> None:
    attributes = {"city": "Berlin"}
    contact = Contact.new(
        uuid4(), PhoneNumber.parse("+4915112345678"), ContactDetails(attributes=attributes), T0
    )
    attributes["city"] = "Köln"

    assert contact.attributes == {"city": "Berlin"}
    with pytest.raises(TypeError):
        contact.attributes["city"] = "Köln"  # type: ignore[index]


@pytest.mark.parametrize(
    ("given", "kept"),
    [("Ana", "Ana"), ("  Ana  ", "Ana"), ("", None), ("   ", None), (None, None), ("a\x00b", "a\ufffdb")],
)
def test_a_profile_name_is_kept_trimmed_and_storable(given: str | None, kept: str | None) -> None:
    assert profile_name_kept(given) == kept


def test_a_long_profile_name_is_cut() -> None:
    assert len(profile_name_kept("x" * 1000) or "") == 256
