"""Large days: split into parts by depot, then by angle around the depot, and plan each part.

:func:`plan_large` keeps memory bounded: the travel provider is asked for one part at a time
(``(depots + part)^2`` entries, never the whole day's ``n^2``), and each part is planned by
:func:`~baton.planning.planner.plan_routes` (all cores) with a share of the time budget
proportional to its size. The crews are shared out in proportion to each part's parcels
(at least one each). The last :data:`SEAM_SHARE` of the budget re-plans groups of neighbouring
routes across the parts' borders (:mod:`baton.planning.seams`); what decomposing still costs
is measured by ``baton bench scale``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from uuid import uuid4

from baton.adapters.travel.base import TravelTimeProvider
from baton.domain.fleet import Driver, Vehicle
from baton.domain.order import Order
from baton.domain.plan import CostBreakdown, Plan, Route, UnassignedOrder
from baton.domain.values import LatLng
from baton.planning.crews import pair_drivers
from baton.planning.mapping import PlanningError, check_pickups
from baton.planning.planner import plan_routes
from baton.planning.problem import PlanningOptions, PlanningProblem
from baton.planning.seams import improve_seams, lateness_cost

ProgressCallback = Callable[[float, float], None]
SEAM_SHARE = 0.1
"""Share of a decomposed day's budget spent improving across the parts' seams (the rest
plans the parts)."""
DEFAULT_PART_SIZE = 2000
"""Largest number of orders planned as one part (PyVRP handles this size well; two int64
matrices of 2,000 points are 64 MB per routing profile)."""


def _angle(centre: LatLng, point: LatLng) -> float:
    return math.atan2(point.lat - centre.lat, (point.lng - centre.lng) * math.cos(math.radians(centre.lat)))


def _sq_dist(a: LatLng, b: LatLng) -> float:
    return (a.lat - b.lat) ** 2 + ((a.lng - b.lng) * math.cos(math.radians(a.lat))) ** 2


def sectors(orders: list[Order], centre: LatLng, parts: int) -> list[list[Order]]:
    """``orders`` cut into ``parts`` contiguous angular sectors around ``centre`` of (nearly)
    equal order counts; the cut starts at the widest angular gap so a sector never straddles
    a dense area at the -180/180 degree seam when it can be avoided."""
    if parts <= 1 or len(orders) <= 1:
        return [list(orders)]
    ranked = sorted(orders, key=lambda o: _angle(centre, o.location))
    angles = [_angle(centre, o.location) for o in ranked]
    gaps = [(angles[(i + 1) % len(angles)] - angles[i]) % (2 * math.pi) for i in range(len(angles))]
    start = (max(range(len(gaps)), key=gaps.__getitem__) + 1) % len(ranked)
    ranked = ranked[start:] + ranked[:start]
    size = math.ceil(len(ranked) / parts)
    return [ranked[k:k + size] for k in range(0, len(ranked), size)]


def _share(weights: list[float], total: int) -> list[int]:
    """``total`` items shared in proportion to ``weights``, at least one each (largest remainders)."""
    if total < len(weights):
        raise PlanningError(f"{total} crews cannot cover {len(weights)} parts of the day")
    base = [1] * len(weights)
    rest, weight = total - len(weights), sum(weights) or 1.0
    exact = [rest * w / weight for w in weights]
    floors = [math.floor(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: exact[i] - floors[i], reverse=True)
    extra = rest - sum(floors)
    return [base[i] + floors[i] + (1 if i in order[:extra] else 0) for i in range(len(weights))]


def split_problem(problem: PlanningProblem, part_size: int = DEFAULT_PART_SIZE) -> list[PlanningProblem]:
    """The day cut into parts of at most ``part_size`` orders: orders go to their nearest
    depot among those where some crew starts, crews stay with their start depot; within a
    depot, angular :func:`sectors` (never more than its crews) share its crews in proportion
    to their parcels.

    Raises:
        PlanningError: no depot or vehicle, ``part_size`` < 1, no crew at all, or a transfer whose
            two orders fall in different parts.
    """
    if part_size < 1:
        raise PlanningError(f"part_size must be >= 1, got {part_size}")
    if not problem.depots or not problem.vehicles:
        raise PlanningError("cannot plan without a depot and a vehicle")
    pairs = pair_drivers(problem)
    staffed = [d for d in problem.depots if any(v.start_depot_id == d.id for v, _ in pairs)]
    if not staffed:
        raise PlanningError("no vehicle has a driver: nothing can be planned")
    by_depot: dict[str, list[Order]] = {d.id: [] for d in staffed}
    for o in problem.orders:
        nearest = min(staffed, key=lambda d: _sq_dist(d.location, o.location))
        by_depot[nearest.id].append(o)
    out: list[PlanningProblem] = []
    for depot in staffed:
        crews = [(v, d) for v, d in pairs if v.start_depot_id == depot.id]
        orders = by_depot[depot.id]
        if not orders:
            continue
        parts = sectors(orders, depot.location, min(len(crews), math.ceil(len(orders) / part_size)))
        counts = _share([sum(o.size.parcels for o in p) for p in parts], len(crews))
        k = 0
        for part, count in zip(parts, counts, strict=True):
            chunk = crews[k:k + count]
            k += count
            vehicles: list[Vehicle] = [v for v, _ in chunk]
            drivers: list[Driver] = [d for _, d in chunk if d is not None]
            ids = {o.id for o in part}
            split = [f"{a}->{b}" for a, b in problem.transfers if (a in ids) != (b in ids)]
            if split:
                raise PlanningError(f"transfers: {', '.join(split[:5])} fall in different parts of the day; "
                                    f"plan it with a larger part size")
            out.append(replace(problem, orders=part, vehicles=vehicles, drivers=drivers,
                               pickups=problem.pickups & ids,
                               transfers=[t for t in problem.transfers if t[0] in ids]))
    return out


def _breakdown(problem: PlanningProblem, options: PlanningOptions, routes: list[Route],
               unassigned: list[UnassignedOrder]) -> CostBreakdown:
    """The day's cost by component, as :func:`plan_routes` reports a plan's."""
    vehicles = {v.id: v for v in problem.vehicles}
    orders = {o.id: o for o in problem.orders}
    fixed = sum(vehicles[r.vehicle_id].costs.fixed_per_day for r in routes)
    distance = sum(vehicles[r.vehicle_id].costs.per_km * r.distance_m / 1000 for r in routes)
    time_money = sum(r.cost for r in routes) - fixed - distance
    missed = sum(options.drop_penalty * orders[u.order_id].priority for u in unassigned)
    late = lateness_cost(routes, orders, options)
    return CostBreakdown(fixed, distance, time_money, missed + late, problem.currency)


def plan_large(
    problem: PlanningProblem,
    travel: TravelTimeProvider,
    options: PlanningOptions = PlanningOptions(),  # noqa: B008 - frozen, immutable default
    on_progress: ProgressCallback | None = None,
    part_size: int = DEFAULT_PART_SIZE,
) -> Plan:
    """Plan a day of any size within ``options.time_limit_s`` (plus the time to place breaks
    after the last search): up to ``part_size`` orders it is exactly :func:`plan_routes`; above,
    the parts of :func:`split_problem` are planned one after the other, each with
    ``(1 - SEAM_SHARE) x time_limit_s x part orders / all orders`` seconds, merged, and the rest
    of the budget goes to :func:`~baton.planning.seams.improve_seams` (groups of neighbouring
    routes re-planned across the parts' borders; skipped when ``options.max_iterations`` is set,
    so that such a run stays reproducible whatever the machine's load).

    ``on_progress(elapsed_s, fraction_done)`` reports over the whole day. Units, costs and the
    unassigned reasons are those of :func:`plan_routes`; a decomposed plan's ``objective`` is the
    sum of its parts' before the seams pass (diagnostics only).

    Raises:
        PlanningError: see :func:`split_problem` and :func:`plan_routes`.
        TravelTimeError: when the travel provider fails.
    """
    check_pickups(problem)
    if len(problem.orders) <= part_size:
        return plan_routes(problem, travel, options, on_progress)
    started = time.perf_counter()
    parts = split_problem(problem, part_size)
    total = sum(len(p.orders) for p in parts) or 1
    routes: list[Route] = []
    part_of: list[int] = []
    unassigned: list[UnassignedOrder] = []
    solve_s, objective, done = 0.0, 0.0, 0
    parts_share = 1.0 - SEAM_SHARE

    def report(elapsed: float, fraction: float) -> None:
        if on_progress:
            on_progress(elapsed, min(1.0, fraction))

    for k, part in enumerate(parts):
        share = len(part.orders) / total
        budget = max(1.0, options.time_limit_s * parts_share * share)

        def part_progress(_e: float, f: float, base: int = done, weight: float = share) -> None:
            report(time.perf_counter() - started, parts_share * (base / total + f * weight))

        sub = plan_routes(part, travel, replace(options, time_limit_s=budget), part_progress)
        routes += sub.routes
        part_of += [k] * len(sub.routes)
        unassigned.extend(UnassignedOrder(u.order_id, u.reason) for u in sub.unassigned)
        solve_s += sub.solve_seconds
        objective += sub.objective
        done += len(part.orders)
    left = options.time_limit_s - (time.perf_counter() - started)
    if left >= 1.0 and options.max_iterations is None:  # the seams pass is bounded by time only
        seam_started = time.perf_counter()
        seams = improve_seams(problem, routes, part_of, unassigned, travel, options, left,
                              lambda e, f: report(time.perf_counter() - started, parts_share + (1 - parts_share) * f))
        routes, unassigned = seams.routes, seams.unassigned
        solve_s += time.perf_counter() - seam_started
    plan_id = uuid4().hex[:12]
    for k, route in enumerate(routes, 1):
        route.id = f"{plan_id}-{k:03d}"
        route.plan_id = plan_id
    report(time.perf_counter() - started, 1.0)
    return Plan(id=plan_id, created_at=datetime.now(UTC), routes=routes, unassigned=unassigned,
                cost=_breakdown(problem, options, routes, unassigned), solve_seconds=solve_s,
                objective=objective, feasible=True)


__all__ = ["DEFAULT_PART_SIZE", "SEAM_SHARE", "plan_large", "sectors", "split_problem"]
