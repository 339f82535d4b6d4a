"""Meta's checks of a ``POST /{phone-number-id}/messages`` body, as far as they are known.

The envelope (``messaging_product``, ``recipient_type``, ``context``, ``biz_opaque_callback_data``, an
unknown key inside a message object, a value of the wrong JSON type) fails with code 100; a missing
part of the message itself with 131008, a value out of bounds with 131009. Unknown top-level keys are
ignored, as the Graph API ignores parameters it does not know.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from emulators.meta import errors, templates
from emulators.meta.config import Template, digits
from emulators.meta.errors import MetaError
from emulators.meta.state import EmulatorState, Line
from emulators.meta.templates import TemplateRecord

MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
MESSAGE_TYPES = ("text", *MEDIA_TYPES, "template", "interactive", "location", "contacts", "reaction")
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_OPAQUE = 512
MAX_BODY = 1024
MAX_FOOTER = 60
MAX_HEADER_TEXT = 60
MAX_BUTTONS = 3
MAX_BUTTON_ID = 256
MAX_BUTTON_TITLE = 20
MAX_LIST_BUTTON = 20
MAX_SECTIONS = 10
MAX_ROWS = 10
MAX_ROW_ID = 200
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_SECTION_TITLE = 24
MAX_CTA_TEXT = 20
MIN_NUMBER_DIGITS = 7
MAX_NUMBER_DIGITS = 15
NUMBER_CHARACTERS = frozenset("0123456789+-() .")
TEMPLATE_COMPONENTS = ("header", "body", "button", "footer", "carousel", "limited_time_offer")
TEMPLATE_PARAMETERS = (
    "text",
    "currency",
    "date_time",
    "image",
    "video",
    "document",
    "location",
    "payload",
    "coupon_code",
    "action",
    "limited_time_offer",
    "expiration_time_ms",
)
INTERACTIVE_TYPES = (
    "button",
    "list",
    "cta_url",
    "flow",
    "product",
    "product_list",
    "location_request_message",
    "address_message",
    "call_permission_request",
)


@dataclass(frozen=True, slots=True)
class MessageDraft:
    """A send that passed Meta's checks."""

    to: str
    wa_id: str
    type: str
    category: str  # service, or the template's category
    biz_opaque_callback_data: str | None
    context_message_id: str | None


@dataclass(frozen=True, slots=True)
class ReadDraft:
    """A mark-as-read request that passed Meta's checks."""

    message_id: str
    typing_indicator: str | None


def invalid(details: str) -> MetaError:
    return MetaError.of(errors.INVALID_PARAMETER, details)


def missing(details: str) -> MetaError:
    return MetaError.of(errors.REQUIRED_PARAMETER, details)


def bad_value(details: str) -> MetaError:
    return MetaError.of(errors.INVALID_VALUE, details)


def validate_send(body: Any, line: Line, state: EmulatorState) -> MessageDraft | ReadDraft:
    """Check a send (or a mark-as-read) to ``line``; raises MetaError as Meta would answer."""
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    product = body.get("messaging_product")
    if product is None:
        raise invalid("The parameter messaging_product is required.")
    if product != "whatsapp":
        raise invalid(f'Param messaging_product must be one of {{WHATSAPP}} - got "{product}".')
    if "status" in body:
        return _validate_read(body, state, line)
    recipient_type = body.get("recipient_type", "individual")
    if recipient_type != "individual":
        raise invalid(f'Param recipient_type must be one of {{INDIVIDUAL}} - got "{recipient_type}".')
    to = _recipient(body)
    wa_id = state.wa_id_of(to)
    if wa_id == digits(line.display_phone_number):
        raise MetaError.of(errors.RECIPIENT_IS_SENDER)
    kind = body.get("type", "text")
    if kind not in MESSAGE_TYPES:
        raise invalid(f"Param type must be one of {{{', '.join(t.upper() for t in MESSAGE_TYPES)}}}.")
    if kind not in body:
        raise missing(f"Parameter '{kind}' is required for messages of type {kind}.")
    category = _check_content(kind, body[kind], line, state)
    return MessageDraft(
        to=to,
        wa_id=wa_id,
        type=kind,
        category=category,
        biz_opaque_callback_data=_opaque(body),
        context_message_id=_context(body),
    )


