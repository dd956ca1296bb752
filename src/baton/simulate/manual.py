"""The ``manual`` baseline: how a dispatcher without optimisation plans and reacts.

Morning plan (:func:`territory_plan`): the area around the depot is split into as many fixed
angular sectors as there are vans (orders sorted by bearing from the depot, cut into contiguous
sectors of about equal volume, a sector closed early when the next order would overfill the van);
orders needing a refrigerated van go to the refrigerated van; each sector is sequenced by nearest
neighbour from the depot; time windows are respected only as far as that sequence allows (the
driver waits when early and is late when late); a 30-minute break is taken at the first stop
after which the next stop would pass 4 h 30 of work.

During the day (:func:`nearest_with_room`): a new order goes to the driver nearest to it (current
position) whose van has room, appended at the end of the route; no re-sequencing; reassignment
only on breakdown (same rule); customers are told only when the driver is already late.
"""

from __future__ import annotations

import math
from datetime import datetime
from uuid import uuid4

from baton.domain.fleet import Depot, Driver, Vehicle
from baton.domain.order import Order
from baton.domain.plan import CostBreakdown, Plan, Route, Stop, StopKind
from baton.live.model import Geo
from baton.planning.mapping import from_clock, to_clock, window_bounds


def _bearing(depot: Depot, order: Order) -> float:
    return math.atan2(order.location.lat - depot.location.lat,
                      (order.location.lng - depot.location.lng) * math.cos(math.radians(depot.location.lat)))


def _sectors(depot: Depot, orders: list[Order], vehicles: list[Vehicle]) -> list[list[Order]]:
    ordered = sorted(orders, key=lambda o: (_bearing(depot, o), o.id))
    k = len(vehicles)
    target = sum(o.size.volume_l for o in orders) / k
    cap = vehicles[0].capacity
    out: list[list[Order]] = [[]]
    vol = weight = parcels = 0.0
    for o in ordered:
        full = (vol + o.size.volume_l > cap.volume_l or weight + o.size.weight_kg > cap.weight_kg
                or parcels + o.size.parcels > cap.parcels)
        if out[-1] and len(out) < k and (vol >= target or full):
            out.append([])
            vol = weight = parcels = 0.0
        out[-1].append(o)
        vol, weight, parcels = vol + o.size.volume_l, weight + o.size.weight_kg, parcels + o.size.parcels
    return out + [[] for _ in range(k - len(out))]


def territory_plan(depot: Depot, orders: list[Order], vehicles: list[Vehicle], drivers: list[Driver],
                   geo: Geo, day_start: datetime) -> Plan:
    """The dispatcher's morning plan (see the module docstring); ``geo`` must know the depot and
    every order. Route ids are ``manual-<vehicle id>``; money in the vans' currency."""
    plan_id = "manual-" + uuid4().hex[:8]
    sectors = _sectors(depot, [o for o in orders if not o.required_features], vehicles)
    cold = [o for o in orders if o.required_features]
    by_driver = {d.vehicle_id: d for d in drivers}
    routes: list[Route] = []
    for vehicle, sector in zip(vehicles, sectors, strict=True):
        if cold and vehicle.features >= frozenset().union(*(o.required_features for o in cold)):
            sector, cold = sector + cold, []
        if not sector:
            continue
        driver = by_driver.get(vehicle.id)
        routes.append(_route(plan_id, depot, vehicle, driver, _nearest_neighbour(depot, sector, geo), geo, day_start))
    cost = CostBreakdown(fixed=sum(v.costs.fixed_per_day for v in vehicles[:len(routes)]),
                         distance=sum(r.distance_m for r in routes) / 1000 * vehicles[0].costs.per_km,
                         currency=vehicles[0].costs.currency)
    return Plan(id=plan_id, created_at=day_start, routes=routes, cost=cost)


def _nearest_neighbour(depot: Depot, orders: list[Order], geo: Geo) -> list[Order]:
    here = geo.index[depot.location]
    left = list(orders)
    out: list[Order] = []
    while left:
        nxt = min(left, key=lambda o: (geo.leg(here, geo.index[o.location])[0], o.id))
        left.remove(nxt)
        out.append(nxt)
        here = geo.index[nxt.location]
    return out


def _route(plan_id: str, depot: Depot, vehicle: Vehicle, driver: Driver | None, seq: list[Order], geo: Geo,
           day_start: datetime) -> Route:
    begin = to_clock(driver.shift_start, day_start) if driver else to_clock(depot.opens or day_start, day_start)
    rule = driver.break_rule if driver else None
    t = begin + depot.loading_time_s
    depart = t
    here = geo.index[depot.location]
    stops: list[Stop] = []
    seg = begin
    metres_total = driving = 0
    at = lambda s: from_clock(s, day_start)  # noqa: E731
    for o in seq:
        point = geo.index[o.location]
        metres, secs = geo.leg(here, point)
        if rule and rule.duration_s and t + secs + o.service_time_s - seg > rule.after_work_s:
            stops.append(Stop(len(stops) + 1, StopKind.BREAK, None, at(t), at(t + rule.duration_s)))
            t += rule.duration_s
            seg = t
        arrive = t + secs
        windows = window_bounds(o, day_start)
        open_ = [(e, late) for e, late in windows if late >= arrive]
        start = max(arrive, min(e for e, _ in open_)) if open_ else arrive
        stops.append(Stop(len(stops) + 1, StopKind.DELIVERY, o.id, at(start), at(start + o.service_time_s),
                          metres, secs))
        t, here = start + o.service_time_s, point
        metres_total += metres
        driving += secs
    metres, secs = geo.leg(here, geo.index[depot.location])
    end = t + secs
    c = vehicle.costs
    return Route(id=f"manual-{vehicle.id}", vehicle_id=vehicle.id, driver_id=driver.id if driver else None,
                 start_depot_id=depot.id, end_depot_id=vehicle.returns_to, start=at(depart), end=at(end),
                 stops=stops, distance_m=metres_total + metres, duration_s=end - depart, driving_s=driving + secs,
                 cost=c.fixed_per_day + c.per_km * (metres_total + metres) / 1000 + c.per_hour * (end - begin) / 3600,
                 plan_id=plan_id)


def nearest_with_room(point: int, need_l: float, drivers: list[tuple[str, int, float]], geo: Geo) -> str | None:
    """The route id of the driver nearest to ``point`` (by driving distance from where they are)
    whose van has ``need_l`` litres free; ``drivers`` is ``(route_id, current point, free litres)``.
    ``None`` when no van has room."""
    fits = [(geo.leg(p, point)[0], rid) for rid, p, free in drivers if free >= need_l]
    return min(fits)[1] if fits else None
