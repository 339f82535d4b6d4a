"""The repositories of application/ports/ on SQLAlchemy Core, with explicit row <-> entity mapping.

Each repository works on the connection of one unit of work and never commits. Every statement runs
through ``translated_errors``, so callers only ever see application errors.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from adapters.database.errors import translated_errors
from adapters.database.tables import (
    ACCESS_TABLES,
    UtcDateTime,
    conversations,
    message_status_events,
    messages,
    senders,
    tenant_credentials,
    tenants,
    users,
)
from adapters.database.tenant_scope import TenantScope
from adapters.security.secret_box import SecretBox, SecretDecryptionError
from application.errors import AlreadyExists, CredentialsUnreadable, NotFound, TransactionConflict
from application.ports.messages import ConversationQuery, HistoryQuery, MessageView, StatusChange
from application.ports.tenancy import TwilioSigner
from domain.administration.tenancy import (
    ProviderName,
    Role,
    Sender,
    Tenant,
    TenantStatus,
    TwilioCredentials,
    User,
)
from domain.messaging.conversations import Conversation, preview_of
from domain.messaging.messages import Direction, Message, MessageContent, MessageStatus, StatusEvent, Template
from domain.phone import PhoneNumber

logger = logging.getLogger(__name__)

_TENANT_MISSING = "the tenant does not exist"


class _Repository:
    # The scope is the transaction's, shared by all its repositories: one tenant per transaction.
    def __init__(self, connection: AsyncConnection, scope: TenantScope) -> None:
        self._connection = connection
        self._scope = scope

    async def _execute(
        self,
        statement: Executable,
        parameters: Mapping[str, Any] | None = None,
        *,
        conflict: str = "the record exists already",
    ) -> CursorResult[Any]:
        """``parameters`` fill the ``bindparam``s of a statement built once (building one per call
        costs more CPU than its round trip, on the hot paths)."""
        if isinstance(statement, sa.Update | sa.Delete) and statement.table in ACCESS_TABLES:
            self._scope.changed_access = True
        with translated_errors(conflict=conflict, missing_reference=_TENANT_MISSING):
            return await self._connection.execute(statement, parameters)

    async def _one_or_none(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> RowMapping | None:
        return (await self._execute(statement, parameters)).mappings().one_or_none()

    async def _bound_one_or_none(
        self,
        tenant_id: UUID,
        statement: sa.Select[Any],
        parameters: Mapping[str, Any],
        conflict: str = "the record exists already",
    ) -> RowMapping | None:
        """``statement``'s row in ``tenant_id``'s scope; when the transaction has yet to begin, its BEGIN,
        the tenant setting and the statement go in one round trip (instead of two)."""
        rows = await self._scope.bind_and_read(tenant_id, statement, parameters, conflict=conflict)
        if rows is None:  # a tenant is bound already: the statement goes as any other
            await self._scope.bind(tenant_id)
            return await self._one_or_none(statement, parameters)
        return cast(RowMapping, rows[0]) if rows else None


# Built once: the worker runs them for every message it sends (see _Repository._execute).
_TENANT_BY_ID = sa.select(tenants).where(tenants.c.id == sa.bindparam("tenant_id"))
_CREDENTIALS_OF_TENANT = sa.select(tenant_credentials).where(
    tenant_credentials.c.tenant_id == sa.bindparam("tenant_id")
)
_TWILIO_SIGNERS = sa.select(
    senders.c.tenant_id,
    senders.c.phone_number,
    tenant_credentials.c.account_sid,
    tenant_credentials.c.auth_token_sealed,
).join(tenant_credentials, tenant_credentials.c.tenant_id == senders.c.tenant_id)
# Not named after a column: UPDATE reserves those names for its SET clause.
_THE_MESSAGE = (
    messages.c.tenant_id == sa.bindparam("of_tenant_id"),
    messages.c.id == sa.bindparam("of_message_id"),
)
_MESSAGE_BY_ID = sa.select(messages).where(*_THE_MESSAGE)
_RECORD_DISPATCH = (
    sa.update(messages)
    .where(*_THE_MESSAGE, messages.c.status == sa.bindparam("accepted"))
    .values(
        status=sa.bindparam("new_status"),
        provider_sid=sa.func.coalesce(
            messages.c.provider_sid, sa.bindparam("new_provider_sid", type_=messages.c.provider_sid.type)
        ),
        error_code=sa.bindparam("new_error_code", type_=messages.c.error_code.type),
        error_message=sa.bindparam("new_error_message", type_=messages.c.error_message.type),
        updated_at=sa.bindparam("new_updated_at", type_=messages.c.updated_at.type),
    )
)
_ATTACH_PROVIDER_SID = (
    sa.update(messages)
    .where(*_THE_MESSAGE, messages.c.provider_sid.is_(None))
    .values(provider_sid=sa.bindparam("new_provider_sid", type_=messages.c.provider_sid.type))
)


class SqlAlchemyTenantRepository(_Repository):
    def __init__(self, connection: AsyncConnection, scope: TenantScope, secret_box: SecretBox) -> None:
        super().__init__(connection, scope)
        self._secret_box = secret_box

    async def add(self, tenant: Tenant) -> None:
        await self._execute(
            sa.insert(tenants).values(
                id=tenant.id,
                name=tenant.name,
                provider=tenant.provider.value,
                status=tenant.status.value,
                session_window_check=tenant.session_window_check,
                sends_per_minute=tenant.sends_per_minute,
                sends_per_day=tenant.sends_per_day,
                created_at=tenant.created_at,
            ),
            conflict=f"a tenant named {tenant.name!r} exists already",
        )

    async def get(self, tenant_id: UUID) -> Tenant | None:
        row = await self._one_or_none(_TENANT_BY_ID, {"tenant_id": tenant_id})
        return _tenant_from_row(row) if row else None

    async def get_by_name(self, name: str) -> Tenant | None:
        row = await self._one_or_none(sa.select(tenants).where(tenants.c.name == name))
        return _tenant_from_row(row) if row else None

    async def count(self) -> int:
        result = await self._execute(sa.select(sa.func.count()).select_from(tenants))
        return int(result.scalar_one())

    async def update(self, tenant: Tenant) -> None:
        result = await self._execute(
            sa.update(tenants)
            .where(tenants.c.id == tenant.id)
            .values(
                name=tenant.name,
                provider=tenant.provider.value,
                status=tenant.status.value,
                session_window_check=tenant.session_window_check,
                sends_per_minute=tenant.sends_per_minute,
                sends_per_day=tenant.sends_per_day,
            ),
            conflict=f"a tenant named {tenant.name!r} exists already",
        )
        if result.rowcount == 0:
            raise NotFound(_TENANT_MISSING)

    async def list_page(self, limit: int, after_name: str | None = None) -> list[Tenant]:
        statement = sa.select(tenants)
        if after_name is not None:
            statement = statement.where(tenants.c.name > after_name)
        result = await self._execute(statement.order_by(tenants.c.name).limit(limit))
        return [_tenant_from_row(row) for row in result.mappings()]

    async def set_twilio_credentials(self, tenant_id: UUID, credentials: TwilioCredentials) -> None:
        await self._scope.bind(tenant_id)
        owner = _credentials_owner(tenant_id)
        values = {
            "tenant_id": tenant_id,
            "account_sid": credentials.account_sid,
            "auth_token_sealed": self._secret_box.seal(credentials.auth_token, owner),
            "api_key_sid": credentials.api_key_sid,
            "api_key_secret_sealed": (
                self._secret_box.seal(credentials.api_key_secret, owner)
                if credentials.api_key_secret
                else None
            ),
            # bookkeeping for operators, not a domain fact: the adapter's own clock is good enough
            "updated_at": datetime.now(UTC),
        }
        insert = _upsert_for(self._connection.dialect.name)
        statement = insert(tenant_credentials).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[tenant_credentials.c.tenant_id],
            set_={name: statement.excluded[name] for name in values if name != "tenant_id"},
        )
        await self._execute(statement)

    async def get_twilio_credentials(self, tenant_id: UUID) -> TwilioCredentials | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(_CREDENTIALS_OF_TENANT, {"tenant_id": tenant_id})
        return open_credentials(self._secret_box, row) if row else None

    async def twilio_signers(self) -> list[TwilioSigner]:
        await self._scope.cross_tenant()
        result = await self._execute(_TWILIO_SIGNERS)
        signers: list[TwilioSigner] = []
        unreadable: set[UUID] = set()
        for row in result.mappings():
            tenant_id = row["tenant_id"]
            try:
                auth_token = self._secret_box.open(row["auth_token_sealed"], _credentials_owner(tenant_id))
            except SecretDecryptionError:
                unreadable.add(tenant_id)
                continue
            signers.append(
                TwilioSigner(
                    tenant_id=tenant_id,
                    phone_number=PhoneNumber(row["phone_number"]),
                    account_sid=row["account_sid"],
                    auth_token=auth_token,
                )
            )
        for tenant_id in unreadable:
            logger.error("tenant %s: stored Twilio credentials do not open", tenant_id)
        return signers

    async def reseal_credentials(self) -> int:
        """Open every sealed secret with whichever key sealed it and seal it again with the newest key."""
        await self._scope.cross_tenant()
        result = await self._execute(sa.select(tenant_credentials))
        resealed = 0
        for row in result.mappings().all():
            changes = resealed_columns(
                self._secret_box,
                row,
                ("auth_token_sealed", "api_key_secret_sealed"),
                _credentials_owner(row["tenant_id"]),
            )
            if changes:
                await self._execute(
                    sa.update(tenant_credentials)
                    .where(tenant_credentials.c.tenant_id == row["tenant_id"])
                    .values(**changes)
                )
                resealed += 1
        return resealed


class SqlAlchemySenderRepository(_Repository):
    async def add(self, sender: Sender) -> None:
        await self._scope.bind(sender.tenant_id)
        await self._execute(
            sa.insert(senders).values(
                id=sender.id,
                tenant_id=sender.tenant_id,
                phone_number=sender.phone_number.e164,
                is_default=sender.is_default,
                label=sender.label,
                created_at=sender.created_at,
            ),
            conflict=(
                f"{sender.phone_number} is already a sender of this tenant"
                if not sender.is_default
                else f"{sender.phone_number} is already a sender, or the tenant has a default sender"
            ),
        )

    async def get_default(self, tenant_id: UUID) -> Sender | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.select(senders).where(senders.c.tenant_id == tenant_id, senders.c.is_default.is_(True))
        )
        return _sender_from_row(row) if row else None

    async def get_by_number(self, tenant_id: UUID, phone_number: PhoneNumber) -> Sender | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.select(senders)
            .where(senders.c.tenant_id == tenant_id, senders.c.phone_number.in_(phone_number.forms))
            # Two forms added at once get past the use case's check (see AddSender): the oldest counts.
            .order_by(senders.c.created_at)
            .limit(1)
        )
        return _sender_from_row(row) if row else None

    async def pause(self, tenant_id: UUID, phone_number: PhoneNumber, until: datetime) -> None:
        await self._scope.bind(tenant_id)
        await self._execute(
            sa.update(senders)
            .where(senders.c.tenant_id == tenant_id, senders.c.phone_number == phone_number.e164)
            .values(paused_until=until)
        )

    async def find_all_by_number(self, phone_number: PhoneNumber) -> list[Sender]:
        await self._scope.cross_tenant()
        result = await self._execute(
            sa.select(senders)
            .where(senders.c.phone_number.in_(phone_number.forms))
            .order_by(senders.c.created_at)
        )
        return [_sender_from_row(row) for row in result.mappings()]

    async def list_for_tenant(self, tenant_id: UUID) -> list[Sender]:
        await self._scope.bind(tenant_id)
        result = await self._execute(
            sa.select(senders)
            .where(senders.c.tenant_id == tenant_id)
            .order_by(senders.c.created_at, senders.c.phone_number)
        )
        return [_sender_from_row(row) for row in result.mappings()]

    async def get(self, tenant_id: UUID, sender_id: UUID) -> Sender | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.select(senders).where(senders.c.tenant_id == tenant_id, senders.c.id == sender_id)
        )
        return _sender_from_row(row) if row else None

    async def update_label(self, tenant_id: UUID, sender_id: UUID, label: str) -> None:
        await self._scope.bind(tenant_id)
        await self._execute(
            sa.update(senders)
            .where(senders.c.tenant_id == tenant_id, senders.c.id == sender_id)
            .values(label=label)
        )

    async def make_default(self, tenant_id: UUID, sender_id: UUID) -> None:
        await self._scope.bind(tenant_id)
        # The old default first: the partial unique index allows one default per tenant at any moment.
        await self._execute(
            sa.update(senders)
            .where(
                senders.c.tenant_id == tenant_id, senders.c.is_default.is_(True), senders.c.id != sender_id
            )
            .values(is_default=False)
        )
        try:
            await self._execute(
                sa.update(senders)
                .where(senders.c.tenant_id == tenant_id, senders.c.id == sender_id)
                .values(is_default=True)
            )
        except AlreadyExists as error:
            # Only the one-default index can refuse this row: another transaction made another sender
            # the default after the first UPDATE looked (read committed), and committed first.
            raise TransactionConflict() from error

    async def remove(self, tenant_id: UUID, sender_id: UUID) -> bool:
        await self._scope.bind(tenant_id)
        result = await self._execute(
            sa.delete(senders).where(senders.c.tenant_id == tenant_id, senders.c.id == sender_id)
        )
        return result.rowcount == 1


class SqlAlchemyUserRepository(_Repository):
    async def add(self, user: User) -> None:
        await self._scope.bind(user.tenant_id)
        await self._execute(
            sa.insert(users).values(
                id=user.id,
                tenant_id=user.tenant_id,
                username=user.username,
                password_hash=user.password_hash,
                role=user.role.value,
                is_active=user.is_active,
                created_at=user.created_at,
            ),
            conflict=f"the username {user.username!r} is taken",
        )

    async def get_by_username(self, username: str) -> User | None:
        await self._scope.cross_tenant()
        # usernames are unique across tenants: they are how a user logs in before any tenant is known
        row = await self._one_or_none(sa.select(users).where(users.c.username == username))
        return _user_from_row(row) if row else None

    async def update_password_hash(self, user_id: UUID, password_hash: str) -> None:
        await self._scope.by_key()
        await self._execute(sa.update(users).where(users.c.id == user_id).values(password_hash=password_hash))

    async def get_in_tenant(self, tenant_id: UUID, user_id: UUID) -> User | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.select(users).where(users.c.tenant_id == tenant_id, users.c.id == user_id)
        )
        return _user_from_row(row) if row else None

    async def list_for_tenant(self, tenant_id: UUID) -> list[User]:
        await self._scope.bind(tenant_id)
        result = await self._execute(
            sa.select(users).where(users.c.tenant_id == tenant_id).order_by(users.c.username)
        )
        return [_user_from_row(row) for row in result.mappings()]

    async def update(self, user: User) -> None:
        await self._scope.bind(user.tenant_id)
        result = await self._execute(
            sa.update(users)
            .where(users.c.tenant_id == user.tenant_id, users.c.id == user.id)
            .values(role=user.role.value, is_active=user.is_active, password_hash=user.password_hash)
        )
        if result.rowcount == 0:
            raise NotFound("no such user")


class SqlAlchemyMessageRepository(_Repository):
    async def add(self, message: Message) -> None:
        await self._scope.bind(message.tenant_id)
        await self._execute(
            sa.insert(messages).values(id=message.id, **_message_values(message)),
            conflict="the message exists already",
        )

    async def update(self, message: Message) -> None:
        """Overwrite the stored message; NotFound if this tenant has no message with its id."""
        await self._scope.bind(message.tenant_id)
        result = await self._execute(
            sa.update(messages)
            .where(messages.c.id == message.id, messages.c.tenant_id == message.tenant_id)
            .values(**_message_values(message)),
            conflict="another message has this provider id",
        )
        if result.rowcount == 0:
            raise NotFound("no such message")

    async def get(self, tenant_id: UUID, message_id: UUID) -> Message | None:
        await self._scope.bind(tenant_id)
        parameters = {"of_tenant_id": tenant_id, "of_message_id": message_id}
        row = await self._one_or_none(_MESSAGE_BY_ID, parameters)
        return _message_from_row(row) if row else None

    async def get_by_provider_sid(self, provider_sid: str) -> Message | None:
        await self._scope.cross_tenant()
        row = await self._one_or_none(sa.select(messages).where(messages.c.provider_sid == provider_sid))
        return _message_from_row(row) if row else None

    async def attach_provider_sid(self, tenant_id: UUID, message_id: UUID, provider_sid: str) -> bool:
        await self._scope.bind(tenant_id)
        parameters = {
            "of_tenant_id": tenant_id,
            "of_message_id": message_id,
            "new_provider_sid": provider_sid,
        }
        result = await self._execute(
            _ATTACH_PROVIDER_SID, parameters, conflict="another message has this provider id"
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
            )
            for row in result.mappings()
        ]

    async def list_page(self, query: HistoryQuery) -> list[Message]:
        await self._scope.bind(query.tenant_id)
        result = await self._execute(*_history_statement(query, views=False))
        return [_message_from_row(row) for row in result.mappings()]

    async def list_views(self, query: HistoryQuery) -> list[MessageView]:
        statement, parameters = _history_statement(query, views=True)
        # One round trip when the page is all its transaction reads (PostgreSQL), else as any statement.
        rows: Sequence[Sequence[Any]] | None
        rows = await self._scope.read_alone(query.tenant_id, statement, parameters)
        if rows is None:
            await self._scope.bind(query.tenant_id)
            rows = (await self._execute(statement, parameters)).all()
        # Positional: the view's columns are selected in its field order (_VIEW_COLUMNS).
        return [MessageView._make((row[0], _DIRECTIONS[row[1]], _STATUSES[row[2]], *row[3:])) for row in rows]

    async def advance_status(self, change: StatusChange, now: datetime) -> Message | None:
        """One conditional UPDATE decides, so concurrent reports cannot move a message backwards.

        Every distinct report about a known message is logged, applied or not; a report about an
        unknown provider id changes nothing and is not logged (there is no message to attach it to).
        A repeat of a logged report (same provider message, status and error code) is not logged
        again (the unique index decides, concurrent repeats included), and never applies: the status
        it names was reached or passed when the first one came.
        """
        await self._scope.cross_tenant()
        movable_from = [status.value for status in MessageStatus if status.can_advance_to(change.status)]
        changes: dict[str, Any] = {"status": change.status.value, "updated_at": now}
        # A report without an error leaves an earlier error in place rather than erasing it.
        if change.error_code is not None:
            changes["error_code"] = change.error_code
        if change.error_message is not None:
            changes["error_message"] = change.error_message
        updated = await self._one_or_none(
            sa.update(messages)
            .where(messages.c.provider_sid == change.provider_sid, messages.c.status.in_(movable_from))
            .values(changes)
            .returning(*messages.c)
        )
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
        insert = _upsert_for(self._connection.dialect.name)
        await self._execute(
            insert(message_status_events)
            .values(
                message_id=message_id,
                tenant_id=tenant_id,
                provider_sid=change.provider_sid,
                status=change.status.value,
                error_code=change.error_code,
                error_message=change.error_message,
                applied=updated is not None,
                received_at=now,
            )
            .on_conflict_do_nothing()
        )
        return _message_from_row(updated) if updated is not None else None


def _history_statement(query: HistoryQuery, *, views: bool) -> tuple[sa.Select[Any], dict[str, Any]]:
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
    return _history_page(frozenset(parameters), views), parameters


_CONTACT, _OTHER_FORM = "contact", "contact_other_form"
_LIMIT = sa.bindparam("limit", type_=sa.Integer())
_OUTBOUND = messages.c.direction == Direction.OUTBOUND.value
# MessageView's fields, in its order.
_VIEW_COLUMNS = (
    messages.c.id,
    messages.c.direction,
    messages.c.status,
    sa.case((_OUTBOUND, messages.c.sender_number), else_=messages.c.contact_number).label("from_number"),
    sa.case((_OUTBOUND, messages.c.contact_number), else_=messages.c.sender_number).label("to_number"),
    messages.c.body,
    messages.c.media_urls,
    messages.c.content_sid,
    messages.c.content_variables,
    messages.c.profile_name,
    messages.c.provider_sid,
    messages.c.error_code,
    messages.c.error_message,
    messages.c.created_at,
    messages.c.updated_at,
)
_DIRECTIONS = {direction.value: direction for direction in Direction}
_STATUSES = {status.value: status for status in MessageStatus}


@functools.cache
def _history_page(filters: frozenset[str], views: bool) -> sa.Select[Any]:
    """The history query for one combination of filters (named by their parameters), built once;
    ``views``: only the columns of a MessageView."""
    if _OTHER_FORM not in filters:
        return _first_rows(_history_rows(filters, views, _CONTACT))
    # A contact written in two forms: a page of each form, each read in page order from
    # ix_messages_contact_history, then merged (PostgreSQL plans a Merge Append): at most two pages
    # read, rather than every message of the contact read and sorted.
    pages = [
        _first_rows(_history_rows(filters, views, form)).subquery(f"{form}_page")
        for form in (_CONTACT, _OTHER_FORM)
    ]
    both = sa.union_all(*(sa.select(*page.c) for page in pages)).subquery("either_form")
    return sa.select(*both.c).order_by(both.c.created_at.desc(), both.c.id.desc()).limit(_LIMIT)


def _first_rows(statement: sa.Select[Any]) -> sa.Select[Any]:
    return statement.order_by(messages.c.created_at.desc(), messages.c.id.desc()).limit(_LIMIT)


def _history_rows(filters: frozenset[str], views: bool, contact: str) -> sa.Select[Any]:
    """The rows a history page is taken from, unordered; the contact's form is parameter ``contact``."""
    columns = _VIEW_COLUMNS if views else tuple(messages.c)
    statement = sa.select(*columns).where(messages.c.tenant_id == sa.bindparam("tenant_id"))
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
    return statement


