"""Handlers of the execution commands (positions, stop visits, ETAs, exceptions).

Registered in :data:`baton.service_layer.handlers.COMMAND_HANDLERS`. Each runs in one transaction
of the unit of work: its rows and its events are committed together. Idempotent where a retry is
plausible: a repeated ping batch stores nothing twice, a second arrival/departure or an exception
already open is a no-op, acknowledging/resolving twice changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, cast

from sqlalchemy.orm import Session

from baton.adapters.repository.positions import PositionRepository
from baton.domain.errors import NotFound, ValidationError
from baton.domain.events import StopDeparted
from baton.execute.eta import StopEta, zone_of
from baton.execute.events import (
    CustomerNotificationRequested,
    EtaErrorRecorded,
    ExceptionAcknowledged,
    ExceptionActionTaken,
    ExceptionOpened,
    ExceptionResolved,
    StopEtaChanged,
)
from baton.execute.pings import Ping, Validated
from baton.execute.records import ExceptionRecord, ExecutionRecords
from baton.service_layer import commands
from baton.service_layer.unit_of_work import AbstractUnitOfWork

if TYPE_CHECKING:
    from baton.service_layer.handlers import Dependencies


def _session(uow: AbstractUnitOfWork) -> tuple[Session, str]:
    session = getattr(uow, "session", None)
    if session is None:
        raise RuntimeError("execution handlers need a SQLAlchemy unit of work inside its `with` block")
    return cast(Session, session), str(getattr(uow, "org_id", "default"))


def _records(uow: AbstractUnitOfWork) -> ExecutionRecords:
    session, org = _session(uow)
    return ExecutionRecords(session, org)


def record_positions(cmd: commands.RecordPositions, uow: AbstractUnitOfWork, deps: Dependencies) -> list[int]:
    """Store validated batches (trail + latest position, refused pings with reasons) in one transaction;
    returns how many pings of each batch were new (a re-sent ping is skipped, not an error)."""
    groups: list[tuple[Validated, datetime]] = []
    for batch, received_at in cmd.batches:
        if not isinstance(batch, Validated):
            raise TypeError(f"RecordPositions: expected Validated batches, got {type(batch).__name__}")
        groups.append((batch, received_at))
    with uow:
        session, org = _session(uow)
        repo = PositionRepository(session, org)
        inserted = repo.add_pings([(b.accepted, at) for b, at in groups])
        if cmd.latest is None:
            repo.upsert_latest([(p, at) for b, at in groups for p in b.accepted])
        else:
            repo.upsert_latest([(p, at) for p, at in cmd.latest if isinstance(p, Ping)])
        for b, at in groups:
            repo.add_rejections(b.rejected, at)
        uow.commit()
    return inserted


def record_stop_arrival(cmd: commands.RecordStopArrival, uow: AbstractUnitOfWork, deps: Dependencies) -> int | None:
    """Store the visit and, when an ETA was published, the ETA error (returned, s)."""
    with uow:
        records = _records(uow)
        error = records.record_arrival(
            route_id=cmd.route_id, order_id=cmd.order_id, vehicle_id=cmd.vehicle_id, zone=zone_of(cmd.lat, cmd.lng),
            at=cmd.at, source=cmd.source, planned_arrival=cmd.planned_arrival, predicted=cmd.predicted_arrival)
        records.delete_eta(cmd.route_id, cmd.order_id)
        if error is not None and cmd.predicted_arrival is not None:
            uow.record(EtaErrorRecorded(occurred_at=cmd.at, actor=cmd.actor, order_id=cmd.order_id,
                                        route_id=cmd.route_id, predicted_arrival=cmd.predicted_arrival.isoformat(),
                                        actual_arrival=cmd.at.isoformat(), error_s=error))
        uow.commit()
    return error


def record_stop_departure(cmd: commands.RecordStopDeparture, uow: AbstractUnitOfWork,
                          deps: Dependencies) -> int | None:
    """Store the departure and dwell (returned, s); the stop's ``actual_departure`` is set if still empty."""
    with uow:
        dwell = _records(uow).record_departure(cmd.route_id, cmd.order_id, cmd.at)
        if dwell is None:
            return None
        route = uow.plans.get_route(cmd.route_id)
        stop = route.stop_for(cmd.order_id)
        if stop.actual_departure is None:
            stop.actual_departure = cmd.at
            uow.plans.update_route(route)
            uow.record(StopDeparted(occurred_at=cmd.at, actor=cmd.actor, route_id=cmd.route_id,
                                    order_id=cmd.order_id, dwell_s=dwell))
        uow.commit()
    return dwell


def publish_etas(cmd: commands.PublishEtas, uow: AbstractUnitOfWork, deps: Dependencies) -> list[str]:
    """Store ETAs; raise ``eta.changed`` for each that moved at least the threshold. Returns those order ids."""
    changed: list[str] = []
    with uow:
        records = _records(uow)
        stored = cmd.announced
        if stored is None:
            stored = records.announced_etas(sorted({r for r, _, _, _ in cmd.updates}))
        rows: list[tuple[str, str, float, StopEta, datetime | None]] = []
        for route_id, vehicle_id, pace, raw in cmd.updates:
            for e in raw:
                if not isinstance(e, StopEta):
                    continue
                # the first ETA is measured against the plan's arrival (what the customer was told)
                old = stored.get((route_id, e.order_id)) or e.planned_arrival
                if abs((e.eta - old).total_seconds()) < cmd.threshold_s:
                    rows.append((route_id, vehicle_id, pace, e, old))
                    continue
                rows.append((route_id, vehicle_id, pace, e, e.eta))
                changed.append(e.order_id)
                uow.record(StopEtaChanged(
                    occurred_at=cmd.at, actor=cmd.actor, order_id=e.order_id, route_id=route_id,
                    vehicle_id=vehicle_id, old_eta=old.isoformat(), new_eta=e.eta.isoformat(),
                    delta_s=int((e.eta - old).total_seconds()),
                    planned_arrival=e.planned_arrival.isoformat()))
        records.upsert_etas(rows, cmd.at)
        uow.commit()
    return changed


