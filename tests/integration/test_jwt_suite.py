"""The JWT suite over HTTP, on the real app (composition root, real sessions; on SQLite, and on
PostgreSQL as the application's role under row-level security): every token that is not a current
access token of a live session, issued by us, gets 401 problem+json, and a reused refresh token ends its
whole family.

Forgeries start from a real access token's claims and change one thing; unless the case is about the
key, they are signed with the gateway's own secret, so only the changed thing can be why they fail.
(tests/unit/adapters/test_jwt_tokens.py checks the same rules on the token service alone.)
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import jwt
import pytest

from tests.support.gateways import (
    DATABASES,
    JWT_SECRET,
    PASSWORD,
    Gateway,
    bearer,
    emptied_session_database,
    running_gateway,
)

PROTECTED = "/api/messages"


@dataclass
class Suite:
    gateway: Gateway
    tenant_id: str
    other_tenant_id: str

    async def tokens(self, username: str = "acme-agent", password: str = PASSWORD) -> dict[str, Any]:
        return await self.gateway.log_in(username, password)

    async def claims(self, username: str = "acme-agent") -> dict[str, Any]:
        """The claims of a fresh, valid access token."""
        token = (await self.tokens(username))["access_token"]
        return dict(jwt.decode(token, options={"verify_signature": False}))

    async def get(self, credential: str) -> httpx.Response:
        return await self.gateway.client.get(PROTECTED, headers=bearer(credential))

    async def refresh(self, refresh_token: str) -> httpx.Response:
        return await self.gateway.client.post("/auth/refresh", json={"refresh_token": refresh_token})


@pytest.fixture(params=DATABASES)
async def suite(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Suite]:
    async with running_gateway(tmp_path, emptied_session_database(request, request.param)) as gateway:
        root = await gateway.create_platform_admin()
        tenants = []
        for name in ("Acme", "Globex"):
            tenant = (await gateway.call("POST", "/admin/tenants", root, {"name": name})).json()
            for role in ("tenant_admin", "agent"):
                username = f"{name.lower()}-{role.replace('_', '-')}"
                await gateway.call(
                    "POST",
                    f"/admin/tenants/{tenant['id']}/users",
                    root,
                    {"username": username, "password": PASSWORD, "role": role},
                )
            tenants.append(tenant["id"])
        suite = Suite(gateway=gateway, tenant_id=tenants[0], other_tenant_id=tenants[1])
        # The control: a real token works, so every 401 below is the forgery's doing.
        assert (await suite.get((await suite.tokens())["access_token"])).status_code == 200
        yield suite


def assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"].startswith("Bearer")
    problem = response.json()
    assert (problem["status"], problem["type"].rsplit("/", 1)[-1]) == (401, "invalid-token")


def signed(claims: dict[str, Any], key: str = JWT_SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def _segment(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# ---------------------------------------------------------------------------------------- the signature


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
async def test_an_unsigned_token_gets_401(suite: Suite, alg: str) -> None:
    claims = await suite.claims()

    unsigned = f"{_segment({'alg': alg, 'typ': 'JWT'})}.{_segment(claims)}."

    assert_401(await suite.get(unsigned))


async def test_an_unsigned_token_keeping_a_real_signature_gets_401(suite: Suite) -> None:
    real = (await suite.tokens())["access_token"]
    _, payload, signature = real.split(".")

    assert_401(await suite.get(f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{payload}.{signature}"))


async def test_a_token_signed_with_another_key_gets_401(suite: Suite) -> None:
    claims = await suite.claims()

    assert_401(await suite.get(signed(claims, key="another-secret-that-is-long-enough-for-hs256")))


# Our secret is shorter than PyJWT recommends for these algorithms; the forger does not care.
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
async def test_a_token_signed_with_our_key_but_another_algorithm_gets_401(
    suite: Suite, algorithm: str
) -> None:
    claims = await suite.claims()

    assert_401(await suite.get(signed(claims, algorithm=algorithm)))


async def test_a_tampered_payload_under_the_real_signature_gets_401(suite: Suite) -> None:
    real = (await suite.tokens())["access_token"]
    header, _, signature = real.split(".")
    claims = await suite.claims()

    tampered = f"{header}.{_segment({**claims, 'role': 'tenant_admin'})}.{signature}"

    assert_401(await suite.get(tampered))


# ---------------------------------------------------------------------------------------------- claims


@pytest.mark.parametrize(
    "missing", ["exp", "iat", "nbf", "iss", "aud", "sub", "jti", "tid", "role", "sid", "typ"]
)
async def test_a_token_missing_a_claim_gets_401(suite: Suite, missing: str) -> None:
    claims = await suite.claims()
    del claims[missing]

    assert_401(await suite.get(signed(claims)))


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("aud", "someone-elses-api"),
        ("aud", ["someone-elses-api"]),
        ("iss", "someone-else"),
        ("typ", "refresh"),
    ],
)
async def test_a_token_for_someone_else_gets_401(suite: Suite, claim: str, value: Any) -> None:
    claims = await suite.claims()

    assert_401(await suite.get(signed({**claims, claim: value})))


async def test_an_expired_token_gets_401(suite: Suite) -> None:
    claims = await suite.claims()
    # Computed when the test runs; a minute is well past the 5 seconds of leeway.
    now = int(time.time())

    response = await suite.get(signed({**claims, "iat": now - 1000, "nbf": now - 1000, "exp": now - 60}))

    assert_401(response)
    assert "expired" in response.json()["detail"]


async def test_a_token_not_valid_yet_gets_401(suite: Suite) -> None:
    claims = await suite.claims()

    assert_401(await suite.get(signed({**claims, "nbf": int(time.time()) + 600})))


@pytest.mark.parametrize("claim", ["role", "tid", "sub", "sid"])
async def test_a_token_that_disagrees_with_its_session_gets_401(suite: Suite, claim: str) -> None:
    """Signed with our own key (a leaked secret, or a bug that issued it): the session still decides."""
    claims = await suite.claims()
    other = {
        "role": "tenant_admin",  # an agent promoting itself
        "tid": suite.other_tenant_id,  # into another tenant
        "sub": str(uuid4()),
        "sid": str(uuid4()),
    }[claim]

    assert_401(await suite.get(signed({**claims, claim: other})))


# ------------------------------------------------------------------------------- tokens that are not it


async def test_a_refresh_token_used_as_an_access_token_gets_401(suite: Suite) -> None:
    tokens = await suite.tokens()

    assert_401(await suite.get(tokens["refresh_token"]))


async def test_an_access_token_used_as_a_refresh_token_is_refused(suite: Suite) -> None:
    tokens = await suite.tokens()

    response = await suite.refresh(tokens["access_token"])

    # 400: an access token is longer than any refresh token, so it fails validation before anything else.
    assert response.status_code in (400, 401), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "access_token" not in response.json()


# -------------------------------------------------------------------------------------- revoked tokens


async def test_a_token_after_logout_gets_401(suite: Suite) -> None:
    tokens = await suite.tokens()
    other_session = (await suite.tokens())["access_token"]

    logout = await suite.gateway.client.post("/auth/logout", headers=bearer(tokens["access_token"]))

    assert logout.status_code == 204
    assert_401(await suite.get(tokens["access_token"]))
    assert_401(await suite.refresh(tokens["refresh_token"]))
    assert (await suite.get(other_session)).status_code == 200  # other sessions go on


async def test_every_token_after_a_password_change_gets_401(suite: Suite) -> None:
    first, second = await suite.tokens(), await suite.tokens()

    changed = await suite.gateway.client.post(
        "/api/me/password",
        json={"current_password": PASSWORD, "new_password": "a brand new password"},
        headers=bearer(first["access_token"]),
    )

    assert changed.status_code == 204, changed.text
    for tokens in (first, second):
        assert_401(await suite.get(tokens["access_token"]))
        assert_401(await suite.refresh(tokens["refresh_token"]))
    fresh = await suite.tokens(password="a brand new password")
    assert (await suite.get(fresh["access_token"])).status_code == 200


async def test_a_token_after_a_role_change_gets_401(suite: Suite) -> None:
    agent = await suite.tokens()
    admin = await suite.tokens("acme-tenant-admin")
    agent_id = (await suite.claims())["sub"]

    promoted = await suite.gateway.client.patch(
        f"/api/users/{agent_id}", json={"role": "tenant_admin"}, headers=bearer(admin["access_token"])
    )

    assert promoted.status_code == 200, promoted.text
    assert_401(await suite.get(agent["access_token"]))
    assert_401(await suite.refresh(agent["refresh_token"]))


# ------------------------------------------------------------------------------ refresh token families


async def test_a_reused_refresh_token_revokes_its_whole_family(suite: Suite) -> None:
    first = await suite.tokens()
    elsewhere = await suite.tokens()  # another session of the same user
    second = (await suite.refresh(first["refresh_token"])).json()
    third = (await suite.refresh(second["refresh_token"])).json()
    assert (await suite.get(third["access_token"])).status_code == 200

    reused = await suite.refresh(first["refresh_token"])

    assert_401(reused)
    # The family is over: its newest refresh token and every access token issued in it.
    assert_401(await suite.refresh(third["refresh_token"]))
    for tokens in (first, second, third):
        assert_401(await suite.get(tokens["access_token"]))
    # Reuse ends that session only.
    assert (await suite.get(elsewhere["access_token"])).status_code == 200
    assert (await suite.refresh(elsewhere["refresh_token"])).status_code == 200


async def test_a_refresh_token_works_once_even_on_its_own(suite: Suite) -> None:
    tokens = await suite.tokens()

    assert (await suite.refresh(tokens["refresh_token"])).status_code == 200
    assert_401(await suite.refresh(tokens["refresh_token"]))
