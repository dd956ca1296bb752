"""SQLAlchemy 2 table models for Baton's storage.

These classes describe *rows*, not domain objects: :mod:`baton.adapters.repository` maps
rows to the plain dataclasses of :mod:`baton.domain` and back, explicitly.

Conventions:

* every table has an ``org_id`` string column (default ``"default"``) and, where rows have
  a business id, a composite primary key ``(org_id, id)`` so ids only need to be unique
  within one organisation;
* instants are stored with :class:`UtcDateTime`: timezone-aware in, timezone-aware (UTC)
  out, on PostgreSQL (``timestamptz``) and on SQLite (text in UTC);
* coordinates are WGS84 degrees in two columns ``lat``, ``lng``; durations are seconds,
  distances metres, weights kg, volumes L, money in the row's ``currency``;
* label sets (features, skills, tags) are sorted JSON arrays of strings.

The schema itself is created by the Alembic migrations shipped in :mod:`baton.migrations`;
a test checks that these models and the migrated database agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DEFAULT_ORG = "default"

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant, returned in UTC.

    Binding a naive datetime raises :class:`ValueError` (the domain refuses naive instants,
    and guessing a zone here would silently shift times). SQLite has no timezone type: the
    value is converted to UTC and stored without offset, then read back as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"refusing to store naive datetime {value.isoformat()}: instants must be aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


#: JSON on SQLite, JSONB on PostgreSQL.
JsonType = JSON().with_variant(JSONB(), "postgresql")
#: 64-bit autoincrement key on PostgreSQL; SQLite needs ``INTEGER PRIMARY KEY`` for its rowid alias.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """The current instant, aware, in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(), dict[str, Any]: JsonType, list[Any]: JsonType,
    }


def _org() -> Mapped[str]:
    return mapped_column(String(64), primary_key=True, default=DEFAULT_ORG, server_default=DEFAULT_ORG)


class OrderRow(Base):
    """One delivery order (see :class:`baton.domain.order.Order`)."""

    __tablename__ = "orders"

    org_id: Mapped[str] = _org()
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    external_ref: Mapped[str | None] = mapped_column(String(128))
    customer_name: Mapped[str] = mapped_column(String(256))
    customer_phone: Mapped[str | None] = mapped_column(String(64))
    customer_email: Mapped[str | None] = mapped_column(String(256))
    customer_language: Mapped[str] = mapped_column(String(16), default="en")
    address_line: Mapped[str] = mapped_column(Text)
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    city: Mapped[str | None] = mapped_column(String(128))
    postal_code: Mapped[str | None] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(64))
    #: ``[[start_iso, end_iso], ...]``, ISO 8601 with offset, sorted by start.
    time_windows: Mapped[list[Any]] = mapped_column(default=list)
    service_time_s: Mapped[int] = mapped_column(Integer)
    parcels: Mapped[int] = mapped_column(Integer)
    weight_kg: Mapped[float] = mapped_column(Float)
    volume_l: Mapped[float] = mapped_column(Float)
    required_features: Mapped[list[Any]] = mapped_column(default=list)
    priority: Mapped[int] = mapped_column(Integer)
    sla_tier: Mapped[str] = mapped_column(String(32))
    declared_value: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3))
    notes: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    route_id: Mapped[str | None] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())

    __table_args__ = (
        Index("ix_orders_org_id_status", "org_id", "status"),
        Index("ix_orders_org_id_route_id", "org_id", "route_id"),
        Index("ix_orders_org_id_external_ref", "org_id", "external_ref"),
    )


class DepotRow(Base):
    """A depot (see :class:`baton.domain.fleet.Depot`)."""

    __tablename__ = "depots"

    org_id: Mapped[str] = _org()
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    timezone: Mapped[str] = mapped_column(String(64))
    opens: Mapped[datetime | None] = mapped_column()
    closes: Mapped[datetime | None] = mapped_column()
    loading_time_s: Mapped[int] = mapped_column(Integer, default=0)


class VehicleRow(Base):
    """A vehicle (see :class:`baton.domain.fleet.Vehicle`); capacity in parcels, kg and L."""

    __tablename__ = "vehicles"

    org_id: Mapped[str] = _org()
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(256), default="")
    capacity_parcels: Mapped[int] = mapped_column(Integer)
    capacity_weight_kg: Mapped[float] = mapped_column(Float)
    capacity_volume_l: Mapped[float] = mapped_column(Float)
    start_depot_id: Mapped[str] = mapped_column(String(128))
    end_depot_id: Mapped[str | None] = mapped_column(String(128))
    features: Mapped[list[Any]] = mapped_column(default=list)
    cost_per_km: Mapped[float] = mapped_column(Float)
    cost_per_hour: Mapped[float] = mapped_column(Float)
    cost_fixed_per_day: Mapped[float] = mapped_column(Float)
    cost_currency: Mapped[str] = mapped_column(String(3))
    fleet_type: Mapped[str] = mapped_column(String(16))
    carrier_id: Mapped[str | None] = mapped_column(String(128))
    speed_factor: Mapped[float] = mapped_column(Float, default=1.0)


class DriverRow(Base):
    """A driver and their shift (see :class:`baton.domain.fleet.Driver`)."""

    __tablename__ = "drivers"

    org_id: Mapped[str] = _org()
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    shift_start: Mapped[datetime] = mapped_column()
    shift_end: Mapped[datetime] = mapped_column()
    max_working_time_s: Mapped[int] = mapped_column(Integer)
    break_after_work_s: Mapped[int] = mapped_column(Integer)
    break_duration_s: Mapped[int] = mapped_column(Integer)
    skills: Mapped[list[Any]] = mapped_column(default=list)
    vehicle_id: Mapped[str | None] = mapped_column(String(128))
    phone: Mapped[str | None] = mapped_column(String(64))


