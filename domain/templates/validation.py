"""WhatsApp's rules for a template, checked before any provider sees it, every problem named by its
field as a client's JSON names it (``body``, ``header.text``, ``buttons[2].url``, ``examples.first_name``):
see ``definition_problems``, which gives them all at once so that a client fixes a template in one go.

The rules are Meta's for Cloud API message templates; Twilio's Content API accepts a subset of them. A
template that keeps them all is not refused by either for its form (approving what it says is theirs).

- ``name``: 1 to 512 characters, lower-case ASCII letters, digits and underscores only.
- ``language``: a code like ``en``, ``en_US``, ``pt_BR``, ``zh_CN`` (two or three lower-case letters,
  then optionally an underscore and two to four capitals).
- ``category``: marketing, utility or authentication.
- ``body``: required (not blank), at most 1024 characters; it neither starts nor ends with a variable
  (Meta refuses "variables at the start or end").
- ``header``: text or media. A text header has its text (at most 60 characters, at most one variable)
  and no ``example_url``. A media header (image, video, document) has no text, and an ``example_url``:
  an absolute https URL of a sample file, which providers review.
- ``footer``: at most 60 characters, no variables; a blank one is left out instead.
- Variables, over the whole template (the header's text, the body, URL buttons' addresses):
    - written ``{{1}}`` or ``{{first_name}}`` (spaces inside the braces are tolerated); anything else
      between double braces (``{{}}``, ``{{1.5}}``, ``{{First}}``) and a ``{{`` or ``}}`` without its
      pair are malformed;
    - all positional or all named, never both;
    - positional ones numbered 1, 2, 3 … without gaps across the template;
    - named ones a lower-case letter, then up to 63 lower-case letters, digits or underscores;
    - never two side by side (``{{1}}{{2}}``): text goes between them;
    - at most 100 in a template.
- ``examples``: one sample value for each variable (providers review a template with them), given
  once, and none for a variable the template does not have; each non-blank and at most 1024 characters.
- ``buttons``: at most 10 in all, of which at most 2 URL buttons, 1 phone-number button and 1 copy-code
  button (quick replies fill the rest); quick replies grouped together, not between call-to-action
  buttons; each button's text differs from the others'.
    - quick_reply: ``text`` of 1 to 25 characters.
    - url: ``text`` of 1 to 25 characters; ``url`` an absolute https URL of at most 2000 characters,
      with at most one variable, at its very end.
    - phone_number: ``text`` of 1 to 25 characters; ``phone_number`` in E.164 form (``+`` and 7 to 15
      digits).
    - copy_code: ``example`` (a sample code) of 1 to 15 characters; no text needed.
    - a field only its kind of button has (a quick reply's ``url``) is refused rather than ignored.
- ``category`` authentication: no media header, only copy-code buttons, at most one variable in the
  body (the code).
- No text holds a NUL character (which PostgreSQL cannot store).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from urllib.parse import urlsplit

from domain.templates.definition import (
    NAMED_NAME,
    POSITIONAL_NAME,
    VARIABLE,
    ButtonKind,
    HeaderFormat,
    TemplateButton,
    TemplateCategory,
    TemplateDefinition,
    TemplateHeader,
    is_position,
    variables_in,
)
from domain.templates.errors import FieldProblem, InvalidTemplate

NAME = re.compile(r"[a-z0-9_]+")
MAX_NAME_LENGTH = 512
LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Z]{2,4})?")
MAX_BODY_LENGTH = 1024
MAX_HEADER_TEXT_LENGTH = 60
MAX_FOOTER_LENGTH = 60
MAX_VARIABLES = 100
MAX_EXAMPLE_LENGTH = 1024
MAX_BUTTONS = 10
MAX_BUTTONS_OF_KIND = {
    ButtonKind.QUICK_REPLY: 10,
    ButtonKind.URL: 2,
    ButtonKind.PHONE_NUMBER: 1,
    ButtonKind.COPY_CODE: 1,
}
MAX_BUTTON_TEXT_LENGTH = 25
MAX_URL_LENGTH = 2000
MAX_CODE_EXAMPLE_LENGTH = 15
PHONE_NUMBER = re.compile(r"\+[0-9]{7,15}")

_KIND_LABELS = {
    ButtonKind.QUICK_REPLY: "quick-reply buttons",
    ButtonKind.URL: "URL buttons",
    ButtonKind.PHONE_NUMBER: "phone-number button",
    ButtonKind.COPY_CODE: "copy-code button",
}


def definition_problems(definition: TemplateDefinition) -> list[FieldProblem]:
    """Every rule ``definition`` breaks, each with the field it is in; empty when it is a valid template."""
    return [
        *_name_problems(definition.name),
        *_language_problems(definition.language),
        *_category_problems(definition),
        *_header_problems(definition.header),
        *_body_problems(definition.body),
        *_footer_problems(definition.footer),
        *_variable_problems(definition),
        *_example_problems(definition),
        *_button_problems(definition.buttons),
        *_nul_problems(definition),
    ]


def check_definition(definition: TemplateDefinition) -> None:
    problems = definition_problems(definition)
    if problems:
        raise InvalidTemplate(problems)


# ------------------------------------------------------------------------- name, language, category


def _name_problems(name: str) -> list[FieldProblem]:
    if not name:
        return [FieldProblem("name", "is required")]
    problems = []
    if len(name) > MAX_NAME_LENGTH:
        problems.append(FieldProblem("name", f"is at most {MAX_NAME_LENGTH} characters"))
    if not NAME.fullmatch(name):
        problems.append(FieldProblem("name", "holds only lower-case letters, digits and underscores"))
    return problems


def _language_problems(language: str) -> list[FieldProblem]:
    if LANGUAGE.fullmatch(language):
        return []
    return [FieldProblem("language", "is a language code like 'en', 'en_US' or 'pt_BR'")]


def _category_problems(definition: TemplateDefinition) -> list[FieldProblem]:
    if definition.category is not TemplateCategory.AUTHENTICATION:
        return []
    problems = []
    if definition.has_media_header:
        problems.append(FieldProblem("header.format", "an authentication template has no media header"))
    for index, button in enumerate(definition.buttons):
        if button.kind is not ButtonKind.COPY_CODE:
            problems.append(
                FieldProblem(f"buttons[{index}]", "an authentication template has only copy_code buttons")
            )
    if len(variables_in(definition.body)) > 1:
        problems.append(
            FieldProblem("body", "an authentication template's body holds one variable at most: the code")
        )
    return problems


# ----------------------------------------------------------------------------- header, body, footer


def _header_problems(header: TemplateHeader | None) -> list[FieldProblem]:
    if header is None:
        return []
    problems = []
    if header.format is HeaderFormat.TEXT:
        if header.text is None or not header.text.strip():
            problems.append(FieldProblem("header.text", "is required in a text header"))
        elif len(header.text) > MAX_HEADER_TEXT_LENGTH:
            problems.append(FieldProblem("header.text", f"is at most {MAX_HEADER_TEXT_LENGTH} characters"))
        if header.example_url is not None:
            problems.append(
                FieldProblem("header.example_url", "only a media header has an example: leave it out")
            )
        return problems
    if header.text:
        problems.append(
            FieldProblem(
                "header.text", f"{_a(header.format)} header has no text: its file is given at each send"
            )
        )
    if not header.example_url:
        problems.append(
            FieldProblem(
                "header.example_url",
                f"is required in {_a(header.format)} header: the https URL of a sample file for review",
            )
        )
    elif not _is_https_url(header.example_url):
        problems.append(FieldProblem("header.example_url", "is an absolute https URL"))
    return problems


def _body_problems(body: str) -> list[FieldProblem]:
    if not body.strip():
        return [FieldProblem("body", "is required")]
    problems = []
    if len(body) > MAX_BODY_LENGTH:
        problems.append(FieldProblem("body", f"is at most {MAX_BODY_LENGTH} characters"))
    text = body.strip()
    matches = list(VARIABLE.finditer(text))
    if matches and matches[0].start() == 0:
        problems.append(
            FieldProblem("body", "starts with a variable, which WhatsApp refuses: begin with text")
        )
    if matches and matches[-1].end() == len(text):
        problems.append(FieldProblem("body", "ends with a variable, which WhatsApp refuses: end with text"))
    return problems


def _footer_problems(footer: str | None) -> list[FieldProblem]:
    if footer is None:
        return []
    problems = []
    if not footer.strip():
        problems.append(FieldProblem("footer", "is blank: leave it out or give its text"))
    if len(footer) > MAX_FOOTER_LENGTH:
        problems.append(FieldProblem("footer", f"is at most {MAX_FOOTER_LENGTH} characters"))
    if VARIABLE.search(footer) or "{{" in footer or "}}" in footer:
        problems.append(FieldProblem("footer", "holds no variables"))
    return problems


# ------------------------------------------------------------------------------------------ variables


def _variable_problems(definition: TemplateDefinition) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    # Each well-formed variable and the field it first appears in, in the template's order.
    first_seen: dict[str, str] = {}
    for component, text in definition.texts():
        problems.extend(_text_variable_problems(component, text))
        for name in variables_in(text):
            if _well_formed(name):
                first_seen.setdefault(name, _field_of(component))
    problems.extend(_style_problems(first_seen))
    if len(first_seen) > MAX_VARIABLES:
        problems.append(FieldProblem("body", f"a template holds at most {MAX_VARIABLES} variables"))
    return problems


def _text_variable_problems(component: str, text: str) -> list[FieldProblem]:
    """How the variables of one component's text are written, and where they stand in it."""
    where = _field_of(component)
    matches = list(VARIABLE.finditer(text))
    messages = [
        f"{match.group(0)} is not a variable: write {{{{1}}}}, {{{{2}}}} … "
        "or a lower-case name like {{first_name}}"
        for match in matches
        if not _well_formed(match.group(1))
    ]
    outside = VARIABLE.sub(" ", text)
    if "{{" in outside:
        messages.append("has a '{{' without its '}}'")
    if "}}" in outside:
        messages.append("has a '}}' without its '{{'")
    messages.extend(
        f"{before.group(0)}{after.group(0)}: two variables side by side, which WhatsApp refuses: "
        "put text between them"
        for before, after in itertools.pairwise(matches)
        if before.end() == after.start()
    )
    distinct = {match.group(1) for match in matches}
    if component == "header" and len(distinct) > 1:
        messages.append("a header holds one variable at most")
    if component.startswith("button:"):
        if len(distinct) > 1:
            messages.append("a URL holds one variable at most")
        if any(match.end() != len(text) for match in matches):
            messages.append("a URL's variable goes at its very end")
    return [FieldProblem(where, message) for message in messages]


