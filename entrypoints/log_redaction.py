"""What no log line may hold, and how long one may be: the last steps before a line is written.

Tracebacks are rendered without local variables (logging_setup.py); this module is the second line of
defence, for whatever reaches a line anyway (an exception message quoting a header, a value passed as
``extra``):

- ``redact_secrets`` replaces the value of every field whose name is secret, at any depth of dicts,
  lists and tuples, and of (name, value) pairs such as ``(b"authorization", b"Bearer …")``. One rule,
  ``is_secret_field``, judges every name, of a field or in text: a word of the name ends with one of
  ``_SECRET_WORDS`` (password, token, secret, authorization, cookie, signature, a message body, …) or
  its last word with "key". In every string (the event, an exception's message) it replaces the values
  of such names (``password=…``, ``'body': '…'``, ``Authorization: Bearer …``), bearer and basic
  credentials, JWTs, our API keys and refresh tokens, passwords in URLs and SQLAlchemy's statement
  parameters. A message body in free text, with no name before it, cannot be recognised: the code
  never puts one there.
- ``BoundedRenderer`` keeps each line under a size: a long string is cut first, then a line still too
  long keeps its head and its end (where a traceback names the exception) around a marker saying how
  much was dropped; a JSON line stays one valid JSON object that says ``"truncated"``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

from structlog.typing import EventDict, Processor, WrappedLogger

from domain.identity.credentials import API_KEY_PREFIX, REFRESH_TOKEN_PREFIX

REDACTED = "[redacted]"

# Docker's json-file and journald split longer lines, and a collector then sees the pieces as lines.
MAX_LINE_CHARS = 16_000
# One value (the event, an exception's message, an extra field): enough for an SQL statement.
MAX_VALUE_CHARS = 4_000

# The one rule for names, of a field or in text ("password=…", "'token': …", "Authorization: …"): a name
# is secret when one of its words (split at "_", "-", ".", spaces and changes of case) ends with one of
# these, singular or plural: "new_password", "newPassword", "accesstoken", "client_secrets". "key" only
# in the last word, so that "key_id" (an id, which is useful) stays.
_SECRET_WORDS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "jwt",
    "authorization",
    "cookie",
    "credential",
    "signature",
    "body",
    "bodies",
)
_SECRET_LAST_WORDS = ("key",)
_SECRET_WORD = re.compile(rf"[a-z0-9]*(?:{'|'.join(_SECRET_WORDS)})s?")
_SECRET_LAST_WORD = re.compile(rf"[a-z0-9]*(?:{'|'.join(_SECRET_LAST_WORDS)})s?")
# "APIKey" -> API, Key; "authToken" -> auth, Token; "x-api-key" -> x, api, key
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
# Local variables, should a traceback bring them back: dropped whole.
_DROPPED_FIELDS = frozenset({"locals"})

# Headers whose whole line is a credential (a Cookie line holds several pairs), as an exception's
# message may quote them; each is a secret name by the rule above too.
_SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "x-twilio-signature",
        "x-hub-signature",
        "x-hub-signature-256",
        "webhook-signature",
    }
)
_HEADER_NAMES = "|".join(re.escape(name) for name in sorted(_SECRET_HEADERS, key=len, reverse=True))
# Schemes whose credential follows them: "Authorization: Basic dXNlcjpwYXNz".
_SCHEMES = "bearer|basic"
# A name in text that may be secret (it holds one of the words); is_secret_field decides.
_CANDIDATE_NAME = rf"[\w.-]*(?:{'|'.join(_SECRET_WORDS + _SECRET_LAST_WORDS)})[\w.-]*"
# Cheap test first, on the lowercased text (a case-insensitive search is ten times slower): most lines
# hold none of these, and are left as they are.
_SUSPECT = re.compile(
    "|".join(
        re.escape(literal.lower())
        for literal in (
            *_SECRET_WORDS,
            *_SECRET_LAST_WORDS,
            *_SCHEMES.split("|"),
            "eyJ",
            API_KEY_PREFIX,
            REFRESH_TOKEN_PREFIX,
            "[parameters:",
        )
    )
    + r"|://[^\s/]*@"
)


def _redact_if_secret_name(match: re.Match[str]) -> str:
    """For the patterns of a (name, value): the value replaced when the name is secret."""
    if not is_secret_field(match["name"]):
        return match[0]
    return f"{match['before']}{match['scheme'] or ''}{REDACTED}{match['after'] or ''}"


# (pattern, replacement), in order: the header forms before the generic name=value pairs.
_TEXT_RULES: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    # ("authorization", "Bearer …") and (b'cookie', b'…') pairs, as an ASGI scope's repr shows them
    (
        re.compile(
            rf"""(?i)(?P<before>b?(['"])(?P<name>{_CANDIDATE_NAME})\2\s*,\s*b?(?P<quote>['"]))"""
            r"""(?P<scheme>)(?:\\.|(?!(?P=quote)).)*(?P<after>(?P=quote))"""
        ),
        _redact_if_secret_name,
    ),
    # "Authorization: …" and "Cookie: …" header lines, to the end of the line
    (re.compile(rf"(?im)^(\s*(?:{_HEADER_NAMES})\s*:\s*)\S.*$"), rf"\1{REDACTED}"),
    # password=…, "token": "…", secret: '…', Authorization: Bearer … (a quoted value whole, else up to
    # a separator or a quote)
    (
        re.compile(
            rf"""(?i)(?P<before>(?<![\w.-])['"]?(?P<name>{_CANDIDATE_NAME})['"]?\s*[:=]\s*)"""
            rf"""(?P<scheme>(?>(?:{_SCHEMES})\s+)?)(?!\[redacted\])"""
            r"""(?:b?"(?:\\.|[^"\\])*"|b?'(?:\\.|[^'\\])*'|[^\s,;&)}\]'"]+)(?P<after>)"""
        ),
        _redact_if_secret_name,
    ),
    # a credential after its scheme (8 characters at least: "Bearer error=..." is a challenge, not one)
    (re.compile(rf"(?i)\b({_SCHEMES})(\s+)[A-Za-z0-9._~+/=-]{{8,}}"), rf"\1\2{REDACTED}"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED),
    # an API key keeps its visible prefix, which names it (and is shown in the API anyway)
    (
        re.compile(rf"\b({re.escape(API_KEY_PREFIX)}[0-9a-f]{{12}}_)[A-Za-z0-9_-]+"),
        rf"\1{REDACTED}",
    ),
    (re.compile(rf"\b({re.escape(REFRESH_TOKEN_PREFIX)})[A-Za-z0-9_-]+"), rf"\1{REDACTED}"),
    # scheme://user:password@host (the scheme read from its start: a scan from each of its characters
    # would take quadratic time on a long dotted run)
    (re.compile(r"((?<![\w+.-])[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@"), rf"\1{REDACTED}@"),
    # SQLAlchemy's "[parameters: …]" (the engine hides them; this is for any other engine)
    (re.compile(r"\[parameters: [^\n]*"), f"[parameters: {REDACTED}]"),
)


