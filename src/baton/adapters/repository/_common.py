"""Helpers shared by the repositories."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

#: Ids per ``IN (...)`` list (SQLite caps bound parameters per statement).
CHUNK = 500


def chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    """``items`` in consecutive slices of at most :data:`CHUNK`."""
    for i in range(0, len(items), CHUNK):
        yield items[i:i + CHUNK]


def copy_binary(cur: Any, table_and_columns: str, types: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """``COPY <table_and_columns> FROM STDIN (FORMAT BINARY)`` of ``rows`` on a psycopg cursor, with the
    column ``types`` declared up front (psycopg's C dumpers: ~3 µs a row instead of ~18 in text format)."""
    with cur.copy(f"COPY {table_and_columns} FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(list(types))
        for row in rows:
            copy.write_row(row)
