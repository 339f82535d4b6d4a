from __future__ import annotations

import pytest

from domain.errors import InvalidCredentials
from domain.tenancy import TwilioCredentials

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
KEY_SID = "SK" + "fedcba9876543210" * 2


def test_credentials_never_show_their_secret() -> None:
    credentials = TwilioCredentials(ACCOUNT_SID, "auth-token-98765")

    assert "auth-token" not in repr(credentials)
    assert credentials.masked_secret == "****8765"


def test_api_key_credentials_are_accepted() -> None:
    credentials = TwilioCredentials(ACCOUNT_SID, "secret-1234", key_sid=KEY_SID)

    assert credentials.key_sid == KEY_SID


@pytest.mark.parametrize(
    ("account_sid", "secret", "key_sid"),
    [
        ("AC123", "token", None),
        ("SK" + "0" * 32, "token", None),
        (ACCOUNT_SID, "", None),
        (ACCOUNT_SID, "x" * 129, None),
        (ACCOUNT_SID, "has space", None),
        (ACCOUNT_SID, "token", "AC" + "0" * 32),
    ],
)
def test_malformed_credentials_are_refused(account_sid: str, secret: str, key_sid: str | None) -> None:
    with pytest.raises(InvalidCredentials):
        TwilioCredentials(account_sid, secret, key_sid=key_sid)
