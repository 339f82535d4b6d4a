"""The JWT suite: only a current, fully-claimed HS256 token signed with our key is accepted."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import jwt
import pytest

from adapters.security.jwt_tokens import JwtTokenService
from adapters.system_clock import SystemClock
from application.errors import InvalidToken
from domain.administration.tenancy import Role, User
from domain.identity.credentials import new_api_key_secret, new_refresh_token
from tests.support.fakes import FixedClock

SECRET = "s" * 40
OTHER_SECRET = "o" * 40


@pytest.fixture
def service() -> JwtTokenService:
    return JwtTokenService(
        secret=SECRET, issuer="wa-gateway", audience="wa-api", ttl_seconds=900, clock=SystemClock()
    )


@pytest.fixture
def user() -> User:
    from uuid import uuid4

    return User(
        tenant_id=uuid4(), username="alice", password_hash="x", created_at=datetime.now(UTC), role=Role.AGENT
    )


SESSION_ID = UUID("5e55105e-0000-4000-8000-000000000001")


def claims_of(service: JwtTokenService, user: User) -> dict[str, Any]:
    token = service.issue(user, SESSION_ID).access_token
    return dict(jwt.decode(token, SECRET, algorithms=["HS256"], audience="wa-api"))


def test_an_issued_token_verifies_to_its_user_tenant_and_session(
    service: JwtTokenService, user: User
) -> None:
    issued = service.issue(user, SESSION_ID)

    claims = service.verify(issued.access_token)

    assert (claims.user_id, claims.tenant_id, claims.role) == (user.id, user.tenant_id, Role.AGENT)
    assert claims.session_id == SESSION_ID
    assert claims.token_id
    assert issued.expires_in == 900


@pytest.mark.parametrize("ttl", [0, 901, 3600])
def test_an_access_token_lives_15_minutes_at_most(ttl: int) -> None:
    with pytest.raises(ValueError, match="900"):
        JwtTokenService(secret=SECRET, issuer="i", audience="a", ttl_seconds=ttl, clock=SystemClock())


def test_a_refresh_token_is_not_an_access_token(service: JwtTokenService) -> None:
    with pytest.raises(InvalidToken):
        service.verify(new_refresh_token())


def test_an_api_key_is_not_an_access_token(service: JwtTokenService) -> None:
    with pytest.raises(InvalidToken):
        service.verify(new_api_key_secret().key)


def test_every_token_has_its_own_id(service: JwtTokenService, user: User) -> None:
    assert claims_of(service, user)["jti"] != claims_of(service, user)["jti"]


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        JwtTokenService(secret="short", issuer="i", audience="a", ttl_seconds=60, clock=SystemClock())


@pytest.mark.parametrize("missing", ["exp", "iat", "nbf", "iss", "aud", "sub", "jti", "tid", "role", "sid"])
def test_a_token_missing_a_claim_is_refused(service: JwtTokenService, user: User, missing: str) -> None:
    claims = claims_of(service, user)
    del claims[missing]

    with pytest.raises(InvalidToken):
        service.verify(jwt.encode(claims, SECRET, algorithm="HS256"))


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("aud", "someone-else"),
        ("iss", "someone-else"),
        ("exp", "60 seconds ago"),
        ("nbf", "in 10 minutes"),
        ("typ", "refresh"),
        ("tid", "not-a-uuid"),
        ("role", "emperor"),
        ("sid", "not-a-uuid"),
        ("sid", 42),
    ],
)
def test_a_token_with_a_wrong_claim_is_refused(
    service: JwtTokenService, user: User, claim: str, value: Any
) -> None:
    # Times are computed when the test runs, not when it is collected (a long suite outlives them).
    relative = {"60 seconds ago": int(time.time()) - 60, "in 10 minutes": int(time.time()) + 600}
    claims = {
        **claims_of(service, user),
        claim: relative.get(value, value) if isinstance(value, str) else value,
    }

    with pytest.raises(InvalidToken):
        service.verify(jwt.encode(claims, SECRET, algorithm="HS256"))


def test_an_expired_token_says_so(service: JwtTokenService, user: User) -> None:
    claims = {**claims_of(service, user), "exp": int(time.time()) - 60}

    with pytest.raises(InvalidToken, match="expired"):
        service.verify(jwt.encode(claims, SECRET, algorithm="HS256"))


def test_a_token_signed_with_another_key_is_refused(service: JwtTokenService, user: User) -> None:
    with pytest.raises(InvalidToken):
        service.verify(jwt.encode(claims_of(service, user), OTHER_SECRET, algorithm="HS256"))


@pytest.mark.parametrize("algorithm", ["none", "HS512"])
def test_other_algorithms_are_refused(service: JwtTokenService, user: User, algorithm: str) -> None:
    key = "" if algorithm == "none" else SECRET + SECRET
    token = jwt.encode(claims_of(service, user), key, algorithm=algorithm)

    with pytest.raises(InvalidToken):
        service.verify(token)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..", "x" * 5000])
def test_garbage_is_refused(service: JwtTokenService, garbage: str) -> None:
    with pytest.raises(InvalidToken):
        service.verify(garbage)


# ------------------------------------------------------------------------ tokens used again and again


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime.now(UTC))


@pytest.fixture
def clocked_service(clock: FixedClock) -> JwtTokenService:
    return JwtTokenService(
        secret=SECRET, issuer="wa-gateway", audience="wa-api", ttl_seconds=900, clock=clock
    )


def test_a_token_verified_before_is_refused_once_it_expires(
    clocked_service: JwtTokenService, clock: FixedClock, user: User
) -> None:
    token = clocked_service.issue(user, SESSION_ID).access_token
    assert clocked_service.verify(token).session_id == SESSION_ID

    clock.advance(timedelta(seconds=900 + 4))  # within the 5 seconds of leeway
    assert clocked_service.verify(token).session_id == SESSION_ID
    clock.advance(timedelta(seconds=1))

    with pytest.raises(InvalidToken, match="expired"):
        clocked_service.verify(token)


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_a_token_refused_as_not_yet_valid_is_accepted_from_its_nbf_and_iat(
    clocked_service: JwtTokenService, clock: FixedClock, user: User, claim: str
) -> None:
    now = int(clock.now().timestamp())
    claims = {**claims_of(clocked_service, user), claim: now + 60}
    token = jwt.encode(claims, SECRET, algorithm="HS256")

    with pytest.raises(InvalidToken, match="not valid yet"):
        clocked_service.verify(token)
    clock.advance(timedelta(seconds=55))

    assert clocked_service.verify(token).session_id == SESSION_ID


def test_a_token_whose_times_are_not_numbers_is_refused(clocked_service: JwtTokenService, user: User) -> None:
    for claim in ("exp", "nbf", "iat"):
        claims = {**claims_of(clocked_service, user), claim: True}
        with pytest.raises(InvalidToken):
            clocked_service.verify(jwt.encode(claims, SECRET, algorithm="HS256"))


def test_a_browser_ticket_lives_as_long_as_its_session_and_is_no_access_token(
    service: JwtTokenService, user: User
) -> None:
    session_ends = datetime.now(UTC) + timedelta(days=14)

    ticket = service.issue_browser_ticket(user, SESSION_ID, session_ends)

    claims = service.verify_browser_ticket(ticket)
    assert (claims.user_id, claims.session_id) == (user.id, SESSION_ID)
    decoded = jwt.decode(ticket, SECRET, algorithms=["HS256"], audience="wa-api")
    assert decoded["typ"] == "browser"
    assert decoded["exp"] == int(session_ends.timestamp())
    with pytest.raises(InvalidToken):
        service.verify(ticket)


def test_an_access_token_is_no_browser_ticket(service: JwtTokenService, user: User) -> None:
    issued = service.issue(user, SESSION_ID)

    with pytest.raises(InvalidToken):
        service.verify_browser_ticket(issued.access_token)


def test_a_browser_ticket_expires_with_its_session(user: User) -> None:
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    service = JwtTokenService(
        secret=SECRET, issuer="wa-gateway", audience="wa-api", ttl_seconds=900, clock=clock
    )
    ticket = service.issue_browser_ticket(user, SESSION_ID, clock.now() + timedelta(hours=1))

    clock.advance(timedelta(hours=1, minutes=1))

    with pytest.raises(InvalidToken):
        service.verify_browser_ticket(ticket)
