"""Rows <-> entities, for the mappings more than one repository needs (one only a single repository
needs lives beside it).

Rows come from our own schema and were validated on the way in, so PhoneNumber is rebuilt from its
stored E.164 form instead of being parsed again (parsing is not free, and rules change over time).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast
from uuid import uuid4

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from adapters.database.content_document import content_document, content_from_columns
from application.ports.dispatch_queue import DispatchJob
from application.ports.messages import IdempotencyRecord
from domain.administration.tenancy import ProviderName, Role, Sender, Tenant, TenantStatus, User
from domain.contacts.contact import profile_name_kept
from domain.messaging.conversations import preview_of
from domain.messaging.failures import FailureCode
from domain.messaging.messages import Direction, Message, MessageStatus
from domain.phone import PhoneNumber

# ---------------------------------------------------------------------------------------- joined rows


def labelled(table: sa.Table, prefix: str) -> list[sa.Label[Any]]:
    """Every column of ``table`` under ``prefix`` + its name, so one row can carry several tables."""
    return [column.label(prefix + column.name) for column in table.c]


def unprefixed(row: Mapping[Any, Any], prefix: str) -> RowMapping:
    """The columns of one table of a joined row, under their own names (a mapping, as a row is)."""
    columns = {key[len(prefix) :]: value for key, value in row.items() if key.startswith(prefix)}
    return cast(RowMapping, columns)


# ------------------------------------------------------------------------------------ rows to entities


def tenant_from_row(row: RowMapping) -> Tenant:
    return Tenant(
        id=row["id"],
        name=row["name"],
        provider=ProviderName(row["provider"]),
        status=TenantStatus(row["status"]),
        session_window_check=row["session_window_check"],
        sends_per_minute=row["sends_per_minute"],
        sends_per_day=row["sends_per_day"],
        time_zone=row["time_zone"],
        created_at=row["created_at"],
    )


def sender_from_row(row: RowMapping) -> Sender:
    return Sender(
        id=row["id"],
        tenant_id=row["tenant_id"],
        phone_number=PhoneNumber(row["phone_number"]),
        is_default=row["is_default"],
        label=row["label"],
        created_at=row["created_at"],
        account_id=row["account_id"],
        provider_number_id=row["provider_number_id"],
    )


def user_from_row(row: RowMapping) -> User:
    return User(
        id=row["id"],
        tenant_id=row["tenant_id"],
        username=row["username"],
        password_hash=row["password_hash"],
        role=Role(row["role"]),
        is_active=row["is_active"],
        created_at=row["created_at"],
    )


def message_from_row(row: RowMapping) -> Message:
    return Message(
        id=row["id"],
        tenant_id=row["tenant_id"],
        direction=Direction(row["direction"]),
        sender=PhoneNumber(row["sender_number"]),
        contact=PhoneNumber(row["contact_number"]),
        content=content_from_columns(
            body=row["body"],
            media_urls=row["media_urls"],
            content_sid=row["content_sid"],
            content_variables=row["content_variables"],
            document=row["content"],
        ),
        status=MessageStatus(row["status"]),
        provider_sid=row["provider_sid"],
        error_code=row["error_code"],
        error_message=row["error_message"],
        profile_name=row["profile_name"],
        wa_id=row["wa_id"],
        failure_code=FailureCode(code) if (code := row["failure_code"]) is not None else None,
        provider=ProviderName(provider) if (provider := row["provider"]) is not None else None,
        provider_error_message=row["provider_error_message"],
        send_at=row["send_at"],
        redacted_at=row["redacted_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


# ------------------------------------------------------------------------------------ entities to rows


def message_values(message: Message) -> dict[str, Any]:
    """The message's columns but its id (an UPDATE keeps the id; an INSERT adds it)."""
    template = message.content.template
    return {
        "tenant_id": message.tenant_id,
        "direction": message.direction.value,
        "status": message.status.value,
        "sender_number": message.sender.e164,
        "contact_number": message.contact.e164,
        "body": message.content.body,
        "media_urls": list(message.content.media_urls),
        "provider_sid": message.provider_sid,
        "error_code": message.error_code,
        "error_message": message.error_message,
        "content_sid": template.content_sid if template else None,
        "content_variables": template.variables_dict if template else None,
        "profile_name": message.profile_name,
        "wa_id": message.wa_id,
        "created_at": message.created_at,
        "updated_at": message.updated_at,
        "kind": message.content.kind.value,
        "content": content_document(message.content),
        "failure_code": message.failure_code.value if message.failure_code else None,
        "provider": message.provider.value if message.provider else None,
        "provider_error_message": message.provider_error_message,
        "send_at": message.send_at,
        "redacted_at": message.redacted_at,
    }


def conversation_values(message: Message) -> dict[str, Any]:
    """The row of the conversation whose latest message ``message`` is, if it were the first."""
    return {
        "id": uuid4(),
        "tenant_id": message.tenant_id,
        "contact_number": message.contact.e164,
        "contact_identity": message.contact.identity,
        "sender_number": message.sender.e164,
        "last_message_id": message.id,
        "last_message_at": message.created_at,
        "last_direction": message.direction.value,
        "last_message_preview": preview_of(message),
        "last_inbound_at": message.created_at if message.direction is Direction.INBOUND else None,
        "profile_name": message.profile_name,
        "created_at": message.created_at,
        "unread_count": 1 if message.direction is Direction.INBOUND else 0,
    }


def contact_values(message: Message) -> dict[str, Any]:
    """The row of the contact ``message`` was written to or came from, if it were new."""
    inbound = message.direction is Direction.INBOUND
    return {
        "id": uuid4(),
        "tenant_id": message.tenant_id,
        "identity": message.contact.identity,
        "phone_number": message.contact.e164,
        "name": None,
        "profile_name": profile_name_kept(message.profile_name) if inbound else None,
        "attributes": {},
        "tags": [],
        "notes": None,
        "created_at": message.created_at,
        "updated_at": message.created_at,
    }


def job_values(job: DispatchJob) -> dict[str, Any]:
    return {
        "message_id": job.message_id,
        "tenant_id": job.tenant_id,
        "sender_number": job.sender.e164,
        "phase": job.phase.value,
        "attempts": job.attempts,
        "available_at": job.available_at,
        "last_error": job.last_error,
        "created_at": job.created_at,
        "unconfirmed_since": job.unconfirmed_since,
    }


def key_values(record: IdempotencyRecord) -> dict[str, Any]:
    return {
        "tenant_id": record.tenant_id,
        "key": record.key,
        "request_fingerprint": record.request_fingerprint,
        "message_id": record.message_id,
        "response_status": record.response_status,
        "created_at": record.created_at,
        "expires_at": record.expires_at,
    }
