"""The bridge from the container to the routes: each route gets the use case its signature names."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from litestar.handlers import HTTPRouteHandler

from tests.support.api import unstarted_app


async def test_every_use_case_a_route_takes_from_the_container_is_of_the_type_it_declares(
    tmp_path: Path,
) -> None:
    # An accessor naming the wrong provider (or none) would otherwise show only when the route is called.
    app = unstarted_app(tmp_path)
    checked, wrong = 0, []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if not isinstance(handler, HTTPRouteHandler):
                continue
            for name, dependency in handler.resolve_dependencies().items():
                parameter = handler.parsed_fn_signature.parameters.get(name)
                if name == "principal" or parameter is None:
                    continue
                value = await dependency.dependency(SimpleNamespace(app=app))
                checked += 1
                if not isinstance(value, parameter.annotation):
                    wrong.append(f"{route.path} {name}: {type(value).__name__}")
    assert checked > 30
    assert wrong == []
