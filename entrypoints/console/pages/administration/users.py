"""The tenant's users: who may sign in, as what; created, given another role, deactivated and
reactivated by the tenant's admins (UsersController's use cases)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Template

from application.administration.onboarding import CreateUser
from application.administration.tenant_admin import ListUsers, UpdateUser, UpdateUserCommand
from application.errors import InvalidInput
from application.principal import Principal
from domain.administration.tenancy import Role
from entrypoints.console.pages.administration.common import ADMIN_PATH, TENANT_ADMINS_ONLY, done, form_again
from entrypoints.console.rendering import render
from entrypoints.http.dependencies import provide

USERS_PATH = f"{ADMIN_PATH}/users"
TENANT_ROLES = (Role.AGENT, Role.TENANT_ADMIN)
NOTICES = {
    "created": "The user was created.",
    "role": "The role was changed. The user signs in again.",
    "deactivated": "The user was deactivated: they can no longer sign in.",
    "reactivated": "The user was reactivated.",
}


@dataclass(frozen=True, slots=True)
class NewUserForm:
    username: str = ""
    password: str = ""
    role: str = Role.AGENT.value


@dataclass(frozen=True, slots=True)
class RoleForm:
    role: str = ""


@dataclass(frozen=True, slots=True)
class ActiveForm:
    active: str = ""  # "true" or "false"


def tenant_role(value: str) -> Role:
    """A role a tenant's user may have, as a form names it."""
    for role in TENANT_ROLES:
        if value == role.value:
            return role
    raise InvalidInput("a user is an agent or a tenant admin")


class UsersController(Controller):
    path = "/"
    include_in_schema = False
    dependencies = {
        "list_users": provide(lambda c: c.list_users),
        "create_user": provide(lambda c: c.create_user),
        "update_user": provide(lambda c: c.update_user),
    }

    @get("/admin/users", opt=TENANT_ADMINS_ONLY)
    async def users(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        list_users: NamedDependency[ListUsers],
    ) -> Template:
        return render(
            request,
            "administration/users.html",
            principal=principal,
            notices=NOTICES,
            users=await list_users(principal),
            roles=TENANT_ROLES,
            form={},
            error=None,
        )

    @post(
        "/admin/users",
        opt=TENANT_ADMINS_ONLY,
        exception_handlers=form_again(
            "administration/_user_form.html", "New user", keep=("username", "role")
        ),
    )
    async def create(
        self,
        data: Annotated[NewUserForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        principal: NamedDependency[Principal],
        create_user: NamedDependency[CreateUser],
    ) -> Response[Any]:
        await create_user(
            principal, principal.tenant_id, data.username, data.password, tenant_role(data.role)
        )
        return done(USERS_PATH, "created")

    @post("/admin/users/{user_id:uuid}/role", opt=TENANT_ADMINS_ONLY)
    async def change_role(
        self,
        user_id: FromPath[UUID],
        data: Annotated[RoleForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        principal: NamedDependency[Principal],
        update_user: NamedDependency[UpdateUser],
    ) -> Response[Any]:
        await update_user(principal, user_id, UpdateUserCommand(role=tenant_role(data.role)))
        return done(USERS_PATH, "role")

    @post("/admin/users/{user_id:uuid}/active", opt=TENANT_ADMINS_ONLY)
    async def set_active(
        self,
        user_id: FromPath[UUID],
        data: Annotated[ActiveForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        principal: NamedDependency[Principal],
        update_user: NamedDependency[UpdateUser],
    ) -> Response[Any]:
        if data.active not in ("true", "false"):
            raise InvalidInput("say whether the user is to be active: true or false")
        active = data.active == "true"
        await update_user(principal, user_id, UpdateUserCommand(is_active=active))
        return done(USERS_PATH, "reactivated" if active else "deactivated")
