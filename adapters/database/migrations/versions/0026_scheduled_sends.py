"""Scheduled sends: a message keeps the time it is to be sent at, and the tenant's pending ones are
listed soonest first by (tenant_id, send_at, id).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | Sequence[str] | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("send_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_messages_scheduled", "messages", ["tenant_id", "send_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_messages_scheduled", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("send_at")
