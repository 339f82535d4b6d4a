"""Message templates as a WhatsApp Business Account holds them: Meta's checks of a template's
definition, the object the Graph API describes one with, and the review that approves or rejects it.

A template is ``{name, language, category, parameter_format, components}``; its components are a
``BODY`` (required), an optional ``HEADER`` (text, or an image, video, document or location), ``FOOTER``
and ``BUTTONS``. Variables are numbered per component (``{{1}}`` in the header and ``{{1}}`` in the
body are two variables) or named (``parameter_format: NAMED``), and each component with variables
gives an example of each. A refusal is code 100 with a subcode and words for the template's author
(``error_user_title``, ``error_user_msg``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from emulators.meta import errors
from emulators.meta.config import TemplateReview
from emulators.meta.errors import MetaError

NAME = re.compile(r"[a-z0-9_]{1,512}")
LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Za-z]{2,4})?")
VARIABLE = re.compile(r"\{\{\s*+((?:[^{}\s]++|\s++(?=[^{}\s]))*+)\s*+\}\}")  # linear in the text
NAMED_VARIABLE = re.compile(r"[a-z][a-z0-9_]*")
CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
PARAMETER_FORMATS = ("POSITIONAL", "NAMED")
HEADER_FORMATS = ("TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION")
BUTTON_TYPES = ("QUICK_REPLY", "URL", "PHONE_NUMBER", "COPY_CODE")
COMPONENT_TYPES = ("HEADER", "BODY", "FOOTER", "BUTTONS")
MAX_HEADER_TEXT = 60
MAX_BODY_TEXT = 1024
MAX_FOOTER_TEXT = 60
MAX_BUTTONS = 10
MAX_BUTTON_TEXT = 25
MAX_URL = 2000
MAX_COPY_CODE = 15

# Statuses a template can have, and the events its status webhooks report.
APPROVED = "APPROVED"
PENDING = "PENDING"
REJECTED = "REJECTED"
PAUSED = "PAUSED"
DISABLED = "DISABLED"
PENDING_DELETION = "PENDING_DELETION"
FLAGGED = "FLAGGED"
REINSTATED = "REINSTATED"
STATUSES = (APPROVED, PENDING, REJECTED, PAUSED, DISABLED, PENDING_DELETION, "IN_APPEAL")
# What the console (the control API) may do to a template, and the status each event leaves it in
# (a flag changes no status: the template is warned for its low quality).
CONSOLE_EVENTS: dict[str, str | None] = {
    APPROVED: APPROVED,
    REJECTED: REJECTED,
    PAUSED: PAUSED,
    DISABLED: DISABLED,
    FLAGGED: None,
    REINSTATED: APPROVED,
}
QUALITY_SCORES = ("GREEN", "YELLOW", "RED", "UNKNOWN")
ALL_FIELDS = (
    "name",
    "parameter_format",
    "components",
    "language",
    "status",
    "category",
    "id",
    "rejected_reason",
    "quality_score",
)

_LANGUAGE_NAMES = {"en_US": "English (US)", "en": "English", "en_GB": "English (UK)", "es": "Spanish"}


@dataclass(slots=True)
class TemplateRecord:
    """A message template of one business account, as the emulator keeps it."""

    id: str
    waba_id: str
    name: str
    language: str
    category: str
    parameter_format: str
    components: list[dict[str, Any]]
    status: str
    created_at: int
    review_due_at: float | None = None
    rejected_reason: str = "NONE"
    quality_score: str = "UNKNOWN"
    history: list[tuple[str, int]] = field(default_factory=list)

    @property
    def body_text(self) -> str:
        body = next((c for c in self.components if c.get("type") == "BODY"), {})
        text = body.get("text", "")
        return text if isinstance(text, str) else ""

    @property
    def live(self) -> bool:
        return self.status != PENDING_DELETION


@dataclass(frozen=True, slots=True)
class TemplateDraft:
    """A template definition that passed Meta's checks (components in Meta's upper-case words)."""

    name: str
    language: str
    category: str
    parameter_format: str
    components: list[dict[str, Any]]


def language_name(code: str) -> str:
    return _LANGUAGE_NAMES.get(code, code)


def _invalid(title: str, message: str) -> MetaError:
    return MetaError.template(errors.TEMPLATE_INVALID, title, message)


def validate_create(body: Any) -> TemplateDraft:
    """Check ``POST /{waba-id}/message_templates``; MetaError as Meta answers."""
    if not isinstance(body, dict):
        raise MetaError.of(errors.INVALID_PARAMETER, "The request body must be a JSON object.")
    for required in ("name", "language", "category", "components"):
        if required not in body:
            raise MetaError.of(errors.INVALID_PARAMETER, f"The parameter {required} is required.")
    name = body["name"]
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise _invalid(
            "Invalid template name",
            "A template's name can only have lower-case letters, numbers and underscores.",
        )
    language = body["language"]
    if not isinstance(language, str) or not LANGUAGE.fullmatch(language):
        raise MetaError.of(errors.INVALID_PARAMETER, f"Param language must be a language code: {language!r}.")
    category = _choice(body["category"], CATEGORIES, "category")
    parameter_format = _choice(
        body.get("parameter_format", "POSITIONAL"), PARAMETER_FORMATS, "parameter_format"
    )
    components = validate_components(body["components"], parameter_format)
    return TemplateDraft(name, language, category, parameter_format, components)


def validate_update(body: Any, template: TemplateRecord) -> tuple[str, list[dict[str, Any]]]:
    """Check ``POST /{template-id}`` (new components and/or category); the category and components the
    template has after it."""
    if not isinstance(body, dict) or not ({"components", "category"} & body.keys()):
        raise MetaError.of(errors.INVALID_PARAMETER, "Give the template's components or category to change.")
    if template.status in (PENDING, DISABLED, PENDING_DELETION):
        raise MetaError.template(
            errors.TEMPLATE_NOT_EDITABLE,
            "Message template can't be edited",
            f"A template with the status {template.status} can't be edited.",
        )
    category = template.category
    if "category" in body:
        category = _choice(body["category"], CATEGORIES, "category")
        if template.status == APPROVED and category != template.category:
            raise MetaError.template(
                errors.TEMPLATE_NOT_EDITABLE,
                "Message template category can't be edited",
                "The category of an approved template can't be changed.",
            )
    components = template.components
    if "components" in body:
        components = validate_components(body["components"], template.parameter_format)
    return category, components


def _choice(value: Any, allowed: Sequence[str], name: str) -> str:
    if not isinstance(value, str) or value.upper() not in allowed:
        raise MetaError.of(
            errors.INVALID_PARAMETER, f"Param {name} must be one of {{{', '.join(allowed)}}} - got {value!r}."
        )
    return value.upper()


def validate_components(given: Any, parameter_format: str) -> list[dict[str, Any]]:
    if not isinstance(given, list) or not given:
        raise _invalid("Message template components are missing", "A template needs at least its body.")
    components: list[dict[str, Any]] = []
    seen: set[str] = set()
    for component in given:
        if not isinstance(component, dict):
            raise MetaError.of(errors.INVALID_PARAMETER, "Param components must be an array of objects.")
        kind = _choice(component.get("type"), COMPONENT_TYPES, "components[type]")
        if kind in seen:
            raise _invalid("Duplicate component", f"A template has at most one {kind} component.")
        seen.add(kind)
        copied = {**component, "type": kind}
        if isinstance(copied.get("buttons"), list):
            copied["buttons"] = [dict(b) if isinstance(b, dict) else b for b in copied["buttons"]]
        components.append(copied)
    if "BODY" not in seen:
        raise _invalid("Message template body is missing", "A template needs a BODY component.")
    for component in components:
        _CHECKS[component["type"]](component, parameter_format)
    order = {kind: index for index, kind in enumerate(COMPONENT_TYPES)}
    return sorted(components, key=lambda component: order[component["type"]])


def variables_in(text: str) -> list[str]:
    seen: dict[str, None] = {}
    for match in VARIABLE.finditer(text):
        seen.setdefault(match.group(1))
    return list(seen)


def _variables(text: str, parameter_format: str, where: str) -> list[str]:
    """The component's variables, checked against the template's parameter format: positional ones
    numbered from 1 without gaps, named ones lower-case."""
    names = variables_in(text)
    if parameter_format == "POSITIONAL":
        if any(not name.isascii() or not name.isdigit() for name in names):
            raise _invalid(
                "Invalid parameter format",
                f"The {where} has named variables: set parameter_format to NAMED, or number them.",
            )
        if sorted(int(name) for name in names) != list(range(1, len(names) + 1)):
            raise _invalid(
                "Variable parameters are not sequential",
                f"The {where}'s variables must be numbered {{{{1}}}}, {{{{2}}}} … without gaps.",
            )
    elif any(not NAMED_VARIABLE.fullmatch(name) for name in names):
        raise _invalid(
            "Invalid parameter name",
            f"The {where}'s variables must be named with lower-case letters, numbers and underscores.",
        )
    return names


def _text(component: Mapping[str, Any], limit: int, where: str) -> str:
    text = component.get("text")
    if not isinstance(text, str) or not text.strip():
        raise _invalid(f"The {where} text is missing", f"The {where} needs its text.")
    if len(text) > limit:
        raise _invalid(f"The {where} text is too long", f"The {where} text is at most {limit} characters.")
    return text


def _examples(
    component: Mapping[str, Any], names: list[str], parameter_format: str, positional_key: str, where: str
) -> None:
    """Every variable of the component has an example: ``example.<positional_key>`` for positional
    variables (a list, or a list of one list for the body), ``<...>_named_params`` for named ones."""
    if not names:
        return
    example = component.get("example")
    if not isinstance(example, dict):
        raise _invalid("Missing sample values", f"The {where} has variables: give an example of each.")
    if parameter_format == "NAMED":
        key = positional_key + "_named_params"
        given = example.get(key)
        named = (
            {
                item.get("param_name")
                for item in given
                if isinstance(item, dict) and isinstance(item.get("example"), str) and item["example"]
            }
            if isinstance(given, list)
            else set()
        )
        if not set(names) <= named:
            raise _invalid(
                "Missing sample values",
                f"The {where} needs example.{key} with an example of each of: {', '.join(names)}.",
            )
        return
    values = example.get(positional_key)
    if positional_key == "body_text":
        values = values[0] if isinstance(values, list) and values and isinstance(values[0], list) else None
    if (
        not isinstance(values, list)
        or len(values) != len(names)
        or not all(isinstance(v, str) and v for v in values)
    ):
        raise _invalid(
            "Number of parameters does not match the expected number of params",
            f"The {where} has {len(names)} variables; example.{positional_key} must give as many values.",
        )


def _header(component: Mapping[str, Any], parameter_format: str) -> None:
    header_format = _choice(component.get("format"), HEADER_FORMATS, "components[format]")
    if header_format == "TEXT":
        text = _text(component, MAX_HEADER_TEXT, "header")
        names = _variables(text, parameter_format, "header")
        if len(names) > 1:
            raise _invalid("Too many variables in the header", "A text header has at most one variable.")
        _examples(component, names, parameter_format, "header_text", "header")
    elif header_format != "LOCATION":
        example = component.get("example")
        handles = example.get("header_handle") if isinstance(example, dict) else None
        if (
            not isinstance(handles, list)
            or len(handles) != 1
            or not isinstance(handles[0], str)
            or not handles[0]
        ):
            raise _invalid(
                "Missing sample media",
                f"A {header_format.lower()} header needs example.header_handle: the handle of an "
                "uploaded sample (Resumable Upload API).",
            )


def _body(component: Mapping[str, Any], parameter_format: str) -> None:
    text = _text(component, MAX_BODY_TEXT, "body")
    names = _variables(text, parameter_format, "body")
    stripped = text.strip()
    if names and (stripped.startswith("{{") or stripped.endswith("}}")):
        raise _invalid(
            "Variables can't be at the start or end of the template",
            "Move the variable away from the start or end of the body, or add text around it.",
        )
    _examples(component, names, parameter_format, "body_text", "body")


def _footer(component: Mapping[str, Any], parameter_format: str) -> None:
    text = _text(component, MAX_FOOTER_TEXT, "footer")
    if variables_in(text):
        raise _invalid("Footer can't have variables", "A template's footer has no variables.")


def _buttons(component: Mapping[str, Any], parameter_format: str) -> None:
    buttons = component.get("buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_BUTTONS:
        raise _invalid("Invalid buttons", f"A BUTTONS component holds 1 to {MAX_BUTTONS} buttons.")
    for button in buttons:
        if not isinstance(button, dict):
            raise MetaError.of(errors.INVALID_PARAMETER, "Param buttons must be an array of objects.")
        kind = _choice(button.get("type"), BUTTON_TYPES, "buttons[type]")
        button["type"] = kind
        if kind == "COPY_CODE":
            example = button.get("example")
            if not isinstance(example, str) or not 0 < len(example) <= MAX_COPY_CODE:
                raise _invalid(
                    "Invalid copy code", f"A copy-code button's example is 1 to {MAX_COPY_CODE} characters."
                )
            continue
        label = button.get("text")
        if not isinstance(label, str) or not 0 < len(label) <= MAX_BUTTON_TEXT:
            raise _invalid("Invalid button text", f"A button's text is 1 to {MAX_BUTTON_TEXT} characters.")
        if kind == "URL":
            _url_button(button, parameter_format)
        elif kind == "PHONE_NUMBER":
            number = button.get("phone_number")
            if not isinstance(number, str) or not re.fullmatch(r"\+?[0-9 ()-]{7,20}", number):
                raise _invalid("Invalid phone number", "A phone-number button needs its phone_number.")


def _url_button(button: Mapping[str, Any], parameter_format: str) -> None:
    url = button.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > MAX_URL:
        raise _invalid("Invalid URL", "A URL button's url is an http(s) address.")
    names = variables_in(url)
    if not names:
        return
    if len(names) > 1 or not url.endswith("}}"):
        raise _invalid(
            "Invalid URL variable", "A URL button has at most one variable, at the end of its url."
        )
    if parameter_format == "POSITIONAL" and names != ["1"]:
        raise _invalid("Invalid URL variable", "A URL button's variable is {{1}}.")
    example = button.get("example")
    if (
        not isinstance(example, list)
        or len(example) != 1
        or not isinstance(example[0], str)
        or not example[0]
    ):
        raise _invalid("Missing sample values", "A URL button with a variable needs an example URL.")


_CHECKS = {"HEADER": _header, "BODY": _body, "FOOTER": _footer, "BUTTONS": _buttons}


# -- what the Graph API shows ----------------------------------------------------------------------


def template_object(template: TemplateRecord, fields: Sequence[str] | None = None) -> dict[str, Any]:
    """A template as ``GET /{waba-id}/message_templates`` lists it (only ``fields``, and its id)."""
    full: dict[str, Any] = {
        "name": template.name,
        "parameter_format": template.parameter_format,
        "components": template.components,
        "language": template.language,
        "status": template.status,
        "category": template.category,
        "id": template.id,
        "rejected_reason": template.rejected_reason,
        "quality_score": {"score": template.quality_score, "date": template.created_at},
    }
    wanted = set(fields or ALL_FIELDS) | {"id"}
    return {key: value for key, value in full.items() if key in wanted}


def expected_parameters(template: TemplateRecord) -> dict[str, list[str]]:
    """What a send of ``template`` must give, by component (``header``, ``body``, ``button:<index>``):
    its variables' names in order (a media header takes one parameter, its file)."""
    expected: dict[str, list[str]] = {}
    for component in template.components:
        kind = component.get("type")
        if kind == "HEADER":
            if component.get("format") in ("IMAGE", "VIDEO", "DOCUMENT"):
                expected["header"] = ["header_media"]
            elif isinstance(component.get("text"), str) and variables_in(component["text"]):
                expected["header"] = variables_in(component["text"])
        elif kind == "BODY" and variables_in(str(component.get("text", ""))):
            expected["body"] = variables_in(str(component["text"]))
        elif kind == "BUTTONS":
            for index, button in enumerate(component.get("buttons", [])):
                url = button.get("url") if isinstance(button, dict) else None
                if isinstance(url, str) and variables_in(url):
                    expected[f"button:{index}"] = variables_in(url)
    return expected


