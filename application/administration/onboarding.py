"""Creating tenants, senders and users: platform and tenant admins over the API, and an operator from
the command line. Tenants and users created are recorded in the audit trail."""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import UUID

from application.administration.provider_accounts import checked_sender_account, store_twilio_credentials
from application.audit_entries import audit_entry
from application.authorization import (
    OPERATOR,
    Actor,
    require_platform_admin,
    require_sender_manager,
    require_user_manager,
)
from application.errors import AlreadyExists, InvalidInput, NotFound
from application.passwords import check_password_rules
from application.ports.clock import Clock
from application.ports.identity import PasswordHasher
from application.ports.unit_of_work import UnitOfWork
from domain.administration.audit import AuditAction, TargetKind
from domain.administration.tenancy import ProviderName, Role, Sender, Tenant, TwilioCredentials, User
from domain.identity.credentials import PLATFORM_TENANT_ID, PLATFORM_TENANT_NAME
from domain.phone import PhoneNumber

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{2,63}$")
META_IS_PER_SENDER = (
    "Meta's Cloud API is chosen per sender, not per tenant: add a Meta provider account, then senders on it"
)


@dataclass(frozen=True, slots=True)
class CreateTenantCommand:
    name: str
    provider: ProviderName = ProviderName.SANDBOX
    twilio_credentials: TwilioCredentials | None = None
    session_window_check: bool = True


class CreateTenant:
    """A platform admin's or the operator's."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, actor: Actor, command: CreateTenantCommand) -> Tenant:
        require_platform_admin(actor)
        name = command.name.strip()
        if not 1 <= len(name) <= 200:
            raise InvalidInput("a tenant name is 1 to 200 characters")
        if name.lower() == PLATFORM_TENANT_NAME:
            raise InvalidInput(f"the tenant name {name!r} is reserved")
        if command.provider is ProviderName.TWILIO and command.twilio_credentials is None:
            raise InvalidInput("a tenant on Twilio needs its Twilio account SID and auth token")
        if command.provider is ProviderName.META:
            raise InvalidInput(META_IS_PER_SENDER)
        if not command.session_window_check and command.provider is not ProviderName.SANDBOX:
            raise InvalidInput("only a sandbox tenant can switch the 24-hour session window check off")
        tenant = Tenant(
            name=name,
            provider=command.provider,
            created_at=self._clock.now(),
            session_window_check=command.session_window_check,
        )
        async with self._uow:
            if await self._uow.tenants.get_by_name(name) is not None:
                raise AlreadyExists(f"a tenant named {name!r} exists already")
            await self._uow.tenants.add(tenant)
            await self._uow.audit.record(
                audit_entry(
                    AuditAction.TENANT_CREATED,
                    actor,
                    now=tenant.created_at,
                    tenant_id=tenant.id,
                    target=(TargetKind.TENANT, tenant.id),
                    details={"name": tenant.name, "provider": tenant.provider},
                )
            )
            if command.twilio_credentials is not None:
                await store_twilio_credentials(
                    self._uow, actor, tenant.id, command.twilio_credentials, tenant.created_at
                )
            await self._uow.commit()
        return tenant


class AddSender:
    """A sender of a tenant, added by its admins or the operator (see ``require_sender_manager``)."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(
        self,
        actor: Actor,
        tenant_id: UUID,
        phone_number: str,
        *,
        label: str = "",
        account_id: UUID | None = None,
        provider_number_id: str | None = None,
    ) -> Sender:
        """``account_id``: the provider account it sends through (None: the tenant's provider);
        ``provider_number_id``: the number's id at that provider (Meta's phone-number id)."""
        require_sender_manager(actor, tenant_id)
        number = PhoneNumber.parse(phone_number)
        async with self._uow:
            if await self._uow.tenants.get(tenant_id) is None:
                raise NotFound("the tenant does not exist")
            account_id, provider_number_id = await checked_sender_account(
                self._uow, tenant_id, account_id, provider_number_id
            )
            # One sender per person (whichever form of the number): inbound messages are routed by
            # identity. Two forms added at the same moment can both get past this check (the unique
            # index compares numbers as written); the result is a sender too many, which the tenant can
            # remove, and which routing tolerates.
            if (existing := await self._uow.senders.get_by_number(tenant_id, number)) is not None:
                written = "" if existing.phone_number == number else f", as {existing.phone_number}"
                raise AlreadyExists(f"{number} is already a sender of this tenant{written}")
            # The first sender becomes the default, so a new tenant can send without naming one.
            is_default = await self._uow.senders.get_default(tenant_id) is None
            sender = Sender(
                tenant_id=tenant_id,
                phone_number=number,
                created_at=self._clock.now(),
                is_default=is_default,
                label=label,
                account_id=account_id,
                provider_number_id=provider_number_id,
            )
            await self._uow.senders.add(sender)
            await self._uow.commit()
        return sender


