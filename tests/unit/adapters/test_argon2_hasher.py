from __future__ import annotations

import pytest

from adapters.security.argon2_hasher import Argon2PasswordHasher

# Cheap parameters keep the suite fast; the production cost is measured in bench/.
CHEAP = {"time_cost": 1, "memory_cost_kib": 8192, "parallelism": 1}


async def test_hashes_are_argon2id_and_verify() -> None:
    hasher = Argon2PasswordHasher(**CHEAP)

    password_hash = await hasher.hash("correct horse battery")

    assert password_hash.startswith("$argon2id$")
    assert await hasher.verify(password_hash, "correct horse battery")
    assert not await hasher.verify(password_hash, "wrong horse battery")


async def test_the_same_password_hashes_differently_each_time() -> None:
    hasher = Argon2PasswordHasher(**CHEAP)

    assert await hasher.hash("same") != await hasher.hash("same")


@pytest.mark.parametrize(
    "stored", ["", "plaintext", "$argon2id$v=19$m=1,t=1,p=1$broken", "$2b$12$bcrypthash"]
)
async def test_a_malformed_stored_hash_never_verifies_and_needs_rehash(stored: str) -> None:
    hasher = Argon2PasswordHasher(**CHEAP)

    assert not await hasher.verify(stored, "anything")
    assert hasher.needs_rehash(stored)


async def test_a_hash_made_with_other_parameters_needs_rehash() -> None:
    old = await Argon2PasswordHasher(**CHEAP).hash("pw")
    stronger = Argon2PasswordHasher(time_cost=2, memory_cost_kib=8192, parallelism=1)

    assert await stronger.verify(old, "pw")
    assert stronger.needs_rehash(old)
    assert not stronger.needs_rehash(await stronger.hash("pw"))
