"""RFC 9457 problem details: one table from error class to status and type, and the handlers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from application.contacts.csv_files import InvalidContactFile
from application.errors import (
    AccessDenied,
    AccountInUse,
    AlreadyExists,
    ApplicationError,
    AuthenticationFailed,
    CallbackRejected,
    CredentialsUnreadable,
    CurrentPasswordWrong,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    InvalidCursor,
    InvalidInput,
    InvalidToken,
    MessageNotRetryable,
    NotFound,
    NotScheduled,
    PersonRequired,
    ProviderRefused,
    ProviderUnavailable,
    RateLimited,
    RecipientOptedOut,
    SenderBusy,
    SessionWindowClosed,
    StorageUnavailable,
    SubscriptionRefused,
    TemplateNotApproved,
    TemplateNotFound,
    TransactionConflict,
    UnsupportedByProvider,
    WebhookEndpointDisabled,
    WebhookUrlRefused,
)
from application.ports.templates import TemplateProviderRefused, TemplateProviderUnavailable
from domain.campaigns.model import CampaignStateConflict
from domain.campaigns.schedule import InvalidSchedule
from domain.contacts.contact import InvalidContact
from domain.errors import DomainError, InvalidMessage, InvalidPhoneNumber
from domain.templates.errors import InvalidTemplate, InvalidTemplateValues
from domain.tenant_webhooks.model import InvalidWebhookEndpoint

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "/problems/"


@dataclass(frozen=True, slots=True)
class ProblemType:
    status: int
    slug: str
    title: str


# Most specific classes first: the first match wins.
ERROR_TABLE: list[tuple[type[Exception], ProblemType]] = [
    (AuthenticationFailed, ProblemType(401, "invalid-credentials", "Invalid credentials")),
    (InvalidToken, ProblemType(401, "invalid-token", "Missing or invalid access token")),
    (PersonRequired, ProblemType(403, "person-required", "A person must do this, not an API key")),
    (AccessDenied, ProblemType(403, "forbidden", "Forbidden")),
    (CurrentPasswordWrong, ProblemType(403, "current-password-wrong", "Current password wrong")),
    (SubscriptionRefused, ProblemType(403, "webhook-verify-token-invalid", "Webhook verify token invalid")),
    (CallbackRejected, ProblemType(403, "webhook-signature-invalid", "Webhook signature invalid")),
    (NotFound, ProblemType(404, "not-found", "Not found")),
    (AlreadyExists, ProblemType(409, "conflict", "Already exists")),
    (AccountInUse, ProblemType(409, "account-in-use", "Provider account in use")),
    (SenderBusy, ProblemType(409, "sender-busy", "Sender has messages in flight")),
    # A concurrent change won, and running this one again did not help: the client may send it again.
    (TransactionConflict, ProblemType(409, "concurrent-update", "Conflicting concurrent update")),
    (InvalidCursor, ProblemType(400, "invalid-cursor", "Invalid cursor")),
    (IdempotencyKeyReused, ProblemType(422, "idempotency-key-reused", "Idempotency key reused")),
    (MessageNotRetryable, ProblemType(409, "message-not-retryable", "Message not retryable")),
    (NotScheduled, ProblemType(409, "not-scheduled", "Message not scheduled")),
    (IdempotencyKeyInUse, ProblemType(409, "idempotency-key-in-use", "Idempotency key in use")),
    (InvalidPhoneNumber, ProblemType(422, "invalid-phone-number", "Invalid phone number")),
    (CampaignStateConflict, ProblemType(409, "campaign-state-conflict", "Campaign state conflict")),
    (InvalidSchedule, ProblemType(422, "invalid-campaign", "Invalid campaign")),
    (InvalidMessage, ProblemType(422, "invalid-message", "Invalid message")),
    (SessionWindowClosed, ProblemType(422, "session-window-closed", "Session window closed")),
    (RecipientOptedOut, ProblemType(422, "recipient-opted-out", "Recipient opted out")),
    (UnsupportedByProvider, ProblemType(422, "unsupported-by-provider", "Unsupported by provider")),
    (TemplateNotFound, ProblemType(422, "unknown-template", "Template not in the catalogue")),
    (TemplateNotApproved, ProblemType(422, "template-not-approved", "Template not approved")),
    (ProviderRefused, ProblemType(422, "provider-refused", "Refused by the provider")),
    (TemplateProviderRefused, ProblemType(422, "provider-refused", "Refused by the provider")),
    (TemplateProviderUnavailable, ProblemType(502, "provider-unavailable", "Provider unavailable")),
    (InvalidTemplate, ProblemType(422, "invalid-template", "Invalid template")),
    (InvalidTemplateValues, ProblemType(422, "invalid-template-values", "Invalid template values")),
    (InvalidContact, ProblemType(422, "invalid-contact", "Invalid contact")),
    (InvalidContactFile, ProblemType(422, "invalid-contact-file", "Invalid contact file")),
    (ProviderUnavailable, ProblemType(502, "provider-unavailable", "Provider unavailable")),
    (WebhookUrlRefused, ProblemType(422, "webhook-url-refused", "Webhook URL refused")),
    (InvalidWebhookEndpoint, ProblemType(422, "invalid-webhook-endpoint", "Invalid webhook endpoint")),
    (WebhookEndpointDisabled, ProblemType(409, "webhook-endpoint-disabled", "Webhook endpoint disabled")),
    (InvalidInput, ProblemType(422, "invalid-input", "Invalid input")),
    (RateLimited, ProblemType(429, "too-many-requests", "Too many requests")),
    (CredentialsUnreadable, ProblemType(500, "tenant-credentials-unreadable", "Tenant misconfigured")),
    (StorageUnavailable, ProblemType(503, "service-unavailable", "Service unavailable")),
    (DomainError, ProblemType(422, "invalid-input", "Invalid input")),
]

_STATUS_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("too-many-requests", "Too many requests"),
    503: ("service-unavailable", "Service unavailable"),
}


class FieldError(msgspec.Struct):
    field: str
    message: str
    source: str | None = None


class Problem(msgspec.Struct, omit_defaults=True):
    """An RFC 9457 problem detail, as every error of this API is returned."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