def _style_problems(first_seen: dict[str, str]) -> list[FieldProblem]:
    """Positional and named variables mixed; positional ones with a gap in their numbering."""
    names = list(first_seen)
    if not names:
        return []
    positional = is_position(names[0])
    odd_one = next((name for name in names if is_position(name) is not positional), None)
    if odd_one is not None:
        return [
            FieldProblem(
                first_seen[odd_one],
                f"{{{{{odd_one}}}}} mixes named and positional variables: use one kind in the whole template",
            )
        ]
    if not positional:
        return []
    numbers = sorted(int(name) for name in names)
    missing = [number for number in range(1, numbers[-1] + 1) if number not in numbers]
    if not missing:
        return []
    after = next(number for number in numbers if number > missing[0])
    skipped = ", ".join(f"{{{{{number}}}}}" for number in missing)
    return [
        FieldProblem(
            first_seen[str(after)],
            f"{{{{{after}}}}} skips {skipped}: positional variables are numbered 1, 2, 3 … without gaps",
        )
    ]


def _example_problems(definition: TemplateDefinition) -> list[FieldProblem]:
    variables = set(definition.variables)  # worked out once: each use reads every text again
    names = [name for name in definition.variables if _well_formed(name)]
    given = Counter(name for name, _ in definition.examples)
    problems = [
        FieldProblem(f"examples.{name}", f"is missing: {{{{{name}}}}} needs a sample value for review")
        for name in names
        if name not in given
    ]
    reported: set[str] = set()
    for name, value in definition.examples:
        where = f"examples.{name}"
        if name in reported:
            continue
        reported.add(name)
        if name not in variables:
            problems.append(FieldProblem(where, "is not a variable of this template"))
            continue
        if given[name] > 1:
            problems.append(FieldProblem(where, "is given more than once"))
        if not value.strip():
            problems.append(FieldProblem(where, "is blank"))
        elif len(value) > MAX_EXAMPLE_LENGTH:
            problems.append(FieldProblem(where, f"is at most {MAX_EXAMPLE_LENGTH} characters"))
    return problems


