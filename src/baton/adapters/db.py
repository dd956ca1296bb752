"""Database engine, sessions and migrations.

Baton runs on SQLite (a single file, the default for one machine) or PostgreSQL (via
psycopg 3). The URL comes from ``BATON_DATABASE_URL``; without it Baton uses
``sqlite:///<BATON_HOME>/baton.sqlite`` where ``BATON_HOME`` defaults to ``./.baton``.
The schema is created and upgraded by the Alembic migrations shipped in
:mod:`baton.migrations`; :func:`migrate` runs them without any ``alembic.ini``.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session, sessionmaker

#: SQLite waits this long (milliseconds) for another writer's lock before failing with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Key of the PostgreSQL advisory lock serialising concurrent :func:`migrate` calls.
MIGRATION_LOCK_KEY = 0x6261746F6E  # "baton"


def baton_home() -> Path:
    """Baton's local state directory: env ``BATON_HOME`` or ``./.baton``, created if missing.

    Raises:
        OSError: when the directory cannot be created.
    """
    home = Path(os.environ.get("BATON_HOME") or ".baton").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def normalise_url(url: str) -> str:
    """Make ``url`` use Baton's drivers: ``postgresql://``/``postgres://`` become ``postgresql+psycopg://``.

    Other URLs (``sqlite:///...``, ``postgresql+psycopg://...``) are returned unchanged.
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def database_url() -> str:
    """The database URL: env ``BATON_DATABASE_URL`` (normalised), else SQLite in :func:`baton_home`."""
    url = os.environ.get("BATON_DATABASE_URL")
    if url:
        return normalise_url(url)
    return f"sqlite:///{(baton_home() / 'baton.sqlite').resolve()}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` (default :func:`database_url`).

    SQLite connections get WAL journalling, ``synchronous=NORMAL``, foreign keys on and a
    busy timeout of :data:`SQLITE_BUSY_TIMEOUT_MS` ms; a file database's directory is created.
    PostgreSQL URLs are rewritten to psycopg 3 (``postgresql+psycopg://``) and connections are
    pinged before use. ``kwargs`` go to :func:`sqlalchemy.create_engine`.

    Raises:
        sqlalchemy.exc.ArgumentError: when the URL cannot be parsed.
        sqlalchemy.exc.NoSuchModuleError: when the URL names a dialect that is not installed.
    """
    parsed = make_url(normalise_url(url or database_url()))
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay usable after commit (``expire_on_commit=False``)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def migrations_dir() -> Path:
    """The directory of the Alembic environment shipped in the package (``baton/migrations``)."""
    return Path(str(resources.files("baton") / "migrations"))


def alembic_config(url: str | None = None) -> Config:
    """An Alembic :class:`~alembic.config.Config` built in code (no ``alembic.ini``).

    ``url`` becomes ``sqlalchemy.url`` (used only when no connection is passed in
    ``config.attributes["connection"]``). Usable with every :mod:`alembic.command`.
    """
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("path_separator", "os")
    if url:
        config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def _lock_for_migration(connection: Connection) -> None:
    """Make the migration one transaction that excludes concurrent migrators.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: ``BEGIN IMMEDIATE`` (pysqlite
    otherwise runs DDL outside any transaction), which takes the write lock up front.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def migrate(engine: Engine, revision: str = "heads") -> None:
    """Upgrade the database behind ``engine`` to ``revision``, in one transaction.

    The default, ``"heads"``, applies every branch: feature areas may add migration branches
    that start from ``0001`` independently of each other.

    Idempotent: running it on an up-to-date database does nothing. On PostgreSQL an advisory
    lock makes concurrent callers (several workers starting at once) wait for each other.

    Raises:
        alembic.util.CommandError: when ``revision`` is unknown.
        sqlalchemy.exc.SQLAlchemyError: when a migration statement fails (the whole
            upgrade is rolled back, on SQLite too).
    """
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        _lock_for_migration(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Downgrade the database behind ``engine`` to ``revision`` (default: drop everything).

    Raises:
        alembic.util.CommandError: when ``revision`` is unknown.
    """
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        _lock_for_migration(connection)
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def current_revisions(engine: Engine) -> tuple[str, ...]:
    """The Alembic revisions (one per migration branch) the database is at, sorted; ``()`` when
    it was never migrated."""
    with engine.connect() as connection:
        return tuple(sorted(MigrationContext.configure(connection).get_current_heads()))


def script_heads() -> tuple[str, ...]:
    """The newest revision of every migration branch shipped with Baton, sorted."""
    from alembic.script import ScriptDirectory

    return tuple(sorted(ScriptDirectory.from_config(alembic_config()).get_heads()))
