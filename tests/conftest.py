"""Shared fixtures: a database per test on SQLite and on PostgreSQL, engines, sessions, units of work.

``db_url`` is parametrised ``sqlite`` / ``postgresql``, so every test using it (directly or
through ``engine``/``uow``) runs on both. SQLite: a fresh file in ``tmp_path``. PostgreSQL:
this process's private database (see :mod:`tests.services`), migrated once and emptied
before each test with ``TRUNCATE`` (which does not fire the events table's row triggers).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from baton.adapters import db
from baton.service_layer.unit_of_work import SqlAlchemyUnitOfWork
from services import postgres_url  # tests/ is on sys.path (pytest's rootdir-relative import)


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    """An engine on this process's private PostgreSQL database, migrated once."""
    engine = db.make_engine(postgres_url())
    db.migrate(engine)
    yield engine
    engine.dispose()


def truncate_all(engine: Engine) -> None:
    """Empty every Baton table on PostgreSQL (re-migrating first, should a test have downgraded)."""
    db.migrate(engine)
    with engine.connect() as conn:
        found = conn.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'alembic_version'"
        ).scalars().all()
    names = ", ".join(f'"{t}"' for t in found)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], ids=["sqlite", "postgresql"]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to an empty database for this test: SQLite file in ``tmp_path``, or emptied PostgreSQL.

    The PostgreSQL database is already migrated; the SQLite file is not created yet.
    """
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'baton.sqlite'}"
    truncate_all(request.getfixturevalue("postgres_engine"))
    return postgres_url()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated engine on ``db_url`` (disposed after the test)."""
    engine = db.make_engine(db_url)
    db.migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return db.session_factory(engine)


@pytest.fixture
def uow(session_factory: sessionmaker[Session]) -> SqlAlchemyUnitOfWork:
    return SqlAlchemyUnitOfWork(session_factory)