def _check_content(kind: str, given: Any, line: Line, state: EmulatorState) -> str:
    """Check the message's own object; the message's pricing category."""
    if kind == "contacts":
        _contacts(given)
        return "service"
    content = _object(given, kind)
    if kind == "template":
        return _template(content, line, state)
    if kind in MEDIA_TYPES:
        _media(kind, content, line, state)
    elif kind == "location":
        _location(content, kind)
    else:
        _CHECKS[kind](content)
    return "service"


def _validate_read(body: Mapping[str, Any], state: EmulatorState, line: Line) -> ReadDraft:
    if body["status"] != "read":
        raise invalid(f'Param status must be one of {{READ}} - got "{body["status"]}".')
    message_id = body.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        raise invalid("The parameter message_id is required.")
    inbound = state.inbound.get(message_id)
    if inbound is None or inbound.phone_number_id != line.phone_number_id:
        raise invalid(f"Message {message_id} was not received by this phone number.")
    typing = body.get("typing_indicator")
    typing_type: str | None = None
    if typing is not None:
        indicator = _object(typing, "typing_indicator")
        _keys(indicator, ("type",), "typing_indicator")
        typing_type = indicator.get("type")
        if typing_type != "text":
            raise invalid(f'Param typing_indicator[type] must be one of {{TEXT}} - got "{typing_type}".')
    return ReadDraft(message_id=message_id, typing_indicator=typing_type)


def _recipient(body: Mapping[str, Any]) -> str:
    to = body.get("to")
    if to is None:
        raise invalid("The parameter to is required.")
    if not isinstance(to, str):
        raise invalid("Param to must be a string.")
    plain = digits(to)
    if set(to) - NUMBER_CHARACTERS or not MIN_NUMBER_DIGITS <= len(plain) <= MAX_NUMBER_DIGITS:
        raise bad_value(f"Invalid value for parameter 'to': {to!r} is not a phone number.")
    return to


def _opaque(body: Mapping[str, Any]) -> str | None:
    value = body.get("biz_opaque_callback_data")
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid("Param biz_opaque_callback_data must be a string.")
    if len(value) > MAX_OPAQUE:
        raise invalid(f"Param biz_opaque_callback_data must be at most {MAX_OPAQUE} characters long.")
    return value


def _context(body: Mapping[str, Any]) -> str | None:
    if "context" not in body:
        return None
    context = _object(body["context"], "context")
    _keys(context, ("message_id",), "context")
    message_id = context.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        raise invalid("The parameter context[message_id] is required.")
    return message_id


# -- message objects --------------------------------------------------------------------------------


def _text(content: Mapping[str, Any]) -> None:
    _keys(content, ("body", "preview_url"), "text")
    _string(content, "body", "text", limit=MAX_TEXT)
    if "preview_url" in content and not isinstance(content["preview_url"], bool):
        raise invalid("Param text[preview_url] must be a boolean.")


_MEDIA_KEYS: dict[str, tuple[str, ...]] = {
    "image": ("id", "link", "caption"),
    "video": ("id", "link", "caption"),
    "audio": ("id", "link"),
    "document": ("id", "link", "caption", "filename"),
    "sticker": ("id", "link"),
}


def _media(kind: str, content: Mapping[str, Any], line: Line, state: EmulatorState) -> None:
    _keys(content, _MEDIA_KEYS[kind], kind)
    has_id, has_link = "id" in content, "link" in content
    if not has_id and not has_link:
        raise missing(f"Parameter {kind}[id] or {kind}[link] is required.")
    if has_id and has_link:
        raise invalid(f"Param {kind} must have either id or link, not both.")
    if has_link:
        link = _string(content, "link", kind)
        if not is_http_url(link):
            raise bad_value(f"Param {kind}[link] is not a valid URL.")
    else:
        media_id = _string(content, "id", kind)
        media = state.live_media(media_id)
        if media is None or media.waba_id != line.waba_id:
            raise bad_value(f"Param {kind}[id] is not a valid media id: {media_id}.")
    if "caption" in content:
        _string(content, "caption", kind, limit=MAX_CAPTION, required=False)
    if "filename" in content:
        _string(content, "filename", kind, required=False)


