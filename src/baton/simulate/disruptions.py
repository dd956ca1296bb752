"""The day simulator's disruptions and the dispatcher's reactions, as functions of the running
:class:`baton.simulate.engine.DaySimulation`: same-day orders, cancellations, traffic incidents,
breakdowns (see :mod:`baton.simulate.scenario`), and the ``manual`` baseline's reassignment
(:func:`baton.simulate.manual.nearest_with_room`). With a fleet mix (:mod:`baton.simulate.fleet`),
a new order live re-planning cannot insert is dispatched to carriers.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any

from baton.domain.lifecycle import OrderStatus
from baton.domain.order import Order
from baton.domain.values import Address, LatLng, Size, TimeWindow
from baton.live.sim_hook import rescue
from baton.service_layer import commands
from baton.simulate.manual import nearest_with_room
from baton.simulate.scenario import minutes

if TYPE_CHECKING:
    from baton.simulate.engine import DaySimulation, _Van

S = OrderStatus


def new_orders(sim: DaySimulation) -> list[tuple[int, Order]]:
    sc, rng = sim.sc, random.Random(f"{sim.cfg.seed}:new")
    a, b = (minutes(x) * 60 for x in sc.new_orders_between)
    out: list[tuple[int, Order]] = []
    t = a
    tz = sim.t0.tzinfo
    # the rate is for the whole bundled day (1,019 orders): a slice gets its share
    rate = sc.new_orders_per_hour * min(1.0, len(sim.day.orders) / 1019)
    while rate > 0:
        t += int(rng.expovariate(rate / 3600))
        if t >= b:
            break
        src = rng.choice(sim.day.orders)
        jitter = LatLng(src.location.lat + rng.uniform(-0.002, 0.002),
                        src.location.lng + rng.uniform(-0.002, 0.002))
        start = t + sc.new_order_lead_min * 60
        end = min(start + sc.new_order_window_min * 60, 18 * 3600)
        units = max(1, round(src.size.volume_l / 10))
        order = Order(
            id=f"NEW-{len(out) + 1:03d}", customer=src.customer,
            address=Address(f"{jitter.lat:.5f}, {jitter.lng:.5f}", jitter, "Brasília", country="BR"),
            time_windows=[TimeWindow(sim.at(start).astimezone(tz), sim.at(end).astimezone(tz))],
            service_time_s=180 + 20 * units, size=Size(math.ceil(units / 3), 2.0 * units, 10.0 * units),
        )
        out.append((t, order))
    return out


def schedule_disruptions(sim: DaySimulation) -> None:
    sc, rng = sim.sc, sim.rng
    a, b = (minutes(x) * 60 for x in sc.cancellations_between)
    morning = sorted(o.id for o in sim.day.orders)
    for oid in sorted(rng.sample(morning, round(len(morning) * sc.cancellation_pct / 100))):
        sim.push(rng.randint(a, b), "cancel", oid)
    for t, order in sim.new_orders:
        sim.push(t, "new", order)
    for inc in sc.traffic_incidents:
        centre = (LatLng(inc.lat, inc.lng) if inc.lat is not None and inc.lng is not None
                  else rng.choice(sim.day.orders).location if inc.radius_km > 0 else None)
        s, e = minutes(inc.start) * 60, minutes(inc.end) * 60
        sim.incidents.append((s, e, inc.factor, centre, inc.radius_km * 1000))
        sim.push(s, "traffic", (s, e, inc.factor, centre, inc.radius_km * 1000))
    vans = sorted(v.id for v in sim.day.vehicles)
    for bd in sc.breakdowns:
        sim.push(minutes(bd.at) * 60, "breakdown", bd.vehicle or rng.choice(vans))


def break_down(sim: DaySimulation, van: _Van, t: int) -> None:
    van.broken_pending = False
    _moved, left = sim.handle(commands.ReportBreakdown(at=sim.at(t), route_id=van.route_id))
    sim._complete(van, t)
    rescue(sim, t)
    if sim.cfg.policy == "manual":
        for oid in left:
            assign_manually(sim, oid, t)


def assign_manually(sim: DaySimulation, order_id: str, t: int) -> None:
    order = sim.orders[order_id]
    candidates = []
    with sim.bus.uow:  # what each van still has to deliver, from the orders' states
        load: dict[str, float] = {}
        for status in (S.PLANNED, S.DISPATCHED, S.OUT_FOR_DELIVERY):
            for o in sim.bus.uow.orders.list(status=status):
                if o.route_id:
                    load[o.route_id] = load.get(o.route_id, 0.0) + o.size.volume_l
    for van in sim.vans.values():
        if van.end_s is None and not van.broken_pending:
            candidates.append((van.route_id, van.point, van.capacity_l - load.get(van.route_id, 0.0)))
    rid = nearest_with_room(sim.geo.index[order.location], order.size.volume_l, candidates, sim.geo)
    if rid is not None:
        sim.handle(commands.AssignOrder(at=sim.at(t), actor="user:dispatcher", order_id=order_id, route_id=rid))


def disruption(sim: DaySimulation, t: int, kind: str, payload: Any) -> None:
    at = sim.at(t)
    if kind == "cancel":
        with sim.bus.uow:
            status = sim.bus.uow.orders.get(payload).status
        if status not in (S.DELIVERED, S.CANCELLED, S.ARRIVED):
            sim.handle(commands.CancelOrder(at=at, actor="customer:web", order_id=payload, reason="customer"))
            sim.outcomes[payload].cancelled = True
    elif kind == "new":
        order: Order = payload
        sim.outcomes[order.id].placed_s = t
        result = sim.handle(commands.AddLiveOrder(at=at, actor="customer:web", order=order))
        if sim.cfg.policy == "manual":
            assign_manually(sim, order.id, t)
        elif (sim.world is not None and sim.cfg.policy == "baton" and isinstance(result, str)
              and sim.world.dispatch(t, [order.id])):  # no van could take it: the rules look for a carrier
            sim.outcomes[order.id].fleet = "unassigned"
    elif kind == "traffic":
        s, e, factor, centre, radius = payload
        sim.handle(commands.ReportTraffic(at=at, factor=factor, start=sim.at(s), end=sim.at(e),
                                           center=(centre.lat, centre.lng) if centre else None, radius_m=radius))
        rescue(sim, t)
    elif kind in ("health", "carrier_pickup", "carrier_status", "carrier_door"):
        carrier_event(sim, t, kind, payload)
    elif kind == "breakdown":
        van = next((v for v in sim.vans.values() if v.vehicle_id == payload), None)
        if van is not None and van.end_s is None and van.started:
            van.broken_pending = True


def carrier_event(sim: DaySimulation, t: int, kind: str, payload: Any) -> None:
    world = sim.world
    assert world is not None
    if kind == "health":
        for order_id in world.health(t):  # re-tendered back to the own fleet
            if sim.cfg.policy != "static":
                assign_manually(sim, order_id, t)
    elif kind == "carrier_pickup":
        world.pickup(*payload)
    elif kind == "carrier_status":
        world.status(*payload)
    else:
        world.at_door(*payload)


def _near(p: LatLng, c: LatLng, radius_m: float) -> bool:
    dy = (p.lat - c.lat) * 111_195.0
    dx = (p.lng - c.lng) * 111_195.0 * math.cos(math.radians(c.lat))
    return dx * dx + dy * dy <= radius_m * radius_m
