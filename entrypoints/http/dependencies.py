"""The one bridge from Litestar's dependency injection to the container.

A controller names each use case it takes by the container's provider of it::

    dependencies = {"send_message": provide(lambda c: c.send_message)}

The accessor is typed (mypy knows that ``c.send_message`` makes a ``SendMessage``), and it is called
on every request: a provider a test overrides after the app is built is the one that answers.
(Litestar cannot take the provider itself: its signature model refuses it.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from dependency_injector import providers
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import Provide

from entrypoints.container import Container

T = TypeVar("T")


def container_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Container:
    """The container ``create_app`` was given."""
    container: Container = connection.app.state.container
    return container


def provide(accessor: Callable[[Container], providers.Provider[T]]) -> Provide:
    """A Litestar dependency: what the container's provider ``accessor`` picks makes, per request."""

    async def from_container(request: Request[Any, Any, Any]) -> T:
        return accessor(container_of(request))()

    return Provide(from_container)
