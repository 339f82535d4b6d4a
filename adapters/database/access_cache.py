"""A per-process cache of session checks that PostgreSQL empties whenever access may have changed.

Every request with an access token checks its session, user and tenant
(application/identity/sessions.py). That query is most of what authentication costs; this cache
serves the check again while nothing that could revoke it has changed:

- Migration 0008 puts a statement-level trigger on ``auth_sessions``, ``users`` and ``tenants`` that
  sends ``NOTIFY wa_gateway_access`` on every UPDATE, DELETE and TRUNCATE. PostgreSQL delivers it
  after the writing transaction commits, to every listening process: whatever path changed the rows
  (this service, another process, a DBA's psql), every cache empties itself.
- In the process that committed the change, the unit of work empties the cache right after its
  commit (``invalidate``), so the change holds for that process's next request without waiting for
  the notification.
- While the listening connection is down or not yet listening, nothing is served from the cache
  (``version()`` is None) and it is emptied on reconnecting, since notifications sent meanwhile are
  lost. A connection that stops answering is found by a ``SELECT 1`` every ``keepalive_seconds``.
- Entries also expire after ``ttl_seconds``, a bound on staleness should everything above fail
  silently.

So a logout, a password change, a role change or a suspension takes effect at once in the process
that made it and, in the others, as soon as the notification arrives (milliseconds).

The same channel keeps Twilio's signers and Meta's apps and numbers in step
(adapters/twilio/callback_authentication.py, adapters/meta/callback_authentication.py), and the senders
accepts go from (application/messaging/sending_profiles.py): migrations 0029 to 0031 notify, with the
table's name, of every change to who signs a provider callback, whom a Meta delivery's number is for
or which sender is a tenant's default (``senders``, ``provider_accounts``). Such a notification moves
``signers_version()`` and leaves the session checks alone; so does the unit of work that committed
such a change (``signers_changed``). Migration 0032 notifies of every write to the template catalogue
(``templates``, ``template_listings``), which moves ``catalogue_version()`` alone (``catalogue_changed``
for a commit in this process). Whatever the cache cannot vouch for (not listening, reconnecting) moves
every version, and ``signers_version()`` and ``catalogue_version()`` are None while not listening, as
``version()`` is.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from uuid import UUID

import psycopg
from sqlalchemy.engine import make_url

from adapters.database.tables import CATALOGUE_TABLES, SIGNER_TABLES
from application.ports.identity import SessionAccess

logger = logging.getLogger(__name__)

ACCESS_CHANNEL = "wa_gateway_access"
# The payloads (table names) of the notifications that say who signs Twilio's callbacks changed.
_SIGNER_PAYLOADS = frozenset(table.name for table in SIGNER_TABLES)
# And those that say the template catalogue changed (migration 0032).
_CATALOGUE_PAYLOADS = frozenset(table.name for table in CATALOGUE_TABLES)


def libpq_url(sqlalchemy_url: str) -> str:
    """The SQLAlchemy URL (``postgresql+psycopg://…``) as the plain URL psycopg connects with."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


class ListeningAccessCache:
    def __init__(
        self,
        database_url: str,
        *,
        ttl_seconds: float,
        max_entries: int = 10_000,
        keepalive_seconds: float = 10.0,
        reconnect_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._conninfo = libpq_url(database_url)
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._keepalive = keepalive_seconds
        self._reconnect = reconnect_seconds
        self._monotonic = monotonic
        self._entries: OrderedDict[UUID, tuple[SessionAccess, float]] = OrderedDict()
        self._version = 0
        self._signers_version = 0
        self._catalogue_version = 0
        self._listening = False

    @property
    def listening(self) -> bool:
        return self._listening

    def version(self) -> int | None:
        return self._version if self._listening else None

    def signers_version(self) -> int | None:
        """Moves whenever who signs Twilio's callbacks may have changed; None while not listening."""
        return self._signers_version if self._listening else None

    def senders_version(self) -> tuple[int, int] | None:
        """Moves whenever a tenant, a sender or a provider account may have changed (both versions):
        what an accept's sending profile is read from (application/messaging/sending_profiles.py)."""
        return (self._version, self._signers_version) if self._listening else None

    def signers_changed(self) -> None:
        self._signers_version += 1

    def catalogue_version(self) -> int | None:
        """Moves whenever a tenant's template catalogue may have changed; None while not listening."""
        return self._catalogue_version if self._listening else None

    def catalogue_changed(self) -> None:
        self._catalogue_version += 1

    def get(self, session_id: UUID) -> SessionAccess | None:
        entry = self._entries.get(session_id)
        if entry is None:
            return None
        access, stored_at = entry
        if self._monotonic() - stored_at >= self._ttl:
            del self._entries[session_id]
            return None
        return access

    def put(self, session_id: UUID, access: SessionAccess, version: int) -> None:
        if not self._listening or version != self._version:
            return  # something changed since the caller's query began: what it read may be stale
        self._entries[session_id] = (access, self._monotonic())
        self._entries.move_to_end(session_id)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def invalidate(self) -> None:
        self._version += 1
        self._entries.clear()

    async def run(self) -> None:
        """Listen until cancelled, reconnecting after a failure; the cache serves only while listening."""
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.warning(
                    "access cache: listening for %s failed (%s); checking every session in the "
                    "database until it is back",
                    ACCESS_CHANNEL,
                    error,
                )
            finally:
                self._listening = False
                self._forget_everything()
            await asyncio.sleep(self._reconnect)

    async def _listen(self) -> None:
        connection = await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, application_name="wa-gateway access cache"
        )
        async with connection:
            await connection.execute(f"LISTEN {ACCESS_CHANNEL}")
            # Changes committed before LISTEN took effect were never announced to this connection.
            self._forget_everything()
            self._listening = True
            logger.info("access cache: listening for %s", ACCESS_CHANNEL)
            while True:
                async for notification in connection.notifies(timeout=self._keepalive):
                    self._heard(notification.payload)
                # Every keepalive_seconds: prove the connection still answers (a silent network
                # failure would otherwise look like a quiet database).
                await asyncio.wait_for(connection.execute("SELECT 1"), timeout=self._keepalive)

    def _heard(self, table: str) -> None:
        """A notification: ``table`` changed (its payload)."""
        if table in _SIGNER_PAYLOADS:
            self.signers_changed()  # no session check reads senders or accounts: they stay
        elif table in _CATALOGUE_PAYLOADS:
            self.catalogue_changed()
        else:
            self.invalidate()

    def _forget_everything(self) -> None:
        self.invalidate()
        self.signers_changed()
        self.catalogue_changed()


class NoAccessCache:
    """Keeps nothing: every request's session is checked in the database (SQLite, which has no NOTIFY to
    keep processes in step, or the cache turned off)."""

    def version(self) -> int | None:
        return None

    def signers_version(self) -> int | None:
        return None

    def get(self, session_id: UUID) -> SessionAccess | None:
        return None

    def put(self, session_id: UUID, access: SessionAccess, version: int) -> None:
        return None


NO_ACCESS_CACHE = NoAccessCache()
