"""Driver assignment for captive routes, and pre-dispatch validation. Pure: no I/O.

:func:`assign_drivers` matches planned routes to drivers. Hard rules: the route fits in the driver's
shift, its duration fits the driver's maximum working time, the driver's skills plus the vehicle's
features cover every order's required features, a driver tied to a vehicle only drives that
vehicle, and a driver's routes do not overlap. Among the drivers left, the score is
``0.6 x familiarity - 0.4 x workload`` where *familiarity* is the share of the route's stops in H3
cells (resolution 8, ~0.7 km²) where the driver delivered before and *workload* the share of the
driver's maximum working time already assigned today. Routes with the fewest possible drivers are
served first (then the longest). Every choice is explained.

:func:`validate_route` is the pre-dispatch check: orders valid and planned on this route, vehicle
capacity, features, driver present, shift and hours.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import h3

from baton.domain.fleet import Driver, Vehicle
from baton.domain.lifecycle import OrderStatus
from baton.domain.order import Order
from baton.domain.plan import Route, StopKind
from baton.domain.values import LatLng, Size

FAMILIARITY_RESOLUTION = 8
W_FAMILIARITY = 0.6
W_WORKLOAD = 0.4


def cell_of(p: LatLng) -> str:
    """The H3 cell (resolution :data:`FAMILIARITY_RESOLUTION`) of a WGS84 point."""
    return str(h3.latlng_to_cell(p.lat, p.lng, FAMILIARITY_RESOLUTION))


@dataclass
class Assignment:
    """``drivers``: route id -> driver id; ``unassigned``: route id -> reason; ``explanations``:
    route id -> every driver considered (``driver``, ``feasible``, ``why_not``, ``familiarity``,
    ``workload``, ``score``)."""

    drivers: dict[str, str] = field(default_factory=dict)
    unassigned: dict[str, str] = field(default_factory=dict)
    explanations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _needs(route: Route, orders: dict[str, Order]) -> frozenset[str]:
    return frozenset().union(*(orders[o].required_features for o in route.order_ids if o in orders))


def why_not(route: Route, driver: Driver, vehicle: Vehicle | None, orders: dict[str, Order],
            taken: list[tuple[Any, Any]]) -> str | None:
    """Why ``driver`` cannot drive ``route`` (``None``: they can)."""
    if driver.vehicle_id is not None and driver.vehicle_id != route.vehicle_id:
        return f"tied to vehicle {driver.vehicle_id}"
    if route.start < driver.shift_start or route.end > driver.shift_end:
        return (f"shift {driver.shift_start:%H:%M}-{driver.shift_end:%H:%M} does not cover the route "
                f"{route.start:%H:%M}-{route.end:%H:%M}")
    duration = int((route.end - route.start).total_seconds())
    if duration > driver.max_working_time_s:
        return f"route lasts {duration // 60} min > max working time {driver.max_working_time_s // 60} min"
    missing = _needs(route, orders) - driver.skills - (vehicle.features if vehicle else frozenset())
    if missing:
        return f"lacks {', '.join(sorted(missing))}"
    for start, end in taken:
        if route.start < end and start < route.end:
            return f"already drives {start:%H:%M}-{end:%H:%M}"
    return None


def assign_drivers(routes: list[Route], drivers: list[Driver], vehicles: dict[str, Vehicle],
                   orders: dict[str, Order], history: dict[str, Counter[str]] | None = None) -> Assignment:
    """Assign a driver to each route (see the module docstring). ``history``: driver id -> deliveries
    per H3 cell (resolution 8) in the past."""
    history = history or {}
    result = Assignment()
    taken: dict[str, list[tuple[Any, Any]]] = {d.id: [] for d in drivers}
    worked: Counter[str] = Counter()
    cells = {r.id: [cell_of(orders[o].location) for o in r.order_ids if o in orders] for r in routes}

    def options(route: Route) -> list[dict[str, Any]]:
        out = []
        for d in drivers:
            reason = why_not(route, d, vehicles.get(route.vehicle_id), orders, taken[d.id])
            known = history.get(d.id, Counter())
            stops = cells[route.id]
            familiarity = sum(1 for c in stops if known[c] > 0) / len(stops) if stops else 0.0
            workload = worked[d.id] / d.max_working_time_s
            out.append({"driver": d.id, "feasible": reason is None, "why_not": reason,
                        "familiarity": round(familiarity, 3), "workload": round(workload, 3),
                        "score": round(W_FAMILIARITY * familiarity - W_WORKLOAD * workload, 4)})
        return out

    pending = list(routes)
    while pending:
        ranked = sorted(pending, key=lambda r: (sum(o["feasible"] for o in options(r)),
                                                -(r.end - r.start).total_seconds(), r.id))
        route = ranked[0]
        pending.remove(route)
        opts = options(route)
        result.explanations[route.id] = opts
        feasible = [o for o in opts if o["feasible"]]
        if not feasible:
            result.unassigned[route.id] = "no driver can take it: " + "; ".join(
                f"{o['driver']}: {o['why_not']}" for o in opts) if opts else "no drivers"
            continue
        best = min(feasible, key=lambda o: (-o["score"], worked[o["driver"]], o["driver"]))
        result.drivers[route.id] = best["driver"]
        taken[best["driver"]].append((route.start, route.end))
        worked[best["driver"]] += int((route.end - route.start).total_seconds())
    return result


def validate_route(route: Route, orders: dict[str, Order], vehicle: Vehicle | None,
                   driver: Driver | None) -> list[str]:
    """Problems that must be fixed before ``route`` is released (empty: ready to dispatch)."""
    problems = []
    if vehicle is None:
        problems.append(f"vehicle {route.vehicle_id} does not exist")
    if driver is None:
        problems.append("no driver assigned")
    load = Size(0, 0.0, 0.0)
    for order_id in route.order_ids:
        order = orders.get(order_id)
        if order is None:
            problems.append(f"order {order_id} does not exist")
            continue
        if order.status is not OrderStatus.PLANNED or order.route_id != route.id:
            problems.append(f"order {order_id} is {order.status.value}"
                            + (f" on {order.route_id}" if order.route_id and order.route_id != route.id else ""))
        load = load + order.size
    if vehicle is not None and not any(s.kind is StopKind.RELOAD for s in route.stops):
        over = load.exceeded_dimensions(vehicle.capacity)
        if over:
            problems.append(f"load exceeds vehicle {vehicle.id} capacity in {', '.join(over)}")
    if driver is not None:
        reason = why_not(route, driver, vehicle, orders, [])
        if reason is not None:
            problems.append(f"driver {driver.id}: {reason}")
    elif vehicle is not None:
        missing = _needs(route, orders) - vehicle.features
        if missing:
            problems.append(f"vehicle {vehicle.id} lacks {', '.join(sorted(missing))}")
    return problems