# Field names repeat (the same dozen on every line): each is judged once.
@functools.lru_cache(maxsize=4096)
def is_secret_field(name: str) -> bool:
    words = [word.lower() for word in _WORDS.findall(name)]
    if not words:
        return False
    return any(_SECRET_WORD.fullmatch(word) for word in words) or bool(_SECRET_LAST_WORD.fullmatch(words[-1]))


def redact_text(text: str) -> str:
    if not _SUSPECT.search(text.lower()):
        return text
    for pattern, replacement in _TEXT_RULES:
        text = pattern.sub(replacement, text)
    return text


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} characters cut]"


def redacted(value: Any, *, max_chars: int = MAX_VALUE_CHARS) -> Any:
    """``value`` without secrets: containers rebuilt, strings scrubbed and cut, other objects as their
    scrubbed ``repr`` (which is what a renderer would have written)."""
    if type(value) is str:  # most values of most lines: no isinstance chain for them
        return _cut(redact_text(value), max_chars)
    if isinstance(value, Mapping):
        return {
            str(key): REDACTED if is_secret_field(str(key)) else redacted(item, max_chars=max_chars)
            for key, item in value.items()
            if str(key) not in _DROPPED_FIELDS
        }
    if isinstance(value, list | tuple | set | frozenset):
        if isinstance(value, tuple) and len(value) == 2 and _is_secret_name(value[0]):
            return (redacted(value[0]), REDACTED)
        return [redacted(item, max_chars=max_chars) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, bytes | bytearray):
        text = bytes(value).decode("utf-8", "replace")
    else:
        text = value if isinstance(value, str) else repr(value)
    return _cut(redact_text(text), max_chars)


def _is_secret_name(name: object) -> bool:
    """For a (name, value) pair such as a header: ``(b"authorization", b"Bearer …")``."""
    if isinstance(name, bytes | bytearray):
        name = bytes(name).decode("latin-1")
    return isinstance(name, str) and is_secret_field(name)


# Rendered tracebacks: never cut here, where their end (the exception itself) would go first;
# BoundedRenderer keeps the head and the end of a line that is too long.
_TRACEBACK_FIELDS = frozenset({"exception", "stack"})


