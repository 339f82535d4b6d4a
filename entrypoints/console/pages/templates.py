"""The template catalogue in the console: the tenant's templates and where each is approved, one
template's components with a preview, and (for tenant admins) creating, deleting and syncing them.

Agents and tenant admins read; tenant admins change, as on ``/api/templates``. A form that breaks
WhatsApp's rules is shown again with each field's problem beside it and what was typed kept.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from application.administration.provider_accounts import ListProviderAccounts
from application.errors import AlreadyExists, ApplicationError, InvalidInput
from application.pagination import DEFAULT_PAGE_SIZE
from application.ports.templates import TemplateProviderRefused, TemplateProviderUnavailable
from application.principal import Principal
from application.templates.catalogue import (
    AccountChoice,
    CreateTemplate,
    CreateTemplateCommand,
    DeleteTemplate,
    GetTemplate,
    ListTemplates,
    PreviewTemplate,
    TemplatesRequest,
)
from application.templates.sync import SyncTemplates
from domain.administration.tenancy import ProviderAccount, Role
from domain.templates.catalogue import CatalogueTemplate, TemplateStatus
from domain.templates.definition import (
    ButtonKind,
    HeaderFormat,
    TemplateButton,
    TemplateCategory,
    TemplateDefinition,
    TemplateHeader,
)
from domain.templates.errors import FieldProblem, InvalidTemplate, InvalidTemplateValues
from domain.templates.validation import definition_problems
from entrypoints.console.errors import refusal_status
from entrypoints.console.rendering import CONSOLE_PATH, render
from entrypoints.http.access import admitted_principal, in_console
from entrypoints.http.dependencies import provide

TEMPLATES_PATH = f"{CONSOLE_PATH}/templates"
BUTTON_SLOTS = 3  # the form's buttons; the API takes more
SANDBOX = "sandbox"  # the sandbox as an account choice, as the API names it
VARIABLE_PREFIX = "var_"  # a preview's value of {{name}} comes as var_name in the address

READERS = in_console(Role.AGENT, Role.TENANT_ADMIN)
ADMINS = in_console(Role.TENANT_ADMIN)

NOTICES = {
    "synced": "The catalogue is in step with the providers.",
    "sync-incomplete": "Some provider accounts could not be reached: their templates were left as they were.",
    "deleted": "The template was deleted at every provider account.",
    "created": "The template was created. Providers that review templates show it as pending until they decide.",  # noqa: E501
}


Choice = TypeVar("Choice", bound=enum.StrEnum)


def choice_of(choices: type[Choice], value: str | None) -> Choice | None:
    """The choice ``value`` names, or None (no choice, or one no form offers)."""
    return next((choice for choice in choices if choice.value == value), None)


# --------------------------------------------------------------------------------------- the form


@dataclass(frozen=True, slots=True)
class TemplateForm:
    """The creation form as posted: every field text, so that what was typed can be shown again."""

    name: str = ""
    language: str = ""
    category: str = TemplateCategory.UTILITY.value
    header_format: str = ""  # "": no header
    header_text: str = ""
    header_example_url: str = ""
    body: str = ""
    footer: str = ""
    button_1_kind: str = ""  # "": no button
    button_1_text: str = ""
    button_1_value: str = ""
    button_2_kind: str = ""
    button_2_text: str = ""
    button_2_value: str = ""
    button_3_kind: str = ""
    button_3_text: str = ""
    button_3_value: str = ""
    examples: str = ""
    # The ticked accounts' ids (and "sandbox"): one ticked box comes as a lone value, several as a list.
    accounts: list[str] | str = field(default_factory=list)

    @property
    def chosen_accounts(self) -> list[str]:
        return [self.accounts] if isinstance(self.accounts, str) else list(self.accounts)

    def button(self, slot: int) -> tuple[str, str, str]:
        """Slot ``slot``'s (kind, text, value), from 1."""
        return (
            getattr(self, f"button_{slot}_kind"),
            getattr(self, f"button_{slot}_text"),
            getattr(self, f"button_{slot}_value"),
        )


