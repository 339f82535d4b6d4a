"""Consent on SQLAlchemy Core: the current state per person, the append-only ledger, the policy.

The send path reads one row: the recipient's state joined with the tenant's policy, found only when the
recipient opted out (``refusal_for``), so a message to anyone else costs one index lookup that finds
nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from adapters.database.repository import SqlAlchemyRepository
from adapters.database.statements import upsert_for
from adapters.database.tables import consent_ledger, consent_policies, consent_states
from application.ports.consent import LedgerQuery, SendConsent
from domain.consent.model import (
    ConsentChange,
    ConsentPolicy,
    ConsentRecord,
    ConsentSource,
    ConsentState,
    KeywordMode,
)
from domain.templates.definition import TemplateCategory

# Identities are asked about in chunks of this many (one bound parameter each).
_CHUNK = 500

_POLICY_COLUMNS = [column for column in consent_policies.c if column.name != "tenant_id"]
_REFUSAL = (
    sa.select(consent_states.c.state, *_POLICY_COLUMNS)
    .select_from(
        consent_states.outerjoin(consent_policies, consent_policies.c.tenant_id == consent_states.c.tenant_id)
    )
    .where(
        consent_states.c.tenant_id == sa.bindparam("tenant_id"),
        consent_states.c.identity == sa.bindparam("identity"),
        consent_states.c.state == ConsentState.OPTED_OUT.value,
    )
)


class SqlAlchemyConsentRepository(SqlAlchemyRepository):
    async def current(self, tenant_id: UUID, identity: str) -> ConsentRecord | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.select(consent_states).where(
                consent_states.c.tenant_id == tenant_id, consent_states.c.identity == identity
            )
        )
        return _record_from_row(row) if row is not None else None

    async def record(self, change: ConsentChange) -> ConsentChange:
        await self._scope.bind(change.tenant_id)
        record = change.as_record()
        values = {
            "tenant_id": record.tenant_id,
            "identity": record.identity,
            "number": record.number,
            "state": record.state.value,
            "source": record.source.value,
            "changed_at": record.changed_at,
        }
        statement = upsert_for(self._connection.dialect.name)(consent_states).values(values)
        # One statement, race-free: the row is written (and returned) only when it is new or its state
        # differs, so of two concurrent STOPs exactly one changes the state.
        upsert = statement.on_conflict_do_update(
            index_elements=[consent_states.c.tenant_id, consent_states.c.identity],
            set_={name: statement.excluded[name] for name in values if name not in ("tenant_id", "identity")},
            where=consent_states.c.state != statement.excluded.state,
        ).returning(consent_states.c.identity)
        changed = (await self._execute(upsert)).first() is not None
        sequence = (
            await self._execute(
                sa.insert(consent_ledger)
                .values(
                    id=change.id,
                    tenant_id=change.tenant_id,
                    identity=change.identity,
                    number=change.number,
                    state=change.state.value,
                    source=change.source.value,
                    actor=change.actor,
                    evidence_message_id=change.evidence_message_id,
                    note=change.note,
                    changed=changed,
                    at=change.at,
                )
                .returning(consent_ledger.c.sequence),
                conflict="the consent change is recorded already",
            )
        ).scalar_one()
        return _with(change, changed=changed, sequence=sequence)

    async def ledger_page(self, query: LedgerQuery) -> list[ConsentChange]:
        await self._scope.bind(query.tenant_id)
        statement = sa.select(consent_ledger).where(consent_ledger.c.tenant_id == query.tenant_id)
        if query.identity is not None:
            statement = statement.where(consent_ledger.c.identity == query.identity)
        if query.newest_first:
            statement = statement.order_by(consent_ledger.c.sequence.desc())
        else:
            if query.after is not None:
                statement = statement.where(consent_ledger.c.sequence > query.after)
            statement = statement.order_by(consent_ledger.c.sequence)
        statement = statement.limit(query.limit)
        result = await self._execute(statement)
        return [_change_from_row(row) for row in result.mappings()]

    async def policy(self, tenant_id: UUID) -> ConsentPolicy | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.select(consent_policies).where(consent_policies.c.tenant_id == tenant_id)
        )
        return policy_from_row(tenant_id, row) if row is not None else None

    async def save_policy(self, policy: ConsentPolicy) -> None:
        if policy.updated_at is None:
            raise ValueError("a stored consent policy has the time it was set")
        await self._scope.bind(policy.tenant_id)
        values: dict[str, Any] = {
            "tenant_id": policy.tenant_id,
            "opt_out_keywords": list(policy.opt_out_keywords),
            "opt_in_keywords": list(policy.opt_in_keywords),
            "keyword_mode": policy.keyword_mode.value,
            "opt_out_reply": policy.opt_out_reply,
            "opt_in_reply": policy.opt_in_reply,
            "allowed_categories": sorted(category.value for category in policy.allowed_categories),
            "updated_at": policy.updated_at,
        }
        statement = upsert_for(self._connection.dialect.name)(consent_policies).values(values)
        await self._execute(
            statement.on_conflict_do_update(
                index_elements=[consent_policies.c.tenant_id],
                set_={name: statement.excluded[name] for name in values if name != "tenant_id"},
            )
        )

    async def refusal_for(self, tenant_id: UUID, identity: str) -> SendConsent | None:
        row = await self._bound_one_or_none(
            tenant_id, _REFUSAL, {"tenant_id": tenant_id, "identity": identity}
        )
        if row is None:
            return None
        if row["updated_at"] is None:  # opted out, and the tenant keeps the default policy
            return SendConsent(ConsentPolicy(tenant_id=tenant_id))
        return SendConsent(policy_from_row(tenant_id, row))

    async def opted_out_among(self, tenant_id: UUID, identities: Collection[str]) -> frozenset[str]:
        await self._scope.bind(tenant_id)
        asked = sorted(set(identities))
        found: set[str] = set()
        for start in range(0, len(asked), _CHUNK):
            result = await self._execute(
                sa.select(consent_states.c.identity).where(
                    consent_states.c.tenant_id == tenant_id,
                    consent_states.c.state == ConsentState.OPTED_OUT.value,
                    consent_states.c.identity.in_(asked[start : start + _CHUNK]),
                )
            )
            found.update(result.scalars())
        return frozenset(found)


def _with(change: ConsentChange, *, changed: bool, sequence: int) -> ConsentChange:
    return ConsentChange(
        tenant_id=change.tenant_id,
        identity=change.identity,
        number=change.number,
        state=change.state,
        source=change.source,
        actor=change.actor,
        at=change.at.astimezone(UTC),  # as it reads back
        changed=changed,
        evidence_message_id=change.evidence_message_id,
        note=change.note,
        id=change.id,
        sequence=sequence,
    )


def _record_from_row(row: RowMapping) -> ConsentRecord:
    return ConsentRecord(
        tenant_id=row["tenant_id"],
        identity=row["identity"],
        number=row["number"],
        state=ConsentState(row["state"]),
        source=ConsentSource(row["source"]),
        changed_at=row["changed_at"],
    )


def _change_from_row(row: RowMapping) -> ConsentChange:
    return ConsentChange(
        tenant_id=row["tenant_id"],
        identity=row["identity"],
        number=row["number"],
        state=ConsentState(row["state"]),
        source=ConsentSource(row["source"]),
        actor=row["actor"],
        at=row["at"],
        changed=row["changed"],
        evidence_message_id=row["evidence_message_id"],
        note=row["note"],
        id=row["id"],
        sequence=row["sequence"],
    )


def policy_from_row(tenant_id: UUID, row: RowMapping) -> ConsentPolicy:
    return ConsentPolicy(
        tenant_id=tenant_id,
        opt_out_keywords=tuple(row["opt_out_keywords"]),
        opt_in_keywords=tuple(row["opt_in_keywords"]),
        keyword_mode=KeywordMode(row["keyword_mode"]),
        opt_out_reply=row["opt_out_reply"],
        opt_in_reply=row["opt_in_reply"],
        allowed_categories=frozenset(TemplateCategory(value) for value in row["allowed_categories"]),
        updated_at=row["updated_at"],
    )
