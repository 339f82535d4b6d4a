"""Administration over HTTP: platform admins manage tenants and read every tenant's audit trail
(``/admin``); tenant admins manage their tenant's users, senders and Twilio credentials, and read its
audit trail (``/api``).

Each controller declares who may call it (see access.py), mirroring what the use cases decide: the
routes pass the caller, and the use cases check it and take the tenant from it, never from the request.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from application.administration.audit_trail import AuditTrailRequest, ListAuditTrail, ListPlatformAuditTrail
from application.administration.onboarding import AddSender, CreateTenant, CreateTenantCommand, CreateUser
from application.administration.platform import (
    GetTenant,
    ListTenants,
    ReactivateTenant,
    SuspendTenant,
    UpdateTenant,
    UpdateTenantCommand,
)
from application.administration.provider_accounts import (
    AddProviderAccount,
    GetProviderAccount,
    ListProviderAccounts,
    RemoveProviderAccount,
    UpdateProviderAccount,
    UpdateProviderAccountCommand,
)
from application.administration.tenant_admin import (
    GetCredentialsSummary,
    GetUser,
    ListSenders,
    ListUsers,
    RemoveSender,
    SetTwilioCredentials,
    UpdateSender,
    UpdateSenderCommand,
    UpdateUser,
    UpdateUserCommand,
)
from application.authorization import PersonOnly
from application.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from application.principal import Principal
from domain.administration.audit import AuditAction
from domain.administration.tenancy import Role
from entrypoints.http.access import (
    BEARER,
    BEARER_ERRORS,
    PLATFORM_ADMINS,
    TENANT_ADMINS,
    tenant_admin_in_person,
)
from entrypoints.http.administration.schemas import (
    AuditPageResource,
    CreateProviderAccountRequest,
    CreateSenderRequest,
    CreateTenantRequest,
    CreateUserRequest,
    CredentialsResource,
    ProviderAccountResource,
    SenderResource,
    TenantPage,
    TenantResource,
    TwilioCredentialsRequest,
    UpdateProviderAccountRequest,
    UpdateSenderRequest,
    UpdateTenantRequest,
    UpdateUserRequest,
    UserResource,
)
from entrypoints.http.dependencies import provide
from entrypoints.http.problems import problem_responses
from entrypoints.http.wire_types import Moment, PageCursor, PageLimit

# The audit trail's filters.
Action = Annotated[AuditAction | None, QueryParameter(description="Only entries of this action")]
Actor = Annotated[
    UUID | None, QueryParameter(description="Only entries by this actor: a user's or an API key's id")
]
Since = Annotated[Moment | None, QueryParameter(description="Occurred at or after")]
Until = Annotated[Moment | None, QueryParameter(description="Occurred before")]


# --------------------------------------------------------------------------------------- platform admin


class AdminTenantsController(Controller):
    """Platform admins only: tenants are theirs to create, change, suspend and reactivate."""

    path = "/admin/tenants"
    tags = ["admin"]
    security = BEARER
    opt = PLATFORM_ADMINS
    dependencies = {
        "list_tenants": provide(lambda c: c.list_tenants),
        "get_tenant": provide(lambda c: c.get_tenant),
        "create_tenant": provide(lambda c: c.create_tenant),
        "update_tenant": provide(lambda c: c.update_tenant),
        "suspend_tenant": provide(lambda c: c.suspend_tenant),
        "reactivate_tenant": provide(lambda c: c.reactivate_tenant),
        "create_user": provide(lambda c: c.create_user),
    }

    @get(
        "/",
        operation_id="adminListTenants",
        summary="Every tenant, by name",
        responses=problem_responses(400, *BEARER_ERRORS),
    )
    async def list_tenants(
        self,
        principal: NamedDependency[Principal],
        list_tenants: NamedDependency[ListTenants],
        limit: Annotated[
            int, QueryParameter(ge=1, description=f"1 to {MAX_PAGE_SIZE}; larger values are capped")
        ] = DEFAULT_PAGE_SIZE,
        # A tenant's cursor holds its name (up to 200 characters): longer than the other lists' cursors.
        cursor: Annotated[str | None, QueryParameter(max_length=300)] = None,
    ) -> TenantPage:
        """Keyset pagination: pass `next_cursor` back as `cursor` to get the next page."""
        page = await list_tenants(principal, limit, cursor)
        return TenantPage(items=[TenantResource.of(t) for t in page.items], next_cursor=page.next_cursor)

    @post(
        "/",
        operation_id="adminCreateTenant",
        summary="Create a tenant",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(400, 409, 413, 422, *BEARER_ERRORS),
    )
    async def create(
        self,
        data: JSONBody[CreateTenantRequest],
        principal: NamedDependency[Principal],
        create_tenant: NamedDependency[CreateTenant],
    ) -> TenantResource:
        """A tenant on `twilio` needs its Twilio credentials (`twilio`), stored encrypted and never returned.
        Then create its first tenant admin with `POST /admin/tenants/{tenant_id}/users`."""
        tenant = await create_tenant(
            principal,
            CreateTenantCommand(
                name=data.name,
                provider=data.provider,
                twilio_credentials=data.twilio.to_domain() if data.twilio else None,
                session_window_check=data.session_window_check,
            ),
        )
        return TenantResource.of(tenant)

    @get(
        "/{tenant_id:uuid}",
        operation_id="adminGetTenant",
        summary="One tenant",
        responses=problem_responses(400, 404, *BEARER_ERRORS),
    )
    async def get_one(
        self,
        tenant_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_tenant: NamedDependency[GetTenant],
    ) -> TenantResource:
        return TenantResource.of(await get_tenant(principal, tenant_id))

    @patch(
        "/{tenant_id:uuid}",
        operation_id="adminUpdateTenant",
        summary="Change a tenant's name, provider or session window check",
        responses=problem_responses(400, 404, 409, 413, 422, *BEARER_ERRORS),
    )
    async def update(
        self,
        tenant_id: FromPath[UUID],
        data: JSONBody[UpdateTenantRequest],
        principal: NamedDependency[Principal],
        update_tenant: NamedDependency[UpdateTenant],
    ) -> TenantResource:
        tenant = await update_tenant(
            principal,
            tenant_id,
            UpdateTenantCommand(
                name=data.name,
                provider=data.provider,
                session_window_check=data.session_window_check,
                sends_per_minute=data.sends_per_minute,
                sends_per_day=data.sends_per_day,
                time_zone=data.time_zone,
            ),
        )
        return TenantResource.of(tenant)

    @post(
        "/{tenant_id:uuid}/suspend",
        operation_id="adminSuspendTenant",
        summary="Suspend a tenant",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 404, *BEARER_ERRORS),
    )
    async def suspend(
        self,
        tenant_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        suspend_tenant: NamedDependency[SuspendTenant],
    ) -> TenantResource:
        """Its users can no longer log in, their sessions end at once (tokens get 401) and its API keys are
        refused until the tenant is reactivated. Nothing is deleted."""
        return TenantResource.of(await suspend_tenant(principal, tenant_id))

    @post(
        "/{tenant_id:uuid}/reactivate",
        operation_id="adminReactivateTenant",
        summary="Reactivate a suspended tenant",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 404, *BEARER_ERRORS),
    )
    async def reactivate(
        self,
        tenant_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        reactivate_tenant: NamedDependency[ReactivateTenant],
    ) -> TenantResource:
        """Its users log in again; its API keys work again."""
        return TenantResource.of(await reactivate_tenant(principal, tenant_id))

    @post(
        "/{tenant_id:uuid}/users",
        operation_id="adminCreateTenantUser",
        summary="Create a user of a tenant (its first tenant admin, typically)",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(400, 404, 409, 413, 422, *BEARER_ERRORS),
    )
    async def create_user(
        self,
        tenant_id: FromPath[UUID],
        data: JSONBody[CreateUserRequest],
        principal: NamedDependency[Principal],
        get_tenant: NamedDependency[GetTenant],
        create_user: NamedDependency[CreateUser],
    ) -> UserResource:
        await get_tenant(principal, tenant_id)  # 404 for the platform tenant, as for a missing one
        user = await create_user(principal, tenant_id, data.username, data.password, Role(data.role))
        return UserResource.of(user)


# ----------------------------------------------------------------------------------------- tenant admin


class UsersController(Controller):
    """Tenant admins manage their tenant's users."""

    path = "/api/users"
    tags = ["users"]
    security = BEARER
    opt = TENANT_ADMINS
    dependencies = {
        "list_users": provide(lambda c: c.list_users),
        "get_user": provide(lambda c: c.get_user),
        "create_user": provide(lambda c: c.create_user),
        "update_user": provide(lambda c: c.update_user),
    }

    @get(
        "/",
        operation_id="listUsers",
        summary="The tenant's users",
        responses=problem_responses(*BEARER_ERRORS),
    )
    async def list_users(
        self, principal: NamedDependency[Principal], list_users: NamedDependency[ListUsers]
    ) -> list[UserResource]:
        return [UserResource.of(user) for user in await list_users(principal)]

    @post(
        "/",
        operation_id="createUser",
        summary="Create a user (an agent or a tenant admin)",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(400, 409, 413, 422, *BEARER_ERRORS),
        opt=tenant_admin_in_person(PersonOnly.MANAGE_USERS),
    )
    async def create(
        self,
        data: JSONBody[CreateUserRequest],
        principal: NamedDependency[Principal],
        create_user: NamedDependency[CreateUser],
    ) -> UserResource:
        """Needs a person: an API key gets 403 `person-required`."""
        user = await create_user(
            principal, principal.tenant_id, data.username, data.password, Role(data.role)
        )
        return UserResource.of(user)

    @get(
        "/{user_id:uuid}",
        operation_id="getUser",
        summary="One of the tenant's users",
        responses=problem_responses(400, 404, *BEARER_ERRORS),
    )
    async def get_one(
        self,
        user_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_user: NamedDependency[GetUser],
    ) -> UserResource:
        return UserResource.of(await get_user(principal, user_id))

    @patch(
        "/{user_id:uuid}",
        operation_id="updateUser",
        summary="Change a user's role, deactivate or reactivate them, or set a new password",
        responses=problem_responses(400, 404, 413, 422, *BEARER_ERRORS),
        opt=tenant_admin_in_person(PersonOnly.MANAGE_USERS),
    )
    async def update(
        self,
        user_id: FromPath[UUID],
        data: JSONBody[UpdateUserRequest],
        principal: NamedDependency[Principal],
        update_user: NamedDependency[UpdateUser],
    ) -> UserResource:
        """A new role or password, or deactivation, ends every session of the user at once: their tokens get
        401 and they log in again. An admin cannot change their own role or deactivate themselves. Needs a
        person: an API key gets 403 `person-required`."""
        user = await update_user(
            principal,
            user_id,
            UpdateUserCommand(
                role=Role(data.role) if data.role else None, is_active=data.is_active, password=data.password
            ),
        )
        return UserResource.of(user)


