"""Administration on the wire: tenants, their users, senders and Twilio credentials, the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from application.administration.audit_trail import AuditPage
from application.administration.tenant_admin import CredentialsSummary
from domain.administration.audit import ActorKind, AuditAction, AuditEntry, TargetKind
from domain.administration.tenancy import (
    DEFAULT_GRAPH_API_VERSION,
    MetaCredentials,
    ProviderAccount,
    ProviderCredentials,
    ProviderName,
    Role,
    Sender,
    Tenant,
    TenantStatus,
    TwilioCredentials,
    User,
    provider_of,
)
from domain.errors import InvalidCredentials
from entrypoints.http.wire_types import TenantRole, Text

Username = Annotated[Text, msgspec.Meta(min_length=1, max_length=64, examples=["ana"])]
TenantName = Annotated[Text, msgspec.Meta(min_length=1, max_length=200, examples=["Acme Shoes"])]


class TwilioCredentialsRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Write-only: the secrets are stored encrypted and never returned."""

    account_sid: Annotated[Text, msgspec.Meta(max_length=34, examples=["AC" + "0" * 32])]
    auth_token: Annotated[Text, msgspec.Meta(min_length=1, max_length=128)]
    api_key_sid: Annotated[Text, msgspec.Meta(max_length=34)] | None = None
    api_key_secret: Annotated[Text, msgspec.Meta(min_length=1, max_length=128)] | None = None

    def to_domain(self) -> TwilioCredentials:
        return TwilioCredentials(
            account_sid=self.account_sid,
            auth_token=self.auth_token,
            api_key_sid=self.api_key_sid,
            api_key_secret=self.api_key_secret,
        )


class MetaCredentialsRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Write-only: the access token, app secret and verify token are stored encrypted, never returned."""

    business_account_id: Annotated[
        Text, msgspec.Meta(min_length=1, max_length=32, examples=["102290129340398"])
    ]
    access_token: Annotated[Text, msgspec.Meta(min_length=1, max_length=1024)]
    app_secret: Annotated[Text, msgspec.Meta(min_length=1, max_length=128)]
    verify_token: Annotated[Text, msgspec.Meta(min_length=1, max_length=128)]
    graph_api_version: Annotated[Text, msgspec.Meta(max_length=16, examples=[DEFAULT_GRAPH_API_VERSION])] = (
        DEFAULT_GRAPH_API_VERSION
    )

    def to_domain(self) -> MetaCredentials:
        return MetaCredentials(
            business_account_id=self.business_account_id,
            access_token=self.access_token,
            app_secret=self.app_secret,
            verify_token=self.verify_token,
            graph_api_version=self.graph_api_version,
        )


AccountLabel = Annotated[Text, msgspec.Meta(max_length=200, examples=["Meta, Brazil"])]


def _credentials_of(
    provider: ProviderName | None,
    twilio: TwilioCredentialsRequest | None,
    meta: MetaCredentialsRequest | None,
) -> ProviderCredentials | None:
    if twilio is not None and meta is not None:
        raise InvalidCredentials("an account is at one provider: give either twilio or meta")
    given = twilio or meta
    if given is None:
        if provider is not None:
            raise InvalidCredentials(f"a {provider} account needs its credentials under {provider!r}")
        return None
    credentials = given.to_domain()
    if provider is not None and provider_of(credentials) is not provider:
        raise InvalidCredentials(f"a {provider} account takes its credentials under {provider!r}")
    return credentials


class CreateProviderAccountRequest(msgspec.Struct, forbid_unknown_fields=True):
    """``provider`` and its credentials under the same name."""

    provider: Literal["twilio", "meta"]
    label: AccountLabel = ""
    twilio: TwilioCredentialsRequest | None = None
    meta: MetaCredentialsRequest | None = None

    def credentials(self) -> ProviderCredentials:
        credentials = _credentials_of(ProviderName(self.provider), self.twilio, self.meta)
        assert credentials is not None  # a provider was named, so credentials were required
        return credentials


class UpdateProviderAccountRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A new label, or new credentials (all of them: the secrets are replaced) at the same provider."""

    label: AccountLabel | None = None
    twilio: TwilioCredentialsRequest | None = None
    meta: MetaCredentialsRequest | None = None

    def credentials(self) -> ProviderCredentials | None:
        return _credentials_of(None, self.twilio, self.meta)


