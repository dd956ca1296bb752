"""Traffic on the live plan: slowdowns reported on an area, a span of time or one vehicle, and the
factor they put on a leg's travel time."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from baton.domain.values import LatLng
from baton.live.geo import Geo

#: One slowdown as it applies to a leg: ``(index in the plan's slowdowns, start_s, end_s, factor)``.
Term = tuple[int, int, int, float]


@dataclass(frozen=True)
class Slowdown:
    """Travel times x ``factor`` for legs that start in ``[start_s, end_s)`` and whose destination
    is within ``radius_m`` of ``center`` (everywhere when ``center`` is ``None``), or only for
    ``vehicle_id`` when given."""

    factor: float
    start_s: int
    end_s: int
    center: LatLng | None = None
    radius_m: float = 0.0
    vehicle_id: str | None = None

    @property
    def on_area(self) -> bool:
        """Whether it applies to the legs ending in an area (any vehicle)."""
        return self.center is not None and self.vehicle_id is None


class SlowdownMemo:
    """What the plan's slowdowns do, memoised: which matrix points of ``geo`` lie in each area,
    the area slowdowns over each point, and each vehicle's :class:`LegTiming`."""

    def __init__(self, geo: Geo) -> None:
        self.geo = geo
        self._zones: dict[int, tuple[Slowdown, dict[int, bool]]] = {}
        #: per point: how many of ``_of`` were checked, and the area terms among them
        self._terms: dict[int, tuple[int, tuple[Term, ...]]] = {}
        self._of: tuple[Slowdown, ...] = ()
        self._fns: dict[tuple[str, int, float, float], LegTiming] = {}

    def inside(self, s: Slowdown, point: int) -> bool:
        """Whether matrix ``point`` lies in the area of slowdown ``s`` (always, without a centre)."""
        zone = self._zones.get(id(s))
        if zone is None or zone[0] is not s:
            zone = self._zones[id(s)] = (s, {})
        hit = zone[1].get(point)
        if hit is None:
            hit = zone[1][point] = s.center is None or _within(self.geo.points[point], s.center, s.radius_m)
        return hit

    def _sync(self, slowdowns: Sequence[Slowdown]) -> tuple[Slowdown, ...]:
        current = tuple(slowdowns)
        if current != self._of:
            if current[:len(self._of)] != self._of:
                self._terms = {}  # not only new slowdowns: check every point again
            self._of, self._fns = current, {}
        return current

    def _area_terms(self, point: int) -> tuple[Term, ...]:
        checked, found = self._terms.get(point, (0, ()))
        if checked < len(self._of):
            found += tuple((k, s.start_s, s.end_s, s.factor) for k, s in enumerate(self._of[checked:], checked)
                           if s.on_area and self.inside(s, point))
            self._terms[point] = (len(self._of), found)
        return found

    def timing(self, slowdowns: Sequence[Slowdown], traffic: float, ready_s: int, vehicle_id: str,
               speed_factor: float) -> LegTiming:
        """The :class:`LegTiming` of one vehicle free from ``ready_s`` (clock s) on, with its learnt
        ``traffic`` factor and ``speed_factor`` (memoised while the slowdowns stay the same)."""
        current = self._sync(slowdowns)
        key = (vehicle_id, ready_s, traffic, speed_factor)
        found = self._fns.get(key)
        if found is None:
            found = self._fns[key] = self._timing(current, traffic, ready_s, vehicle_id, speed_factor)
        return found

    def _timing(self, current: tuple[Slowdown, ...], traffic: float, ready_s: int, vehicle_id: str,
                speed_factor: float) -> LegTiming:
        own: list[Term] = [(k, s.start_s, s.end_s, s.factor) for k, s in enumerate(current)
                           if s.end_s > ready_s and not s.on_area and s.vehicle_id in (None, vehicle_id)]
        if not own and not any(s.end_s > ready_s and s.on_area for s in current):
            return LegTiming(lambda to_point, depart_s: traffic,
                             lambda to_point, secs, depart_s: depart_s + scaled(secs, speed_factor, traffic))
        merged: dict[int, tuple[Term, ...]] = {}
        area_terms = self._area_terms

        def terms_at(to_point: int) -> tuple[Term, ...]:
            terms = merged.get(to_point)
            if terms is None:
                area = area_terms(to_point)
                terms = merged[to_point] = tuple(sorted(own + list(area))) if own else area
            return terms

        def factor(to_point: int, depart_s: int) -> float:
            f = traffic
            for _, lo, hi, k in merged.get(to_point) or terms_at(to_point):
                if lo <= depart_s < hi:
                    f *= k
            return f

        def least_arrival(to_point: int, secs: int, depart_s: int) -> int:
            # the factor is constant between the slowdowns' starts and ends: on each such piece the
            # earliest departure arrives first, so only the piece starts can give the least arrival
            terms = merged.get(to_point) or terms_at(to_point)
            best = depart_s + scaled(secs, speed_factor, factor(to_point, depart_s) if terms else traffic)
            for _, lo, hi, _k in terms:
                for x in (lo, hi):
                    if depart_s < x < best:
                        best = min(best, x + scaled(secs, speed_factor, factor(to_point, x)))
            return best

        return LegTiming(factor, least_arrival)


