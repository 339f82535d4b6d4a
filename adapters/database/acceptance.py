"""Accepting an outbound message in few round trips: one read, then one write statement on PostgreSQL,
sent with the transaction's COMMIT when the caller says it is the last.

The accept path is the gateway's busiest write. Through the separate repositories it costs a statement
each for the key, the message, the conversation, the contact and the job; on PostgreSQL the five are
data-modifying
CTEs of one statement (they run against one snapshot; the foreign keys are checked at its end, so the
job may refer to the message inserted beside it). SQLite runs the same statements one by one.
"""

from __future__ import annotations

import functools
import operator
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from adapters.database.consent import policy_from_row
from adapters.database.repository import TENANT_MISSING, SqlAlchemyRepository
from adapters.database.rows import (
    contact_values,
    conversation_values,
    job_values,
    key_values,
    labelled,
    message_values,
    sender_from_row,
    tenant_from_row,
    unprefixed,
)
from adapters.database.statements import KEY_IN_USE, contact_upsert, conversation_upsert, hold_key_statement
from adapters.database.tables import (
    consent_policies,
    consent_states,
    contacts,
    conversations,
    dispatch_jobs,
    idempotency_keys,
    messages,
    provider_accounts,
    senders,
    tenants,
)
from application.errors import AlreadyExists
from application.ports.consent import SendConsent
from application.ports.dispatch_queue import DispatchJob
from application.ports.messages import IdempotencyRecord, SendingProfile, WriteRefused
from domain.administration.tenancy import ProviderName
from domain.consent.model import ConsentPolicy, ConsentState
from domain.messaging.conversations import SESSION_WINDOW
from domain.messaging.messages import Message
from domain.phone import PhoneNumber

_TENANT = "t_"
_SENDER = "s_"
_POLICY = "cp_"
_OPTED_OUT = "opted_out"
# The job's columns the accept writes (its lease columns start empty).
_JOB_COLUMNS = (
    "message_id",
    "tenant_id",
    "sender_number",
    "phase",
    "attempts",
    "available_at",
    "last_error",
    "created_at",
)


def _sending_profile_query(sender_matches: sa.ColumnElement[bool]) -> sa.Select[Any]:
    account_provider = (
        sa.select(provider_accounts.c.provider)
        .where(provider_accounts.c.id == senders.c.account_id)
        .scalar_subquery()
        .label("account_provider")
    )
    # The recipient's opt-out (and the tenant's policy, when it has its own), when they opted out:
    # one index lookup that finds nothing for anyone else (as ``refusal_for``).
    opted_out = sa.and_(
        consent_states.c.tenant_id == tenants.c.id,
        consent_states.c.identity == sa.bindparam("recipient", type_=consent_states.c.identity.type),
        consent_states.c.state == ConsentState.OPTED_OUT.value,
    )
    return (
        sa.select(
            *labelled(tenants, _TENANT),
            *labelled(senders, _SENDER),
            account_provider,
            consent_states.c.state.label(_OPTED_OUT),
            *labelled(consent_policies, _POLICY),
        )
        .select_from(
            tenants.outerjoin(senders, sa.and_(senders.c.tenant_id == tenants.c.id, sender_matches))
            .outerjoin(consent_states, opted_out)
            .outerjoin(consent_policies, consent_policies.c.tenant_id == consent_states.c.tenant_id)
        )
        .where(tenants.c.id == sa.bindparam("tenant_id"))
    )


# Built once: they run on every accepted message.
_WITH_DEFAULT_SENDER = _sending_profile_query(senders.c.is_default.is_(True))
_WITH_NAMED_SENDER = _sending_profile_query(senders.c.phone_number == sa.bindparam("sender_number"))


def _parameters_for(table: sa.Table, prefix: str) -> dict[str, sa.BindParameter[Any]]:
    """A bind parameter per column, typed as the column (so timestamps and JSON are bound as usual)."""
    return {column.name: sa.bindparam(prefix + column.name, type_=column.type) for column in table.c}


