"""Provider callbacks: a provider's requests into the gateway (a customer's message, a status report).

Each provider's adapter reads its own callbacks: it proves who a callback is for and turns what it says
into one of our commands (``application/inbound/commands.py``). The use cases never see a provider's
field names, status words or signature scheme.

Two shapes: a callback about one thing (Twilio's: one message, one status report) is read by a
``ProviderCallbackReader``; a delivery that batches many messages and reports for many numbers (Meta's
webhooks) by a ``ProviderDeliveryReader``, which proves the delivery once and then says, part by part,
which tenant each part is for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar
from uuid import UUID

from application.inbound.commands import InboundMessage, StatusReport
from application.ports.templates import TemplateStatusUpdate
from application.ports.unit_of_work import UnitOfWork
from application.principal import UNKNOWN_CLIENT_ADDRESS
from application.rate_limits import CountedLimit
from domain.administration.tenancy import ProviderName
from domain.campaigns.sender_quality import SenderQualityChange
from domain.phone import PhoneNumber

Command_co = TypeVar("Command_co", covariant=True)


@dataclass(frozen=True, slots=True)
class ProviderCallback:
    """A provider's request as it arrived, before anything in it is believed.

    ``url`` is the full URL as the provider called it (the public one, query string included: some
    providers sign it), ``body`` the raw body (others sign that) of media type ``content_type``,
    ``headers`` every header by lower-case name (the first value of a repeated one). ``client_address``
    is where it came from: failed authentications are counted against it.
    """

    url: str
    content_type: str
    # Kept out of repr: a callback URL may carry Basic credentials, which arrive as a header.
    body: bytes = field(repr=False)
    headers: Mapping[str, str] = field(repr=False)
    client_address: str = UNKNOWN_CLIENT_ADDRESS


class ScreenedCallback(Protocol[Command_co]):
    """A callback that passed the provider adapter's first look (see ``ProviderCallbackReader``)."""

    @property
    def counted_against(self) -> Sequence[CountedLimit]:
        """What authenticating it against the database is counted against, as an attempt that fails
        with CallbackRejected: nothing, for a callback the adapter proved from what it keeps in memory."""
        ...

    async def authenticate(self, uow: UnitOfWork) -> list[UUID]:
        """The tenants it proves it is for, read in ``uow``'s transaction, in the order they have it
        (oldest sender first). CallbackRejected when there are none."""
        ...

    def command(self) -> Command_co:
        """What it says, in our words; only after ``authenticate``, as nothing in it is believed before.
        InvalidInput (or a domain error) when a field the command needs is unusable."""
        ...


class ProviderCallbackReader(Protocol[Command_co]):
    """One kind of callback of one provider (Twilio's status callbacks, say)."""

    @property
    def provider(self) -> ProviderName: ...

    async def screen(self, callback: ProviderCallback) -> ScreenedCallback[Command_co]:
        """A first look, outside any transaction, that costs no lookup: CallbackRejected at once for a
        callback that cannot be the provider's (not of its form, no signature of its form)."""
        ...


@dataclass(frozen=True, slots=True)
class Recipient:
    """Whom part of a delivery is for: a tenant, through its sender ``number`` (as the tenant has it)."""

    tenant_id: UUID
    number: PhoneNumber


class DeliveryPart(Protocol):
    """What a delivery says happened at one of the provider's numbers: messages customers sent to it,
    and reports on messages sent from it, in our words."""

    @property
    def number(self) -> str:
        """The provider's name for the number (an id of its own, say), for the log."""
        ...

    @property
    def inbound(self) -> Sequence[InboundMessage]: ...

    @property
    def statuses(self) -> Sequence[StatusReport]: ...

    @property
    def needs_lookup(self) -> bool:
        """Whether ``recipient`` reads in ``uow``'s transaction; False when the adapter knows the answer
        to be the database's (nothing changed since it read it), and the caller need open none."""
        ...

    async def recipient(self, uow: UnitOfWork) -> Recipient | None:
        """The tenant the part is for, read in ``uow``'s transaction: the one whose sender is the number,
        provided the delivery was proven with that sender's own account. None (logged by the adapter)
        when there is no such tenant: the part is skipped, and the rest of the delivery goes on."""
        ...


