"""What every log line carries while a piece of work runs: the request id, the job, the message.

Plain ``contextvars``, so the core stays free of any logging library: entrypoints bind the request id,
the dispatcher binds the job it runs, and the logging setup adds whatever is bound to each line. An
asyncio task started inside a bound block (an inline dispatch) inherits it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType

_EMPTY: Mapping[str, str] = MappingProxyType({})
_context: ContextVar[Mapping[str, str]] = ContextVar("wa_gateway_log_context", default=_EMPTY)


@contextmanager
def log_context(**values: str) -> Iterator[None]:
    """Add ``values`` to every log line written until the block ends (nested blocks add to it)."""
    token = _context.set(MappingProxyType({**_context.get(), **values}))
    try:
        yield
    finally:
        _context.reset(token)


def current_log_context() -> Mapping[str, str]:
    return _context.get()
