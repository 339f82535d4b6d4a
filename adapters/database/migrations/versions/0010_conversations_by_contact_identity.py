"""One conversation per person, whichever form of their number WhatsApp writes.

Conversations were unique per written number, so one customer written two ways (Mexico's ``+521…``
and ``+52…``, Argentina's ``+549…`` and ``+54…``, Brazil's mobiles with and without the ninth digit)
had two conversations and two session windows. They are now unique per ``contact_identity``, the
number in the national plan's form (domain/phone.py); ``contact_number`` stays the form replies go to.

Existing rows get their identity, and the conversations of one person are merged into the one with
the latest message: the latest inbound time (the window), the earliest creation, and as reply form
the one the person last wrote from. The downgrade keeps the merged rows as they are.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Untyped columns: values go back exactly as they were read (SQLite's timestamps are text whose order
# is their chronological order, and stay so).
_conversations = sa.table(
    "conversations",
    *(
        sa.column(name)
        for name in (
            "id",
            "tenant_id",
            "contact_number",
            "contact_identity",
            "last_message_at",
            "last_inbound_at",
            "profile_name",
            "created_at",
        )
    ),
)
# Only numbers of these country codes have a second form.
_WRITTEN_TWO_WAYS = ("+52%", "+54%", "+55%")


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("contact_identity", sa.String(16), nullable=True))
    connection = op.get_bind()
    # Row-level security is forced on the owner too: see every tenant's rows while migrating.
    was = _cross_tenant(connection, "on")
    _backfill_identities(connection)
    _merge_conversations_of_one_person(connection)
    _cross_tenant(connection, was)
    with op.batch_alter_table("conversations") as batch:
        batch.alter_column("contact_identity", existing_type=sa.String(16), nullable=False)
        batch.drop_constraint("uq_conversations_tenant_id_contact_number", type_="unique")
        batch.create_unique_constraint(
            "uq_conversations_tenant_id_contact_identity", ["tenant_id", "contact_identity"]
        )


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_constraint("uq_conversations_tenant_id_contact_identity", type_="unique")
        batch.create_unique_constraint(
            "uq_conversations_tenant_id_contact_number", ["tenant_id", "contact_number"]
        )
        batch.drop_column("contact_identity")


def _cross_tenant(connection: sa.Connection, value: str) -> str:
    """Set ``app.cross_tenant`` for the rest of the transaction (PostgreSQL); returns what it was."""
    if connection.dialect.name != "postgresql":
        return ""
    was = connection.execute(sa.select(sa.func.current_setting("app.cross_tenant", True))).scalar()
    connection.execute(sa.select(sa.func.set_config("app.cross_tenant", value, True)))
    return str(was or "")


def _backfill_identities(connection: sa.Connection) -> None:
    connection.execute(sa.update(_conversations).values(contact_identity=_conversations.c.contact_number))
    candidates = connection.execute(
        sa.select(_conversations.c.id, _conversations.c.contact_number).where(
            sa.or_(*(_conversations.c.contact_number.like(prefix) for prefix in _WRITTEN_TWO_WAYS))
        )
    ).all()
    changes = [
        {"row_id": row_id, "identity": identity}
        for row_id, number in candidates
        if (identity := _identity_of(number)) != number
    ]
    if changes:
        connection.execute(
            sa.update(_conversations)
            .where(_conversations.c.id == sa.bindparam("row_id"))
            .values(contact_identity=sa.bindparam("identity")),
            changes,
        )


def _merge_conversations_of_one_person(connection: sa.Connection) -> None:
    shared = (
        sa.select(_conversations.c.tenant_id, _conversations.c.contact_identity)
        .group_by(_conversations.c.tenant_id, _conversations.c.contact_identity)
        .having(sa.func.count() > 1)
        .subquery()
    )
    rows = connection.execute(
        sa.select(_conversations).join(
            shared,
            sa.and_(
                _conversations.c.tenant_id == shared.c.tenant_id,
                _conversations.c.contact_identity == shared.c.contact_identity,
            ),
        )
    ).mappings()
    groups: dict[tuple[Any, str], list[Any]] = {}
    for row in rows:
        groups.setdefault((row["tenant_id"], row["contact_identity"]), []).append(row)
    for group in groups.values():
        survivor = max(group, key=lambda row: (row["last_message_at"], str(row["id"])))
        wrote = [row for row in group if row["last_inbound_at"] is not None]
        last_wrote = max(wrote, key=lambda row: row["last_inbound_at"]) if wrote else None
        names = [row for row in group if row["profile_name"] is not None]
        # The others go first: the survivor may take one's number, unique until the end of this revision.
        connection.execute(
            sa.delete(_conversations).where(
                _conversations.c.id.in_([row["id"] for row in group if row["id"] != survivor["id"]])
            )
        )
        connection.execute(
            sa.update(_conversations)
            .where(_conversations.c.id == survivor["id"])
            .values(
                contact_number=last_wrote["contact_number"] if last_wrote else survivor["contact_number"],
                last_inbound_at=last_wrote["last_inbound_at"] if last_wrote else None,
                profile_name=survivor["profile_name"]
                or (max(names, key=lambda row: row["last_message_at"])["profile_name"] if names else None),
                created_at=min(row["created_at"] for row in group),
            )
        )


# The rule as of this revision (domain/phone.py holds the living one): the national plan's form of a
# number WhatsApp writes otherwise.
def _identity_of(e164: str) -> str:
    digits = e164[1:]
    national = digits[2:]
    if digits.startswith("521") and len(digits) == 13:
        return "+52" + digits[3:]
    if digits.startswith("54") and len(national) == 10 and national[0] in "123":
        return "+549" + national
    if digits.startswith("55") and len(national) == 10 and "0" not in national[:2] and national[2] in "6789":
        return "+55" + national[:2] + "9" + national[2:]
    return e164
