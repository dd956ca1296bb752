"""Depots, vehicles and drivers: the resources a plan uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from baton.domain.errors import ValidationError
from baton.domain.values import BreakRule, CostRates, LatLng, Size, require_aware


class FleetType(StrEnum):
    """Who operates a vehicle: the company's own (``captive``), a 3PL carrier, or a gig network."""

    CAPTIVE = "captive"
    THIRD_PARTY = "3pl"
    GIG = "gig"


@dataclass(frozen=True)
class Depot:
    """Where routes start and end and vehicles are loaded.

    ``location`` is WGS84 ``(lat, lng)``; ``timezone`` an IANA name (e.g. ``America/Sao_Paulo``)
    used to interpret local times of day; ``opens``/``closes`` are aware instants or ``None``.
    """

    id: str
    name: str
    location: LatLng
    timezone: str = "UTC"
    opens: datetime | None = None
    closes: datetime | None = None
    loading_time_s: int = 0

    def __post_init__(self) -> None:
        if not self.id:
            raise ValidationError("depot id must not be empty")
        for name in ("opens", "closes"):
            value = getattr(self, name)
            if value is not None:
                require_aware(value, f"depot.{name}")


@dataclass(frozen=True)
class Vehicle:
    """A vehicle: capacity per dimension, features, costs and the fleet it belongs to.

    ``start_depot_id``/``end_depot_id`` name depots; ``end_depot_id=None`` means "back to the start".
    ``features`` are lower-case labels (``refrigerated``, ``two_person``, ``tail_lift``…).
    ``speed_factor`` scales travel durations (1.0 = the travel-time provider's profile; a
    motorbike in traffic might be 0.8).

    Raises:
        ValidationError: on an empty id or negative capacity/costs.
    """

    id: str
    capacity: Size
    start_depot_id: str
    end_depot_id: str | None = None
    features: frozenset[str] = frozenset()
    costs: CostRates = field(default_factory=CostRates)
    fleet_type: FleetType = FleetType.CAPTIVE
    carrier_id: str | None = None
    name: str = ""
    speed_factor: float = 1.0

    def __post_init__(self) -> None:
        if not self.id:
            raise ValidationError("vehicle id must not be empty")
        if self.speed_factor <= 0:
            raise ValidationError(f"vehicle {self.id}: speed_factor must be > 0")
        object.__setattr__(self, "fleet_type", FleetType(self.fleet_type))

    @property
    def returns_to(self) -> str:
        return self.end_depot_id or self.start_depot_id


@dataclass(frozen=True)
class Driver:
    """A driver and their shift.

    ``shift_start``/``shift_end`` are aware instants; ``max_working_time_s`` caps the route's
    duration (seconds, breaks included); ``skills`` are matched against orders'
    ``required_features`` together with the vehicle's features; ``vehicle_id`` pairs the
    driver with a vehicle for the day (``None``: any).

    Raises:
        ValidationError: on naive instants, a shift that ends before it starts, or a
            non-positive maximum working time.
    """

    id: str
    name: str
    shift_start: datetime
    shift_end: datetime
    max_working_time_s: int = 9 * 3600
    break_rule: BreakRule = field(default_factory=BreakRule)
    skills: frozenset[str] = frozenset()
    vehicle_id: str | None = None
    phone: str | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise ValidationError("driver id must not be empty")
        require_aware(self.shift_start, "driver.shift_start")
        require_aware(self.shift_end, "driver.shift_end")
        if self.shift_end <= self.shift_start:
            raise ValidationError(f"driver {self.id}: shift ends before it starts")
        if self.max_working_time_s <= 0:
            raise ValidationError(f"driver {self.id}: max_working_time_s must be > 0")

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name else ""
