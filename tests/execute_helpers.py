"""A small planned day for execution tests: one depot, two vans, a straight route of four stops.

V1's route leaves the depot at 08:00 and visits o-1..o-4, legs of 300 s (about 2 km), 180 s of
service each; V2's route serves o-5, o-6 elsewhere. :func:`trace` produces V1's GPS pings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from baton.domain import Address, Customer, Depot, Driver, LatLng, Order, Size, TimeWindow, Vehicle
from baton.domain.plan import Plan, Route, Stop, StopKind
from baton.service_layer import commands
from baton.service_layer.messagebus import MessageBus

TZ = ZoneInfo("America/Sao_Paulo")
DAY = datetime(2026, 3, 2, tzinfo=TZ)
T0 = DAY + timedelta(hours=8)
DEPOT = (-15.7000, -47.9000)
LEG_S = 300
SERVICE_S = 180
#: V1's stops: 0.018 degrees of latitude (~2 km) apart, heading south.
V1_STOPS = {f"o-{k}": (DEPOT[0] - 0.018 * k, DEPOT[1]) for k in range(1, 5)}
V2_STOPS = {"o-5": (-15.75, -47.80), "o-6": (-15.76, -47.81)}


def _order(order_id: str, lat: float, lng: float, window_end_h: int = 12) -> Order:
    return Order.create(at=DAY + timedelta(hours=6), id=order_id, customer=Customer(f"Cliente {order_id}"),
                        address=Address(f"Quadra {order_id}", LatLng(lat, lng)),
                        time_windows=[TimeWindow(T0, DAY + timedelta(hours=window_end_h))],
                        service_time_s=SERVICE_S, size=Size(1, 2.0, 10.0))


def _route(route_id: str, vehicle_id: str, stops: dict[str, tuple[float, float]]) -> Route:
    out, t = [], T0
    for seq, order_id in enumerate(stops, start=1):
        t += timedelta(seconds=LEG_S)
        out.append(Stop(seq, StopKind.DELIVERY, order_id, t, t + timedelta(seconds=SERVICE_S), 2000, LEG_S))
        t += timedelta(seconds=SERVICE_S)
    end = t + timedelta(seconds=LEG_S)
    return Route(id=route_id, vehicle_id=vehicle_id, driver_id=f"d-{vehicle_id}", start_depot_id="D1",
                 end_depot_id="D1", start=T0, end=end, stops=out, distance_m=2000 * (len(out) + 1),
                 duration_s=int((end - T0).total_seconds()), driving_s=LEG_S * (len(out) + 1))


def setup_day(bus: MessageBus, o4_closes: datetime | None = None) -> Plan:
    """Register the fleet, create the orders, store the plan (orders ``planned``) and dispatch both routes.

    ``o4_closes``: an earlier end for o-4's window (default noon, like the others)."""
    depot = Depot(id="D1", name="Depot", location=LatLng(*DEPOT), timezone="America/Sao_Paulo")
    vehicles = [Vehicle(id=v, capacity=Size(50, 500, 1000), start_depot_id="D1") for v in ("V1", "V2")]
    drivers = [Driver(id=f"d-{v}", name=f"Driver {v}", shift_start=T0, shift_end=DAY + timedelta(hours=17),
                      vehicle_id=v) for v in ("V1", "V2")]
    bus.handle(commands.RegisterFleet(at=DAY, depots=[depot], vehicles=vehicles, drivers=drivers))
    orders = [_order(o, *p) for o, p in {**V1_STOPS, **V2_STOPS}.items()]
    if o4_closes is not None:
        orders[3] = dataclasses.replace(orders[3], time_windows=[TimeWindow(T0, o4_closes)])
    bus.handle(commands.CreateOrders(at=DAY + timedelta(hours=6), orders=orders))
    plan = Plan(id="p-1", created_at=DAY + timedelta(hours=7),
                routes=[_route("R1", "V1", V1_STOPS), _route("R2", "V2", V2_STOPS)])
    store_and_dispatch(bus, plan)
    return plan


def _lerp(a: tuple[float, float], b: tuple[float, float], f: float) -> tuple[float, float]:
    return (a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f)


def trace(jam_leg: int | None = None, jam_s: int = 0, step_s: int = 10) -> Iterator[tuple[datetime, Any]]:
    """V1's pings from 08:00: each leg driven in ``LEG_S`` seconds, ``SERVICE_S`` at each stop; on leg
    ``jam_leg`` (1-based) the van stands still halfway for ``jam_s`` seconds. Yields (instant, ping)
    and ``(instant, ("depart", order_id))`` markers when the driver hands the parcel over."""
    t = T0
    here = DEPOT
    for k, (order_id, there) in enumerate(V1_STOPS.items(), start=1):
        elapsed = 0
        while elapsed < LEG_S:
            f = elapsed / LEG_S
            yield t, _ping(t, _lerp(here, there, f))
            if k == jam_leg and elapsed == LEG_S // 2 and jam_s:
                for _ in range(jam_s // step_s):
                    t += timedelta(seconds=step_s)
                    yield t, _ping(t, _lerp(here, there, f))
            t += timedelta(seconds=step_s)
            elapsed += step_s
        for _ in range(SERVICE_S // step_s):
            yield t, _ping(t, there)
            t += timedelta(seconds=step_s)
        yield t, ("depart", order_id)
        here = there
    for k in range(1, 7):  # heading back to the depot
        yield t, _ping(t, _lerp(here, DEPOT, k / 30))
        t += timedelta(seconds=step_s)


def _ping(t: datetime, p: tuple[float, float]) -> dict[str, Any]:
    return {"vehicle_id": "V1", "device_id": "phone-V1", "lat": round(p[0], 6), "lng": round(p[1], 6),
            "accuracy_m": 8.0, "speed_mps": 6.0, "ts": t.isoformat()}


def store_and_dispatch(bus: MessageBus, plan: Plan) -> None:
    """Store ``plan`` as the current plan with its orders planned on their routes, then dispatch every
    route 30 min before ``T0``."""
    uow = bus.uow
    with uow:
        for route in plan.routes:
            for order in uow.orders.get_many(route.order_ids):
                order.plan(route.id, at=plan.created_at)
        uow.plans.add(plan)
        uow.commit()
    for route in plan.routes:
        bus.handle(commands.DispatchRoute(at=T0 - timedelta(minutes=30), route_id=route.id))
