"""Meta's webhooks read for the inbound use cases: deliveries (``MetaDeliveries``, a
``ProviderDeliveryReader``) and the subscription handshake (``MetaSubscriptionChecks``, a
``ProviderCallbackReader`` of ``SubscriptionChallenge``).

A delivery is proven by its signature over the raw body, before a byte of it is parsed
(``callback_authentication.py``). Its ``messages`` changes are then read (``webhooks.py``) and grouped
by the phone-number id in their metadata, and each group is for the tenant whose sender has that id —
only if that sender's account's app secret is the one that signed the delivery, so that one tenant's
app cannot put messages or statuses on another tenant's number. The sender is the one ``MetaApps``
knows while what it knows is current (``callback_authentication.py``), else the database's; the checks
are the same either way, and neither proving the delivery nor routing a known number then needs a
transaction (``needs_lookup``). Template status and quality updates are
grouped by business account, each group allowed to change only templates listed on that business
account's Meta accounts whose app signed the delivery; so are its numbers' quality and messaging-limit
changes (``quality_webhooks.py``), each affecting only senders on those accounts. Changes of other
fields are logged and left alone.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NoReturn
from urllib.parse import parse_qsl, urlsplit
from uuid import UUID

from adapters.meta.callback_authentication import (
    KnownMetaApps,
    MetaApps,
    MetaWebhookFailureLimit,
    distinct_app_secrets,
)
from adapters.meta.quality_webhooks import QUALITY_FIELD, sender_quality_changes
from adapters.meta.signature import SIGNATURE_HEADER, MetaSignatureVerifier
from adapters.meta.template_webhooks import TEMPLATE_FIELDS, template_updates
from adapters.meta.webhooks import MetaChange, MetaDelivery, parse_delivery, subscription_challenge
from application.errors import CallbackRejected, CredentialsUnreadable, SubscriptionRefused
from application.inbound.commands import InboundMessage, StatusReport, SubscriptionChallenge
from application.ports.provider_callbacks import ProvenAccount, ProviderCallback, Recipient
from application.ports.rate_limits import RateLimit
from application.ports.templates import TemplateStatusUpdate
from application.ports.tenancy import MetaApp, MetaNumber
from application.ports.unit_of_work import UnitOfWork
from application.rate_limits import CountedLimit
from domain.administration.tenancy import ProviderName
from domain.campaigns.sender_quality import SenderQualityChange
from domain.errors import InvalidPhoneNumber
from domain.phone import PhoneNumber

logger = logging.getLogger(__name__)

_SIGNATURE_HEADER = SIGNATURE_HEADER.lower()
# One answer, whatever was wrong (no signature, a wrong one, a secret of no account configured here).
_NOT_SIGNED = "the webhook's X-Hub-Signature-256 is not valid for any Meta app configured here"
# Meta's challenge is a number; anything echoed is bounded and printable.
_MAX_CHALLENGE_LENGTH = 256


# -- deliveries ------------------------------------------------------------------------------------


class MetaDeliveries:
    """Meta's POSTs to ``/webhooks/meta``: signed deliveries of changes for the app's numbers."""

    provider = ProviderName.META

    def __init__(
        self,
        *,
        failure_limit: RateLimit | None = None,
        apps: MetaApps | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._verifier = MetaSignatureVerifier()
        self._failures = MetaWebhookFailureLimit(failure_limit)
        self._apps = apps
        self.now = now  # when a delivery's template updates are stamped as received

    async def screen(self, callback: ProviderCallback) -> ScreenedMetaDelivery:
        signature = callback.headers.get(_SIGNATURE_HEADER)
        if signature is None or not self._verifier.is_well_formed(signature):
            # Noise from anyone: its request line says enough, and a warning each would flood the log.
            _refuse_delivery(callback, "missing or malformed X-Hub-Signature-256", level=logging.DEBUG)
        if self._apps is not None:
            known = await self._apps.known()
            for secret in distinct_app_secrets(known.apps):
                if self._signed_with(callback.body, signature, secret):
                    numbers = _KnownNumbers(self._apps, known)
                    return ScreenedMetaDelivery(
                        self, callback, signature, secret, counted=[], numbers=numbers
                    )
        counted = self._failures.counted(callback.client_address)
        return ScreenedMetaDelivery(self, callback, signature, None, counted=counted)

    async def proven_secret(self, uow: UnitOfWork, callback: ProviderCallback, signature: str) -> str:
        """The app secret, of an account read in ``uow``'s transaction, that signed ``callback``."""
        secrets = distinct_app_secrets(await uow.provider_accounts.meta_apps())
        secret = next((s for s in secrets if self._signed_with(callback.body, signature, s)), None)
        if secret is None:
            _refuse_delivery(callback, "the signature matches no configured Meta account's app secret")
        if self._apps is not None:
            self._apps.forget()
        return secret

    def _signed_with(self, body: bytes, signature: str, app_secret: str) -> bool:
        return self._verifier.is_valid(body=body, header=signature, app_secret=app_secret)


