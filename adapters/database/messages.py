"""Messages on SQLAlchemy Core: the stored messages, their delivery statuses and the history pages."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, cast
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import RowMapping

from adapters.database.content_document import content_document, content_from_columns
from adapters.database.repository import SqlAlchemyRepository
from adapters.database.rows import message_from_row, message_values
from adapters.database.statements import (
    ATTACH_PROVIDER_SID,
    DELIVERY_ID_SQL,
    MESSAGE_BY_ID,
    delivery_id_parameters,
    upsert_for,
)
from adapters.database.tables import UtcDateTime, message_status_events, messages
from application.errors import AlreadyExists, NotFound
from application.ports.messages import (
    ChangePosition,
    HistoryQuery,
    MessageView,
    ScheduledPosition,
    StatusAdvance,
    StatusChange,
    StoredMessageRow,
)
from domain.administration.tenancy import ProviderName
from domain.messaging.content import Media, MessageKind
from domain.messaging.failures import FailureCode
from domain.messaging.messages import FAILURE_STATUSES, Direction, Message, MessageStatus, StatusEvent
from domain.tenant_webhooks.model import DeliveryState, WebhookEventType


class SqlAlchemyMessageRepository(SqlAlchemyRepository):
    async def add(self, message: Message) -> None:
        await self._scope.bind(message.tenant_id)
        await self._execute(
            sa.insert(messages).values(id=message.id, **message_values(message)),
            conflict="the message exists already",
        )

    async def update(self, message: Message) -> None:
        """Overwrite the stored message; NotFound if this tenant has no message with its id."""
        await self._scope.bind(message.tenant_id)
        result = await self._execute(
            sa.update(messages)
            .where(messages.c.id == message.id, messages.c.tenant_id == message.tenant_id)
            .values(**message_values(message)),
            conflict="another message has this provider id",
        )
        if result.rowcount == 0:
            raise NotFound("no such message")

    async def get(self, tenant_id: UUID, message_id: UUID) -> Message | None:
        await self._scope.bind(tenant_id)
        parameters = {"of_tenant_id": tenant_id, "of_message_id": message_id}
        row = await self._one_or_none(MESSAGE_BY_ID, parameters)
        return message_from_row(row) if row else None

    async def get_by_provider_sid(self, provider_sid: str) -> Message | None:
        await self._scope.cross_tenant()
        row = await self._one_or_none(sa.select(messages).where(messages.c.provider_sid == provider_sid))
        return message_from_row(row) if row else None

    async def attach_provider_sid(self, tenant_id: UUID, message_id: UUID, provider_sid: str) -> bool:
        await self._scope.bind(tenant_id)
        parameters = {
            "of_tenant_id": tenant_id,
            "of_message_id": message_id,
            "new_provider_sid": provider_sid,
        }
        result = await self._execute(
            ATTACH_PROVIDER_SID, parameters, conflict="another message has this provider id"
        )
        return result.rowcount == 1

    async def list_status_events(self, tenant_id: UUID, message_id: UUID) -> list[StatusEvent]:
        await self._scope.bind(tenant_id)
        result = await self._execute(
            sa.select(message_status_events)
            .where(
                message_status_events.c.tenant_id == tenant_id,
                message_status_events.c.message_id == message_id,
            )
            .order_by(message_status_events.c.id)
        )
        return [
            StatusEvent(
                message_id=row["message_id"],
                status=MessageStatus(row["status"]),
                received_at=row["received_at"],
                applied=row["applied"],
                error_code=row["error_code"],
                error_message=row["error_message"],
                pricing_category=row["pricing_category"],
            )
            for row in result.mappings()
        ]

    async def list_views(self, query: HistoryQuery) -> list[MessageView]:
        return [_view(row) for row in await self._history_rows(query)]

    async def list_stored(self, query: HistoryQuery) -> list[StoredMessageRow]:
        # The rows as they come (on PostgreSQL the driver's tuples); only a content document is built.
        return [
            row if row[_DOCUMENT] is None else _with_content(row) for row in await self._history_rows(query)
        ]

    async def _history_rows(self, query: HistoryQuery) -> Sequence[StoredMessageRow]:
        statement, parameters = _history_statement(query)
        # One round trip when the page is all its transaction reads (PostgreSQL), else as any statement.
        rows = await self._scope.read_alone(query.tenant_id, statement, parameters)
        if rows is None:
            await self._scope.bind(query.tenant_id)
            rows = [tuple(row) for row in (await self._execute(statement, parameters)).all()]
        return rows

    async def list_changed(
        self, tenant_id: UUID, since: datetime, limit: int, after: ChangePosition | None = None
    ) -> list[MessageView]:
        await self._scope.bind(tenant_id)
        # ix_messages_changes (tenant_id, updated_at, id): one index range, in its order.
        statement = sa.select(*_VIEW_COLUMNS).where(
            messages.c.tenant_id == tenant_id, messages.c.updated_at > sa.literal(since, UtcDateTime())
        )
        if after is not None:
            statement = statement.where(
                sa.tuple_(messages.c.updated_at, messages.c.id)
                > sa.tuple_(
                    sa.literal(after.updated_at, UtcDateTime()), sa.literal(after.message_id, sa.Uuid())
                )
            )
        statement = statement.order_by(messages.c.updated_at, messages.c.id).limit(limit)
        return [_view(row) for row in (await self._execute(statement)).all()]

    async def list_scheduled(
        self, tenant_id: UUID, limit: int, after: ScheduledPosition | None = None
    ) -> list[MessageView]:
        await self._scope.bind(tenant_id)
        # ix_messages_scheduled (tenant_id, send_at, id): one index range, in its order.
        statement = sa.select(*_VIEW_COLUMNS).where(
            messages.c.tenant_id == tenant_id,
            messages.c.status == MessageStatus.SCHEDULED.value,
            messages.c.send_at.is_not(None),
        )
        if after is not None:
            statement = statement.where(
                sa.tuple_(messages.c.send_at, messages.c.id)
                > sa.tuple_(sa.literal(after.send_at, UtcDateTime()), sa.literal(after.message_id, sa.Uuid()))
            )
        statement = statement.order_by(messages.c.send_at, messages.c.id).limit(limit)
        return [_view(row) for row in (await self._execute(statement)).all()]

    async def advance_status(self, change: StatusChange, now: datetime) -> Message | None:
        """One conditional UPDATE decides, so concurrent reports cannot move a message backwards.

        Every distinct report about a known message is logged, applied or not; a report about an
        unknown provider id changes nothing and is not logged (there is no message to attach it to).
        A repeat of a logged report (same provider message, status and error code) is not logged
        again (the unique index decides, concurrent repeats included), and never applies: the status
        it names was reached or passed when the first one came. On PostgreSQL all of it is one
        statement (``_advance_statement``).
        """
        if self._connection.dialect.name == "postgresql":
            row = await self._advance(_advance_statement(of_tenants=False), _advance_parameters(change, now))
            return message_from_row(row) if row is not None and row["id"] is not None else None
        await self._scope.cross_tenant()
        movable_from = _movable_to(change.status)
        changes: dict[str, Any] = {"status": change.status.value, "updated_at": now}
        # A report without an error leaves an earlier error in place rather than erasing it.
        if change.error_code is not None:
            changes["error_code"] = change.error_code
        if change.error_message is not None:
            changes["error_message"] = change.error_message
        if (failure_code := change.failure_code_to_store) is not None:
            changes["failure_code"] = failure_code.value
        if change.provider_error_message is not None:
            changes["provider_error_message"] = change.provider_error_message
        if change.provider is not None:
            changes["provider"] = change.provider.value
        advance = (
            sa.update(messages)
            .where(messages.c.provider_sid == change.provider_sid, messages.c.status.in_(movable_from))
            .values(changes)
        )
        updated = await self._one_or_none(advance.returning(*messages.c))
        if updated is not None:
            message_id, tenant_id = updated["id"], updated["tenant_id"]
        else:
            existing = await self._one_or_none(
                sa.select(messages.c.id, messages.c.tenant_id).where(
                    messages.c.provider_sid == change.provider_sid
                )
            )
            if existing is None:
                return None
            message_id, tenant_id = existing["id"], existing["tenant_id"]
        insert = upsert_for(self._connection.dialect.name)
        await self._execute(
            insert(message_status_events)
            .values(
                message_id=message_id,
                tenant_id=tenant_id,
                provider_sid=change.provider_sid,
                status=change.status.value,
                error_code=change.error_code,
                error_message=change.error_message,
                pricing_category=change.pricing_category,
                applied=updated is not None,
                received_at=now,
            )
            .on_conflict_do_nothing()
        )
        return message_from_row(updated) if updated is not None else None

    async def advance_status_of(
        self, tenant_ids: Sequence[UUID], change: StatusChange, now: datetime, *, commit: bool = False
    ) -> StatusAdvance:
        if self._connection.dialect.name != "postgresql":
            message = await self.get_by_provider_sid(change.provider_sid)
            if message is None or message.tenant_id not in tenant_ids:
                return StatusAdvance(found=False)
            return StatusAdvance(found=True, moved=await self.advance_status(change, now))
        parameters = {**_advance_parameters(change, now), "report_tenant_ids": list(tenant_ids)}
        if commit:  # the move's webhook events and the COMMIT with it: one round trip for the whole report
            rows = await self._scope.write_and_commit(
                None,
                _advance_statement(of_tenants=True, announce=True),
                {**parameters, **_announce_parameters(now)},
                conflict="the delivery exists already",
                missing_reference="the webhook endpoint is gone",
                aborted=AlreadyExists("the report was not recorded"),
                cross_tenant=True,
                as_dicts=True,
            )
            if rows is not None:
                if not rows:
                    return StatusAdvance(found=False, committed=True)
                row = rows[0]
                moved = message_from_row(row) if row["id"] is not None else None
                return StatusAdvance(found=True, moved=moved, committed=True)
        row = await self._advance(_advance_statement(of_tenants=True), parameters)
        if row is None:
            return StatusAdvance(found=False)
        return StatusAdvance(found=True, moved=message_from_row(row) if row["id"] is not None else None)

    async def _advance(self, statement: sa.Select[Any], parameters: dict[str, Any]) -> RowMapping | None:
        """PostgreSQL: ``_advance_statement``'s row, with the transaction's BEGIN and cross-tenant
        setting when they are still to be sent."""
        rows = await self._scope.cross_tenant_and_read(statement, parameters)
        if rows is None:  # the transaction is under way: the statement goes as any other
            await self._scope.cross_tenant()
            return await self._one_or_none(statement, parameters)
        return cast(RowMapping, rows[0]) if rows else None

    async def replace_media(
        self, tenant_id: UUID, message_id: UUID, item: int, media: Media, now: datetime
    ) -> Message | None:
        """The row is written first (unchanged), so the transaction holds it before its content is read:
        PostgreSQL's row lock, SQLite's write lock (whose driver begins a transaction only at the first
        write, so a read first would not be part of it). Two items settled at once both keep their
        outcome."""
        await self._scope.bind(tenant_id)
        the_message = (messages.c.tenant_id == tenant_id, messages.c.id == message_id)
        held = await self._execute(
            sa.update(messages).where(*the_message).values(updated_at=messages.c.updated_at)
        )
        if held.rowcount == 0:
            return None
        row = await self._one_or_none(sa.select(messages).where(*the_message))
        if row is None:
            return None
        message = message_from_row(row)
        items = list(message.content.media)
        if not 0 <= item < len(items):
            return None
        items[item] = media
        content = replace(message.content, media=tuple(items))
        await self._execute(
            sa.update(messages).where(*the_message).values(content=content_document(content), updated_at=now)
        )
        return replace(message, content=content, updated_at=now)


@functools.cache
def _advance_statement(*, of_tenants: bool, announce: bool = False) -> sa.Select[Any]:
    """PostgreSQL's status report in one statement (built once per shape; its values are bind
    parameters, ``_advance_parameters``): the conditional update of the message with the report's
    provider id (``of_tenants``: only if one of ``report_tenant_ids`` has it), the report's line in its
    timeline whether or not it moved, and the moved row, or only the message's id when it did not move
    (no row: no such message). One round trip instead of two or three.

    ``announce``: the move's webhook events too (``_ANNOUNCE_MOVE``, with ``_announce_parameters``)."""
    of_the_tenants: tuple[sa.ColumnElement[bool], ...] = (
        messages.c.provider_sid == sa.bindparam("report_sid", type_=sa.String()),
    )
    if of_tenants:
        tenant_ids = sa.bindparam("report_tenant_ids", type_=postgresql.ARRAY(sa.Uuid()))
        of_the_tenants += (messages.c.tenant_id == sa.any_(tenant_ids),)

    def reported(name: str, type_: sa.types.TypeEngine[Any]) -> sa.BindParameter[Any]:
        return sa.bindparam(f"report_{name}", type_=type_)

    def unless_missing(name: str) -> Any:
        # A report without an error leaves an earlier error in place rather than erasing it.
        column = messages.c[name]
        return sa.func.coalesce(reported(name, column.type), column)

    updated = (
        sa.update(messages)
        .where(
            *of_the_tenants,
            messages.c.status == sa.any_(sa.bindparam("movable_from", type_=postgresql.ARRAY(sa.String()))),
        )
        .values(
            status=reported("status", messages.c.status.type),
            updated_at=reported("now", messages.c.updated_at.type),
            error_code=unless_missing("error_code"),
            error_message=unless_missing("error_message"),
            failure_code=unless_missing("failure_code"),
            provider_error_message=unless_missing("provider_error_message"),
            provider=unless_missing("provider"),
        )
        .returning(*messages.c)
        .cte("updated")
    )
    moved = sa.exists(sa.select(updated.c.id))
    found = sa.union_all(
        sa.select(updated.c.id, updated.c.tenant_id),
        sa.select(messages.c.id, messages.c.tenant_id).where(*of_the_tenants, ~moved),
    ).cte("found")
    columns = message_status_events.c
    logged = (
        upsert_for("postgresql")(message_status_events)
        .from_select(
            [
                "message_id",
                "tenant_id",
                "provider_sid",
                "status",
                "error_code",
                "error_message",
                "pricing_category",
                "applied",
                "received_at",
            ],
            sa.select(
                found.c.id,
                found.c.tenant_id,
                reported("sid", columns.provider_sid.type),
                reported("status", columns.status.type),
                reported("error_code", columns.error_code.type),
                reported("error_message", columns.error_message.type),
                reported("pricing_category", columns.pricing_category.type),
                moved,
                reported("now", columns.received_at.type),
            ),
        )
        .on_conflict_do_nothing()
        .cte("logged")
    )
    statement = (
        sa.select(found.c.id.label("found_id"), *updated.c)
        .select_from(found.outerjoin(updated, updated.c.id == found.c.id))
        .add_cte(logged)
    )
    if announce:
        statement = statement.add_cte(_ANNOUNCE_MOVE.columns(sa.column("announced")).cte("announced"))
    return statement


