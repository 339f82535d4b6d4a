"""Conversations count the customer's messages an agent has not seen yet: each inbound message adds
one, marking the conversation seen sets it back to 0. Existing conversations start at 0 (seen).

A column added at the end needs no table rebuild on SQLite.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | Sequence[str] | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "conversations", sa.Column("unread_count", sa.Integer(), server_default="0", nullable=False)
    )


def downgrade() -> None:
    op.drop_column("conversations", "unread_count")