class TemplateUpdatesPart(Protocol):
    """What a delivery says of the templates of one of the provider's business accounts: their status and
    quality changes."""

    @property
    def updates(self) -> Sequence[TemplateStatusUpdate]: ...

    async def proven_accounts(self, uow: UnitOfWork) -> frozenset[UUID]:
        """The provider accounts the delivery may speak for, read in ``uow``'s transaction: those of that
        business account whose app signed the delivery. A template listed on any other account is left
        alone, so that one tenant's app cannot change the status of another's templates."""
        ...


class TemplateStatusSink(Protocol):
    """Where a provider's word on a template goes (the catalogue's use case, wired by the composition
    root): applied to the template listed under that id on one of ``accounts``; True if it changed it."""

    async def __call__(self, update: TemplateStatusUpdate, accounts: frozenset[UUID]) -> bool: ...


@dataclass(frozen=True, slots=True)
class ProvenAccount:
    """A tenant's provider account that a delivery was proven to speak for."""

    tenant_id: UUID
    account_id: UUID


class SenderQualityPart(Protocol):
    """What a delivery says of the quality and messaging limits of one business account's numbers."""

    @property
    def changes(self) -> Sequence[SenderQualityChange]: ...

    async def proven_accounts(self, uow: UnitOfWork) -> frozenset[ProvenAccount]:
        """The provider accounts the delivery may speak for (as ``TemplateUpdatesPart`` says): only
        senders on these are affected, so that one tenant's app cannot pause another's campaigns."""
        ...


class SenderQualitySink(Protocol):
    """Where a provider's word on a sender's quality goes (the campaigns' use case, wired by the
    composition root): how many campaigns it paused."""

    async def __call__(self, change: SenderQualityChange, accounts: frozenset[ProvenAccount]) -> int: ...


class ScreenedDelivery(Protocol):
    """A delivery that passed the provider adapter's first look (see ``ProviderDeliveryReader``)."""

    @property
    def counted_against(self) -> Sequence[CountedLimit]:
        """What authenticating it against the database is counted against, as an attempt that fails
        with CallbackRejected: nothing, for a delivery the adapter proved from what it keeps in memory."""
        ...

    @property
    def needs_lookup(self) -> bool:
        """Whether ``authenticate`` reads in ``uow``'s transaction; False for a delivery the adapter
        proved from what it keeps in memory, and the caller need open none."""
        ...

    async def authenticate(self, uow: UnitOfWork) -> None:
        """Prove it is the provider's, reading in ``uow``'s transaction if ``needs_lookup``;
        CallbackRejected when it is not."""
        ...

    def parts(self) -> Sequence[DeliveryPart]:
        """What it says, one part per number; only after ``authenticate``, as nothing in it is believed
        before. InvalidInput when the delivery as a whole cannot be read."""
        ...

    def template_parts(self) -> Sequence[TemplateUpdatesPart]:
        """What it says of templates, one part per business account; only after ``authenticate``."""
        ...

    def sender_quality_parts(self) -> Sequence[SenderQualityPart]:
        """What it says of its numbers' quality and limits, one part per business account; only after
        ``authenticate``."""
        ...


class ProviderDeliveryReader(Protocol):
    """A provider's deliveries that each carry many messages and status reports, for many numbers of
    many tenants (Meta's webhooks): proven as a whole, then routed part by part."""

    @property
    def provider(self) -> ProviderName: ...

    async def screen(self, callback: ProviderCallback) -> ScreenedDelivery:
        """A first look, outside any transaction, that costs no lookup: CallbackRejected at once for a
        callback that cannot be the provider's (no signature of its form)."""
        ...
