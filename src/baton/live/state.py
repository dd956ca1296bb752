"""The live plan state: per vehicle its position and time, the stops done, pinned and free, the
parcels on board; the orders as the fast path sees them; a route's timeline (see
:func:`baton.live.model.evaluate`, which times routes; :mod:`baton.live.model` re-exports all of this).

Clock: integer seconds from the day's start (``LivePlan.day_start``, local midnight). A route is
``done`` (frozen, never changed) + ``pinned`` (the stop the vehicle is driving to: never moved
away from it) + ``free`` (re-sequenced and reassigned at will). Sequence items are order ids or
:data:`RELOAD` (drive back to the start depot and load parcels waiting there).

Parcels: an order's parcel is either on the vehicle (``LiveRoute.onboard``) or at the depot from
``LiveOrder.available_s``; a route that has left the depot must pass a reload stop before serving
an order whose parcel is not on board. A route still at the depot loads at departure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from baton.live.geo import Geo
from baton.live.traffic import CityPace, Slowdown, SlowdownMemo

RELOAD = "@reload"
#: Seconds a reload stop at the depot takes when the depot has no loading time.
DEFAULT_RELOAD_S = 600


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

    ``per_day``: the vehicle's fixed cost for a day it is used (plan currency). ``position``/``ready_s``:
    where the vehicle is and when it is free there; ``seg_start_s`` when
    the current stretch of work began (for breaks); ``traffic`` the vehicle's own factor on its
    travel times learnt from its observed progress, on top of the plan's city-wide pace
    (:attr:`LivePlan.pace`; 1.0 = as the city runs).
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
    per_day: float = 0.0
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


class Visit(NamedTuple):
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


class Mark(NamedTuple):
    """The state of a route's timing just before one of its positions: clock ``t`` (s), point
    ``here``, start of the current stretch of work ``seg`` (s), ``load`` on board, whether a reload
    was passed, and how many ``issues`` (``late_n`` of them lateness), ``breaks``, lateness
    ``late_s`` (s) and ``metres`` driven came before it. :func:`evaluate` resumes from it."""

    t: int
    here: int
    seg: int
    load: tuple[int, ...]
    reload_seen: bool
    issues: int
    late_n: int
    breaks: int
    late_s: int
    metres: int


@dataclass(frozen=True)
class Timeline:
    """A route's open part from now: ``visits``, ``breaks`` ``(after_visits, start_s, end_s)``,
    return at ``end_s`` after ``return_m``/``return_s``. ``issues`` lists hard-rule violations as
    ``(item or None, message)``; ``late_s`` the total lateness; ``cost`` = km x per_km + hours
    from now to the return x per_hour, + for a vehicle not yet used today (not started, nothing
    done) given work, what using it costs: per_day + per_hour x the hours from its shift start to
    now (plan currency). ``marks[k]``: the timing's state before
    position ``k`` (``marks[len(visits)]`` before the return), for incremental re-timing;
    ``stamp``: the route state it was computed for."""

    visits: tuple[Visit, ...]
    breaks: tuple[tuple[int, int, int], ...]
    end_s: int
    return_m: int
    return_s: int
    issues: tuple[tuple[str | None, str], ...]
    late_s: int
    cost: float
    marks: tuple[Mark, ...] = field(default=(), repr=False, compare=False)
    stamp: tuple[object, ...] = field(default=(), repr=False, compare=False)

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
    traffic slowdowns, the city-wide ``pace`` learnt from the legs driven (every route's travel
    times are x ``pace.factor``, see :meth:`factor_of`) and the geometry. ``day_start`` is the
    clock's zero (aware)."""

    day_start: datetime
    geo: Geo
    routes: dict[str, LiveRoute]
    orders: dict[str, LiveOrder]
    unassigned: dict[str, str] = field(default_factory=dict)
    slowdowns: list[Slowdown] = field(default_factory=list)
    reload_s: int = DEFAULT_RELOAD_S
    pace: CityPace = field(default_factory=CityPace)
    #: which points lie in each slowdown's area, the traffic factor on each leg (memo)
    traffic: SlowdownMemo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.traffic = SlowdownMemo(self.geo)

    def factor_of(self, route: LiveRoute) -> float:
        """The learnt factor on ``route``'s travel times: the city-wide pace x the vehicle's own."""
        return self.pace.factor * route.traffic

    def route_of(self, order_id: str) -> LiveRoute | None:
        for r in self.routes.values():
            if order_id == r.pinned or order_id in r.free:
                return r
        return None
