"""Whom a tenant's sends go from, kept per process while it is provably what the database says.

Every accept reads its sending profile: the tenant (active? its limits and checks), the sender (the
one named, or the default) and the provider that sender sends through. They change rarely, and a
process that listens for changes hears of every one (adapters/database/access_cache.py): a tenant's
moves its access version; a sender's (its number, account, Meta id or default flag) or a provider
account's moves its signers version (migrations 0029 to 0031). While neither version has moved since a
profile was read, the profile is still what the database holds, and the accept skips that read; its
write then checks the recipient's opt-out itself (``MessageAcceptance.add``'s ``unless_opted_out``).

Kept as ``KeptReads`` keeps anything (application/kept_reads.py); never a profile that would refuse
the send, nor the recipient's opt-out, which belongs to one recipient.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import replace
from uuid import UUID

from application.kept_reads import KeptReads
from application.ports.messages import SendingProfile


class SendingProfiles:
    def __init__(
        self,
        version: Callable[[], Hashable | None],
        *,
        ttl_seconds: float,
        max_entries: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        # Keyed by the tenant and the sender's E.164 number as the request named it (None: the default).
        self._kept: KeptReads[tuple[UUID, str | None], SendingProfile] = KeptReads(
            version, ttl_seconds=ttl_seconds, max_entries=max_entries, monotonic=monotonic
        )

    def version(self) -> Hashable | None:
        """Taken before a read, and handed back with what it read to ``keep``."""
        return self._kept.version()

    def get(self, tenant_id: UUID, sender_number: str | None) -> SendingProfile | None:
        """The profile kept for the tenant and sender, if nothing changed since it was read."""
        return self._kept.get((tenant_id, sender_number))

    def keep(
        self, tenant_id: UUID, sender_number: str | None, profile: SendingProfile, version: Hashable | None
    ) -> None:
        """Keep ``profile``, read when the version was ``version``, unless something changed since or
        it would refuse the send; without the recipient's opt-out."""
        if profile.sender is None or not profile.tenant.is_active:
            return
        self._kept.keep((tenant_id, sender_number), replace(profile, refusal=None), version)