class TwilioAccountResource(msgspec.Struct):
    account_sid: str
    api_key_sid: str | None


class MetaAccountResource(msgspec.Struct):
    business_account_id: str
    graph_api_version: str


class ProviderAccountResource(msgspec.Struct):
    """A provider account as it is shown: its public ids, never a secret."""

    id: UUID
    provider: ProviderName
    label: str
    created_at: datetime
    twilio: TwilioAccountResource | None = None
    meta: MetaAccountResource | None = None

    @classmethod
    def of(cls, account: ProviderAccount) -> ProviderAccountResource:
        credentials = account.credentials
        resource = cls(
            id=account.id, provider=account.provider, label=account.label, created_at=account.created_at
        )
        if isinstance(credentials, TwilioCredentials):
            resource.twilio = TwilioAccountResource(credentials.account_sid, credentials.api_key_sid)
        else:
            resource.meta = MetaAccountResource(
                credentials.business_account_id, credentials.graph_api_version
            )
        return resource


class CredentialsResource(msgspec.Struct):
    """What is shown of the tenant's Twilio credentials: never a secret."""

    configured: bool
    account_sid: str | None
    api_key_sid: str | None

    @classmethod
    def of(cls, summary: CredentialsSummary) -> CredentialsResource:
        return cls(
            configured=summary.configured, account_sid=summary.account_sid, api_key_sid=summary.api_key_sid
        )


class CreateTenantRequest(msgspec.Struct, forbid_unknown_fields=True):
    name: TenantName
    provider: ProviderName = ProviderName.SANDBOX
    session_window_check: bool = True
    twilio: TwilioCredentialsRequest | None = None


class UpdateTenantRequest(msgspec.Struct, forbid_unknown_fields=True):
    name: TenantName | None = None
    provider: ProviderName | None = None
    session_window_check: bool | None = None
    # The tenant's send limits; 0 puts one back to the gateway's default.
    sends_per_minute: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] | None = None
    sends_per_day: Annotated[int, msgspec.Meta(ge=0, le=100_000_000)] | None = None
    # The IANA time zone of the tenant's calendar ("Europe/Madrid"): campaigns' quiet hours and daily caps.
    time_zone: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_+\-/]+$", examples=["Europe/Madrid"]
            ),
        ]
        | None
    ) = None


class TenantResource(msgspec.Struct):
    id: UUID
    name: str
    provider: ProviderName
    status: TenantStatus
    session_window_check: bool
    created_at: datetime
    # The tenant's own send limits; null: the gateway's defaults.
    sends_per_minute: int | None = None
    sends_per_day: int | None = None
    time_zone: str = "UTC"

    @classmethod
    def of(cls, tenant: Tenant) -> TenantResource:
        return cls(
            id=tenant.id,
            name=tenant.name,
            provider=tenant.provider,
            status=tenant.status,
            session_window_check=tenant.session_window_check,
            created_at=tenant.created_at,
            sends_per_minute=tenant.sends_per_minute,
            sends_per_day=tenant.sends_per_day,
            time_zone=tenant.time_zone,
        )


class TenantPage(msgspec.Struct):
    items: list[TenantResource]
    next_cursor: str | None


class CreateUserRequest(msgspec.Struct, forbid_unknown_fields=True):
    username: Username
    password: Annotated[Text, msgspec.Meta(min_length=1, max_length=256, description="8 to 256 characters")]
    role: TenantRole = "agent"


class UpdateUserRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Changing the role or the password, or deactivating the user, ends all of the user's sessions."""

    role: TenantRole | None = None
    is_active: bool | None = None
    password: Annotated[Text, msgspec.Meta(min_length=1, max_length=256)] | None = None


