"""The import schema: one pydantic model per row kind (orders, vehicles, drivers, depots).

Each model validates one CSV row or JSON object and converts it to the domain object with
``to_domain()``. Parse a raw record (a mapping of column/key -> value) with ``parse()``: it
drops empty cells, accepts the CSV spellings (``tw1_start`` columns, ``;``-separated lists) and
raises :class:`~baton.intake.fields.RowInvalid` listing every bad field with a one-line message, e.g.
``('lat', 'must be within [-90, 90] degrees, got 91.0')``.

Units: coordinates WGS84 degrees ``(lat, lng)``; durations seconds unless the name says
``_h`` (hours) or ``_minutes``; weights kg; volumes L; money in ``currency`` (ISO 4217);
instants ISO-8601 **with** a UTC offset (``2025-03-10T09:00:00-03:00``). The full schema is in
``docs/import-format.md``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator

from baton.domain.fleet import Depot, Driver, FleetType, Vehicle
from baton.domain.order import Order, SlaTier
from baton.domain.values import Address, BreakRule, CostRates, Customer, LatLng, Size, TimeWindow, features
from baton.intake.fields import (
    AwareDatetime,
    Currency,
    Email,
    FieldProblem,
    Labels,
    Language,
    Lat,
    Lng,
    NonNegFloat,
    NonNegInt,
    Phone,
    PositiveFloat,
    RowModel,
    Text,
    Timezone,
    bounded,
    lowered,
)

# --- orders -------------------------------------------------------------------------------


class WindowRow(BaseModel):
    """One time window: ``start`` and ``end`` aware instants, ``end >= start``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: AwareDatetime
    end: AwareDatetime

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, end: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start")
        if start is not None and end < start:
            raise ValueError(f"window ends ({end.isoformat()}) before it starts ({start.isoformat()})")
        return end


_CSV_WINDOW_KEYS = (("tw_start", "tw_end"), ("tw1_start", "tw1_end"), ("tw2_start", "tw2_end"))


class OrderRow(RowModel[Order]):
    """One order. Required: ``id``, ``customer_name``, ``address``, ``lat``, ``lng``.

    Time windows: JSON ``time_windows: [{"start", "end"}, ...]``; CSV columns ``tw_start/tw_end``
    or ``tw1_start/tw1_end`` and ``tw2_start/tw2_end`` (never both spellings in one row).
    No window = deliverable any time. Lists (``required_features``, ``tags``) are JSON lists or
    ``;``-separated strings.
    """

    kind: ClassVar[str] = "order"
    csv_only_keys: ClassVar[frozenset[str]] = frozenset(k for pair in _CSV_WINDOW_KEYS for k in pair)

    external_ref: str | None = None
    customer_name: Text
    phone: Phone | None = None
    email: Email | None = None
    language: Language = "en"
    address: Text
    city: str | None = None
    postal_code: str | None = None
    country: str | None = None
    lat: Lat
    lng: Lng
    time_windows: list[WindowRow] = Field(default_factory=list)
    service_time_s: NonNegInt = 300
    parcels: NonNegInt = 1
    weight_kg: NonNegFloat = 0.0
    volume_l: NonNegFloat = 0.0
    required_features: Labels = Field(default_factory=list)
    priority: Annotated[int, AfterValidator(bounded(1, 5, "(1 low .. 5 critical)"))] = 1
    sla_tier: Annotated[SlaTier, BeforeValidator(lowered)] = SlaTier.STANDARD
    declared_value: NonNegFloat = 0.0
    currency: Currency = "BRL"
    notes: str = ""
    tags: Labels = Field(default_factory=list)

    @classmethod
    def _fold(cls, data: dict[str, Any]) -> tuple[dict[str, str], list[FieldProblem]]:
        used = [pair for pair in _CSV_WINDOW_KEYS if pair[0] in data or pair[1] in data]
        if used and ("time_windows" in data or (("tw_start", "tw_end") in used and len(used) > 1)):
            return {}, [FieldProblem("time_windows", "give one of time_windows, tw_start/tw_end or "
                                                      "tw1_*/tw2_* columns, not several")]
        aliases: dict[str, str] = {}
        if used:
            data["time_windows"] = [{k: data.pop(src) for k, src in (("start", start), ("end", end))
                                     if src in data} for start, end in used]
        for i, (start, end) in enumerate(used):
            aliases |= {f"time_windows[{i}].start": start, f"time_windows[{i}].end": end,
                        f"time_windows[{i}]": f"{start}/{end}"}
        return aliases, []

    def to_domain(self) -> Order:
        return Order(
            id=self.id,
            external_ref=self.external_ref,
            customer=Customer(self.customer_name, self.phone, self.email, self.language),
            address=Address(self.address, LatLng(self.lat, self.lng), self.city, self.postal_code,
                            self.country),
            time_windows=[TimeWindow(w.start, w.end) for w in self.time_windows],
            service_time_s=self.service_time_s,
            size=Size(self.parcels, self.weight_kg, self.volume_l),
            required_features=features(*self.required_features),
            priority=self.priority,
            sla_tier=self.sla_tier,
            declared_value=self.declared_value,
            currency=self.currency,
            notes=self.notes,
            tags=features(*self.tags),
        )


