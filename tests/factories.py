"""Factories of valid domain objects around Brasília (tz ``America/Sao_Paulo``) for tests.

Every factory takes keyword overrides for any field. Positions are WGS84 ``(lat, lng)``
degrees, spread deterministically (from the id) within about 9 km of the city centre;
instants are aware, on :data:`DAY`, local time.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from baton.domain import (
    Address,
    CostBreakdown,
    CostRates,
    Customer,
    Depot,
    Driver,
    LatLng,
    Order,
    Plan,
    Route,
    Size,
    Stop,
    StopKind,
    TimeWindow,
    UnassignedOrder,
    Vehicle,
    features,
)

TZ = ZoneInfo("America/Sao_Paulo")
DAY = date(2026, 3, 2)
#: Esplanada dos Ministérios, Brasília.
CENTRE = LatLng(-15.7939, -47.8828)
DEPOT_LOCATION = LatLng(-15.6570, -47.8030)


def local(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    """An aware instant at ``hour:minute`` Brasília time on ``day``."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def near_centre(key: str, radius_deg: float = 0.08) -> LatLng:
    """A position within ``radius_deg`` degrees of :data:`CENTRE`, fixed for a given ``key``."""
    h = zlib.crc32(key.encode())
    dlat = ((h & 0xFFFF) / 0xFFFF * 2 - 1) * radius_deg
    dlng = (((h >> 16) & 0xFFFF) / 0xFFFF * 2 - 1) * radius_deg
    return LatLng(round(CENTRE.lat + dlat, 6), round(CENTRE.lng + dlng, 6))


def make_order(order_id: str = "o-1", *, created_at: datetime | None = None, **overrides: Any) -> Order:
    """A valid order: one window 08:00-12:00, 1 parcel of 2.5 kg / 12 L, 240 s of service.

    With ``created_at`` (aware) it is built with :meth:`Order.create` and carries a pending
    ``OrderCreated`` event; otherwise it has no pending events.
    """
    fields: dict[str, Any] = {
        "id": order_id,
        "customer": Customer(f"Cliente {order_id}", phone="+5561999990000", language="pt"),
        "address": Address(f"SQN 10{len(order_id) % 10} Bloco A, {order_id}", near_centre(order_id),
                           city="Brasília", postal_code="70000-000", country="BR"),
        "time_windows": [TimeWindow(local(8), local(12))],
        "service_time_s": 240,
        "size": Size(1, 2.5, 12.0),
    }
    fields.update(overrides)
    if created_at is not None:
        return Order.create(at=created_at, **fields)
    return Order(**fields)


def make_orders(n: int, prefix: str = "o-", **overrides: Any) -> list[Order]:
    """``n`` orders ``<prefix>0000`` ... with two windows each (08-12 and 14-18)."""
    overrides.setdefault("time_windows", [TimeWindow(local(8), local(12)), TimeWindow(local(14), local(18))])
    return [make_order(f"{prefix}{i:04d}", **overrides) for i in range(n)]


def make_depot(depot_id: str = "dep-1", **overrides: Any) -> Depot:
    """A depot north of the centre, open 06:00-20:00, 15 min loading."""
    fields: dict[str, Any] = {
        "id": depot_id, "name": f"CD {depot_id}", "location": DEPOT_LOCATION, "timezone": "America/Sao_Paulo",
        "opens": local(6), "closes": local(20), "loading_time_s": 900,
    }
    fields.update(overrides)
    return Depot(**fields)


def make_vehicle(vehicle_id: str = "v-1", depot_id: str = "dep-1", **overrides: Any) -> Vehicle:
    """A van: 60 parcels, 700 kg, 3,000 L; BRL 1.2/km, 35/h, 180/day."""
    fields: dict[str, Any] = {
        "id": vehicle_id, "capacity": Size(60, 700.0, 3000.0), "start_depot_id": depot_id,
        "costs": CostRates(per_km=1.2, per_hour=35.0, fixed_per_day=180.0, currency="BRL"),
        "name": f"Van {vehicle_id}",
    }
    fields.update(overrides)
    return Vehicle(**fields)


def make_driver(driver_id: str = "d-1", **overrides: Any) -> Driver:
    """A driver on a 08:00-17:00 shift."""
    fields: dict[str, Any] = {
        "id": driver_id, "name": f"Motorista {driver_id}", "shift_start": local(8), "shift_end": local(17),
        "skills": features("Heavy_Lifting"), "phone": "+5561988880000",
    }
    fields.update(overrides)
    return Driver(**fields)


def make_route(route_id: str, order_ids: Sequence[str], *, vehicle_id: str = "v-1", depot_id: str = "dep-1",
               start: datetime | None = None, driver_id: str | None = "d-1") -> Route:
    """A route leaving at ``start`` (default 08:00) visiting ``order_ids`` 15 min apart (5 min service)."""
    t = start or local(8)
    stops = []
    for seq, oid in enumerate(order_ids, start=1):
        t += timedelta(minutes=10)
        stops.append(Stop(seq, StopKind.DELIVERY, oid, t, t + timedelta(minutes=5), 3200 + seq, 600))
        t += timedelta(minutes=5)
    end = t + timedelta(minutes=20)
    return Route(
        id=route_id, vehicle_id=vehicle_id, driver_id=driver_id,
        start_depot_id=depot_id, end_depot_id=depot_id,
        start=start or local(8), end=end, stops=stops, distance_m=sum(s.leg_distance_m for s in stops) + 9000,
        duration_s=int((end - (start or local(8))).total_seconds()), driving_s=600 * len(stops) + 1200,
        cost=123.45,
    )


def make_plan(plan_id: str = "p-1", routes: Sequence[Route] = (), unassigned: Sequence[UnassignedOrder] = (),
              created_at: datetime | None = None) -> Plan:
    """A plan over ``routes`` with a BRL cost breakdown."""
    return Plan(
        id=plan_id, created_at=created_at or local(6), routes=list(routes), unassigned=list(unassigned),
        cost=CostBreakdown(fixed=180.0, distance=24.5, time=70.0, penalties=500.0, currency="BRL"),
        solve_seconds=1.25, objective=123456.0, feasible=True,
    )
