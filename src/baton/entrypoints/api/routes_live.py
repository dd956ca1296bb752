"""``/api/v1/live``: orchestrate the day — start, traffic, breakdowns, orders placed during the day.

Once the day is started (``POST /live/start``, after the plan is published), Baton keeps the plan
right by itself: every command here and every event of the day from other endpoints (a driver's
stop, ``POST /orders/{id}/cancel``, ``PATCH /orders/{id}``) reaches the organisation's live board
(:mod:`baton.entrypoints.api.live_runtime`), which repairs the routes, recomputes the ETAs, stores the
re-planned routes and tells customers of delays. Each command is persisted as events before it is
answered. Instants are ISO 8601 with an offset; coordinates are ``lat``/``lng`` in degrees.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import AwareDatetime, BaseModel, Field, model_validator

from baton.entrypoints.api.access import Principal
from baton.entrypoints.api.auth import context, require
from baton.entrypoints.api.errors import ApiProblem
from baton.entrypoints.api.live_runtime import LiveRuntime
from baton.entrypoints.api.schemas import OrderIn
from baton.live.ops import Insertion
from baton.service_layer import commands

router = APIRouter(prefix="/live", tags=["live orchestration"])

Dispatcher = Annotated[Principal, Depends(require("plans:write"))]
Viewer = Annotated[Principal, Depends(require("plans:read"))]


def now() -> datetime:
    return datetime.now(UTC)


class StartIn(BaseModel):
    """``insert_unassigned``: try the plan's unassigned orders by fast insertion (default: yes)."""

    insert_unassigned: bool | None = None


class Point(BaseModel):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class TrafficIn(BaseModel):
    """Travel times x ``factor`` (> 0; 1.5 = 50 % slower) from ``start`` to ``end``, within
    ``radius_m`` metres of ``center`` (omitted: the whole city) or for one ``vehicle_id`` only."""

    factor: float = Field(gt=0, le=20)
    start: AwareDatetime
    end: AwareDatetime
    center: Point | None = None
    radius_m: float = Field(default=0.0, ge=0)
    vehicle_id: str | None = None

    @model_validator(mode="after")
    def _span(self) -> TrafficIn:
        if self.end < self.start:
            raise ValueError("end is before start")
        return self


class BreakdownIn(BaseModel):
    """Why the vehicle is out for the day: ``breakdown`` (parcels on board go back to the depot
    with the recovery service, 45 min) or ``driver_unavailable`` (e.g. no show before loading)."""

    reason: str = Field(default="breakdown", pattern=r"^[a-z_]{3,40}$")


def _started(request: Request, principal: Principal) -> LiveRuntime:
    runtime = context(request).live.get(principal.org_id)
    if runtime is None or not runtime.active:
        raise ApiProblem(409, "live-not-started", "the day is not being orchestrated: POST /api/v1/live/start first")
    return runtime


@router.get("", summary="Whether the day is orchestrated live, closed routes, orders no route can serve now")
def live_status(request: Request, principal: Viewer) -> dict[str, Any]:
    """See :meth:`~baton.entrypoints.api.live_runtime.LiveRuntimes.status` (also in ``GET /dashboard``)."""
    return context(request).live.status(principal.org_id)


@router.post("/start", summary="Start orchestrating the current plan's day (idempotent: reloads it)")
def start(request: Request, principal: Dispatcher, body: StartIn | None = None) -> dict[str, Any]:
    """Loads the current plan into the live board and publishes every route with ETAs. 404 without
    a current plan; 409 when the server runs several processes (``baton serve --workers`` > 1)."""
    workers = int(os.environ.get("BATON_SERVER_WORKERS", "1") or 1)
    if workers > 1:
        raise ApiProblem(409, "live-needs-one-process",
                         f"live orchestration keeps the day in one server process; this server runs {workers} "
                         "(start it with --workers 1)")
    ctx = context(request)
    ctx.live.for_org(principal.org_id).handle(commands.StartLive(
        at=now(), actor=principal.actor, insert_unassigned=body.insert_unassigned if body else None))
    return ctx.live.status(principal.org_id)


@router.post("/traffic", summary="A slowdown: ETAs recomputed, threatened routes re-sequenced")
def traffic(request: Request, body: TrafficIn, principal: Dispatcher) -> dict[str, Any]:
    """Answers ``{"changed_routes": [...]}``: the routes re-published (new ETAs or a new sequence)."""
    runtime = _started(request, principal)
    center = (body.center.lat, body.center.lng) if body.center else None
    changed = runtime.handle(commands.ReportTraffic(
        at=now(), actor=principal.actor, factor=body.factor, start=body.start, end=body.end, center=center,
        radius_m=body.radius_m, vehicle_id=body.vehicle_id))
    return {"changed_routes": sorted(changed)}


@router.post("/routes/{route_id}/breakdown", summary="A vehicle is out for the day: its stops go to other vans")
def breakdown(request: Request, route_id: str, principal: Dispatcher,
              body: BreakdownIn | None = None) -> dict[str, Any]:
    """Answers ``{"moved": [...], "unassigned": [...]}`` (order ids). 404 for a route the caller's
    organisation does not have, 409 before ``/live/start``."""
    with context(request).uow(principal.org_id) as uow:
        uow.plans.get_route(route_id)  # NotFound → 404, whether or not the day is orchestrated
    runtime = _started(request, principal)
    moved, left = runtime.handle(commands.ReportBreakdown(
        at=now(), actor=principal.actor, route_id=route_id, reason=(body or BreakdownIn()).reason))
    return {"moved": sorted(moved), "unassigned": sorted(left)}


@router.post("/orders", status_code=201, summary="An order placed during the day: inserted where it costs least")
def add_order(request: Request, body: OrderIn, principal: Dispatcher) -> dict[str, Any]:
    """Stores the order and inserts it into the best feasible route; answers ``{"order_id",
    "route_id"}`` or, when no route can take it, ``route_id`` null and the ``reason`` (the order
    stays unassigned for dispatch)."""
    runtime = _started(request, principal)
    order = body.to_domain()
    result = runtime.handle(commands.AddLiveOrder(at=now(), actor=principal.actor, order=order))
    if isinstance(result, Insertion):
        return {"order_id": order.id, "route_id": result.route_id, "reason": None}
    return {"order_id": order.id, "route_id": None, "reason": str(result)}
