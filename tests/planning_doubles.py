"""Test doubles for the planning tests: a travel-time provider and small problems."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from baton.adapters.travel.base import TravelMatrices
from baton.domain.fleet import Depot, Driver, Vehicle
from baton.domain.order import Order
from baton.domain.values import Address, BreakRule, CostRates, Customer, LatLng, Size, TimeWindow


class HaversineTravel:
    """Great-circle distance x ``circuity`` (metres, rounded) at a constant ``speed_kmh``
    (seconds, rounded up); symmetric, zero diagonal; ``depart_at`` is ignored."""

    name = "haversine-test"

    def __init__(self, circuity: float = 1.35, speed_kmh: float = 30.0) -> None:
        self.circuity = circuity
        self.speed_kmh = speed_kmh
        self.calls = 0

    def matrices(self, points: Sequence[LatLng], depart_at: datetime | None = None) -> TravelMatrices:
        self.calls += 1
        lat = np.radians([p.lat for p in points])
        lng = np.radians([p.lng for p in points])
        a = (np.sin((lat[:, None] - lat[None, :]) / 2) ** 2
             + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin((lng[:, None] - lng[None, :]) / 2) ** 2)
        metres = 2 * 6_371_008.8 * np.arcsin(np.sqrt(np.clip(a, 0, 1))) * self.circuity
        distance = np.rint(metres).astype(np.int32)
        duration = np.ceil(distance / (self.speed_kmh / 3.6) - 1e-9).astype(np.int32)
        return TravelMatrices(distance, duration)


def haversine_m(a: LatLng, b: LatLng) -> float:
    """Great-circle distance between two points, metres."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lng - a.lng)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


# --- small planning problems around Rio de Janeiro / Brasília -----------------------------------

TZ = ZoneInfo("America/Sao_Paulo")
DAY = date(2026, 3, 2)
LOGGI_RJ = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "loggi" / "rj" / "cvrp-0-rj-3.json"


def at(hour: int, minute: int = 0) -> datetime:
    """An aware instant at ``hour:minute`` local time (America/Sao_Paulo) on :data:`DAY`."""
    return datetime(DAY.year, DAY.month, DAY.day, tzinfo=TZ) + timedelta(hours=hour, minutes=minute)


def order(order_id: str, where: LatLng, windows: Sequence[tuple[float, float]] = ((8, 17),), *,
          size: Size | None = None, needs: frozenset[str] = frozenset(), service_s: int = 180,
          priority: int = 1) -> Order:
    """An order at ``where`` with windows given as local ``(start_hour, end_hour)`` pairs."""
    tws = [TimeWindow(at(0, round(s * 60)), at(0, round(e * 60))) for s, e in windows]
    return Order(id=order_id, customer=Customer(f"Customer {order_id}"), address=Address(order_id, where),
                 time_windows=tws, service_time_s=service_s, size=size or Size(1, 2.0, 10.0),
                 required_features=needs, priority=priority)


def vehicle(vehicle_id: str, depot_id: str = "d1", *, parcels: int = 60, weight_kg: float = 500.0,
            volume_l: float = 2000.0, feats: frozenset[str] = frozenset(), speed: float = 1.0,
            end_depot_id: str | None = None, costs: CostRates | None = None) -> Vehicle:
    return Vehicle(vehicle_id, Size(parcels, weight_kg, volume_l), depot_id, end_depot_id=end_depot_id,
                   features=feats, speed_factor=speed,
                   costs=costs or CostRates(per_km=1.2, per_hour=25.0, fixed_per_day=150.0))


def driver(driver_id: str, start: float = 8, end: float = 17, *, vehicle_id: str | None = None,
           max_work_s: int = 9 * 3600, skills: frozenset[str] = frozenset(),
           rule: BreakRule | None = None) -> Driver:
    return Driver(driver_id, f"Driver {driver_id}", at(0, round(start * 60)), at(0, round(end * 60)),
                  max_working_time_s=max_work_s, skills=skills, vehicle_id=vehicle_id,
                  break_rule=rule or BreakRule())


def depot(depot_id: str, where: LatLng, loading_s: int = 0) -> Depot:
    return Depot(depot_id, f"Depot {depot_id}", where, timezone="America/Sao_Paulo", loading_time_s=loading_s)


def loggi_orders(n: int, seed: int = 3) -> tuple[LatLng, list[Order]]:
    """The Loggi Rio depot and its first ``n`` deliveries (ids ``o000``…, the file repeats some
    ids), each with a seeded 2-4 h window between 08:00 and 17:00 and ``size`` parcels."""
    data = json.loads(LOGGI_RJ.read_text())
    rng = random.Random(seed)
    orders = []
    for i, d in enumerate(data["deliveries"][:n]):
        start = rng.choice([8, 9, 10, 11, 12, 13])
        end = min(17, start + rng.choice([2, 3, 4]))
        orders.append(order(f"o{i:03d}", LatLng(d["point"]["lat"], d["point"]["lng"]), [(start, end)],
                            size=Size(d["size"], 1.5 * d["size"], 8.0 * d["size"])))
    origin = data["origin"]
    return LatLng(origin["lat"], origin["lng"]), orders
