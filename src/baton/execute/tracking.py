"""Per-vehicle execution state: the route being driven, geofence, pace, position, published ETAs.

Built from storage by :func:`load_vehicle_state` (the vehicle's dispatched or in-progress route, its
orders and depot) and kept in memory by :class:`baton.execute.service.ExecutionService`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from baton.adapters import orm
from baton.domain.fleet import Depot
from baton.domain.order import Order
from baton.domain.plan import Route, RouteStatus, StopKind
from baton.execute.eta import EtaSettings, PlannedStop, StopEta, compute_etas, update_pace, zone_of
from baton.execute.geofence import GeofenceSettings, GeofenceTracker, StopTarget
from baton.execute.monitor import distance_to_leg_m
from baton.execute.pings import distance_m
from baton.service_layer.unit_of_work import SqlAlchemyUnitOfWork

#: Seconds per metre assumed for a leg with no planned time or under 50 m long (8 m/s, ~29 km/h).
UNKNOWN_LEG_S_PER_M = 0.125


@dataclass
class VehicleState:
    """What execution knows about one vehicle on its route (instants aware, seconds, metres)."""

    route: Route
    stops: list[PlannedStop]
    tracker: GeofenceTracker
    depot: tuple[float, float]
    learned_service: dict[str, int] = field(default_factory=dict)
    pace: float = 1.0
    next_index: int = 0
    leg_started_at: datetime | None = None
    leg_origin: tuple[float, float] | None = None
    last_fix: tuple[datetime, float, float] | None = None
    anchor: tuple[float, float, datetime] | None = None
    published: dict[str, datetime] = field(default_factory=dict)
    stored: dict[str, datetime] = field(default_factory=dict)
    service_done: set[str] = field(default_factory=set)
    driven_m: float = 0.0
    off_route_since: datetime | None = None
    off_route_m: float = 0.0
    _leg_pace: tuple[tuple[int, tuple[float, float]], float] | None = None

    @property
    def vehicle_id(self) -> str:
        return self.route.vehicle_id

    @property
    def in_progress(self) -> bool:
        return self.route.status == RouteStatus.IN_PROGRESS

    def index_of(self, order_id: str) -> int | None:
        return next((k for k, s in enumerate(self.stops) if s.order_id == order_id), None)

    def observe_fix(self, ts: datetime, lat: float, lng: float, idle_radius_m: float) -> None:
        """Remember the newest fix and where the vehicle has been standing since when."""
        if self.last_fix is not None and ts <= self.last_fix[0]:
            return
        if self.last_fix is not None:
            self.driven_m += distance_m(self.last_fix[1], self.last_fix[2], lat, lng)
        self.last_fix = (ts, lat, lng)
        if self.anchor is None or distance_m(self.anchor[0], self.anchor[1], lat, lng) > idle_radius_m:
            self.anchor = (lat, lng, ts)

    def observe_route(self, ts: datetime, lat: float, lng: float, limit_m: float) -> None:
        """Track how far the fix is from the current leg's straight line, and since when it is too far."""
        if self.next_index >= len(self.stops) or self.tracker.at_stop is not None:
            self.off_route_since, self.off_route_m = None, 0.0
            return
        nxt = self.stops[self.next_index]
        self.off_route_m = distance_to_leg_m((lat, lng), self.leg_origin or self.depot, (nxt.lat, nxt.lng))
        if self.off_route_m <= limit_m:
            self.off_route_since = None
        elif self.off_route_since is None:
            self.off_route_since = ts

    def arrived(self, order_id: str, at: datetime, settings: EtaSettings) -> None:
        """Advance past ``order_id``'s stop; fold the driven leg into the pace."""
        k = self.index_of(order_id)
        if k is None or k < self.next_index:
            return
        if self.leg_started_at is not None and k == self.next_index:
            planned = sum(s.leg_duration_s for s in self.stops[self.next_index:k + 1])
            self.pace = update_pace(self.pace, (at - self.leg_started_at).total_seconds(), planned, settings)
        self.next_index = k + 1
        self.tracker.visited.add(order_id)
        if self.tracker.at_stop is None:
            self.tracker.at_stop = (order_id, at)

    def departed(self, order_id: str, at: datetime) -> None:
        k = self.index_of(order_id)
        if k is not None:
            self.leg_started_at = at
            self.leg_origin = (self.stops[k].lat, self.stops[k].lng)
        self.service_done.add(order_id)

    def seconds_per_metre(self) -> float:
        """Planned seconds per straight-line metre of the current leg (:data:`UNKNOWN_LEG_S_PER_M` when
        there is no leg to measure)."""
        if self.next_index >= len(self.stops):
            return UNKNOWN_LEG_S_PER_M
        origin = self.leg_origin or self.depot
        key = (self.next_index, origin)
        if self._leg_pace is not None and self._leg_pace[0] == key:
            return self._leg_pace[1]
        nxt = self.stops[self.next_index]
        length = distance_m(origin[0], origin[1], nxt.lat, nxt.lng)
        value = nxt.leg_duration_s / length if length > 50.0 and nxt.leg_duration_s > 0 else UNKNOWN_LEG_S_PER_M
        self._leg_pace = (key, value)
        return value

    def service_s(self, stop: PlannedStop) -> int:
        learned = self.learned_service.get(zone_of(stop.lat, stop.lng))
        return learned if learned is not None else stop.service_s

    def etas(self, now: datetime) -> list[StopEta]:
        remaining_service = 0
        at = self.tracker.at_stop
        if at is not None and at[0] not in self.service_done:
            k = self.index_of(at[0])
            if k is not None:
                remaining_service = max(0, self.service_s(self.stops[k]) - int((now - at[1]).total_seconds()))
        position = (self.last_fix[1], self.last_fix[2]) if self.last_fix and at is None else None
        return compute_etas(
            self.stops[self.next_index:], now, pace=self.pace, position=position,
            leg_origin=self.leg_origin or self.depot, not_before=None if self.in_progress else self.route.start,
            at_stop_remaining_s=remaining_service, service_for=self.service_s if self.learned_service else None)


