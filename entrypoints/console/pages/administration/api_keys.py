"""The tenant's API keys (ApiKeysController's use cases). A new key is shown once, on the page that
answers the form: that page is not a redirect (the key would be in an address, or kept for a later
page) and no cache keeps it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Template
from litestar.status_codes import HTTP_200_OK

from application.identity.api_keys import CreateApiKey, ListApiKeys, RevokeApiKey
from application.principal import Principal
from entrypoints.console.pages.administration.common import (
    ADMIN_PATH,
    TENANT_ADMINS_ONLY,
    done,
    form_again,
    no_store,
)
from entrypoints.console.pages.administration.users import TENANT_ROLES, tenant_role
from entrypoints.console.rendering import render
from entrypoints.http.dependencies import provide

API_KEYS_PATH = f"{ADMIN_PATH}/api-keys"
NOTICES = {"revoked": "The API key was revoked: it no longer works."}


@dataclass(frozen=True, slots=True)
class NewApiKeyForm:
    name: str = ""
    role: str = ""


class ApiKeysController(Controller):
    path = "/"
    include_in_schema = False
    dependencies = {
        "list_api_keys": provide(lambda c: c.list_api_keys),
        "create_api_key": provide(lambda c: c.create_api_key),
        "revoke_api_key": provide(lambda c: c.revoke_api_key),
    }

    @get("/admin/api-keys", opt=TENANT_ADMINS_ONLY)
    async def api_keys(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        list_api_keys: NamedDependency[ListApiKeys],
    ) -> Template:
        return render(
            request,
            "administration/api_keys.html",
            principal=principal,
            notices=NOTICES,
            keys=await list_api_keys(principal),
            roles=TENANT_ROLES,
            created=None,
            form={},
            error=None,
        )

    @post(
        "/admin/api-keys",
        opt=TENANT_ADMINS_ONLY,
        status_code=HTTP_200_OK,
        exception_handlers=form_again(
            "administration/_api_key_form.html", "New API key", keep=("name", "role")
        ),
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[NewApiKeyForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        principal: NamedDependency[Principal],
        create_api_key: NamedDependency[CreateApiKey],
        list_api_keys: NamedDependency[ListApiKeys],
    ) -> Template:
        created = await create_api_key(principal, data.name, tenant_role(data.role))
        return no_store(
            render(
                request,
                "administration/api_keys.html",
                principal=principal,
                keys=await list_api_keys(principal),
                roles=TENANT_ROLES,
                created=created,
                form={},
                error=None,
            )
        )

    @post("/admin/api-keys/{key_id:uuid}/revoke", opt=TENANT_ADMINS_ONLY)
    async def revoke(
        self,
        key_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        revoke_api_key: NamedDependency[RevokeApiKey],
    ) -> Response[Any]:
        await revoke_api_key(principal, key_id)
        return done(API_KEYS_PATH, "revoked")
