"""A provider's message id holds up to 256 characters: Meta's (a wamid) often runs past 64.

Twilio's message SIDs are 34 characters; a wamid is ``wamid.`` and base64 of the customer's number and
a key, 60 to 90 characters and opaque (Meta promises no length). Both the message's and its status
reports' provider ids grow to the 256 the Meta adapter accepts.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("messages", "message_status_events")
# The index on an expression that SQLite's reflection skips: rebuilding the table there drops it (see
# migration 0011), so it is created again.
_REPORT_INDEX = "uq_message_status_events_report"


def upgrade() -> None:
    _resize(sa.String(64), sa.String(256))


def downgrade() -> None:
    _resize(sa.String(256), sa.String(64))


def _resize(existing: sa.String, wanted: sa.String) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.drop_index(_REPORT_INDEX, table_name="message_status_events")
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("provider_sid", existing_type=existing, type_=wanted, existing_nullable=True)
    if sqlite:
        op.create_index(
            _REPORT_INDEX,
            "message_status_events",
            ["message_id", "provider_sid", "status", sa.text("coalesce(error_code, -1)")],
            unique=True,
        )