# The webhook events of the move ``updated`` made (none when it made none): ``message.status``, and
# ``message.failed`` too when the message failed, one delivery per enabled endpoint of its tenant that
# subscribes to the event, as ``webhook_outbox.py`` records them. The delivery keeps the moved row and its
# body is built from it when it is read (webhook_deliveries.py): the body is the message's data as the
# move left it, stamped with the move's time, the same bytes the events would have had if serialised here.
_ANNOUNCE_MOVE = sa.text(
    f"""
INSERT INTO webhook_deliveries
    (id, tenant_id, endpoint_id, event_type, message_snapshot, state, attempts, next_attempt_at, created_at)
SELECT
    {DELIVERY_ID_SQL},
    target.tenant_id, target.endpoint_id, target.event_type, target.snapshot, :announce_pending, 0,
    :announce_at, :announce_at
FROM (
    SELECT moved.tenant_id, endpoint.id AS endpoint_id, event.event_type, to_jsonb(moved) AS snapshot,
           uuid_send(gen_random_uuid()) AS random_bytes
    FROM updated AS moved
    CROSS JOIN LATERAL unnest(
        CASE WHEN moved.status = ANY(CAST(:announce_failures AS text[]))
             THEN ARRAY[:announce_status_event, :announce_failed_event]
             ELSE ARRAY[:announce_status_event]
        END
    ) AS event(event_type)
    JOIN webhook_endpoints AS endpoint
        ON endpoint.tenant_id = moved.tenant_id AND endpoint.enabled
        AND CAST(endpoint.events AS jsonb) @> jsonb_build_array(event.event_type)
) AS target
RETURNING 1
"""  # noqa: S608 (DELIVERY_ID_SQL is a constant)
)


