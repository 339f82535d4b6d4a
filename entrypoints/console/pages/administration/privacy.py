"""The tenant's consent policy (its opt-out and opt-in keywords, the replies that confirm a change, the
template categories that still reach a person who opted out) and its retention policy (how long its
messages are kept, and whether they are then redacted or deleted), on the use cases the API's
``/api/consent/policy`` and ``/api/retention`` call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Template

from application.consent.management import ConsentPolicyCommand, GetConsentPolicy, SetConsentPolicy
from application.errors import InvalidInput
from application.principal import Principal
from application.privacy.retention import GetRetentionPolicy, SetRetention, SetRetentionPolicy
from domain.consent.model import (
    DEFAULT_OPT_IN_KEYWORDS,
    DEFAULT_OPT_OUT_KEYWORDS,
    ConsentPolicy,
    KeywordMode,
)
from domain.messaging.retention import MAX_RETENTION_DAYS, MIN_RETENTION_DAYS, RetentionMode
from domain.templates.definition import TemplateCategory
from entrypoints.console.i18n import translatable
from entrypoints.console.pages.administration.common import (
    ADMIN_PATH,
    TENANT_ADMINS_ONLY,
    done,
    form_again,
)
from entrypoints.console.rendering import render
from entrypoints.http.dependencies import provide

CONSENT_PATH = f"{ADMIN_PATH}/consent"
RETENTION_PATH = f"{ADMIN_PATH}/retention"
NOTICES = {
    "consent-saved": translatable("The consent policy was saved."),
    "retention-saved": translatable(
        "The retention policy was saved. The next rounds of the workers apply it."
    ),
    "retention-removed": translatable("The retention policy was removed: the tenant keeps every message."),
}


@dataclass(frozen=True, slots=True)
class ConsentPolicyForm:
    opt_out_keywords: str = ""  # one a line
    opt_in_keywords: str = ""
    keyword_mode: str = KeywordMode.ADD.value
    opt_out_reply: str = ""
    opt_in_reply: str = ""
    # The ticked categories: one ticked box comes as a lone value, several as a list.
    allowed_categories: list[str] | str = field(default_factory=list)

    @property
    def categories(self) -> list[str]:
        chosen = self.allowed_categories
        return [chosen] if isinstance(chosen, str) else list(chosen)


@dataclass(frozen=True, slots=True)
class RetentionForm:
    days: str = ""
    mode: str = RetentionMode.REDACT.value


def keywords_of(text: str) -> tuple[str, ...]:
    """One keyword a line (blank lines skipped); the policy's rules check each."""
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def policy_command_of(form: ConsentPolicyForm) -> ConsentPolicyCommand:
    mode = next((mode for mode in KeywordMode if mode.value == form.keyword_mode), None)
    if mode is None:
        raise InvalidInput("the keywords are added to the defaults or replace them")
    categories: set[TemplateCategory] = set()
    for value in form.categories:
        category = next((c for c in TemplateCategory if c.value == value), None)
        if category is None:
            raise InvalidInput(f"{value[:40]!r} is not a template category")
        categories.add(category)
    return ConsentPolicyCommand(
        opt_out_keywords=keywords_of(form.opt_out_keywords),
        opt_in_keywords=keywords_of(form.opt_in_keywords),
        keyword_mode=mode,
        opt_out_reply=form.opt_out_reply.strip() or None,
        opt_in_reply=form.opt_in_reply.strip() or None,
        allowed_categories=frozenset(categories),
    )


def form_of(policy: ConsentPolicy) -> dict[str, Any]:
    return {
        "opt_out_keywords": "\n".join(policy.opt_out_keywords),
        "opt_in_keywords": "\n".join(policy.opt_in_keywords),
        "keyword_mode": policy.keyword_mode.value,
        "opt_out_reply": policy.opt_out_reply or "",
        "opt_in_reply": policy.opt_in_reply or "",
        "allowed_categories": [category.value for category in policy.allowed_categories],
    }


