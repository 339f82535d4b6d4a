"""Tenants, users, sessions and API keys, as the access repositories' tests write them
(contract/test_access_repositories.py, and the tests that build on it)."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import uuid4

from domain.administration.tenancy import ProviderName, Role, Tenant, User
from domain.identity.credentials import (
    ApiKey,
    AuthSession,
    RefreshToken,
    hash_secret,
    new_api_key_secret,
    new_refresh_token,
)
from tests.support.databases import UowFactory
from tests.support.repositories import T0

LIFETIME = timedelta(days=14)


async def add_tenant(uow_factory: UowFactory, name: str | None = None) -> Tenant:
    tenant = Tenant(name=name or f"tenant {uuid4().hex[:8]}", provider=ProviderName.SANDBOX, created_at=T0)
    async with uow_factory() as uow:
        await uow.tenants.add(tenant)
        await uow.commit()
    return tenant


async def add_user(uow_factory: UowFactory, tenant: Tenant, role: Role = Role.AGENT) -> User:
    user = User(
        tenant_id=tenant.id, username=f"user-{uuid4().hex[:8]}", password_hash="h", created_at=T0, role=role
    )
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.commit()
    return user


async def open_session(uow_factory: UowFactory, user: User, at: datetime = T0) -> tuple[AuthSession, str]:
    session = AuthSession(user_id=user.id, tenant_id=user.tenant_id, created_at=at, expires_at=at + LIFETIME)
    token = new_refresh_token()
    async with uow_factory() as uow:
        await uow.sessions.add(session)
        await uow.sessions.add_refresh_token(
            RefreshToken(token_hash=hash_secret(token), session_id=session.id, created_at=at)
        )
        await uow.commit()
    return session, token


def new_key(tenant: Tenant, role: Role = Role.AGENT, at: datetime = T0) -> tuple[ApiKey, str]:
    secret = new_api_key_secret()
    key = ApiKey(
        tenant_id=tenant.id,
        name="orders",
        prefix=secret.prefix,
        secret_hash=secret.secret_hash,
        role=role,
        created_at=at,
    )
    return key, secret.key