def _announce_parameters(now: datetime) -> dict[str, Any]:
    return {
        **delivery_id_parameters(now),
        "announce_pending": DeliveryState.PENDING.value,
        "announce_at": now,
        "announce_failures": sorted(status.value for status in FAILURE_STATUSES),
        "announce_status_event": WebhookEventType.MESSAGE_STATUS.value,
        "announce_failed_event": WebhookEventType.MESSAGE_FAILED.value,
    }


def _advance_parameters(change: StatusChange, now: datetime) -> dict[str, Any]:
    failure_code = change.failure_code_to_store
    return {
        "report_sid": change.provider_sid,
        "movable_from": _movable_to(change.status),
        "report_status": change.status.value,
        "report_error_code": change.error_code,
        "report_error_message": change.error_message,
        "report_failure_code": failure_code.value if failure_code is not None else None,
        "report_provider_error_message": change.provider_error_message,
        "report_provider": change.provider.value if change.provider is not None else None,
        "report_pricing_category": change.pricing_category,
        "report_now": now,
    }


def _movable_to(status: MessageStatus) -> list[str]:
    return [earlier.value for earlier in MessageStatus if earlier.can_advance_to(status)]


def _history_statement(query: HistoryQuery) -> tuple[sa.Select[Any], dict[str, Any]]:
    parameters: dict[str, Any] = {"tenant_id": query.tenant_id, "limit": query.limit}
    if query.after is not None:
        parameters["after_created_at"] = query.after.created_at
        parameters["after_id"] = query.after.message_id
    if query.direction is not None:
        parameters["direction"] = query.direction.value
    if query.status is not None:
        parameters["status"] = query.status.value
    if query.contact is not None:
        # Messages keep the form they were sent to or received from: the contact's are in any of them.
        parameters[_CONTACT], *other_forms = query.contact.forms
        if other_forms:
            (parameters[_OTHER_FORM],) = other_forms
    if query.since is not None:
        parameters["since"] = query.since
    if query.until is not None:
        parameters["until"] = query.until
    if query.kind is not None:
        parameters["kind"] = query.kind.value
    if query.failure_code is not None:
        parameters["failure_code"] = query.failure_code.value
    if query.failures_only:
        parameters.update(_FAILURE_STATUS_PARAMETERS)
    return _history_page(frozenset(parameters)), parameters


