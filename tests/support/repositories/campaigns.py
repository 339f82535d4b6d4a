"""Campaigns and their recipients, as the repository contract tests write them
(contract/test_campaign_repositories.py, and the tests that build on it)."""

from __future__ import annotations

from domain.administration.tenancy import Tenant
from domain.campaigns.model import AudienceKind, Campaign, NewRecipient, VariableBinding
from domain.campaigns.schedule import Pace
from domain.phone import PhoneNumber
from tests.support.databases import UowFactory
from tests.support.repositories import OUR_NUMBER, T0


def a_campaign(tenant: Tenant, *, at: object = T0, **more: object) -> Campaign:
    fields: dict[str, object] = {
        "tenant_id": tenant.id,
        "name": "Spring sale",
        "sender": OUR_NUMBER,
        "template_name": "spring_sale",
        "template_language": "en",
        "variables": (VariableBinding("1", attribute="first_name"), VariableBinding("2", constant="20%")),
        "audience": AudienceKind.LIST,
        "pace": Pace(12.5, daily_cap=1000),
        "start_at": at,
        "created_at": at,
        "updated_at": at,
    }
    fields.update(more)
    return Campaign(**fields)  # type: ignore[arg-type]


async def add_campaign(
    uow_factory: UowFactory, campaign: Campaign, key: tuple[str, str] | None = None
) -> Campaign:
    async with uow_factory() as uow:
        await uow.campaigns.add(campaign, key)
        await uow.commit()
    return campaign


def person(position: int, **more: object) -> NewRecipient:
    number = PhoneNumber.parse(f"+4479111{position:05d}")
    fields: dict[str, object] = {
        "position": position,
        "number": number.e164,
        "identity": number.identity,
        "variables": {"1": f"Person {position}"},
    }
    fields.update(more)
    return NewRecipient(**fields)  # type: ignore[arg-type]


async def add_people(uow_factory: UowFactory, campaign: Campaign, *recipients: NewRecipient) -> int:
    async with uow_factory() as uow:
        stored = await uow.campaigns.add_recipients(campaign.tenant_id, campaign.id, recipients, T0)
        await uow.commit()
    return stored