def _template(content: Mapping[str, Any], line: Line, state: EmulatorState) -> str:
    """Check a template send; its pricing category. A template the business created (through the API or
    the console) must be approved and given its parameters; otherwise the configured ``templates``
    decide (none configured: any name is taken)."""
    _keys(content, ("name", "language", "components", "namespace"), "template")
    name = _string(content, "name", "template", limit=512)
    if "language" not in content:
        raise missing("Parameter template[language] is required.")
    language = _object(content["language"], "template[language]")
    _keys(language, ("code", "policy"), "template[language]")
    code = _string(language, "code", "template[language]")
    if language.get("policy", "deterministic") != "deterministic":
        raise invalid("Param template[language][policy] must be one of {DETERMINISTIC}.")
    components = content.get("components", [])
    if not isinstance(components, list):
        raise invalid("Param template[components] must be an array.")
    body_parameters = 0
    for index, component in enumerate(components):
        body_parameters += _template_component(_object(component, f"template[components][{index}]"), index)
    created = state.template_named(line.waba_id, name, code)
    if created is not None:
        return _created_template(created, components)
    template = _find_template(line.business.templates, name, code)
    if template is None:
        if not line.business.templates:
            return "utility"  # no catalogue configured: every name is approved
        raise MetaError.of(errors.TEMPLATE_MISSING, f"template name ({name}) does not exist in {code}")
    if template.body_parameters is not None and template.body_parameters != body_parameters:
        raise MetaError.of(
            errors.TEMPLATE_PARAMETERS,
            f"body: number of localizable_params ({body_parameters}) does not match the expected number "
            f"of params ({template.body_parameters})",
        )
    return template.category


def _created_template(template: TemplateRecord, components: list[Any]) -> str:
    """A send of a template the business created: it must be approved, and give each component with
    variables as many parameters as it has (by name for a NAMED template); its category."""
    if template.status == templates.PAUSED:
        raise MetaError.of(errors.TEMPLATE_PAUSED)
    if template.status == templates.DISABLED:
        raise MetaError.of(errors.TEMPLATE_DISABLED)
    if template.status != templates.APPROVED:
        raise MetaError.of(
            errors.TEMPLATE_MISSING,
            f"template name ({template.name}) does not exist in {template.language} "
            f"(it is {template.status})",
        )
    given: dict[str, list[Any]] = {}
    for component in components:
        key = component["type"] if component["type"] != "button" else f"button:{component.get('index')}"
        given[key] = component.get("parameters", [])
    for key, expected in templates.expected_parameters(template).items():
        parameters = given.get(key, [])
        names = sorted(str(p.get("parameter_name")) for p in parameters if isinstance(p, dict))
        by_name = template.parameter_format == "NAMED" and expected != ["header_media"]
        if len(parameters) != len(expected) or (by_name and names != sorted(expected)):
            raise MetaError.of(
                errors.TEMPLATE_PARAMETERS,
                f"{key}: number of localizable_params ({len(parameters)}) does not match the expected number "
                f"of params ({len(expected)})",
            )
    return template.category.lower()


def _find_template(templates: Collection[Template], name: str, language: str) -> Template | None:
    return next((t for t in templates if t.name == name and t.language == language), None)


def _template_component(component: Mapping[str, Any], index: int) -> int:
    """Check a template component; how many body parameters it gives."""
    path = f"template[components][{index}]"
    _keys(component, ("type", "sub_type", "index", "parameters", "cards"), path)
    kind = _string(component, "type", path)
    if kind not in TEMPLATE_COMPONENTS:
        raise invalid(f"Param {path}[type] must be one of {{{', '.join(TEMPLATE_COMPONENTS).upper()}}}.")
    if kind == "button":
        _string(component, "sub_type", path)
        if "index" not in component:
            raise missing(f"Parameter {path}[index] is required for a button component.")
    parameters = component.get("parameters", [])
    if not isinstance(parameters, list):
        raise invalid(f"Param {path}[parameters] must be an array.")
    for number, parameter in enumerate(parameters):
        parameter_path = f"{path}[parameters][{number}]"
        _template_parameter(_object(parameter, parameter_path), parameter_path)
    return len(parameters) if kind == "body" else 0


def _template_parameter(parameter: Mapping[str, Any], path: str) -> None:
    kind = _string(parameter, "type", path)
    if kind not in TEMPLATE_PARAMETERS:
        raise invalid(f"Param {path}[type] must be one of {{{', '.join(TEMPLATE_PARAMETERS).upper()}}}.")
    if kind in ("text", "payload", "coupon_code") and kind not in parameter:
        raise missing(f"Parameter {path}[{kind}] is required for a {kind} parameter.")
    if kind == "text":
        _string(parameter, "text", path, limit=32768)
    if kind in MEDIA_TYPES:
        if kind not in parameter:
            raise missing(f"Parameter {path}[{kind}] is required for a {kind} parameter.")
        media = _object(parameter[kind], f"{path}[{kind}]")
        if "id" not in media and "link" not in media:
            raise missing(f"Parameter {path}[{kind}][id] or [link] is required.")


