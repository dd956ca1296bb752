"""The day simulator: a discrete-event simulation of one delivery day, driving Baton only through
its message bus (commands in, stored routes and events read back), on a simulated clock.

The *world* knows the truth: where each van is, how long each leg really takes (matrix duration
x ``travel_bias`` x a log-normal factor x any traffic incident on the leg), who is not at home
(drawn per order and attempt, so every policy meets the same absent customers), which orders get
cancelled or placed during the day and which van breaks down. Each driver follows the route Baton
has stored for them, re-read at every stop: the first stop not yet done whose order is still out
for delivery on that route (cancelled or moved orders are skipped), breaks and reloads included.

Policies: ``static`` (Baton's morning plan, never changed), ``manual`` (the territory baseline of
:mod:`baton.simulate.manual`), ``baton`` (Baton's plan with live orchestration,
:func:`baton.service_layer.live_reactions.enable_live`). Same seed, same day, same result.

Execution (GPS fixes, ETAs, exceptions) and notifications run alongside (:mod:`baton.simulate.observe`);
a scenario's ``fleet`` mixes 3PL and gig carriers into the day (:mod:`baton.simulate.fleet`);
disruptions and the dispatcher's reactions are in :mod:`baton.simulate.disruptions`.
"""

from __future__ import annotations

import heapq
import math
import os
import random
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from baton.adapters.travel.base import TravelTimeProvider
from baton.demo.enrich import DemoDay, enrich
from baton.domain.lifecycle import OrderStatus
from baton.domain.order import Order
from baton.domain.plan import Route, StopKind
from baton.domain.values import LatLng
from baton.intake.loggi import load_loggi_day
from baton.live.events import DelayNotified
from baton.live.model import DEFAULT_RELOAD_S, Geo
from baton.live.sim_hook import periodic_improve, rescue
from baton.planning.mapping import from_clock, to_clock
from baton.planning.problem import PlanningOptions
from baton.reporting.kpis import is_on_time
from baton.service_layer import commands
from baton.service_layer.bootstrap import bootstrap
from baton.service_layer.live_reactions import enable_live
from baton.service_layer.messagebus import MessageBus
from baton.simulate.disruptions import _near, break_down, disruption, new_orders, schedule_disruptions
from baton.simulate.fleet import CarrierWorld, fleet_kpis
from baton.simulate.kpis import OrderOutcome, VanOutcome, day_kpis, van_cost
from baton.simulate.manual import territory_plan
from baton.simulate.observe import TICK_S, Observer
from baton.simulate.scenario import Scenario

POLICIES = ("static", "manual", "baton")
S = OrderStatus
IDLE_POLL_S = 900
FAILED_DWELL_S = 120


@dataclass(frozen=True)
class SimConfig:
    """One run: ``policy``, ``seed`` (disruptions, noise, solver), the planner's ``time_limit_s``
    and optional ``max_iterations`` (reproducible whatever the load), ``limit`` (first N orders).

    ``standby_vans`` (``baton`` only): how many vans back at the depot with nothing to do wait there
    for new work (the first to come back) until an hour before their shift ends; the others end their
    day. Default 0: every waiting hour costs the per-hour rate, and on the standard scenario two
    waiting vans cost more than they saved (docs/benchmarks.md, outcome round 5).
    """

    policy: str = "baton"
    seed: int = 1
    time_limit_s: float = 45.0
    max_iterations: int | None = None
    limit: int | None = None
    day_path: Path | None = None
    scenario: Scenario = field(default_factory=Scenario)
    standby_vans: int = 0


@dataclass
class SimResult:
    """KPIs (see :func:`baton.simulate.kpis.day_kpis`) and counts of what happened."""

    policy: str
    seed: int
    kpis: dict[str, float]
    commands: int


@dataclass
class _Van:
    route_id: str
    vehicle_id: str
    point: int
    begin_s: int
    shift_end_s: int
    capacity_l: float
    rng: random.Random
    km: float = 0.0
    end_s: int | None = None
    broken_pending: bool = False
    started: bool = False
    leg_m: int = 0
    leg_s: int = 0
    leg: tuple[int, int, int, int] | None = None  # (from point, to point, departed s, arrives s)


