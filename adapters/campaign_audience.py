"""Stand-ins for the campaign ports whose real adapters belong to other features: no contacts to walk
yet, and nobody opted out. A contacts audience therefore finds nobody, and every recipient counts as
consenting, until the contacts and consent stores are bound here instead."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from uuid import UUID

from application.ports.campaigns import AudienceMember


class NoContactsYet:
    async def audience_batch(
        self,
        tenant_id: UUID,
        *,
        tags: Collection[str],
        attributes: Mapping[str, str],
        after_identity: str | None,
        limit: int,
    ) -> list[AudienceMember]:
        return []


class NobodyOptedOutYet:
    async def opted_out_among(self, tenant_id: UUID, identities: Collection[str]) -> frozenset[str]:
        return frozenset()
