"""A status event's delivery may carry the message as the change left it instead of its body.

A status callback's statement records the webhook events of the move itself, in the round trip that
applies it and commits (adapters/database/messages.py): it stores the moved row (``message_snapshot``,
the row as ``to_jsonb`` gives it) and the body is built from it when the delivery is read, the same
bytes on every attempt. A delivery has its body or its snapshot.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0033"
down_revision: str | Sequence[str] | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHECK = "body_or_snapshot"  # ck_webhook_deliveries_body_or_snapshot, by the naming convention
_DUE_INDEX = "ix_webhook_deliveries_due"


def upgrade() -> None:
    snapshot = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("message_snapshot", snapshot, nullable=True))
        batch.alter_column("payload", existing_type=sa.Text(), nullable=True)
        batch.create_check_constraint(_CHECK, "payload IS NOT NULL OR message_snapshot IS NOT NULL")
    _recreate_due_index()


def downgrade() -> None:
    # A snapshot's body is built by the application: deliveries still waiting with one are given up.
    op.execute("DELETE FROM webhook_deliveries WHERE payload IS NULL")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_constraint(_CHECK, type_="check")
        batch.alter_column("payload", existing_type=sa.Text(), nullable=False)
        batch.drop_column("message_snapshot")
    _recreate_due_index()


def _recreate_due_index() -> None:
    """SQLite's batch mode copies the table without its partial index's condition: made again."""
    if op.get_bind().dialect.name != "sqlite":
        return
    op.drop_index(_DUE_INDEX, table_name="webhook_deliveries", if_exists=True)
    op.create_index(
        _DUE_INDEX,
        "webhook_deliveries",
        ["next_attempt_at"],
        sqlite_where=sa.text("state = 'pending'"),
    )
