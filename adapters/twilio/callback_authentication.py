"""Whom a Twilio callback is for, proven by its signature.

Nothing in a callback is believed before its signature is. The tenant is found from its own WhatsApp
number (``To`` of an inbound message, ``From`` of a status callback) together with ``AccountSid``: the
same number can serve several tenants (Twilio's shared sandbox number does), each on its own Twilio
account. The signature must then verify with that tenant's auth token over the URL Twilio called and
every field it posted; only then are the fields the callback's command needs decoded. Anything else is
one ``CallbackRejected``, and nothing is stored.

What a sender that cannot sign costs is bounded, and Twilio's own traffic is never held back by it.
Twilio posts every tenant's callbacks from a few shared addresses, so a limit on failures per address
alone would let one tenant's rotated auth token, a number removed here but still configured at Twilio,
or forgeries through a proxy the gateway was not told about (TRUSTED_PROXIES) lock every tenant out,
and Twilio does not post a refused webhook again. So:

1. A webhook that cannot be Twilio's (no signature of Twilio's form, no Twilio account, no phone
   number) is refused at once: no lookup, nothing counted.
2. ``TwilioSigners`` knows every configured number's account and auth token (one query, kept a few
   seconds, shared by concurrent webhooks). A webhook it verifies is Twilio's, for a configured
   number, and goes on without a limit: no failure anywhere holds it back.
3. Whom such a webhook is for, ``TwilioSigners`` decides when what it knows is provably current: the
   signers version (adapters/database/access_cache.py) has not moved since its read began. That
   version is kept in step by NOTIFY on every change of who signs in ``senders`` and
   ``provider_accounts`` (migration 0029), and moved at once in the process that committed one. No
   query then: a sender removed or a token rotated goes unseen no longer than its notification
   takes. When it cannot vouch for itself (its version moved during its read, or no one is
   listening: SQLite, a lost connection), the database decides, as it always did.
4. Any other webhook (a wrong signature, a number or account not configured, or one configured a
   moment ago) is checked against the database, as an attempt counted *before* the lookup:
   ``failure_limit`` per client address, Twilio account and number, and ten times that per client
   address. One that verifies is given back (and makes ``TwilioSigners`` read again); one that fails
   stays counted. Past a limit, RateLimited before any lookup. A tenant whose token went stale thus
   spends its own account and number's allowance, a fraction of the address's, and never another
   tenant's; what forgers can make the database do is bounded per address.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn
from uuid import UUID

from adapters.twilio.form import SignedForm
from adapters.twilio.signature import TwilioSignatureVerifier
from application.errors import CallbackRejected, CredentialsUnreadable, StorageUnavailable
from application.ports.rate_limits import RateLimit
from application.ports.tenancy import TwilioSigner
from application.ports.unit_of_work import UnitOfWork
from application.rate_limits import CountedLimit
from application.shared_outcome import VersionedOutcome
from domain.administration.tenancy import TwilioCredentials, is_twilio_account_sid
from domain.errors import InvalidPhoneNumber
from domain.phone import PhoneNumber

logger = logging.getLogger(__name__)


class SignatureFailureLimit:
    """Failed signature checks counted per client address, Twilio account and number (``limit``), and
    per client address (``ADDRESS_FACTOR`` times ``limit``). None or an amount of 0: no limit."""

    SCOPE = "twilio-signature-failures"
    # The whole address may fail this many times what one account and number may: one misconfigured
    # tenant or number fills its own allowance long before the address's, which only rotating
    # accounts and numbers (forgeries) reach.
    ADDRESS_FACTOR = 10

    def __init__(self, limit: RateLimit | None) -> None:
        self._limit = limit if limit is not None and limit.amount > 0 else None

    def counted(self, address: str, account_sid: str, number: PhoneNumber) -> list[CountedLimit]:
        if self._limit is None:
            return []
        per_address = RateLimit(self._limit.amount * self.ADDRESS_FACTOR, self._limit.per_seconds)
        return [
            CountedLimit(
                f"{self.SCOPE}:address:{address}:account:{account_sid}:number:{number.identity}",
                self._limit,
                "too many webhooks for this Twilio account and number from this address failed their "
                "signature check; wait before posting more",
                scope=self.SCOPE,
            ),
            CountedLimit(
                f"{self.SCOPE}:address:{address}",
                per_address,
                "too many webhooks from this address failed their signature check; wait before posting more",
                scope=self.SCOPE,
            ),
        ]


@dataclass(frozen=True, slots=True)
class KnownSigners:
    """The signers ``TwilioSigners`` knows for one number and account, oldest sender first; ``current``:
    nothing changed since they were read, so they are the database's answer too."""

    signers: list[TwilioSigner]
    current: bool


