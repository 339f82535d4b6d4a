"""Provider callbacks: a provider's requests into the gateway (a customer's message, a status report).

Each provider's adapter reads its own callbacks: it proves who a callback is for and turns what it says
into one of our commands (``application/inbound/commands.py``). The use cases never see a provider's
field names, status words or signature scheme.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar
from uuid import UUID

from application.ports.unit_of_work import UnitOfWork
from application.principal import UNKNOWN_CLIENT_ADDRESS
from application.rate_limits import CountedLimit
from domain.administration.tenancy import ProviderName

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