class SendersController(Controller):
    """Tenant admins manage their tenant's WhatsApp senders."""

    path = "/api/senders"
    tags = ["senders"]
    security = BEARER
    opt = TENANT_ADMINS
    dependencies = {
        "list_senders": provide(lambda c: c.list_senders),
        "add_sender": provide(lambda c: c.add_sender),
        "update_sender": provide(lambda c: c.update_sender),
        "remove_sender": provide(lambda c: c.remove_sender),
    }

    @get(
        "/",
        operation_id="listSenders",
        summary="The tenant's senders",
        responses=problem_responses(*BEARER_ERRORS),
    )
    async def list_senders(
        self, principal: NamedDependency[Principal], list_senders: NamedDependency[ListSenders]
    ) -> list[SenderResource]:
        return [SenderResource.of(sender) for sender in await list_senders(principal)]

    @post(
        "/",
        operation_id="addSender",
        summary="Add a WhatsApp number (the first one becomes the default)",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(400, 409, 413, 422, *BEARER_ERRORS),
    )
    async def add(
        self,
        data: JSONBody[CreateSenderRequest],
        principal: NamedDependency[Principal],
        add_sender: NamedDependency[AddSender],
    ) -> SenderResource:
        """A sender with no `account_id` sends through the tenant's provider; one on a Meta account needs
        the number's `provider_number_id` (its phone-number id at Meta), which no other sender may have."""
        return SenderResource.of(
            await add_sender(
                principal,
                principal.tenant_id,
                data.phone_number,
                label=data.label,
                account_id=data.account,
                provider_number_id=data.provider_number_id,
            )
        )

    @patch(
        "/{sender_id:uuid}",
        operation_id="updateSender",
        summary="Change a sender's label, make it the default, or move it to another provider account",
        responses=problem_responses(400, 404, 409, 413, 422, *BEARER_ERRORS),
    )
    async def update(
        self,
        sender_id: FromPath[UUID],
        data: JSONBody[UpdateSenderRequest],
        principal: NamedDependency[Principal],
        update_sender: NamedDependency[UpdateSender],
    ) -> SenderResource:
        """Moving a sender (`account_id`, with `provider_number_id` for a Meta account; `null` for the
        tenant's provider) keeps its number, so its conversations, their session windows and its history
        stay; every message sent from then on, queued ones included, goes through the new account. While
        some of its messages are being sent or wait for their provider's confirmation the move is
        refused: 409 `sender-busy` (they settle within minutes)."""
        sender = await update_sender(
            principal,
            sender_id,
            UpdateSenderCommand(
                label=data.label,
                make_default=data.is_default is True,
                account_id=data.account,
                provider_number_id=data.provider_number_id,
                to_tenant_provider=data.moves and data.account is None,
            ),
        )
        return SenderResource.of(sender)

    @delete(
        "/{sender_id:uuid}",
        operation_id="removeSender",
        summary="Remove a sender (the default one last)",
        status_code=HTTP_204_NO_CONTENT,
        responses=problem_responses(400, 404, 409, 422, *BEARER_ERRORS),
    )
    async def remove(
        self,
        sender_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        remove_sender: NamedDependency[RemoveSender],
    ) -> None:
        await remove_sender(principal, sender_id)


