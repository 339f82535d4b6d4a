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
3. Any other webhook (a wrong signature, a number or account not configured, or one configured in
   the last few seconds) is checked against the database, as an attempt counted *before* the
   lookup: ``failure_limit`` per client address, Twilio account and number, and ten times that per
   client address. One that verifies is given back (and makes ``TwilioSigners`` read again); one that
   fails stays counted. Past a limit, RateLimited before any lookup. A tenant whose token went stale
   thus spends its own account and number's allowance, a fraction of the address's, and never
   another tenant's; what forgers can make the database do is bounded per address.
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
from application.shared_outcome import SharedOutcome
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


class TwilioSigners:
    """Every configured Twilio sender's number, account and auth token, read in one query and kept
    ``max_age_seconds``; webhooks arriving meanwhile share one read. A sender added or a token changed
    is known here at the latest ``max_age_seconds`` later (sooner once a webhook for it verified
    against the database). What it knows only decides whether a webhook must be counted: the database
    still decides whom a webhook is for. When the database cannot be read, it knows nobody. The tokens
    stay in this process's memory meanwhile, opened, as every check against the database opens them.
    """

    def __init__(
        self,
        new_uow: Callable[[], UnitOfWork],
        *,
        max_age_seconds: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._new_uow = new_uow
        self._signers = SharedOutcome(self._read, max_age_seconds=max_age_seconds, monotonic=monotonic)

    async def auth_tokens(self, number: PhoneNumber, account_sid: str) -> list[str]:
        """The auth tokens that may sign webhooks for ``number`` on the account ``account_sid``."""
        try:
            signers = await self._signers.get()
        except StorageUnavailable:
            return []
        return [
            signer.auth_token
            for signer in signers.get(number.identity, ())
            if signer.account_sid == account_sid
        ]

    def forget(self) -> None:
        """What is known is out of date (a webhook just verified that was not known): read again."""
        self._signers.forget()

    async def _read(self) -> dict[str, list[TwilioSigner]]:
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


class TwilioCallbackAuthenticator:
    """Which tenants a callback proves it is for: the owners of the number (in the field
    ``number_field``) whose Twilio account is ``AccountSid`` and whose auth token signed it (oldest
    sender first). Refuses when there are none.

    ``screen`` runs first, outside any transaction: it refuses, without a lookup, a callback that cannot
    be Twilio's, and says what the check must be counted against (nothing, for a callback ``signers``
    verified). The caller counts ``tenants`` as an attempt that fails with CallbackRejected.
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
        if self._signers is not None and any(
            self._signed_with(form, token) for token in await self._signers.auth_tokens(number, account_sid)
        ):
            return Screening(known=True, counted=[])
        counted = self._failures.counted(form.client_address, account_sid, number)
        return Screening(known=False, counted=counted)

    async def tenants(
        self, uow: UnitOfWork, form: SignedForm, number_field: str, *, known: bool
    ) -> list[UUID]:
        """The tenants, read in ``uow``'s transaction. ``known``: ``screen`` verified it already (else it
        is news for ``signers``)."""
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
        if not known and self._signers is not None:
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
