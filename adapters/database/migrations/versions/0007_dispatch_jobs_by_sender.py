"""An index on the dispatch queue by (tenant, sender, due time), for claims that skip busy senders.

The dispatcher leaves senders and tenants it cannot serve soon out of its claims; walking this index
sender by sender keeps such a claim from reading a skipped sender's whole backlog.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_dispatch_jobs_sender_due", "dispatch_jobs", ["tenant_id", "sender_number", "available_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_dispatch_jobs_sender_due", table_name="dispatch_jobs")
