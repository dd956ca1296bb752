"""Alembic environment for Baton, usable without an ``alembic.ini``.

Programmatic use (what :func:`baton.adapters.db.migrate` does): build the config with
:func:`baton.adapters.db.alembic_config` and put an open connection in
``config.attributes["connection"]``; migrations run on it, in its transaction.

Without a connection, the URL is ``sqlalchemy.url`` from the config, else
:func:`baton.adapters.db.database_url` (env ``BATON_DATABASE_URL`` or the local SQLite file).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from baton.adapters.db import database_url, make_engine
from baton.adapters.orm import metadata

config = context.config


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or database_url()


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit the SQL to stdout instead of running it (``alembic upgrade --sql``)."""
    context.configure(
        url=_url(),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run on ``config.attributes["connection"]`` when given, else on a new engine."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.begin() as conn:
            _configure_and_run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
