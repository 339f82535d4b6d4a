"""Failure codes: why a failed message failed in the gateway's own words, and which provider handled it.

``failure_code`` is the gateway's stable code (domain/messaging/failures.py), ``provider`` the provider
that handled the message last, ``provider_error_message`` the provider's own words for its error.

Existing failed and undelivered messages get their code from their ``error_code``: every one of them
went through Twilio or the sandbox (which fails with Twilio's codes), so the code is read from Twilio's
table as it stands here (a copy: the adapter's table may grow, this migration must not change); any
other code, or none, is ``unknown``. ``provider`` and ``provider_error_message`` stay NULL on existing
rows: which provider handled a message was not recorded (a tenant's provider may have changed since),
and Twilio's own words were not kept.

Columns are only added (and dropped on the way down), as in 0014: SQLite does not rebuild the table.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-12
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_messages = sa.table("messages", sa.column("status"), sa.column("error_code"), sa.column("failure_code"))

# Twilio's error codes and the failure code each one is (adapters/twilio/errors.py when this was written).
_TWILIO_FAILURE_CODES: dict[int, str] = {
    20003: "account-misconfigured",
    20429: "rate-limited",
    21211: "recipient-invalid",
    21408: "account-misconfigured",
    21610: "recipient-opted-out",
    21612: "recipient-unavailable",
    21614: "recipient-invalid",
    21617: "content-invalid",
    21656: "template-rejected",
    30003: "recipient-unavailable",
    30004: "recipient-unavailable",
    30005: "recipient-invalid",
    30006: "recipient-invalid",
    30007: "content-invalid",
    30008: "provider-error",
    63001: "account-misconfigured",
    63003: "recipient-unavailable",
    63005: "content-invalid",
    63007: "account-misconfigured",
    63012: "provider-error",
    63013: "content-invalid",
    63016: "session-window-closed",
    63018: "sender-at-limit",
    63019: "media-invalid",
    63020: "account-misconfigured",
    63021: "content-invalid",
    63022: "account-misconfigured",
    63023: "provider-error",
    63024: "recipient-invalid",
    63027: "template-rejected",
    63028: "template-rejected",
    63030: "content-invalid",
    63032: "recipient-unavailable",
    63038: "rate-limited",
    63049: "marketing-limited",
}


def upgrade() -> None:
    op.add_column("messages", sa.Column("failure_code", sa.String(32), nullable=True))
    op.add_column("messages", sa.Column("provider", sa.String(32), nullable=True))
    op.add_column("messages", sa.Column("provider_error_message", sa.Text(), nullable=True))
    connection = op.get_bind()
    # Row-level security is forced on the owner too: see every tenant's rows while migrating.
    was = _cross_tenant(connection, "on")
    connection.execute(
        sa.update(_messages)
        .where(_messages.c.status.in_(["failed", "undelivered"]))
        .values(failure_code=sa.case(_TWILIO_FAILURE_CODES, value=_messages.c.error_code, else_="unknown"))
    )
    _cross_tenant(connection, was)


def downgrade() -> None:
    op.drop_column("messages", "provider_error_message")
    op.drop_column("messages", "provider")
    op.drop_column("messages", "failure_code")


def _cross_tenant(connection: sa.Connection, value: str) -> str:
    """Set ``app.cross_tenant`` for the rest of the transaction (PostgreSQL); returns what it was."""
    if connection.dialect.name != "postgresql":
        return ""
    was = connection.execute(sa.select(sa.func.current_setting("app.cross_tenant", True))).scalar()
    connection.execute(sa.select(sa.func.set_config("app.cross_tenant", value, True)))
    return str(was or "")