class ProviderAccountsController(Controller):
    """Tenant admins keep their tenant's accounts at Twilio and Meta; secrets are write-only."""

    path = "/api/provider-accounts"
    tags = ["provider accounts"]
    security = BEARER
    opt = TENANT_ADMINS
    dependencies = {
        "list_provider_accounts": provide(lambda c: c.list_provider_accounts),
        "get_provider_account": provide(lambda c: c.get_provider_account),
        "add_provider_account": provide(lambda c: c.add_provider_account),
        "update_provider_account": provide(lambda c: c.update_provider_account),
        "remove_provider_account": provide(lambda c: c.remove_provider_account),
    }

    @get(
        "/",
        operation_id="listProviderAccounts",
        summary="The tenant's provider accounts (never a secret)",
        responses=problem_responses(*BEARER_ERRORS, 500),
    )
    async def list_accounts(
        self,
        principal: NamedDependency[Principal],
        list_provider_accounts: NamedDependency[ListProviderAccounts],
    ) -> list[ProviderAccountResource]:
        return [ProviderAccountResource.of(account) for account in await list_provider_accounts(principal)]

    @post(
        "/",
        operation_id="addProviderAccount",
        summary="Add an account at Twilio or Meta",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(400, 413, 422, *BEARER_ERRORS),
        opt=tenant_admin_in_person(PersonOnly.SET_PROVIDER_CREDENTIALS),
    )
    async def add(
        self,
        data: JSONBody[CreateProviderAccountRequest],
        principal: NamedDependency[Principal],
        add_provider_account: NamedDependency[AddProviderAccount],
    ) -> ProviderAccountResource:
        """`provider` is `twilio` or `meta`, with its credentials under the same name. Twilio: the
        account SID and auth token (it signs Twilio's webhooks), optionally an API key. Meta: the
        WhatsApp Business Account id, a (system user's) access token, the app secret (it signs Meta's
        webhooks) and the verify token of the webhook subscription. Stored encrypted; never returned.
        Needs a person: an API key gets 403 `person-required`. Then add or move senders onto it."""
        account = await add_provider_account(principal, data.credentials(), label=data.label)
        return ProviderAccountResource.of(account)

    @get(
        "/{account_id:uuid}",
        operation_id="getProviderAccount",
        summary="One provider account (never a secret)",
        responses=problem_responses(400, 404, *BEARER_ERRORS, 500),
    )
    async def get_one(
        self,
        account_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_provider_account: NamedDependency[GetProviderAccount],
    ) -> ProviderAccountResource:
        return ProviderAccountResource.of(await get_provider_account(principal, account_id))

    @patch(
        "/{account_id:uuid}",
        operation_id="updateProviderAccount",
        summary="Rename a provider account or replace its credentials",
        responses=problem_responses(400, 404, 413, 422, *BEARER_ERRORS, 500),
    )
    async def update(
        self,
        account_id: FromPath[UUID],
        data: JSONBody[UpdateProviderAccountRequest],
        principal: NamedDependency[Principal],
        update_provider_account: NamedDependency[UpdateProviderAccount],
    ) -> ProviderAccountResource:
        """New credentials (under `twilio` or `meta`, the account's own provider) replace all of its
        secrets, for a rotated token say; its senders keep it. Replacing credentials needs a person: an
        API key gets 403 `person-required` (renaming does not)."""
        account = await update_provider_account(
            principal,
            account_id,
            UpdateProviderAccountCommand(label=data.label, credentials=data.credentials()),
        )
        return ProviderAccountResource.of(account)

    @delete(
        "/{account_id:uuid}",
        operation_id="removeProviderAccount",
        summary="Remove a provider account no sender sends through",
        status_code=HTTP_204_NO_CONTENT,
        responses=problem_responses(400, 404, 409, *BEARER_ERRORS, 500),
    )
    async def remove(
        self,
        account_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        remove_provider_account: NamedDependency[RemoveProviderAccount],
    ) -> None:
        """409 `account-in-use` while a sender sends through it: move or remove those first."""
        await remove_provider_account(principal, account_id)


