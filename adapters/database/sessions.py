"""Login sessions and their refresh tokens on SQLAlchemy Core."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from adapters.database.repository import SqlAlchemyRepository
from adapters.database.rows import labelled, tenant_from_row, unprefixed, user_from_row
from adapters.database.tables import auth_sessions, refresh_tokens, tenants, users
from application.ports.identity import SessionAccess
from domain.identity.credentials import AuthSession, RefreshToken, RevocationReason

# The prefixes of each table's columns in the joined row (rows.labelled).
_SESSION = "s_"
_USER = "u_"
_TENANT = "t_"

# Built once: the per-request check runs it on every authenticated request.
_ACCESS_BY_SESSION = (
    sa.select(*labelled(auth_sessions, _SESSION), *labelled(users, _USER), *labelled(tenants, _TENANT))
    .select_from(auth_sessions)
    .join(users, users.c.id == auth_sessions.c.user_id)
    .join(tenants, tenants.c.id == users.c.tenant_id)
    .where(auth_sessions.c.id == sa.bindparam("session_id"))
)


class SqlAlchemySessionRepository(SqlAlchemyRepository):
    async def add(self, session: AuthSession) -> None:
        await self._scope.bind(session.tenant_id)
        await self._execute(
            sa.insert(auth_sessions).values(
                id=session.id,
                user_id=session.user_id,
                tenant_id=session.tenant_id,
                created_at=session.created_at,
                expires_at=session.expires_at,
                revoked_at=session.revoked_at,
                revoked_reason=session.revoked_reason.value if session.revoked_reason else None,
            )
        )

    async def get_access(self, session_id: UUID) -> SessionAccess | None:
        """Three primary-key lookups joined in one statement: the per-request check of a token."""
        await self._scope.cross_tenant()
        row = await self._one_or_none(_ACCESS_BY_SESSION, {"session_id": session_id})
        if row is None:
            return None
        return SessionAccess(
            session=_session_from_row(unprefixed(row, _SESSION)),
            user=user_from_row(unprefixed(row, _USER)),
            tenant=tenant_from_row(unprefixed(row, _TENANT)),
        )

    async def revoke(self, session_id: UUID, now: datetime, reason: RevocationReason) -> None:
        await self._scope.by_key()
        await self._execute(
            sa.update(auth_sessions)
            .where(auth_sessions.c.id == session_id, auth_sessions.c.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason.value)
        )

    async def revoke_for_user(self, user_id: UUID, now: datetime, reason: RevocationReason) -> int:
        await self._scope.by_key()
        result = await self._execute(
            sa.update(auth_sessions)
            .where(auth_sessions.c.user_id == user_id, auth_sessions.c.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason.value)
        )
        return int(result.rowcount)

    async def revoke_for_tenant(self, tenant_id: UUID, now: datetime, reason: RevocationReason) -> int:
        await self._scope.bind(tenant_id)
        result = await self._execute(
            sa.update(auth_sessions)
            .where(auth_sessions.c.tenant_id == tenant_id, auth_sessions.c.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason.value)
        )
        return int(result.rowcount)

    async def add_refresh_token(self, token: RefreshToken) -> None:
        await self._scope.by_key()
        await self._execute(
            sa.insert(refresh_tokens).values(
                token_hash=token.token_hash,
                session_id=token.session_id,
                created_at=token.created_at,
                used_at=token.used_at,
            ),
            conflict="the refresh token exists already",
        )

    async def get_refresh_token(self, token_hash: str) -> RefreshToken | None:
        await self._scope.cross_tenant()
        row = await self._one_or_none(
            sa.select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash)
        )
        if row is None:
            return None
        return RefreshToken(
            token_hash=row["token_hash"],
            session_id=row["session_id"],
            created_at=row["created_at"],
            used_at=row["used_at"],
        )

    async def use_refresh_token(self, token_hash: str, now: datetime) -> bool:
        await self._scope.by_key()
        result = await self._execute(
            sa.update(refresh_tokens)
            .where(refresh_tokens.c.token_hash == token_hash, refresh_tokens.c.used_at.is_(None))
            .values(used_at=now)
        )
        return result.rowcount == 1

    async def purge_expired(self, now: datetime) -> int:
        await self._scope.cross_tenant()
        expired = sa.select(auth_sessions.c.id).where(auth_sessions.c.expires_at < now)
        # Explicitly, not through ON DELETE CASCADE: the result must not depend on a connection pragma.
        await self._execute(sa.delete(refresh_tokens).where(refresh_tokens.c.session_id.in_(expired)))
        result = await self._execute(sa.delete(auth_sessions).where(auth_sessions.c.expires_at < now))
        return int(result.rowcount)


def _session_from_row(row: RowMapping) -> AuthSession:
    reason = row["revoked_reason"]
    return AuthSession(
        id=row["id"],
        user_id=row["user_id"],
        tenant_id=row["tenant_id"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        revoked_reason=RevocationReason(reason) if reason else None,
    )