class SqlAlchemyConversationRepository(_Repository):
    async def record_message(self, message: Message) -> None:
        """One upsert: create the conversation, or move it forward if ``message`` is newer than its last."""
        await self._scope.bind(message.tenant_id)
        statement = conversation_upsert(conversation_values(message), self._connection.dialect.name)
        await self._execute(statement)

    async def get(self, tenant_id: UUID, contact: PhoneNumber) -> Conversation | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.select(conversations).where(
                conversations.c.tenant_id == tenant_id,
                conversations.c.contact_identity == contact.identity,
            )
        )
        return _conversation_from_row(row) if row else None

    async def list_page(self, query: ConversationQuery) -> list[Conversation]:
        await self._scope.bind(query.tenant_id)
        statement = sa.select(conversations).where(conversations.c.tenant_id == query.tenant_id)
        if query.after is not None:
            statement = statement.where(
                sa.tuple_(conversations.c.last_message_at, conversations.c.id)
                < sa.tuple_(
                    sa.literal(query.after.last_message_at, UtcDateTime()),
                    sa.literal(query.after.conversation_id, sa.Uuid()),
                )
            )
        statement = statement.order_by(
            conversations.c.last_message_at.desc(), conversations.c.id.desc()
        ).limit(query.limit)
        result = await self._execute(statement)
        return [_conversation_from_row(row) for row in result.mappings()]


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
    }


