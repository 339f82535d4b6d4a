from __future__ import annotations

import pytest

from domain.administration.tenancy import ProviderName, Tenant, TwilioCredentials
from domain.errors import InvalidCredentials

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
KEY_SID = "SK" + "fedcba9876543210" * 2


def test_credentials_never_show_their_secrets() -> None:
    credentials = TwilioCredentials(
        ACCOUNT_SID, "auth-token-98765", api_key_sid=KEY_SID, api_key_secret="key-secret-4321"
    )

    assert "auth-token" not in repr(credentials)
    assert "key-secret" not in repr(credentials)
    assert credentials.masked_auth_token == "****8765"


def test_api_requests_use_the_api_key_when_there_is_one() -> None:
    with_token = TwilioCredentials(ACCOUNT_SID, "auth-token-98765")
    with_key = TwilioCredentials(
        ACCOUNT_SID, "auth-token-98765", api_key_sid=KEY_SID, api_key_secret="key-secret"
    )

    assert (with_token.api_username, with_token.api_password) == (ACCOUNT_SID, "auth-token-98765")
    assert (with_key.api_username, with_key.api_password) == (KEY_SID, "key-secret")


@pytest.mark.parametrize(
    ("account_sid", "auth_token", "key_sid", "key_secret"),
    [
        ("AC123", "token", None, None),
        ("SK" + "0" * 32, "token", None, None),
        (ACCOUNT_SID, "", None, None),
        (ACCOUNT_SID, "x" * 129, None, None),
        (ACCOUNT_SID, "has space", None, None),
        (ACCOUNT_SID, "token", "AC" + "0" * 32, "secret"),
        (ACCOUNT_SID, "token", KEY_SID, None),
        (ACCOUNT_SID, "token", None, "secret"),
    ],
)
def test_malformed_credentials_are_refused(
    account_sid: str, auth_token: str, key_sid: str | None, key_secret: str | None
) -> None:
    with pytest.raises(InvalidCredentials):
        TwilioCredentials(account_sid, auth_token, api_key_sid=key_sid, api_key_secret=key_secret)


@pytest.mark.parametrize(
    ("provider", "check", "enforced"),
    [
        (ProviderName.SANDBOX, True, True),
        (ProviderName.SANDBOX, False, False),
        (ProviderName.TWILIO, True, True),
        (ProviderName.TWILIO, False, True),
    ],
)
def test_only_sandbox_tenants_can_switch_the_session_window_check_off(
    provider: ProviderName, check: bool, enforced: bool
) -> None:
    from datetime import UTC, datetime

    tenant = Tenant(name="t", provider=provider, created_at=datetime.now(UTC), session_window_check=check)

    assert tenant.enforces_session_window is enforced