# --- fleet --------------------------------------------------------------------------------


class VehicleRow(RowModel[Vehicle]):
    """One vehicle. Required: ``id``, ``start_depot_id`` and the three capacities.

    Capacities are per dimension (parcels count, kg, L); costs are in ``currency``;
    ``end_depot_id`` empty = returns to the start depot.
    """

    kind: ClassVar[str] = "vehicle"

    name: str = ""
    start_depot_id: Text
    end_depot_id: str | None = None
    capacity_parcels: NonNegInt
    capacity_weight_kg: NonNegFloat
    capacity_volume_l: NonNegFloat
    features: Labels = Field(default_factory=list)
    cost_per_km: NonNegFloat = 0.0
    cost_per_hour: NonNegFloat = 0.0
    fixed_cost_per_day: NonNegFloat = 0.0
    currency: Currency = "BRL"
    fleet_type: Annotated[FleetType, BeforeValidator(lowered)] = FleetType.CAPTIVE
    carrier_id: str | None = None
    speed_factor: PositiveFloat = 1.0

    def to_domain(self) -> Vehicle:
        return Vehicle(
            id=self.id,
            name=self.name,
            capacity=Size(self.capacity_parcels, self.capacity_weight_kg, self.capacity_volume_l),
            start_depot_id=self.start_depot_id,
            end_depot_id=self.end_depot_id,
            features=features(*self.features),
            costs=CostRates(self.cost_per_km, self.cost_per_hour, self.fixed_cost_per_day, self.currency),
            fleet_type=self.fleet_type,
            carrier_id=self.carrier_id,
            speed_factor=self.speed_factor,
        )


class DriverRow(RowModel[Driver]):
    """One driver. Required: ``id``, ``name``, ``shift_start``, ``shift_end`` (aware, end after start).

    ``max_working_time_h`` hours (default 9), a break of ``break_minutes`` (default 30, 0 = none)
    after at most ``break_after_h`` hours of work (default 4.5).
    """

    kind: ClassVar[str] = "driver"

    name: Text
    phone: Phone | None = None
    shift_start: AwareDatetime
    shift_end: AwareDatetime
    max_working_time_h: Annotated[float, AfterValidator(bounded(0.25, 24, "hours"))] = 9.0
    break_after_h: Annotated[float, AfterValidator(bounded(0.25, 24, "hours"))] = 4.5
    break_minutes: Annotated[float, AfterValidator(bounded(0, 240, "minutes"))] = 30.0
    skills: Labels = Field(default_factory=list)
    vehicle_id: str | None = None

    @field_validator("shift_end")
    @classmethod
    def _end_after_start(cls, end: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("shift_start")
        if start is not None and end <= start:
            raise ValueError(f"shift ends ({end.isoformat()}) before or when it starts ({start.isoformat()})")
        return end

    def to_domain(self) -> Driver:
        return Driver(
            id=self.id,
            name=self.name,
            phone=self.phone,
            shift_start=self.shift_start,
            shift_end=self.shift_end,
            max_working_time_s=round(self.max_working_time_h * 3600),
            break_rule=BreakRule(round(self.break_after_h * 3600), round(self.break_minutes * 60)),
            skills=features(*self.skills),
            vehicle_id=self.vehicle_id,
        )


class DepotRow(RowModel[Depot]):
    """One depot. Required: ``id``, ``lat``, ``lng``; ``timezone`` IANA (default ``UTC``).

    ``address`` is informational (the domain :class:`Depot` keeps only the position);
    ``opens``/``closes`` optional aware instants; ``loading_time_s`` seconds per route start.
    """

    kind: ClassVar[str] = "depot"

    name: str = ""
    lat: Lat
    lng: Lng
    timezone: Timezone = "UTC"
    address: str = ""
    opens: AwareDatetime | None = None
    closes: AwareDatetime | None = None
    loading_time_s: NonNegInt = 0

    def to_domain(self) -> Depot:
        return Depot(
            id=self.id,
            name=self.name or self.id,
            location=LatLng(self.lat, self.lng),
            timezone=self.timezone,
            opens=self.opens,
            closes=self.closes,
            loading_time_s=self.loading_time_s,
        )


__all__ = ["DepotRow", "DriverRow", "OrderRow", "VehicleRow", "WindowRow"]