def problem_response(
    request: Request[Any, Any, Any],
    *,
    status: int,
    slug: str,
    title: str,
    detail: str | None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Problem]:
    problem = Problem(
        type=PROBLEM_BASE + slug,
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        errors=errors,
    )
    return Response(problem, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def classify(error: Exception) -> ProblemType | None:
    for error_class, problem_type in ERROR_TABLE:
        if isinstance(error, error_class):
            return problem_type
    return None


def application_error_handler(request: Request[Any, Any, Any], error: Exception) -> Response[Problem]:
    problem_type = classify(error)
    if problem_type is None:
        return unexpected_error_handler(request, error)
    detail = error.detail if isinstance(error, ApplicationError) else str(error)
    if problem_type.status == 500:
        logger.error("%s on %s %s: %s", type(error).__name__, request.method, request.url.path, detail)
    headers = (
        {"WWW-Authenticate": 'Bearer error="invalid_token"'} if isinstance(error, InvalidToken) else None
    )
    if problem_type.status == 503:
        headers = {"Retry-After": "5"}
    if isinstance(error, RateLimited):
        headers = rate_limit_headers(error)
        request.app.state.container.metrics().rate_limited(error.scope)
    errors = None
    if isinstance(error, InvalidTemplate | InvalidTemplateValues | InvalidContact):
        # Each field that breaks a rule, named as the client sent it (``templates[3].body``).
        errors = [FieldError(field=problem.field, message=problem.message) for problem in error.problems]
    return problem_response(
        request,
        status=problem_type.status,
        slug=problem_type.slug,
        title=problem_type.title,
        detail=detail,
        errors=errors,
        headers=headers,
    )


def rate_limit_headers(error: RateLimited) -> dict[str, str]:
    """Retry-After, and the IETF httpapi RateLimit / RateLimit-Policy fields."""
    return {
        "Retry-After": str(error.retry_after_seconds),
        "RateLimit-Policy": f'"default";q={error.limit};w={error.window_seconds}',
        "RateLimit": f'"default";r=0;t={error.retry_after_seconds}',
    }


# Litestar's only signal that the client went away while its body was being read: an
# InternalServerException with this detail (litestar/connection/request.py).
_CLIENT_DISCONNECTED = "client disconnected prematurely"
# nginx's "client closed request": never seen by the client, but tells logs and metrics what happened.
CLIENT_CLOSED_REQUEST = 499


def http_exception_handler(request: Request[Any, Any, Any], error: HTTPException) -> Response[Problem]:
    status = error.status_code
    slug, title = _STATUS_SLUGS.get(status, ("error", "Error"))
    if status >= 500 and error.detail == _CLIENT_DISCONNECTED:
        # Not a server error: load balancers and impatient clients hang up mid-request all the time.
        logger.info("client disconnected during %s %s", request.method, request.url.path)
        return problem_response(
            request,
            status=CLIENT_CLOSED_REQUEST,
            slug="client-closed-request",
            title="Client closed request",
            detail="the client disconnected before its request arrived",
        )
    if status >= 500:
        return unexpected_error_handler(request, error)
    errors = None
    if isinstance(error, ValidationException):
        slug, title = "validation-failed", "Request validation failed"
        errors = _field_errors(error.extra)
    headers = {k: v for k, v in (error.headers or {}).items() if k.lower() in {"retry-after", "allow"}}
    return problem_response(
        request,
        status=status,
        slug=slug,
        title=title,
        detail=_clean_detail(error.detail, title),
        errors=errors,
        headers=headers or None,
    )


def undecodable_request_handler(
    request: Request[Any, Any, Any], error: UnicodeDecodeError
) -> Response[Problem]:
    # Litestar decodes request bodies (JSON, forms) as UTF-8, and lets the error through when they are not.
    return problem_response(
        request,
        status=400,
        slug="bad-request",
        title="Bad request",
        detail="the request is not valid UTF-8",
    )


def unexpected_error_handler(request: Request[Any, Any, Any], error: Exception) -> Response[Problem]:
    # The client learns nothing of the internals; the traceback goes to the log.
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return problem_response(
        request,
        status=HTTP_500_INTERNAL_SERVER_ERROR,
        slug="internal-error",
        title="Internal server error",
        detail="an unexpected error occurred; it has been logged",
    )


def _field_errors(extra: Any) -> list[FieldError] | None:
    if not isinstance(extra, list):
        return None
    errors = []
    for item in extra:
        if isinstance(item, dict):
            errors.append(
                FieldError(
                    field=str(item.get("key") or "body"),
                    message=str(item.get("message", "invalid value")),
                    source=str(item["source"]) if item.get("source") else None,
                )
            )
    return errors or None


def _clean_detail(detail: str, title: str) -> str | None:
    # Litestar's default details repeat the status phrase; keep the useful ones only.
    return detail if detail and detail.lower() != title.lower() else None


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI declarations of problem responses (Litestar documents errors as plain JSON otherwise)."""
    descriptions = {
        400: "The request is malformed or fails validation",
        401: "Missing, invalid or expired credentials",
        403: "The caller may not do this",
        404: "Not found, or not this tenant's",
        409: "Conflicts with existing data, or with a concurrent change of the same data",
        413: "The request body is too large",
        422: (
            "The request breaks a rule (invalid number, unknown sender, closed session window, a kind of "
            "message the provider cannot send, …)"
        ),
        429: "Too many requests; see Retry-After",
        502: "The provider did not answer; try again later",
        503: "A dependency (the database) is unavailable; retry later",
    }
    return {
        status: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_MEDIA_TYPE,
            description=descriptions.get(status, "Error"),
            generate_examples=False,  # random examples would change the schema on every build
        )
        for status in statuses
    }
