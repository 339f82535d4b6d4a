from __future__ import annotations

from application.ports import UnitOfWork


class CheckReadiness:
    """Ready means the database answers; raises StorageUnavailable otherwise."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self) -> None:
        async with self._uow:
            await self._uow.ping()