# -------------------------------------------------------------------------------------------- buttons


def _button_problems(buttons: tuple[TemplateButton, ...]) -> list[FieldProblem]:
    problems = []
    if len(buttons) > MAX_BUTTONS:
        problems.append(FieldProblem("buttons", f"a template has at most {MAX_BUTTONS} buttons"))
    kinds = Counter(button.kind for button in buttons)
    for kind, limit in MAX_BUTTONS_OF_KIND.items():
        if kinds[kind] > limit:
            problems.append(FieldProblem("buttons", f"a template has at most {limit} {_KIND_LABELS[kind]}"))
    quick_replies = [button.kind is ButtonKind.QUICK_REPLY for button in buttons]
    if sum(1 for one, two in itertools.pairwise(quick_replies) if one is not two) > 1:
        problems.append(
            FieldProblem(
                "buttons",
                "quick replies are grouped together: put them all before or all after the other buttons",
            )
        )
    first_with_text: dict[str, int] = {}
    for index, button in enumerate(buttons):
        problems.extend(_one_button_problems(index, button))
        text = button.text.strip()
        if not text:
            continue
        if text in first_with_text:
            problems.append(
                FieldProblem(
                    f"buttons[{index}].text",
                    f"is the text of buttons[{first_with_text[text]}] too: each button's text differs",
                )
            )
        else:
            first_with_text[text] = index
    return problems


