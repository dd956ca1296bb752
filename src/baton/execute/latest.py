"""When to move a vehicle's *stored* latest position: at most once per interval, the newest ping waiting.

Every accepted ping goes to the trail at once; the ``vehicle_positions`` row of a vehicle pinging every
second would be rewritten every second, which on PostgreSQL costs as much as the trail row itself.
:class:`LatestCheckpoints` lets a server move each vehicle's stored latest position at most once per
``every_s`` seconds: a newer ping arriving sooner is parked (only the newest is kept) and written by the
next write that finds the interval elapsed, or by a periodic flush, so the stored latest position lags
the newest accepted ping by at most ``every_s`` plus the flush period. The exact newest fix of every
vehicle is always in memory (:class:`~baton.execute.references.FixReferences`). Not thread-safe: used by
the one writer of a :class:`~baton.execute.writer.GroupWriter` group at a time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from baton.execute.pings import Ping

Latest = tuple[Ping, datetime]  # the ping and when the server received it


class LatestCheckpoints:
    """Per vehicle: when its stored latest position was last moved (``time.monotonic()`` s) and the newest
    ping not written yet."""

    def __init__(self) -> None:
        self._written: dict[str, float] = {}
        self._pending: dict[str, Latest] = {}

    @property
    def pending(self) -> int:
        """How many vehicles have a newer ping than their stored latest position."""
        return len(self._pending)

    def due(self, groups: Sequence[tuple[Sequence[Ping], datetime]], now: float, every_s: float) -> list[Latest]:
        """Park the newest ping of each vehicle of ``groups`` (``(pings, received_at)``) and return the parked
        pings whose vehicle's stored position was moved ``every_s`` s or longer before ``now`` (monotonic s).
        Call :meth:`written` once they are committed."""
        pending = self._pending
        for pings, received_at in groups:
            for p in pings:
                parked = pending.get(p.vehicle_id)
                if parked is None or p.ts > parked[0].ts:
                    pending[p.vehicle_id] = (p, received_at)
        if every_s <= 0:
            return list(pending.values())
        written = self._written
        return [row for v, row in pending.items() if now - written.get(v, -math.inf) >= every_s]

    def discard(self, groups: Sequence[tuple[Sequence[Ping], datetime]]) -> None:
        """Forget parked pings of ``groups`` (their write failed: they are not stored)."""
        ids = {id(p) for pings, _ in groups for p in pings}
        for vehicle_id in [v for v, row in self._pending.items() if id(row[0]) in ids]:
            del self._pending[vehicle_id]

    def written(self, rows: Sequence[Latest], now: float) -> None:
        """``rows`` (from :meth:`due`) are committed at ``now`` (monotonic s)."""
        for row in rows:
            vehicle_id = row[0].vehicle_id
            self._written[vehicle_id] = now
            if self._pending.get(vehicle_id) is row:
                del self._pending[vehicle_id]
