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
    ProviderName,
    Role,
    Sender,
    Tenant,
    TenantStatus,
    TwilioCredentials,
    User,
)
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


class CreateSenderRequest(msgspec.Struct, forbid_unknown_fields=True):
    phone_number: Annotated[Text, msgspec.Meta(min_length=1, max_length=64, examples=["+14155238886"])]
    label: Annotated[Text, msgspec.Meta(max_length=200)] = ""


class UpdateSenderRequest(msgspec.Struct, forbid_unknown_fields=True):
    label: Annotated[Text, msgspec.Meta(max_length=200)] | None = None
    is_default: (
        Annotated[
            Literal[True],
            msgspec.Meta(description="true makes this the default sender (the old one stops being it)"),
        ]
        | None
    ) = None


class SenderResource(msgspec.Struct):
    id: UUID
    phone_number: str
    label: str
    is_default: bool
    created_at: datetime

    @classmethod
    def of(cls, sender: Sender) -> SenderResource:
        return cls(
            id=sender.id,
            phone_number=sender.phone_number.e164,
            label=sender.label,
            is_default=sender.is_default,
            created_at=sender.created_at,
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
