"""Platform administration in the console: the tenants, created, changed, suspended and reactivated by
platform admins, with each tenant's usage in counts (a platform admin reads no tenant's messages).

The same use cases as ``/admin/tenants``. A form the use case refuses (a name taken, Twilio without its
credentials) is shown again with the reason and what was typed kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from application.administration.onboarding import CreateTenant, CreateTenantCommand
from application.administration.platform import (
    GetTenant,
    ListTenants,
    ReactivateTenant,
    SuspendTenant,
    UpdateTenant,
    UpdateTenantCommand,
)
from application.dashboard.platform_usage import ReadPlatformUsage
from application.errors import AlreadyExists, InvalidInput
from application.pagination import DEFAULT_PAGE_SIZE
from application.principal import Principal
from domain.administration.tenancy import ProviderName, Role, TwilioCredentials
from domain.errors import InvalidCredentials
from entrypoints.console.errors import refusal_detail, refusal_status
from entrypoints.console.rendering import CONSOLE_PATH, render
from entrypoints.http.access import admitted_principal, in_console
from entrypoints.http.dependencies import provide

TENANTS_PATH = f"{CONSOLE_PATH}/platform/tenants"
PLATFORM_ADMINS = in_console(Role.PLATFORM_ADMIN)
# What a tenant's own provider may be: Meta is chosen per sender (a provider account), not per tenant.
TENANT_PROVIDERS = (ProviderName.SANDBOX, ProviderName.TWILIO)

NOTICES = {
    "created": "The tenant was created. Its first tenant admin is created with the API or the command line.",
    "updated": "The tenant was changed.",
    "suspended": "The tenant is suspended: its users cannot sign in and its API keys are refused.",
    "reactivated": "The tenant is active again: its users can sign in.",
}


def _provider_of(value: str) -> ProviderName:
    if value not in {provider.value for provider in TENANT_PROVIDERS}:
        raise InvalidInput("a tenant's provider is sandbox or twilio (Meta is chosen per sender)")
    return ProviderName(value)


def _send_limit_of(value: str, what: str) -> int:
    """A send limit as typed: empty or 0 is the gateway's default."""
    text = value.strip()
    if not text:
        return 0
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise InvalidInput(f"{what} is a whole number (empty or 0 for the gateway's default)")
    return int(text)


# ------------------------------------------------------------------------------------ creating one


@dataclass(frozen=True, slots=True)
class NewTenantForm:
    name: str = ""
    provider: str = ProviderName.SANDBOX.value
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""  # never shown again