@functools.cache
def _accept_statement(with_key: bool) -> sa.Select[Any]:
    """The PostgreSQL accept, built once per shape: message, conversation, contact (when new) and job
    (and the key) as data-modifying CTEs of one statement, which counts the key rows written (0: the key
    is held)."""
    message_columns = _parameters_for(messages, "m_")
    conversation_columns = _parameters_for(conversations, "c_")
    contact_columns = _parameters_for(contacts, "ct_")
    job_columns = _parameters_for(dispatch_jobs, "j_")
    writes = (
        sa.insert(messages).values(message_columns).returning(messages.c.id).cte("accepted_message"),
        conversation_upsert(conversation_columns, "postgresql")
        .returning(conversations.c.id)
        .cte("its_conversation"),
        contact_upsert(contact_columns, "postgresql", inbound=False)
        .returning(contacts.c.id)
        .cte("its_contact"),
        sa.insert(dispatch_jobs)
        .values({name: job_columns[name] for name in _JOB_COLUMNS})
        .returning(dispatch_jobs.c.message_id)
        .cte("its_job"),
    )
    if not with_key:
        return sa.select(sa.literal(1)).add_cte(*writes)
    key_columns = _parameters_for(idempotency_keys, "k_")
    held = hold_key_statement(key_columns, "postgresql").returning(idempotency_keys.c.key).cte("held_key")
    return sa.select(sa.func.count()).select_from(held).add_cte(*writes)


# Whether the recipient (``opt_out_identity``) opted out at the tenant (``opt_out_tenant_id``).
_OPTED_OUT_EXISTS = sa.exists().where(
    consent_states.c.tenant_id == sa.bindparam("opt_out_tenant_id", type_=consent_states.c.tenant_id.type),
    consent_states.c.identity == sa.bindparam("opt_out_identity", type_=consent_states.c.identity.type),
    consent_states.c.state == ConsentState.OPTED_OUT.value,
)


# Whether the recipient's conversation (``window_identity`` at ``window_tenant_id``) has an inbound
# message after ``window_opened_after``: their 24-hour window is open (domain Conversation.window_open).
_WINDOW_OPEN_EXISTS = sa.exists().where(
    conversations.c.tenant_id == sa.bindparam("window_tenant_id", type_=conversations.c.tenant_id.type),
    conversations.c.contact_identity
    == sa.bindparam("window_identity", type_=conversations.c.contact_identity.type),
    conversations.c.last_inbound_at
    > sa.bindparam("window_opened_after", type_=conversations.c.last_inbound_at.type),
)


@functools.cache
def _accept_and_commit_statement(
    with_key: bool, unless_opted_out: bool, only_in_window: bool
) -> sa.Select[Any]:
    """``_accept_statement`` to be sent with its COMMIT: it fails by dividing by zero, so that the
    COMMIT after it does not run, when the key is held (dividing by the count of key rows written),
    ``unless_opted_out`` when the recipient opted out, and ``only_in_window`` when their window is
    closed. The subqueries see the rows as they were before the statement, as a read first would."""
    accept = _accept_statement(with_key)
    divisors: list[sa.ColumnElement[Any]] = [sa.func.count()] if with_key else []
    if unless_opted_out:
        divisors.append(sa.case((_OPTED_OUT_EXISTS, 0), else_=1))
    if only_in_window:
        divisors.append(sa.case((_WINDOW_OPEN_EXISTS, 1), else_=0))
    if not divisors:
        return accept
    return accept.with_only_columns(sa.literal(1) / functools.reduce(operator.mul, divisors))


def _check_parameters(
    message: Message, unless_opted_out: str | None, only_in_window_at: datetime | None
) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    if unless_opted_out is not None:
        parameters.update(opt_out_tenant_id=message.tenant_id, opt_out_identity=unless_opted_out)
    if only_in_window_at is not None:
        parameters.update(
            window_tenant_id=message.tenant_id,
            window_identity=message.contact.identity,
            window_opened_after=only_in_window_at - SESSION_WINDOW,
        )
    return parameters


