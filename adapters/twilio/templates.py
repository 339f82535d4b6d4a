"""An account's WhatsApp templates at Twilio: Content resources (``content.twilio.com``) and their
WhatsApp approval requests (implements ``TemplateProvider``).

The requests go through the same HTTP client as the Messages API's (``GatewayTwilioHttpClient``): the
same emulator base URL, timeout and proxy rules. The SDK's Content bindings are not used: their request
models send every type Twilio knows as ``null``, and the SDK's async client form-encodes a JSON body; the
JSON is written here (``content_types``) and sent as it is.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from twilio.http.response import Response

from adapters.twilio.content_types import (
    NotForTwilio,
    approval_request,
    content_request,
    definition_of,
    status_of,
)
from adapters.twilio.http_client import GatewayTwilioHttpClient
from application.ports.templates import (
    RemoteTemplate,
    TemplateProviderRefused,
    TemplateProviderUnavailable,
)
from domain.administration.tenancy import ProviderAccount, TwilioCredentials
from domain.templates.catalogue import TemplateStatus
from domain.templates.definition import TemplateDefinition

logger = logging.getLogger(__name__)

CONTENT_API = "https://content.twilio.com"
_LIST_PATH = "/v1/ContentAndApprovals"
_CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")
_AUTHENTICATION_FAILED = 20003
# A list of hundreds of templates is a few pages; a next page Twilio keeps pointing to past this is a loop.
_MAX_PAGES = 1000
_JSON = {"Content-Type": "application/json", "Accept": "application/json"}


class TwilioTemplateProvider:
    """Creates, replaces, deletes and lists an account's WhatsApp templates with Twilio's Content API.

    ``api_base_url`` points it at an emulator instead of Twilio (the one the Messages API is pointed
    at: every Twilio domain goes there). The HTTP client opens on first use, inside the running loop;
    ``aclose()`` closes it.
    """

    def __init__(
        self, *, timeout_seconds: float = 10.0, api_base_url: str | None = None, page_size: int = 100
    ) -> None:
        self._timeout = timeout_seconds
        self._api_base_url = api_base_url
        self._page_size = page_size
        self._http: GatewayTwilioHttpClient | None = None

    def _http_client(self) -> GatewayTwilioHttpClient:
        if self._http is None:
            self._http = GatewayTwilioHttpClient(timeout_seconds=self._timeout, base_url=self._api_base_url)
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    # -- the port ---------------------------------------------------------------------------------

    async def create(self, account: ProviderAccount, definition: TemplateDefinition) -> RemoteTemplate:
        """Create the Content resource, then ask for its WhatsApp approval. When Twilio refuses the
        approval request the new resource is deleted again: nothing is left half made."""
        credentials = _credentials(account)
        try:
            content, approval = content_request(definition), approval_request(definition)
        except NotForTwilio as error:
            raise TemplateProviderRefused(str(error)) from error
        created = await self._call(credentials, "POST", "/v1/Content", content)
        sid = created.get("sid")
        if not isinstance(sid, str) or not _CONTENT_SID.fullmatch(sid):
            raise TemplateProviderUnavailable("Twilio answered the creation without a Content SID")
        try:
            answer = await self._call(
                credentials, "POST", f"/v1/Content/{sid}/ApprovalRequests/whatsapp", approval
            )
        except (TemplateProviderRefused, TemplateProviderUnavailable):
            await self._forget(credentials, sid)
            raise
        return RemoteTemplate(
            provider_template_id=sid,
            name=definition.name,
            language=definition.language,
            status=status_of(answer) or TemplateStatus.PENDING,
            definition=definition,
            rejection_reason=_reason(answer),
        )

    async def update(
        self, account: ProviderAccount, provider_template_id: str, definition: TemplateDefinition
    ) -> RemoteTemplate:
        """A Content resource cannot change: a new one is made (and submitted), then the old one is
        deleted. If the old one cannot be deleted, the new one is still the answer (it is what the
        template is now); the old one is logged, and is gone from WhatsApp's sight only once deleted."""
        credentials = _credentials(account)
        created = await self.create(account, definition)
        try:
            await self._delete(credentials, provider_template_id)
        except (TemplateProviderRefused, TemplateProviderUnavailable) as error:
            logger.warning(
                "Twilio content %s replaced by %s but not deleted: %s",
                provider_template_id,
                created.provider_template_id,
                error,
            )
        return created

    async def delete(self, account: ProviderAccount, template: RemoteTemplate) -> None:
        await self._delete(_credentials(account), template.provider_template_id)

    async def list(self, account: ProviderAccount) -> list[RemoteTemplate]:
        """Every Content resource of the account submitted for WhatsApp's approval, page after page.
        One never submitted is not a WhatsApp template, and is left out."""
        credentials = _credentials(account)
        found: list[RemoteTemplate] = []
        path: str | None = f"{_LIST_PATH}?PageSize={self._page_size}"
        for _ in range(_MAX_PAGES):
            if path is None:
                return found
            page = await self._call(credentials, "GET", path)
            contents = page.get("contents")
            if not isinstance(contents, list):
                raise TemplateProviderUnavailable("Twilio answered a list without its contents")
            found.extend(remote for item in contents if (remote := _remote(item)) is not None)
            meta = page.get("meta")
            path = _next_page(meta.get("next_page_url") if isinstance(meta, Mapping) else None)
        raise TemplateProviderUnavailable(f"Twilio's list of templates went on past {_MAX_PAGES} pages")

    # -- HTTP ---------------------------------------------------------------------------------------

    async def _delete(self, credentials: TwilioCredentials, sid: str) -> None:
        if not _CONTENT_SID.fullmatch(sid):
            return  # not a Content SID: there is no such resource to delete
        await self._call(credentials, "DELETE", f"/v1/Content/{sid}", missing_ok=True)

    async def _forget(self, credentials: TwilioCredentials, sid: str) -> None:
        """Delete a resource just made, whose making failed half-way; a failure is only logged."""
        try:
            await self._delete(credentials, sid)
        except (TemplateProviderRefused, TemplateProviderUnavailable) as error:
            logger.warning("Twilio content %s left behind after a failed creation: %s", sid, error)

    async def _call(
        self,
        credentials: TwilioCredentials,
        method: str,
        path: str,
        body: Mapping[str, object] | None = None,
        *,
        missing_ok: bool = False,
    ) -> dict[str, Any]:
        """Twilio's JSON answer to ``method path``; a 4xx is TemplateProviderRefused (with Twilio's
        words), no answer, a 429 or a 5xx TemplateProviderUnavailable. ``missing_ok``: a 404 is an empty
        answer."""
        try:
            response = await self._http_client().request(
                method,
                CONTENT_API + path,
                data=dict(body) if body is not None else None,
                headers=dict(_JSON) if body is not None else {"Accept": "application/json"},
                auth=(credentials.api_username, credentials.api_password),
            )
        except (TimeoutError, aiohttp.ClientError) as error:
            raise TemplateProviderUnavailable(
                f"Twilio could not be reached ({type(error).__name__})"
            ) from error
        status = response.status_code
        if status == 404 and missing_ok:
            return {}
        if status == 429 or status >= 500:
            raise TemplateProviderUnavailable(f"Twilio answered HTTP {status}: {_words(response)}")
        if status >= 400:
            raise TemplateProviderRefused(_words(response))
        if status == 204 or not response.text:
            return {}
        try:
            answer = json.loads(response.text)
        except ValueError as error:
            raise TemplateProviderUnavailable("Twilio's answer is not JSON") from error
        if not isinstance(answer, dict):
            raise TemplateProviderUnavailable("Twilio's answer is not a JSON object")
        return answer