def _new_tenant_page(
    request: Request[Any, Any, Any],
    principal: Principal,
    form: NewTenantForm,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Template:
    return render(
        request,
        "platform/new_tenant.html",
        principal=principal,
        status_code=status_code,
        form=form,
        error=error,
        providers=TENANT_PROVIDERS,
    )


def _refused_tenant(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    return _new_tenant_page(
        request,
        admitted_principal(request),
        request.state.tenant_form,
        error=refusal_detail(error),
        status_code=refusal_status(error),
    )


def _create_command(form: NewTenantForm) -> CreateTenantCommand:
    provider = _provider_of(form.provider)
    credentials = None
    if provider is ProviderName.TWILIO and (form.twilio_account_sid or form.twilio_auth_token):
        credentials = TwilioCredentials(
            account_sid=form.twilio_account_sid.strip(), auth_token=form.twilio_auth_token.strip()
        )
    return CreateTenantCommand(name=form.name, provider=provider, twilio_credentials=credentials)


# ------------------------------------------------------------------------------------ changing one


@dataclass(frozen=True, slots=True)
class EditTenantForm:
    name: str = ""
    provider: str = ProviderName.SANDBOX.value
    session_window_check: str = ""  # a checkbox: "on" when ticked, absent when not
    sends_per_minute: str = ""
    sends_per_day: str = ""

    @property
    def checks_session_window(self) -> bool:
        return bool(self.session_window_check)


def _edit_tenant_page(
    request: Request[Any, Any, Any],
    principal: Principal,
    tenant_id: UUID,
    form: EditTenantForm,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Template:
    return render(
        request,
        "platform/edit_tenant.html",
        principal=principal,
        status_code=status_code,
        tenant_id=tenant_id,
        form=form,
        error=error,
        providers=TENANT_PROVIDERS,
    )


def _refused_change(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    return _edit_tenant_page(
        request,
        admitted_principal(request),
        request.path_params["tenant_id"],
        request.state.tenant_form,
        error=refusal_detail(error),
        status_code=refusal_status(error),
    )


# What a tenant's form is shown again for, with the reason.
_FORM_ERRORS: tuple[type[Exception], ...] = (InvalidInput, AlreadyExists, InvalidCredentials)


class PlatformTenantsController(Controller):
    path = "/"
    include_in_schema = False
    dependencies = {
        "list_tenants": provide(lambda c: c.list_tenants),
        "get_tenant": provide(lambda c: c.get_tenant),
        "create_tenant": provide(lambda c: c.create_tenant),
        "update_tenant": provide(lambda c: c.update_tenant),
        "suspend_tenant": provide(lambda c: c.suspend_tenant),
        "reactivate_tenant": provide(lambda c: c.reactivate_tenant),
        "read_platform_usage": provide(lambda c: c.read_platform_usage),
    }

    @get("/platform/tenants", opt=PLATFORM_ADMINS)
    async def tenants(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        list_tenants: NamedDependency[ListTenants],
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        page = await list_tenants(principal, DEFAULT_PAGE_SIZE, (cursor or "")[:300] or None)
        return render(request, "platform/tenants.html", principal=principal, page=page)

    @get("/platform/tenants/new", opt=PLATFORM_ADMINS)
    async def new_tenant(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal]
    ) -> Template:
        return _new_tenant_page(request, principal, NewTenantForm())

    @post(
        "/platform/tenants/new",
        opt=PLATFORM_ADMINS,
        exception_handlers=dict.fromkeys(_FORM_ERRORS, _refused_tenant),
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[NewTenantForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        principal: NamedDependency[Principal],
        create_tenant: NamedDependency[CreateTenant],
    ) -> Response[Any]:
        # What the form is shown again with, should the tenant be refused (never the auth token).
        request.state.tenant_form = NewTenantForm(data.name, data.provider, data.twilio_account_sid)
        tenant = await create_tenant(principal, _create_command(data))
        return Redirect(f"{TENANTS_PATH}/{tenant.id}?done=created", status_code=HTTP_303_SEE_OTHER)

    @get("/platform/tenants/{tenant_id:uuid}", opt=PLATFORM_ADMINS)
    async def tenant(
        self,
        request: Request[Any, Any, Any],
        tenant_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_tenant: NamedDependency[GetTenant],
        read_platform_usage: NamedDependency[ReadPlatformUsage],
    ) -> Template:
        tenant = await get_tenant(principal, tenant_id)
        usage = await read_platform_usage.of_tenant(principal, tenant_id)
        return render(
            request,
            "platform/tenant.html",
            principal=principal,
            tenant=tenant,
            usage=usage.usage,
            as_of=usage.as_of,
            notices=NOTICES,
        )

    @get("/platform/tenants/{tenant_id:uuid}/edit", opt=PLATFORM_ADMINS)
    async def edit_tenant(
        self,
        request: Request[Any, Any, Any],
        tenant_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_tenant: NamedDependency[GetTenant],
    ) -> Template:
        tenant = await get_tenant(principal, tenant_id)
        form = EditTenantForm(
            name=tenant.name,
            provider=tenant.provider.value,
            session_window_check="on" if tenant.session_window_check else "",
            sends_per_minute=str(tenant.sends_per_minute or ""),
            sends_per_day=str(tenant.sends_per_day or ""),
        )
        return _edit_tenant_page(request, principal, tenant_id, form)

    @post(
        "/platform/tenants/{tenant_id:uuid}/edit",
        opt=PLATFORM_ADMINS,
        exception_handlers=dict.fromkeys(_FORM_ERRORS, _refused_change),
    )
    async def update(
        self,
        request: Request[Any, Any, Any],
        tenant_id: FromPath[UUID],
        data: Annotated[EditTenantForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        principal: NamedDependency[Principal],
        update_tenant: NamedDependency[UpdateTenant],
    ) -> Response[Any]:
        request.state.tenant_form = data
        command = UpdateTenantCommand(
            name=data.name,
            provider=_provider_of(data.provider),
            session_window_check=data.checks_session_window,
            sends_per_minute=_send_limit_of(data.sends_per_minute, "Sends per minute"),
            sends_per_day=_send_limit_of(data.sends_per_day, "Sends per day"),
        )
        await update_tenant(principal, tenant_id, command)
        return Redirect(f"{TENANTS_PATH}/{tenant_id}?done=updated", status_code=HTTP_303_SEE_OTHER)

    @get("/platform/tenants/{tenant_id:uuid}/suspend", opt=PLATFORM_ADMINS)
    async def confirm_suspension(
        self,
        request: Request[Any, Any, Any],
        tenant_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_tenant: NamedDependency[GetTenant],
    ) -> Template:
        tenant = await get_tenant(principal, tenant_id)
        return render(request, "platform/suspend_tenant.html", principal=principal, tenant=tenant)

    @post("/platform/tenants/{tenant_id:uuid}/suspend", opt=PLATFORM_ADMINS)
    async def suspend(
        self,
        tenant_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        suspend_tenant: NamedDependency[SuspendTenant],
    ) -> Response[Any]:
        await suspend_tenant(principal, tenant_id)
        return Redirect(f"{TENANTS_PATH}/{tenant_id}?done=suspended", status_code=HTTP_303_SEE_OTHER)

    @post("/platform/tenants/{tenant_id:uuid}/reactivate", opt=PLATFORM_ADMINS)
    async def reactivate(
        self,
        tenant_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        reactivate_tenant: NamedDependency[ReactivateTenant],
    ) -> Response[Any]:
        await reactivate_tenant(principal, tenant_id)
        return Redirect(f"{TENANTS_PATH}/{tenant_id}?done=reactivated", status_code=HTTP_303_SEE_OTHER)
