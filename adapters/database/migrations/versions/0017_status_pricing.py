"""Status reports keep the provider's pricing category of the message (Meta's ``pricing.category``:
marketing, utility, authentication, service …), for cost reports. Earlier reports have none.

A column added at the end needs no table rebuild on SQLite, so the reports' expression index stays.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("message_status_events", sa.Column("pricing_category", sa.String(32), nullable=True))


def downgrade() -> None:
    # SQLite drops a column in place (3.35 and later): no rebuild there either.
    op.drop_column("message_status_events", "pricing_category")
