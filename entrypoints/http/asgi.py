"""The ASGI application `serve` hands its HTTP server, uvicorn or granian (a factory:
``entrypoints.http.asgi:create_app_from_environment``), run once in each worker process."""

from __future__ import annotations

from litestar import Litestar

from entrypoints.container import create_container
from entrypoints.http.app import create_app
from entrypoints.logging_setup import configure_logging
from entrypoints.settings import load_settings


def create_app_from_environment() -> Litestar:
    settings = load_settings()
    configure_logging(settings.log_level, settings.resolved_log_format)
    return create_app(create_container(settings))