def open_exception(cmd: commands.OpenException, uow: AbstractUnitOfWork, deps: Dependencies) -> str | None:
    with uow:
        records = _records(uow)
        if records.open_exception_for(cmd.kind, cmd.subject) is not None:
            return None
        exception_id = f"exc-{uuid.uuid4().hex[:12]}"
        records.add_exception(ExceptionRecord(
            exception_id, cmd.kind, cmd.subject, "open", cmd.route_id, cmd.vehicle_id, cmd.order_id,
            dict(cmd.details), cmd.at, None, None, None, None, None, False, False))
        uow.record(ExceptionOpened(occurred_at=cmd.at, actor=cmd.actor, exception_id=exception_id, kind=cmd.kind,
                                   route_id=cmd.route_id, vehicle_id=cmd.vehicle_id, order_id=cmd.order_id,
                                   details=dict(cmd.details)))
        uow.commit()
    return exception_id


def _get(records: ExecutionRecords, exception_id: str) -> ExceptionRecord:
    found = records.get_exception(exception_id)
    if found is None:
        raise NotFound(f"exception {exception_id} not found")
    return found


def acknowledge_exception(cmd: commands.AcknowledgeException, uow: AbstractUnitOfWork, deps: Dependencies) -> None:
    """Raises NotFound for an unknown exception id."""
    with uow:
        records = _records(uow)
        exc = _get(records, cmd.exception_id)
        if exc.status != "open":
            return
        records.set_exception(exc.id, status="acknowledged", acknowledged_by=cmd.actor, acknowledged_at=cmd.at)
        records.log_action(exc.id, cmd.at, "acknowledge", "done", cmd.note or "", cmd.actor)
        uow.record(ExceptionAcknowledged(occurred_at=cmd.at, actor=cmd.actor, exception_id=exc.id, note=cmd.note))
        uow.commit()


def resolve_exception(cmd: commands.ResolveException, uow: AbstractUnitOfWork, deps: Dependencies) -> None:
    """Raises NotFound for an unknown id, ValidationError for an empty ``resolution``."""
    if not cmd.resolution.strip():
        raise ValidationError("resolution: say how the exception was resolved")
    with uow:
        records = _records(uow)
        exc = _get(records, cmd.exception_id)
        if exc.status == "resolved":
            return
        records.set_exception(exc.id, status="resolved", resolved_by=cmd.actor, resolved_at=cmd.at,
                              resolution=cmd.resolution, auto_resolved=cmd.automatic)
        records.log_action(exc.id, cmd.at, "resolve", "done", cmd.resolution, cmd.actor)
        uow.record(ExceptionResolved(occurred_at=cmd.at, actor=cmd.actor, exception_id=exc.id,
                                     resolution=cmd.resolution, automatic=cmd.automatic))
        uow.commit()


def log_exception_action(cmd: commands.LogExceptionAction, uow: AbstractUnitOfWork, deps: Dependencies) -> None:
    with uow:
        records = _records(uow)
        exc = _get(records, cmd.exception_id)
        records.log_action(exc.id, cmd.at, cmd.action, cmd.outcome, cmd.detail, cmd.actor)
        if cmd.needs_dispatcher:
            records.set_exception(exc.id, needs_dispatcher=True)
        uow.record(ExceptionActionTaken(occurred_at=cmd.at, actor=cmd.actor, exception_id=exc.id,
                                        action=cmd.action, outcome=cmd.outcome, detail=cmd.detail))
        uow.commit()


def request_customer_notifications(cmd: commands.RequestCustomerNotifications, uow: AbstractUnitOfWork,
                                   deps: Dependencies) -> int:
    """Raise one notification request per order; returns how many."""
    with uow:
        for order_id in dict.fromkeys(cmd.order_ids):
            uow.record(CustomerNotificationRequested(
                occurred_at=cmd.at, actor=cmd.actor, order_id=order_id, topic=cmd.topic,
                exception_id=cmd.exception_id, eta=cmd.etas.get(order_id), message=cmd.message))
        uow.commit()
    return len(dict.fromkeys(cmd.order_ids))


EXECUTE_HANDLERS: dict[type[commands.Command], Callable[..., object]] = {
    commands.RecordPositions: record_positions,
    commands.RecordStopArrival: record_stop_arrival,
    commands.RecordStopDeparture: record_stop_departure,
    commands.PublishEtas: publish_etas,
    commands.OpenException: open_exception,
    commands.AcknowledgeException: acknowledge_exception,
    commands.ResolveException: resolve_exception,
    commands.LogExceptionAction: log_exception_action,
    commands.RequestCustomerNotifications: request_customer_notifications,
}
