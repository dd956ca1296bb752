"""An independent feasibility checker for plans.

:func:`check_plan` re-verifies a :class:`~baton.domain.plan.Plan` from the domain objects and
the travel matrices only: it shares no code with the solver model or the schedule builder,
so a bug there shows up here as a :class:`Violation`. Conventions it checks against:

* matrices follow the planner's layout: every depot (in ``problem.depots`` order), then
  every order (in ``problem.orders`` order);
* a leg's duration is ``ceil(matrix seconds / vehicle.speed_factor)``;
* a stop's ``planned_arrival`` is its service start (after any waiting) and its
  ``planned_departure`` the end of service; a break is taken where the vehicle stands, so its
  leg is 0 m / 0 s;
* ``route.start`` is the departure from the start depot, after the depot's loading time;
  work begins at ``route.start - loading_time_s``, and the route's working time (which must
  not exceed the driver's ``max_working_time_s``) runs from there to ``route.end``.

All comparisons of instants are made on absolute time (timestamps), not wall-clock time.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from baton.adapters.travel.base import TravelMatrices
from baton.domain.fleet import Driver, Vehicle
from baton.domain.order import Order
from baton.domain.plan import Plan, Route, StopKind
from baton.domain.values import Size
from baton.planning.problem import PlanningProblem

_SLACK_S = 1e-6


@dataclass(frozen=True)
class Violation:
    """One broken rule: ``kind`` is a short code (``capacity``, ``window``, ``leg``,
    ``arrival``, ``service``, ``duplicate``, ``missing``, ``unknown``, ``features``,
    ``shift_start``, ``shift_end``, ``working_time``, ``break``, ``distance``, ``depot``,
    ``driver``, ``vehicle``, ``sequence``, ``orders_per_route``, ``reload``); ``route_id``/``order_id``
    are ``None`` when the rule is not about one route/order."""

    route_id: str | None
    order_id: str | None
    kind: str
    message: str


def _accounting(plan: Plan, orders: dict[str, tuple[int, Order]]) -> list[Violation]:
    """Each order routed at most once, and either routed or unassigned exactly once."""
    out: list[Violation] = []
    routed = Counter(o for r in plan.routes for o in r.order_ids)
    dropped = Counter(u.order_id for u in plan.unassigned)
    for order_id in sorted(set(routed) | set(dropped)):
        if order_id not in orders:
            out.append(Violation(None, order_id, "unknown", f"order {order_id} is not in the problem"))
        elif routed[order_id] + dropped[order_id] > 1:
            out.append(Violation(None, order_id, "duplicate",
                                 f"order {order_id} routed {routed[order_id]}x and unassigned {dropped[order_id]}x"))
    for order_id in orders:
        if routed[order_id] + dropped[order_id] == 0:
            out.append(Violation(None, order_id, "missing", f"order {order_id} is neither routed nor unassigned"))
    return out


def _leg(matrices: TravelMatrices, frm: int, to: int, vehicle: Vehicle) -> tuple[int, int]:
    seconds = int(matrices.duration_s[frm, to])
    if vehicle.speed_factor != 1.0:
        seconds = math.ceil(seconds / vehicle.speed_factor - 1e-9)
    return int(matrices.distance_m[frm, to]), seconds


def _check_route(route: Route, vehicle: Vehicle, driver: Driver | None, problem: PlanningProblem,
                 matrices: TravelMatrices, orders: dict[str, tuple[int, Order]],
                 hard_time_windows: bool, overtime_s: int = 0, max_reloads: int = 0) -> list[Violation]:
    out: list[Violation] = []

    def bad(kind: str, message: str, order_id: str | None = None) -> None:
        out.append(Violation(route.id, order_id, kind, message))

    depots = {d.id: (i, d) for i, d in enumerate(problem.depots)}
    if route.start_depot_id != vehicle.start_depot_id or route.end_depot_id != vehicle.returns_to:
        bad("depot", f"route runs {route.start_depot_id}->{route.end_depot_id}, vehicle "
                     f"{vehicle.id} {vehicle.start_depot_id}->{vehicle.returns_to}")
    if route.start_depot_id not in depots or route.end_depot_id not in depots:
        bad("depot", "route refers to an unknown depot")
        return out
    start_index, start_depot = depots[route.start_depot_id]
    end_index, end_depot = depots[route.end_depot_id]
    capabilities = vehicle.features | (driver.skills if driver else frozenset())

    load = Size(0, 0.0, 0.0)
    here, clock, metres, breaks = start_index, route.start.timestamp(), 0, []
    reloads = 0
    for k, stop in enumerate(route.stops, start=1):
        if stop.sequence != k:
            bad("sequence", f"stop #{k} has sequence {stop.sequence}", stop.order_id)
        arrival, departure = stop.planned_arrival.timestamp(), stop.planned_departure.timestamp()
        if stop.kind == StopKind.BREAK:
            if stop.leg_distance_m or stop.leg_duration_s:
                bad("leg", f"break #{k} has a leg ({stop.leg_distance_m} m, {stop.leg_duration_s} s)")
            if arrival < clock - _SLACK_S:
                bad("arrival", f"break #{k} starts before the previous stop ends")
            breaks.append((arrival, departure))
            clock = departure
            continue
        if stop.kind == StopKind.RELOAD:
            leg_m, leg_s = _leg(matrices, here, start_index, vehicle)
            if (stop.leg_distance_m, stop.leg_duration_s) != (leg_m, leg_s):
                bad("leg", f"leg to reload #{k} is {stop.leg_distance_m} m/{stop.leg_duration_s} s, "
                           f"matrix says {leg_m} m/{leg_s} s")
            if arrival < clock + leg_s - _SLACK_S:
                bad("arrival", f"reload #{k} starts before the vehicle can be at the depot")
            if departure - arrival < start_depot.loading_time_s - _SLACK_S:
                bad("reload", f"reload #{k} takes {departure - arrival:.0f} s, loading needs "
                              f"{start_depot.loading_time_s} s")
            over = load.exceeded_dimensions(vehicle.capacity)
            if over:
                bad("capacity", f"trip before reload #{k} exceeds capacity in {', '.join(over)}")
            load = Size(0, 0.0, 0.0)
            metres += leg_m
            here, clock = start_index, departure
            reloads += 1
            continue
        if stop.order_id not in orders:
            continue  # reported by the accounting
        index, order = orders[stop.order_id]
        point = len(problem.depots) + index
        leg_m, leg_s = _leg(matrices, here, point, vehicle)
        if (stop.leg_distance_m, stop.leg_duration_s) != (leg_m, leg_s):
            bad("leg", f"leg to {order.id} is {stop.leg_distance_m} m/{stop.leg_duration_s} s, "
                       f"matrix says {leg_m} m/{leg_s} s", order.id)
        if arrival < clock + leg_s - _SLACK_S:
            bad("arrival", f"service at {order.id} starts {clock + leg_s - arrival:.0f} s before the "
                           f"vehicle can be there", order.id)
        if departure - arrival < order.service_time_s - _SLACK_S:
            bad("service", f"{order.id} gets {departure - arrival:.0f} s of service, needs "
                           f"{order.service_time_s} s", order.id)
        windows = [(w.start.timestamp(), w.end.timestamp()) for w in order.time_windows]
        if windows and not any(s - _SLACK_S <= arrival and (arrival <= e + _SLACK_S or not hard_time_windows)
                               for s, e in windows):
            bad("window", f"service at {order.id} starts at {stop.planned_arrival.isoformat()}, "
                          f"outside its time windows", order.id)
        missing = order.required_features - capabilities
        if missing:
            bad("features", f"{order.id} needs {', '.join(sorted(missing))}", order.id)
        load = load + order.size
        metres += leg_m
        here, clock = point, departure

    back_m, back_s = _leg(matrices, here, end_index, vehicle)
    end = route.end.timestamp()
    if end < clock + back_s - _SLACK_S:
        bad("arrival", f"route ends {clock + back_s - end:.0f} s before the vehicle can be back")
    if route.distance_m != metres + back_m:
        bad("distance", f"route distance {route.distance_m} m, legs add up to {metres + back_m} m")
    if reloads > max_reloads:
        bad("reload", f"{reloads} reloads, at most {max_reloads} allowed")
    over = load.exceeded_dimensions(vehicle.capacity)
    if over:
        bad("capacity", "load exceeds capacity in " + ", ".join(
            f"{n} {getattr(load, n):g} > {getattr(vehicle.capacity, n):g}" for n in over))

    begin = route.start.timestamp() - start_depot.loading_time_s
    earliest = [t.timestamp() for t in (start_depot.opens, driver.shift_start if driver else None) if t]
    latest = [t.timestamp() for t in (end_depot.closes,) if t]
    if driver is not None:
        latest.append(driver.shift_end.timestamp() + overtime_s)
    if earliest and begin < max(earliest) - _SLACK_S:
        bad("shift_start", f"work begins {max(earliest) - begin:.0f} s before the shift/depot opens")
    if latest and end > min(latest) + _SLACK_S:
        bad("shift_end", f"route ends {end - min(latest):.0f} s after the shift/depot closes")
    if driver is not None:
        if end - begin > driver.max_working_time_s + overtime_s + _SLACK_S:
            bad("working_time", f"route takes {end - begin:.0f} s, driver may work "
                                f"{driver.max_working_time_s} s + {overtime_s} s overtime")
        rule = driver.break_rule
        if rule.duration_s > 0:
            starts = [begin] + [b[1] for b in breaks]
            ends = [b[0] for b in breaks] + [end]
            for s, e in zip(starts, ends, strict=True):
                if e - s > rule.after_work_s + _SLACK_S:
                    bad("break", f"{e - s:.0f} s of work without a break (rule: {rule.after_work_s} s)")
            for s, e in breaks:
                if e - s < rule.duration_s - _SLACK_S:
                    bad("break", f"break of {e - s:.0f} s, rule requires {rule.duration_s} s")
    return out


def check_plan(
    plan: Plan,
    problem: PlanningProblem,
    matrices: TravelMatrices,
    *,
    hard_time_windows: bool = True,
    overtime_s: int = 0,
    max_orders_per_route: int | None = None,
    max_reloads: int = 0,
) -> list[Violation]:
    """Every rule ``plan`` breaks, re-verified from ``problem`` and ``matrices`` alone (see the
    module docs for the conventions); an empty list means the plan is feasible.

    Checks: each order routed at most once and either routed or unassigned exactly once; each
    vehicle and driver on at most one route, and a driver on every route when the problem has
    drivers; per route: its depots, load per dimension <= capacity, every leg equal to the
    matrix's, every arrival reachable from the previous departure, full service time, service
    starting in one of the order's windows (with ``hard_time_windows=False`` only not before a
    window opens), features/skills, work beginning after shift start and depot opening, return
    before shift end (plus ``overtime_s``, seconds of paid overtime allowed) and depot closing,
    working time within ``max_working_time_s`` (plus ``overtime_s``), at most ``max_reloads``
    reload stops (each at the vehicle's start depot, driving there per the matrix, taking the
    depot's loading time; load <= capacity holds per trip between reloads), and a break
    of the rule's length at least every ``after_work_s`` of work. ``max_orders_per_route``
    (``None`` = no cap) caps the orders per route. Never raises for a broken plan.

    Raises:
        ValueError: when ``matrices`` do not have one point per depot and order.
    """
    if matrices.size != len(problem.depots) + len(problem.orders):
        points = len(problem.depots) + len(problem.orders)
        raise ValueError(f"matrices have {matrices.size} points, the problem {points}")
    orders = {o.id: (j, o) for j, o in enumerate(problem.orders)}
    vehicles = {v.id: v for v in problem.vehicles}
    drivers = {d.id: d for d in problem.drivers}
    out = _accounting(plan, orders)
    for kind, ids in (("vehicle", [r.vehicle_id for r in plan.routes]),
                      ("driver", [r.driver_id for r in plan.routes if r.driver_id])):
        for ident, n in Counter(ids).items():
            if n > 1:
                out.append(Violation(None, None, kind, f"{kind} {ident} is on {n} routes"))
    for route in plan.routes:
        vehicle = vehicles.get(route.vehicle_id)
        if vehicle is None:
            out.append(Violation(route.id, None, "vehicle", f"unknown vehicle {route.vehicle_id}"))
            continue
        driver = drivers.get(route.driver_id) if route.driver_id else None
        if route.driver_id and driver is None:
            out.append(Violation(route.id, None, "driver", f"unknown driver {route.driver_id}"))
        elif driver is None and problem.drivers:
            out.append(Violation(route.id, None, "driver", "route has no driver"))
        if max_orders_per_route is not None and len(route.order_ids) > max_orders_per_route:
            out.append(Violation(route.id, None, "orders_per_route",
                                 f"{len(route.order_ids)} orders > cap {max_orders_per_route}"))
        out.extend(_check_route(route, vehicle, driver, problem, matrices, orders, hard_time_windows,
                                overtime_s, max_reloads))
    return out
