"""Improvement across the seams of a decomposed day: re-plan groups of neighbouring routes.

:func:`~baton.planning.decompose.plan_large` plans a large day part by part, so an order near a
sector border stays in its sector, two half-empty vans may run side by side on either side of a
seam, and an order one part's crews could not take stays unassigned while the next part's vans
have room. :func:`improve_seams` spends the rest of the budget on *groups*: a route and the routes
whose centroids lie nearest to it, from any part, until the group holds about
:data:`GROUP_ORDERS` orders. Each group is offered the unassigned orders the solver dropped
(reason ``dropped...``, not those no crew can serve) whose nearest route is in the group (each such order at
most :data:`MAX_OFFERS` times), and one unused vehicle of its depot. Its orders are re-planned on its crews by
:func:`~baton.planning.planner.plan_routes`, warm-started from the current routes (the search
begins at the current plan and may empty a van). The new routes replace the group's routes only
when they serve every order the group served and cost less: fixed + distance + time cost, plus
the lateness penalty with soft windows (:func:`routes_cost`), plus the drop penalty of offered
orders left out. Groups with an order to offer go first, then those that mix parts (nearest
seams first), then the rest, until the budget is spent; a group already tried, unchanged since,
is not tried again.

This is the route-based decomposition of large-instance metaheuristics (e.g. Vidal et al. 2013,
"A hybrid genetic algorithm with adaptive diversity management for a large class of vehicle
routing problems with time-windows", Computers & Operations Research 40(1), decomposition phase):
small sub-problems converge in seconds where the whole part would need minutes.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

from baton.adapters.travel.base import TravelTimeProvider
from baton.domain.fleet import Driver, Vehicle
from baton.domain.order import Order
from baton.domain.plan import Route, UnassignedOrder
from baton.planning.crews import pair_drivers
from baton.planning.mapping import resolve_day_start
from baton.planning.planner import plan_routes
from baton.planning.problem import PlanningOptions, PlanningProblem

log = logging.getLogger(__name__)

GROUP_ORDERS = 300
"""Orders in a group (at least; the last route added may take it over)."""
GROUP_MAX_ROUTES = 12
"""Most routes in one group."""
GROUP_EXTRAS = 30
"""Most unassigned orders offered to one group."""
MAX_OFFERS = 2
"""Groups an unassigned order is offered to before the pass gives up on it."""
GROUP_S = 6.0
"""Search seconds per group (less when the budget left is shorter)."""
MIN_GROUP_S = 1.0
"""A group is not started with less budget left than this, seconds."""

ProgressCallback = Callable[[float, float], None]


def lateness_cost(routes: list[Route], orders: dict[str, Order], options: PlanningOptions) -> float:
    """The lateness penalty of ``routes``, in the plan's currency: with soft windows,
    ``lateness_penalty_per_hour`` per hour of service starting after the closest of the order's
    windows closed (:meth:`~baton.domain.values.TimeWindow.lateness`); 0 with hard windows."""
    if options.hard_time_windows:
        return 0.0
    late_s = sum(min(w.lateness(s.planned_arrival) for w in orders[s.order_id].time_windows).total_seconds()
                 for r in routes for s in r.stops if s.order_id is not None and orders[s.order_id].time_windows)
    return options.lateness_penalty_per_hour * late_s / 3600


def routes_cost(routes: list[Route], orders: dict[str, Order], options: PlanningOptions) -> float:
    """What ``routes`` cost, in the plan's currency: each route's ``cost`` (fixed + distance +
    time) plus :func:`lateness_cost` (as :func:`~baton.planning.planner.plan_routes` charges it)."""
    return sum(r.cost for r in routes) + lateness_cost(routes, orders, options)


def _xy(lat: float, lng: float) -> tuple[float, float]:
    """(x, y) in km of a local equirectangular projection (good to a few % over a city)."""
    return lng * 111.32 * math.cos(math.radians(lat)), lat * 110.57


def _point(order: Order) -> tuple[float, float]:
    return _xy(order.location.lat, order.location.lng)


def _centroid(route: Route, orders: dict[str, Order]) -> tuple[float, float]:
    points = [orders[i].location for i in route.order_ids]
    return _xy(sum(p.lat for p in points) / len(points), sum(p.lng for p in points) / len(points))


def _key(route: Route) -> tuple[str, tuple[str, ...]]:
    return route.vehicle_id, tuple(route.order_ids)


def _nearest(centres: list[tuple[float, float]], waiting: dict[str, tuple[float, float]]) -> dict[str, int]:
    """For each waiting order, the index of the route whose centroid is nearest to it."""
    return {i: min(range(len(centres)), key=lambda k: math.dist(centres[k], xy)) for i, xy in waiting.items()}


def _groups(routes: list[Route], parts: list[int], orders: dict[str, Order],
            waiting: dict[str, tuple[float, float]]) -> list[tuple[list[int], list[str]]]:
    """Route index groups with the waiting orders offered to each (module docs): groups with an
    order to offer first, then those that mix parts, nearest seams first."""
    centre = [_centroid(r, orders) for r in routes]
    nearest = _nearest(centre, waiting)
    dist = lambda a, b: math.dist(centre[a], centre[b])  # noqa: E731
    out: list[tuple[int, int, float, list[int], list[str]]] = []
    for seed in range(len(routes)):
        near = sorted(range(len(routes)), key=lambda k: dist(seed, k))
        group: list[int] = []
        size = 0
        for k in near:
            if size >= GROUP_ORDERS or len(group) >= GROUP_MAX_ROUTES:
                break
            group.append(k)
            size += len(routes[k].order_ids)
        inside = set(group)
        extra = [i for i, k in nearest.items() if k in inside][:GROUP_EXTRAS]
        others = [dist(seed, k) for k in range(len(routes)) if parts[k] != parts[seed]]
        mixed = len({parts[k] for k in group}) > 1
        out.append((0 if extra else 1, 0 if mixed else 1, min(others, default=math.inf), group, extra))
    out.sort(key=lambda g: g[:3])
    return [(g, extra) for *_, g, extra in out]


@dataclass(frozen=True)
class SeamResult:
    """What :func:`improve_seams` returns: the day's routes, the orders still unassigned (with
    their parts' reasons), and how many groups were re-planned."""

    routes: list[Route]
    unassigned: list[UnassignedOrder]
    replaced: int