class CredentialsController(Controller):
    """Tenant admins set their tenant's Twilio credentials: write-only. They are the tenant's first
    Twilio account (see /api/provider-accounts), which its senders without an account of their own
    use."""

    path = "/api/credentials"
    tags = ["credentials"]
    security = BEARER
    opt = TENANT_ADMINS
    dependencies = {
        "get_credentials_summary": provide(lambda c: c.get_credentials_summary),
        "set_twilio_credentials": provide(lambda c: c.set_twilio_credentials),
    }

    @get(
        "/",
        operation_id="getCredentials",
        summary="Whether Twilio credentials are set, and their SIDs (never a secret)",
        responses=problem_responses(*BEARER_ERRORS, 500),
    )
    async def get_summary(
        self,
        principal: NamedDependency[Principal],
        get_credentials_summary: NamedDependency[GetCredentialsSummary],
    ) -> CredentialsResource:
        return CredentialsResource.of(await get_credentials_summary(principal))

    @put(
        "/",
        operation_id="setCredentials",
        summary="Set (replace) the tenant's Twilio credentials",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 413, 422, *BEARER_ERRORS),
        opt=tenant_admin_in_person(PersonOnly.SET_PROVIDER_CREDENTIALS),
    )
    async def set_credentials(
        self,
        data: JSONBody[TwilioCredentialsRequest],
        principal: NamedDependency[Principal],
        set_twilio_credentials: NamedDependency[SetTwilioCredentials],
    ) -> CredentialsResource:
        """The auth token (Twilio signs webhooks with it) and optionally an API key SID and secret (used for
        API calls instead of the token). Stored encrypted; never returned. Needs a person: an API key gets
        403 `person-required`."""
        return CredentialsResource.of(await set_twilio_credentials(principal, data.to_domain()))


