"""Administration over HTTP: platform admins manage tenants (``/admin``); tenant admins manage their
tenant's users, senders, Twilio credentials and API keys (``/api``); every user changes their password.

Handlers only decode, call a use case and encode. Each controller declares who may call it (see
access.py); the tenant always comes from the caller's credential, never from the request.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from application.administration.onboarding import AddSender, CreateTenant, CreateTenantCommand, CreateUser
from application.administration.platform import (
    GetTenant,
    ListTenants,
    ReactivateTenant,
    SuspendTenant,
    UpdateTenant,
    UpdateTenantCommand,
)
from application.administration.tenant_admin import (
    CreateApiKey,
    GetCredentialsSummary,
    GetUser,
    ListApiKeys,
    ListSenders,
    ListUsers,
    RemoveSender,
    RevokeApiKey,
    SetTwilioCredentials,
    UpdateSender,
    UpdateSenderCommand,
    UpdateUser,
    UpdateUserCommand,
)
from application.identity.authorization import PersonOnly
from application.identity.sessions import ChangeOwnPassword
from application.ports.principal import Principal
from domain.administration.tenancy import Role
from entrypoints.http.access import PLATFORM_ADMINS, TENANT_ADMINS, any_user, tenant_admin_in_person
from entrypoints.http.access_schemas import (
    ApiKeyResource,
    ChangePasswordRequest,
    CreateApiKeyRequest,
    CreatedApiKeyResource,
    CreateSenderRequest,
    CreateTenantRequest,
    CreateUserRequest,
    CredentialsResource,
    SenderResource,
    TenantPage,
    TenantResource,
    TwilioCredentialsRequest,
    UpdateSenderRequest,
    UpdateTenantRequest,
    UpdateUserRequest,
    UserResource,
)
from entrypoints.http.dependencies import container_of
from entrypoints.http.problems import problem_responses

BEARER: list[dict[str, list[str]]] = [{"BearerToken": []}]
# What any route with a Bearer credential can answer besides its own errors.
_AUTH = (401, 403, 503)


def _from_container(name: str) -> Provide:
    """A dependency bridged from the container provider ``name``."""

    async def provide(request: Request[Any, Any, Any]) -> Any:
        return getattr(container_of(request), name)()

    return Provide(provide)


def _dependencies(*names: str) -> dict[str, Provide]:
    return {name: _from_container(name) for name in names}


# --------------------------------------------------------------------------------------- platform admin


class AdminTenantsController(Controller):
    """Platform admins only: tenants are theirs to create, change, suspend and reactivate."""

    path = "/admin/tenants"
    tags = ["admin"]
    security = BEARER
    opt = PLATFORM_ADMINS
    dependencies = _dependencies(
        "list_tenants",
        "get_tenant",
        "create_tenant",
        "update_tenant",
        "suspend_tenant",
        "reactivate_tenant",
        "create_user",
    )

    @get(
        "/",
        operation_id="adminListTenants",
        summary="Every tenant, by name",
        description="Keyset pagination: pass `next_cursor` back as `cursor` to get the next page.",
        responses=problem_responses(400, *_AUTH),
    )
    async def list_tenants(
        self,
        list_tenants: NamedDependency[ListTenants],
        limit: Annotated[int, QueryParameter(ge=1, description="1 to 100; larger values are capped")] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=300)] = None,
    ) -> TenantPage:
        page = await list_tenants(limit, cursor)
        return TenantPage(items=[TenantResource.of(t) for t in page.items], next_cursor=page.next_cursor)

    @post(
        "/",
        operation_id="adminCreateTenant",
        summary="Create a tenant",
        description=(
            "A tenant on `twilio` needs its Twilio credentials (`twilio`), stored encrypted and never "
            "returned. Then create its first tenant admin with `POST /admin/tenants/{tenant_id}/users`."
        ),
        status_code=HTTP_201_CREATED,
        responses=problem_responses(400, 409, 413, 422, *_AUTH),
    )
    async def create(
        self,
        data: JSONBody[CreateTenantRequest],
        principal: NamedDependency[Principal],
        create_tenant: NamedDependency[CreateTenant],
    ) -> TenantResource:
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
        responses=problem_responses(400, 404, *_AUTH),
    )
    async def get_one(
        self, tenant_id: FromPath[UUID], get_tenant: NamedDependency[GetTenant]
    ) -> TenantResource:
        return TenantResource.of(await get_tenant(tenant_id))

    @patch(
        "/{tenant_id:uuid}",
        operation_id="adminUpdateTenant",
        summary="Change a tenant's name, provider or session window check",
        responses=problem_responses(400, 404, 409, 413, 422, *_AUTH),
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
            ),
        )
        return TenantResource.of(tenant)

    @post(
        "/{tenant_id:uuid}/suspend",
        operation_id="adminSuspendTenant",
        summary="Suspend a tenant",
        description=(
            "Its users can no longer log in, their sessions end at once (tokens get 401) and its API "
            "keys are refused until the tenant is reactivated. Nothing is deleted."
        ),
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 404, *_AUTH),
    )
    async def suspend(
        self,
        tenant_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        suspend_tenant: NamedDependency[SuspendTenant],
    ) -> TenantResource:
        return TenantResource.of(await suspend_tenant(principal, tenant_id))

    @post(
        "/{tenant_id:uuid}/reactivate",
        operation_id="adminReactivateTenant",
        summary="Reactivate a suspended tenant",
        description="Its users log in again; its API keys work again.",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 404, *_AUTH),
    )
    async def reactivate(
        self,
        tenant_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        reactivate_tenant: NamedDependency[ReactivateTenant],
    ) -> TenantResource:
        return TenantResource.of(await reactivate_tenant(principal, tenant_id))

    @post(
        "/{tenant_id:uuid}/users",
        operation_id="adminCreateTenantUser",
        summary="Create a user of a tenant (its first tenant admin, typically)",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(400, 404, 409, 413, 422, *_AUTH),
    )
    async def create_user(
        self,
        tenant_id: FromPath[UUID],
        data: JSONBody[CreateUserRequest],
        principal: NamedDependency[Principal],
        get_tenant: NamedDependency[GetTenant],
        create_user: NamedDependency[CreateUser],
    ) -> UserResource:
        await get_tenant(tenant_id)  # 404 for the platform tenant, as for a missing one
        user = await create_user(principal, tenant_id, data.username, data.password, Role(data.role))
        return UserResource.of(user)


# ----------------------------------------------------------------------------------------- tenant admin


class UsersController(Controller):
    """Tenant admins manage their tenant's users."""

    path = "/api/users"
    tags = ["users"]
    security = BEARER
    opt = TENANT_ADMINS
    dependencies = _dependencies("list_users", "get_user", "create_user", "update_user")

    @get("/", operation_id="listUsers", summary="The tenant's users", responses=problem_responses(*_AUTH))
    async def list_users(
        self, principal: NamedDependency[Principal], list_users: NamedDependency[ListUsers]
    ) -> list[UserResource]:
        return [UserResource.of(user) for user in await list_users(principal.tenant_id)]

    @post(
        "/",
        operation_id="createUser",
        summary="Create a user (an agent or a tenant admin)",
        description="Needs a person: an API key gets 403 `person-required`.",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(400, 409, 413, 422, *_AUTH),
        opt=tenant_admin_in_person(PersonOnly.MANAGE_USERS),
    )
    async def create(
        self,
        data: JSONBody[CreateUserRequest],
        principal: NamedDependency[Principal],
        create_user: NamedDependency[CreateUser],
    ) -> UserResource:
        user = await create_user(
            principal, principal.tenant_id, data.username, data.password, Role(data.role)
        )
        return UserResource.of(user)

    @get(
        "/{user_id:uuid}",
        operation_id="getUser",
        summary="One of the tenant's users",
        responses=problem_responses(400, 404, *_AUTH),
    )
    async def get_one(
        self,
        user_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_user: NamedDependency[GetUser],
    ) -> UserResource:
        return UserResource.of(await get_user(principal.tenant_id, user_id))

    @patch(
        "/{user_id:uuid}",
        operation_id="updateUser",
        summary="Change a user's role, deactivate or reactivate them, or set a new password",
        description=(
            "A new role or password, or deactivation, ends every session of the user at once: their "
            "tokens get 401 and they log in again. An admin cannot change their own role or deactivate "
            "themselves. Needs a person: an API key gets 403 `person-required`."
        ),
        responses=problem_responses(400, 404, 413, 422, *_AUTH),
        opt=tenant_admin_in_person(PersonOnly.MANAGE_USERS),
    )
    async def update(
        self,
        user_id: FromPath[UUID],
        data: JSONBody[UpdateUserRequest],
        principal: NamedDependency[Principal],
        update_user: NamedDependency[UpdateUser],
    ) -> UserResource:
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
    dependencies = _dependencies("list_senders", "add_sender", "update_sender", "remove_sender")

    @get("/", operation_id="listSenders", summary="The tenant's senders", responses=problem_responses(*_AUTH))
    async def list_senders(
        self, principal: NamedDependency[Principal], list_senders: NamedDependency[ListSenders]
    ) -> list[SenderResource]:
        return [SenderResource.of(sender) for sender in await list_senders(principal.tenant_id)]

    @post(
        "/",
        operation_id="addSender",
        summary="Add a WhatsApp number (the first one becomes the default)",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(400, 409, 413, 422, *_AUTH),
    )
    async def add(
        self,
        data: JSONBody[CreateSenderRequest],
        principal: NamedDependency[Principal],
        add_sender: NamedDependency[AddSender],
    ) -> SenderResource:
        return SenderResource.of(await add_sender(principal.tenant_id, data.phone_number, label=data.label))

    @patch(
        "/{sender_id:uuid}",
        operation_id="updateSender",
        summary="Change a sender's label, or make it the default",
        responses=problem_responses(400, 404, 409, 413, 422, *_AUTH),
    )
    async def update(
        self,
        sender_id: FromPath[UUID],
        data: JSONBody[UpdateSenderRequest],
        principal: NamedDependency[Principal],
        update_sender: NamedDependency[UpdateSender],
    ) -> SenderResource:
        sender = await update_sender(
            principal.tenant_id,
            sender_id,
            UpdateSenderCommand(label=data.label, make_default=data.is_default is True),
        )
        return SenderResource.of(sender)

    @delete(
        "/{sender_id:uuid}",
        operation_id="removeSender",
        summary="Remove a sender (the default one last)",
        status_code=HTTP_204_NO_CONTENT,
        responses=problem_responses(400, 404, 409, 422, *_AUTH),
    )
    async def remove(
        self,
        sender_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        remove_sender: NamedDependency[RemoveSender],
    ) -> None:
        await remove_sender(principal.tenant_id, sender_id)