def _button_of(kind: ButtonKind, text: str, value: str) -> TemplateButton:
    """A button from a slot: its one value field is the URL, the phone number or the sample code, as
    its kind takes (a quick reply takes none)."""
    value_or_none = value.strip() or None
    match kind:
        case ButtonKind.URL:
            return TemplateButton(kind, text=text, url=value_or_none)
        case ButtonKind.PHONE_NUMBER:
            return TemplateButton(kind, text=text, phone_number=value_or_none)
        case ButtonKind.COPY_CODE:
            return TemplateButton(kind, text=text, example=value_or_none)
        case _:
            return TemplateButton(kind, text=text)


def _examples_of(text: str) -> tuple[list[tuple[str, str]], list[FieldProblem]]:
    """``name=value`` lines (blank lines skipped) as example pairs, and the lines that are not one."""
    pairs: list[tuple[str, str]] = []
    problems: list[FieldProblem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, equals, value = line.partition("=")
        if not equals or not name.strip():
            problems.append(FieldProblem("examples", f"line {number} is not written name=value"))
            continue
        pairs.append((name.strip().strip("{}").strip(), value.strip()))
    return pairs, problems


def definition_of(form: TemplateForm) -> TemplateDefinition:
    """The template the form describes. What the form itself cannot say (a line of examples that is not
    ``name=value``, a choice no form offers) is named as the catalogue names its problems, and given
    with them; WhatsApp's rules are the catalogue's to check."""
    problems: list[FieldProblem] = []
    category = choice_of(TemplateCategory, form.category)
    if category is None:
        category = TemplateCategory.UTILITY
        problems.append(FieldProblem("category", "is marketing, utility or authentication"))
    header = None
    header_format = choice_of(HeaderFormat, form.header_format)
    if header_format is not None:
        header = TemplateHeader(
            header_format,
            text=form.header_text or None,
            example_url=form.header_example_url.strip() or None,
        )
    elif form.header_format:
        problems.append(FieldProblem("header.format", "is none, text, image, video or document"))
    buttons: list[TemplateButton] = []
    for slot in range(1, BUTTON_SLOTS + 1):
        kind_name, text, value = form.button(slot)
        kind = choice_of(ButtonKind, kind_name)
        if kind is not None:
            buttons.append(_button_of(kind, text, value))
        elif kind_name:
            problems.append(FieldProblem(f"buttons[{slot - 1}]", "is not a kind of button"))
    examples, example_problems = _examples_of(form.examples)
    problems.extend(example_problems)
    definition = TemplateDefinition(
        name=form.name.strip(),
        language=form.language.strip(),
        category=category,
        body=form.body,
        header=header,
        footer=form.footer or None,
        buttons=tuple(buttons),
        examples=tuple(examples),
    )
    if problems:  # with the catalogue's own problems, so that the form is fixed in one go
        raise InvalidTemplate([*problems, *definition_problems(definition)])
    return definition


def account_choices_of(form: TemplateForm) -> tuple[AccountChoice, ...]:
    choices: list[AccountChoice] = []
    for value in form.chosen_accounts:
        if value == SANDBOX:
            choices.append(None)
            continue
        try:
            choices.append(UUID(value))
        except ValueError:
            raise InvalidInput(f"the tenant has no provider account {value[:40]!r}") from None
    return tuple(choices)


# Where each problem of the catalogue is shown on the form: the input its field path starts with.
_PROBLEM_INPUTS: tuple[tuple[str, str], ...] = (
    ("name", "name"),
    ("language", "language"),
    ("category", "category"),
    ("header.format", "header_format"),
    ("header.text", "header_text"),
    ("header.example_url", "header_example_url"),
    ("header", "header_format"),
    ("body", "body"),
    ("footer", "footer"),
    ("examples", "examples"),
    *((f"buttons[{slot - 1}].text", f"button_{slot}_text") for slot in range(1, BUTTON_SLOTS + 1)),
    *((f"buttons[{slot - 1}].", f"button_{slot}_value") for slot in range(1, BUTTON_SLOTS + 1)),
    *((f"buttons[{slot - 1}]", f"button_{slot}_kind") for slot in range(1, BUTTON_SLOTS + 1)),
    ("buttons", "button_1_kind"),
    ("accounts", "accounts"),
)


def input_of(problem_field: str) -> str:
    """The id of the form's input a problem of ``problem_field`` is about (the form's top otherwise)."""
    for prefix, input_id in _PROBLEM_INPUTS:
        if problem_field.startswith(prefix):
            return input_id
    return "template-form"


@dataclass(frozen=True, slots=True)
class ShownProblem:
    input_id: str
    field: str  # as the catalogue names it (``buttons[1].url``); empty for the form as a whole
    message: str


def shown_problems(error: Exception) -> list[ShownProblem]:
    if isinstance(error, InvalidTemplate | InvalidTemplateValues):
        return [ShownProblem(input_of(p.field), p.field, p.message) for p in error.problems]
    detail = error.detail if isinstance(error, ApplicationError) else str(error)
    if isinstance(error, InvalidInput) and "account" in detail:
        return [ShownProblem("accounts", "accounts", detail)]
    return [ShownProblem("template-form", "", detail)]


def _new_template_page(
    request: Request[Any, Any, Any],
    principal: Principal,
    form: TemplateForm,
    accounts: Sequence[ProviderAccount],
    *,
    problems: Sequence[ShownProblem] = (),
    status_code: int = 200,
) -> Template:
    by_input: dict[str, list[ShownProblem]] = {}
    for problem in problems:
        by_input.setdefault(problem.input_id, []).append(problem)
    return render(
        request,
        "templates/new.html",
        principal=principal,
        status_code=status_code,
        form=form,
        accounts=accounts,
        sandbox=SANDBOX,
        problems=problems,
        problems_by_input=by_input,
        categories=list(TemplateCategory),
        header_formats=list(HeaderFormat),
        button_kinds=list(ButtonKind),
        button_slots=range(1, BUTTON_SLOTS + 1),
    )


def _refused_template(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    """The creation form again with every problem beside its field, and what was typed kept."""
    state = request.state
    status = refusal_status(error)
    return _new_template_page(
        request,
        admitted_principal(request),
        state.template_form,
        state.provider_accounts,
        problems=shown_problems(error),
        status_code=status,
    )


def _values_of(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The preview's values from the address: ``var_<name>`` for each variable given."""
    return {
        key.removeprefix(VARIABLE_PREFIX): value
        for key, value in request.query_params.items()
        if key.startswith(VARIABLE_PREFIX)
    }


def _template_page(
    request: Request[Any, Any, Any],
    principal: Principal,
    template: CatalogueTemplate,
    accounts: Mapping[UUID, ProviderAccount],
    values: Mapping[str, str],
    *,
    rendered: Any = None,
    problems: Sequence[ShownProblem] = (),
    status_code: int = 200,
) -> Template:
    return render(
        request,
        "templates/template.html",
        principal=principal,
        status_code=status_code,
        template=template,
        accounts=accounts,
        values=values,
        rendered=rendered,
        problems=problems,
        variable_prefix=VARIABLE_PREFIX,
        can_change=principal.role is Role.TENANT_ADMIN,
        notices=NOTICES,
    )


def _refused_preview(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    """The template's page with the preview's problems (a variable without a value …) listed."""
    state = request.state
    return _template_page(
        request,
        admitted_principal(request),
        state.template,
        state.provider_accounts,
        state.preview_values,
        problems=shown_problems(error),
        status_code=422,
    )


async def _accounts_by_id(
    principal: Principal, list_provider_accounts: ListProviderAccounts
) -> dict[UUID, ProviderAccount]:
    """The tenant's provider accounts, to name a listing's account: tenant admins only read them
    (an agent sees the provider's name and the account's id)."""
    if principal.role is not Role.TENANT_ADMIN:
        return {}
    return {account.id: account for account in await list_provider_accounts(principal)}


class TemplatesController(Controller):
    path = "/"
    include_in_schema = False
    dependencies = {
        "list_templates": provide(lambda c: c.list_templates),
        "get_template": provide(lambda c: c.get_template),
        "create_template": provide(lambda c: c.create_template),
        "delete_template": provide(lambda c: c.delete_template),
        "preview_template": provide(lambda c: c.preview_template),
        "sync_templates": provide(lambda c: c.sync_templates),
        "list_provider_accounts": provide(lambda c: c.list_provider_accounts),
    }

    @get("/templates", opt=READERS)
    async def catalogue(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        list_templates: NamedDependency[ListTemplates],
        list_provider_accounts: NamedDependency[ListProviderAccounts],
        name: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        wanted_name = (name or "").strip()[:512] or None
        wanted_status = choice_of(TemplateStatus, status)
        page = await list_templates(
            TemplatesRequest(
                principal=principal,
                limit=DEFAULT_PAGE_SIZE,
                cursor=cursor or None,
                name=wanted_name,
                status=wanted_status,
            )
        )
        return render(
            request,
            "templates/catalogue.html",
            principal=principal,
            page=page,
            accounts=await _accounts_by_id(principal, list_provider_accounts),
            name=wanted_name or "",
            status=wanted_status.value if wanted_status else "",
            statuses=list(TemplateStatus),
            can_change=principal.role is Role.TENANT_ADMIN,
            notices=NOTICES,
        )

    @post("/templates/sync", opt=ADMINS)
    async def sync(
        self, principal: NamedDependency[Principal], sync_templates: NamedDependency[SyncTemplates]
    ) -> Response[Any]:
        report = await sync_templates(principal)
        done = "sync-incomplete" if report.unreachable else "synced"
        return Redirect(f"{TEMPLATES_PATH}?done={done}", status_code=HTTP_303_SEE_OTHER)

    @get("/templates/new", opt=ADMINS)
    async def new_template(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        list_provider_accounts: NamedDependency[ListProviderAccounts],
    ) -> Template:
        accounts = await list_provider_accounts(principal)
        chosen = [str(account.id) for account in accounts] or [SANDBOX]
        return _new_template_page(request, principal, TemplateForm(accounts=chosen), accounts)

    @post(
        "/templates/new",
        opt=ADMINS,
        exception_handlers={
            InvalidTemplate: _refused_template,
            InvalidInput: _refused_template,
            AlreadyExists: _refused_template,
            TemplateProviderRefused: _refused_template,
            TemplateProviderUnavailable: _refused_template,
        },
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[TemplateForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        principal: NamedDependency[Principal],
        create_template: NamedDependency[CreateTemplate],
        list_provider_accounts: NamedDependency[ListProviderAccounts],
    ) -> Response[Any]:
        # What the form is shown again with, should the template be refused.
        request.state.template_form = data
        request.state.provider_accounts = await list_provider_accounts(principal)
        created = await create_template(
            principal, CreateTemplateCommand(definition_of(data), account_choices_of(data))
        )
        return Redirect(f"{TEMPLATES_PATH}/{created.id}?done=created", status_code=HTTP_303_SEE_OTHER)

    @get(
        "/templates/{template_id:uuid}",
        opt=READERS,
        exception_handlers={InvalidTemplateValues: _refused_preview},
    )
    async def template_page(
        self,
        request: Request[Any, Any, Any],
        template_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_template: NamedDependency[GetTemplate],
        preview_template: NamedDependency[PreviewTemplate],
        list_provider_accounts: NamedDependency[ListProviderAccounts],
        preview: FromQuery[str | None] = None,
    ) -> Template:
        template = await get_template(principal, template_id)
        accounts = await _accounts_by_id(principal, list_provider_accounts)
        if preview is None:  # the form starts with the template's own examples
            values = dict(template.definition.examples)
            return _template_page(request, principal, template, accounts, values)
        values = _values_of(request)
        request.state.template = template
        request.state.provider_accounts = accounts
        request.state.preview_values = values
        rendered = await preview_template(
            principal, template_id, values, has_header_media=template.definition.has_media_header
        )
        return _template_page(request, principal, template, accounts, values, rendered=rendered)

    @post("/templates/{template_id:uuid}/delete", opt=ADMINS)
    async def delete(
        self,
        template_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        delete_template: NamedDependency[DeleteTemplate],
    ) -> Response[Any]:
        await delete_template(principal, template_id)
        return Redirect(f"{TEMPLATES_PATH}?done=deleted", status_code=HTTP_303_SEE_OTHER)