_CONTACT, _OTHER_FORM = "contact", "contact_other_form"
# The statuses of a message that did not reach its recipient, one parameter each (a plain IN list would
# be expanded at execution, which the one-round-trip read does not do).
_FAILURE_STATUS_PARAMETERS = {f"failure_status_{status.value}": status.value for status in FAILURE_STATUSES}
_LIMIT = sa.bindparam("limit", type_=sa.Integer())
_OUTBOUND = messages.c.direction == Direction.OUTBOUND.value
# MessageView's fields, in its order (its ``content`` from the content column).
_VIEW_COLUMNS = (
    messages.c.id,
    messages.c.direction,
    messages.c.status,
    sa.case((_OUTBOUND, messages.c.sender_number), else_=messages.c.contact_number).label("from_number"),
    sa.case((_OUTBOUND, messages.c.contact_number), else_=messages.c.sender_number).label("to_number"),
    messages.c.kind,
    messages.c.body,
    messages.c.media_urls,
    messages.c.content_sid,
    messages.c.content_variables,
    messages.c.content,
    messages.c.profile_name,
    messages.c.provider_sid,
    messages.c.error_code,
    messages.c.error_message,
    messages.c.failure_code,
    messages.c.provider,
    messages.c.provider_error_message,
    messages.c.created_at,
    messages.c.updated_at,
    messages.c.send_at,
    messages.c.redacted_at,
)
_DIRECTIONS = {direction.value: direction for direction in Direction}
_STATUSES = {status.value: status for status in MessageStatus}
_KINDS = {kind.value: kind for kind in MessageKind}
_FAILURE_CODES = {code.value: code for code in FailureCode}
_PROVIDERS = {provider.value: provider for provider in ProviderName}


