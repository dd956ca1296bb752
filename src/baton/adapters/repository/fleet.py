"""Depot, vehicle and driver repositories (immutable values: add, get, list)."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from baton.adapters import orm
from baton.domain.errors import NotFound
from baton.domain.fleet import Depot, Driver, FleetType, Vehicle
from baton.domain.values import BreakRule, CostRates, LatLng, Size


def depot_to_row(d: Depot, org_id: str) -> dict[str, Any]:
    return {"org_id": org_id, "id": d.id, "name": d.name, "lat": d.location.lat, "lng": d.location.lng,
            "timezone": d.timezone, "opens": d.opens, "closes": d.closes, "loading_time_s": d.loading_time_s}


def depot_from_row(r: Any) -> Depot:
    return Depot(r.id, r.name, LatLng(r.lat, r.lng), r.timezone, r.opens, r.closes, r.loading_time_s)


def vehicle_to_row(v: Vehicle, org_id: str) -> dict[str, Any]:
    return {
        "org_id": org_id, "id": v.id, "name": v.name, "capacity_parcels": v.capacity.parcels,
        "capacity_weight_kg": v.capacity.weight_kg, "capacity_volume_l": v.capacity.volume_l,
        "start_depot_id": v.start_depot_id, "end_depot_id": v.end_depot_id, "features": sorted(v.features),
        "cost_per_km": v.costs.per_km, "cost_per_hour": v.costs.per_hour,
        "cost_fixed_per_day": v.costs.fixed_per_day, "cost_currency": v.costs.currency,
        "fleet_type": v.fleet_type.value, "carrier_id": v.carrier_id, "speed_factor": v.speed_factor,
    }


def vehicle_from_row(r: Any) -> Vehicle:
    return Vehicle(
        id=r.id, capacity=Size(r.capacity_parcels, r.capacity_weight_kg, r.capacity_volume_l),
        start_depot_id=r.start_depot_id, end_depot_id=r.end_depot_id, features=frozenset(r.features),
        costs=CostRates(r.cost_per_km, r.cost_per_hour, r.cost_fixed_per_day, r.cost_currency),
        fleet_type=FleetType(r.fleet_type), carrier_id=r.carrier_id, name=r.name, speed_factor=r.speed_factor,
    )


def driver_to_row(d: Driver, org_id: str) -> dict[str, Any]:
    return {
        "org_id": org_id, "id": d.id, "name": d.name, "shift_start": d.shift_start, "shift_end": d.shift_end,
        "max_working_time_s": d.max_working_time_s, "break_after_work_s": d.break_rule.after_work_s,
        "break_duration_s": d.break_rule.duration_s, "skills": sorted(d.skills), "vehicle_id": d.vehicle_id,
        "phone": d.phone,
    }


def driver_from_row(r: Any) -> Driver:
    return Driver(
        id=r.id, name=r.name, shift_start=r.shift_start, shift_end=r.shift_end,
        max_working_time_s=r.max_working_time_s,
        break_rule=BreakRule(r.break_after_work_s, r.break_duration_s), skills=frozenset(r.skills),
        vehicle_id=r.vehicle_id, phone=r.phone,
    )


T = TypeVar("T")


class _ValueRepository(Generic[T]):
    """Insert and read immutable fleet objects of one organisation."""

    table: Table
    kind: str
    to_row: Callable[[T, str], dict[str, Any]]
    from_row: Callable[[Any], T]

    def __init__(self, session: Session, org_id: str = orm.DEFAULT_ORG) -> None:
        self.session = session
        self.org_id = org_id

    def add(self, item: T) -> None:
        """Insert ``item``.

        Raises:
            sqlalchemy.exc.IntegrityError: when its id already exists in the organisation.
        """
        self.add_many([item])

    def add_many(self, items: Iterable[T]) -> None:
        """Insert ``items`` with one ``executemany`` (same error as :meth:`add`)."""
        rows = [type(self).to_row(i, self.org_id) for i in items]
        if rows:
            self.session.execute(insert(self.table), rows)

    def get(self, item_id: str) -> T:
        """The item ``item_id``.

        Raises:
            NotFound: when the organisation has none with that id.
        """
        t = self.table
        row = self.session.execute(select(t).where(t.c.org_id == self.org_id, t.c.id == item_id)).first()
        if row is None:
            raise NotFound(f"unknown {self.kind} id: {item_id}")
        return type(self).from_row(row)

    def list(self) -> builtins.list[T]:
        """Every item of the organisation, sorted by id."""
        t = self.table
        rows = self.session.execute(select(t).where(t.c.org_id == self.org_id).order_by(t.c.id))
        return [type(self).from_row(r) for r in rows]


class DepotRepository(_ValueRepository[Depot]):
    table, kind = orm.depots, "depot"
    to_row, from_row = staticmethod(depot_to_row), staticmethod(depot_from_row)


class VehicleRepository(_ValueRepository[Vehicle]):
    table, kind = orm.vehicles, "vehicle"
    to_row, from_row = staticmethod(vehicle_to_row), staticmethod(vehicle_from_row)


class DriverRepository(_ValueRepository[Driver]):
    table, kind = orm.drivers, "driver"
    to_row, from_row = staticmethod(driver_to_row), staticmethod(driver_from_row)
