"""Exception detection (pure): what is going wrong on a vehicle's route right now.

Kinds (``Finding.kind``) and their rules, all thresholds in :class:`MonitorSettings` (seconds):

* ``late_risk``: some remaining stop's ETA is after its window closes, or more than
  ``late_behind_s`` (15 min) behind plan; one finding per route listing the affected orders;
* ``long_dwell``: at a stop for longer than ``max(long_dwell_min_s, long_dwell_factor × planned service)``;
* ``idle_vehicle``: en route (not at a stop) and within ``idle_radius_m`` for ``idle_s``;
* ``gps_silence``: no fix for ``gps_silence_s`` while the route is in progress;
* ``off_route``: farther than ``off_route_m`` from the straight line of its current leg (previous stop
  → next stop) for ``off_route_s``;
* ``failed_attempt``: raised from the order lifecycle, not from positions (see the service).

A condition that no longer holds lets the service resolve its open exception automatically.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from baton.execute.eta import StopEta

CONDITION_KINDS: tuple[str, ...] = ("late_risk", "long_dwell", "idle_vehicle", "gps_silence", "off_route")
ALL_KINDS: tuple[str, ...] = (*CONDITION_KINDS, "failed_attempt", "off_route", "breakdown")


@dataclass(frozen=True)
class MonitorSettings:
    late_behind_s: int = 900
    long_dwell_min_s: int = 900
    long_dwell_factor: float = 3.0
    idle_s: int = 600
    idle_radius_m: float = 50.0
    gps_silence_s: int = 300
    off_route_m: float = 1500.0
    off_route_s: int = 180


@dataclass(frozen=True)
class Finding:
    """A detected condition; ``subject`` de-duplicates (one open exception per kind and subject)."""

    kind: str
    subject: str
    route_id: str
    vehicle_id: str
    order_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VehicleSnapshot:
    """What the monitor needs to know about one vehicle on its route at ``now``."""

    route_id: str
    vehicle_id: str
    in_progress: bool
    last_fix_at: datetime | None
    at_stop: tuple[str, datetime] | None
    at_stop_service_s: int
    stationary_since: datetime | None
    off_route_since: datetime | None = None
    off_route_m: float = 0.0


def detect(snapshot: VehicleSnapshot, etas: list[StopEta], now: datetime,
           settings: MonitorSettings = MonitorSettings()) -> list[Finding]:
    """Every condition holding for this vehicle at ``now``."""
    s, out = snapshot, []
    late = [e for e in etas if e.after_window or e.behind_s > settings.late_behind_s]
    if late:
        out.append(Finding("late_risk", f"route:{s.route_id}", s.route_id, s.vehicle_id, details={
            "orders": [e.order_id for e in late],
            "max_behind_s": max(e.behind_s for e in late),
            "after_window": [e.order_id for e in late if e.after_window],
        }))
    if not s.in_progress:
        return out
    if s.at_stop is not None:
        order_id, arrived = s.at_stop
        limit = max(settings.long_dwell_min_s, settings.long_dwell_factor * s.at_stop_service_s)
        dwell = (now - arrived).total_seconds()
        if dwell > limit:
            out.append(Finding("long_dwell", f"stop:{s.route_id}:{order_id}", s.route_id, s.vehicle_id, order_id,
                               {"dwell_s": int(dwell), "limit_s": int(limit)}))
    elif s.stationary_since is not None and (now - s.stationary_since).total_seconds() > settings.idle_s:
        out.append(Finding("idle_vehicle", f"vehicle:{s.vehicle_id}", s.route_id, s.vehicle_id,
                           details={"idle_s": int((now - s.stationary_since).total_seconds())}))
    if (s.at_stop is None and s.off_route_since is not None
            and (now - s.off_route_since).total_seconds() >= settings.off_route_s):
        out.append(Finding("off_route", f"vehicle:{s.vehicle_id}", s.route_id, s.vehicle_id,
                           details={"distance_m": int(s.off_route_m),
                                    "since": s.off_route_since.isoformat()}))
    if s.last_fix_at is not None and (now - s.last_fix_at).total_seconds() > settings.gps_silence_s:
        out.append(Finding("gps_silence", f"vehicle:{s.vehicle_id}", s.route_id, s.vehicle_id,
                           details={"silent_s": int((now - s.last_fix_at).total_seconds())}))
    return out


def distance_to_leg_m(point: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    """Metres from ``point`` to the segment ``a``→``b`` (lat, lng degrees; local flat projection, fine
    for the few kilometres of a delivery leg)."""
    lat0 = math.radians(a[0])
    kx, ky = 111_320.0 * math.cos(lat0), 110_540.0

    def xy(p: tuple[float, float]) -> tuple[float, float]:
        return ((p[1] - a[1]) * kx, (p[0] - a[0]) * ky)

    (px, py), (bx, by) = xy(point), xy(b)
    length2 = bx * bx + by * by
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, (px * bx + py * by) / length2))
    return math.hypot(px - t * bx, py - t * by)