def conversation_upsert(values: Mapping[str, Any], dialect_name: str) -> Any:
    """The upsert that makes a message its conversation's latest (see ``record_message``); ``values``
    are ``conversation_values`` (or bind parameters standing for them)."""
    insert = _upsert_for(dialect_name)
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
        },
    )


def _conversation_from_row(row: RowMapping) -> Conversation:
    return Conversation(
        id=row["id"],
        tenant_id=row["tenant_id"],
        contact=PhoneNumber(row["contact_number"]),
        sender=PhoneNumber(row["sender_number"]),
        last_message_id=row["last_message_id"],
        last_message_at=row["last_message_at"],
        last_direction=Direction(row["last_direction"]),
        last_message_preview=row["last_message_preview"],
        last_inbound_at=row["last_inbound_at"],
        profile_name=row["profile_name"],
        created_at=row["created_at"],
    )


def resealed_columns(
    secret_box: SecretBox, row: RowMapping, columns: Sequence[str], owner: bytes
) -> dict[str, bytes]:
    """The sealed ``columns`` of ``row`` that are not under the newest key, sealed again under it."""
    changes: dict[str, bytes] = {}
    for column in columns:
        sealed = row[column]
        if sealed is None or secret_box.is_current(sealed):
            continue
        try:
            changes[column] = secret_box.seal(secret_box.open(sealed, owner), owner)
        except SecretDecryptionError as error:
            raise CredentialsUnreadable() from error
    return changes


