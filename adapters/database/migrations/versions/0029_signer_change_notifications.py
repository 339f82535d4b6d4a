"""Announce every change to who may sign a Twilio callback: NOTIFY wa_gateway_access (PostgreSQL only).

API processes keep every configured Twilio number's account and auth token in memory
(adapters/twilio/callback_authentication.py, ``TwilioSigners``) and trust them, without asking the
database, while nothing has changed since they were read. Statement-level triggers on the rows they are
read from call 0008's function, whose payload is the table's name, so that listeners can tell a change
of signers from one of access:

- ``senders``: a sender added or removed, or one that changes tenant, number or account. Not pauses
  (``paused_until``), labels or the default, which change often or decide nothing about signing.
- ``provider_accounts``: any write (a rotated auth token, an account added or removed).

A sender or account added is announced too: a signer missing from memory would leave a tenant out of a
callback for a number several tenants share.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0029"
down_revision: str | Sequence[str] | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTION = "wa_gateway_access_changed"  # 0008's: pg_notify('wa_gateway_access', TG_TABLE_NAME)
_SIGNING_SENDER_COLUMNS = "tenant_id, phone_number, account_id"
_EVENTS = {
    "senders": f"INSERT OR UPDATE OF {_SIGNING_SENDER_COLUMNS} OR DELETE OR TRUNCATE",
    "provider_accounts": "INSERT OR UPDATE OR DELETE OR TRUNCATE",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, events in _EVENTS.items():
        op.execute(
            f"CREATE TRIGGER {table}_signers_changed AFTER {events} ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {_FUNCTION}()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _EVENTS:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_signers_changed ON {table}")