def _prefixed(values: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {prefix + name: value for name, value in values.items()}


class SqlAlchemyMessageAcceptance(SqlAlchemyRepository):
    async def sending_profile(
        self, tenant_id: UUID, sender_number: PhoneNumber | None, recipient: str | None = None
    ) -> SendingProfile | None:
        statement = _WITH_DEFAULT_SENDER if sender_number is None else _WITH_NAMED_SENDER
        parameters: dict[str, Any] = {"tenant_id": tenant_id, "recipient": recipient}
        if sender_number is not None:
            parameters["sender_number"] = sender_number.e164
        row = await self._bound_one_or_none(tenant_id, statement, parameters)
        if row is None:
            return None
        tenant = tenant_from_row(unprefixed(row, _TENANT))
        sender = sender_from_row(unprefixed(row, _SENDER)) if row[_SENDER + "id"] is not None else None
        provider = row["account_provider"]
        refusal = None
        if row[_OPTED_OUT] is not None:
            # Without a policy of its own, the tenant keeps the default one.
            policy = unprefixed(row, _POLICY)
            refusal = SendConsent(
                ConsentPolicy(tenant_id=tenant.id)
                if policy["updated_at"] is None
                else policy_from_row(tenant.id, policy)
            )
        return SendingProfile(
            tenant, sender, ProviderName(provider) if provider else tenant.provider, refusal
        )

    async def add(
        self,
        message: Message,
        job: DispatchJob,
        idempotency: IdempotencyRecord | None,
        *,
        commit: bool = False,
        unless_opted_out: str | None = None,
        only_in_window_at: datetime | None = None,
    ) -> None:
        checks = _check_parameters(message, unless_opted_out, only_in_window_at)
        dialect = self._connection.dialect.name
        if dialect != "postgresql":
            await self._scope.bind(message.tenant_id)
            await self._refuse_unless_allowed(checks)
            try:
                await self._add_one_by_one(message, job, idempotency, dialect)
            except AlreadyExists as held:
                if not checks or str(held) != KEY_IN_USE:
                    raise
                raise WriteRefused() from held
            return
        parameters = {
            **_prefixed({"id": message.id, **message_values(message)}, "m_"),
            **_prefixed(conversation_values(message), "c_"),
            **_prefixed(contact_values(message), "ct_"),
            **_prefixed(job_values(job), "j_"),
            **checks,
        }
        if idempotency is not None:
            parameters.update(_prefixed(key_values(idempotency), "k_"))
        if commit:
            # The write and its COMMIT in one round trip; a held key (or a check refusing) fails the
            # statement, so the COMMIT after it does not run and the unit of work rolls the rest back.
            await self._scope.write_and_commit(
                message.tenant_id,
                _accept_and_commit_statement(
                    with_key=idempotency is not None,
                    unless_opted_out=unless_opted_out is not None,
                    only_in_window=only_in_window_at is not None,
                ),
                parameters,
                conflict="the record exists already",
                missing_reference=TENANT_MISSING,
                aborted=WriteRefused() if checks else AlreadyExists(KEY_IN_USE),
            )
            return
        await self._scope.bind(message.tenant_id)
        await self._refuse_unless_allowed(checks)
        if idempotency is None:
            await self._execute(_accept_statement(with_key=False), parameters)
            return
        result = await self._execute(_accept_statement(with_key=True), parameters)
        if result.scalar_one() == 0:
            # The key is held: the message, conversation and job written beside it go with the rollback.
            raise WriteRefused() if checks else AlreadyExists(KEY_IN_USE)

    async def _refuse_unless_allowed(self, checks: dict[str, Any]) -> None:
        """Raise WriteRefused if a check of ``checks`` (``_check_parameters``) refuses the write."""
        if (
            "opt_out_identity" in checks
            and (await self._execute(sa.select(_OPTED_OUT_EXISTS), checks)).scalar_one()
        ):
            raise WriteRefused()
        if (
            "window_identity" in checks
            and not (await self._execute(sa.select(_WINDOW_OPEN_EXISTS), checks)).scalar_one()
        ):
            raise WriteRefused()

    async def _add_one_by_one(
        self, message: Message, job: DispatchJob, idempotency: IdempotencyRecord | None, dialect: str
    ) -> None:
        if idempotency is not None:
            held = hold_key_statement(key_values(idempotency), dialect).returning(idempotency_keys.c.key)
            if await self._one_or_none(held) is None:
                raise AlreadyExists(KEY_IN_USE)
        await self._execute(sa.insert(messages).values(id=message.id, **message_values(message)))
        await self._execute(conversation_upsert(conversation_values(message), dialect))
        await self._execute(contact_upsert(contact_values(message), dialect, inbound=False))
        await self._execute(sa.insert(dispatch_jobs).values(job_values(job)))