class CredentialsController(Controller):
    """Tenant admins set their tenant's Twilio credentials: write-only."""

    path = "/api/credentials"
    tags = ["credentials"]
    security = BEARER
    opt = TENANT_ADMINS
    dependencies = _dependencies("get_credentials_summary", "set_twilio_credentials")

    @get(
        "/",
        operation_id="getCredentials",
        summary="Whether Twilio credentials are set, and their SIDs (never a secret)",
        responses=problem_responses(*_AUTH, 500),
    )
    async def get_summary(
        self,
        principal: NamedDependency[Principal],
        get_credentials_summary: NamedDependency[GetCredentialsSummary],
    ) -> CredentialsResource:
        return CredentialsResource.of(await get_credentials_summary(principal.tenant_id))

    @put(
        "/",
        operation_id="setCredentials",
        summary="Set (replace) the tenant's Twilio credentials",
        description=(
            "The auth token (Twilio signs webhooks with it) and optionally an API key SID and secret "
            "(used for API calls instead of the token). Stored encrypted; never returned. Needs a "
            "person: an API key gets 403 `person-required`."
        ),
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 413, 422, *_AUTH),
        opt=tenant_admin_in_person(PersonOnly.SET_PROVIDER_CREDENTIALS),
    )
    async def set_credentials(
        self,
        data: JSONBody[TwilioCredentialsRequest],
        principal: NamedDependency[Principal],
        set_twilio_credentials: NamedDependency[SetTwilioCredentials],
    ) -> CredentialsResource:
        return CredentialsResource.of(await set_twilio_credentials(principal, data.to_domain()))