class PlanRow(Base):
    """A plan's header: cost components in ``currency``, ``solve_seconds`` of wall time."""

    __tablename__ = "plans"

    org_id: Mapped[str] = _org()
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    created_at: Mapped[datetime] = mapped_column()
    cost_fixed: Mapped[float] = mapped_column(Float)
    cost_distance: Mapped[float] = mapped_column(Float)
    cost_time: Mapped[float] = mapped_column(Float)
    cost_penalties: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3))
    solve_seconds: Mapped[float] = mapped_column(Float)
    objective: Mapped[float] = mapped_column(Float)
    feasible: Mapped[bool] = mapped_column(Boolean)
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_plans_org_id_is_current_created_at", "org_id", "is_current", "created_at"),)


class RouteRow(Base):
    """One route of a plan. Route ids are unique per organisation (across plans)."""

    __tablename__ = "routes"

    org_id: Mapped[str] = _org()
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    plan_id: Mapped[str] = mapped_column(String(128))
    position: Mapped[int] = mapped_column(Integer)
    vehicle_id: Mapped[str] = mapped_column(String(128))
    driver_id: Mapped[str | None] = mapped_column(String(128))
    start_depot_id: Mapped[str] = mapped_column(String(128))
    end_depot_id: Mapped[str] = mapped_column(String(128))
    start: Mapped[datetime] = mapped_column()
    end: Mapped[datetime] = mapped_column()
    distance_m: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[int] = mapped_column(Integer)
    driving_s: Mapped[int] = mapped_column(Integer)
    cost: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(32))
    actual_start: Mapped[datetime | None] = mapped_column()
    actual_end: Mapped[datetime | None] = mapped_column()
    actual_distance_m: Mapped[int] = mapped_column(Integer, default=0)
    actual_driving_s: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        ForeignKeyConstraint(["org_id", "plan_id"], ["plans.org_id", "plans.id"], ondelete="CASCADE"),
        Index("ix_routes_org_id_plan_id", "org_id", "plan_id"),
        Index("ix_routes_org_id_vehicle_id", "org_id", "vehicle_id"),
    )


class StopRow(Base):
    """One stop; ``position`` is its index in the route (0-based), ``sequence`` the plan's number."""

    __tablename__ = "stops"

    org_id: Mapped[str] = _org()
    route_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    sequence: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[str | None] = mapped_column(String(128))
    planned_arrival: Mapped[datetime] = mapped_column()
    planned_departure: Mapped[datetime] = mapped_column()
    leg_distance_m: Mapped[int] = mapped_column(Integer)
    leg_duration_s: Mapped[int] = mapped_column(Integer)
    actual_arrival: Mapped[datetime | None] = mapped_column()
    actual_departure: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        ForeignKeyConstraint(["org_id", "route_id"], ["routes.org_id", "routes.id"], ondelete="CASCADE"),
        Index("ix_stops_route_id", "route_id"),
        Index("ix_stops_org_id_order_id", "org_id", "order_id"),
    )


class UnassignedOrderRow(Base):
    """An order a plan leaves unserved, with the reason found."""

    __tablename__ = "unassigned_orders"

    org_id: Mapped[str] = _org()
    plan_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        ForeignKeyConstraint(["org_id", "plan_id"], ["plans.org_id", "plans.id"], ondelete="CASCADE"),
        Index("ix_unassigned_orders_org_id_order_id", "org_id", "order_id"),
    )


class EventRow(Base):
    """A domain event, append-only (UPDATE and DELETE are refused by database triggers)."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(64), default=DEFAULT_ORG, server_default=DEFAULT_ORG)
    name: Mapped[str] = mapped_column(String(64))
    aggregate_type: Mapped[str] = mapped_column(String(32))
    aggregate_id: Mapped[str] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column()
    actor: Mapped[str] = mapped_column(String(160))
    payload: Mapped[dict[str, Any]] = mapped_column()
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())

    __table_args__ = (
        Index("ix_events_aggregate_id", "aggregate_id"),
        Index("ix_events_org_id_name", "org_id", "name"),
        Index("ix_events_occurred_at", "occurred_at"),
    )


def table_of(model: type[Base]) -> Table:
    """The Core :class:`~sqlalchemy.Table` behind a model (for bulk Core statements)."""
    return cast(Table, model.__table__)


orders = table_of(OrderRow)
depots = table_of(DepotRow)
vehicles = table_of(VehicleRow)
drivers = table_of(DriverRow)
plans = table_of(PlanRow)
routes = table_of(RouteRow)
stops = table_of(StopRow)
unassigned_orders = table_of(UnassignedOrderRow)
events = table_of(EventRow)

metadata = Base.metadata

#: Every table, parents before children (the order to create; reverse it to drop).
TABLES: tuple[Table, ...] = (
    orders, depots, vehicles, drivers, plans, routes, stops, unassigned_orders, events,
)

from baton.adapters import orm_auth  # noqa: E402,F401

# isort: split
from baton.adapters import orm_execute  # noqa: E402,F401

# isort: split
from baton.adapters import orm_dispatch  # noqa: E402,F401

# isort: split
from baton.adapters import orm_notify  # noqa: E402,F401

# isort: split
from baton.adapters import orm_prove  # noqa: E402,F401
