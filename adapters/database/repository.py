"""What every repository on SQLAlchemy Core shares: the transaction it works in, and statements run so
that callers only ever see application errors.

Each repository works on the connection of one unit of work and never commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult, RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from adapters.database.errors import translated_errors
from adapters.database.tables import ACCESS_TABLES, CATALOGUE_TABLES, SIGNER_TABLES
from adapters.database.tenant_scope import TenantScope
from adapters.security.secret_box import SecretBox

TENANT_MISSING = "the tenant does not exist"


@dataclass(frozen=True, slots=True)
class Transaction:
    """The transaction a repository works in, shared by all the repositories of one unit of work."""

    connection: AsyncConnection
    # One tenant per transaction (see tenant_scope.py).
    scope: TenantScope
    # Opens and seals the secrets some rows hold (sealed_secrets.py).
    secret_box: SecretBox


class SqlAlchemyRepository:
    """The base of every repository: ``_execute`` and its shorthands, for the subclasses."""

    def __init__(self, transaction: Transaction) -> None:
        self._connection = transaction.connection
        self._scope = transaction.scope

    async def _execute(
        self,
        statement: Executable,
        parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        *,
        conflict: str = "the record exists already",
        signers_unchanged: bool = False,
    ) -> CursorResult[Any]:
        """``parameters`` fill the ``bindparam``s of a statement built once (building one per call
        costs more CPU than its round trip, on the hot paths); a list of them runs it for each
        (executemany). ``signers_unchanged``: a write to a table of SIGNER_TABLES that sets none of
        what decides who signs provider callbacks, whom Meta's are for or whom a send goes from (a
        sender's pause or label: the triggers of migrations 0029 to 0031 stay silent for them too)."""
        if isinstance(statement, sa.Update | sa.Delete) and statement.table in ACCESS_TABLES:
            self._scope.changed_access = True
        if (
            isinstance(statement, sa.Insert | sa.Update | sa.Delete)
            and statement.table in SIGNER_TABLES
            and not signers_unchanged
        ):
            self._scope.changed_signers = True
        if isinstance(statement, sa.Insert | sa.Update | sa.Delete) and statement.table in CATALOGUE_TABLES:
            self._scope.changed_catalogue = True
        with translated_errors(conflict=conflict, missing_reference=TENANT_MISSING):
            return await self._connection.execute(statement, parameters)

    async def _one_or_none(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> RowMapping | None:
        return (await self._execute(statement, parameters)).mappings().one_or_none()

    async def _bound_one_or_none(
        self,
        tenant_id: UUID,
        statement: sa.Select[Any],
        parameters: Mapping[str, Any],
        conflict: str = "the record exists already",
    ) -> RowMapping | None:
        """``statement``'s row in ``tenant_id``'s scope; when the transaction has yet to begin, its BEGIN,
        the tenant setting and the statement go in one round trip (instead of two)."""
        rows = await self._scope.bind_and_read(tenant_id, statement, parameters, conflict=conflict)
        if rows is None:  # a tenant is bound already: the statement goes as any other
            await self._scope.bind(tenant_id)
            return await self._one_or_none(statement, parameters)
        return cast(RowMapping, rows[0]) if rows else None
