"""Logs: one JSON object a line (production) or readable console lines (development), through structlog.

Our modules log with the standard library (``logging.getLogger(__name__)``; the core stays free of
logging libraries), entrypoints may use structlog's loggers; both go through one handler on the root
logger, rendered by structlog, and so do the HTTP server's (uvicorn's or granian's), SQLAlchemy's and
Python warnings. Every line carries what ``application.log_context`` has bound: the request id, the
dispatch job and its message.

No line holds a secret: tracebacks are rendered without local variables in both formats (structlog's
defaults, and Rich's, show every frame's locals: a request's scope with its bearer token, a login's
password), then ``redact_secrets`` scrubs what is left, and ``BoundedRenderer`` bounds the line's
length (log_redaction.py).
"""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from application.log_context import current_log_context
from entrypoints.log_redaction import MAX_LINE_CHARS, BoundedRenderer, redact_secrets

# Loggers kept at WARNING whatever LOG_LEVEL says: the Twilio SDK logs each request's URL (its query
# holds phone numbers) and headers and each response's headers at INFO, through "twilio" or the logger
# our Twilio HTTP client hands it; SQLAlchemy's engine logs SQL and parameters.
QUIET_LOGGERS = ("twilio", "wa_gateway.twilio", "sqlalchemy", "aiosqlite", "asyncio", "httpx", "httpcore")


def add_log_context(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    for key, value in current_log_context().items():
        event_dict.setdefault(key, value)
    return event_dict


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        add_log_context,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _drop_color_message(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    # uvicorn puts a second, ANSI-coloured copy of its messages in "color_message".
    event_dict.pop("color_message", None)
    return event_dict


# The frames kept of each exception's stack (the outermost and the innermost halves).
MAX_TRACEBACK_FRAMES = 30


def _rendering(log_format: Literal["json", "console"], max_line_chars: int) -> list[Processor]:
    """The exception rendered without locals, the secrets redacted, the line rendered and bounded."""
    if log_format == "json":
        exceptions = structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(
                show_locals=False, max_frames=MAX_TRACEBACK_FRAMES, use_rich=False
            )
        )
        renderer: Processor = structlog.processors.JSONRenderer()
    else:
        # Python's own traceback text (file, line, function, source line): no locals. The renderer's
        # formatter is set to the same in case an exception ever reaches it unrendered.
        exceptions = structlog.processors.ExceptionRenderer()
        renderer = structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    return [exceptions, redact_secrets, BoundedRenderer(renderer, log_format, max_chars=max_line_chars)]


def configure_logging(
    level: str,
    log_format: Literal["json", "console"] = "console",
    *,
    stream: TextIO | None = None,
    max_line_chars: int = MAX_LINE_CHARS,
) -> None:
    """Route every logger through structlog; ``stream`` defaults to stderr."""
    shared = _shared_processors()
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, _drop_color_message],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *_rendering(log_format, max_line_chars),
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # The HTTP servers' loggers (uvicorn's; granian's, "_granian" as its Rust core names it): no handlers
    # of their own, so their lines go through ours. Their access logs stay off: the request middleware
    # logs each request, with its id and route (uvicorn logs access only when that logger has a handler
    # somewhere; granian is started without its access log).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "_granian", "granian.access"):
        server_logger = logging.getLogger(name)
        server_logger.handlers.clear()
        server_logger.setLevel(logging.NOTSET)  # LOG_LEVEL (each server sets its own from it)
        server_logger.propagate = not name.endswith(".access")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    logging.captureWarnings(True)
