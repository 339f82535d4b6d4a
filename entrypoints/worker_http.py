"""A worker's own small HTTP server: ``/healthz`` for its supervisor, ``/metrics`` for Prometheus.

A ``wa-gateway worker`` answers no API, but its dispatches (provider calls, statuses) are counted in its
own process, so Prometheus scrapes it too. aiohttp (already what the Twilio adapter speaks) serves it on
the worker's event loop, without touching its signal handling.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from entrypoints.container import Container
from entrypoints.observability import may_read_metrics, scrape

logger = logging.getLogger(__name__)


def worker_http_app(container: Container) -> web.Application:
    token = container.settings().metrics_token

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def metrics(request: web.Request) -> web.Response:
        if not may_read_metrics(token, request.headers.get("Authorization")):
            return web.json_response(
                {"type": "/problems/unauthorized", "title": "Unauthorized", "status": 401},
                status=401,
                content_type="application/problem+json",
                headers={"WWW-Authenticate": "Bearer"},
            )
        body, content_type = await scrape(container)
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type
        return response

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


@contextlib.asynccontextmanager
async def worker_http(container: Container, host: str, port: int) -> AsyncIterator[None]:
    runner = web.AppRunner(worker_http_app(container), handle_signals=False, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        logger.info("worker serving /healthz and /metrics on %s:%d", host, port)
        yield
    finally:
        await runner.cleanup()