def _one_button_problems(index: int, button: TemplateButton) -> list[FieldProblem]:
    where = f"buttons[{index}]"
    checks = (
        (f"{where}.text", _button_text_problem(button)),
        (f"{where}.url", _button_url_problem(button)),
        (f"{where}.phone_number", _button_phone_number_problem(button)),
        (f"{where}.example", _button_example_problem(button)),
    )
    return [FieldProblem(field, message) for field, message in checks if message is not None]


def _button_text_problem(button: TemplateButton) -> str | None:
    if not button.text.strip():
        # A copy-code button's label is WhatsApp's own ("Copy code"): its text may be left out.
        return None if button.kind is ButtonKind.COPY_CODE else f"is required in a {button.kind} button"
    if len(button.text) > MAX_BUTTON_TEXT_LENGTH:
        return f"is at most {MAX_BUTTON_TEXT_LENGTH} characters"
    return None


def _button_url_problem(button: TemplateButton) -> str | None:
    if button.kind is not ButtonKind.URL:
        return None if button.url is None else "only a url button has a url"
    if not button.url:
        return "is required in a url button"
    if len(button.url) > MAX_URL_LENGTH:
        return f"is at most {MAX_URL_LENGTH} characters"
    if not _is_https_url(VARIABLE.sub("", button.url)):
        return "is an absolute https URL"
    return None


def _button_phone_number_problem(button: TemplateButton) -> str | None:
    if button.kind is not ButtonKind.PHONE_NUMBER:
        return None if button.phone_number is None else "only a phone_number button has a phone number"
    if not button.phone_number:
        return "is required in a phone_number button"
    if not PHONE_NUMBER.fullmatch(button.phone_number):
        return "is an international number like +14155238886 (E.164)"
    return None


def _button_example_problem(button: TemplateButton) -> str | None:
    if button.kind is not ButtonKind.COPY_CODE:
        if button.example is None:
            return None
        return "only a copy_code button has an example (a URL's variable takes its sample from examples)"
    if not button.example or not button.example.strip():
        return "is required in a copy_code button: a sample code"
    if len(button.example) > MAX_CODE_EXAMPLE_LENGTH:
        return f"is at most {MAX_CODE_EXAMPLE_LENGTH} characters"
    return None


# ------------------------------------------------------------------------------------------- helpers


def _nul_problems(definition: TemplateDefinition) -> list[FieldProblem]:
    texts: list[tuple[str, str | None]] = [
        ("name", definition.name),
        ("language", definition.language),
        ("body", definition.body),
        ("footer", definition.footer),
    ]
    if definition.header is not None:
        texts += [
            ("header.text", definition.header.text),
            ("header.example_url", definition.header.example_url),
        ]
    for index, button in enumerate(definition.buttons):
        texts += [
            (f"buttons[{index}].text", button.text),
            (f"buttons[{index}].url", button.url),
            (f"buttons[{index}].phone_number", button.phone_number),
            (f"buttons[{index}].example", button.example),
        ]
    texts += [(f"examples.{name}", value) for name, value in definition.examples]
    return [FieldProblem(where, "holds a NUL character") for where, text in texts if text and "\x00" in text]


def _field_of(component: str) -> str:
    """The field a component's text is in, as a client names it: ``header.text``, ``body``,
    ``buttons[1].url``."""
    if component == "header":
        return "header.text"
    if component.startswith("button:"):
        return f"buttons[{component.removeprefix('button:')}].url"
    return component


def _well_formed(name: str) -> bool:
    return bool(POSITIONAL_NAME.fullmatch(name) or NAMED_NAME.fullmatch(name))


def _is_https_url(url: str) -> bool:
    if any(character.isspace() for character in url):
        return False
    try:
        parts = urlsplit(url)
        return parts.scheme == "https" and bool(parts.hostname)
    except ValueError:  # a malformed host (an unclosed IPv6 bracket, a port that is no number)
        return False


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"