class ScreenedMetaDelivery:
    """A delivery that passed the first look (implements ``ScreenedDelivery``)."""

    def __init__(
        self,
        deliveries: MetaDeliveries,
        callback: ProviderCallback,
        signature: str,
        secret: str | None,
        *,
        counted: list[CountedLimit],
        numbers: _KnownNumbers | None = None,
    ) -> None:
        self._deliveries = deliveries
        self._callback = callback
        self._signature = signature
        self._secret = secret  # the app secret that signed it, once known
        self._counted = counted
        self._numbers = numbers  # what MetaApps knew when it proved the delivery
        self._authenticated = False
        self._parsed: MetaDelivery | None = None

    @property
    def counted_against(self) -> Sequence[CountedLimit]:
        return self._counted

    @property
    def needs_lookup(self) -> bool:
        # MetaApps proved it: nothing is left to read (each part is still routed only to a number whose
        # own account's app signed it).
        return self._secret is None

    async def authenticate(self, uow: UnitOfWork) -> None:
        if self._secret is None:
            self._secret = await self._deliveries.proven_secret(uow, self._callback, self._signature)
        self._authenticated = True

    def _delivery(self) -> MetaDelivery:
        if not self._authenticated or self._secret is None:  # nothing is believed before the signature
            raise RuntimeError("a delivery is read only after it was authenticated")
        if self._parsed is None:
            self._parsed = parse_delivery(self._callback.body)
            for other in self._parsed.other_changes:
                if other.field not in TEMPLATE_FIELDS and other.field != QUALITY_FIELD:
                    logger.info(
                        "Meta webhook: a %r change of WhatsApp Business Account %s left alone",
                        other.field[:64],
                        other.business_account_id[:32],
                    )
        return self._parsed

    def template_parts(self) -> list[MetaTemplateChanges]:
        delivery = self._delivery()
        assert self._secret is not None
        by_account: dict[str, MetaTemplateChanges] = {}
        for update in template_updates(delivery.other_changes, at=self._deliveries.now()):
            part = by_account.setdefault(
                update.business_account_id, MetaTemplateChanges(update.business_account_id, self._secret)
            )
            part.updates.append(update)
        return list(by_account.values())

    def sender_quality_parts(self) -> list[MetaSenderQualityChanges]:
        delivery = self._delivery()
        assert self._secret is not None
        by_account: dict[str, MetaSenderQualityChanges] = {}
        for account_id, change in sender_quality_changes(delivery.other_changes):
            part = by_account.setdefault(account_id, MetaSenderQualityChanges(account_id, self._secret))
            part.changes.append(change)
        return list(by_account.values())

    def parts(self) -> list[MetaNumberChanges]:
        delivery = self._delivery()
        assert self._secret is not None
        # By business account and number: each is checked against the sender's account on its own.
        by_number: dict[tuple[str, str], MetaNumberChanges] = {}
        for change in delivery.changes:
            for reason in change.skipped:
                logger.warning(
                    "Meta webhook for phone number id %s: %s left out", change.phone_number_id, reason[:300]
                )
            if not change.inbound and not change.statuses:
                continue
            part = by_number.setdefault(
                (change.business_account_id, change.phone_number_id),
                MetaNumberChanges(
                    change.phone_number_id, change.business_account_id, self._secret, known=self._numbers
                ),
            )
            part.add(change)
        return list(by_number.values())


@dataclass
class MetaTemplateChanges:
    """The template updates of one WhatsApp Business Account in a delivery (a ``TemplateUpdatesPart``):
    they may change only templates listed on that business account's Meta accounts whose app signed it."""

    business_account_id: str
    secret: str = field(repr=False)
    updates: list[TemplateStatusUpdate] = field(default_factory=list)

    async def proven_accounts(self, uow: UnitOfWork) -> frozenset[UUID]:
        return frozenset(
            app.account_id
            for app in await uow.provider_accounts.meta_apps()
            if app.business_account_id == self.business_account_id
            and hmac.compare_digest(app.app_secret.encode(), self.secret.encode())
        )


