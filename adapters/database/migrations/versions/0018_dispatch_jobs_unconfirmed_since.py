"""When a dispatch job's last send went unconfirmed: the answer was lost, or its worker vanished.

A provider that cannot look a message up (Meta) settles such a send by its status report alone, and
waits ``DISPATCH_UNCONFIRMED_AFTER_SECONDS`` for it from this moment, not from the message's acceptance:
a message sent late (after back-offs, a paused sender, or a retry of a failed one) gets the whole wait.
Jobs waiting already when this runs have none; they start their wait at their next look.

The column is only added (and dropped on the way down): on SQLite neither rebuilds the table.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("dispatch_jobs", sa.Column("unconfirmed_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("dispatch_jobs", "unconfirmed_since")
