"""The Litestar application factory."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from application.errors import ApplicationError
from application.ports.templates import TemplateProviderRefused, TemplateProviderUnavailable
from domain.errors import DomainError
from entrypoints.background import access_cache_listening, background_work
from entrypoints.console.errors import console_http_exception_handler
from entrypoints.console.rendering import template_config
from entrypoints.console.router import console_router, csrf_config, static_files_router
from entrypoints.container import Container, shutdown, warn_unless_row_level_security_binds
from entrypoints.http.access import BEARER_SCHEME, PRINCIPAL, enforce_access
from entrypoints.http.administration.controller import (
    AdminAuditController,
    AdminTenantsController,
    AuditController,
    CredentialsController,
    ProviderAccountsController,
    SendersController,
    UsersController,
)
from entrypoints.http.admission import AdmissionControl, AdmissionGate
from entrypoints.http.campaigns.controller import CampaignsController
from entrypoints.http.client_address import install as install_client_addresses
from entrypoints.http.consent.controller import ConsentController
from entrypoints.http.contacts.controller import ContactsController
from entrypoints.http.contract import (
    RequestBodySchemaPlugin,
    allow_every_method_of_the_path,
    declare_concurrent_updates,
    decode_json_body_strictly,
    require_json_content_type,
)
from entrypoints.http.dashboard.controller import AdminUsageController, DashboardController
from entrypoints.http.documentation import SwaggerUIPage, documentation_router
from entrypoints.http.identity.controller import ApiKeysController, AuthController, MeController
from entrypoints.http.inbound.controller import MetaCallbacksController, TwilioCallbacksController
from entrypoints.http.media.controller import MediaController
from entrypoints.http.messaging.controller import ConversationsController, MessagesController
from entrypoints.http.observability import RequestObservability, request_id_on_every_response
from entrypoints.http.operations.controller import HealthController, MetricsController
from entrypoints.http.privacy.controller import ContactDataController, RetentionController
from entrypoints.http.problems import (
    application_error_handler,
    undecodable_request_handler,
    unexpected_error_handler,
)
from entrypoints.http.rate_limits import document_rate_limits, limit_requests_per_address
from entrypoints.http.security_headers import security_headers_on_every_response
from entrypoints.http.templates.controller import TemplatesController
from entrypoints.http.tenant_webhooks.controller import WebhookEndpointsController
from entrypoints.http.wire_types import MOMENT_DECODERS, MomentSchemaPlugin

API_VERSION = "1.0.0"


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="wa-gateway",
        version=API_VERSION,
        description="Multi-tenant WhatsApp messaging API. Errors are RFC 9457 problem details.",
        # Served from files installed with the gateway: /docs works without internet.
        render_plugins=[SwaggerUIPage()],
        openapi_router=documentation_router(),
        # An operation's description is its handler's docstring: the prose sits with the code it describes.
        use_handler_docstrings=True,
        components=Components(
            security_schemes={
                BEARER_SCHEME: SecurityScheme(
                    type="http",
                    scheme="bearer",
                    bearer_format="JWT or API key",
                    description=(
                        "An access token from POST /auth/login or /auth/refresh, or an API key "
                        "(wag_<prefix>_<secret>) from POST /api/api-keys"
                    ),
                )
            }
        ),
    )


async def before_every_request(request: Request[Any, Any, Any]) -> None:
    await limit_requests_per_address(request)
    require_json_content_type(request)
    await decode_json_body_strictly(request)


def admission_control(container: Container) -> list[AdmissionControl]:
    """At most MAX_CONCURRENT_REQUESTS requests at once in this process (none: 0), see admission.py."""
    settings = container.settings()
    if settings.max_concurrent_requests <= 0:
        return []
    gate = AdmissionGate(settings.max_concurrent_requests, settings.request_queue_timeout_ms / 1000)
    patient_timeout = settings.callback_queue_timeout_ms / 1000
    return [AdmissionControl(gate, container.metrics(), patient_timeout_seconds=patient_timeout)]


def create_app(container: Container) -> Litestar:
    settings = container.settings()

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        try:
            await warn_unless_row_level_security_binds(container)
            async with contextlib.AsyncExitStack() as background:
                await background.enter_async_context(access_cache_listening(container))
                if settings.embedded_dispatcher:
                    await background.enter_async_context(background_work(container))
                yield
        finally:
            await shutdown(container)

    app = Litestar(
        route_handlers=[
            AuthController,
            MessagesController,
            ConversationsController,
            DashboardController,
            MediaController,
            HealthController,
            TwilioCallbacksController,
            MetaCallbacksController,
            WebhookEndpointsController,
            TemplatesController,
            ContactsController,
            ConsentController,
            CampaignsController,
            MetricsController,
            AdminTenantsController,
            AdminUsageController,
            UsersController,
            SendersController,
            CredentialsController,
            ProviderAccountsController,
            ApiKeysController,
            MeController,
            AuditController,
            AdminAuditController,
            RetentionController,
            ContactDataController,
            # The web console: pages on the same use cases (entrypoints/console).
            console_router(),
            static_files_router(),
        ],
        # Deny by default: every route declares who may call it, and this guard enforces it.
        guards=[enforce_access],
        # Each controller takes its use cases from the container (see dependencies.py); every route
        # may take the caller the guard admitted.
        dependencies={"principal": PRINCIPAL},
        # Observability outermost: a request refused for overload is logged and counted like any other.
        middleware=[RequestObservability(container.metrics()), *admission_control(container)],
        before_send=[
            request_id_on_every_response,
            security_headers_on_every_response,
            allow_every_method_of_the_path,
        ],
        before_request=before_every_request,
        exception_handlers={
            ApplicationError: application_error_handler,
            DomainError: application_error_handler,
            # The template ports' errors are the providers' (not ApplicationError): the same table.
            TemplateProviderRefused: application_error_handler,
            TemplateProviderUnavailable: application_error_handler,
            # A console path's errors are pages; the API's stay problems.
            HTTPException: console_http_exception_handler,
            UnicodeDecodeError: undecodable_request_handler,
            Exception: unexpected_error_handler,
        },
        # DOCS_ENABLED=false: no /docs page, no files, no schema route (`wa-gateway openapi` still works).
        openapi_config=openapi_config() if settings.docs_enabled else None,
        plugins=[RequestBodySchemaPlugin(), MomentSchemaPlugin()],
        type_decoders=MOMENT_DECODERS,
        template_config=template_config(),
        csrf_config=csrf_config(settings),
        lifespan=[lifespan],
        request_max_body_size=settings.max_request_body_bytes,
        debug=False,
        logging_config=None,  # entrypoints.logging_setup configures logging; Litestar's would replace it
    )
    app.state.container = container
    install_client_addresses(app.state, settings)
    document_rate_limits(app)
    declare_concurrent_updates(app)
    return app
