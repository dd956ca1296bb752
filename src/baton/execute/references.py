"""Teleport references: the newest accepted fix of every vehicle, kept in memory for ping validation.

A ping is refused as a teleport when the speed implied from its vehicle's previous accepted fix is
impossible (:func:`baton.execute.pings.implied_speed_mps`). :class:`FixReferences` holds that previous
fix per vehicle, so validating a batch reads nothing from the database once a vehicle is known: a
vehicle seen for the first time is looked up once through ``load`` (its stored latest position, or
none) and then advanced by every batch it sends. Thread-safe; validation and storage can run on other
threads than the tracker's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

from baton.execute.pings import Ping

#: ``(ts, lat, lng, accuracy_m)``: an aware instant, WGS84 degrees, metres (``None``: unknown).
Fix = tuple[datetime, float, float, float | None]


class FixReferences:
    """Vehicle id → its newest accepted fix (``None``: the vehicle has no position anywhere yet).

    ``load(vehicle_ids)`` returns the stored latest fixes of those of ``vehicle_ids`` that have one; it is
    called only for vehicles never seen here and may raise whatever the store raises.
    """

    def __init__(self, load: Callable[[list[str]], Mapping[str, Fix]]) -> None:
        self._load = load
        self._fixes: dict[str, Fix | None] = {}
        self._guard = threading.Lock()

    def __len__(self) -> int:
        return len(self._fixes)

    def seed(self, stored: Mapping[str, Fix | None]) -> None:
        """Remember stored fixes (read elsewhere, e.g. when a route is tracked) of vehicles not known yet:
        a fix accepted here since is newer and is kept."""
        with self._guard:
            for vehicle_id, fix in stored.items():
                self._fixes.setdefault(vehicle_id, fix)

    def for_vehicles(self, vehicle_ids: Iterable[str]) -> dict[str, Fix]:
        """The references of ``vehicle_ids`` that have one (one ``load`` for those never seen)."""
        wanted = set(vehicle_ids)
        with self._guard:
            missing = sorted(v for v in wanted if v not in self._fixes)
        if missing:
            stored = self._load(missing)
            self.seed({v: stored.get(v) for v in missing})
        with self._guard:
            return {v: fix for v in wanted if (fix := self._fixes.get(v)) is not None}

    def advance(self, pings: Sequence[Ping]) -> None:
        """Move each vehicle's reference to its newest accepted ping (never backwards in time)."""
        with self._guard:
            fixes = self._fixes
            for p in pings:
                ref = fixes.get(p.vehicle_id)
                if ref is None or p.ts >= ref[0]:
                    fixes[p.vehicle_id] = (p.ts, p.lat, p.lng, p.accuracy_m)