@dataclass
class MetaSenderQualityChanges:
    """The quality and limit changes of one WhatsApp Business Account's numbers in a delivery (a
    ``SenderQualityPart``): they may affect only senders on that business account's Meta accounts whose
    app signed it."""

    business_account_id: str
    secret: str = field(repr=False)
    changes: list[SenderQualityChange] = field(default_factory=list)

    async def proven_accounts(self, uow: UnitOfWork) -> frozenset[ProvenAccount]:
        return frozenset(
            ProvenAccount(tenant_id=app.tenant_id, account_id=app.account_id)
            for app in await uow.provider_accounts.meta_apps()
            if app.business_account_id == self.business_account_id
            and hmac.compare_digest(app.app_secret.encode(), self.secret.encode())
        )


@dataclass
class MetaNumberChanges:
    """The changes of one delivery for one phone-number id under one WhatsApp Business Account
    (implements ``DeliveryPart``)."""

    phone_number_id: str
    business_account_id: str  # the entry the changes came under
    app_secret: str = field(repr=False)  # the secret that signed the delivery
    inbound: list[InboundMessage] = field(default_factory=list)
    statuses: list[StatusReport] = field(default_factory=list)
    display_numbers: set[str] = field(default_factory=set)
    known: _KnownNumbers | None = field(default=None, repr=False)  # what MetaApps knew, if it proved it

    @property
    def number(self) -> str:
        return f"phone number id {self.phone_number_id}"

    @property
    def needs_lookup(self) -> bool:
        return self._known_number() is None

    def add(self, change: MetaChange) -> None:
        self.inbound.extend(change.inbound)
        self.statuses.extend(change.statuses)
        self.display_numbers.add(change.display_phone_number)

    async def recipient(self, uow: UnitOfWork) -> Recipient | None:
        # What MetaApps knows, while provably current; else (and for an id it does not know: maybe a
        # sender whose credentials do not open) the database, which says why it is skipped.
        number = self._known_number()
        if number is None:
            try:
                number = await uow.provider_accounts.meta_number(self.phone_number_id)
            except CredentialsUnreadable:
                logger.error(
                    "Meta webhook for phone number id %s: the stored credentials of its account do not "
                    "open; %s skipped",
                    self.phone_number_id,
                    self._items(),
                )
                return None
        return self._routed(number)

    def _known_number(self) -> MetaNumber | None:
        numbers = self.known.current_numbers() if self.known is not None else None
        return numbers.get(self.phone_number_id) if numbers is not None else None

    def _routed(self, number: MetaNumber | None) -> Recipient | None:
        """Whom the part is for, if ``number`` (the sender with its id, if any) may have it."""
        if number is None:
            logger.warning(
                "Meta webhook for phone number id %s (WhatsApp Business Account %s), which no sender has "
                "here: %s skipped",
                self.phone_number_id,
                self.business_account_id[:32],
                self._items(),
            )
            return None
        if not hmac.compare_digest(number.app_secret.encode(), self.app_secret.encode()):
            logger.warning(
                "Meta webhook for phone number id %s of tenant %s was signed by another app than its "
                "account's: %s skipped",
                self.phone_number_id,
                number.tenant_id,
                self._items(),
            )
            return None
        # Tenants may share one app (and so its secret): the number must also be under the WhatsApp
        # Business Account of its sender's account, or one tenant could claim another's number.
        if self.business_account_id != number.business_account_id:
            logger.warning(
                "Meta webhook for phone number id %s of tenant %s came under WhatsApp Business Account "
                "%s, not its account's: %s skipped",
                self.phone_number_id,
                number.tenant_id,
                self.business_account_id[:32],
                self._items(),
            )
            return None
        self._warn_unless_display_number_is(number.phone_number, number.tenant_id)
        return Recipient(tenant_id=number.tenant_id, number=number.phone_number)

    def _warn_unless_display_number_is(self, configured: PhoneNumber, tenant_id: UUID) -> None:
        for display in self.display_numbers:
            digits = "".join(character for character in display if character.isdigit())
            try:
                shown = PhoneNumber.parse(f"+{digits}")
            except InvalidPhoneNumber:
                continue
            if not shown.is_same_contact_as(configured):
                logger.warning(
                    "Meta says phone number id %s is %s; tenant %s's sender with that id is %s: messages "
                    "are kept under the sender's number (correct the sender if it is wrong)",
                    self.phone_number_id,
                    shown,
                    tenant_id,
                    configured,
                )

    def _items(self) -> str:
        return f"{len(self.inbound)} messages and {len(self.statuses)} statuses"