def active_route_id(uow: SqlAlchemyUnitOfWork, vehicle_id: str) -> str | None:
    """The vehicle's dispatched or in-progress route (the latest starting one), or ``None``."""
    r = orm.routes
    session = uow.session
    assert session is not None
    return session.execute(
        select(r.c.id).where(r.c.org_id == uow.org_id, r.c.vehicle_id == vehicle_id,
                             r.c.status.in_([RouteStatus.DISPATCHED.value, RouteStatus.IN_PROGRESS.value]))
        .order_by(r.c.start.desc()).limit(1)).scalar()


def load_vehicle_state(uow: SqlAlchemyUnitOfWork, route_id: str, geofence: GeofenceSettings,
                       learned_service: dict[str, int]) -> VehicleState:
    """Build the state of ``route_id`` from storage (inside an open ``with uow`` block).

    Raises:
        NotFound: when the route does not exist.
    """
    route = uow.plans.get_route(route_id)
    orders = {o.id: o for o in uow.orders.get_many(route.order_ids)}
    return build_vehicle_state(route, orders, uow.depots.get(route.start_depot_id), geofence, learned_service)


def load_plan_states(uow: SqlAlchemyUnitOfWork, plan_id: str, geofence: GeofenceSettings,
                     learned_service: dict[str, int]) -> list[VehicleState]:
    """The states of every dispatched or in-progress route of ``plan_id``, in a handful of queries.

    Raises:
        NotFound: when the plan does not exist.
    """
    plan = uow.plans.get(plan_id)
    live = [r for r in plan.routes if r.status in (RouteStatus.DISPATCHED, RouteStatus.IN_PROGRESS)]
    orders = {o.id: o for o in uow.orders.get_many([o for r in live for o in r.order_ids])}
    depots = {d.id: d for d in uow.depots.list()}
    return [build_vehicle_state(r, orders, depots[r.start_depot_id], geofence, learned_service) for r in live]


def build_vehicle_state(route: Route, orders: Mapping[str, Order], depot: Depot, geofence: GeofenceSettings,
                        learned_service: dict[str, int]) -> VehicleState:
    """A vehicle's state from its route, the route's orders and its start depot (pure)."""
    stops: list[PlannedStop] = []
    done: set[str] = set()
    next_index = 0
    prev = (depot.location.lat, depot.location.lng)
    for s in route.stops:
        if s.kind == StopKind.BREAK or s.order_id is None or s.order_id not in orders:
            stops.append(PlannedStop(None, prev[0], prev[1], s.planned_arrival, s.planned_service_s,
                                     s.leg_duration_s))
            continue
        order = orders[s.order_id]
        window = order.window_at(s.planned_arrival)
        loc = order.location
        stops.append(PlannedStop(order.id, loc.lat, loc.lng, s.planned_arrival, order.service_time_s,
                                 s.leg_duration_s, window.start if window else None, window.end if window else None))
        prev = (loc.lat, loc.lng)
        if s.actual_arrival is not None:
            done.add(order.id)
            next_index = len(stops)
    targets = [StopTarget(p.order_id, p.lat, p.lng) for p in stops if p.order_id is not None]
    state = VehicleState(route, stops, GeofenceTracker(targets, geofence, visited=set(done)),
                         (depot.location.lat, depot.location.lng), learned_service, next_index=next_index)
    state.leg_started_at = route.actual_start
    for p, s in zip(stops, route.stops, strict=True):
        if p.order_id is not None and p.order_id in done and s.actual_departure is not None:
            state.departed(p.order_id, s.actual_departure)
    return state