class UserResource(msgspec.Struct):
    id: UUID
    username: str
    role: Role
    is_active: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserResource:
        return cls(
            id=user.id,
            username=user.username,
            role=user.role,
            is_active=user.is_active,
            created_at=user.created_at,
        )


ProviderNumberId = Annotated[
    Text,
    msgspec.Meta(
        min_length=1,
        max_length=32,
        examples=["106540352242922"],
        description="The number's phone-number id on Meta's Cloud API (a sender on a Meta account needs it)",
    ),
]


AccountId = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$",
        examples=["5f0c6c1e-7f43-4c38-9d4b-4b3f0f2a9c11"],
        description="The provider account it sends through; null: none (the tenant's provider)",
    ),
]


class CreateSenderRequest(msgspec.Struct, forbid_unknown_fields=True):
    phone_number: Annotated[Text, msgspec.Meta(min_length=1, max_length=64, examples=["+14155238886"])]
    label: Annotated[Text, msgspec.Meta(max_length=200)] = ""
    account_id: AccountId | None = None
    provider_number_id: ProviderNumberId | None = None

    @property
    def account(self) -> UUID | None:
        return UUID(self.account_id) if self.account_id is not None else None


class UpdateSenderRequest(msgspec.Struct, forbid_unknown_fields=True):
    label: Annotated[Text, msgspec.Meta(max_length=200)] | None = None
    is_default: (
        Annotated[
            Literal[True],
            msgspec.Meta(description="true makes this the default sender (the old one stops being it)"),
        ]
        | None
    ) = None
    # Given (even null), the sender moves to that account; its number, conversations and history stay.
    account_id: AccountId | msgspec.UnsetType | None = msgspec.UNSET
    provider_number_id: ProviderNumberId | None = None

    @property
    def moves(self) -> bool:
        return not isinstance(self.account_id, msgspec.UnsetType)

    @property
    def account(self) -> UUID | None:
        return UUID(self.account_id) if isinstance(self.account_id, str) else None


class SenderResource(msgspec.Struct):
    id: UUID
    phone_number: str
    label: str
    is_default: bool
    created_at: datetime
    account_id: UUID | None  # the provider account it sends through; null: the tenant's provider
    provider_number_id: str | None

    @classmethod
    def of(cls, sender: Sender) -> SenderResource:
        return cls(
            id=sender.id,
            phone_number=sender.phone_number.e164,
            label=sender.label,
            is_default=sender.is_default,
            created_at=sender.created_at,
            account_id=sender.account_id,
            provider_number_id=sender.provider_number_id,
        )


class AuditActorResource(msgspec.Struct):
    type: ActorKind  # user, api_key, operator (the command line) or anonymous (a refused login)
    id: UUID | None
    role: Role | None


class AuditTargetResource(msgspec.Struct):
    type: TargetKind
    id: str | None


class AuditEntryResource(msgspec.Struct):
    id: UUID
    action: AuditAction
    occurred_at: datetime
    tenant_id: UUID | None
    actor: AuditActorResource
    target: AuditTargetResource | None
    client_address: str | None
    request_id: str | None
    details: dict[str, str]

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryResource:
        return cls(
            id=entry.id,
            action=entry.action,
            occurred_at=entry.occurred_at,
            tenant_id=entry.tenant_id,
            actor=AuditActorResource(type=entry.actor.kind, id=entry.actor.id, role=entry.actor.role),
            target=AuditTargetResource(type=entry.target.kind, id=entry.target.id) if entry.target else None,
            client_address=entry.client_address,
            request_id=entry.request_id,
            details=dict(entry.details),
        )


class AuditPageResource(msgspec.Struct):
    items: list[AuditEntryResource]
    next_cursor: str | None

    @classmethod
    def of(cls, page: AuditPage) -> AuditPageResource:
        return cls(items=[AuditEntryResource.of(entry) for entry in page.items], next_cursor=page.next_cursor)
