"""The ETA engine (pure): per remaining stop, when will the vehicle get there.

For a vehicle on a route::

    ETA(first remaining stop) = now + remaining part of the current leg × pace
    ETA(next stops)           = previous ETA, wait for the window to open, + service time
                                + planned leg × pace

* the *remaining part of the current leg* is the planned leg time scaled by the straight-line
  distance still to go over the leg's straight-line length (1 when no fix is known);
* *pace* is the vehicle's smoothed ratio of observed to planned leg times (exponentially
  weighted, ``alpha``), clamped to ``[min_pace, max_pace]``; 1.0 until a leg has been driven;
* *service time* is learned per zone (H3 cell) where history exists (median dwell of past visits,
  see :func:`zone_of`), else the plan's;
* while the vehicle is at a stop, its remaining service there comes first.

Instants are aware; durations seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, lru_cache

import h3

from baton.execute.pings import distance_m


@dataclass(frozen=True)
class EtaSettings:
    """``alpha``: weight of the newest leg in the pace; ``change_threshold_s``: an ETA move at least
    this large emits ``eta.changed``; ``zone_min_samples``: visits needed before a zone's learned
    service time replaces the plan's; ``store_granularity_s``: an ETA is rewritten in storage only when it
    moved at least this much since last written (what a customer can see does not change below it);
    ``recompute_min_change_s`` / ``recompute_max_age_s``: a van with new pings is recomputed only when the
    distance it drove since its last computation moves its next ETA by at least ``recompute_min_change_s``
    (estimated as metres driven × the current leg's planned seconds per metre × pace), or that computation is
    at least ``recompute_max_age_s`` old, or it arrived/departed/started since (0 s: always recompute). Below
    both, its ETAs stand within about a third of the storage granularity of a fresh computation. The age
    limit of each van is spread over 50–100 % of ``recompute_max_age_s`` by a hash of its id, so vans
    computed together (at start-up) do not all come due in the same pass."""

    alpha: float = 0.4
    min_pace: float = 0.5
    max_pace: float = 4.0
    change_threshold_s: int = 120
    zone_min_samples: int = 3
    store_granularity_s: int = 15
    recompute_min_change_s: float = 5.0
    recompute_max_age_s: float = 10.0


@dataclass(frozen=True)
class PlannedStop:
    """A remaining stop: ``order_id`` is ``None`` for breaks; ``leg_duration_s`` is the drive to it."""

    order_id: str | None
    lat: float
    lng: float
    planned_arrival: datetime
    service_s: int
    leg_duration_s: int
    window_start: datetime | None = None
    window_end: datetime | None = None

    @cached_property
    def instants(self) -> tuple[float, float | None, float | None]:
        """(planned arrival, window start, window end) as POSIX seconds (cached: the ETA loop runs on floats)."""
        return (self.planned_arrival.timestamp(), self.window_start.timestamp() if self.window_start else None,
                self.window_end.timestamp() if self.window_end else None)


@dataclass(frozen=True, slots=True)
class StopEta:
    """``behind_s`` = ETA - planned arrival (positive: late against plan); ``after_window``: the ETA is after
    the window closes."""

    order_id: str
    eta: datetime
    planned_arrival: datetime
    window_end: datetime | None
    behind_s: int
    after_window: bool


@lru_cache(maxsize=1 << 16)
def zone_of(lat: float, lng: float, resolution: int = 8) -> str:
    """The H3 cell (resolution 8: about 0.7 km², ~460 m edge) used to learn service times per zone
    (memoised: stops are looked up on every ETA pass)."""
    return str(h3.latlng_to_cell(lat, lng, resolution))


def update_pace(pace: float, observed_s: float, planned_s: float, settings: EtaSettings = EtaSettings()) -> float:
    """Fold one driven leg into the smoothed pace factor (legs under 60 s planned are ignored)."""
    if planned_s < 60 or observed_s <= 0:
        return pace
    ratio = min(settings.max_pace, max(settings.min_pace, observed_s / planned_s))
    new = (1 - settings.alpha) * pace + settings.alpha * ratio
    return min(settings.max_pace, max(settings.min_pace, new))


def compute_etas(
    stops: Sequence[PlannedStop],
    now: datetime,
    *,
    pace: float = 1.0,
    position: tuple[float, float] | None = None,
    leg_origin: tuple[float, float] | None = None,
    not_before: datetime | None = None,
    at_stop_remaining_s: int = 0,
    service_for: Callable[[PlannedStop], int] | None = None,
) -> list[StopEta]:
    """ETAs of ``stops`` (the remaining ones, in sequence) seen from ``now``.

    ``position``: the vehicle's latest fix (lat, lng); ``leg_origin``: where the current leg started
    (previous stop or depot); ``not_before``: the vehicle cannot leave before this (route start);
    ``at_stop_remaining_s``: service still to do at the stop it is at; ``service_for`` overrides
    a stop's service time (learned per zone).
    """
    tz = now.tzinfo
    t = max(now, not_before).timestamp() if not_before is not None else now.timestamp()
    t += max(0, at_stop_remaining_s)
    out: list[StopEta] = []
    for k, stop in enumerate(stops):
        leg = float(stop.leg_duration_s)
        if k == 0 and position is not None and leg_origin is not None:
            whole = distance_m(leg_origin[0], leg_origin[1], stop.lat, stop.lng)
            left = distance_m(position[0], position[1], stop.lat, stop.lng)
            leg *= min(1.0, left / whole) if whole > 1.0 else 0.0
        t += leg * pace
        planned, opens, closes = stop.instants
        if stop.order_id is not None:
            eta = datetime.fromtimestamp(t, tz)
            out.append(StopEta(stop.order_id, eta, stop.planned_arrival, stop.window_end, int(t - planned),
                               closes is not None and t > closes))
        start_service = max(t, opens) if opens is not None else t
        service = service_for(stop) if service_for is not None else stop.service_s
        t = start_service + service
    return out


def changed_etas(
    new: Sequence[StopEta], published: dict[str, datetime], threshold_s: int
) -> list[tuple[StopEta, datetime | None]]:
    """The ETAs that moved at least ``threshold_s`` from the last published one (or were never published)."""
    out: list[tuple[StopEta, datetime | None]] = []
    for e in new:
        old = published.get(e.order_id)
        if old is None or abs((e.eta - old).total_seconds()) >= threshold_s:
            out.append((e, old))
    return out
