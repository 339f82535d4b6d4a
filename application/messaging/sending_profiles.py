"""Whom a tenant's sends go from, kept per process while it is provably what the database says.

Every accept reads its sending profile: the tenant (active? its limits and checks), the sender (the
one named, or the default) and the provider that sender sends through. They change rarely, and a
process that listens for changes hears of every one (adapters/database/access_cache.py): a tenant's
moves its access version; a sender's (its number, account, Meta id or default flag) or a provider
account's moves its signers version (migrations 0029 to 0031). While neither version has moved since a
profile was read, the profile is still what the database holds, and the accept skips that read; its
write then checks the recipient's opt-out itself (``MessageAcceptance.add``'s ``unless_opted_out``).

Nothing is kept while the version is unknown (None: not listening yet, reconnecting, or SQLite, which
cannot announce changes), nor a profile that would refuse the send. Entries also expire after
``ttl_seconds``, a bound on staleness should the announcements fail silently.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import replace
from uuid import UUID

from application.ports.messages import SendingProfile

# The sender's E.164 number as the request named it, or None for the tenant's default.
_Key = tuple[UUID, str | None]


class SendingProfiles:
    def __init__(
        self,
        version: Callable[[], Hashable | None],
        *,
        ttl_seconds: float,
        max_entries: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._version = version
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._monotonic = monotonic
        self._entries: OrderedDict[_Key, tuple[SendingProfile, float]] = OrderedDict()
        self._entries_version: Hashable | None = None

    def version(self) -> Hashable | None:
        """Taken before a read, and handed back with what it read to ``keep``."""
        return self._version()

    def get(self, tenant_id: UUID, sender_number: str | None) -> SendingProfile | None:
        """The profile kept for the tenant and sender, if nothing changed since it was read."""
        version = self._version()
        if version is None or version != self._entries_version:
            self._entries.clear()
            return None
        key = (tenant_id, sender_number)
        entry = self._entries.get(key)
        if entry is None:
            return None
        profile, stored_at = entry
        if self._monotonic() - stored_at >= self._ttl:
            del self._entries[key]
            return None
        return profile

    def keep(
        self, tenant_id: UUID, sender_number: str | None, profile: SendingProfile, version: Hashable | None
    ) -> None:
        """Keep ``profile``, read when the version was ``version``, unless something changed since (what
        it read may be stale) or it would refuse the send. Kept without the recipient's opt-out, which
        belongs to one recipient."""
        if self._ttl <= 0 or version is None or version != self._version():
            return
        if profile.sender is None or not profile.tenant.is_active:
            return
        if version != self._entries_version:
            self._entries.clear()
            self._entries_version = version
        key = (tenant_id, sender_number)
        self._entries[key] = (replace(profile, refusal=None), self._monotonic())
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
