"""Geofenced stop events (pure): arrival after staying near a stop, departure on leaving it.

A vehicle *arrives* at a stop when its fixes stay within ``radius_m`` of the stop for at least
``dwell_to_arrive_s`` seconds; the arrival instant is the first fix inside. It *departs* at the
first fix farther than ``exit_radius_m`` (hysteresis, so GPS jitter at the edge does not flap);
``dwell_s`` = departure - arrival. Fixes are fed in time order; older fixes are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from baton.execute.pings import distance_m


@dataclass(frozen=True)
class GeofenceSettings:
    """Radii in metres, times in seconds. ``enabled=False``: arrivals and departures come from the driver
    app only (fixes still give the position for ETAs and the monitor)."""

    radius_m: float = 75.0
    exit_radius_m: float = 120.0
    dwell_to_arrive_s: int = 45
    enabled: bool = True


@dataclass(frozen=True)
class StopTarget:
    """A stop to watch: the order it serves and its position (WGS84 degrees)."""

    order_id: str
    lat: float
    lng: float


@dataclass(frozen=True)
class Arrival:
    order_id: str
    at: datetime


@dataclass(frozen=True)
class Departure:
    order_id: str
    at: datetime
    arrived_at: datetime

    @property
    def dwell_s(self) -> int:
        return int((self.at - self.arrived_at).total_seconds())


GeofenceEvent = Arrival | Departure


@dataclass
class GeofenceTracker:
    """Per-vehicle state machine over the stops it still has to visit.

    ``visited``: order ids already arrived at (never re-arrived); ``at_stop``: the stop the vehicle
    is at now, with its arrival instant.
    """

    targets: Sequence[StopTarget]
    settings: GeofenceSettings = field(default_factory=GeofenceSettings)
    visited: set[str] = field(default_factory=set)
    at_stop: tuple[str, datetime] | None = None
    _candidate: tuple[str, datetime] | None = None
    _last_ts: datetime | None = None

    def update(self, ts: datetime, lat: float, lng: float) -> list[GeofenceEvent]:
        """Feed one fix; returns the arrivals/departures it completes (oldest first)."""
        if self._last_ts is not None and ts <= self._last_ts:
            return []
        self._last_ts = ts
        out: list[GeofenceEvent] = []
        if self.at_stop is not None:
            order_id, arrived = self.at_stop
            target = self._target(order_id)
            if target is None or distance_m(lat, lng, target.lat, target.lng) > self.settings.exit_radius_m:
                out.append(Departure(order_id, ts, arrived))
                self.at_stop = None
            else:
                return out
        near = self._nearest_inside(lat, lng)
        if near is None:
            self._candidate = None
            return out
        if self._candidate is None or self._candidate[0] != near.order_id:
            self._candidate = (near.order_id, ts)
        entered = self._candidate[1]
        if (ts - entered).total_seconds() >= self.settings.dwell_to_arrive_s:
            out.append(Arrival(near.order_id, entered))
            self.visited.add(near.order_id)
            self.at_stop = (near.order_id, entered)
            self._candidate = None
        return out

    def _target(self, order_id: str) -> StopTarget | None:
        return next((t for t in self.targets if t.order_id == order_id), None)

    def _nearest_inside(self, lat: float, lng: float) -> StopTarget | None:
        best: tuple[float, StopTarget] | None = None
        reach = self.settings.radius_m / 100_000.0  # degrees of latitude, generously (1 degree > 110 km)
        for t in self.targets:
            if t.order_id in self.visited or abs(t.lat - lat) > reach:
                continue
            d = distance_m(lat, lng, t.lat, t.lng)
            if d <= self.settings.radius_m and (best is None or d < best[0]):
                best = (d, t)
        return best[1] if best else None
