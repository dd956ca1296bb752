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
_DIMENSIONS = ("parcels", "weight_kg", "volume_l")


@dataclass(frozen=True)
class Violation:
    """One broken rule: ``kind`` is a short code (``capacity``, ``window``, ``leg``,
    ``arrival``, ``service``, ``duplicate``, ``missing``, ``unknown``, ``features``,
    ``shift_start``, ``shift_end``, ``working_time``, ``break``, ``distance``, ``depot``,
    ``driver``, ``vehicle``, ``sequence``, ``orders_per_route``, ``reload``, ``kind``, ``transfer``,
    ``cost``); ``route_id``/``order_id`` are ``None`` when the rule is not about one route/order."""

    route_id: str | None
    order_id: str | None
    kind: str
    message: str


def _trip_overload(trip: list[tuple[Size, str]], capacity: Size) -> dict[str, float]:
    """Dimensions whose load exceeds ``capacity`` somewhere on a trip, with the peak load: the
    vehicle leaves with every ``delivery``, drops each, collects each ``return``, loads each
    transfer at its ``load`` stop and unloads it at its ``unload`` stop."""
    load = [sum(getattr(size, n) for size, role in trip if role == "delivery") for n in _DIMENSIONS]
    peak = list(load)
    for size, role in trip:
        sign = 1 if role in ("return", "load") else -1
        load = [a + sign * getattr(size, n) for a, n in zip(load, _DIMENSIONS, strict=True)]
        peak = [max(p, a) for p, a in zip(peak, load, strict=True)]
    return {n: p for n, p in zip(_DIMENSIONS, peak, strict=True) if p > getattr(capacity, n) + 1e-9}


def _transfers(plan: Plan, problem: PlanningProblem) -> list[Violation]:
    """Both orders of a transfer routed (on one route) or both unassigned."""
    where = {o: r.id for r in plan.routes for o in r.order_ids}
    out = []
    for pickup, delivery in problem.transfers:
        a, b = where.get(pickup), where.get(delivery)
        if a != b:
            out.append(Violation(a or b, pickup, "transfer", f"transfer {pickup}->{delivery}: pickup on route {a}, "
                                                             f"delivery on route {b}"))
    return out


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

    trip: list[tuple[Size, str]] = []
    loads = {p: orders[p][1].size for p, _ in problem.transfers if p in orders}
    unloads = {d: p for p, d in problem.transfers}
    loaded: set[str] = set()
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
            over = _trip_overload(trip, vehicle.capacity)
            if over:
                bad("capacity", f"trip before reload #{k} exceeds capacity in {', '.join(over)}")
            trip = []
            loaded = set()
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
        collects = order.id in problem.pickups or order.id in loads
        if (stop.kind == StopKind.PICKUP) != collects:
            bad("kind", f"{order.id} is {'collected' if collects else 'delivered'} but its stop is a "
                        f"{stop.kind.value}", order.id)
        if order.id in unloads:
            if unloads[order.id] not in loaded:
                bad("transfer", f"{order.id} is handed over before {unloads[order.id]} is picked up on this trip",
                    order.id)
            trip.append((loads.get(unloads[order.id], order.size), "unload"))
        elif order.id in loads:
            loaded.add(order.id)
            trip.append((order.size, "load"))
        else:
            trip.append((order.size, "return" if order.id in problem.pickups else "delivery"))
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
    over = _trip_overload(trip, vehicle.capacity)
    if over:
        bad("capacity", "load exceeds capacity in " + ", ".join(
            f"{n} {peak:g} > {getattr(vehicle.capacity, n):g}" for n, peak in over.items()))

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
    drivers; per route: its depots, load per dimension <= capacity at every point of every trip (the vehicle
    leaves with the trip's deliveries and collects the returns, ``problem.pickups``, whose stops
    must be ``pickup`` stops; a transfer's goods, the pickup order's size, are on board from its
    ``pickup`` stop to the delivery order's stop, which must come later on the same trip, and
    both orders of a transfer are routed on one route or both unassigned), every leg equal to the
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
    out = _accounting(plan, orders) + _transfers(plan, problem)
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