def open_credentials(secret_box: SecretBox, row: RowMapping) -> TwilioCredentials:
    """A ``tenant_credentials`` row with its secrets opened."""
    owner = _credentials_owner(row["tenant_id"])
    try:
        auth_token = secret_box.open(row["auth_token_sealed"], owner)
        api_key_secret = (
            secret_box.open(row["api_key_secret_sealed"], owner) if row["api_key_secret_sealed"] else None
        )
    except SecretDecryptionError as error:
        raise CredentialsUnreadable() from error
    return TwilioCredentials(
        account_sid=row["account_sid"],
        auth_token=auth_token,
        api_key_sid=row["api_key_sid"],
        api_key_secret=api_key_secret,
    )


def _record_dispatch_parameters(message: Message) -> dict[str, Any]:
    """``_RECORD_DISPATCH``'s change: the message's outcome, written if it is still accepted."""
    return {
        "accepted": MessageStatus.ACCEPTED.value,
        "new_status": message.status.value,
        "new_provider_sid": message.provider_sid,
        "new_error_code": message.error_code,
        "new_error_message": message.error_message,
        "new_updated_at": message.updated_at,
    }


def _credentials_owner(tenant_id: UUID) -> bytes:
    """The associated data that binds a sealed secret to its tenant's row."""
    return b"tenant:" + tenant_id.bytes


