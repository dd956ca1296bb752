"""The live plan state and the timing of a route from where its vehicle is now.

Clock: integer seconds from the day's start (``LivePlan.day_start``, local midnight). A route is
``done`` (frozen, never changed) + ``pinned`` (the stop the vehicle is driving to: never moved
away from it) + ``free`` (re-sequenced and reassigned at will). Sequence items are order ids or
:data:`RELOAD` (drive back to the start depot and load parcels waiting there).

Parcels: an order's parcel is either on the vehicle (``LiveRoute.onboard``) or at the depot from
``LiveOrder.available_s``; a route that has left the depot must pass a reload stop before serving
an order whose parcel is not on board. A route still at the depot loads at departure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from baton.adapters.travel.base import TravelTimeProvider
from baton.domain.values import LatLng

RELOAD = "@reload"
#: Seconds a reload stop at the depot takes when the depot has no loading time.
DEFAULT_RELOAD_S = 600


class Geo:
    """Distances (m) and durations (s) between the points Baton knows, from a travel provider.

    The points known when the day starts get one dense matrix (one provider call). Points added
    during the day (new or moved addresses) get their legs on demand: :meth:`fetch` asks the
    provider for one small matrix between a new point and the points it may be inserted between,
    and :meth:`leg` fills any other missing pair the same way. Providers answer pairwise, so a leg
    is the same whichever call produced it.
    """

    def __init__(self, travel: TravelTimeProvider, points: Sequence[LatLng], depart_at: datetime | None) -> None:
        self.travel, self.depart_at = travel, depart_at
        self.points: list[LatLng] = list(dict.fromkeys(points))
        self.index: dict[LatLng, int] = {p: k for k, p in enumerate(self.points)}
        self.n_dense = len(self.points)
        m = travel.matrices(self.points, depart_at=depart_at) if self.points else None
        self._d: list[list[int]] = m.distance_m.tolist() if m is not None else []
        self._t: list[list[int]] = m.duration_s.tolist() if m is not None else []
        self._extra: dict[tuple[int, int], tuple[int, int]] = {}

    def add(self, points: Sequence[LatLng]) -> list[int]:
        """Indices of ``points``, registering the unknown ones (their legs come on demand)."""
        for p in points:
            if p not in self.index:
                self.index[p] = len(self.points)
                self.points.append(p)
        return [self.index[p] for p in points]

    def fetch(self, a: int, others: Sequence[int]) -> None:
        """Ask the provider, in one call, for every leg between point ``a`` and ``others`` not yet known.

        Raises:
            TravelTimeError: when the provider cannot answer.
        """
        need = [o for o in dict.fromkeys(others) if o != a and not self._known(a, o)]
        if not need:
            return
        m = self.travel.matrices([self.points[a]] + [self.points[o] for o in need], depart_at=self.depart_at)
        d, t = m.distance_m.tolist(), m.duration_s.tolist()
        for k, o in enumerate(need, start=1):
            self._extra[(a, o)] = (d[0][k], t[0][k])
            self._extra[(o, a)] = (d[k][0], t[k][0])

    def _known(self, a: int, b: int) -> bool:
        return (a < self.n_dense and b < self.n_dense) or (a, b) in self._extra

    def leg(self, a: int, b: int) -> tuple[int, int]:
        """``(metres, seconds)`` from point ``a`` to ``b``."""
        if a < self.n_dense and b < self.n_dense:
            return self._d[a][b], self._t[a][b]
        if a == b:
            return 0, 0
        found = self._extra.get((a, b))
        if found is None:
            self.fetch(a, [b])
            found = self._extra[(a, b)]
        return found


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


@dataclass
class LiveOrder:
    """What the fast path needs of an order: matrix ``point``, ``windows`` as ``(earliest,
    latest)`` service start in clock seconds, ``service_s``, size ``units`` (see
    :func:`baton.planning.mapping.demand_units`), required ``features``, ``available_s`` (when
    the parcel is at the depot), ``not_before_s`` (second attempts), and ``promised_end_s``: the
    end of the window the customer was promised (``None``: any)."""

    id: str
    point: int
    windows: list[tuple[int, int]]
    service_s: int
    units: tuple[int, int, int]
    features: frozenset[str] = frozenset()
    priority: int = 1
    available_s: int = 0
    not_before_s: int = 0


@dataclass
class LiveRoute:
    """One vehicle's day, live. Times are clock seconds, costs in the plan currency.

    ``position``/``ready_s``: where the vehicle is and when it is free there; ``seg_start_s`` when
    the current stretch of work began (for breaks); ``traffic`` the factor on its travel times
    learnt from its observed progress (1.0 = as the matrix says).
    """

    id: str
    vehicle_id: str
    driver_id: str | None
    depot: int
    end_depot: int
    begin_s: int
    shift_end_s: int
    max_end_s: int
    loading_s: int
    capacity: tuple[int, int, int]
    speed_factor: float
    per_km: float
    per_hour: float
    capabilities: frozenset[str]
    break_after_s: int = 0
    break_s: int = 0
    position: int = 0
    ready_s: int = 0
    seg_start_s: int = 0
    started: bool = False
    broken: bool = False
    done: list[str] = field(default_factory=list)
    pinned: str | None = None
    free: list[str] = field(default_factory=list)
    onboard: set[str] = field(default_factory=set)
    distance_done_m: int = 0
    traffic: float = 1.0
    known_issues: set[str] = field(default_factory=set)

    @property
    def open_items(self) -> list[str]:
        """The pinned stop (if any) then the free ones."""
        return ([self.pinned] if self.pinned else []) + self.free

    @property
    def order_ids(self) -> list[str]:
        return [x for x in self.open_items if x != RELOAD]


@dataclass(frozen=True)
class Visit:
    """A stop on a route's timeline: ``arrive_s`` at the door, ``start_s`` service start (after
    waiting), ``end_s`` departure, ``leg_m``/``leg_s`` the drive there, ``late_s`` seconds after the
    last window closed (0 when on time)."""

    item: str
    point: int
    arrive_s: int
    start_s: int
    end_s: int
    leg_m: int
    leg_s: int
    late_s: int = 0


@dataclass(frozen=True)
class Timeline:
    """A route's open part from now: ``visits``, ``breaks`` ``(after_visits, start_s, end_s)``,
    return at ``end_s`` after ``return_m``/``return_s``. ``issues`` lists hard-rule violations as
    ``(item or None, message)``; ``late_s`` the total lateness; ``cost`` = km x per_km + hours
    from now to the return x per_hour (plan currency)."""

    visits: tuple[Visit, ...]
    breaks: tuple[tuple[int, int, int], ...]
    end_s: int
    return_m: int
    return_s: int
    issues: tuple[tuple[str | None, str], ...]
    late_s: int
    cost: float

    @property
    def feasible(self) -> bool:
        return not self.issues

    @property
    def late_items(self) -> set[str]:
        return {v.item for v in self.visits if v.late_s > 0}

    @property
    def distance_m(self) -> int:
        return sum(v.leg_m for v in self.visits) + self.return_m


@dataclass
class LivePlan:
    """The whole live state: routes by id, orders by id, unassigned orders with their reason,
    traffic slowdowns and the geometry. ``day_start`` is the clock's zero (aware)."""

    day_start: datetime
    geo: Geo
    routes: dict[str, LiveRoute]
    orders: dict[str, LiveOrder]
    unassigned: dict[str, str] = field(default_factory=dict)
    slowdowns: list[Slowdown] = field(default_factory=list)
    reload_s: int = DEFAULT_RELOAD_S
    #: per slowdown (by identity), which matrix points lie in its area (filled lazily)
    _zones: dict[int, tuple[Slowdown, dict[int, bool]]] = field(default_factory=dict, repr=False, compare=False)

    def route_of(self, order_id: str) -> LiveRoute | None:
        for r in self.routes.values():
            if order_id == r.pinned or order_id in r.free:
                return r
        return None

    def factor(self, route: LiveRoute, to_point: int, depart_s: int,
               slowdowns: Sequence[Slowdown] | None = None) -> float:
        """The traffic factor for ``route``'s leg to ``to_point`` departing at ``depart_s``
        (``slowdowns``: the ones to consider, default all)."""
        f = route.traffic
        for s in self.slowdowns if slowdowns is None else slowdowns:
            if not (s.start_s <= depart_s < s.end_s):
                continue
            if s.vehicle_id is not None:
                if s.vehicle_id == route.vehicle_id:
                    f *= s.factor
            elif s.center is None or self.inside(s, to_point):
                f *= s.factor
        return f

    def inside(self, s: Slowdown, point: int) -> bool:
        """Whether matrix ``point`` lies in the area of slowdown ``s`` (memoised per point)."""
        zone = self._zones.get(id(s))
        if zone is None or zone[0] is not s:
            zone = self._zones[id(s)] = (s, {})
        hit = zone[1].get(point)
        if hit is None:
            hit = zone[1][point] = s.center is None or _within(self.geo.points[point], s.center, s.radius_m)
        return hit

    def slowdowns_for(self, route: LiveRoute) -> list[Slowdown]:
        """The slowdowns that can still apply to ``route`` (not over before it is ready, not for another
        vehicle)."""
        return [s for s in self.slowdowns if s.end_s > route.ready_s
                and (s.vehicle_id is None or s.vehicle_id == route.vehicle_id)]