def redact_secrets(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """A structlog processor: run it after the exception is rendered (to a dict or a string)."""
    clean: EventDict = {}
    for key, value in event_dict.items():
        if key in _DROPPED_FIELDS:
            continue
        if key != "event" and is_secret_field(key):
            clean[key] = REDACTED
        elif key in _TRACEBACK_FIELDS and isinstance(value, str):
            clean[key] = redact_text(value)
        else:
            clean[key] = redacted(value)
    return clean


# What a truncated JSON line keeps besides its exception's outline.
_KEPT_FIELDS = ("timestamp", "level", "logger", "event", "request_id", "job_id", "message_id")


class BoundedRenderer:
    """Render with ``renderer``; a line longer than ``max_chars`` is shortened, with a marker."""

    def __init__(
        self,
        renderer: Processor,
        log_format: Literal["json", "console"],
        *,
        max_chars: int = MAX_LINE_CHARS,
    ) -> None:
        if max_chars < 1_000:
            raise ValueError("a log line limit below 1,000 characters would cut every traceback")
        self._renderer = renderer
        self._format = log_format
        self._max_chars = max_chars

    def __call__(self, logger: WrappedLogger, name: str, event_dict: EventDict) -> str:
        line = self._render(logger, name, event_dict)
        if len(line) <= self._max_chars:
            return line
        if self._format == "json":
            return self._shortened_json(logger, name, event_dict, len(line))
        return self._shortened_console(logger, name, event_dict)

    def _render(self, logger: WrappedLogger, name: str, event_dict: EventDict) -> str:
        rendered = self._renderer(logger, name, dict(event_dict))
        if isinstance(rendered, bytes | bytearray):
            return bytes(rendered).decode()
        return rendered if isinstance(rendered, str) else str(rendered)

    def _shortened_json(self, logger: WrappedLogger, name: str, event_dict: EventDict, length: int) -> str:
        budget = self._max_chars // 4
        kept: EventDict = {
            key: _cut(value, budget) if isinstance(value, str) else value
            for key in _KEPT_FIELDS
            if (value := event_dict.get(key)) is not None
        }
        exception = event_dict.get("exception")
        if exception is not None:
            kept["exception"] = _exception_outline(exception, budget)
        kept["truncated"] = f"the line had {length} characters; fields beyond these were dropped"
        line = self._render(logger, name, kept)
        if len(line) <= self._max_chars:
            return line
        # Only an absurd request id or logger name gets here: the bare minimum, which always fits.
        minimal = {
            "level": str(event_dict.get("level", ""))[:20],
            "event": _cut(str(event_dict.get("event", "")), budget),
            "truncated": f"the line had {length} characters",
        }
        return self._render(logger, name, minimal)

    def _shortened_console(self, logger: WrappedLogger, name: str, event_dict: EventDict) -> str:
        # Every field kept (the request id among them), each one short; then, if the traceback alone
        # is too long, its head and its end.
        short: EventDict = {
            key: value
            if key in _TRACEBACK_FIELDS or value is None or isinstance(value, bool | int | float)
            else _cut(value if isinstance(value, str) else repr(value), _SHORT_VALUE_CHARS)
            for key, value in event_dict.items()
        }
        return _head_and_tail(self._render(logger, name, short), self._max_chars)


_SHORT_VALUE_CHARS = 200


def _exception_outline(exception: Any, budget: int) -> Any:
    """An exception as ``dict_tracebacks`` renders it, with short messages and the innermost frames."""
    if isinstance(exception, str):
        return _head_and_tail(exception, budget)
    if not isinstance(exception, list):
        return _cut(repr(exception), budget)
    outline = []
    share = max(200, budget // max(1, len(exception)))
    for stack in exception[-4:]:
        if not isinstance(stack, dict):
            continue
        frames = stack.get("frames") or []
        outline.append(
            {
                "exc_type": stack.get("exc_type"),
                "exc_value": _cut(str(stack.get("exc_value", "")), share),
                # where it happened: the last frames, each under a line of text
                "frames": [
                    {key: frame.get(key) for key in ("filename", "lineno", "name")}
                    for frame in frames[-5:]
                    if isinstance(frame, dict)
                ],
            }
        )
    return outline


def _head_and_tail(text: str, limit: int) -> str:
    """The first two thirds and the last third of what fits, around a marker."""
    if len(text) <= limit:
        return text
    # The marker's length with the longest count it can hold: the result never exceeds ``limit``.
    room = limit - len(_marker(len(text), len(text)))
    head = room * 2 // 3
    tail = room - head
    return text[:head] + _marker(len(text) - head - tail, len(text)) + text[len(text) - tail :]


def _marker(dropped: int, total: int) -> str:
    return f"\n… [log line truncated: {dropped} of {total} characters dropped] …\n"