_DOCUMENT = 10  # the content column's place in _VIEW_COLUMNS (MessageView's ``content``)


def _with_content(row: StoredMessageRow) -> StoredMessageRow:
    """The row with its content document built into the message's whole content."""
    body, media_urls, sid, variables, document = row[6:11]
    content = content_from_columns(
        body=body, media_urls=media_urls, content_sid=sid, content_variables=variables, document=document
    )
    return (*row[:_DOCUMENT], content, *row[_DOCUMENT + 1 :])


def _view(row: Sequence[Any]) -> MessageView:
    """A row of _VIEW_COLUMNS as the view, positionally; the whole content is built only for the
    messages whose columns do not say it all (those with a content document)."""
    (id_, direction, status, from_number, to_number, kind, body, media_urls, sid, variables, document) = row[
        :11
    ]
    content = (
        None
        if document is None
        else content_from_columns(
            body=body, media_urls=media_urls, content_sid=sid, content_variables=variables, document=document
        )
    )
    return MessageView._make(
        (
            id_,
            _DIRECTIONS[direction],
            _STATUSES[status],
            from_number,
            to_number,
            _KINDS[kind],
            body,
            media_urls,
            sid,
            variables,
            content,
            *row[11:15],  # profile_name, provider_sid, error_code, error_message
            _FAILURE_CODES.get(row[15]),  # None stays None
            _PROVIDERS.get(row[16]),
            *row[17:],
        )
    )


