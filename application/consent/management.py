"""Consent over the API: a person's state and its history, the ledger, setting a state by hand, and the
tenant's consent policy.

Agents and tenant admins read consent and set a person's state (a customer who asked by phone or email
to stop); tenant admins alone change the policy. Each change set by hand and each policy change is in the
audit trail; a state set by hand that changes the state raises ``consent.changed`` like a keyword does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from application.audit_entries import audit_entry
from application.authorization import require_tenant_admin
from application.errors import AccessDenied
from application.pagination import decode_ledger_cursor, encode_ledger_cursor
from application.ports.clock import Clock
from application.ports.consent import LedgerQuery
from application.ports.unit_of_work import UnitOfWork
from application.principal import Principal
from application.tenant_webhooks.events import record_consent_changed
from domain.administration.audit import AuditAction, TargetKind
from domain.administration.tenancy import Role
from domain.consent.model import (
    DEFAULT_ALLOWED_CATEGORIES,
    ConsentChange,
    ConsentPolicy,
    ConsentRecord,
    ConsentSource,
    ConsentState,
    KeywordMode,
)
from domain.phone import PhoneNumber
from domain.templates.definition import TemplateCategory

# How many of a person's latest changes GET /api/consent/{phone} shows beside the state.
RECENT_CHANGES = 20
_READERS = frozenset({Role.AGENT, Role.TENANT_ADMIN})


def require_consent_reader(principal: Principal) -> None:
    """Agents and tenant admins read consent and set a person's state; platform admins do not."""
    if principal.role not in _READERS:
        raise AccessDenied(f"the {principal.role.value} role may not read or set a tenant's consent")


def actor_of(principal: Principal) -> str:
    """Who made a change, as the ledger names them."""
    if principal.user_id is not None:
        return f"user:{principal.user_id}"
    return f"api_key:{principal.api_key_id}"


@dataclass(frozen=True, slots=True)
class ConsentView:
    """A person's consent: the current state (None: never asked, may be messaged) and the latest
    changes, newest first."""

    number: PhoneNumber
    record: ConsentRecord | None
    recent: list[ConsentChange] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LedgerPage:
    entries: list[ConsentChange]
    next_cursor: str | None


class GetConsent:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, phone: str) -> ConsentView:
        require_consent_reader(principal)
        number = PhoneNumber.parse(phone)
        tenant_id = principal.tenant_id
        async with self._uow:
            record = await self._uow.consent.current(tenant_id, number.identity)
            recent = await self._uow.consent.ledger_page(
                LedgerQuery(
                    tenant_id=tenant_id, limit=RECENT_CHANGES, identity=number.identity, newest_first=True
                )
            )
        return ConsentView(number=number, record=record, recent=recent)


class ListConsentLedger:
    """The tenant's ledger oldest first, a keyset page at a time: ``after`` is the ``next_cursor`` of the
    page before (a client that keeps the last one polls for new changes)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(
        self, principal: Principal, *, phone: str | None, after: str | None, limit: int
    ) -> LedgerPage:
        require_consent_reader(principal)
        identity = PhoneNumber.parse(phone).identity if phone is not None else None
        position = decode_ledger_cursor(after) if after is not None else None
        async with self._uow:
            entries = await self._uow.consent.ledger_page(
                LedgerQuery(tenant_id=principal.tenant_id, limit=limit, identity=identity, after=position)
            )
        last = entries[-1].sequence if entries else None
        # The cursor of the last entry even on a short page: polling with it finds later changes.
        next_cursor = encode_ledger_cursor(last) if last is not None else after
        return LedgerPage(entries=entries, next_cursor=next_cursor)


@dataclass(frozen=True, slots=True)
class SetConsentCommand:
    phone: str
    state: ConsentState
    note: str | None = None
    # Where the hand that set it was: the API, or a person in the web console.
    source: ConsentSource = ConsentSource.API


class SetConsent:
    """Set a person's consent by hand (source ``api`` or ``console``): ledgered and audited even when it
    repeats the current state; ``consent.changed`` only when it changes it."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal, command: SetConsentCommand) -> ConsentChange:
        require_consent_reader(principal)
        number = PhoneNumber.parse(command.phone)
        now = self._clock.now()
        tenant_id = principal.tenant_id
        async with self._uow:
            previous = await self._uow.consent.current(tenant_id, number.identity)
            change = await self._uow.consent.record(
                ConsentChange(
                    tenant_id=tenant_id,
                    identity=number.identity,
                    number=number.e164,
                    state=command.state,
                    source=command.source,
                    actor=actor_of(principal),
                    at=now,
                    note=(command.note or "").strip() or None,
                )
            )
            if change.changed:
                await record_consent_changed(self._uow, change, now)
            details = {"state": command.state.value}
            if previous is not None:
                details["previous_state"] = previous.state.value
            await self._uow.audit.record(
                audit_entry(
                    AuditAction.CONSENT_SET,
                    principal,
                    now=now,
                    tenant_id=tenant_id,
                    target=(TargetKind.CONSENT, number.identity),
                    details=details,
                )
            )
            await self._uow.commit()
        return change


class GetConsentPolicy:
    """The tenant's consent policy: the one it set, or the defaults (``updated_at`` None)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal) -> ConsentPolicy:
        require_consent_reader(principal)
        async with self._uow:
            policy = await self._uow.consent.policy(principal.tenant_id)
        return policy or ConsentPolicy(tenant_id=principal.tenant_id)


@dataclass(frozen=True, slots=True)
class ConsentPolicyCommand:
    opt_out_keywords: tuple[str, ...] = ()
    opt_in_keywords: tuple[str, ...] = ()
    keyword_mode: KeywordMode = KeywordMode.ADD
    opt_out_reply: str | None = None
    opt_in_reply: str | None = None
    allowed_categories: frozenset[TemplateCategory] = DEFAULT_ALLOWED_CATEGORIES


class SetConsentPolicy:
    """Replace the tenant's consent policy as a whole (tenant admins only); audited."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal, command: ConsentPolicyCommand) -> ConsentPolicy:
        require_tenant_admin(principal, "only tenant admins change their tenant's consent policy")
        now = self._clock.now()
        policy = ConsentPolicy(
            tenant_id=principal.tenant_id,
            opt_out_keywords=command.opt_out_keywords,
            opt_in_keywords=command.opt_in_keywords,
            keyword_mode=command.keyword_mode,
            opt_out_reply=command.opt_out_reply,
            opt_in_reply=command.opt_in_reply,
            allowed_categories=command.allowed_categories,
            updated_at=now,
        )
        async with self._uow:
            await self._uow.consent.save_policy(policy)
            await self._uow.audit.record(
                audit_entry(
                    AuditAction.CONSENT_POLICY_SET,
                    principal,
                    now=now,
                    tenant_id=principal.tenant_id,
                    target=(TargetKind.CONSENT_POLICY, principal.tenant_id),
                    details={
                        "keyword_mode": policy.keyword_mode.value,
                        "allowed_categories": ",".join(sorted(c.value for c in policy.allowed_categories)),
                    },
                )
            )
            await self._uow.commit()
        return policy
