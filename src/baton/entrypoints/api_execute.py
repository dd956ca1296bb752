"""HTTP API for execution: GPS ping ingestion, positions, ETAs and exceptions.

``router`` is an :class:`fastapi.APIRouter`; the application includes it (with its own
authentication dependencies) and puts an :class:`baton.execute.runtime.ExecutionRuntime` in
``app.state.execution`` — :func:`install` does both — or, multi-tenant, a
:class:`baton.execute.runtime.TenantRuntimes`; then an authentication dependency must set
``request.state.execution_org`` to the caller's organisation, whose runtime serves the request.
Bodies and answers are JSON; instants ISO 8601 with offset; coordinates WGS84 degrees; ``accuracy_m``
metres; ``speed_mps`` m/s; ``heading_deg`` degrees.

* ``POST /positions`` ``{"pings": [ping, ...]}`` (or a bare list, or one ping) → ``202``
  ``{"accepted", "duplicates", "rejected": [{"index", "reason", "field", "detail"}]}``; refused pings
  never fail the batch. ``413`` above :data:`MAX_BATCH` pings, ``422`` when the body is not JSON pings.
* ``GET /vehicles/{vehicle_id}/position``, ``GET /vehicles/{vehicle_id}/trail?since=&until=``
* ``GET /routes/{route_id}/etas``
* ``GET /exceptions?status=&kind=``, ``GET /exceptions/{id}`` (with its action log),
  ``POST /exceptions/{id}/acknowledge`` ``{"actor", "note"?}``,
  ``POST /exceptions/{id}/resolve`` ``{"actor", "resolution"}``
* ``GET /stats`` (mounted: ``/api/v1/execution/stats``): ingest counters and ETA lag percentiles.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import select

from baton.adapters import orm
from baton.adapters.repository.positions import Position, PositionRepository
from baton.domain.errors import NotFound
from baton.execute.ingest_process import IngestError
from baton.execute.pings import BatchError, pings_of_json
from baton.execute.playbooks import Replanner
from baton.execute.records import ExceptionRecord, ExecutionRecords
from baton.execute.runtime import ExecutionRuntime, TenantRuntimes
from baton.execute.service import ExecutionService, ExecutionSettings
from baton.service_layer import commands
from baton.service_layer.messagebus import MessageBus
from baton.service_layer.unit_of_work import SqlAlchemyUnitOfWork

router = APIRouter(tags=["execution"])


def install(app: FastAPI, bus: MessageBus, settings: ExecutionSettings | None = None,
            replanner: Replanner | None = None, *, start: bool = True) -> ExecutionRuntime:
    """Include :data:`router` in ``app`` and give it an :class:`ExecutionRuntime` over ``bus``.

    ``start``: start the background ETA refresher now (stop it with ``runtime.stop()`` at shutdown).
    """
    runtime = ExecutionRuntime(ExecutionService(bus, settings, replanner))
    app.state.execution = runtime
    app.include_router(router)
    if start:
        runtime.start()
    return runtime


def _runtime(request: Request) -> ExecutionRuntime:
    runtime = getattr(request.app.state, "execution", None)
    if isinstance(runtime, TenantRuntimes):
        org_id = getattr(request.state, "execution_org", None)
        if not isinstance(org_id, str):
            raise HTTPException(403, "execution: the caller's organisation is unknown")
        return runtime.for_org(org_id)
    if not isinstance(runtime, ExecutionRuntime):
        raise HTTPException(503, "execution is not configured on this server")
    return runtime


@router.post("/positions", status_code=202)
async def post_positions(request: Request) -> dict[str, Any]:
    """A batch of pings (JSON: a list, one ping, or ``{"pings": [...]}``, at most :data:`MAX_BATCH`): 202
    with ``accepted``, ``duplicates`` and the ``rejected`` pings with index, reason and field; 422 for a
    body that is not a batch of pings, 413 for too many, 503 when storing failed (nothing stored)."""
    body = await request.body()
    runtime = _runtime(request)
    own: frozenset[str] | None = getattr(request.state, "execution_vehicles", None)
    try:
        if own is None:
            return (await run_in_threadpool(runtime.ingest_body, body)).as_dict()
        return await run_in_threadpool(_ingest_own, runtime, pings_of_json(body), own)
    except BatchError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    except IngestError as exc:
        raise HTTPException(503, f"positions not stored: {exc}") from exc


def _ingest_own(runtime: ExecutionRuntime, pings: list[Any], own: frozenset[str]) -> dict[str, Any]:
    """A driver reports positions only for the vehicles of their own routes."""
    mine = [(i, p) for i, p in enumerate(pings) if not isinstance(p, dict) or p.get("vehicle_id") in own
            or p.get("vehicle_id") is None]
    result = runtime.ingest([p for _, p in mine]).as_dict()
    for r in result["rejected"]:
        r["index"] = mine[r["index"]][0]
    kept = {i for i, _ in mine}
    result["rejected"] += [{"index": i, "reason": "not_your_vehicle", "field": "vehicle_id",
                            "detail": f"vehicle {p.get('vehicle_id')} is on none of your open routes"}
                           for i, p in enumerate(pings) if i not in kept]
    result["rejected"].sort(key=lambda r: r["index"])
    return result


def _reads(request: Request) -> SqlAlchemyUnitOfWork:
    """A unit of work of its own for one read request: the execution service's unit of work belongs to
    the threads that hold the runtime's lock (the ETA refresher, ingest), and a session must never be
    shared between threads."""
    mine = _runtime(request).service.uow
    return SqlAlchemyUnitOfWork(mine.session_factory, org_id=mine.org_id)


def _position(p: Position) -> dict[str, Any]:
    return {"vehicle_id": p.vehicle_id, "device_id": p.device_id, "ts": p.ts.isoformat(), "lat": p.lat,
            "lng": p.lng, "accuracy_m": p.accuracy_m, "speed_mps": p.speed_mps, "heading_deg": p.heading_deg,
            "received_at": p.received_at.isoformat()}


@router.get("/vehicles/{vehicle_id}/position")
def get_position(request: Request, vehicle_id: str) -> dict[str, Any]:
    uow = _reads(request)
    with uow:
        assert uow.session is not None
        found = PositionRepository(uow.session, uow.org_id).newest(vehicle_id)
    if found is None:
        raise HTTPException(404, f"vehicle_id: no position for {vehicle_id}")
    return _position(found)


@router.get("/vehicles/{vehicle_id}/trail")
def get_trail(request: Request, vehicle_id: str, since: datetime | None = None,
              until: datetime | None = None) -> list[dict[str, Any]]:
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(422, f"{name}: give an offset (e.g. 2026-03-02T08:00:00-03:00)")
    uow = _reads(request)
    with uow:
        assert uow.session is not None
        trail = [_position(p) for p in PositionRepository(uow.session, uow.org_id).trail(vehicle_id, since, until)]
        if not trail and uow.session.execute(select(orm.vehicles.c.id).where(
                orm.vehicles.c.org_id == uow.org_id, orm.vehicles.c.id == vehicle_id)).first() is None:
            raise HTTPException(404, f"vehicle_id: unknown vehicle {vehicle_id}")
    return trail


@router.get("/routes/{route_id}/etas")
def get_etas(request: Request, route_id: str) -> list[dict[str, Any]]:
    uow = _reads(request)
    with uow:
        assert uow.session is not None
        rows = ExecutionRecords(uow.session, uow.org_id).etas(route_id=route_id)
        if not rows and uow.session.execute(select(orm.routes.c.id).where(
                orm.routes.c.org_id == uow.org_id, orm.routes.c.id == route_id)).first() is None:
            raise HTTPException(404, f"route_id: unknown route {route_id}")
    return [{"order_id": r.order_id, "vehicle_id": r.vehicle_id, "eta": r.eta.isoformat(),
             "planned_arrival": r.planned_arrival.isoformat(),
             "window_end": r.window_end.isoformat() if r.window_end else None, "behind_s": r.behind_s,
             "pace_factor": r.pace_factor, "computed_at": r.computed_at.isoformat()} for r in rows]


def _exception(e: ExceptionRecord) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in e.__dict__.items():
        out[key] = value.isoformat() if isinstance(value, datetime) else value
    return out


@router.get("/exceptions")
def list_exceptions(request: Request, status: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
    uow = _reads(request)
    with uow:
        assert uow.session is not None
        return [_exception(e) for e in ExecutionRecords(uow.session, uow.org_id).exceptions(status, kind)]


@router.get("/exceptions/{exception_id}")
def get_exception(request: Request, exception_id: str) -> dict[str, Any]:
    uow = _reads(request)
    with uow:
        assert uow.session is not None
        records = ExecutionRecords(uow.session, uow.org_id)
        found = records.get_exception(exception_id)
        if found is None:
            raise HTTPException(404, f"exception_id: unknown exception {exception_id}")
        actions = [{"at": a.at.isoformat(), "action": a.action, "outcome": a.outcome, "detail": a.detail,
                    "actor": a.actor} for a in records.actions(exception_id)]
    return _exception(found) | {"actions": actions}


class AcknowledgeIn(BaseModel):
    actor: str = Field(min_length=3, max_length=160, pattern=r"^[a-z]+:.+$")
    note: str | None = Field(default=None, max_length=2000)


class ResolveIn(BaseModel):
    actor: str = Field(min_length=3, max_length=160, pattern=r"^[a-z]+:.+$")
    resolution: str = Field(min_length=1, max_length=2000)


def _handle(request: Request, command: commands.Command) -> None:
    runtime = _runtime(request)
    with runtime.lock:
        try:
            runtime.service.bus.handle(command)
        except NotFound as exc:
            raise HTTPException(404, f"exception_id: {exc}") from exc


@router.post("/exceptions/{exception_id}/acknowledge")
def acknowledge(request: Request, exception_id: str, body: AcknowledgeIn) -> dict[str, Any]:
    _handle(request, commands.AcknowledgeException(at=datetime.now(UTC), actor=body.actor,
                                                   exception_id=exception_id, note=body.note))
    return get_exception(request, exception_id)


@router.post("/exceptions/{exception_id}/resolve")
def resolve(request: Request, exception_id: str, body: ResolveIn) -> dict[str, Any]:
    _handle(request, commands.ResolveException(at=datetime.now(UTC), actor=body.actor,
                                               exception_id=exception_id, resolution=body.resolution))
    return get_exception(request, exception_id)


@router.get("/stats")
def stats(request: Request) -> dict[str, Any]:
    return _runtime(request).stats()