def _regular_s(route: Route, driver: Driver | None, problem: PlanningProblem) -> float:
    """Working time paid at the regular rate: the driver's limit, within the shift and depot hours."""
    if driver is None:
        return math.inf
    depots = {d.id: d for d in problem.depots}
    opens = [t.timestamp() for t in (driver.shift_start, depots[route.start_depot_id].opens) if t]
    closes = [t.timestamp() for t in (driver.shift_end, depots[route.end_depot_id].closes) if t]
    return min(driver.max_working_time_s, min(closes) - max(opens))


def _late_s(arrival: float, order: Order) -> float:
    """Seconds a service start is after the order's windows closed (0 inside a window)."""
    windows = [(w.start.timestamp(), w.end.timestamp()) for w in order.time_windows]
    if any(s - _SLACK_S <= arrival <= e + _SLACK_S for s, e in windows):
        return 0.0
    ended = [e for _, e in windows if e < arrival]
    return arrival - max(ended) if ended else 0.0


def check_costs(
    plan: Plan,
    problem: PlanningProblem,
    *,
    drop_penalty: float,
    lateness_penalty_per_hour: float = 0.0,
    overtime_per_hour: float = 0.0,
    tolerance: float = 1e-6,
) -> list[Violation]:
    """Every cost ``plan`` reports wrongly, recomputed from the vehicles' rates and the plan's own
    (checked by :func:`check_plan`) distances and times; money in ``problem.currency``.

    Per route: ``cost = fixed_per_day + per_km x km + per_hour x working hours + overtime_per_hour
    x overtime hours``, working time running from the start of loading (``route.start`` less the
    start depot's loading time) to ``route.end`` and overtime being the part beyond the driver's
    ``max_working_time_s`` or shift length (within depot hours). Plan: ``cost.fixed``,
    ``cost.distance``, ``cost.time`` are the sums over routes; ``cost.penalties`` is
    ``drop_penalty x priority`` per unassigned order plus ``lateness_penalty_per_hour`` x hours
    of service starting after the order's last window closed. Kind ``cost``; never raises.
    """
    out: list[Violation] = []
    vehicles = {v.id: v for v in problem.vehicles}
    drivers = {d.id: d for d in problem.drivers}
    depots = {d.id: d for d in problem.depots}
    orders = {o.id: o for o in problem.orders}
    fixed = distance = time_money = late_s = 0.0
    for route in plan.routes:
        vehicle = vehicles.get(route.vehicle_id)
        if vehicle is None or route.start_depot_id not in depots:
            continue  # reported by check_plan
        driver = drivers.get(route.driver_id) if route.driver_id else None
        worked = route.end.timestamp() - route.start.timestamp() + depots[route.start_depot_id].loading_time_s
        overtime = max(0.0, worked - _regular_s(route, driver, problem))
        rates = vehicle.costs
        parts = (rates.fixed_per_day, rates.per_km * route.distance_m / 1000,
                 rates.per_hour * worked / 3600 + overtime_per_hour * overtime / 3600)
        if abs(route.cost - sum(parts)) > tolerance * max(1.0, sum(parts)):
            out.append(Violation(route.id, None, "cost", f"route cost {route.cost:.6f}, rates give {sum(parts):.6f} "
                                                         f"{problem.currency}"))
        fixed, distance, time_money = fixed + parts[0], distance + parts[1], time_money + parts[2]
        late_s += sum(_late_s(s.planned_arrival.timestamp(), orders[s.order_id])
                      for s in route.stops if s.order_id in orders)
    dropped = sum(drop_penalty * orders[u.order_id].priority for u in plan.unassigned if u.order_id in orders)
    expected = {"fixed": fixed, "distance": distance, "time": time_money,
                "penalties": dropped + lateness_penalty_per_hour * late_s / 3600}
    for name, value in expected.items():
        reported = getattr(plan.cost, name)
        if abs(reported - value) > tolerance * max(1.0, value):
            out.append(Violation(None, None, "cost", f"cost.{name} {reported:.6f}, recomputed {value:.6f} "
                                                     f"{problem.currency}"))
    if plan.cost.currency != problem.currency:
        out.append(Violation(None, None, "cost", f"plan in {plan.cost.currency}, problem in {problem.currency}"))
    return out