class DaySimulation:
    """One simulated day (build it, then :meth:`run`)."""

    def __init__(self, cfg: SimConfig, travel: TravelTimeProvider | None = None,
                 database_url: str | None = None) -> None:
        if cfg.policy not in POLICIES:
            raise ValueError(f"policy must be one of {', '.join(POLICIES)}, got {cfg.policy!r}")
        from baton.demo.main_job import bundled_day

        self.cfg, self.sc = cfg, cfg.scenario
        self.day: DemoDay = enrich(load_loggi_day(cfg.day_path or bundled_day()), seed=7, limit=cfg.limit)
        mix = self.sc.fleet
        if mix is not None and mix.captive is not None:  # the captive fleet: the first N vans by id
            kept = sorted(self.day.vehicles, key=lambda v: v.id)[:mix.captive]
            ids = {v.id for v in kept}
            self.day = replace(self.day, vehicles=kept, drivers=[d for d in self.day.drivers if d.vehicle_id in ids])
        self.rng = random.Random(f"{cfg.seed}:world")
        self._tmp: str | None = None
        if database_url is None:
            self._tmp = tempfile.mkdtemp(prefix="baton-sim-", dir=_scratch())
            database_url = f"sqlite:///{Path(self._tmp) / 'sim.sqlite'}"
        self.bus: MessageBus = bootstrap(database_url, travel=travel)
        self.t0 = self.day.day_start
        self.new_orders = new_orders(self)
        self.orders: dict[str, Order] = {o.id: o for o in self.day.orders + [o for _, o in self.new_orders]}
        self.geo = Geo(self.bus.deps.travel, [self.day.depot.location] + [o.location for o in self.orders.values()],
                       self.at(8 * 3600))
        self.depot_pt = self.geo.index[self.day.depot.location]
        self.heap: list[tuple[int, int, str, Any]] = []
        self._seq = 0
        self.vans: dict[str, _Van] = {}
        self.standby: set[str] = set()  # route ids of the vans waiting at the depot for work (baton)
        self.outcomes: dict[str, OrderOutcome] = {o: OrderOutcome(self.orders[o]) for o in self.orders}
        self.incidents: list[tuple[int, int, float, LatLng | None, float]] = []
        self.handled = 0
        self.observer = Observer(self.bus, live_repair=cfg.policy == "baton")
        self.world = CarrierWorld(self, mix, self.sc.carrier_outage) if mix is not None else None

    # helpers ---------------------------------------------------------------------------------
    def at(self, s: int) -> datetime:
        return from_clock(s, self.t0)

    def clock(self, instant: datetime) -> int:
        return to_clock(instant, self.t0)

    def push(self, t: int, kind: str, payload: Any) -> None:
        self._seq += 1
        heapq.heappush(self.heap, (t, self._seq, kind, payload))

    def handle(self, cmd: commands.Command) -> Any:
        self.handled += 1
        return self.bus.handle(cmd)

    # setup -----------------------------------------------------------------------------------
    def _plan(self) -> None:
        day, cfg = self.day, self.cfg
        created = self.at(6 * 3600)
        if cfg.policy == "baton":  # customers are told by Baton only under Baton's policy
            self.observer.enable_notifications()
        self.handle(commands.RegisterFleet(at=created, depots=[day.depot], vehicles=day.vehicles, drivers=day.drivers))
        self.handle(commands.CreateOrders(at=created, orders=day.orders))
        captive = [o.id for o in day.orders]
        if self.world is not None:  # the rules decide who delivers what; captive planning gets its share
            self.world.setup(created)
            captive = self.world.dispatch(6 * 3600 + 600)
            chosen = set(captive)
            for o in day.orders:
                if o.id not in chosen and o.id not in self.world.carried:
                    self.outcomes[o.id].fleet = "unassigned"
            every = self.world.mix.health_check_s
            for t in range(7 * 3600, 19 * 3600, every):
                self.push(t, "health", None)
        for t in range(7 * 3600 + 1800, 20 * 3600 + 1, TICK_S):
            self.push(t, "tick", None)
        plan_at = self.at(6 * 3600 + 1800)
        if cfg.policy == "manual":
            mine = set(captive)
            plan = territory_plan(day.depot, [o for o in day.orders if o.id in mine], day.vehicles, day.drivers,
                                  self.geo, self.t0)
            self.handle(commands.SubmitPlan(at=plan_at, plan=plan))
        else:
            self.handle(commands.PlanOrders(at=plan_at, day_start=self.t0, order_ids=captive if self.world else None,
                                             options=PlanningOptions(
                time_limit_s=cfg.time_limit_s, seed=cfg.seed, max_iterations=cfg.max_iterations)))
        dispatch = self.at(7 * 3600 + 1800)
        if cfg.policy != "static":
            enable_live(self.bus, "baton" if cfg.policy == "baton" else "manual")
            self.handle(commands.StartLive(at=dispatch))
        with self.bus.uow:
            current = self.bus.uow.plans.current()
            assert current is not None
            routes = current.routes
        drivers = {d.vehicle_id: d for d in day.drivers}
        for r in routes:
            if r.order_ids:
                self.handle(commands.DispatchRoute(at=dispatch, actor="system:dispatch", route_id=r.id))
            drv = drivers[r.vehicle_id]
            van = _Van(r.id, r.vehicle_id, self.depot_pt, self.clock(drv.shift_start), self.clock(drv.shift_end),
                       next(v.capacity.volume_l for v in day.vehicles if v.id == r.vehicle_id),
                       random.Random(f"{cfg.seed}:van:{r.vehicle_id}"))
            self.vans[r.id] = van
            self.push(max(self.clock(r.start), van.begin_s), "start", r.id)
        rescue(self, self.clock(dispatch))  # baton: stops at risk and leftovers, once dispatched

    # world -----------------------------------------------------------------------------------
    def _leg(self, van: _Van, to: int, t: int) -> tuple[int, int]:
        metres, secs = self.geo.leg(van.point, to)
        f = self.sc.travel_bias * (math.exp(van.rng.gauss(0, self.sc.travel_sigma)) if self.sc.travel_sigma else 1)
        for s, e, factor, centre, radius in self.incidents:
            if s <= t < e and (centre is None or _near(self.geo.points[to], centre, radius)):
                f *= factor
        return metres, int(secs * f)

    def _next_stop(self, van: _Van) -> tuple[Route, int | None]:
        with self.bus.uow:
            route = self.bus.uow.plans.get_route(van.route_id)
            ids = [s.order_id for s in route.stops if s.order_id and s.actual_departure is None]
            status = {o.id: (o.status, o.route_id) for o in self.bus.uow.orders.get_many(list(dict.fromkeys(ids)))}
        for k, s in enumerate(route.stops):
            if s.actual_departure is not None:
                continue
            if s.kind in (StopKind.BREAK, StopKind.RELOAD):
                return route, k
            if s.order_id and status.get(s.order_id) == (S.OUT_FOR_DELIVERY, van.route_id):
                return route, k
        return route, None

    def _decide(self, van: _Van, t: int) -> None:
        if van.end_s is not None:
            return
        if van.broken_pending:
            break_down(self, van, t)
            return
        route, k = self._next_stop(van)
        if k is not None:
            self.standby.discard(van.route_id)
        else:
            if van.point != self.depot_pt:
                metres, secs = self._leg(van, self.depot_pt, t)
                van.km += metres / 1000
                van.leg_m, van.leg_s = van.leg_m + metres, van.leg_s + secs
                van.leg = (van.point, self.depot_pt, t, t + secs)
                van.point = self.depot_pt
                self.push(t + secs, "decide", van.route_id)
            elif (self.cfg.policy == "baton" and t < van.shift_end_s - 3600
                  and (van.route_id in self.standby or len(self.standby) < self.cfg.standby_vans)):
                self.standby.add(van.route_id)
                self.push(t + IDLE_POLL_S, "decide", van.route_id)
            else:
                self.standby.discard(van.route_id)
                self._complete(van, t)
            return
        stop = route.stops[k]
        if stop.kind == StopKind.BREAK:
            self.push(t + stop.planned_service_s, "break", (van.route_id, t))
            return
        target = (self.depot_pt if stop.kind == StopKind.RELOAD
                  else self.geo.index[self.orders[str(stop.order_id)].location])
        metres, secs = self._leg(van, target, t)
        van.km += metres / 1000
        van.leg_m, van.leg_s = van.leg_m + metres, van.leg_s + secs
        van.leg = (van.point, target, t, t + secs)
        van.point = target
        if stop.kind == StopKind.RELOAD:
            self.push(t + secs + DEFAULT_RELOAD_S, "reload", van.route_id)
        else:
            self.push(t + secs, "arrive", (van.route_id, stop.order_id, stop.planned_arrival))

    def _complete(self, van: _Van, t: int) -> None:
        van.end_s = t
        self.handle(commands.CompleteRoute(at=self.at(t), actor=f"driver:{van.vehicle_id}", route_id=van.route_id,
                                           leg_distance_m=van.leg_m, leg_driving_s=van.leg_s))

    def _arrive(self, van: _Van, order_id: str, t: int, planned: datetime) -> None:
        """The van is at ``order_id``'s door at ``t``; ``planned`` is the service start its route
        had for the stop when the van set off (the window the driver aims for)."""
        order = self.orders[order_id]
        with self.bus.uow:
            current = self.bus.uow.orders.get(order_id)
            ok = current.status == S.OUT_FOR_DELIVERY and current.route_id == van.route_id
        if not ok:  # cancelled or moved while the van drove there
            self._decide(van, t)
            return
        self.observer.arrived(order_id, self.at(t))
        t = self.clock(order.service_start(self.at(t), planned))
        actor = f"driver:{van.vehicle_id}"
        self.handle(commands.ArriveAtStop(at=self.at(t), actor=actor, route_id=van.route_id, order_id=order_id,
                                          leg_distance_m=van.leg_m, leg_driving_s=van.leg_s))
        van.leg_m = van.leg_s = 0
        out = self.outcomes[order_id]
        out.attempts += 1
        home = random.Random(f"{self.cfg.seed}:home:{order_id}:{out.attempts}").random() >= self.sc.not_home_pct / 100
        if home:
            dwell = max(30, int(order.service_time_s * math.exp(van.rng.gauss(0, self.sc.service_sigma))))
            self.push(t + dwell, "deliver", (van.route_id, order_id, t))
        else:
            self.push(t + FAILED_DWELL_S, "fail", (van.route_id, order_id, t))

    # main loop -------------------------------------------------------------------------------
    def run(self, on_step: Callable[[float], None] | None = None) -> SimResult:
        """Run the day; ``on_step(fraction of the simulated day done)`` after each event."""
        try:
            self._plan()
            schedule_disruptions(self)
            first, last = 7 * 3600, 20 * 3600
            while self.heap:
                t, _, kind, payload = heapq.heappop(self.heap)
                if self._seq > 50 * len(self.orders) + 10_000:
                    raise RuntimeError(f"simulation does not converge (at {self.at(t).isoformat()}, {kind})")
                self._event(t, kind, payload)
                periodic_improve(self, t)  # issue 5A: live background improvement (baton.live.sim_hook)
                if on_step is not None:
                    on_step(min(1.0, max(0.0, (t - first) / (last - first))))
            return self._result()
        finally:
            self.bus.uow.rollback()
            if self._tmp:
                shutil.rmtree(self._tmp, ignore_errors=True)

    def _event(self, t: int, kind: str, payload: Any) -> None:
        at = self.at(t)
        if kind == "start":
            van = self.vans[payload]
            with self.bus.uow:
                status = self.bus.uow.plans.get_route(payload).status
            if status.value == "dispatched":
                self.handle(commands.StartRoute(at=at, actor=f"driver:{van.vehicle_id}", route_id=payload))
                self.observer.left_depot(payload, at)
                van.started = True
                self._decide(van, t)
            elif self.cfg.policy == "baton" and t < van.shift_end_s - 3600:
                self.push(t + IDLE_POLL_S, "start", payload)  # idle van: wait for work
        elif kind == "decide":
            self._decide(self.vans[payload], t)
        elif kind == "arrive":
            rid, oid, planned = payload
            self._arrive(self.vans[rid], oid, t, planned)
        elif kind in ("deliver", "fail"):
            rid, oid, started = payload
            van = self.vans[rid]
            actor = f"driver:{van.vehicle_id}"
            if kind == "deliver":
                self.handle(commands.CompleteDelivery(at=at, actor=actor, route_id=rid, order_id=oid))
                self.outcomes[oid].delivered_at = self.at(started)
            else:
                self.handle(commands.FailDelivery(at=at, actor=actor, route_id=rid, order_id=oid, reason="not_home"))
                self.outcomes[oid].failed += 1
            self._decide(van, t)
        elif kind == "break":
            rid, started = payload
            self.handle(commands.TakeBreak(at=at, actor=f"driver:{self.vans[rid].vehicle_id}", route_id=rid,
                                           started=self.at(started)))
            self._decide(self.vans[rid], t)
        elif kind == "reload":
            self.handle(commands.ReloadAtDepot(at=at, actor=f"driver:{self.vans[payload].vehicle_id}",
                                               route_id=payload))
            self.observer.left_depot(payload, at)
            self._decide(self.vans[payload], t)
        elif kind == "tick":
            self.observer.tick(at, self._positions(t))
        else:
            disruption(self, t, kind, payload)

    def _positions(self, t: int) -> list[tuple[str, LatLng]]:
        """Where each van on the road truly is at ``t``: along its leg, or where it stands."""
        out = []
        for van in self.vans.values():
            if not van.started or van.end_s is not None:
                continue
            if van.leg is not None and van.leg[2] <= t < van.leg[3]:
                a, b = self.geo.points[van.leg[0]], self.geo.points[van.leg[1]]
                f = (t - van.leg[2]) / max(1, van.leg[3] - van.leg[2])
                out.append((van.vehicle_id, LatLng(a.lat + (b.lat - a.lat) * f, a.lng + (b.lng - a.lng) * f)))
            else:
                out.append((van.vehicle_id, self.geo.points[van.point]))
        return out

    def _result(self) -> SimResult:
        with self.bus.uow:
            told: dict[str, datetime] = {}
            for e in self.bus.uow.all_events():
                if isinstance(e, DelayNotified):
                    told.setdefault(e.order_id, e.occurred_at)
        for oid, when in told.items():
            self.outcomes[oid].told_at = when
        vans = [VanOutcome(v.vehicle_id, v.km, v.begin_s, v.end_s if v.end_s is not None else v.begin_s,
                           any(o.delivered_at or o.failed for o in self.outcomes.values()) and v.km > 0)
                for v in self.vans.values()]
        costs = self.day.vehicles[0].costs
        outcomes = list(self.outcomes.values())
        carriers = sum(self.world.cost_by_fleet.values()) if self.world is not None else 0.0
        kpis = day_kpis(outcomes, vans, costs, carriers)
        kpis.update(fleet_kpis(outcomes, van_cost(vans, costs), self.world,
                               lambda o: is_on_time(o.order, o.delivered_at)))
        kpis.update(self.observer.kpis(lambda oid: not self.outcomes[oid].cancelled))
        return SimResult(self.cfg.policy, self.cfg.seed, kpis, self.handled)


def _scratch() -> str | None:
    """A RAM-backed temporary folder when the OS has one (the simulator's throwaway database
    then costs no disk syncs), else the default temporary folder."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def simulate_day(cfg: SimConfig, travel: TravelTimeProvider | None = None,
                 on_step: Callable[[float], None] | None = None, database_url: str | None = None) -> SimResult:
    """Run one simulated day (see the module docstring) and return its KPIs.

    Raises:
        ValueError: on an unknown policy.
    """
    return DaySimulation(cfg, travel, database_url).run(on_step)
