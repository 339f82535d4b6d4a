"""A sender's quality flagged or its messaging limit lowered by the provider: the campaigns sending from
it pause themselves, with the reason, until a tenant admin resumes them.

The provider names the sender by its number under one of its business accounts; only a tenant's sender
of that number on one of the accounts the delivery was proven for is affected. Each tenant's campaigns
are paused in one transaction, as the dispatch pauses a campaign on a provider's rate limit
(``runner.pause_by_gateway``): its unsent messages held back, its ``campaign.paused`` event and audit
entry written.
"""

from __future__ import annotations

import logging

from application.campaigns.runner import pause_by_gateway
from application.ports.clock import Clock
from application.ports.provider_callbacks import ProvenAccount
from application.ports.unit_of_work import UnitOfWork
from domain.campaigns.sender_quality import SenderQualityChange

logger = logging.getLogger(__name__)


class PauseCampaignsOfDegradedSender:
    """Pause the running and scheduled campaigns of the sender whose quality or limit fell; how many."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, change: SenderQualityChange, accounts: frozenset[ProvenAccount]) -> int:
        reason = change.pause_reason
        logger.info(
            "sender %s: %s (daily limit %s, before %s)",
            change.number,
            change.event,
            change.daily_limit,
            change.previous_daily_limit,
        )
        if reason is None:
            return 0  # better news pauses nothing, and resumes nothing: a person does
        paused = 0
        for account in sorted(accounts, key=lambda a: (str(a.tenant_id), str(a.account_id))):
            async with self._uow:
                sender = await self._uow.senders.get_by_number(account.tenant_id, change.number)
                if sender is None or sender.account_id != account.account_id:
                    continue
                now = self._clock.now()
                for campaign in await self._uow.campaigns.active_of_sender(
                    account.tenant_id, sender.phone_number
                ):
                    if await pause_by_gateway(self._uow, campaign, reason, now) is not None:
                        paused += 1
                        logger.warning(
                            "campaign %s of tenant %s paused: %s", campaign.id, account.tenant_id, reason
                        )
                await self._uow.commit()
        return paused