def retention_of(principal: Principal, form: RetentionForm) -> SetRetention:
    """What the form sets; the policy checks the bounds."""
    try:
        days = int(form.days.strip())
    except ValueError:
        raise InvalidInput(
            f"messages are kept a whole number of days, {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS}"
        ) from None
    mode = next((mode for mode in RetentionMode if mode.value == form.mode), None)
    if mode is None:
        raise InvalidInput("messages past the period are redacted or deleted")
    return SetRetention(principal=principal, days=days, mode=mode)


_CONSENT_CONTEXT: dict[str, Any] = {
    "categories": [category.value for category in TemplateCategory],
    "default_opt_out": DEFAULT_OPT_OUT_KEYWORDS,
    "default_opt_in": DEFAULT_OPT_IN_KEYWORDS,
    "updated_at": None,
}
_RETENTION_CONTEXT: dict[str, Any] = {
    "min_days": MIN_RETENTION_DAYS,
    "max_days": MAX_RETENTION_DAYS,
    "policy": None,
}


class PrivacyController(Controller):
    path = "/"
    include_in_schema = False
    dependencies = {
        "get_consent_policy": provide(lambda c: c.get_consent_policy),
        "set_consent_policy": provide(lambda c: c.set_consent_policy),
        "get_retention_policy": provide(lambda c: c.get_retention_policy),
        "set_retention_policy": provide(lambda c: c.set_retention_policy),
    }

    @get("/admin/consent", opt=TENANT_ADMINS_ONLY)
    async def consent(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        get_consent_policy: NamedDependency[GetConsentPolicy],
    ) -> Template:
        policy = await get_consent_policy(principal)
        return render(
            request,
            "administration/consent.html",
            principal=principal,
            notices=NOTICES,
            form=form_of(policy),
            error=None,
            **{**_CONSENT_CONTEXT, "updated_at": policy.updated_at},
        )

    @post(
        "/admin/consent",
        opt=TENANT_ADMINS_ONLY,
        exception_handlers=form_again(
            "administration/_consent_form.html",
            "Consent policy",
            keep=(
                "opt_out_keywords",
                "opt_in_keywords",
                "keyword_mode",
                "opt_out_reply",
                "opt_in_reply",
                "allowed_categories",
            ),
            context=_CONSENT_CONTEXT,
        ),
    )
    async def set_consent(
        self,
        data: Annotated[ConsentPolicyForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        principal: NamedDependency[Principal],
        set_consent_policy: NamedDependency[SetConsentPolicy],
    ) -> Response[Any]:
        await set_consent_policy(principal, policy_command_of(data))
        return done(CONSENT_PATH, "consent-saved")

    @get("/admin/retention", opt=TENANT_ADMINS_ONLY)
    async def retention(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        get_retention_policy: NamedDependency[GetRetentionPolicy],
    ) -> Template:
        policy = await get_retention_policy(principal)
        form = {"days": str(policy.days), "mode": policy.mode.value} if policy else {}
        return render(
            request,
            "administration/retention.html",
            principal=principal,
            notices=NOTICES,
            form=form,
            error=None,
            **{**_RETENTION_CONTEXT, "policy": policy},
        )

    @post(
        "/admin/retention",
        opt=TENANT_ADMINS_ONLY,
        exception_handlers=form_again(
            "administration/_retention_form.html",
            "Retention",
            keep=("days", "mode"),
            context=_RETENTION_CONTEXT,
        ),
    )
    async def set_retention(
        self,
        data: Annotated[RetentionForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        principal: NamedDependency[Principal],
        set_retention_policy: NamedDependency[SetRetentionPolicy],
    ) -> Response[Any]:
        await set_retention_policy(retention_of(principal, data))
        return done(RETENTION_PATH, "retention-saved")

    @post("/admin/retention/remove", opt=TENANT_ADMINS_ONLY)
    async def remove_retention(
        self,
        principal: NamedDependency[Principal],
        set_retention_policy: NamedDependency[SetRetentionPolicy],
    ) -> Response[Any]:
        await set_retention_policy(SetRetention(principal=principal, days=None))
        return done(RETENTION_PATH, "retention-removed")
