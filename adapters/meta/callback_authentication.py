"""What proves Meta's webhooks, and what failing to prove one costs.

Meta signs every delivery with the secret of the app the WhatsApp Business Account is subscribed
through (``X-Hub-Signature-256`` over the raw body), and checks a callback URL with the verify token
given with it (the subscription handshake). One delivery may carry changes for numbers of several
accounts of one app, so a delivery is proven as a whole first, against every configured account's app
secret, and routed number by number after (``callbacks.py``).

As for Twilio's callbacks (``adapters/twilio/callback_authentication.py``), what a sender that cannot
sign may cost is bounded, and Meta's own deliveries for configured accounts are never held back:

1. A delivery without a signature of Meta's form is refused at once: no lookup, nothing counted.
   So is a handshake without ``hub.mode=subscribe``, a verify token or a challenge.
2. ``MetaApps`` knows every configured Meta account's app secret and verify token (one query, kept a
   few seconds, shared by concurrent webhooks). A delivery or handshake it proves goes on without a
   limit, and without a query.
3. With them, ``MetaApps`` knows every Meta sender's phone-number id, tenant, number and account (a
   second query in the same transaction). Whom each number of a delivery is for, it decides when what
   it knows is provably current: the signers version (adapters/database/access_cache.py) has not
   moved since its read began. That version is kept in step by NOTIFY on every change to ``senders``
   (its tenant, number, account or phone-number id: migrations 0029 and 0030) and
   ``provider_accounts``, and moved at once in the process that committed one. The checks are the
   database path's (``callbacks.py``): a number is routed only if its account's app signed the
   delivery, under that account's business account. No query then: a status for a known number costs
   none before it is recorded, and a sender removed or moved goes unseen no longer than its
   notification takes. When it cannot vouch for itself (its version moved during its read, or no one
   is listening: SQLite, a lost connection), or for a phone-number id it does not know, the database
   decides, as it always did.
4. Any other (a wrong signature or verify token, or an account configured in the last few seconds)
   is checked against the database, as an attempt counted *before* the lookup, per client address
   (``MetaWebhookFailureLimit``). One that is proven is given back (and makes ``MetaApps`` read again);
   one that fails stays counted. Past the limit, RateLimited before any lookup.

Meta sends every tenant's webhooks from a few shared addresses, and nothing in a delivery can be
believed before its signature is, so failures are counted per address alone: an account whose app
secret went stale here makes Meta's addresses spend their allowance, which holds back only the
deliveries ``MetaApps`` does not know yet (accounts added in the last few seconds) — and Meta delivers
a refused webhook again, for days, where Twilio does not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from application.errors import StorageUnavailable
from application.ports.rate_limits import RateLimit
from application.ports.tenancy import MetaApp, MetaNumber
from application.ports.unit_of_work import UnitOfWork
from application.rate_limits import CountedLimit
from application.shared_outcome import Versioned, VersionedOutcome


class MetaWebhookFailureLimit:
    """Failed signature and verify-token checks of Meta's webhooks, counted per client address
    (``limit``). None or an amount of 0: no limit."""

    SCOPE = "meta-webhook-failures"

    def __init__(self, limit: RateLimit | None) -> None:
        self._limit = limit if limit is not None and limit.amount > 0 else None

    def counted(self, address: str) -> list[CountedLimit]:
        if self._limit is None:
            return []
        return [
            CountedLimit(
                f"{self.SCOPE}:address:{address}",
                self._limit,
                "too many Meta webhooks from this address failed their signature or verify-token check; "
                "wait before posting more",
                scope=self.SCOPE,
            )
        ]


@dataclass(frozen=True, slots=True)
class KnownMetaApps:
    """What ``MetaApps`` read: every Meta account's app (``apps``) and every Meta sender with a
    phone-number id (``numbers``, by that id), as the signers version stood when the read began."""

    apps: list[MetaApp]
    numbers: Mapping[str, MetaNumber]
    version: int | None


_NOBODY = KnownMetaApps([], {}, None)


class MetaApps:
    """Every configured Meta account's app secret and verify token, and every Meta sender's phone-number
    id with its tenant, number and account (two queries in one transaction), kept ``max_age_seconds``;
    webhooks arriving meanwhile share one read. When the database cannot be read, it knows nobody. The
    secrets stay in this process's memory meanwhile, opened, as every check against the database opens
    them.

    ``version`` (the access cache's ``signers_version``) moves whenever a sender or an account changes,
    and is None when nobody can tell. What was read while the version still holds is ``current``: it
    routes a delivery's numbers without a query. Once the version moved, the next look reads again.
    Without a version (SQLite), what is known only decides whether a check must be counted: an account
    added or changed is known here at the latest ``max_age_seconds`` later (sooner once a webhook for it
    was proven against the database), and numbers are routed by the database.
    """

    def __init__(
        self,
        new_uow: Callable[[], UnitOfWork],
        *,
        version: Callable[[], int | None] | None = None,
        max_age_seconds: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._new_uow = new_uow
        self._reads = VersionedOutcome(
            self._read, version=version, max_age_seconds=max_age_seconds, monotonic=monotonic
        )

    async def known(self) -> KnownMetaApps:
        try:
            read = await self._reads.get()
        except StorageUnavailable:
            return _NOBODY
        return replace(read.value, version=read.version)

    def current(self, known: KnownMetaApps) -> bool:
        """Whether nothing changed since ``known`` was read: it is then the database's answer too."""
        return self._reads.current(Versioned(known, known.version))

    def forget(self) -> None:
        """What is known is out of date (a webhook just proven was not known): read again."""
        self._reads.forget()

    async def _read(self) -> KnownMetaApps:
        uow = self._new_uow()
        async with uow:
            apps = await uow.provider_accounts.meta_apps()
            numbers = await uow.provider_accounts.meta_numbers()
        return KnownMetaApps(apps, {number.provider_number_id: number for number in numbers}, None)


def distinct_app_secrets(apps: list[MetaApp]) -> list[str]:
    """Each app secret once: the tenants of one app (a platform's own, say) share its secret."""
    return list(dict.fromkeys(app.app_secret for app in apps))