@dataclass(frozen=True, slots=True)
class _KnownNumbers:
    """The numbers ``apps`` knew when it proved a delivery, to route its parts while they are current."""

    apps: MetaApps
    known: KnownMetaApps

    def current_numbers(self) -> Mapping[str, MetaNumber] | None:
        return self.known.numbers if self.apps.current(self.known) else None


def _refuse_delivery(callback: ProviderCallback, reason: str, *, level: int = logging.WARNING) -> NoReturn:
    logger.log(level, "Meta webhook refused: %s (from %s)", reason, callback.client_address[:64])
    raise CallbackRejected(_NOT_SIGNED)


# -- the subscription handshake --------------------------------------------------------------------


class MetaSubscriptionChecks:
    """Meta's GET on ``/webhooks/meta`` when a callback URL is saved: ``hub.mode=subscribe``,
    ``hub.verify_token`` and ``hub.challenge``, the challenge echoed only for the verify token of one of
    the configured Meta accounts (compared in constant time)."""

    provider = ProviderName.META

    def __init__(self, *, failure_limit: RateLimit | None = None, apps: MetaApps | None = None) -> None:
        self._failures = MetaWebhookFailureLimit(failure_limit)
        self._apps = apps

    async def screen(self, callback: ProviderCallback) -> ScreenedSubscriptionCheck:
        query = _query(callback.url)
        challenge = query.get("hub.challenge", "")
        if (
            query.get("hub.mode") != "subscribe"
            or not query.get("hub.verify_token")
            or not 0 < len(challenge) <= _MAX_CHALLENGE_LENGTH
            or not (challenge.isascii() and challenge.isprintable())
        ):
            _refuse_check(callback, "not a subscription check of Meta's form", level=logging.DEBUG)
        if self._apps is not None:
            tenants = _tenants_of(query, (await self._apps.known()).apps)
            if tenants:
                return ScreenedSubscriptionCheck(self, callback, query, tenants, counted=[])
        counted = self._failures.counted(callback.client_address)
        return ScreenedSubscriptionCheck(self, callback, query, None, counted=counted)

    async def proven_tenants(
        self, uow: UnitOfWork, callback: ProviderCallback, query: Mapping[str, str]
    ) -> list[UUID]:
        tenants = _tenants_of(query, await uow.provider_accounts.meta_apps())
        if not tenants:
            _refuse_check(callback, "the verify token is no configured Meta account's")
        if self._apps is not None:
            self._apps.forget()
        return tenants


class ScreenedSubscriptionCheck:
    """A handshake that passed the first look (implements ``ScreenedCallback``)."""

    def __init__(
        self,
        checks: MetaSubscriptionChecks,
        callback: ProviderCallback,
        query: Mapping[str, str],
        tenants: list[UUID] | None,
        *,
        counted: list[CountedLimit],
    ) -> None:
        self._checks = checks
        self._callback = callback
        self._query = query
        self._tenants = tenants
        self._counted = counted
        self._authenticated = False

    @property
    def counted_against(self) -> Sequence[CountedLimit]:
        return self._counted

    async def authenticate(self, uow: UnitOfWork) -> list[UUID]:
        if self._tenants is None:
            self._tenants = await self._checks.proven_tenants(uow, self._callback, self._query)
        self._authenticated = True
        return self._tenants

    def command(self) -> SubscriptionChallenge:
        if not self._authenticated:
            raise RuntimeError("a subscription check is answered only after it was authenticated")
        return SubscriptionChallenge(challenge=self._query["hub.challenge"])


def _query(url: str) -> dict[str, str]:
    """The first value of each query parameter of ``url``."""
    query: dict[str, str] = {}
    for name, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        query.setdefault(name, value)
    return query


def _tenants_of(query: Mapping[str, str], apps: Sequence[MetaApp]) -> list[UUID]:
    """The tenants whose account's verify token ``query`` gives."""
    return [app.tenant_id for app in apps if subscription_challenge(query, app.verify_token) is not None]


def _refuse_check(callback: ProviderCallback, reason: str, *, level: int = logging.WARNING) -> NoReturn:
    logger.log(level, "Meta subscription check refused: %s (from %s)", reason, callback.client_address[:64])
    raise SubscriptionRefused()
