"""A WhatsApp Business Account's message templates on Meta's Cloud API (implements
``TemplateProvider``).

- create: ``POST /{version}/{waba-id}/message_templates`` with ``{name, language, category,
  parameter_format, components}``; Meta answers ``{id, status, category}`` and reviews it.
- list: ``GET /{version}/{waba-id}/message_templates?fields=...&limit=100``, page after page by
  ``paging.cursors.after`` while Meta gives a ``paging.next``.
- update: ``POST /{version}/{template-id}`` with ``{components, category}``; Meta reviews it again.
- delete: ``DELETE /{version}/{waba-id}/message_templates?name=...&hsm_id=...`` (that one language).

Our definitions number positional variables across the whole template (a header's ``{{1}}``, the body's
``{{2}}`` and ``{{3}}``, a URL button's ``{{4}}``); Meta numbers them per component, each from 1. They
are renumbered on the way out (by ``TemplateDefinition.layout``) and numbered on across the
components on the way back (header, body, then buttons), so a template reads back as it was written
— unless one variable appears in two components, which Meta cannot say. Named variables keep their
names both ways.

A media header needs a sample file uploaded through Meta's Resumable Upload API, which takes the id of
the Meta app — which an account here does not hold — so creating one is refused with that reason; a
media header made in Meta's console is read like any other.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

from adapters.meta.graph import GraphApiClient, GraphFailure, GraphRefused, JsonObject
from application.ports.templates import (
    RemoteTemplate,
    TemplateProviderRefused,
    TemplateProviderUnavailable,
)
from domain.administration.tenancy import MetaCredentials, ProviderAccount
from domain.templates.catalogue import TemplateQuality, TemplateStatus
from domain.templates.definition import (
    VARIABLE,
    ButtonKind,
    HeaderFormat,
    TemplateButton,
    TemplateCategory,
    TemplateDefinition,
    TemplateHeader,
    VariableStyle,
    is_position,
    variables_in,
)

logger = logging.getLogger(__name__)

LIST_FIELDS = "id,name,language,status,category,parameter_format,components,quality_score,rejected_reason"
PAGE_SIZE = 100
# Catalogues are hundreds of templates; a listing longer than this is cut (and logged), not endless.
_MAX_PAGES = 200

# Meta's statuses in ours; the others (PENDING_DELETION, DELETED, LIMIT_EXCEEDED, ARCHIVED …) are
# templates on their way out, left out of the listing.
STATUS_AT_META: Mapping[str, TemplateStatus] = {
    "APPROVED": TemplateStatus.APPROVED,
    "PENDING": TemplateStatus.PENDING,
    "IN_APPEAL": TemplateStatus.PENDING,
    "REJECTED": TemplateStatus.REJECTED,
    "PAUSED": TemplateStatus.PAUSED,
    "DISABLED": TemplateStatus.DISABLED,
}
QUALITY_AT_META: Mapping[str, TemplateQuality] = {
    "GREEN": TemplateQuality.HIGH,
    "YELLOW": TemplateQuality.MEDIUM,
    "RED": TemplateQuality.LOW,
    "UNKNOWN": TemplateQuality.UNKNOWN,
}
_BUTTON_AT_META: Mapping[str, ButtonKind] = {
    "QUICK_REPLY": ButtonKind.QUICK_REPLY,
    "URL": ButtonKind.URL,
    "PHONE_NUMBER": ButtonKind.PHONE_NUMBER,
    "COPY_CODE": ButtonKind.COPY_CODE,
}
_HEADER_AT_META: Mapping[str, HeaderFormat] = {
    "TEXT": HeaderFormat.TEXT,
    "IMAGE": HeaderFormat.IMAGE,
    "VIDEO": HeaderFormat.VIDEO,
    "DOCUMENT": HeaderFormat.DOCUMENT,
}
# Meta's error codes of a request refused for its rate or a passing fault, not for what it asked.
_PASSING_CODES = frozenset({1, 2, 4, 17, 32, 613, 80007, 80008, 130429})
_NO_SUCH_OBJECT = 33
_MAX_REASON = 1000

_MEDIA_HEADER_REFUSED = (
    "a template with an image, video or document header cannot be created through the gateway on Meta: "
    "Meta needs its sample file uploaded with the Resumable Upload API, which takes the Meta app's id; "
    "create it in WhatsApp Manager, and the gateway's sync will find it"
)


class MetaTemplateProvider:
    """Creates, lists, edits and deletes the templates of each account's WhatsApp Business Account with
    the account's access token and Graph API version.

    ``graph`` is a Graph API client to share (the messaging provider's, say); without one, a client of
    its own is made with ``timeout_seconds`` and ``api_base_url`` (an emulator), and ``aclose()``
    closes it.
    """

    def __init__(
        self,
        graph: GraphApiClient | None = None,
        *,
        timeout_seconds: float = 10.0,
        api_base_url: str | None = None,
    ) -> None:
        self._owns_graph = graph is None
        self._graph = graph or GraphApiClient(base_url=api_base_url, timeout_seconds=timeout_seconds)

    async def create(self, account: ProviderAccount, definition: TemplateDefinition) -> RemoteTemplate:
        credentials = _credentials(account)
        body = {
            "name": definition.name,
            "language": definition.language,
            "category": definition.category.value.upper(),
            "parameter_format": _parameter_format(definition),
            "components": meta_components(definition),
        }
        answer = await self._call(
            self._graph.post_json(credentials, (credentials.business_account_id, "message_templates"), body)
        )
        template_id = _id(answer.get("id"))
        if template_id is None:
            raise TemplateProviderUnavailable("Meta answered the new template without its id")
        return RemoteTemplate(
            provider_template_id=template_id,
            name=definition.name,
            language=definition.language,
            status=_status(answer.get("status")) or TemplateStatus.PENDING,
            definition=definition,
        )

    async def update(
        self, account: ProviderAccount, provider_template_id: str, definition: TemplateDefinition
    ) -> RemoteTemplate:
        """Meta keeps the template's id, name, language and parameter format; it reviews the new
        content (the template is pending until then)."""
        credentials = _credentials(account)
        body = {
            "category": definition.category.value.upper(),
            "components": meta_components(definition),
        }
        answer = await self._call(self._graph.post_json(credentials, (provider_template_id,), body))
        if answer.get("success") is not True:
            raise TemplateProviderUnavailable("Meta did not confirm the template was changed")
        return RemoteTemplate(
            provider_template_id=provider_template_id,
            name=definition.name,
            language=definition.language,
            status=TemplateStatus.PENDING,
            definition=definition,
        )

    async def delete(self, account: ProviderAccount, template: RemoteTemplate) -> None:
        credentials = _credentials(account)
        query = {"name": template.name, "hsm_id": template.provider_template_id}
        try:
            answer = await self._graph.delete_json(
                credentials, (credentials.business_account_id, "message_templates"), query
            )
        except GraphRefused as refusal:
            if await self._gone(credentials, template.provider_template_id):
                return
            raise _refused(refusal) from refusal
        except GraphFailure as failure:
            raise TemplateProviderUnavailable(str(failure)) from failure
        if answer.get("success") is not True:
            raise TemplateProviderUnavailable("Meta did not confirm the template was deleted")

    async def _gone(self, credentials: MetaCredentials, template_id: str) -> bool:
        """Whether Meta no longer has the template (so a refused delete found nothing to delete)."""
        try:
            described = await self._graph.get_json(credentials, (template_id,), {"fields": "id,status"})
        except GraphRefused as refusal:
            return refusal.error.code == 100 and refusal.error.subcode == _NO_SUCH_OBJECT
        except GraphFailure:
            return False
        return described.get("status") not in STATUS_AT_META

    async def list(self, account: ProviderAccount) -> list[RemoteTemplate]:
        credentials = _credentials(account)
        found: list[RemoteTemplate] = []
        after: str | None = None
        for _ in range(_MAX_PAGES):
            query = {"fields": LIST_FIELDS, "limit": str(PAGE_SIZE)}
            if after is not None:
                query["after"] = after
            page = await self._call(
                self._graph.get_json(
                    credentials, (credentials.business_account_id, "message_templates"), query
                )
            )
            items = page.get("data")
            if not isinstance(items, list):
                raise TemplateProviderUnavailable("Meta answered the listing without its data")
            found.extend(template for item in items if (template := remote_template(item)) is not None)
            following = _next_cursor(page.get("paging"))
            if following is None or following == after:
                return found
            after = following
        logger.warning(
            "Meta templates of WhatsApp Business Account %s: more than %d pages, the rest left out",
            credentials.business_account_id,
            _MAX_PAGES,
        )
        return found

    async def _call(self, request: Awaitable[JsonObject]) -> JsonObject:
        try:
            answer = await request
        except GraphRefused as refusal:
            raise _refused(refusal) from refusal
        except GraphFailure as failure:
            raise TemplateProviderUnavailable(str(failure)) from failure
        return answer

    async def aclose(self) -> None:
        if self._owns_graph:
            await self._graph.aclose()


def _credentials(account: ProviderAccount) -> MetaCredentials:
    if not isinstance(account.credentials, MetaCredentials):
        raise TemplateProviderRefused(f"the account is a {account.provider} account, not a Meta one")
    return account.credentials


def _refused(refusal: GraphRefused) -> TemplateProviderRefused | TemplateProviderUnavailable:
    """Meta's refusal in the port's words: a passing fault (a rate limit, a 5xx) is worth another
    try; anything else is Meta's word on the template, or on the account."""
    error = refusal.error
    if error.http_status == 429 or error.http_status >= 500 or error.code in _PASSING_CODES:
        return TemplateProviderUnavailable(f"Meta is not taking template changes now: {refusal}")
    if error.code == 190:
        return TemplateProviderRefused(
            "the Meta access token is not valid: it expired or was revoked; give the account a new one"
        )
    if error.code in (10, 200) or (error.code is not None and 200 < error.code < 300):
        return TemplateProviderRefused(
            "the Meta access token lacks the whatsapp_business_management permission templates need"
        )
    words = error.user_words or f"Meta answered HTTP {error.http_status}"
    return TemplateProviderRefused(f"Meta refused the template: {words}"[:_MAX_REASON])


def _parameter_format(definition: TemplateDefinition) -> str:
    return "NAMED" if definition.variable_style is VariableStyle.NAMED else "POSITIONAL"


# -- our definition, written as Meta's components ---------------------------------------------------


def meta_components(definition: TemplateDefinition) -> list[JsonObject]:
    """The template's components as Meta takes them, positional variables numbered per component.
    TemplateProviderRefused for what Meta cannot take from us (a media header, a variable without an
    example)."""
    layout = dict(definition.layout)
    examples = definition.examples_dict
    named = definition.variable_style is VariableStyle.NAMED
    components: list[JsonObject] = []
    header = definition.header
    if header is not None:
        if header.format.is_media:
            raise TemplateProviderRefused(_MEDIA_HEADER_REFUSED)
        names = layout.get("header", ())
        component: JsonObject = {
            "type": "HEADER",
            "format": "TEXT",
            "text": _numbered(header.text or "", names, named),
        }
        if names:
            component["example"] = (
                {"header_text_named_params": _named_examples(names, examples)}
                if named
                else {"header_text": _examples(names, examples)}
            )
        components.append(component)
    names = layout.get("body", ())
    body: JsonObject = {"type": "BODY", "text": _numbered(definition.body, names, named)}
    if names:
        body["example"] = (
            {"body_text_named_params": _named_examples(names, examples)}
            if named
            else {"body_text": [_examples(names, examples)]}
        )
    components.append(body)
    if definition.footer:
        components.append({"type": "FOOTER", "text": definition.footer})
    if definition.buttons:
        components.append(
            {
                "type": "BUTTONS",
                "buttons": [
                    _button(button, layout.get(f"button:{index}", ()), examples, named)
                    for index, button in enumerate(definition.buttons)
                ],
            }
        )
    return components


def _numbered(text: str, names: Sequence[str], named: bool) -> str:
    """``text`` with its positional variables numbered from 1 in ``names``' order (named ones stay)."""
    if named or not names:
        return text
    numbers = {name: str(position) for position, name in enumerate(names, start=1)}
    return VARIABLE.sub(lambda match: "{{" + numbers.get(match.group(1), match.group(1)) + "}}", text)


def _example(name: str, examples: Mapping[str, str]) -> str:
    value = examples.get(name)
    if not value:
        raise TemplateProviderRefused(
            f"Meta reviews a template with an example of each variable: give one for {{{{{name}}}}}"
        )
    return value


def _examples(names: Sequence[str], examples: Mapping[str, str]) -> list[str]:
    return [_example(name, examples) for name in names]


def _named_examples(names: Sequence[str], examples: Mapping[str, str]) -> list[JsonObject]:
    return [{"param_name": name, "example": _example(name, examples)} for name in names]


def _button(
    button: TemplateButton, names: Sequence[str], examples: Mapping[str, str], named: bool
) -> JsonObject:
    if button.kind is ButtonKind.QUICK_REPLY:
        return {"type": "QUICK_REPLY", "text": button.text}
    if button.kind is ButtonKind.PHONE_NUMBER:
        return {"type": "PHONE_NUMBER", "text": button.text, "phone_number": button.phone_number}
    if button.kind is ButtonKind.COPY_CODE:
        return {"type": "COPY_CODE", "example": button.example}
    url = button.url or ""
    payload: JsonObject = {"type": "URL", "text": button.text, "url": _numbered(url, names, named)}
    if names:
        # Meta's example of a URL with a variable is a whole URL, the variable filled in.
        values = {name: _example(name, examples) for name in names}
        payload["example"] = [VARIABLE.sub(lambda match: values.get(match.group(1), ""), url)]
    return payload


# -- Meta's templates, read back into definitions ---------------------------------------------------


def remote_template(item: object) -> RemoteTemplate | None:
    """One template of Meta's listing; None for one on its way out or that names itself unreadably."""
    if not isinstance(item, dict):
        return None
    template_id, name, language = _id(item.get("id")), item.get("name"), item.get("language")
    status = _status(item.get("status"))
    if template_id is None or not isinstance(name, str) or not isinstance(language, str) or status is None:
        return None
    reason = item.get("rejected_reason")
    quality = item.get("quality_score")
    score = quality.get("score") if isinstance(quality, dict) else None
    return RemoteTemplate(
        provider_template_id=template_id,
        name=name,
        language=language,
        status=status,
        definition=definition_of(item),
        rejection_reason=reason[:_MAX_REASON]
        if status is TemplateStatus.REJECTED and isinstance(reason, str) and reason != "NONE"
        else None,
        quality=QUALITY_AT_META.get(score) if isinstance(score, str) else None,
    )


def _status(value: object) -> TemplateStatus | None:
    return STATUS_AT_META.get(value.upper()) if isinstance(value, str) else None


def _id(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and re.fullmatch(r"[0-9]{1,32}", value) else None


class _Unreadable(Exception):
    """A template in a shape our definitions cannot hold (a location header, a flow button …)."""


def definition_of(item: Mapping[str, Any]) -> TemplateDefinition | None:
    """Meta's template as our definition, positional variables numbered on across the components
    (header, body, buttons); None when it holds what a definition cannot."""
    try:
        return _definition(item)
    except _Unreadable as why:
        logger.info("Meta template %r left out of the catalogue: %s", str(item.get("name"))[:100], why)
        return None


def _definition(item: Mapping[str, Any]) -> TemplateDefinition:
    category = item.get("category")
    try:
        template_category = TemplateCategory(str(category).lower())
    except ValueError as error:
        raise _Unreadable(f"category {category!r}") from error
    components = item.get("components")
    if not isinstance(components, list):
        raise _Unreadable("no components")
    by_type: dict[str, Mapping[str, Any]] = {}
    for component in components:
        kind = component.get("type") if isinstance(component, dict) else None
        if not isinstance(kind, str) or kind.upper() not in ("HEADER", "BODY", "FOOTER", "BUTTONS"):
            raise _Unreadable(f"a component of type {kind!r}")
        by_type[kind.upper()] = component
    named = str(item.get("parameter_format", "POSITIONAL")).upper() == "NAMED"
    reader = _Numbering(named)
    header = _read_header(by_type.get("HEADER"), reader)
    body_component = by_type.get("BODY")
    body_text = body_component.get("text") if body_component is not None else None
    if not isinstance(body_text, str):
        raise _Unreadable("no body text")
    body = reader.text(body_text, _body_examples(body_component, named))
    footer = by_type.get("FOOTER", {}).get("text")
    buttons = _read_buttons(by_type.get("BUTTONS"), reader)
    name, language = item.get("name"), item.get("language")
    return TemplateDefinition(
        name=str(name),
        language=str(language),
        category=template_category,
        body=body,
        header=header,
        footer=footer if isinstance(footer, str) and footer else None,
        buttons=buttons,
        examples=tuple(reader.examples.items()),
    )


class _Numbering:
    """Reads components in order, numbering positional variables on from the previous component's
    last, and gathering each variable's example."""

    def __init__(self, named: bool) -> None:
        self.named = named
        self.count = 0
        self.examples: dict[str, str] = {}

    def text(self, text: str, examples: Sequence[str] | Mapping[str, str]) -> str:
        names = variables_in(text)
        if self.named:
            for name in names:
                value = examples.get(name) if isinstance(examples, Mapping) else None
                if value:
                    self.examples.setdefault(name, value)
            return text
        if not all(is_position(name) for name in names):
            raise _Unreadable("named variables in a positional template")
        ordered = sorted(names, key=int)
        numbers = {name: str(self.count + position) for position, name in enumerate(ordered, start=1)}
        if isinstance(examples, Sequence):
            for name, value in zip(ordered, examples, strict=False):
                if isinstance(value, str) and value:
                    self.examples[numbers[name]] = value
        self.count += len(ordered)
        return VARIABLE.sub(lambda match: "{{" + numbers[match.group(1)] + "}}", text)


def _example_block(component: Mapping[str, Any]) -> Mapping[str, Any]:
    example = component.get("example")
    return example if isinstance(example, dict) else {}


def _named(params: object) -> dict[str, str]:
    if not isinstance(params, list):
        return {}
    return {
        str(param["param_name"]): param["example"]
        for param in params
        if isinstance(param, dict) and isinstance(param.get("example"), str) and param.get("param_name")
    }


def _body_examples(component: Mapping[str, Any] | None, named: bool) -> Sequence[str] | Mapping[str, str]:
    example = _example_block(component or {})
    if named:
        return _named(example.get("body_text_named_params"))
    rows = example.get("body_text")
    return rows[0] if isinstance(rows, list) and rows and isinstance(rows[0], list) else []


def _read_header(component: Mapping[str, Any] | None, reader: _Numbering) -> TemplateHeader | None:
    if component is None:
        return None
    header_format = _HEADER_AT_META.get(str(component.get("format", "")).upper())
    if header_format is None:
        raise _Unreadable(f"a header of format {component.get('format')!r}")
    example = _example_block(component)
    if header_format.is_media:
        handles = example.get("header_handle")
        sample = handles[0] if isinstance(handles, list) and handles and isinstance(handles[0], str) else None
        return TemplateHeader(format=header_format, example_url=sample)
    text = component.get("text")
    if not isinstance(text, str):
        raise _Unreadable("a text header without its text")
    examples: Sequence[str] | Mapping[str, str] = (
        _named(example.get("header_text_named_params")) if reader.named else example.get("header_text") or []
    )
    return TemplateHeader(format=HeaderFormat.TEXT, text=reader.text(text, examples))


def _read_buttons(component: Mapping[str, Any] | None, reader: _Numbering) -> tuple[TemplateButton, ...]:
    if component is None:
        return ()
    buttons = component.get("buttons")
    if not isinstance(buttons, list):
        raise _Unreadable("a buttons component without its buttons")
    read: list[TemplateButton] = []
    for button in buttons:
        kind = _BUTTON_AT_META.get(str(button.get("type", "")).upper()) if isinstance(button, dict) else None
        if kind is None or not isinstance(button, dict):
            raise _Unreadable("a button of a kind the gateway does not make")
        text = str(button.get("text", ""))
        if kind is ButtonKind.URL:
            read.append(TemplateButton(kind=kind, text=text, url=_read_url(button, reader)))
        elif kind is ButtonKind.PHONE_NUMBER:
            read.append(
                TemplateButton(kind=kind, text=text, phone_number=str(button.get("phone_number", "")))
            )
        elif kind is ButtonKind.COPY_CODE:
            example = button.get("example")
            code = example[0] if isinstance(example, list) and example else example
            read.append(TemplateButton(kind=kind, example=code if isinstance(code, str) else None))
        else:
            read.append(TemplateButton(kind=kind, text=text))
    return tuple(read)


def _read_url(button: Mapping[str, Any], reader: _Numbering) -> str:
    url = str(button.get("url", ""))
    names = variables_in(url)
    example = button.get("example")
    sample = example[0] if isinstance(example, list) and example and isinstance(example[0], str) else None
    value = None
    if names and sample is not None:
        # The example is the whole URL with the variable filled in: the variable's value is what
        # follows the URL's fixed start.
        prefix = url[: url.index("{{")]
        value = sample[len(prefix) :] if sample.startswith(prefix) else None
    if reader.named:
        return reader.text(url, {names[0]: value} if names and value else {})
    return reader.text(url, [value] if value else [])


def _next_cursor(paging: object) -> str | None:
    """The cursor of the next page, when Meta says there is one (``paging.next``)."""
    if not isinstance(paging, dict) or not paging.get("next"):
        return None
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, dict) else None
    return after if isinstance(after, str) and after else None