class TwilioSigners:
    """Every configured Twilio sender's number, account and auth token, read in one query and kept
    ``max_age_seconds``; webhooks arriving meanwhile share one read. When the database cannot be read,
    it knows nobody. The tokens stay in this process's memory meanwhile, opened, as every check against
    the database opens them.

    ``version`` (the access cache's ``signers_version``) moves whenever a sender or an account changes,
    and is None when nobody can tell. What was read while the version still holds is current: it
    decides whom a webhook is for. Once the version moved, the next lookup reads again. Without a
    version (SQLite), what is known only decides whether a webhook must be counted: a sender added or a
    token changed is known here at the latest ``max_age_seconds`` later (sooner once a webhook for it
    verified against the database).
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
            self._by_number, version=version, max_age_seconds=max_age_seconds, monotonic=monotonic
        )

    async def of(self, number: PhoneNumber, account_sid: str) -> KnownSigners:
        """Who may sign webhooks for ``number`` on the account ``account_sid``."""
        try:
            read = await self._reads.get()
        except StorageUnavailable:
            return KnownSigners([], current=False)
        signers = [s for s in read.value.get(number.identity, ()) if s.account_sid == account_sid]
        return KnownSigners(signers, current=self._reads.current(read))

    def forget(self) -> None:
        """What is known is out of date (a webhook just verified that was not known): read again."""
        self._reads.forget()

    async def _by_number(self) -> dict[str, list[TwilioSigner]]:
        """Every signer, by number identity, oldest sender first."""
        uow = self._new_uow()
        async with uow:
            signers = await uow.provider_accounts.twilio_signers()
        by_number: dict[str, list[TwilioSigner]] = {}
        for signer in signers:
            by_number.setdefault(signer.phone_number.identity, []).append(signer)
        return by_number


@dataclass(frozen=True, slots=True)
class Screening:
    known: bool  # TwilioSigners verified it
    counted: list[CountedLimit]  # what checking it against the database is counted against
    # The tenants whose signers verified it, oldest sender first, each once...
    verified_tenants: tuple[UUID, ...] = ()
    # ...and whether TwilioSigners was current: then they are whom the webhook is for.
    current: bool = False


class TwilioCallbackAuthenticator:
    """Which tenants a callback proves it is for: the owners of the number (in the field
    ``number_field``) whose Twilio account is ``AccountSid`` and whose auth token signed it (oldest
    sender first). Refuses when there are none.

    ``screen`` runs first, outside any transaction: it refuses, without a lookup, a callback that cannot
    be Twilio's, and says what the check must be counted against (nothing, for a callback ``signers``
    verified) and, when ``signers`` was current, whom it is for. The caller counts ``tenants`` as an
    attempt that fails with CallbackRejected.
    """

    def __init__(self, failures: SignatureFailureLimit, signers: TwilioSigners | None) -> None:
        self._verifier = TwilioSignatureVerifier()
        self._failures = failures
        self._signers = signers

    async def screen(self, form: SignedForm, number_field: str) -> Screening:
        raw_number, account_sid = form.field(number_field), form.field("AccountSid")
        # What cannot be Twilio's is noise from anyone: its request line says enough, and a warning each
        # would let anyone flood the log. A wrong signature for a real number (below) is worth one.
        noise = logging.DEBUG
        if not self._verifier.is_well_formed(form.signature):
            _refuse(form, "missing or malformed signature", raw_number, account_sid, level=noise)
        if not is_twilio_account_sid(account_sid):
            _refuse(form, "AccountSid is not a Twilio account", raw_number, account_sid, level=noise)
        try:
            number = PhoneNumber.parse(raw_number)
        except InvalidPhoneNumber:
            _refuse(form, f"{number_field} is not a phone number", raw_number, account_sid, level=noise)
        if self._signers is not None:
            known = await self._signers.of(number, account_sid)
            verified = tuple(
                dict.fromkeys(
                    signer.tenant_id for signer in known.signers if self._signed_with(form, signer.auth_token)
                )
            )
            if verified:
                return Screening(known=True, counted=[], verified_tenants=verified, current=known.current)
        counted = self._failures.counted(form.client_address, account_sid, number)
        return Screening(known=False, counted=counted)

    async def tenants(
        self, uow: UnitOfWork, form: SignedForm, number_field: str, screening: Screening
    ) -> list[UUID]:
        """The tenants: those ``screen`` verified when ``signers`` was current, without a query; else
        read in ``uow``'s transaction."""
        if screening.known and screening.current:
            return list(screening.verified_tenants)
        raw_number, account_sid = form.field(number_field), form.field("AccountSid")
        number = PhoneNumber.parse(raw_number)
        senders = await uow.senders.find_all_by_number(number)
        if not senders:
            _refuse(form, "no tenant has this number", raw_number, account_sid)
        accounts_matched = 0
        verified: list[UUID] = []
        for sender in senders:
            try:
                accounts = await uow.provider_accounts.list_for_tenant(sender.tenant_id)
            except CredentialsUnreadable:
                logger.error(
                    "tenant %s: stored Twilio credentials do not open; webhook skipped for it",
                    sender.tenant_id,
                )
                continue
            # Any of the tenant's Twilio accounts: a number moved to another account (or to Meta) still
            # gets the late status callbacks of what it sent before.
            for account in accounts:
                credentials = account.credentials
                if not isinstance(credentials, TwilioCredentials) or credentials.account_sid != account_sid:
                    continue
                accounts_matched += 1
                if self._signed_with(form, credentials.auth_token):
                    verified.append(sender.tenant_id)
                    break
        if not verified:
            why = "bad or missing signature" if accounts_matched else "the account does not own this number"
            _refuse(form, why, raw_number, account_sid)
        if not screening.known and self._signers is not None:  # news for ``signers``
            self._signers.forget()
        return verified

    def _signed_with(self, form: SignedForm, auth_token: str) -> bool:
        return self._verifier.is_valid(
            url=form.url, params=form.params, signature=form.signature, auth_token=auth_token
        )


def _refuse(
    form: SignedForm, reason: str, number: str, account_sid: str, *, level: int = logging.WARNING
) -> NoReturn:
    logger.log(
        level,
        "Twilio webhook refused: %s (number %r, AccountSid %r, from %s)",
        reason,
        number[:64],
        account_sid[:64],
        form.client_address[:64],
    )
    raise CallbackRejected()