def _interactive(content: Mapping[str, Any]) -> None:
    _keys(content, ("type", "header", "body", "footer", "action"), "interactive")
    kind = _string(content, "type", "interactive")
    if kind not in INTERACTIVE_TYPES:
        raise invalid(f"Param interactive[type] must be one of {{{', '.join(INTERACTIVE_TYPES).upper()}}}.")
    if "action" not in content:
        raise missing("Parameter interactive[action] is required.")
    action = _object(content["action"], "interactive[action]")
    if kind in ("button", "list", "cta_url"):
        if "body" not in content:
            raise missing("Parameter interactive[body] is required.")
        _string(_object(content["body"], "interactive[body]"), "text", "interactive[body]", limit=MAX_BODY)
    elif "body" in content:
        _string(_object(content["body"], "interactive[body]"), "text", "interactive[body]", limit=MAX_BODY)
    if "footer" in content:
        footer = _object(content["footer"], "interactive[footer]")
        _string(footer, "text", "interactive[footer]", limit=MAX_FOOTER)
    if "header" in content:
        _interactive_header(_object(content["header"], "interactive[header]"), kind)
    if kind == "button":
        _reply_buttons(action)
    elif kind == "list":
        _list(action)
    elif kind == "cta_url":
        _cta_url(action)


def _interactive_header(header: Mapping[str, Any], kind: str) -> None:
    header_type = _string(header, "type", "interactive[header]")
    allowed = ("text",) if kind == "list" else ("text", "image", "video", "document")
    if header_type not in allowed:
        raise invalid(f"Param interactive[header][type] must be one of {{{', '.join(allowed).upper()}}}.")
    if header_type == "text":
        _string(header, "text", "interactive[header]", limit=MAX_HEADER_TEXT)
    elif header_type not in header:
        raise missing(f"Parameter interactive[header][{header_type}] is required.")


def _reply_buttons(action: Mapping[str, Any]) -> None:
    buttons = action.get("buttons")
    if buttons is None:
        raise missing("Parameter interactive[action][buttons] is required.")
    if not isinstance(buttons, list):
        raise invalid("Param interactive[action][buttons] must be an array.")
    if not 1 <= len(buttons) <= MAX_BUTTONS:
        raise bad_value(f"Param interactive[action][buttons] must have between 1 and {MAX_BUTTONS} items.")
    ids, titles = set(), set()
    for index, item in enumerate(buttons):
        path = f"interactive[action][buttons][{index}]"
        button = _object(item, path)
        _keys(button, ("type", "reply"), path)
        if button.get("type") != "reply":
            raise invalid(f"Param {path}[type] must be one of {{REPLY}}.")
        if "reply" not in button:
            raise missing(f"Parameter {path}[reply] is required.")
        reply = _object(button["reply"], f"{path}[reply]")
        _keys(reply, ("id", "title"), f"{path}[reply]")
        ids.add(_string(reply, "id", f"{path}[reply]", limit=MAX_BUTTON_ID))
        titles.add(_string(reply, "title", f"{path}[reply]", limit=MAX_BUTTON_TITLE))
    if len(ids) != len(buttons) or len(titles) != len(buttons):
        raise bad_value("Buttons must have unique ids and unique titles.")