def _upsert_for(dialect_name: str) -> Any:
    """``INSERT ... ON CONFLICT`` is spelled the same on both dialects but built by each one's ``insert``."""
    if dialect_name == "postgresql":
        return postgresql.insert
    if dialect_name == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"no upsert for the {dialect_name} dialect")


def _message_values(message: Message) -> dict[str, Any]:
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
    }


# Rows come from our own schema and were validated on the way in, so PhoneNumber is rebuilt from its
# stored E.164 form instead of being parsed again (parsing is not free, and rules change over time).


def _tenant_from_row(row: RowMapping) -> Tenant:
    return Tenant(
        id=row["id"],
        name=row["name"],
        provider=ProviderName(row["provider"]),
        status=TenantStatus(row["status"]),
        session_window_check=row["session_window_check"],
        sends_per_minute=row["sends_per_minute"],
        sends_per_day=row["sends_per_day"],
        created_at=row["created_at"],
    )


def _sender_from_row(row: RowMapping) -> Sender:
    return Sender(
        id=row["id"],
        tenant_id=row["tenant_id"],
        phone_number=PhoneNumber(row["phone_number"]),
        is_default=row["is_default"],
        label=row["label"],
        created_at=row["created_at"],
    )


def _user_from_row(row: RowMapping) -> User:
    return User(
        id=row["id"],
        tenant_id=row["tenant_id"],
        username=row["username"],
        password_hash=row["password_hash"],
        role=Role(row["role"]),
        is_active=row["is_active"],
        created_at=row["created_at"],
    )


def _message_from_row(row: RowMapping) -> Message:
    return Message(
        id=row["id"],
        tenant_id=row["tenant_id"],
        direction=Direction(row["direction"]),
        sender=PhoneNumber(row["sender_number"]),
        contact=PhoneNumber(row["contact_number"]),
        content=MessageContent(
            body=row["body"],
            media_urls=tuple(row["media_urls"]),
            template=Template.of(row["content_sid"], row["content_variables"])
            if row["content_sid"]
            else None,
        ),
        status=MessageStatus(row["status"]),
        provider_sid=row["provider_sid"],
        error_code=row["error_code"],
        error_message=row["error_message"],
        profile_name=row["profile_name"],
        wa_id=row["wa_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
