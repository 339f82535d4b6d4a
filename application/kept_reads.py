"""Reads kept per process while they are provably what the database says.

A process that listens for the database's change notifications (adapters/database/access_cache.py)
has versions that move whenever the rows behind a kind of read may have changed. A value read while
the version was V is served again while the version is still V; the first moved version empties
everything. Nothing is kept while the version is unknown (None: not listening yet, reconnecting, or
SQLite, which cannot announce changes), nor a value whose version moved during its read. Entries also
expire after ``ttl_seconds``, a bound on staleness should the announcements fail silently.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class KeptReads(Generic[K, V]):
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
        self._entries: OrderedDict[K, tuple[V, float]] = OrderedDict()
        self._entries_version: Hashable | None = None

    def version(self) -> Hashable | None:
        """Taken before a read, and handed back with what it read to ``keep``."""
        return self._version()

    def get(self, key: K) -> V | None:
        """The value kept under ``key``, if nothing changed since it was read."""
        version = self._version()
        if version is None or version != self._entries_version:
            self._entries.clear()
            return None
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, stored_at = entry
        if self._monotonic() - stored_at >= self._ttl:
            del self._entries[key]
            return None
        return value

    def keep(self, key: K, value: V, version: Hashable | None) -> None:
        """Keep ``value``, read when the version was ``version``, unless something changed since (what
        it read may be stale)."""
        if self._ttl <= 0 or version is None or version != self._version():
            return
        if version != self._entries_version:
            self._entries.clear()
            self._entries_version = version
        self._entries[key] = (value, self._monotonic())
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