def _list(action: Mapping[str, Any]) -> None:
    _string(action, "button", "interactive[action]", limit=MAX_LIST_BUTTON)
    sections = action.get("sections")
    if sections is None:
        raise missing("Parameter interactive[action][sections] is required.")
    if not isinstance(sections, list):
        raise invalid("Param interactive[action][sections] must be an array.")
    if not 1 <= len(sections) <= MAX_SECTIONS:
        raise bad_value(f"Param interactive[action][sections] must have between 1 and {MAX_SECTIONS} items.")
    row_ids: list[str] = []
    for index, item in enumerate(sections):
        path = f"interactive[action][sections][{index}]"
        section = _object(item, path)
        _keys(section, ("title", "rows", "product_items"), path)
        if len(sections) > 1 or "title" in section:
            _string(section, "title", path, limit=MAX_SECTION_TITLE)
        rows = section.get("rows")
        if not isinstance(rows, list) or not rows:
            raise missing(f"Parameter {path}[rows] is required (at least one row).")
        for number, row_item in enumerate(rows):
            row_path = f"{path}[rows][{number}]"
            row = _object(row_item, row_path)
            _keys(row, ("id", "title", "description"), row_path)
            row_ids.append(_string(row, "id", row_path, limit=MAX_ROW_ID))
            _string(row, "title", row_path, limit=MAX_ROW_TITLE)
            if "description" in row:
                _string(row, "description", row_path, limit=MAX_ROW_DESCRIPTION, required=False)
    if len(row_ids) > MAX_ROWS:
        raise bad_value(f"A list message may have at most {MAX_ROWS} rows in all its sections.")
    if len(set(row_ids)) != len(row_ids):
        raise bad_value("Rows must have unique ids.")


def _cta_url(action: Mapping[str, Any]) -> None:
    if action.get("name") != "cta_url":
        raise invalid("Param interactive[action][name] must be cta_url.")
    if "parameters" not in action:
        raise missing("Parameter interactive[action][parameters] is required.")
    parameters = _object(action["parameters"], "interactive[action][parameters]")
    _keys(parameters, ("display_text", "url"), "interactive[action][parameters]")
    _string(parameters, "display_text", "interactive[action][parameters]", limit=MAX_CTA_TEXT)
    url = _string(parameters, "url", "interactive[action][parameters]")
    if not is_http_url(url):
        raise bad_value("Param interactive[action][parameters][url] is not a valid URL.")


def _location(content: Mapping[str, Any], path: str) -> None:
    _keys(content, ("latitude", "longitude", "name", "address"), path)
    for key, bound in (("latitude", 90), ("longitude", 180)):
        if key not in content:
            raise missing(f"Parameter {path}[{key}] is required.")
        value = content[key]
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise bad_value(f"Param {path}[{key}] must be a number.") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise invalid(f"Param {path}[{key}] must be a number.")
        if not -bound <= value <= bound:
            raise bad_value(f"Param {path}[{key}] must be between -{bound} and {bound}.")
    for key in ("name", "address"):
        if key in content:
            _string(content, key, path, required=False)


def _contacts(contacts: Any) -> None:
    """``contacts`` is an array, the one message object that is not a JSON object."""
    if not isinstance(contacts, list) or not contacts:
        raise bad_value("Param contacts must be a non-empty array.")
    for index, item in enumerate(contacts):
        path = f"contacts[{index}]"
        contact = _object(item, path)
        if "name" not in contact:
            raise missing(f"Parameter {path}[name] is required.")
        _string(_object(contact["name"], f"{path}[name]"), "formatted_name", f"{path}[name]")


def _reaction(content: Mapping[str, Any]) -> None:
    _keys(content, ("message_id", "emoji"), "reaction")
    _string(content, "message_id", "reaction")
    if "emoji" not in content:
        raise missing("Parameter reaction[emoji] is required (an empty string removes a reaction).")
    emoji = content["emoji"]
    if not isinstance(emoji, str):
        raise invalid("Param reaction[emoji] must be a string.")
    if len(emoji) > 10:
        raise bad_value("Param reaction[emoji] must be a single emoji.")


_CHECKS = {"text": _text, "interactive": _interactive, "reaction": _reaction}


# -- small checks ---------------------------------------------------------------------------------


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"Param {path} must be a JSON object.")
    return value


def _keys(content: Mapping[str, Any], allowed: Collection[str], path: str) -> None:
    for key in content:
        if key not in allowed:
            raise invalid(f'Unexpected key "{key}" on param "{path}".')


def _string(
    content: Mapping[str, Any], key: str, path: str, *, limit: int | None = None, required: bool = True
) -> str:
    if key not in content:
        if required:
            raise missing(f"Parameter {path}[{key}] is required.")
        return ""
    value = content[key]
    if not isinstance(value, str):
        raise invalid(f"Param {path}[{key}] must be a string.")
    if required and not value.strip():
        raise bad_value(f"Param {path}[{key}] must not be empty.")
    if limit is not None and len(value) > limit:
        raise bad_value(f"Param {path}[{key}] must be at most {limit} characters long.")
    return value


def is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not any(c.isspace() for c in url)
