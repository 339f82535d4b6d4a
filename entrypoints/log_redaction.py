"""What no log line may hold, and how long one may be: the last steps before a line is written.

Tracebacks are rendered without local variables (logging_setup.py); this module is the second line of
defence, for whatever reaches a line anyway (an exception message quoting a header, a value passed as
``extra``):

- ``redact_secrets`` replaces the value of every field named like a secret (password, token, secret,
  key, authorization, cookie, credentials, signature, a message body), at any depth of dicts, lists and
  tuples, and header pairs such as ``(b"authorization", b"Bearer …")``; in every string (the event, an
  exception's message) it replaces bearer credentials, JWTs, our API keys and refresh tokens,
  ``password=…``-style pairs, passwords in URLs and SQLAlchemy's statement parameters. A message body
  in free text cannot be recognised: the code never puts one there.
- ``BoundedRenderer`` keeps each line under a size: a long string is cut first, then a line still too
  long keeps its head and its end (where a traceback names the exception) around a marker saying how
  much was dropped; a JSON line stays one valid JSON object that says ``"truncated"``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from structlog.typing import EventDict, Processor, WrappedLogger

from domain.access import API_KEY_PREFIX, REFRESH_TOKEN_PREFIX

REDACTED = "[redacted]"

# Docker's json-file and journald split longer lines, and a collector then sees the pieces as lines.
MAX_LINE_CHARS = 16_000
# One value (the event, an exception's message, an extra field): enough for an SQL statement.
MAX_VALUE_CHARS = 4_000

# A field is secret when one of the words of its name (split at "_", "-" and "."; any case) is one of
# these; "key" only as the last word, so that "key_id" (an id, which is useful) stays.
_SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "secret",
        "secrets",
        "token",
        "tokens",
        "authorization",
        "cookie",
        "cookies",
        "credential",
        "credentials",
        "signature",
        "body",
        "jwt",
    }
)
_SECRET_LAST_WORDS = frozenset({"key", "keys"})
# Local variables, should a traceback bring them back: dropped whole.
_DROPPED_FIELDS = frozenset({"locals"})
_WORD_SEPARATORS = re.compile(r"[_.\-\s]+")

# Headers whose value is a credential, as they appear in an ASGI scope or its repr.
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
_SENSITIVE_NAMES = (
    r"[\w.-]*(?:password|passwd|passphrase|secret|token|authorization|cookie|credentials?|signature"
    r"|api[_-]?key|private[_-]?key|auth[_-]?key)[\w.-]*"
)

# Cheap test first: most lines hold none of these, and are left as they are.
_SUSPECT = re.compile(
    r"(?i)bearer|basic\s|eyJ|"
    + re.escape(API_KEY_PREFIX)
    + "|"
    + re.escape(REFRESH_TOKEN_PREFIX)
    + r"|pass|secret|token|authorization|cookie|credential|signature|api[_-]?key|private|://[^\s/]*@"
    + r"|\[parameters:"
)
# (pattern, replacement), in order: the header forms before the generic name=value pairs.
_TEXT_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # ("authorization", "Bearer …") and (b'cookie', b'…') pairs, as an ASGI scope's repr shows them
    (
        re.compile(rf"""(?i)(b?(['"])(?:{_HEADER_NAMES})\2\s*,\s*b?)(['"])(?:\\.|(?!\3).)*\3"""),
        rf"\1\3{REDACTED}\3",
    ),
    # "Authorization: …" and "Cookie: …" header lines, to the end of the line
    (re.compile(rf"(?im)^(\s*(?:{_HEADER_NAMES})\s*:\s*)\S.*$"), rf"\1{REDACTED}"),
    # password=…, "token": "…", secret: '…' (a quoted value whole, else up to a separator)
    (
        re.compile(
            rf"""(?i)((?<![\w-])['"]?{_SENSITIVE_NAMES}['"]?\s*[:=]\s*)(?!\[redacted\])"""
            r"""(?:b?"(?:\\.|[^"\\])*"|b?'(?:\\.|[^'\\])*'|[^\s,;&)}\]]+)"""
        ),
        rf"\1{REDACTED}",
    ),
    # a credential after its scheme (8 characters at least: "Bearer error=..." is a challenge, not one)
    (re.compile(r"\b((?i:bearer)|Basic)(\s+)[A-Za-z0-9._~+/=-]{8,}"), rf"\1\2{REDACTED}"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED),
    # an API key keeps its visible prefix, which names it (and is shown in the API anyway)
    (
        re.compile(rf"\b({re.escape(API_KEY_PREFIX)}[0-9a-f]{{12}}_)[A-Za-z0-9_-]+"),
        rf"\1{REDACTED}",
    ),
    (re.compile(rf"\b({re.escape(REFRESH_TOKEN_PREFIX)})[A-Za-z0-9_-]+"), rf"\1{REDACTED}"),
    # scheme://user:password@host
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@"), rf"\1{REDACTED}@"),
    # SQLAlchemy's "[parameters: …]" (the engine hides them; this is for any other engine)
    (re.compile(r"\[parameters: [^\n]*"), f"[parameters: {REDACTED}]"),
)


def is_secret_field(name: str) -> bool:
    words = [word for word in _WORD_SEPARATORS.split(name.lower()) if word]
    if not words:
        return False
    return any(word in _SECRET_WORDS for word in words) or words[-1] in _SECRET_LAST_WORDS


def redact_text(text: str) -> str:
    if not _SUSPECT.search(text):
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
    if isinstance(value, Mapping):
        return {
            str(key): REDACTED if is_secret_field(str(key)) else redacted(item, max_chars=max_chars)
            for key, item in value.items()
            if str(key) not in _DROPPED_FIELDS
        }
    if isinstance(value, list | tuple | set | frozenset):
        if isinstance(value, tuple) and len(value) == 2 and _is_secret_header(value[0]):
            return (redacted(value[0]), REDACTED)
        return [redacted(item, max_chars=max_chars) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, bytes | bytearray):
        text = bytes(value).decode("utf-8", "replace")
    else:
        text = value if isinstance(value, str) else repr(value)
    return _cut(redact_text(text), max_chars)


def _is_secret_header(name: object) -> bool:
    if isinstance(name, bytes | bytearray):
        name = bytes(name).decode("latin-1")
    return isinstance(name, str) and name.lower() in _SECRET_HEADERS


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
