"""The inbox's live view asks each second which of a tenant's messages were created or changed since
it last looked: an index on (tenant_id, updated_at, id) finds them without reading the rest.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-11
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | Sequence[str] | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_messages_changes", "messages", ["tenant_id", "updated_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_messages_changes", table_name="messages")
