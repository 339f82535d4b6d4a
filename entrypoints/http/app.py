"""The Litestar application factory."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from application.errors import ApplicationError
from domain.errors import DomainError
from entrypoints.background import access_cache_listening, background_work
from entrypoints.container import Container, shutdown, warn_unless_row_level_security_binds
from entrypoints.http.access import enforce_access
from entrypoints.http.administration import ADMINISTRATION_CONTROLLERS
from entrypoints.http.audit import AUDIT_CONTROLLERS
from entrypoints.http.client_address import install as install_client_addresses
from entrypoints.http.contract import (
    RequestBodySchemaPlugin,
    allow_every_method_of_the_path,
    declare_concurrent_updates,
)
from entrypoints.http.dependencies import DEPENDENCIES, before_every_request
from entrypoints.http.documentation import SwaggerUIPage, documentation_router
from entrypoints.http.inbound.controller import TwilioCallbacksController
from entrypoints.http.observability import (
    MetricsController,
    RequestObservability,
    request_id_on_every_response,
)
from entrypoints.http.problems import (
    application_error_handler,
    http_exception_handler,
    undecodable_request_handler,
    unexpected_error_handler,
)
from entrypoints.http.rate_limits import document_rate_limits
from entrypoints.http.routes import (
    AuthController,
    ConversationsController,
    HealthController,
    MessagesController,
)
from entrypoints.http.security_headers import security_headers_on_every_response
from entrypoints.http.tenant_webhooks import WebhookEndpointsController
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
        components=Components(
            security_schemes={
                "BearerToken": SecurityScheme(
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
            HealthController,
            TwilioCallbacksController,
            WebhookEndpointsController,
            MetricsController,
            *ADMINISTRATION_CONTROLLERS,
            *AUDIT_CONTROLLERS,
        ],
        # Deny by default: every route declares who may call it, and this guard enforces it.
        guards=[enforce_access],
        dependencies=DEPENDENCIES,
        middleware=[RequestObservability(container.metrics())],
        before_send=[
            request_id_on_every_response,
            security_headers_on_every_response,
            allow_every_method_of_the_path,
        ],
        before_request=before_every_request,
        exception_handlers={
            ApplicationError: application_error_handler,
            DomainError: application_error_handler,
            HTTPException: http_exception_handler,
            UnicodeDecodeError: undecodable_request_handler,
            Exception: unexpected_error_handler,
        },
        # DOCS_ENABLED=false: no /docs page, no files, no schema route (`wa-gateway openapi` still works).
        openapi_config=openapi_config() if settings.docs_enabled else None,
        plugins=[RequestBodySchemaPlugin(), MomentSchemaPlugin()],
        type_decoders=MOMENT_DECODERS,
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