# ------------------------------------------------------------------------------------------ audit trail


class AuditController(Controller):
    """A tenant's admins (logged in or with a tenant-admin API key) read their tenant's trail."""

    path = "/api/audit"
    tags = ["audit"]
    security = BEARER
    opt = TENANT_ADMINS
    dependencies = {"list_audit_trail": provide(lambda c: c.list_audit_trail)}

    @get(
        "/",
        operation_id="listAuditEntries",
        summary="The tenant's audit trail: who did what, from where, when",
        responses=problem_responses(400, 401, 403, 422, 503),
    )
    async def list_entries(
        self,
        principal: NamedDependency[Principal],
        list_audit_trail: NamedDependency[ListAuditTrail],
        limit: PageLimit = DEFAULT_PAGE_SIZE,
        cursor: PageCursor = None,
        action: Action = None,
        actor: Actor = None,
        since: Since = None,
        until: Until = None,
    ) -> AuditPageResource:
        """Newest first. Keyset pagination: pass `next_cursor` back as `cursor` to get the next page (with the
        same filters). Entries never hold a secret: no password, token, key or credential. What platform
        admins did to the tenant is in it too."""
        page = await list_audit_trail(
            AuditTrailRequest(
                principal=principal,
                limit=limit,
                cursor=cursor,
                action=action,
                actor_id=actor,
                since=since,
                until=until,
            )
        )
        return AuditPageResource.of(page)


class AdminAuditController(Controller):
    """Platform admins read every tenant's trail, or one tenant's."""

    path = "/admin/audit"
    tags = ["admin"]
    security = BEARER
    opt = PLATFORM_ADMINS
    dependencies = {"list_platform_audit_trail": provide(lambda c: c.list_platform_audit_trail)}

    @get(
        "/",
        operation_id="adminListAuditEntries",
        summary="Every tenant's audit trail (or one tenant's)",
        responses=problem_responses(400, 401, 403, 422, 503),
    )
    async def list_entries(
        self,
        principal: NamedDependency[Principal],
        list_platform_audit_trail: NamedDependency[ListPlatformAuditTrail],
        limit: PageLimit = DEFAULT_PAGE_SIZE,
        cursor: PageCursor = None,
        tenant: Annotated[UUID | None, QueryParameter(description="Only this tenant's entries")] = None,
        action: Action = None,
        actor: Actor = None,
        since: Since = None,
        until: Until = None,
    ) -> AuditPageResource:
        """Newest first. Keyset pagination: pass `next_cursor` back as `cursor` to get the next page (with the
        same filters). Entries never hold a secret: no password, token, key or credential. Logins refused
        for a username that does not exist belong to no tenant (`tenant_id` null)."""
        page = await list_platform_audit_trail(
            AuditTrailRequest(
                principal=principal,
                limit=limit,
                cursor=cursor,
                tenant_id=tenant,
                action=action,
                actor_id=actor,
                since=since,
                until=until,
            )
        )
        return AuditPageResource.of(page)