def status_value(template: TemplateRecord, event: str, reason: str | None) -> dict[str, Any]:
    """The value of a ``message_template_status_update`` change."""
    value: dict[str, Any] = {
        "event": event,
        "message_template_id": int(template.id),
        "message_template_name": template.name,
        "message_template_language": template.language,
        "reason": reason or "NONE",
        "message_template_category": template.category,
    }
    if event == REJECTED and reason == "INVALID_FORMAT":
        value["rejection_info"] = {
            "reason": "The template's content does not follow WhatsApp's format rules.",
            "recommendation": "Change the template's content and submit it again.",
        }
    return value


def quality_value(template: TemplateRecord, previous: str) -> dict[str, Any]:
    """The value of a ``message_template_quality_update`` change."""
    return {
        "previous_quality_score": previous,
        "new_quality_score": template.quality_score,
        "message_template_id": int(template.id),
        "message_template_name": template.name,
        "message_template_language": template.language,
    }


def review(template: TemplateRecord, settings: TemplateReview) -> tuple[str, str | None]:
    """What review decides of a pending template: approved, or rejected with a reason."""
    if settings.reject_name_prefix and template.name.startswith(settings.reject_name_prefix):
        return REJECTED, settings.rejection_reason
    words = set(re.findall(r"\w+", template.body_text.lower()))
    if any(word.lower() in words for word in settings.reject_words):
        return REJECTED, settings.rejection_reason
    return APPROVED, None
