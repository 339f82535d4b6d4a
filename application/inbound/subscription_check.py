"""A provider's check that a callback URL is ours, before it sends anything there (Meta's webhook
subscription handshake): the URL echoes the provider's challenge, and only when the check proves it
knows the verify token of one of our accounts at that provider.

Nothing is stored. Checks that fail are counted as failed signatures are (``receive_message.py``): a
check the adapter proves from what it keeps in memory is never counted; any other is counted before it
is looked up, and stays counted only if it fails, so that guessing verify tokens is bounded per client
address.
"""

from __future__ import annotations

from application.errors import CallbackRejected
from application.inbound.commands import SubscriptionChallenge
from application.ports.provider_callbacks import ProviderCallback, ProviderCallbackReader
from application.ports.rate_limits import RateLimiter
from application.ports.unit_of_work import UnitOfWork
from application.rate_limits import attempt


class AnswerSubscriptionCheck:
    """The challenge to echo to a provider's check of a callback URL; SubscriptionRefused (a
    CallbackRejected) when the check does not prove it knows one of our verify tokens."""

    def __init__(
        self,
        uow: UnitOfWork,
        checks: ProviderCallbackReader[SubscriptionChallenge],
        *,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._uow = uow
        self._checks = checks
        self._limiter = limiter

    async def __call__(self, callback: ProviderCallback) -> str:
        screened = await self._checks.screen(callback)
        counted = attempt(self._limiter, screened.counted_against, failure=CallbackRejected)
        async with counted, self._uow:
            await screened.authenticate(self._uow)
        return screened.command().challenge