class ApiKeysController(Controller):
    """Tenant admins (logged in: not with an API key) manage their tenant's API keys."""

    path = "/api/api-keys"
    tags = ["api-keys"]
    security = BEARER
    opt = tenant_admin_in_person(PersonOnly.MANAGE_API_KEYS)
    dependencies = _dependencies("list_api_keys", "create_api_key", "revoke_api_key")

    @get(
        "/",
        operation_id="listApiKeys",
        summary="The tenant's API keys, revoked ones included (never the keys themselves)",
        responses=problem_responses(*_AUTH),
    )
    async def list_keys(
        self, principal: NamedDependency[Principal], list_api_keys: NamedDependency[ListApiKeys]
    ) -> list[ApiKeyResource]:
        return [ApiKeyResource.of(key) for key in await list_api_keys(principal)]

    @post(
        "/",
        operation_id="createApiKey",
        summary="Create an API key, acting as an agent or a tenant admin",
        description=(
            "The answer's `key` (`wag_<prefix>_<secret>`) is shown this once: store it now. Send it as "
            "`Authorization: Bearer wag_…` wherever an access token is accepted."
        ),
        status_code=HTTP_201_CREATED,
        responses=problem_responses(400, 413, 422, *_AUTH),
    )
    async def create(
        self,
        data: JSONBody[CreateApiKeyRequest],
        principal: NamedDependency[Principal],
        create_api_key: NamedDependency[CreateApiKey],
    ) -> Response[CreatedApiKeyResource]:
        created = await create_api_key(principal, data.name, Role(data.role))
        # The key must not linger in caches.
        return Response(
            CreatedApiKeyResource.of_created(created.api_key, created.key),
            status_code=HTTP_201_CREATED,
            headers={"Cache-Control": "no-store"},
        )

    @delete(
        "/{key_id:uuid}",
        operation_id="revokeApiKey",
        summary="Revoke an API key: it stops working at once",
        status_code=HTTP_204_NO_CONTENT,
        responses=problem_responses(400, 404, *_AUTH),
    )
    async def revoke(
        self,
        key_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        revoke_api_key: NamedDependency[RevokeApiKey],
    ) -> None:
        await revoke_api_key(principal, key_id)


class MeController(Controller):
    """What every logged-in user does for themselves."""

    path = "/api/me"
    tags = ["auth"]
    security = BEARER
    opt = any_user(PersonOnly.CHANGE_OWN_PASSWORD)
    dependencies = _dependencies("change_own_password")

    @post(
        "/password",
        operation_id="changePassword",
        summary="Change your password (the current one is required)",
        description="Every session of yours ends, this one included: log in again with the new password.",
        status_code=HTTP_204_NO_CONTENT,
        responses=problem_responses(400, 413, 422, *_AUTH),
    )
    async def change_password(
        self,
        data: JSONBody[ChangePasswordRequest],
        principal: NamedDependency[Principal],
        change_own_password: NamedDependency[ChangeOwnPassword],
    ) -> None:
        await change_own_password(principal, data.current_password, data.new_password)


ADMINISTRATION_CONTROLLERS = [
    AdminTenantsController,
    UsersController,
    SendersController,
    CredentialsController,
    ApiKeysController,
    MeController,
]