def _spare(problem: PlanningProblem, routes: list[Route], depot_id: str) -> tuple[Vehicle, Driver | None] | None:
    """A vehicle of ``depot_id`` that no route uses, with its driver (``None`` when the problem has
    no drivers); ``None`` when every such vehicle is in use or has no free driver."""
    used = {r.vehicle_id for r in routes}
    busy = {r.driver_id for r in routes}
    for vehicle, driver in pair_drivers(problem):
        if vehicle.id not in used and vehicle.start_depot_id == depot_id and (driver is None or driver.id not in busy):
            return vehicle, driver
    return None


def improve_seams(
    problem: PlanningProblem,
    routes: list[Route],
    parts: list[int],
    unassigned: list[UnassignedOrder],
    travel: TravelTimeProvider,
    options: PlanningOptions,
    seconds: float,
    on_progress: ProgressCallback | None = None,
) -> SeamResult:
    """Improve ``routes`` (of ``problem``; ``parts[k]`` is the part route ``k`` was planned in)
    by re-planning groups of neighbouring routes for about ``seconds`` of wall time (module
    docs). Each group also offers its routes the ``unassigned`` orders nearest to them (not
    those of a transfer), with one unused vehicle of the group's depot (and its driver) if
    there is one: an order served now leaves the unassigned list, and its drop penalty
    (``drop_penalty x priority``) counts in the comparison. Returns the routes (unchanged ones
    as they were, new ones in place of the groups they replaced; ids and plan ids as
    :func:`plan_routes` gives them). No order is lost: a group's re-plan is kept only when it
    still serves every order its routes served. ``on_progress(elapsed_s, fraction_done)``
    reports over ``seconds``.

    Raises:
        TravelTimeError: when the travel provider fails.
    """
    started = time.perf_counter()
    deadline = started + seconds
    orders = {o.id: o for o in problem.orders}
    vehicles = {v.id: v for v in problem.vehicles}
    drivers = {d.id: d for d in problem.drivers}
    day_start = resolve_day_start(problem)
    paired = {i for pair in problem.transfers for i in pair}
    waiting = {u.order_id: _point(orders[u.order_id]) for u in unassigned
               if u.order_id not in paired and u.reason.startswith("dropped")}
    penalty = lambda ids: sum(options.drop_penalty * orders[i].priority for i in ids)  # noqa: E731
    current = [r for r in routes if r.order_ids]
    idle = [r for r in routes if not r.order_ids]
    part_of = [p for r, p in zip(routes, parts, strict=True) if r.order_ids]
    tried: set[tuple[frozenset[tuple[str, tuple[str, ...]]], frozenset[str]]] = set()
    replaced = 0
    queue = _groups(current, part_of, orders, waiting)
    offers: Counter[str] = Counter()
    regroup = False
    while queue and deadline - time.perf_counter() >= MIN_GROUP_S:
        group, extra = queue.pop(0)
        members = [current[k] for k in group]
        signature = frozenset(_key(r) for r in members), frozenset(extra)
        if signature in tried:
            continue
        tried.add(signature)
        served = [i for r in members for i in r.order_ids]
        ids = served + extra
        own = set(ids)
        fleet = [vehicles[r.vehicle_id] for r in members]
        crew = [drivers[r.driver_id] for r in members if r.driver_id in drivers]
        spare = _spare(problem, current, fleet[0].start_depot_id) if extra else None
        if spare is not None:
            fleet.append(spare[0])
            crew += [spare[1]] if spare[1] is not None else []
        sub = replace(problem, orders=[orders[i] for i in ids], vehicles=fleet, drivers=crew,
                      day_start=day_start, pickups=problem.pickups & own,
                      transfers=[t for t in problem.transfers if t[0] in own])
        budget = min(GROUP_S, deadline - time.perf_counter())
        plan = plan_routes(sub, travel, replace(options, time_limit_s=budget), start=members)
        left = {u.order_id for u in plan.unassigned}
        before = routes_cost(members, orders, options) + penalty(extra)
        after = routes_cost(plan.routes, orders, options) + penalty(left)
        for i in left & set(extra):  # offered and left out again: after MAX_OFFERS tries it is no longer offered
            offers[i] += 1
            if offers[i] >= MAX_OFFERS:
                waiting.pop(i, None)
                regroup = True
        if not left & set(served) and after < before - 0.01:
            replaced += 1
            log.info("seams: %d routes re-planned on %d, %d orders added, cost %.2f -> %.2f",
                     len(members), len(plan.routes), len(extra) - len(left), before, after)
            gone, part = set(group), part_of[group[0]]
            current = [r for k, r in enumerate(current) if k not in gone] + plan.routes
            part_of = [p for k, p in enumerate(part_of) if k not in gone] + [part] * len(plan.routes)
            for i in set(extra) - left:
                del waiting[i]
            regroup = True
        if regroup:
            queue = _groups(current, part_of, orders, waiting)
            regroup = False
        if on_progress:
            elapsed = time.perf_counter() - started
            on_progress(elapsed, min(1.0, elapsed / max(seconds, 1e-9)))
    served_now = {i for r in current for i in r.order_ids}
    still = [u for u in unassigned if u.order_id not in served_now]
    return SeamResult(current + idle, still, replaced)


__all__ = ["GROUP_ORDERS", "SeamResult", "improve_seams", "lateness_cost", "routes_cost"]