class LegTiming(NamedTuple):
    """One vehicle's legs under the slowdowns: ``factor(to_point, depart_s)`` the traffic factor on
    its leg to a matrix point leaving at a clock time (its learnt factor x every slowdown in force
    then, multiplied in the order they were reported); ``least_arrival(to_point, secs, depart_s)``
    the earliest arrival (clock s) over a leg of ``secs`` (matrix s) left at ``depart_s`` or later."""

    factor: Callable[[int, int], float]
    least_arrival: Callable[[int, int, int], int]


#: Legs the city-wide pace remembers, legs seen before it applies, its bounds and rounding step.
PACE_LEGS = 200
PACE_MIN_LEGS = 20
PACE_MIN = 0.85
PACE_MAX = 1.5
PACE_STEP = 0.01


@dataclass
class CityPace:
    """The city-wide travel factor learnt from observed progress: over the last :data:`PACE_LEGS`
    legs driven by any vehicle, the time they took over the time the live plan expected for them
    (matrix x reported slowdowns in force, at the vehicle's speed), a ratio of sums. ``factor`` is
    1.0 until :data:`PACE_MIN_LEGS` legs were seen, then that ratio clamped to
    [:data:`PACE_MIN`, :data:`PACE_MAX`] and rounded to :data:`PACE_STEP` (dimensionless)."""

    legs: deque[tuple[int, int]] = field(default_factory=deque, init=False)
    factor: float = 1.0
    _expected: int = field(default=0, init=False, repr=False)  # running sums over ``legs`` (s)
    _took: int = field(default=0, init=False, repr=False)

    def observe(self, expected_s: float, took_s: int) -> bool:
        """Learn from one leg expected to take ``expected_s`` seconds that took ``took_s``; returns
        whether :attr:`factor` changed."""
        leg = (max(1, round(expected_s)), took_s)
        self.legs.append(leg)
        self._expected, self._took = self._expected + leg[0], self._took + leg[1]
        if len(self.legs) > PACE_LEGS:
            gone = self.legs.popleft()
            self._expected, self._took = self._expected - gone[0], self._took - gone[1]
        if len(self.legs) < PACE_MIN_LEGS:
            return False
        ratio = self._took / self._expected
        new = round(round(min(PACE_MAX, max(PACE_MIN, ratio)) / PACE_STEP) * PACE_STEP, 4)
        changed, self.factor = new != self.factor, new
        return changed


def least_factor(slowdowns: Sequence[Slowdown], traffic: float, ready_s: int, vehicle_id: str) -> float:
    """The least factor any leg of the vehicle (see :meth:`SlowdownMemo.timing`) can get: ``traffic`` x
    every slowdown below 1 that may apply (with a hair of margin for rounding)."""
    below = [s.factor for s in slowdowns if s.factor < 1 and s.end_s > ready_s and s.vehicle_id in (None, vehicle_id)]
    return traffic if not below else traffic * math.prod(below) * (1 - 1e-9)


def scaled(secs: int, speed_factor: float, factor: float) -> int:
    """A leg's ``secs`` (s) at the vehicle's ``speed_factor`` and a traffic ``factor``, rounded up."""
    if speed_factor == 1.0 and factor == 1.0:
        return secs
    return math.ceil(secs * factor / speed_factor - 1e-9)


def _within(p: LatLng, c: LatLng, radius_m: float) -> bool:
    dy = (p.lat - c.lat) * 111_195.0
    dx = (p.lng - c.lng) * 111_195.0 * math.cos(math.radians(c.lat))
    return dx * dx + dy * dy <= radius_m * radius_m
