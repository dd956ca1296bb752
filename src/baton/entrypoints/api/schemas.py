"""Request and response bodies of the API (pydantic), and their mapping to and from the domain.

Units as in the domain: coordinates WGS84 degrees (``lat``, ``lng``), durations seconds,
distances metres, weight kg, volume L, money in the named ``currency``; instants are ISO 8601
with an offset (naive instants are refused with 422).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from baton.domain.fleet import Depot, Driver, FleetType, Vehicle
from baton.domain.order import Order, SlaTier
from baton.domain.plan import Plan, Route, Stop
from baton.domain.values import Address, BreakRule, CostRates, Customer, LatLng, Size, TimeWindow


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CustomerIn(_In):
    name: str = Field(min_length=1, max_length=256)
    phone: str | None = Field(None, max_length=64)
    email: str | None = Field(None, max_length=256)
    language: str = Field("en", max_length=16)


class AddressIn(_In):
    line: str = Field(min_length=1)
    lat: float = Field(ge=-90, le=90, description="WGS84 latitude, degrees")
    lng: float = Field(ge=-180, le=180, description="WGS84 longitude, degrees")
    city: str | None = None
    postal_code: str | None = None
    country: str | None = None


class WindowIn(_In):
    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> WindowIn:
        if self.end < self.start:
            raise ValueError("end must not be before start")
        return self


class SizeIn(_In):
    parcels: int = Field(1, ge=0)
    weight_kg: float = Field(0.0, ge=0)
    volume_l: float = Field(0.0, ge=0)


class OrderIn(_In):
    """A new order. ``id`` must be unique in the organisation."""

    id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
    external_ref: str | None = Field(None, max_length=128)
    customer: CustomerIn
    address: AddressIn
    time_windows: list[WindowIn] = Field(default_factory=list)
    service_time_s: int = Field(300, ge=0, le=86_400)
    size: SizeIn = Field(default_factory=lambda: SizeIn.model_validate({}))
    required_features: list[str] = Field(default_factory=list)
    priority: int = Field(1, ge=1, le=5)
    sla_tier: SlaTier = SlaTier.STANDARD
    declared_value: float = Field(0.0, ge=0)
    currency: str = Field("BRL", min_length=3, max_length=3)
    notes: str = ""
    tags: list[str] = Field(default_factory=list)

    def to_domain(self) -> Order:
        return Order(id=self.id, customer=customer(self.customer), address=address(self.address),
                     time_windows=windows(self.time_windows), service_time_s=self.service_time_s,
                     size=Size(**self.size.model_dump()), required_features=labels(self.required_features),
                     priority=self.priority, sla_tier=self.sla_tier, declared_value=self.declared_value,
                     currency=self.currency.upper(), notes=self.notes, tags=labels(self.tags),
                     external_ref=self.external_ref)


class OrderPatch(_In):
    """Fields to change on an order (all optional; absent = unchanged)."""

    external_ref: str | None = Field(None, max_length=128)
    customer: CustomerIn | None = None
    address: AddressIn | None = None
    time_windows: list[WindowIn] | None = None
    service_time_s: int | None = Field(None, ge=0, le=86_400)
    size: SizeIn | None = None
    required_features: list[str] | None = None
    priority: int | None = Field(None, ge=1, le=5)
    sla_tier: SlaTier | None = None
    declared_value: float | None = Field(None, ge=0)
    notes: str | None = None
    tags: list[str] | None = None

    def changes(self) -> dict[str, object]:
        """The domain values of the fields that were sent."""
        out: dict[str, object] = {}
        for name in self.model_fields_set:
            value = getattr(self, name)
            if name == "customer" and value is not None:
                value = customer(value)
            elif name == "address" and value is not None:
                value = address(value)
            elif name == "time_windows" and value is not None:
                value = windows(value)
            elif name == "size" and value is not None:
                value = Size(**value.model_dump())
            elif name in ("required_features", "tags") and value is not None:
                value = labels(value)
            if value is None and name != "external_ref":
                continue
            out[name] = value
        return out


def customer(c: CustomerIn) -> Customer:
    return Customer(c.name, c.phone, c.email, c.language)


def address(a: AddressIn) -> Address:
    return Address(a.line, LatLng(a.lat, a.lng), a.city, a.postal_code, a.country)


def windows(ws: list[WindowIn]) -> list[TimeWindow]:
    return [TimeWindow(w.start, w.end) for w in ws]


def labels(values: list[str]) -> frozenset[str]:
    return frozenset(v.strip().lower() for v in values if v.strip())


class CancelIn(_In):
    reason: str | None = Field(None, max_length=500)


class DepotIn(_In):
    id: str = Field(min_length=1, max_length=128)
    name: str = Field(min_length=1, max_length=256)
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)
    timezone: str = "UTC"
    opens: AwareDatetime | None = None
    closes: AwareDatetime | None = None
    loading_time_s: int = Field(0, ge=0)

    def to_domain(self) -> Depot:
        return Depot(self.id, self.name, LatLng(self.lat, self.lng), self.timezone, self.opens, self.closes,
                     self.loading_time_s)


class CostsIn(_In):
    per_km: float = Field(0.0, ge=0)
    per_hour: float = Field(0.0, ge=0)
    fixed_per_day: float = Field(0.0, ge=0)
    currency: str = Field("BRL", min_length=3, max_length=3)


class VehicleIn(_In):
    id: str = Field(min_length=1, max_length=128)
    name: str = ""
    capacity: SizeIn
    start_depot_id: str = Field(min_length=1)
    end_depot_id: str | None = None
    features: list[str] = Field(default_factory=list)
    costs: CostsIn = Field(default_factory=lambda: CostsIn.model_validate({}))
    fleet_type: FleetType = FleetType.CAPTIVE
    carrier_id: str | None = None
    speed_factor: float = Field(1.0, gt=0)

    def to_domain(self) -> Vehicle:
        return Vehicle(id=self.id, capacity=Size(**self.capacity.model_dump()), start_depot_id=self.start_depot_id,
                       end_depot_id=self.end_depot_id, features=labels(self.features),
                       costs=CostRates(**self.costs.model_dump()), fleet_type=self.fleet_type,
                       carrier_id=self.carrier_id, name=self.name, speed_factor=self.speed_factor)


class DriverIn(_In):
    id: str = Field(min_length=1, max_length=128)
    name: str = Field(min_length=1)
    shift_start: AwareDatetime
    shift_end: AwareDatetime
    max_working_time_s: int = Field(9 * 3600, gt=0)
    break_after_work_s: int = Field(4 * 3600 + 1800, gt=0)
    break_duration_s: int = Field(1800, ge=0)
    skills: list[str] = Field(default_factory=list)
    vehicle_id: str | None = None
    phone: str | None = None

    @model_validator(mode="after")
    def _shift(self) -> DriverIn:
        if self.shift_end <= self.shift_start:
            raise ValueError("shift_end must be after shift_start")
        return self

    def to_domain(self) -> Driver:
        return Driver(id=self.id, name=self.name, shift_start=self.shift_start, shift_end=self.shift_end,
                      max_working_time_s=self.max_working_time_s,
                      break_rule=BreakRule(self.break_after_work_s, self.break_duration_s),
                      skills=labels(self.skills), vehicle_id=self.vehicle_id, phone=self.phone)


class PlanIn(_In):
    """Plan the open orders (``created``/``reattempt``), or only ``order_ids``."""

    time_limit_s: float = Field(10.0, gt=0, le=300, description="solver budget, seconds")
    seed: int = 1
    order_ids: list[str] | None = None
    day_start: AwareDatetime | None = None
    hard_time_windows: bool = True
    publish: bool = Field(True, description="false: store a draft (not current, orders untouched) to publish "
                                            "later with POST /plans/{id}/publish")


class FailIn(_In):
    reason: str = Field(min_length=1, max_length=200, description="e.g. not_home, refused, address_not_found")


class DeliverIn(_In):
    recipient: str | None = Field(None, max_length=256)


class ArriveIn(_In):
    leg_distance_m: int = Field(0, ge=0)
    leg_driving_s: int = Field(0, ge=0)


class UserIn(_In):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=8, max_length=1024)
    role: str
    name: str = ""
    driver_id: str | None = None
    carrier_id: str | None = None


class ApiKeyIn(_In):
    name: str = Field(min_length=1, max_length=256)
    scopes: list[str] = Field(min_length=1)
    driver_id: str | None = None
    carrier_id: str | None = None
    expires_at: AwareDatetime | None = None


# --- output -----------------------------------------------------------------------------------


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def order_out(o: Order) -> dict[str, Any]:
    """An order as JSON (``version`` is also sent as the ``ETag``)."""
    return {
        "id": o.id, "external_ref": o.external_ref, "status": o.status.value, "version": o.version,
        "attempts": o.attempts, "route_id": o.route_id,
        "customer": {"name": o.customer.name, "phone": o.customer.phone, "email": o.customer.email,
                     "language": o.customer.language},
        "address": {"line": o.address.line, "lat": o.location.lat, "lng": o.location.lng, "city": o.address.city,
                    "postal_code": o.address.postal_code, "country": o.address.country},
        "time_windows": [{"start": w.start.isoformat(), "end": w.end.isoformat()} for w in o.time_windows],
        "service_time_s": o.service_time_s,
        "size": {"parcels": o.size.parcels, "weight_kg": o.size.weight_kg, "volume_l": o.size.volume_l},
        "required_features": sorted(o.required_features), "priority": o.priority, "sla_tier": o.sla_tier.value,
        "declared_value": o.declared_value, "currency": o.currency, "notes": o.notes, "tags": sorted(o.tags),
    }


def depot_out(d: Depot) -> dict[str, Any]:
    return {"id": d.id, "name": d.name, "lat": d.location.lat, "lng": d.location.lng, "timezone": d.timezone,
            "opens": iso(d.opens), "closes": iso(d.closes), "loading_time_s": d.loading_time_s}


def vehicle_out(v: Vehicle) -> dict[str, Any]:
    return {"id": v.id, "name": v.name, "fleet_type": v.fleet_type.value, "carrier_id": v.carrier_id,
            "capacity": {"parcels": v.capacity.parcels, "weight_kg": v.capacity.weight_kg,
                         "volume_l": v.capacity.volume_l},
            "start_depot_id": v.start_depot_id, "end_depot_id": v.end_depot_id, "features": sorted(v.features),
            "costs": {"per_km": v.costs.per_km, "per_hour": v.costs.per_hour,
                      "fixed_per_day": v.costs.fixed_per_day, "currency": v.costs.currency},
            "speed_factor": v.speed_factor}


def driver_out(d: Driver) -> dict[str, Any]:
    return {"id": d.id, "name": d.name, "shift_start": d.shift_start.isoformat(),
            "shift_end": d.shift_end.isoformat(), "max_working_time_s": d.max_working_time_s,
            "break_after_work_s": d.break_rule.after_work_s, "break_duration_s": d.break_rule.duration_s,
            "skills": sorted(d.skills), "vehicle_id": d.vehicle_id, "phone": d.phone}


def stop_out(s: Stop) -> dict[str, Any]:
    return {"sequence": s.sequence, "kind": s.kind.value, "order_id": s.order_id,
            "planned_arrival": s.planned_arrival.isoformat(), "planned_departure": s.planned_departure.isoformat(),
            "leg_distance_m": s.leg_distance_m, "leg_duration_s": s.leg_duration_s,
            "actual_arrival": iso(s.actual_arrival), "actual_departure": iso(s.actual_departure)}


def route_out(r: Route) -> dict[str, Any]:
    return {"id": r.id, "plan_id": r.plan_id, "vehicle_id": r.vehicle_id, "driver_id": r.driver_id,
            "status": r.status.value, "start_depot_id": r.start_depot_id, "end_depot_id": r.end_depot_id,
            "start": r.start.isoformat(), "end": r.end.isoformat(), "distance_m": r.distance_m,
            "duration_s": r.duration_s, "driving_s": r.driving_s, "cost": r.cost,
            "actual_start": iso(r.actual_start), "actual_end": iso(r.actual_end),
            "actual_distance_m": r.actual_distance_m, "actual_driving_s": r.actual_driving_s,
            "stops": [stop_out(s) for s in r.stops]}


def plan_out(p: Plan) -> dict[str, Any]:
    return {"id": p.id, "created_at": p.created_at.isoformat(), "feasible": p.feasible,
            "solve_seconds": p.solve_seconds,
            "cost": {"fixed": p.cost.fixed, "distance": p.cost.distance, "time": p.cost.time,
                     "penalties": p.cost.penalties, "total": p.cost.total, "currency": p.cost.currency},
            "distance_km": p.distance_km, "vehicles_used": p.vehicles_used,
            "routes": [route_out(r) for r in p.routes],
            "unassigned": [{"order_id": u.order_id, "reason": u.reason} for u in p.unassigned]}
