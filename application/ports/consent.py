"""Consent: each person's current state, the ledger of every change, and each tenant's policy."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from domain.consent.model import ConsentChange, ConsentPolicy, ConsentRecord


@dataclass(frozen=True, slots=True)
class LedgerQuery:
    """A page of a tenant's consent ledger, oldest first, keyset on the entry's sequence (``after``
    exclusive); one person's entries when ``identity`` is given. ``newest_first``: the latest ``limit``
    entries instead, newest first (``after`` unused)."""

    tenant_id: UUID
    limit: int
    identity: str | None = None
    after: int | None = None
    newest_first: bool = False


@dataclass(frozen=True, slots=True)
class SendConsent:
    """What the accept path needs of a recipient who opted out: the tenant's policy (its template
    categories that still reach them). None of it when the recipient did not opt out."""

    policy: ConsentPolicy


class ConsentRepository(Protocol):
    async def current(self, tenant_id: UUID, identity: str) -> ConsentRecord | None: ...
    async def record(self, change: ConsentChange) -> ConsentChange:
        """Append ``change`` to the ledger and make it the person's current state; the change as stored,
        with ``changed`` telling whether the state was another before (and its ``sequence``)."""
        ...

    async def ledger_page(self, query: LedgerQuery) -> list[ConsentChange]: ...
    async def policy(self, tenant_id: UUID) -> ConsentPolicy | None:
        """The tenant's policy, None when it never set one (the defaults apply)."""
        ...

    async def save_policy(self, policy: ConsentPolicy) -> None: ...
    async def refusal_for(self, tenant_id: UUID, identity: str) -> SendConsent | None:
        """One read on the send path: None when the person may be messaged (no state, or opted in);
        otherwise the tenant's policy (its defaults when it has none)."""
        ...

    async def opted_out_among(self, tenant_id: UUID, identities: Collection[str]) -> frozenset[str]:
        """Those of ``identities`` who opted out at ``tenant_id``."""
        ...
