"""Announce a sender's Meta phone-number id changing too: NOTIFY wa_gateway_access (PostgreSQL only).

API processes now also keep every Meta sender's phone-number id with its tenant, number and account in
memory (adapters/meta/callback_authentication.py, ``MetaApps``) and route Meta's deliveries by it,
without asking the database, while nothing has changed since they were read. 0029's trigger on
``senders`` announced a change of tenant, number or account, not of ``provider_number_id`` alone; it is
made again with that column among them. ``provider_accounts`` is announced on any write already.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0030"
down_revision: str | Sequence[str] | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTION = "wa_gateway_access_changed"  # 0008's: pg_notify('wa_gateway_access', TG_TABLE_NAME)
_TRIGGER = "senders_signers_changed"  # 0029's
_0029_COLUMNS = "tenant_id, phone_number, account_id"
_SIGNING_SENDER_COLUMNS = f"{_0029_COLUMNS}, provider_number_id"


def upgrade() -> None:
    _trigger_on(_SIGNING_SENDER_COLUMNS)


def downgrade() -> None:
    _trigger_on(_0029_COLUMNS)


def _trigger_on(columns: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP TRIGGER IF EXISTS {_TRIGGER} ON senders")
    op.execute(
        f"CREATE TRIGGER {_TRIGGER} AFTER INSERT OR UPDATE OF {columns} OR DELETE OR TRUNCATE ON senders "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {_FUNCTION}()"
    )
