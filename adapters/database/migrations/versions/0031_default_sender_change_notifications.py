"""Announce a sender becoming or ceasing to be its tenant's default too: NOTIFY wa_gateway_access
(PostgreSQL only).

API processes now also keep, per tenant, whom a send goes from (application/messaging/
sending_profiles.py): the tenant, its default sender or the one named, and the provider it sends
through. An accept trusts what it kept while nothing has changed since it was read, and 0030's trigger
on ``senders`` was silent for the default flag. It is made again with ``is_default`` among its columns.
``tenants`` (0008) and ``provider_accounts`` (0029) are announced on every update already. A sender's
pause and label decide nothing there and stay silent.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0031"
down_revision: str | Sequence[str] | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTION = "wa_gateway_access_changed"  # 0008's: pg_notify('wa_gateway_access', TG_TABLE_NAME)
_TRIGGER = "senders_signers_changed"  # 0029's
_0030_COLUMNS = "tenant_id, phone_number, account_id, provider_number_id"
_ANNOUNCED_SENDER_COLUMNS = f"{_0030_COLUMNS}, is_default"


def upgrade() -> None:
    _trigger_on(_ANNOUNCED_SENDER_COLUMNS)


def downgrade() -> None:
    _trigger_on(_0030_COLUMNS)


def _trigger_on(columns: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP TRIGGER IF EXISTS {_TRIGGER} ON senders")
    op.execute(
        f"CREATE TRIGGER {_TRIGGER} AFTER INSERT OR UPDATE OF {columns} OR DELETE OR TRUNCATE ON senders "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {_FUNCTION}()"
    )
