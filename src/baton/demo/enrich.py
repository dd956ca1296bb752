"""Turn a real Loggi day (locations and parcel sizes only) into a full Baton day.

The source has deliveries' WGS84 positions, parcel sizes (1–10 abstract units, a van holds
180) and the depot. Everything else is **synthetic, seeded and reproducible** (same seed,
same day) and documented here:

* **Customers**: names drawn from common Brazilian first names and surnames; phone numbers
  in the reserved-looking range ``+55 61 90000-xxxx``; language ``pt-BR``; no e-mail.
* **Size**: ``volume_l = 10 × size`` (so a van's 180 units = 1,800 L, the binding dimension),
  ``weight_kg = 2 × size``, ``parcels = ceil(size / 3)``.
* **Time windows** (local time, America/Sao_Paulo): 35 % business hours 08:00–18:00;
  45 % a 3-hour slot (08–11, 11–14, 14–17); 15 % a 2-hour slot (09–11, 13–15, 15–17);
  5 % two windows (08–10 or 16–18, the customer chooses neither: the planner picks).
* **Service time**: ``180 s + 20 s × size`` (parking, walk, hand-over).
* **Priority**: 10 % ``express`` orders with priority 3, else ``standard`` priority 1.
* **Cold chain**: 2 % of orders need ``refrigerated``; 10 % of the vans (at least one) have it.
* **Fleet**: ``ceil(1.2 × total size / 180)`` identical vans at the depot (capacity 1,800 L,
  600 kg, 200 parcels), costs BRL 1.10/km (fuel and wear of a small diesel van),
  BRL 35/h (driver's loaded hourly cost), BRL 180/day (van lease); one driver per van,
  shift 08:00–17:00, at most 9 h of work, a 30-minute break after at most 4 h 30.
  These rates are illustrative assumptions, not Loggi figures.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from baton.domain.fleet import Depot, Driver, FleetType, Vehicle
from baton.domain.order import Order, SlaTier
from baton.domain.values import Address, BreakRule, CostRates, Customer, Size, TimeWindow
from baton.intake.loggi import LoggiDay

TIMEZONE = "America/Sao_Paulo"
DEFAULT_DATE = date(2026, 3, 2)  # a Monday; fixed so that a seed reproduces the same day

FIRST_NAMES = (
    "Ana", "Maria", "Francisca", "Antônia", "Adriana", "Juliana", "Márcia", "Fernanda", "Patrícia",
    "Aline", "José", "João", "Antônio", "Francisco", "Carlos", "Paulo", "Pedro", "Lucas", "Luiz",
    "Marcos", "Gabriel", "Rafael", "Daniel", "Marcelo", "Bruno", "Eduardo", "Felipe", "Camila",
    "Larissa", "Beatriz", "Letícia", "Vitória", "Thiago", "Rodrigo", "Gustavo", "Mateus",
)
SURNAMES = (
    "Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira", "Lima",
    "Gomes", "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida", "Lopes", "Soares", "Fernandes",
    "Vieira", "Barbosa", "Rocha", "Dias", "Nascimento", "Andrade", "Moreira", "Nunes", "Marques",
)

VAN_CAPACITY = Size(parcels=200, weight_kg=600.0, volume_l=1800.0)
VAN_COSTS = CostRates(per_km=1.10, per_hour=35.0, fixed_per_day=180.0, currency="BRL")
FLEET_SLACK = 1.2


@dataclass
class DemoDay:
    """A complete day ready to plan: one depot, orders, vans and their drivers."""

    name: str
    day: date
    timezone: str
    depot: Depot
    orders: list[Order]
    vehicles: list[Vehicle]
    drivers: list[Driver]

    @property
    def day_start(self) -> datetime:
        """Local midnight of the day (aware), the planner's zero."""
        return datetime.combine(self.day, time(0), ZoneInfo(self.timezone))


def _at(day: date, hour: float, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tz) + timedelta(hours=hour)


def _windows(rng: random.Random, day: date, tz: ZoneInfo) -> list[TimeWindow]:
    r = rng.random()
    if r < 0.35:
        slots = [(8, 18)]
    elif r < 0.80:
        slots = [rng.choice([(8, 11), (11, 14), (14, 17)])]
    elif r < 0.95:
        slots = [rng.choice([(9, 11), (13, 15), (15, 17)])]
    else:
        slots = [(8, 10), (16, 18)]
    return [TimeWindow(_at(day, a, tz), _at(day, b, tz)) for a, b in slots]


def enrich(source: LoggiDay, *, seed: int = 7, day: date = DEFAULT_DATE, limit: int | None = None) -> DemoDay:
    """Build a :class:`DemoDay` from a Loggi day, adding the synthetic parts described above.

    ``limit`` keeps only the first N deliveries (for tests and quick runs).
    """
    rng = random.Random(seed)
    tz = ZoneInfo(TIMEZONE)
    depot = Depot(
        id="DEP-" + source.region.upper(),
        name=f"Loggi {source.region} depot",
        location=source.depot,
        timezone=TIMEZONE,
        opens=_at(day, 7, tz),
        closes=_at(day, 20, tz),
    )
    created_at = _at(day, 6, tz)
    deliveries = source.deliveries[:limit] if limit else source.deliveries
    orders: list[Order] = []
    for i, d in enumerate(deliveries, start=1):
        express = rng.random() < 0.10
        cold = rng.random() < 0.02
        orders.append(
            Order.create(
                at=created_at,
                id=f"{source.name}-{i:04d}",
                external_ref=d.id,
                customer=Customer(
                    name=f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}",
                    phone=f"+556190000{rng.randrange(10000):04d}",
                    language="pt-BR",
                ),
                address=Address(line=f"{d.location.lat:.5f}, {d.location.lng:.5f}", location=d.location,
                                city="Brasília", country="BR"),
                time_windows=_windows(rng, day, tz),
                service_time_s=180 + 20 * d.size,
                size=Size(parcels=math.ceil(d.size / 3), weight_kg=2.0 * d.size, volume_l=10.0 * d.size),
                required_features=frozenset({"refrigerated"}) if cold else frozenset(),
                priority=3 if express else 1,
                sla_tier=SlaTier.EXPRESS if express else SlaTier.STANDARD,
                declared_value=round(rng.uniform(20, 400), 2),
                tags=frozenset({"cold_chain"}) if cold else frozenset(),
            )
        )
    total_volume = sum(o.size.volume_l for o in orders)
    n_vans = max(1, math.ceil(FLEET_SLACK * total_volume / VAN_CAPACITY.volume_l))
    n_cold = max(1, round(0.10 * n_vans))
    vehicles: list[Vehicle] = []
    drivers: list[Driver] = []
    for k in range(1, n_vans + 1):
        vid = f"VAN-{k:02d}"
        vehicles.append(
            Vehicle(
                id=vid,
                name=f"Van {k:02d}",
                capacity=VAN_CAPACITY,
                start_depot_id=depot.id,
                features=frozenset({"refrigerated"}) if k <= n_cold else frozenset(),
                costs=VAN_COSTS,
                fleet_type=FleetType.CAPTIVE,
            )
        )
        drivers.append(
            Driver(
                id=f"DRV-{k:02d}",
                name=f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}",
                shift_start=_at(day, 8, tz),
                shift_end=_at(day, 17, tz),
                max_working_time_s=9 * 3600,
                break_rule=BreakRule(after_work_s=4 * 3600 + 1800, duration_s=1800),
                vehicle_id=vid,
                phone=f"+556190001{k:04d}",
            )
        )
    return DemoDay(source.name, day, TIMEZONE, depot, orders, vehicles, drivers)
