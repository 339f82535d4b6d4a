"""Identity over HTTP: logging in, refreshing and ending a session, changing one's password, and the
tenant's API keys."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from application.authorization import PersonOnly
from application.identity.api_keys import CreateApiKey, ListApiKeys, RevokeApiKey
from application.identity.authenticate import Authenticate
from application.identity.sessions import ChangeOwnPassword, Logout, RefreshSession
from application.ports.identity import SessionTokens
from application.principal import Principal
from domain.administration.tenancy import Role
from entrypoints.http.access import BEARER, BEARER_ERRORS, any_user, public, tenant_admin_in_person
from entrypoints.http.client_address import client_address
from entrypoints.http.dependencies import provide
from entrypoints.http.identity.schemas import (
    ApiKeyResource,
    ChangePasswordRequest,
    CreateApiKeyRequest,
    CreatedApiKeyResource,
    LoginRequest,
    RefreshRequest,
    TokenResponse,
)
from entrypoints.http.problems import problem_responses


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]
    dependencies = {
        "authenticate": provide(lambda c: c.authenticate),
        "refresh_session": provide(lambda c: c.refresh_session),
        "logout": provide(lambda c: c.logout),
    }

    @post(
        "/login",
        operation_id="login",
        summary="Exchange a username and password for an access token and a refresh token",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 413),
        opt=public("the username and password in the body"),
    )
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[LoginRequest],
        authenticate: NamedDependency[Authenticate],
    ) -> Response[TokenResponse]:
        """The access token lives 15 minutes at most (`expires_in`); exchange the refresh token at
        `POST /auth/refresh` for the next pair before it runs out. A session lasts
        `refresh_expires_in` seconds from login."""
        return _tokens(await authenticate(data.username, data.password, client_address(request)))

    @post(
        "/refresh",
        operation_id="refreshSession",
        summary="Exchange a refresh token for a new access token and the next refresh token",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 413, 503),
        opt=public("the refresh token in the body"),
    )
    async def refresh(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[RefreshRequest],
        refresh_session: NamedDependency[RefreshSession],
    ) -> Response[TokenResponse]:
        """Each refresh token works once: the answer carries its successor. A refresh token presented
        a second time means someone else has it too: the whole session is ended (its newest refresh
        token and its access tokens stop working) and the answer is 401."""
        return _tokens(await refresh_session(data.refresh_token, client_address(request)))

    @post(
        "/logout",
        operation_id="logout",
        summary="End this session",
        status_code=HTTP_204_NO_CONTENT,
        security=BEARER,
        responses=problem_responses(401, 403, 503),
        opt=any_user(PersonOnly.END_SESSION),
    )
    async def logout(self, principal: NamedDependency[Principal], logout: NamedDependency[Logout]) -> None:
        """The session's refresh tokens and every access token issued in it, this one included, stop
        working at once. Other sessions of the user are not affected."""
        await logout(principal)


def _tokens(tokens: SessionTokens) -> Response[TokenResponse]:
    body = TokenResponse(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
        refresh_expires_in=tokens.refresh_expires_in,
    )
    # RFC 6749 5.1: token responses are never cached.
    return Response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


class MeController(Controller):
    """What every logged-in user does for themselves."""

    path = "/api/me"
    tags = ["auth"]
    security = BEARER
    opt = any_user(PersonOnly.CHANGE_OWN_PASSWORD)
    dependencies = {"change_own_password": provide(lambda c: c.change_own_password)}

    @post(
        "/password",
        operation_id="changePassword",
        summary="Change your password (the current one is required)",
        status_code=HTTP_204_NO_CONTENT,
        responses=problem_responses(400, 413, 422, *BEARER_ERRORS),
    )
    async def change_password(
        self,
        data: JSONBody[ChangePasswordRequest],
        principal: NamedDependency[Principal],
        change_own_password: NamedDependency[ChangeOwnPassword],
    ) -> None:
        """Every session of yours ends, this one included: log in again with the new password."""
        await change_own_password(principal, data.current_password, data.new_password)


class ApiKeysController(Controller):
    """Tenant admins (logged in: not with an API key) manage their tenant's API keys."""

    path = "/api/api-keys"
    tags = ["api-keys"]
    security = BEARER
    opt = tenant_admin_in_person(PersonOnly.MANAGE_API_KEYS)
    dependencies = {
        "list_api_keys": provide(lambda c: c.list_api_keys),
        "create_api_key": provide(lambda c: c.create_api_key),
        "revoke_api_key": provide(lambda c: c.revoke_api_key),
    }

    @get(
        "/",
        operation_id="listApiKeys",
        summary="The tenant's API keys, revoked ones included (never the keys themselves)",
        responses=problem_responses(*BEARER_ERRORS),
    )
    async def list_keys(
        self, principal: NamedDependency[Principal], list_api_keys: NamedDependency[ListApiKeys]
    ) -> list[ApiKeyResource]:
        return [ApiKeyResource.of(key) for key in await list_api_keys(principal)]

    @post(
        "/",
        operation_id="createApiKey",
        summary="Create an API key, acting as an agent or a tenant admin",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(400, 413, 422, *BEARER_ERRORS),
    )
    async def create(
        self,
        data: JSONBody[CreateApiKeyRequest],
        principal: NamedDependency[Principal],
        create_api_key: NamedDependency[CreateApiKey],
    ) -> Response[CreatedApiKeyResource]:
        """The answer's `key` (`wag_<prefix>_<secret>`) is shown this once: store it now. Send it as
        `Authorization: Bearer wag_…` wherever an access token is accepted."""
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
        responses=problem_responses(400, 404, *BEARER_ERRORS),
    )
    async def revoke(
        self,
        key_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        revoke_api_key: NamedDependency[RevokeApiKey],
    ) -> None:
        await revoke_api_key(principal, key_id)
