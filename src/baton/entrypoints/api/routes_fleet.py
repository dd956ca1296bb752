"""``/api/v1/depots``, ``/vehicles``, ``/drivers``: register and list the fleet (through ``RegisterFleet``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from baton.entrypoints.api.access import Principal
from baton.entrypoints.api.auth import context, refuse_restricted, require
from baton.entrypoints.api.idempotency import run_idempotent
from baton.entrypoints.api.routes_orders import IdemKey
from baton.entrypoints.api.schemas import DepotIn, DriverIn, VehicleIn, depot_out, driver_out, vehicle_out
from baton.service_layer import commands

router = APIRouter(tags=["fleet"])

Read = Annotated[Principal, Depends(require("fleet:read"))]
Write = Annotated[Principal, Depends(require("fleet:write"))]


def _register(request: Request, principal: Principal, key: str | None, body: Any, kind: str, item: Any,
              out: dict[str, Any]) -> JSONResponse:
    ctx = context(request)

    def run() -> tuple[int, Any, dict[str, str]]:
        cmd = commands.RegisterFleet(at=datetime.now(UTC), actor=principal.actor, **{kind: [item]})
        ctx.bus(principal.org_id).handle(cmd)
        return 201, out, {"Location": f"{request.url.path}/{item.id}"}

    return run_idempotent(ctx, principal, key, "POST", request.url.path, body, run)


@router.post("/depots", status_code=201, summary="Register a depot")
def create_depot(request: Request, body: DepotIn, principal: Write, idempotency_key: IdemKey = None) -> JSONResponse:
    depot = body.to_domain()
    return _register(request, principal, idempotency_key, body.model_dump(mode="json"), "depots", depot,
                     depot_out(depot))


@router.get("/depots", summary="List depots")
def list_depots(request: Request, principal: Read) -> list[dict[str, Any]]:
    with context(request).uow(principal.org_id) as uow:
        return [depot_out(d) for d in uow.depots.list()]


@router.post("/vehicles", status_code=201, summary="Register a vehicle")
def create_vehicle(request: Request, body: VehicleIn, principal: Write,
                   idempotency_key: IdemKey = None) -> JSONResponse:
    """422 naming ``start_depot_id`` when that depot does not exist."""
    from baton.entrypoints.api.errors import invalid

    vehicle = body.to_domain()
    with context(request).uow(principal.org_id) as uow:
        known = {d.id for d in uow.depots.list()}
    for name in ("start_depot_id", "end_depot_id"):
        value = getattr(vehicle, name)
        if value is not None and value not in known:
            raise invalid(name, f"unknown depot {value!r}", ("body", name))
    return _register(request, principal, idempotency_key, body.model_dump(mode="json"), "vehicles", vehicle,
                     vehicle_out(vehicle))


@router.get("/vehicles", summary="List vehicles")
def list_vehicles(request: Request, principal: Read) -> list[dict[str, Any]]:
    refuse_restricted(principal, "listing vehicles")
    with context(request).uow(principal.org_id) as uow:
        return [vehicle_out(v) for v in uow.vehicles.list()]


@router.post("/drivers", status_code=201, summary="Register a driver")
def create_driver(request: Request, body: DriverIn, principal: Write, idempotency_key: IdemKey = None) -> JSONResponse:
    driver = body.to_domain()
    return _register(request, principal, idempotency_key, body.model_dump(mode="json"), "drivers", driver,
                     driver_out(driver))


@router.get("/drivers", summary="List drivers")
def list_drivers(request: Request, principal: Read) -> list[dict[str, Any]]:
    refuse_restricted(principal, "listing drivers")
    with context(request).uow(principal.org_id) as uow:
        return [driver_out(d) for d in uow.drivers.list()]
