"""The access cache's own rules, without a database: what it serves, for how long, and when not at all.
Its notifications from PostgreSQL are tested in tests/integration/test_access_cache.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from adapters.database.access_cache import NO_ACCESS_CACHE, ListeningAccessCache, libpq_url
from application.ports.identity import SessionAccess
from domain.administration.tenancy import ProviderName, Role, Tenant, User
from domain.identity.credentials import AuthSession

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


class Ticking:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def an_access() -> SessionAccess:
    tenant = Tenant(name="Acme", provider=ProviderName.SANDBOX, created_at=NOW)
    user = User(tenant_id=tenant.id, username="ana", password_hash="x", created_at=NOW, role=Role.AGENT)
    session = AuthSession(
        user_id=user.id, tenant_id=tenant.id, created_at=NOW, expires_at=NOW + timedelta(days=1)
    )
    return SessionAccess(session=session, user=user, tenant=tenant)


def listening_cache(clock: Ticking, *, ttl_seconds: float, max_entries: int = 10_000) -> ListeningAccessCache:
    cache = ListeningAccessCache(
        "postgresql+psycopg://app@db/gateway",
        ttl_seconds=ttl_seconds,
        max_entries=max_entries,
        monotonic=clock,
    )
    cache._listening = True  # what run() sets once LISTEN is in place
    return cache


def test_nothing_is_served_or_kept_while_the_cache_is_not_listening() -> None:
    cache = ListeningAccessCache("postgresql+psycopg://app@db/gateway", ttl_seconds=60)
    access = an_access()

    assert cache.version() is None
    cache.put(access.session.id, access, 0)
    assert cache.get(access.session.id) is None


def test_a_kept_check_is_served_until_its_ttl_and_not_after() -> None:
    clock = Ticking()
    cache = listening_cache(clock, ttl_seconds=60)
    access = an_access()
    version = cache.version()
    assert version is not None

    cache.put(access.session.id, access, version)
    clock.now += 59.9
    assert cache.get(access.session.id) == access
    clock.now += 0.1
    assert cache.get(access.session.id) is None


def test_a_change_empties_the_cache_and_refuses_checks_read_before_it() -> None:
    cache = listening_cache(Ticking(), ttl_seconds=60)
    access, other = an_access(), an_access()
    read_before = cache.version()
    assert read_before is not None
    cache.put(access.session.id, access, read_before)

    cache.invalidate()
    cache.put(other.session.id, other, read_before)  # its query began before the change

    assert cache.get(access.session.id) is None
    assert cache.get(other.session.id) is None
    assert cache.version() != read_before


def test_a_change_of_senders_or_accounts_moves_the_signers_version_and_keeps_the_session_checks() -> None:
    cache = listening_cache(Ticking(), ttl_seconds=60)
    access = an_access()
    version, signers_before = cache.version(), cache.signers_version()
    assert version is not None
    assert signers_before is not None
    cache.put(access.session.id, access, version)

    for table in ("senders", "provider_accounts"):
        cache._heard(table)

    assert cache.signers_version() == signers_before + 2
    assert cache.version() == version
    assert cache.get(access.session.id) == access


def test_a_change_of_access_empties_the_cache_and_keeps_the_signers_version() -> None:
    cache = listening_cache(Ticking(), ttl_seconds=60)
    access = an_access()
    version, signers_before = cache.version(), cache.signers_version()
    assert version is not None
    cache.put(access.session.id, access, version)

    cache._heard("auth_sessions")

    assert cache.get(access.session.id) is None
    assert cache.version() != version
    assert cache.signers_version() == signers_before


def test_a_change_committed_in_this_process_moves_the_signers_version() -> None:
    cache = listening_cache(Ticking(), ttl_seconds=60)
    before = cache.signers_version()
    assert before is not None

    cache.signers_changed()

    assert cache.signers_version() == before + 1


def test_no_signers_version_is_vouched_for_while_not_listening() -> None:
    not_yet_listening = ListeningAccessCache("postgresql+psycopg://app@db/gateway", ttl_seconds=60)

    assert not_yet_listening.signers_version() is None
    assert NO_ACCESS_CACHE.signers_version() is None


def test_the_least_recently_kept_check_goes_first_when_full() -> None:
    cache = listening_cache(Ticking(), ttl_seconds=60, max_entries=2)
    first, second, third = an_access(), an_access(), an_access()
    version = cache.version()
    assert version is not None

    for access in (first, second, third):
        cache.put(access.session.id, access, version)

    assert cache.get(first.session.id) is None
    assert cache.get(second.session.id) == second
    assert cache.get(third.session.id) == third
    assert cache.get(uuid4()) is None


def test_it_connects_with_the_plain_url_of_the_apps_database() -> None:
    url = libpq_url("postgresql+psycopg://app:s3cret@db.example:6543/gateway?sslmode=require")

    assert url == "postgresql://app:s3cret@db.example:6543/gateway?sslmode=require"