def touches(plan: LivePlan, route: LiveRoute, slowdown: Slowdown, timeline: Timeline) -> bool:
    """Whether ``slowdown`` can change ``route``'s ``timeline`` (computed without it): the route is
    on the road during the slowdown's span and, for an area, one of its legs ends in the area (a
    superset of the routes whose times change: the others are left as they are)."""
    if not route.open_items or route.broken:
        return False
    if slowdown.vehicle_id is not None and slowdown.vehicle_id != route.vehicle_id:
        return False
    if timeline.end_s <= slowdown.start_s or route.ready_s >= slowdown.end_s:
        return False
    if slowdown.center is None or slowdown.vehicle_id is not None:
        return True
    return any(plan.inside(slowdown, v.point) for v in timeline.visits) or plan.inside(slowdown, route.end_depot)


def _within(p: LatLng, c: LatLng, radius_m: float) -> bool:
    dy = (p.lat - c.lat) * 111_195.0
    dx = (p.lng - c.lng) * 111_195.0 * math.cos(math.radians(c.lat))
    return dx * dx + dy * dy <= radius_m * radius_m


def evaluate(plan: LivePlan, route: LiveRoute, items: Sequence[str] | None = None) -> Timeline:
    """The timeline of ``route`` serving ``items`` (default: its open items) from its position.

    Rules checked (each failure is an issue): every window missed (hard: a promised window is
    never broken knowingly), capacity on each trip, a reload before any order whose parcel is not
    on board once the vehicle has left, features/skills, return by shift end / depot closing,
    working time, and the driver's break (taken where the vehicle stands, before the leg that
    would exceed ``break_after_s`` of work). Never raises.
    """
    seq = list(route.open_items if items is None else items)
    geo, orders = plan.geo, plan.orders
    t, here, seg = route.ready_s, route.position, route.seg_start_s
    issues: list[tuple[str | None, str]] = []
    visits: list[Visit] = []
    breaks: list[tuple[int, int, int]] = []
    late_total = 0
    at_depot_unstarted = not route.started
    load = [0, 0, 0]
    # the slowdowns that can apply, as (start, end, factor, area or None when it applies everywhere)
    active = [(s.start_s, s.end_s, s.factor, s if s.center is not None and s.vehicle_id is None else None)
              for s in plan.slowdowns_for(route)]
    plain = not active and route.traffic == 1.0
    inside = plan.inside

    def factor(to_point: int, depart_s: int) -> float:  # == plan.factor(route, to_point, depart_s)
        if plain:
            return 1.0
        f = route.traffic
        for lo, hi, k, area in active:
            if lo <= depart_s < hi and (area is None or inside(area, to_point)):
                f *= k
        return f

    in_seq = set(seq)
    for x in route.onboard:
        if x in in_seq and x in orders:
            _add(load, orders[x].units)

    def close_trip() -> None:
        if any(a > c for a, c in zip(load, route.capacity, strict=True)):
            issues.append((None, f"vehicle {route.vehicle_id} capacity exceeded"))

    if at_depot_unstarted:
        first = seq[:seq.index(RELOAD)] if RELOAD in seq else seq
        t = max([t] + [orders[o].available_s for o in first if o not in route.onboard])
    reload_seen = False
    for pos, item in enumerate(seq):
        if item == RELOAD:
            point, service = route.depot, plan.reload_s
            close_trip()
            load = [0, 0, 0]
            nxt = seq[pos + 1:]
            stop_at = nxt.index(RELOAD) if RELOAD in nxt else len(nxt)
            avail = max((orders[o].available_s for o in nxt[:stop_at] if o not in route.onboard), default=0)
            for o in nxt[:stop_at]:
                _add(load, orders[o].units)
            reload_seen = True
        else:
            lo = orders[item]
            point, service = lo.point, lo.service_s
            if item not in route.onboard:
                if at_depot_unstarted and not reload_seen:
                    _add(load, lo.units)
                elif not reload_seen:
                    issues.append((item, f"parcel of {item} is not on {route.vehicle_id}: needs a reload first"))
            if not lo.features <= route.capabilities:
                issues.append((item, f"{route.vehicle_id} lacks {', '.join(sorted(lo.features - route.capabilities))}"))
            avail = 0
        metres, secs = geo.leg(here, point)
        secs = _scaled(secs, route.speed_factor, factor(point, t))
        start, late = _start(orders, item, t + secs, avail)
        if route.break_s and start + service - seg > route.break_after_s:
            # the stretch would be too long: rest here first (waiting at the door counts as work)
            breaks.append((len(visits), t, t + route.break_s))
            t += route.break_s
            seg = t
            start, late = _start(orders, item, t + secs, avail)
        arrive = t + secs
        if item != RELOAD and late > 0:
            issues.append((item, f"{item} would be served {late // 60} min after its window"))
        end = start + service
        visits.append(Visit(item, point, arrive, start, end, metres, secs, late))
        late_total += late
        t, here = end, point
    close_trip()
    metres, secs = geo.leg(here, route.end_depot)
    secs = _scaled(secs, route.speed_factor, factor(route.end_depot, t))
    if route.break_s and t + secs - seg > route.break_after_s and seq:
        breaks.append((len(visits), t, t + route.break_s))
        t += route.break_s
    end_s = t + secs
    if seq and end_s > route.shift_end_s:
        issues.append((None, f"route of {route.vehicle_id} would end {(end_s - route.shift_end_s) // 60} min "
                             "after the shift"))
    if seq and end_s > route.max_end_s:
        issues.append((None, f"route of {route.vehicle_id} would exceed the working time"))
    dist = sum(v.leg_m for v in visits) + metres
    cost = route.per_km * dist / 1000 + route.per_hour * max(0, end_s - route.ready_s) / 3600
    return Timeline(tuple(visits), tuple(breaks), end_s, metres, secs, tuple(issues), late_total, cost)


def _start(orders: dict[str, LiveOrder], item: str, arrive: int, avail: int) -> tuple[int, int]:
    if item == RELOAD:
        return max(arrive, avail), 0
    return _service_start(orders[item], arrive)


def _add(acc: list[int], units: tuple[int, int, int]) -> None:
    for k in range(3):
        acc[k] += units[k]


def _scaled(secs: int, speed_factor: float, traffic: float) -> int:
    if speed_factor == 1.0 and traffic == 1.0:
        return secs
    return math.ceil(secs * traffic / speed_factor - 1e-9)


def _service_start(order: LiveOrder, arrive: int) -> tuple[int, int]:
    """``(service start, lateness)``: earliest start in a window still open, else late."""
    arrive = max(arrive, order.not_before_s)
    best: int | None = None
    for early, late in order.windows:
        if late >= arrive:
            s = max(arrive, early)
            best = s if best is None else min(best, s)
    if best is not None:
        return best, 0
    last = max((late for _, late in order.windows), default=arrive)
    return arrive, arrive - last
