"""Statements more than one repository runs, and the builders of those that vary by dialect.

The constant ones are built once, at import: the worker runs them for every message it sends, and
building a statement per call costs more CPU than its round trip (see ``SqlAlchemyRepository._execute``,
whose ``parameters`` fill their ``bindparam``s).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from adapters.database.tables import (
    contacts,
    conversations,
    idempotency_keys,
    messages,
    provider_accounts,
    tenants,
)
from domain.administration.tenancy import ProviderName
from domain.tenant_webhooks.model import DELIVERY_ID_PREFIX, new_delivery_id

TENANT_BY_ID = sa.select(tenants).where(tenants.c.id == sa.bindparam("tenant_id"))
# One message, by tenant and id; the parameters are not named after the columns: UPDATE reserves
# those names for its SET clause.
THE_MESSAGE = (
    messages.c.tenant_id == sa.bindparam("of_tenant_id"),
    messages.c.id == sa.bindparam("of_message_id"),
)
MESSAGE_BY_ID = sa.select(messages).where(*THE_MESSAGE)
ATTACH_PROVIDER_SID = (
    sa.update(messages)
    .where(*THE_MESSAGE, messages.c.provider_sid.is_(None))
    .values(provider_sid=sa.bindparam("new_provider_sid", type_=messages.c.provider_sid.type))
)


# PostgreSQL: a webhook delivery's id as ``new_delivery_id`` makes it, for a row of ``target`` whose
# ``random_bytes`` (``uuid_send(gen_random_uuid())``, per row) give its random part. The moment's part is
# the same for all the statement's rows (``:id_moment``); the 16 random characters take 5 bits each of
# the bytes (79 random bits: the UUID's version takes one of them). ``delivery_id_parameters`` fill it.
DELIVERY_ID_SQL = (
    ":id_moment || (SELECT string_agg(substr(:id_alphabet, (get_byte(target.random_bytes, i) & 31) + 1, 1), "
    "'' ORDER BY i) FROM generate_series(0, 15) AS i)"
)


def delivery_id_parameters(now: datetime) -> dict[str, Any]:
    return {
        "id_moment": new_delivery_id(now)[: len(DELIVERY_ID_PREFIX) + 10],
        "id_alphabet": _CROCKFORD,
    }


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # new_delivery_id's alphabet

# Why an accept is refused when its idempotency key is held (see ``hold_key_statement``).
KEY_IN_USE = "this idempotency key is in use"


def upsert_for(dialect_name: str) -> Any:
    """``INSERT ... ON CONFLICT`` is spelled the same on both dialects but built by each one's ``insert``."""
    if dialect_name == "postgresql":
        return postgresql.insert
    if dialect_name == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"no upsert for the {dialect_name} dialect")


def conversation_upsert(values: Mapping[str, Any], dialect_name: str) -> Any:
    """The upsert that makes a message its conversation's latest (see ``record_message``); ``values``
    are ``conversation_values`` (or bind parameters standing for them)."""
    insert = upsert_for(dialect_name)
    statement = insert(conversations).values(values)
    excluded = statement.excluded
    newer = excluded.last_message_at >= conversations.c.last_message_at
    return statement.on_conflict_do_update(
        index_elements=[conversations.c.tenant_id, conversations.c.contact_identity],
        set_={
            # The form replies go to: the one of the contact's latest message, once they have written;
            # until then the one last written to.
            "contact_number": sa.case(
                (
                    sa.or_(
                        conversations.c.last_inbound_at.is_(None),
                        excluded.last_inbound_at >= conversations.c.last_inbound_at,
                    )
                    & excluded.last_inbound_at.is_not(None),
                    excluded.contact_number,
                ),
                (conversations.c.last_inbound_at.is_(None) & newer, excluded.contact_number),
                else_=conversations.c.contact_number,
            ),
            "sender_number": sa.case((newer, excluded.sender_number), else_=conversations.c.sender_number),
            "last_message_id": sa.case(
                (newer, excluded.last_message_id), else_=conversations.c.last_message_id
            ),
            "last_message_at": sa.case(
                (newer, excluded.last_message_at), else_=conversations.c.last_message_at
            ),
            "last_direction": sa.case((newer, excluded.last_direction), else_=conversations.c.last_direction),
            "last_message_preview": sa.case(
                (newer, excluded.last_message_preview), else_=conversations.c.last_message_preview
            ),
            # The window opens at the latest inbound message, whatever order they are recorded in.
            "last_inbound_at": sa.case(
                (conversations.c.last_inbound_at.is_(None), excluded.last_inbound_at),
                (excluded.last_inbound_at > conversations.c.last_inbound_at, excluded.last_inbound_at),
                else_=conversations.c.last_inbound_at,
            ),
            "profile_name": sa.func.coalesce(excluded.profile_name, conversations.c.profile_name),
            # An inbound message is one more the agents have not seen (whatever order it arrives in).
            "unread_count": conversations.c.unread_count + excluded.unread_count,
        },
    )


def contact_upsert(values: Mapping[str, Any], dialect_name: str, *, inbound: bool) -> Any:
    """The upsert that keeps a message's contact (see ``record_message``); ``values`` are
    ``contact_values`` (or bind parameters standing for them). An outbound message only creates a contact
    that is new; an inbound one also sets the number it came from and its profile name, writing the row
    only when either differs (most messages change nothing)."""
    insert = upsert_for(dialect_name)
    statement = insert(contacts).values(values)
    if not inbound:
        return statement.on_conflict_do_nothing(index_elements=[contacts.c.tenant_id, contacts.c.identity])
    excluded = statement.excluded
    new_profile_name = excluded.profile_name.is_not(None) & excluded.profile_name.is_distinct_from(
        contacts.c.profile_name
    )
    return statement.on_conflict_do_update(
        index_elements=[contacts.c.tenant_id, contacts.c.identity],
        set_={
            "phone_number": excluded.phone_number,
            "profile_name": sa.func.coalesce(excluded.profile_name, contacts.c.profile_name),
            "updated_at": excluded.updated_at,
        },
        where=(contacts.c.phone_number != excluded.phone_number) | new_profile_name,
    )


def hold_key_statement(values: Mapping[str, Any], dialect_name: str) -> Any:
    """Insert the key (``key_values``, or bind parameters standing for them), or take it over from an
    expired record; no row is written while the key is held (``KEY_IN_USE``)."""
    insert = upsert_for(dialect_name)
    statement = insert(idempotency_keys).values(values)
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[idempotency_keys.c.tenant_id, idempotency_keys.c.key],
        set_={
            name: excluded[name]
            for name in ("request_fingerprint", "message_id", "response_status", "created_at", "expires_at")
        },
        where=idempotency_keys.c.expires_at <= excluded.created_at,
    )


def account_of_sender(
    sender_tenant: sa.ColumnElement[UUID], sender_account: sa.ColumnElement[UUID | None]
) -> sa.ColumnElement[UUID | None]:
    """The id of a sender's account: its own, or else its tenant's first Twilio account
    (``ProviderAccountRepository``'s rule, in SQL)."""
    # An alias: the statements it goes into read provider_accounts themselves.
    candidate = provider_accounts.alias("first_twilio_account")
    first_twilio = (
        sa.select(candidate.c.id)
        .where(candidate.c.tenant_id == sender_tenant, candidate.c.provider == ProviderName.TWILIO.value)
        .order_by(candidate.c.created_at, candidate.c.id)
        .limit(1)
        .scalar_subquery()
    )
    return sa.func.coalesce(sender_account, first_twilio)
