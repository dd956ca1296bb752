"""Helpers shared by the repositories."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

#: Ids per ``IN (...)`` list (SQLite caps bound parameters per statement).
CHUNK = 500


def chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    """``items`` in consecutive slices of at most :data:`CHUNK`."""
    for i in range(0, len(items), CHUNK):
        yield items[i:i + CHUNK]
