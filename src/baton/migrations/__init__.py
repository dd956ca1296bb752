"""Alembic migrations shipped inside the package; run them with :func:`baton.adapters.db.migrate`."""
