"""Table models for execution: GPS pings, latest positions, stop visits, ETAs and exceptions.

On the shared :data:`baton.adapters.orm.metadata`, created by migration ``0005_execute``.
Units: coordinates WGS84 degrees, ``accuracy_m`` metres, ``speed_mps`` metres per second,
``heading_deg`` degrees clockwise from north, durations seconds; instants are aware (UTC out).

* ``position_pings``: the trail; primary key ``(org_id, device_id, ts)`` makes ingestion
  idempotent on (device, timestamp). Pruned by ``ts`` (retention setting).
* ``vehicle_positions``: the latest accepted ping per vehicle (only ever moved forward in time).
* ``rejected_pings``: every refused ping with its reason and field (never used as a position).
* ``stop_visits``: arrival/departure per stop (geofence or manual), dwell and the ETA error.
* ``stop_etas``: the current ETA per remaining stop.
* ``execution_exceptions`` + ``exception_actions``: exceptions with their lifecycle and the log
  of every playbook action.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, Index, Integer, String, Table, Text, func
from sqlalchemy.orm import Mapped, mapped_column

import baton.execute.events  # noqa: F401  (registers execution event types for event_from_record)
from baton.adapters.orm import DEFAULT_ORG, Base, BigIntId, table_of, utcnow


def _org() -> Mapped[str]:
    return mapped_column(String(64), primary_key=True, default=DEFAULT_ORG, server_default=DEFAULT_ORG)


class PositionPingRow(Base):
    """One accepted GPS ping (a point of the trail)."""

    __tablename__ = "position_pings"

    org_id: Mapped[str] = _org()
    device_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    ts: Mapped[datetime] = mapped_column(primary_key=True)
    vehicle_id: Mapped[str] = mapped_column(String(128))
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    speed_mps: Mapped[float | None] = mapped_column(Float)
    heading_deg: Mapped[float | None] = mapped_column(Float)
    received_at: Mapped[datetime] = mapped_column()

    __table_args__ = (
        Index("ix_position_pings_org_id_vehicle_id_ts", "org_id", "vehicle_id", "ts"),
        Index("ix_position_pings_ts", "ts"),
    )


class VehiclePositionRow(Base):
    """The latest accepted position of a vehicle."""

    __tablename__ = "vehicle_positions"

    org_id: Mapped[str] = _org()
    vehicle_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(128))
    ts: Mapped[datetime] = mapped_column()
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    speed_mps: Mapped[float | None] = mapped_column(Float)
    heading_deg: Mapped[float | None] = mapped_column(Float)
    received_at: Mapped[datetime] = mapped_column()


class RejectedPingRow(Base):
    """A refused ping: ``reason`` (``lat_out_of_range``, ``future_timestamp``, ``teleport``, ...)."""

    __tablename__ = "rejected_pings"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(64), default=DEFAULT_ORG, server_default=DEFAULT_ORG)
    device_id: Mapped[str | None] = mapped_column(String(128))
    vehicle_id: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(64))
    field: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")
    raw: Mapped[dict[str, Any]] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())

    __table_args__ = (Index("ix_rejected_pings_org_id_reason", "org_id", "reason"),)


class StopVisitRow(Base):
    """A vehicle's visit of one stop; ``eta_error_s`` = actual - predicted arrival."""

    __tablename__ = "stop_visits"

    org_id: Mapped[str] = _org()
    route_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    vehicle_id: Mapped[str] = mapped_column(String(128))
    zone: Mapped[str] = mapped_column(String(32))
    arrived_at: Mapped[datetime] = mapped_column()
    departed_at: Mapped[datetime | None] = mapped_column()
    dwell_s: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))
    planned_arrival: Mapped[datetime | None] = mapped_column()
    predicted_arrival: Mapped[datetime | None] = mapped_column()
    eta_error_s: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (Index("ix_stop_visits_org_id_zone", "org_id", "zone"),)


class StopEtaRow(Base):
    """The current ETA of a remaining stop; ``behind_s`` = ETA - planned arrival; ``announced_eta``: the
    ETA last announced with an ``eta.changed`` event (the threshold is measured against it)."""

    __tablename__ = "stop_etas"

    org_id: Mapped[str] = _org()
    route_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    vehicle_id: Mapped[str] = mapped_column(String(128))
    eta: Mapped[datetime] = mapped_column()
    announced_eta: Mapped[datetime | None] = mapped_column()
    planned_arrival: Mapped[datetime] = mapped_column()
    window_end: Mapped[datetime | None] = mapped_column()
    behind_s: Mapped[int] = mapped_column(Integer)
    pace_factor: Mapped[float] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column()

    __table_args__ = (Index("ix_stop_etas_org_id_vehicle_id", "org_id", "vehicle_id"),)


class ExecutionExceptionRow(Base):
    """An exception: ``status`` open → acknowledged → resolved, with who/when/how.

    ``subject`` is the de-duplication key (one open exception per kind and subject).
    """

    __tablename__ = "execution_exceptions"

    org_id: Mapped[str] = _org()
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16))
    route_id: Mapped[str | None] = mapped_column(String(128))
    vehicle_id: Mapped[str | None] = mapped_column(String(128))
    order_id: Mapped[str | None] = mapped_column(String(128))
    details: Mapped[dict[str, Any]] = mapped_column()
    opened_at: Mapped[datetime] = mapped_column()
    acknowledged_by: Mapped[str | None] = mapped_column(String(160))
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    resolved_by: Mapped[str | None] = mapped_column(String(160))
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolution: Mapped[str | None] = mapped_column(Text)
    auto_resolved: Mapped[bool] = mapped_column(Boolean, default=False)
    needs_dispatcher: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_execution_exceptions_org_id_status_kind", "org_id", "status", "kind"),)


class ExceptionActionRow(Base):
    """One logged playbook action of an exception."""

    __tablename__ = "exception_actions"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(64), default=DEFAULT_ORG, server_default=DEFAULT_ORG)
    exception_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column()
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(160))

    __table_args__ = (Index("ix_exception_actions_org_id_exception_id", "org_id", "exception_id"),)


position_pings = table_of(PositionPingRow)
vehicle_positions = table_of(VehiclePositionRow)
rejected_pings = table_of(RejectedPingRow)
stop_visits = table_of(StopVisitRow)
stop_etas = table_of(StopEtaRow)
execution_exceptions = table_of(ExecutionExceptionRow)
exception_actions = table_of(ExceptionActionRow)

EXECUTE_TABLES: tuple[Table, ...] = (
    position_pings, vehicle_positions, rejected_pings, stop_visits, stop_etas, execution_exceptions,
    exception_actions,
)