class CreateUser:
    """A user of a tenant, created by a person (see ``require_user_manager``)."""

    def __init__(self, uow: UnitOfWork, hasher: PasswordHasher, clock: Clock) -> None:
        self._uow = uow
        self._hasher = hasher
        self._clock = clock

    async def __call__(
        self, actor: Actor, tenant_id: UUID, username: str, password: str, role: Role = Role.AGENT
    ) -> User:
        require_user_manager(actor, tenant_id)
        normalized = username.strip().lower()
        if not USERNAME_PATTERN.match(normalized):
            raise InvalidInput("a username is 3 to 64 characters: letters, digits, '.', '_', '-', '@'")
        check_password_rules(password)
        # Platform admins live in the platform tenant, and nobody else does.
        if (tenant_id == PLATFORM_TENANT_ID) != (role is Role.PLATFORM_ADMIN):
            raise InvalidInput(
                "platform admins belong to the platform tenant, and a tenant's users are agents or "
                "tenant admins"
            )
        password_hash = await self._hasher.hash(password)
        async with self._uow:
            if await self._uow.tenants.get(tenant_id) is None:
                raise NotFound("the tenant does not exist")
            if await self._uow.users.get_by_username(normalized) is not None:
                raise AlreadyExists(f"the username {normalized!r} is taken")
            user = User(
                tenant_id=tenant_id,
                username=normalized,
                password_hash=password_hash,
                created_at=self._clock.now(),
                role=role,
            )
            await self._uow.users.add(user)
            await self._uow.audit.record(
                audit_entry(
                    AuditAction.USER_CREATED,
                    actor,
                    now=user.created_at,
                    tenant_id=tenant_id,
                    target=(TargetKind.USER, user.id),
                    details={"username": user.username, "role": user.role},
                )
            )
            await self._uow.commit()
        return user


class EnsurePlatformTenant:
    """The tenant platform admins belong to: created the first time a platform admin is."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self) -> Tenant:
        async with self._uow:
            existing = await self._uow.tenants.get(PLATFORM_TENANT_ID)
            if existing is not None:
                return existing
            tenant = Tenant(
                id=PLATFORM_TENANT_ID,
                name=PLATFORM_TENANT_NAME,
                provider=ProviderName.SANDBOX,
                created_at=self._clock.now(),
            )
            await self._uow.tenants.add(tenant)
            await self._uow.commit()
        return tenant


def is_customer_tenant(tenant: Tenant) -> bool:
    """Any tenant but the platform tenant."""
    return tenant.id != PLATFORM_TENANT_ID


@dataclass(frozen=True, slots=True)
class DemoAccount:
    tenant: Tenant
    sender: Sender
    username: str
    password: str


DEMO_USERNAME = "demo"
DEMO_PASSWORD = "password"  # noqa: S105 - the documented demo login of an empty development database
DEMO_SENDER = "+14155238886"  # Twilio's WhatsApp sandbox number


class ProvisionDemo:
    """On an empty database, create a demo tenant, sender and user so a first run can send at once."""

    def __init__(self, uow: UnitOfWork, hasher: PasswordHasher, clock: Clock) -> None:
        self._uow = uow
        self._hasher = hasher
        self._clock = clock

    async def __call__(self) -> DemoAccount | None:
        async with self._uow:
            tenants = await self._uow.tenants.count()
            if await self._uow.tenants.get(PLATFORM_TENANT_ID) is not None:
                tenants -= 1  # platform admins alone do not make a database non-empty
            if tenants > 0:
                return None
        # The demo has no customers to write first, so it may send free-form messages to anyone.
        tenant = await CreateTenant(self._uow, self._clock)(
            OPERATOR, CreateTenantCommand(name="Demo", session_window_check=False)
        )
        sender = await AddSender(self._uow, self._clock)(
            OPERATOR, tenant.id, DEMO_SENDER, label="demo sender"
        )
        await CreateUser(self._uow, self._hasher, self._clock)(
            OPERATOR, tenant.id, DEMO_USERNAME, DEMO_PASSWORD, Role.TENANT_ADMIN
        )
        return DemoAccount(tenant=tenant, sender=sender, username=DEMO_USERNAME, password=DEMO_PASSWORD)
