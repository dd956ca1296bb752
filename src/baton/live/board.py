"""The live board: the :class:`~baton.live.model.LivePlan` of the current plan, kept in step with
execution (route started, stop departed, break taken, reload done) and published back to the
database as routes with fresh ETAs.

``mode="baton"`` repairs and notifies on its own (see :mod:`baton.service_layer.live_handlers`);
``mode="manual"`` only tracks state and applies a dispatcher's explicit assignments.

Published routes are ``[stops done][open stops]``: the done prefix is never rewritten. Breaks are
``BREAK`` stops and reloads ``RELOAD`` stops (a drive back to the start depot to load parcels).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from baton.adapters.travel.base import TravelTimeProvider
from baton.domain.fleet import Depot
from baton.domain.order import Order
from baton.domain.plan import Route, RouteStatus, Stop, StopKind
from baton.live.model import RELOAD, Geo, LiveOrder, LivePlan, LiveRoute, Timeline, evaluate
from baton.live.notices import DelayBook
from baton.live.ops import choose_next
from baton.planning.crews import build_crews
from baton.planning.mapping import (
    demand_units,
    departure_instant,
    from_clock,
    resolve_day_start,
    to_clock,
    window_bounds,
)
from baton.planning.problem import PlanningProblem
from baton.service_layer.unit_of_work import AbstractUnitOfWork

BREAK = "@break"
_ON_BOARD = {"out_for_delivery", "arrived", "failed_attempt"}


@dataclass
class LiveBoard:
    """In-memory live state of the organisation's current plan (one process owns it).

    ``published[route_id]`` is the open part last written (order ids, :data:`RELOAD`,
    :data:`BREAK`), ``done_count[route_id]`` how many stored stops are done, ``delays`` the open
    delay episodes (customers told of a delay, :mod:`baton.live.notices`).
    """

    travel: TravelTimeProvider
    mode: str = "baton"
    retry_gap_s: int = 3600
    transfer_delay_s: int = 2700
    plan: LivePlan | None = None
    plan_id: str = ""
    depots: dict[str, Depot] = field(default_factory=dict)
    published: dict[str, list[str]] = field(default_factory=dict)
    done_count: dict[str, int] = field(default_factory=dict)
    route_meta: dict[str, Route] = field(default_factory=dict)
    delays: DelayBook = field(default_factory=DelayBook)
    last_status: dict[str, str] = field(default_factory=dict)
    #: per route, the open items with the service start (clock s) last published, and the return time
    etas: dict[str, tuple[tuple[tuple[str, int], ...], int]] = field(default_factory=dict)

    # loading -------------------------------------------------------------------------------
    def ensure(self, uow: AbstractUnitOfWork) -> LivePlan:
        """The live plan, loaded from ``uow`` (inside its ``with`` block) on first use.

        Raises:
            NotFound: when there is no current plan.
        """
        if self.plan is None:
            self.load(uow)
        assert self.plan is not None
        return self.plan

    def load(self, uow: AbstractUnitOfWork) -> LivePlan:
        """(Re)build the live plan from the current stored plan, its orders and the fleet."""
        from baton.domain.errors import NotFound

        stored = uow.plans.current()
        if stored is None:
            raise NotFound("no current plan to orchestrate")
        depots, vehicles, drivers = uow.depots.list(), uow.vehicles.list(), uow.drivers.list()
        self.depots = {d.id: d for d in depots}
        problem = PlanningProblem(orders=[], depots=depots, vehicles=vehicles, drivers=drivers)
        day_start = resolve_day_start(problem)
        crews = {c.vehicle.id: c for c in build_crews(problem, day_start)}
        ids = [o for r in stored.routes for o in r.order_ids] + [u.order_id for u in stored.unassigned]
        orders = uow.orders.get_many(list(dict.fromkeys(ids)))
        # the planner's departure instant, so that the live legs are the planner's legs
        geo = Geo(self.travel, [d.location for d in depots] + [o.location for o in orders],
                  departure_instant(problem))
        plan = LivePlan(day_start, geo, {}, {})
        loading = max((d.loading_time_s for d in depots), default=0)
        plan.reload_s = loading or plan.reload_s
        for o in orders:
            plan.orders[o.id] = self.live_order(plan, o)
        by_vehicle = {r.vehicle_id: r for r in stored.routes}
        for vid, crew in crews.items():
            stored_route = by_vehicle.get(vid)
            rid = stored_route.id if stored_route else f"{stored.id}-{vid}"
            depot_pt = geo.index[depots[crew.start_depot].location]
            begin = crew.earliest_start_s
            if stored_route is not None:
                begin = to_clock(stored_route.start, day_start) - crew.loading_s
            rule = crew.break_rule
            lr = LiveRoute(
                id=rid, vehicle_id=vid, driver_id=crew.driver.id if crew.driver else None, depot=depot_pt,
                end_depot=geo.index[depots[crew.end_depot].location], begin_s=begin,
                shift_end_s=crew.latest_end_s, max_end_s=begin + crew.max_working_s, loading_s=crew.loading_s,
                capacity=demand_units(crew.vehicle.capacity), speed_factor=crew.vehicle.speed_factor,
                per_km=crew.vehicle.costs.per_km, per_hour=crew.vehicle.costs.per_hour,
                per_day=crew.vehicle.costs.fixed_per_day,
                capabilities=crew.capabilities, break_after_s=rule.after_work_s if rule else 0,
                break_s=rule.duration_s if rule else 0, position=depot_pt, ready_s=begin + crew.loading_s,
                seg_start_s=begin,
            )
            self.route_meta[rid] = stored_route or Route(
                rid, vid, lr.driver_id, crew.vehicle.start_depot_id, crew.vehicle.returns_to,
                from_clock(lr.ready_s, day_start), from_clock(lr.ready_s, day_start), status=RouteStatus.DISPATCHED)
            items = []
            for s in (stored_route.stops if stored_route else []):
                items.append(BREAK if s.kind == StopKind.BREAK else RELOAD if s.kind == StopKind.RELOAD
                             else str(s.order_id))
            self.published[rid] = items
            self.done_count[rid] = 0
            lr.free = [x for x in items if x != BREAK]
            plan.routes[rid] = lr
        for u in stored.unassigned:
            plan.unassigned[u.order_id] = u.reason
        self.plan, self.plan_id = plan, stored.id
        return plan

    def live_order(self, plan: LivePlan, order: Order) -> LiveOrder:
        """The fast path's view of ``order`` (adds its address to the geometry when new)."""
        (point,) = plan.geo.add([order.location])
        old = plan.orders.get(order.id)
        return LiveOrder(order.id, point, window_bounds(order, plan.day_start), order.service_time_s,
                         demand_units(order.size), order.required_features, order.priority,
                         old.available_s if old else 0, old.not_before_s if old else 0)

    # execution -----------------------------------------------------------------------------
    def clock(self, at: datetime) -> int:
        assert self.plan is not None
        return to_clock(at, self.plan.day_start)

    def catch_up(self, at: datetime) -> None:
        """Time passes for idle vehicles: one that is not driving to a stop (not started yet, or with
        nothing pinned) cannot begin its next leg before ``at``, so its ready time moves up to ``at``
        (otherwise an insertion would be timed from its last departure, in the past)."""
        if self.plan is None:
            return
        now = self.clock(at)
        for route in self.plan.routes.values():
            if route.pinned is None and not route.broken and route.ready_s < now:
                route.ready_s = now

    def started(self, route_id: str, at: datetime) -> None:
        """The vehicle left the depot: parcels before the first reload are on board; its first stop
        is chosen and pinned (:meth:`set_off`)."""
        route = self._route(route_id)
        route.started, route.ready_s = True, self.clock(at)
        items = route.free
        upto = items.index(RELOAD) if RELOAD in items else len(items)
        route.onboard |= set(items[:upto])
        self.set_off(route.id)

    def arrived(self, route_id: str, order_id: str, at: datetime) -> None:
        """Learn from the leg just driven. ``baton`` mode: the city-wide pace
        (:class:`~baton.live.traffic.CityPace`, every vehicle's legs) and the vehicle's own factor on
        top of it, both against what the plan expected (matrix x the reported slowdowns in force
        when the leg began); an arrival at the very start of one of the order's windows is not
        learnt from (the driver may have waited at the door). ``manual`` mode (the baseline, as
        documented): the vehicle's factor alone, against the matrix."""
        plan, route = self._plan(), self._route(route_id)
        if order_id not in plan.orders:
            return
        order = plan.orders[order_id]
        _, secs = plan.geo.leg(route.position, order.point)
        now = self.clock(at)
        took = now - route.ready_s
        if secs <= 120 or took <= 0:
            return
        if self.mode != "baton":
            ratio = took / (secs / route.speed_factor)
            if 0.5 <= ratio <= 2.5:
                route.traffic = 0.7 * route.traffic + 0.3 * ratio
            return
        if any(lo == now for lo, _ in order.windows):
            return
        timing = plan.traffic.timing(plan.slowdowns, 1.0, route.ready_s, route.vehicle_id, 1.0)
        expected = secs / route.speed_factor * timing.factor(order.point, route.ready_s)
        if 0.5 <= took / expected <= 2.5:
            plan.pace.observe(expected, took)
            route.traffic = 0.7 * route.traffic + 0.3 * took / (expected * plan.pace.factor)

    def departed(self, route_id: str, order_id: str, at: datetime, delivered: bool) -> None:
        """The vehicle left ``order_id``'s stop: it is done (frozen); its next stop is chosen and pinned
        (:meth:`set_off`)."""
        plan, route = self._plan(), self._route(route_id)
        self._advance(route_id, order_id)
        if route.pinned == order_id:
            route.pinned = None
        elif order_id in route.free:
            route.free.remove(order_id)
        route.done.append(order_id)
        if order_id in plan.orders:
            route.position = plan.orders[order_id].point
        route.ready_s = self.clock(at)
        if delivered:
            route.onboard.discard(order_id)
        self.set_off(route_id)

    def break_taken(self, route_id: str, end: datetime) -> None:
        route = self._route(route_id)
        self._advance(route_id, BREAK)
        route.ready_s = route.seg_start_s = self.clock(end)

    def reloaded(self, route_id: str, at: datetime) -> bool:
        """The vehicle loaded at the depot: the parcels of the next trip are on board; its next stop is
        chosen and pinned (:meth:`set_off`). Returns True when that changed the route's sequence."""
        plan, route = self._plan(), self._route(route_id)
        self._advance(route_id, RELOAD)
        if route.pinned == RELOAD:
            route.pinned = None
        elif RELOAD in route.free:
            route.free.remove(RELOAD)
        route.position, route.ready_s = route.depot, self.clock(at)
        items = route.free
        upto = items.index(RELOAD) if RELOAD in items else len(items)
        route.onboard |= {o for o in items[:upto] if o in plan.orders}
        return self.set_off(route.id)

    def _advance(self, route_id: str, item: str) -> None:
        pub = self.published.get(route_id, [])
        if item in pub:
            k = pub.index(item)
            self.done_count[route_id] += k + 1
            self.published[route_id] = pub[k + 1:]

    def set_off(self, route_id: str) -> bool:
        """A started vehicle that is driving to nothing (it has just left the depot or a stop) is given
        its next stop, which is pinned: never re-routed away from it afterwards. In ``baton`` mode the
        stop is chosen first (:func:`~baton.live.ops.choose_next`: a van is not sent to wait 30 min
        or more at a door while it could serve others first); a manual dispatcher's driver simply
        takes the next stop of his route. Returns True when the route's sequence changed."""
        route = self._route(route_id)
        if route.pinned is not None or not route.free or not route.started or route.broken:
            return False
        changed = self.mode == "baton" and choose_next(self._plan(), route)
        route.pinned = route.free.pop(0)
        return changed

    def _plan(self) -> LivePlan:
        assert self.plan is not None, "live board not loaded"
        return self.plan

    def _route(self, route_id: str) -> LiveRoute:
        return self._plan().routes[route_id]

    # publication ---------------------------------------------------------------------------
    def moved(self, route_id: str, timeline: Timeline, material_s: int) -> bool:
        """Whether ``timeline`` differs materially from what was last published for the route: another
        stop sequence, or a stop's ETA (or the return) moved by ``material_s`` seconds or more."""
        last = self.etas.get(route_id)
        if last is None:
            return True
        stops, end = last
        if len(stops) != len(timeline.visits) or abs(timeline.end_s - end) >= material_s:
            return True
        return any(item != v.item or abs(eta - v.start_s) >= material_s
                   for (item, eta), v in zip(stops, timeline.visits, strict=True))

    def to_route(self, route_id: str, stored: Route | None, timeline: Timeline) -> Route:
        """The domain route: the stored done prefix, then the open stops with their ETAs."""
        plan, route = self._plan(), self._route(route_id)
        meta = stored or self.route_meta[route_id]
        done = list(meta.stops[: self.done_count[route_id]]) if stored else []
        at = lambda s: from_clock(s, plan.day_start)  # noqa: E731
        stops: list[Stop] = list(done)
        breaks = {pos: (s, e) for pos, s, e in timeline.breaks}
        items: list[str] = []

        def add_break(pos: int) -> None:
            if pos in breaks:
                s, e = breaks[pos]
                stops.append(Stop(len(stops) + 1, StopKind.BREAK, None, at(s), at(e)))
                items.append(BREAK)

        for k, v in enumerate(timeline.visits):
            add_break(k)
            kind = StopKind.RELOAD if v.item == RELOAD else StopKind.DELIVERY
            stops.append(Stop(len(stops) + 1, kind, None if v.item == RELOAD else v.item, at(v.start_s),
                              at(v.end_s), v.leg_m, v.leg_s))
            items.append(v.item)
        add_break(len(timeline.visits))
        for k, s in enumerate(stops, start=1):
            s.sequence = k
        self.published[route_id] = items
        self.etas[route_id] = (tuple((v.item, v.start_s) for v in timeline.visits), timeline.end_s)
        start = meta.start if (route.started or route.done) else at(_departure(route.ready_s, timeline))
        distance = sum(s.leg_distance_m for s in stops) + timeline.return_m
        end = at(timeline.end_s) if timeline.visits or not route.started else meta.end
        cost = route.per_km * distance / 1000 + route.per_hour * max(0, timeline.end_s - route.begin_s) / 3600
        return Route(
            id=route_id, vehicle_id=route.vehicle_id, driver_id=route.driver_id,
            start_depot_id=meta.start_depot_id, end_depot_id=meta.end_depot_id, start=start, end=end,
            stops=stops, distance_m=distance, duration_s=int((end - start).total_seconds()),
            driving_s=sum(s.leg_duration_s for s in stops) + timeline.return_s, cost=cost,
            status=meta.status, plan_id=self.plan_id, actual_start=meta.actual_start, actual_end=meta.actual_end,
            actual_distance_m=meta.actual_distance_m, actual_driving_s=meta.actual_driving_s,
        )

    def timeline(self, route_id: str) -> Timeline:
        return evaluate(self._plan(), self._route(route_id))


def _departure(ready_s: int, timeline: Timeline) -> int:
    """When a vehicle still at the depot leaves on ``timeline`` (clock s): before its first break or
    first leg, never before ``ready_s`` (see :func:`baton.live.model.evaluate`)."""
    if not timeline.visits:
        return ready_s
    first = [b for b in timeline.breaks if b[0] == 0]
    v = timeline.visits[0]
    return max(ready_s, first[0][1] if first else v.arrive_s - v.leg_s)