@functools.cache
def _history_page(filters: frozenset[str]) -> sa.Select[Any]:
    """The history query for one combination of filters (named by their parameters), built once: the
    columns of a MessageView."""
    if _OTHER_FORM not in filters:
        return _first_rows(_history_rows(filters, _CONTACT))
    # A contact written in two forms: a page of each form, each read in page order from
    # ix_messages_contact_history, then merged (PostgreSQL plans a Merge Append): at most two pages
    # read, rather than every message of the contact read and sorted.
    pages = [
        _first_rows(_history_rows(filters, form)).subquery(f"{form}_page") for form in (_CONTACT, _OTHER_FORM)
    ]
    both = sa.union_all(*(sa.select(*page.c) for page in pages)).subquery("either_form")
    return sa.select(*both.c).order_by(both.c.created_at.desc(), both.c.id.desc()).limit(_LIMIT)


def _first_rows(statement: sa.Select[Any]) -> sa.Select[Any]:
    return statement.order_by(messages.c.created_at.desc(), messages.c.id.desc()).limit(_LIMIT)


def _history_rows(filters: frozenset[str], contact: str) -> sa.Select[Any]:
    """The rows a history page is taken from, unordered; the contact's form is parameter ``contact``."""
    statement = sa.select(*_VIEW_COLUMNS).where(messages.c.tenant_id == sa.bindparam("tenant_id"))
    if "after_created_at" in filters:
        # A row-value comparison, so PostgreSQL walks ix_messages_history from the cursor on.
        statement = statement.where(
            sa.tuple_(messages.c.created_at, messages.c.id)
            < sa.tuple_(
                sa.bindparam("after_created_at", type_=UtcDateTime()),
                sa.bindparam("after_id", type_=sa.Uuid()),
            )
        )
    if "direction" in filters:
        statement = statement.where(messages.c.direction == sa.bindparam("direction"))
    if "status" in filters:
        statement = statement.where(messages.c.status == sa.bindparam("status"))
    if _CONTACT in filters:
        statement = statement.where(messages.c.contact_number == sa.bindparam(contact))
    if "since" in filters:
        statement = statement.where(messages.c.created_at >= sa.bindparam("since", type_=UtcDateTime()))
    if "until" in filters:
        statement = statement.where(messages.c.created_at < sa.bindparam("until", type_=UtcDateTime()))
    if "kind" in filters:
        statement = statement.where(messages.c.kind == sa.bindparam("kind"))
    if "failure_code" in filters:
        statement = statement.where(messages.c.failure_code == sa.bindparam("failure_code"))
    if _FAILURE_STATUS_PARAMETERS.keys() <= filters:
        statement = statement.where(
            sa.or_(*(messages.c.status == sa.bindparam(name) for name in sorted(_FAILURE_STATUS_PARAMETERS)))
        )
    return statement
