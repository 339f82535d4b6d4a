"""Messages of every kind: the kind of each message, and the content its other columns do not hold.

``kind`` is what the message is (text, media, template, interactive, location, contacts, reaction,
reply, unsupported), for the history and its filter; existing rows are media when they have media URLs,
templates when they have a Content SID, text otherwise. ``content`` is a JSON document of what
``body``, ``media_urls``, ``content_sid`` and ``content_variables`` do not hold (typed media, a template
by name, interactive messages, …; see adapters/database/content_document.py), NULL for the rest.

Columns are only added (and dropped on the way down): on SQLite neither rebuilds the table, so the
indexes SQLite's reflection cannot read (the history's descending ones, the partial provider id index)
stay as they are.

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

_messages = sa.table("messages", sa.column("kind"), sa.column("media_urls"), sa.column("content_sid"))


def upgrade() -> None:
    op.add_column("messages", sa.Column("kind", sa.String(16), nullable=False, server_default="text"))
    op.add_column("messages", sa.Column("content", sa.JSON(), nullable=True))
    connection = op.get_bind()
    # Row-level security is forced on the owner too: see every tenant's rows while migrating.
    was = _cross_tenant(connection, "on")
    connection.execute(
        sa.update(_messages).where(_messages.c.content_sid.is_not(None)).values(kind="template")
    )
    # json_array_length: the same function in PostgreSQL (json) and SQLite (JSON1).
    connection.execute(
        sa.update(_messages)
        .where(_messages.c.content_sid.is_(None), sa.func.json_array_length(_messages.c.media_urls) > 0)
        .values(kind="media")
    )
    _cross_tenant(connection, was)


def downgrade() -> None:
    op.drop_column("messages", "content")
    op.drop_column("messages", "kind")


def _cross_tenant(connection: sa.Connection, value: str) -> str:
    """Set ``app.cross_tenant`` for the rest of the transaction (PostgreSQL); returns what it was."""
    if connection.dialect.name != "postgresql":
        return ""
    was = connection.execute(sa.select(sa.func.current_setting("app.cross_tenant", True))).scalar()
    connection.execute(sa.select(sa.func.set_config("app.cross_tenant", value, True)))
    return str(was or "")
