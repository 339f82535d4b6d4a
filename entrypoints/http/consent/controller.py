"""Consent over HTTP: a person's state and its history, the tenant's ledger, setting a state by hand, and
the consent policy.

Agents and tenant admins read consent and set a person's state; tenant admins alone change the policy.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_200_OK

from application.consent.management import (
    ConsentView,
    GetConsent,
    GetConsentPolicy,
    ListConsentLedger,
    SetConsent,
    SetConsentCommand,
    SetConsentPolicy,
)
from application.pagination import DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE
from application.principal import Principal
from entrypoints.http.access import BEARER, SEND_AND_READ, TENANT_ADMINS
from entrypoints.http.consent.schemas import (
    ConsentLedgerPage,
    ConsentPolicyBody,
    ConsentPolicyResource,
    ConsentResource,
    ConsentUpdate,
    state_of,
)
from entrypoints.http.dependencies import provide
from entrypoints.http.problems import problem_responses
from entrypoints.http.wire_types import PageLimit

Phone = Annotated[
    str,
    PathParameter(
        min_length=1, max_length=64, description="The person's number, +E.164 (any WhatsApp form of it)"
    ),
]


class ConsentController(Controller):
    path = "/api/consent"
    tags = ["consent"]
    security = BEARER
    opt = SEND_AND_READ
    dependencies = {
        "get_consent": provide(lambda c: c.get_consent),
        "set_consent": provide(lambda c: c.set_consent),
        "list_consent_ledger": provide(lambda c: c.list_consent_ledger),
        "get_consent_policy": provide(lambda c: c.get_consent_policy),
        "set_consent_policy": provide(lambda c: c.set_consent_policy),
    }

    @get(
        "/policy",
        operation_id="getConsentPolicy",
        summary="The tenant's consent policy (the defaults until it sets one)",
        responses=problem_responses(401, 403, 503),
    )
    async def get_policy(
        self, principal: NamedDependency[Principal], get_consent_policy: NamedDependency[GetConsentPolicy]
    ) -> ConsentPolicyResource:
        """The keywords, confirmation replies and template categories that reach people who opted out;
        `recognised_opt_out` and `recognised_opt_in` list every keyword in force, defaults counted."""
        return ConsentPolicyResource.of(await get_consent_policy(principal))

    @put(
        "/policy",
        operation_id="setConsentPolicy",
        summary="Replace the tenant's consent policy",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 403, 413, 422, 503),
        opt=TENANT_ADMINS,
    )
    async def set_policy(
        self,
        data: JSONBody[ConsentPolicyBody],
        principal: NamedDependency[Principal],
        set_consent_policy: NamedDependency[SetConsentPolicy],
    ) -> ConsentPolicyResource:
        """The whole policy: a field left out takes its default. A keyword in both lists (defaults
        counted, unless `keyword_mode` is `replace`) is a 422 `invalid-input`. Audited."""
        return ConsentPolicyResource.of(await set_consent_policy(principal, data.to_command()))

    @get(
        "/ledger",
        operation_id="listConsentLedger",
        summary="Every consent change of the tenant, oldest first",
        responses=problem_responses(400, 401, 403, 422, 503),
    )
    async def list_ledger(
        self,
        principal: NamedDependency[Principal],
        list_consent_ledger: NamedDependency[ListConsentLedger],
        limit: PageLimit = DEFAULT_PAGE_SIZE,
        phone: Annotated[
            str | None, QueryParameter(min_length=1, max_length=64, description="Only this person's changes")
        ] = None,
        after: Annotated[
            str | None,
            QueryParameter(max_length=MAX_CURSOR_LENGTH, description="The `next_cursor` of the page before"),
        ] = None,
    ) -> ConsentLedgerPage:
        """Keyset pagination: pass `next_cursor` back as `after`. The last page's `next_cursor` still
        points after its last entry, so polling with it finds the changes made since."""
        page = await list_consent_ledger(principal, phone=phone, after=after, limit=min(limit, MAX_PAGE_SIZE))
        return ConsentLedgerPage.of(page)

    @get(
        "/{phone:str}",
        operation_id="getConsent",
        summary="A person's consent and its latest changes",
        responses=problem_responses(400, 401, 403, 422, 503),
    )
    async def get_consent(
        self, phone: Phone, principal: NamedDependency[Principal], get_consent: NamedDependency[GetConsent]
    ) -> ConsentResource:
        """`state` null: never asked, so they may be messaged. Any WhatsApp form of the number finds the
        same person (`identity`)."""
        return ConsentResource.of(await get_consent(principal, phone))

    @post(
        "/{phone:str}",
        operation_id="setConsent",
        summary="Opt a person out or back in",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 403, 413, 422, 503),
    )
    async def set_consent(
        self,
        phone: Phone,
        data: JSONBody[ConsentUpdate],
        principal: NamedDependency[Principal],
        set_consent: NamedDependency[SetConsent],
        get_consent: NamedDependency[GetConsent],
    ) -> ConsentResource:
        """Recorded with source `api` and the caller as actor, in the ledger and the audit trail, even
        when it repeats the state; `consent.changed` is sent only when the state changes."""
        await set_consent(principal, SetConsentCommand(phone=phone, state=state_of(data), note=data.note))
        view: ConsentView = await get_consent(principal, phone)
        return ConsentResource.of(view)
