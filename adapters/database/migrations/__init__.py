"""Alembic migrations; run them through adapters.database.migrate (no alembic.ini is needed)."""
