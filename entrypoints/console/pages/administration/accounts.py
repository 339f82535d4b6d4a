"""The tenant's provider accounts at Twilio and Meta (ProviderAccountsController's use cases). Their
secrets are write-only: typed into password fields, never shown, not even in a form sent back with an
error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Template

from application.administration.provider_accounts import (
    AddProviderAccount,
    GetProviderAccount,
    ListProviderAccounts,
    RemoveProviderAccount,
    UpdateProviderAccount,
    UpdateProviderAccountCommand,
)
from application.principal import Principal
from domain.administration.tenancy import DEFAULT_GRAPH_API_VERSION, MetaCredentials, TwilioCredentials
from entrypoints.console.pages.administration.common import ADMIN_PATH, TENANT_ADMINS_ONLY, done, form_again
from entrypoints.console.rendering import render
from entrypoints.http.dependencies import provide

ACCOUNTS_PATH = f"{ADMIN_PATH}/accounts"
NOTICES = {
    "added": "The provider account was added.",
    "renamed": "The provider account was renamed.",
    "credentials": "The credentials were replaced.",
    "removed": "The provider account was removed.",
}
# What a form sent back with an error keeps: the public ids, never a secret.
TWILIO_KEPT = ("label", "account_sid", "api_key_sid")
META_KEPT = ("label", "business_account_id", "graph_api_version")


@dataclass(frozen=True, slots=True)
class TwilioForm:
    label: str = ""
    account_sid: str = ""
    auth_token: str = ""
    api_key_sid: str = ""
    api_key_secret: str = ""

    def credentials(self) -> TwilioCredentials:
        return TwilioCredentials(
            account_sid=self.account_sid.strip(),
            auth_token=self.auth_token,
            api_key_sid=self.api_key_sid.strip() or None,
            api_key_secret=self.api_key_secret or None,
        )


@dataclass(frozen=True, slots=True)
class MetaForm:
    label: str = ""
    business_account_id: str = ""
    access_token: str = ""
    app_secret: str = ""
    verify_token: str = ""
    graph_api_version: str = ""

    def credentials(self) -> MetaCredentials:
        return MetaCredentials(
            business_account_id=self.business_account_id.strip(),
            access_token=self.access_token,
            app_secret=self.app_secret,
            verify_token=self.verify_token,
            graph_api_version=self.graph_api_version.strip() or DEFAULT_GRAPH_API_VERSION,
        )


@dataclass(frozen=True, slots=True)
class LabelForm:
    label: str = ""


class ProviderAccountsController(Controller):
    path = "/"
    include_in_schema = False
    dependencies = {
        "list_provider_accounts": provide(lambda c: c.list_provider_accounts),
        "get_provider_account": provide(lambda c: c.get_provider_account),
        "add_provider_account": provide(lambda c: c.add_provider_account),
        "update_provider_account": provide(lambda c: c.update_provider_account),
        "remove_provider_account": provide(lambda c: c.remove_provider_account),
    }

    @get("/admin/accounts", opt=TENANT_ADMINS_ONLY)
    async def accounts(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        list_provider_accounts: NamedDependency[ListProviderAccounts],
    ) -> Template:
        return render(
            request,
            "administration/accounts.html",
            principal=principal,
            notices=NOTICES,
            accounts=await list_provider_accounts(principal),
            form={},
            error=None,
            default_graph_api_version=DEFAULT_GRAPH_API_VERSION,
        )

    @post(
        "/admin/accounts/twilio",
        opt=TENANT_ADMINS_ONLY,
        exception_handlers=form_again(
            "administration/_twilio_form.html", "New Twilio account", keep=TWILIO_KEPT
        ),
    )
    async def add_twilio(
        self,
        data: Annotated[TwilioForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        principal: NamedDependency[Principal],
        add_provider_account: NamedDependency[AddProviderAccount],
    ) -> Response[Any]:
        await add_provider_account(principal, data.credentials(), label=data.label)
        return done(ACCOUNTS_PATH, "added")

    @post(
        "/admin/accounts/meta",
        opt=TENANT_ADMINS_ONLY,
        exception_handlers=form_again("administration/_meta_form.html", "New Meta account", keep=META_KEPT),
    )
    async def add_meta(
        self,
        data: Annotated[MetaForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        principal: NamedDependency[Principal],
        add_provider_account: NamedDependency[AddProviderAccount],
    ) -> Response[Any]:
        await add_provider_account(principal, data.credentials(), label=data.label)
        return done(ACCOUNTS_PATH, "added")

    @get("/admin/accounts/{account_id:uuid}", opt=TENANT_ADMINS_ONLY)
    async def account(
        self,
        request: Request[Any, Any, Any],
        account_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_provider_account: NamedDependency[GetProviderAccount],
    ) -> Template:
        return render(
            request,
            "administration/account.html",
            principal=principal,
            notices=NOTICES,
            account=await get_provider_account(principal, account_id),
            default_graph_api_version=DEFAULT_GRAPH_API_VERSION,
        )

    @post("/admin/accounts/{account_id:uuid}/label", opt=TENANT_ADMINS_ONLY)
    async def rename(
        self,
        account_id: FromPath[UUID],
        data: Annotated[LabelForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        principal: NamedDependency[Principal],
        update_provider_account: NamedDependency[UpdateProviderAccount],
    ) -> Response[Any]:
        await update_provider_account(principal, account_id, UpdateProviderAccountCommand(label=data.label))
        return done(f"{ACCOUNTS_PATH}/{account_id}", "renamed")

    @post("/admin/accounts/{account_id:uuid}/twilio", opt=TENANT_ADMINS_ONLY)
    async def replace_twilio(
        self,
        account_id: FromPath[UUID],
        data: Annotated[TwilioForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        principal: NamedDependency[Principal],
        update_provider_account: NamedDependency[UpdateProviderAccount],
    ) -> Response[Any]:
        command = UpdateProviderAccountCommand(credentials=data.credentials())
        await update_provider_account(principal, account_id, command)
        return done(f"{ACCOUNTS_PATH}/{account_id}", "credentials")

    @post("/admin/accounts/{account_id:uuid}/meta", opt=TENANT_ADMINS_ONLY)
    async def replace_meta(
        self,
        account_id: FromPath[UUID],
        data: Annotated[MetaForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        principal: NamedDependency[Principal],
        update_provider_account: NamedDependency[UpdateProviderAccount],
    ) -> Response[Any]:
        command = UpdateProviderAccountCommand(credentials=data.credentials())
        await update_provider_account(principal, account_id, command)
        return done(f"{ACCOUNTS_PATH}/{account_id}", "credentials")

    @post("/admin/accounts/{account_id:uuid}/remove", opt=TENANT_ADMINS_ONLY)
    async def remove(
        self,
        account_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        remove_provider_account: NamedDependency[RemoveProviderAccount],
    ) -> Response[Any]:
        await remove_provider_account(principal, account_id)
        return done(ACCOUNTS_PATH, "removed")
