"""Operational read models for the control tower: live vehicle positions (GPS fixes, else stop events),
exceptions, KPIs, the dashboard state.

Pure functions of what the database holds for one organisation (via a unit of work), shared by
the ``/api/v1/kpis``, ``/exceptions`` and ``/dashboard`` endpoints.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from baton.adapters.repository.positions import Position, PositionRepository
from baton.domain.events import OrderStatusChanged
from baton.domain.fleet import Depot
from baton.domain.lifecycle import OrderStatus
from baton.domain.order import Order
from baton.domain.plan import Route, RouteStatus
from baton.entrypoints.api.queries import active_route_ids
from baton.entrypoints.api.schemas import depot_out, driver_out, route_out, vehicle_out
from baton.reporting.kpis import compute_kpis
from baton.service_layer.unit_of_work import SqlAlchemyUnitOfWork

#: Distinct colours for routes (one per vehicle, cycling), readable on light map tiles.
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
           "#bcbd22", "#7f7f7f", "#393b79", "#637939", "#843c39", "#7b4173", "#3182bd", "#e6550d")

FAILED = (OrderStatus.FAILED_ATTEMPT, OrderStatus.RETURNED_TO_DEPOT)


def vehicle_position(route: Route, orders: dict[str, Order], depots: dict[str, Depot]) -> dict[str, Any] | None:
    """Where the route's vehicle is, from its execution so far: ``{lat, lng, state, at, order_id}``.

    ``state`` is ``at_depot`` (not started), ``at_stop`` (arrived, not departed), ``left_stop``
    (departed its last visited stop, heading to the next) or ``back_at_depot``. ``None`` when
    the depot is unknown.
    """
    depot = depots.get(route.end_depot_id if route.status == RouteStatus.COMPLETED else route.start_depot_id)
    if route.status == RouteStatus.COMPLETED and depot is not None:
        return {"lat": depot.location.lat, "lng": depot.location.lng, "state": "back_at_depot",
                "at": route.actual_end.isoformat() if route.actual_end else None, "order_id": None}
    visited = [s for s in route.stops if s.actual_arrival is not None and s.order_id in orders]
    if route.status == RouteStatus.IN_PROGRESS and visited:
        last = max(visited, key=lambda s: s.actual_arrival)  # type: ignore[arg-type, return-value]
        loc = orders[last.order_id].location  # type: ignore[index]
        state = "left_stop" if last.actual_departure else "at_stop"
        at = last.actual_departure or last.actual_arrival
        return {"lat": loc.lat, "lng": loc.lng, "state": state, "at": at.isoformat() if at else None,
                "order_id": last.order_id}
    if depot is None:
        return None
    return {"lat": depot.location.lat, "lng": depot.location.lng, "state": "at_depot",
            "at": route.actual_start.isoformat() if route.actual_start else None, "order_id": None}


def gps_position(route: Route, derived: dict[str, Any] | None, fix: Position | None) -> dict[str, Any] | None:
    """The route's vehicle position: its latest GPS fix (``state`` ``gps``, with ``accuracy_m``,
    ``speed_mps``) while the route is dispatched or in progress and the fix is not older than what
    the stop events say; otherwise ``derived`` (from :func:`vehicle_position`)."""
    if fix is None or route.status not in (RouteStatus.DISPATCHED, RouteStatus.IN_PROGRESS):
        return derived
    if derived is not None and derived.get("at") and datetime.fromisoformat(derived["at"]) > fix.ts:
        return derived
    return {"lat": fix.lat, "lng": fix.lng, "state": "gps", "at": fix.ts.isoformat(),
            "order_id": derived.get("order_id") if derived else None, "accuracy_m": fix.accuracy_m,
            "speed_mps": fix.speed_mps}


def exceptions(uow: SqlAlchemyUnitOfWork, orders: list[Order], unassigned: dict[str, str]) -> list[dict[str, Any]]:
    """Orders that need a dispatcher: failed attempts (with the failure reason) and unassigned orders.

    Each item: ``{order_id, kind (failed_attempt|unassigned), status, reason, customer, actions}``;
    ``actions`` lists what ``POST /api/v1/exceptions/{order_id}/{action}`` accepts now.
    """
    out: list[dict[str, Any]] = []
    for o in orders:
        if o.status in FAILED:
            reason = None
            for e in reversed(uow.events_for(o.id)):
                if isinstance(e, OrderStatusChanged) and e.to_status == OrderStatus.FAILED_ATTEMPT and e.reason:
                    reason = e.reason
                    break
            out.append({"order_id": o.id, "kind": "failed_attempt", "status": o.status.value, "reason": reason,
                        "customer": o.customer.name, "attempts": o.attempts, "actions": ["reattempt", "reassign"]})
        elif o.status in (OrderStatus.CREATED, OrderStatus.REATTEMPT) and (
                o.id in unassigned or o.status == OrderStatus.REATTEMPT):
            out.append({"order_id": o.id, "kind": "unassigned", "status": o.status.value,
                        "reason": unassigned.get(o.id, "waiting for a plan"), "customer": o.customer.name,
                        "attempts": o.attempts, "actions": ["reassign"]})
    return out


def dashboard_state(uow: SqlAlchemyUnitOfWork) -> dict[str, Any]:
    """Everything the dashboard draws, for the unit of work's organisation (opened here)."""
    from baton.entrypoints.api.exceptions_queue import queue
    with uow:
        orders = uow.orders.list()
        depots = uow.depots.list()
        vehicles = uow.vehicles.list()
        drivers = uow.drivers.list()
        current = uow.plans.current()
        assert uow.session is not None
        routes = [uow.plans.get_route(i) for i in
                  active_route_ids(uow.session, uow.org_id, current.id if current else None)]
        unassigned = {u.order_id: u.reason for u in current.unassigned} if current else {}
        fixes = PositionRepository(uow.session, uow.org_id).latest()
        by_id = {o.id: o for o in orders}
        depot_by_id = {d.id: d for d in depots}
        vehicle_by_id = {v.id: v for v in vehicles}
        colour = {v.id: PALETTE[i % len(PALETTE)] for i, v in enumerate(vehicles)}
        kpis = compute_kpis(orders, routes, vehicle_by_id,
                            currency=vehicles[0].costs.currency if vehicles else "BRL").to_dict()
        kpis["unassigned"] = sum(1 for o in orders if o.id in unassigned and o.status == OrderStatus.CREATED)
        route_items = []
        for r in routes:
            item = route_out(r)
            item["color"] = colour.get(r.vehicle_id, "#333333")
            item["position"] = gps_position(r, vehicle_position(r, by_id, depot_by_id), fixes.get(r.vehicle_id))
            item["path"] = [[by_id[s.order_id].location.lat, by_id[s.order_id].location.lng]
                            for s in r.stops if s.order_id in by_id]
            item["delivered"] = sum(1 for i in r.order_ids if i in by_id and by_id[i].status == OrderStatus.DELIVERED)
            item["windows"] = {i: [[w.start.isoformat(), w.end.isoformat()] for w in by_id[i].time_windows]
                               for i in r.order_ids if i in by_id}
            route_items.append(item)
        busy = {r.vehicle_id: r for r in routes if r.status != RouteStatus.COMPLETED}
        fleet = []
        for v in vehicles:
            on = busy.get(v.id)
            load = sum(by_id[i].size.parcels for i in on.order_ids if i in by_id) if on else 0
            fleet.append(vehicle_out(v) | {
                "status": on.status.value if on else "idle", "route_id": on.id if on else None,
                "utilisation_pct": round(100.0 * load / v.capacity.parcels, 1) if v.capacity.parcels else 0.0,
                "color": colour[v.id],
                "last_fix": fixes[v.id].ts.isoformat() if v.id in fixes else None})
        return {
            "org_id": uow.org_id, "plan_id": current.id if current else None,
            "depots": [depot_out(d) for d in depots], "drivers": [driver_out(d) for d in drivers],
            "fleet": fleet, "routes": route_items, "kpis": kpis,
            "orders": [{"id": o.id, "status": o.status.value, "lat": o.location.lat, "lng": o.location.lng,
                        "customer": o.customer.name, "address": o.address.line, "route_id": o.route_id,
                        "sla_tier": o.sla_tier.value, "attempts": o.attempts,
                        "windows": [[w.start.isoformat(), w.end.isoformat()] for w in o.time_windows]}
                       for o in orders],
            "exceptions": queue(uow, orders, unassigned),
        }
