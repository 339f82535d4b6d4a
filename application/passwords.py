"""What a password must be, wherever one is set: by an admin creating a user, or by its owner."""

from __future__ import annotations

from application.errors import InvalidInput

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256


def check_password_rules(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"a password is {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters")
