"""A provider's message id holds up to 256 characters: Meta's (a wamid) often runs past 64.

Twilio's message SIDs are 34 characters; a wamid is ``wamid.`` and base64 of the customer's number and
a key, 60 to 90 characters and opaque (Meta promises no length). Both the message's and its status
reports' provider ids grow to the 256 the Meta adapter accepts.

On SQLite a column's type changes only by rebuilding its table, which copies the indexes SQLite's
reflection reads, and reads some of them wrong: the history's descending indexes would come back
ascending, and the status reports' index on an expression would not come back at all (see migration
0011). Those are dropped before the rebuild and created again after it, as tables.py declares them.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("messages", "message_status_events")
# (name, table, columns, unique): what a rebuild on SQLite would lose or change.
_REBUILT_INDEXES: tuple[tuple[str, str, list[str | sa.TextClause], bool], ...] = (
    ("ix_messages_history", "messages", ["tenant_id", sa.text("created_at DESC"), sa.text("id DESC")], False),
    (
        "ix_messages_contact_history",
        "messages",
        ["tenant_id", "contact_number", sa.text("created_at DESC"), sa.text("id DESC")],
        False,
    ),
    (
        "uq_message_status_events_report",
        "message_status_events",
        ["message_id", "provider_sid", "status", sa.text("coalesce(error_code, -1)")],
        True,
    ),
)


def upgrade() -> None:
    _resize(sa.String(64), sa.String(256))


def downgrade() -> None:
    _resize(sa.String(256), sa.String(64))


def _resize(existing: sa.String, wanted: sa.String) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for name, table, _, _ in _REBUILT_INDEXES:
            op.drop_index(name, table_name=table)
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("provider_sid", existing_type=existing, type_=wanted, existing_nullable=True)
    if sqlite:
        for name, table, columns, unique in _REBUILT_INDEXES:
            op.create_index(name, table, columns, unique=unique)
