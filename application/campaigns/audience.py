"""Turning an audience into recipients: each number checked, each person once, the template's values
taken from the recipient's attributes and checked against the template, who opted out left out.

Recipients are stored in batches of ``BATCH_SIZE`` rows, one multi-row insert each.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from application.messaging.template_sends import resolved_template
from application.ports.unit_of_work import UnitOfWork
from domain.campaigns.model import Campaign, NewRecipient, SkipReason, variables_for
from domain.errors import DomainError
from domain.messaging.messages import Template
from domain.phone import PhoneNumber
from domain.templates.catalogue import CatalogueTemplate, TemplateListing
from domain.templates.errors import InvalidTemplateValues

BATCH_SIZE = 500


@dataclass(frozen=True, slots=True)
class AudienceRow:
    """One recipient as given: its place (a list index + 1, a CSV line), its number, its attributes."""

    position: int
    number: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    problem: str | None = None  # what made the row unreadable (a CSV row with too many cells, say)


@dataclass(slots=True)
class Materialised:
    stored: int = 0
    duplicates: int = 0


class AudienceMaterialiser:
    """Stores one campaign's recipients, batch by batch, inside the caller's transaction."""

    def __init__(
        self,
        uow: UnitOfWork,
        campaign: Campaign,
        template: tuple[CatalogueTemplate, TemplateListing],
        now: datetime,
    ) -> None:
        self._uow = uow
        self._campaign = campaign
        self._entry, self._listing = template
        self._now = now
        self.totals = Materialised()

    async def add(self, rows: Iterable[AudienceRow]) -> None:
        batch: list[AudienceRow] = []
        for row in rows:
            batch.append(row)
            if len(batch) == BATCH_SIZE:
                await self._store(batch)
                batch = []
        if batch:
            await self._store(batch)

    async def _store(self, rows: Sequence[AudienceRow]) -> None:
        recipients = [self._recipient(row) for row in rows]
        valid = {r.identity for r in recipients if r.identity is not None and r.skip_reason is None}
        opted_out = (
            await self._uow.consent.opted_out_among(self._campaign.tenant_id, valid) if valid else frozenset()
        )
        recipients = [
            NewRecipient(
                r.position, r.number, r.identity, r.variables, SkipReason.OPTED_OUT, "the recipient opted out"
            )
            if r.identity in opted_out and r.skip_reason is None
            else r
            for r in recipients
        ]
        stored = await self._uow.campaigns.add_recipients(
            self._campaign.tenant_id, self._campaign.id, recipients, self._now
        )
        self.totals.stored += stored
        self.totals.duplicates += len(recipients) - stored

    def _recipient(self, row: AudienceRow) -> NewRecipient:
        if row.problem is not None:
            return NewRecipient(row.position, row.number, None, {}, SkipReason.INVALID, row.problem)
        try:
            number = PhoneNumber.parse(row.number)
        except DomainError as error:
            return NewRecipient(row.position, row.number, None, {}, SkipReason.INVALID, str(error))
        values = variables_for(self._campaign.variables, row.attributes)
        problem = template_problem(self._campaign, self._entry, self._listing, values)
        if problem is not None:
            return NewRecipient(
                row.position, number.e164, number.identity, values, SkipReason.INVALID, problem
            )
        return NewRecipient(row.position, number.e164, number.identity, values)


def template_problem(
    campaign: Campaign, entry: CatalogueTemplate, listing: TemplateListing, values: Mapping[str, str]
) -> str | None:
    """Why the template cannot be sent with ``values`` (a variable missing, too long ...); None if it can."""
    try:
        resolved_template(
            entry,
            Template.named(campaign.template_name, campaign.template_language, values),
            None,
            listing,
            "variables",
        )
    except InvalidTemplateValues as error:
        return "; ".join(f"{problem.field}: {problem.message}" for problem in error.problems)[:500]
    except DomainError as error:
        return str(error)[:500]
    return None
