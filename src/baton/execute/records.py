"""Storage of execution records: stop visits, current ETAs and exceptions with their action log.

Works in the caller's session (the unit of work's), never commits. Instants aware.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from baton.adapters import orm
from baton.adapters import orm_execute as ox
from baton.adapters.repository._common import chunks, copy_binary
from baton.adapters.repository.positions import _insert, _sqlite_ts
from baton.execute.eta import StopEta


@dataclass(frozen=True)
class ExceptionRecord:
    """An exception as stored (see :class:`baton.adapters.orm_execute.ExecutionExceptionRow`)."""

    id: str
    kind: str
    subject: str
    status: str
    route_id: str | None
    vehicle_id: str | None
    order_id: str | None
    details: dict[str, Any]
    opened_at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    resolution: str | None
    auto_resolved: bool
    needs_dispatcher: bool


@dataclass(frozen=True)
class ActionRecord:
    exception_id: str
    at: datetime
    action: str
    outcome: str
    detail: str
    actor: str


def _exception(r: Any) -> ExceptionRecord:
    return ExceptionRecord(r.id, r.kind, r.subject, r.status, r.route_id, r.vehicle_id, r.order_id, r.details,
                           r.opened_at, r.acknowledged_by, r.acknowledged_at, r.resolved_by, r.resolved_at,
                           r.resolution, r.auto_resolved, r.needs_dispatcher)


class ExecutionRecords:
    """Visits, ETAs and exceptions of one organisation."""

    def __init__(self, session: Session, org_id: str = orm.DEFAULT_ORG) -> None:
        self.session = session
        self.org_id = org_id

    # -- visits ---------------------------------------------------------------------------
    def record_arrival(self, *, route_id: str, order_id: str, vehicle_id: str, zone: str, at: datetime,
                       source: str, planned_arrival: datetime | None, predicted: datetime | None) -> int | None:
        """Store the arrival (first one wins); returns the ETA error in s (actual - predicted) or ``None``."""
        t = ox.stop_visits
        error = int((at - predicted).total_seconds()) if predicted is not None else None
        row = {"org_id": self.org_id, "route_id": route_id, "order_id": order_id, "vehicle_id": vehicle_id,
               "zone": zone, "arrived_at": at, "source": source, "planned_arrival": planned_arrival,
               "predicted_arrival": predicted, "eta_error_s": error}
        result = self.session.execute(_insert(self.session, t).on_conflict_do_nothing()
                                      .returning(t.c.order_id), [row])
        return error if result.first() is not None else None

    def record_departure(self, route_id: str, order_id: str, at: datetime) -> int | None:
        """Set the departure and dwell once; returns the dwell (s), ``None`` when unknown or already set."""
        t = ox.stop_visits
        row = self.session.execute(select(t.c.arrived_at, t.c.departed_at).where(
            t.c.org_id == self.org_id, t.c.route_id == route_id, t.c.order_id == order_id)).first()
        if row is None or row.departed_at is not None:
            return None
        dwell = max(0, int((at - row.arrived_at).total_seconds()))
        self.session.execute(update(t).where(t.c.org_id == self.org_id, t.c.route_id == route_id,
                                             t.c.order_id == order_id).values(departed_at=at, dwell_s=dwell))
        return dwell

    def visits(self, route_id: str | None = None) -> list[Any]:
        t = ox.stop_visits
        stmt = select(t).where(t.c.org_id == self.org_id)
        if route_id is not None:
            stmt = stmt.where(t.c.route_id == route_id)
        return list(self.session.execute(stmt.order_by(t.c.arrived_at)))

    def learned_service_s(self, min_samples: int) -> dict[str, int]:
        """Median dwell (s) per zone with at least ``min_samples`` completed visits."""
        t = ox.stop_visits
        rows = self.session.execute(select(t.c.zone, t.c.dwell_s).where(
            t.c.org_id == self.org_id, t.c.dwell_s.is_not(None)))
        by_zone: dict[str, list[int]] = {}
        for zone, dwell in rows:
            by_zone.setdefault(zone, []).append(int(dwell))
        return {z: int(statistics.median(v)) for z, v in by_zone.items() if len(v) >= min_samples}

    def eta_accuracy(self) -> tuple[int, float | None]:
        """(visits with a prediction, mean absolute ETA error in minutes)."""
        t = ox.stop_visits
        errors = [abs(int(e)) for (e,) in self.session.execute(select(t.c.eta_error_s).where(
            t.c.org_id == self.org_id, t.c.eta_error_s.is_not(None)))]
        return len(errors), (sum(errors) / len(errors) / 60.0 if errors else None)

    # -- ETAs -----------------------------------------------------------------------------
    _ETA_COPY_TYPES = ("varchar", "varchar", "varchar", "varchar", "timestamptz", "timestamptz", "timestamptz",
                       "timestamptz", "int4", "float8", "timestamptz")

    def upsert_etas(self, items: Sequence[tuple[str, str, float, StopEta, datetime | None]],
                    computed_at: datetime) -> None:
        """Store ETAs; each item is ``(route_id, vehicle_id, pace, eta, announced_eta)``.

        The hot path of ETA publication: one ``executemany`` (SQLite) or ``COPY`` into a staging table
        plus one ``INSERT ... ON CONFLICT DO UPDATE`` (PostgreSQL) on the raw driver connection.
        """
        if not items:
            return
        conn = self.session.connection()
        raw: Any = conn.connection.dbapi_connection
        pg = conn.dialect.name == "postgresql"
        ts: Any = (lambda v: v) if pg else (lambda v: None if v is None else _sqlite_ts(v))
        cols = ("org_id", "route_id", "order_id", "vehicle_id", "eta", "announced_eta", "planned_arrival",
                "window_end", "behind_s", "pace_factor", "computed_at")
        at = ts(computed_at)
        rows = [(self.org_id, route_id, e.order_id, vehicle_id, ts(e.eta), ts(announced), ts(e.planned_arrival),
                 ts(e.window_end), int(e.behind_s), float(pace), at)
                for route_id, vehicle_id, pace, e, announced in items]
        names = ", ".join(cols)
        sets = ", ".join(f"{c} = excluded.{c}" for c in cols[3:])
        conflict = f"ON CONFLICT (org_id, route_id, order_id) DO UPDATE SET {sets}"
        if pg:
            with raw.cursor() as cur:
                cur.execute("CREATE TEMP TABLE IF NOT EXISTS stop_etas_stage "
                            "(LIKE stop_etas INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
                copy_binary(cur, f"stop_etas_stage ({names})", self._ETA_COPY_TYPES, rows)
                cur.execute(f"INSERT INTO stop_etas ({names}) SELECT {names} FROM stop_etas_stage {conflict}")
                cur.execute("DELETE FROM stop_etas_stage")
            return
        cur = raw.cursor()
        try:
            cur.executemany(f"INSERT INTO stop_etas ({names}) VALUES ({', '.join('?' * len(cols))}) {conflict}",
                            rows)
        finally:
            cur.close()

    def announced_etas(self, route_ids: Sequence[str]) -> dict[tuple[str, str], datetime]:
        """(route id, order id) → the ETA last announced to the customer (``eta.changed``), for ``route_ids``."""
        t = ox.stop_etas
        out: dict[tuple[str, str], datetime] = {}
        for part in chunks(list(route_ids)):
            stmt = select(t.c.route_id, t.c.order_id, t.c.announced_eta).where(
                t.c.org_id == self.org_id, t.c.route_id.in_(part), t.c.announced_eta.is_not(None))
            out.update({(r, o): a for r, o, a in self.session.execute(stmt)})
        return out

    def delete_eta(self, route_id: str, order_id: str) -> None:
        t = ox.stop_etas
        self.session.execute(t.delete().where(t.c.org_id == self.org_id, t.c.route_id == route_id,
                                              t.c.order_id == order_id))

    def etas(self, route_id: str | None = None, vehicle_id: str | None = None) -> list[Any]:
        t = ox.stop_etas
        stmt = select(t).where(t.c.org_id == self.org_id)
        if route_id is not None:
            stmt = stmt.where(t.c.route_id == route_id)
        if vehicle_id is not None:
            stmt = stmt.where(t.c.vehicle_id == vehicle_id)
        return list(self.session.execute(stmt.order_by(t.c.eta)))

    # -- exceptions -----------------------------------------------------------------------
    def open_exception_for(self, kind: str, subject: str) -> ExceptionRecord | None:
        t = ox.execution_exceptions
        row = self.session.execute(select(t).where(t.c.org_id == self.org_id, t.c.kind == kind,
                                                   t.c.subject == subject, t.c.status != "resolved")).first()
        return _exception(row) if row is not None else None

    def add_exception(self, record: ExceptionRecord) -> None:
        self.session.execute(ox.execution_exceptions.insert(), [{
            "org_id": self.org_id, "id": record.id, "kind": record.kind, "subject": record.subject,
            "status": record.status, "route_id": record.route_id, "vehicle_id": record.vehicle_id,
            "order_id": record.order_id, "details": record.details, "opened_at": record.opened_at,
            "auto_resolved": False, "needs_dispatcher": False}])

    def get_exception(self, exception_id: str) -> ExceptionRecord | None:
        t = ox.execution_exceptions
        row = self.session.execute(select(t).where(t.c.org_id == self.org_id, t.c.id == exception_id)).first()
        return _exception(row) if row is not None else None

    def set_exception(self, exception_id: str, **values: Any) -> None:
        t = ox.execution_exceptions
        self.session.execute(update(t).where(t.c.org_id == self.org_id, t.c.id == exception_id).values(**values))

    def exceptions(self, status: str | None = None, kind: str | None = None) -> list[ExceptionRecord]:
        t = ox.execution_exceptions
        stmt = select(t).where(t.c.org_id == self.org_id)
        if status is not None:
            stmt = stmt.where(t.c.status == status)
        if kind is not None:
            stmt = stmt.where(t.c.kind == kind)
        return [_exception(r) for r in self.session.execute(stmt.order_by(t.c.opened_at, t.c.id))]

    def log_action(self, exception_id: str, at: datetime, action: str, outcome: str, detail: str,
                   actor: str) -> None:
        self.session.execute(ox.exception_actions.insert(), [{
            "org_id": self.org_id, "exception_id": exception_id, "at": at, "action": action,
            "outcome": outcome, "detail": detail, "actor": actor}])

    def actions(self, exception_id: str) -> list[ActionRecord]:
        t = ox.exception_actions
        rows = self.session.execute(select(t).where(t.c.org_id == self.org_id, t.c.exception_id == exception_id)
                                    .order_by(t.c.id))
        return [ActionRecord(r.exception_id, r.at, r.action, r.outcome, r.detail, r.actor) for r in rows]
