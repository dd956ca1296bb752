"""The test infrastructure itself: the PostgreSQL and Redis URLs it hands out answer."""

from __future__ import annotations

import socket

import psycopg
import pytest
from sqlalchemy.engine import make_url

from services import libpq_conninfo, postgres_url, redis_url


@pytest.mark.postgres
def test_postgres_url_is_a_private_empty_database() -> None:
    url = postgres_url()
    assert postgres_url() == url  # cached: one database per process
    parsed = make_url(url)
    assert parsed.drivername == "postgresql+psycopg"
    with psycopg.connect(libpq_conninfo(url)) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        database, schema = conn.execute("SELECT current_database(), current_schema()").fetchone() or ("", "")
    assert database.startswith("baton_test_") or schema.startswith("baton_test_")


def test_redis_url_answers_ping_and_stores_a_key() -> None:
    url = make_url(redis_url())
    assert url.drivername == "redis" and url.host and url.port
    with socket.create_connection((url.host, url.port), timeout=2) as s:
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
        assert s.recv(64) == b"+PONG\r\n"
        s.sendall(b"*5\r\n$3\r\nSET\r\n$22\r\nbaton-test:services-ok\r\n$3\r\nyes\r\n$2\r\nEX\r\n$2\r\n30\r\n")
        assert s.recv(64) == b"+OK\r\n"
        s.sendall(b"*2\r\n$3\r\nGET\r\n$22\r\nbaton-test:services-ok\r\n")
        assert s.recv(64) == b"$3\r\nyes\r\n"