def _credentials(account: ProviderAccount) -> TwilioCredentials:
    if not isinstance(account.credentials, TwilioCredentials):
        raise TemplateProviderRefused(f"the account is a {account.provider} account, not a Twilio one")
    return account.credentials


def _words(response: Response) -> str:
    """What Twilio said in its error body (``{code, message, more_info, status}``)."""
    try:
        error = json.loads(response.text)
    except ValueError:
        error = None
    if not isinstance(error, dict):
        return f"Twilio refused the request (HTTP {response.status_code})"
    if error.get("code") == _AUTHENTICATION_FAILED:
        return "Twilio refused the account credentials"
    message = error.get("message")
    return str(message) if message else f"Twilio refused the request (HTTP {response.status_code})"


def _next_page(url: object) -> str | None:
    """The path and query of the next page, which is asked of Twilio's Content API (or the emulator
    standing in for it) whatever host Twilio wrote: the credentials go nowhere else."""
    if not isinstance(url, str) or not url:
        return None
    parts = urlsplit(url)
    if not parts.path.endswith(_LIST_PATH):
        return None
    return f"{_LIST_PATH}?{parts.query}" if parts.query else _LIST_PATH


def _remote(item: object) -> RemoteTemplate | None:
    """A listed Content resource as a template; None when it is no WhatsApp template."""
    if not isinstance(item, Mapping):
        return None
    sid, approval = item.get("sid"), item.get("approval_requests")
    approval = approval if isinstance(approval, Mapping) else None
    status = status_of(approval)
    if status is None or not isinstance(sid, str) or approval is None:
        return None
    name = str(approval.get("name") or item.get("friendly_name") or "")
    language = str(item.get("language") or "")
    if not name or not language:
        return None
    return RemoteTemplate(
        provider_template_id=sid,
        name=name,
        language=language,
        status=status,
        definition=definition_of(
            name=name,
            language=language,
            category=str(approval.get("category") or ""),
            types=item.get("types"),
            variables=item.get("variables") or {},
        ),
        rejection_reason=_reason(approval),
    )


def _reason(approval: Mapping[str, Any]) -> str | None:
    if status_of(approval) is not TemplateStatus.REJECTED:
        return None
    return str(approval.get("rejection_reason") or "") or None
