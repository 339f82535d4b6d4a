"""A status report is logged once: the provider message it is about, and a unique index on its identity.

Providers repeat status callbacks (Twilio retries one it got no answer to; an attacker holding one
signed callback can replay it). A report is identified by the message, the provider message it is
about (a retried message has a new one, whose reports are new), its status and its error code; a
repeat of one already logged adds nothing to the timeline. Reports logged before this revision have no
provider message id and stay as they were.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("message_status_events") as batch:
        batch.add_column(sa.Column("provider_sid", sa.String(64), nullable=True))
    # NULLs are distinct in a unique index: the error code counts as -1 when there is none.
    # SQLAlchemy does not reflect an expression index on SQLite: a later batch_alter_table of this
    # table that rebuilds it there (any change but adding a column) copies what it reflects and drops
    # this index without a word; repeated reports would be logged again. Create it again after.
    op.create_index(
        "uq_message_status_events_report",
        "message_status_events",
        ["message_id", "provider_sid", "status", sa.text("coalesce(error_code, -1)")],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_message_status_events_report", table_name="message_status_events")
    with op.batch_alter_table("message_status_events") as batch:
        batch.drop_column("provider_sid")
