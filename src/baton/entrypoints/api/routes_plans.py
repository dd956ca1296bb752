"""``/api/v1/plans`` and ``/api/v1/routes``: plan, dispatch, and report execution (stop events)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from baton.domain.plan import Route
from baton.entrypoints.api.access import Principal
from baton.entrypoints.api.auth import check_route_access, context, refuse_restricted, require
from baton.entrypoints.api.errors import ApiProblem, not_found
from baton.entrypoints.api.idempotency import run_idempotent
from baton.entrypoints.api.queries import active_route_ids, list_plans
from baton.entrypoints.api.routes_orders import IdemKey
from baton.entrypoints.api.schemas import ArriveIn, DeliverIn, FailIn, PlanIn, plan_out, route_out
from baton.planning.problem import PlanningOptions
from baton.service_layer import commands

router = APIRouter(tags=["plans and routes"])

PlansRead = Annotated[Principal, Depends(require("plans:read"))]
PlansWrite = Annotated[Principal, Depends(require("plans:write"))]
RoutesRead = Annotated[Principal, Depends(require("routes:read"))]
Execute = Annotated[Principal, Depends(require("execution:write"))]


def now() -> datetime:
    return datetime.now(UTC)


@router.post("/plans", status_code=201, summary="Plan the open orders (solve within time_limit_s)")
def create_plan(request: Request, body: PlanIn, principal: PlansWrite, idempotency_key: IdemKey = None) -> JSONResponse:
    """Runs the solver for at most ``time_limit_s`` seconds and answers with the plan: routes with
    stops and ETAs, and every unassigned order with its reason. Planned orders become ``planned``."""
    ctx = context(request)

    def run() -> tuple[int, Any, dict[str, str]]:
        options = PlanningOptions(time_limit_s=body.time_limit_s, seed=body.seed,
                                  hard_time_windows=body.hard_time_windows)
        plan = ctx.bus(principal.org_id).handle(commands.PlanOrders(
            at=now(), actor=principal.actor, options=options, order_ids=body.order_ids, day_start=body.day_start))
        return 201, plan_out(plan), {"Location": f"/api/v1/plans/{plan.id}"}

    return run_idempotent(ctx, principal, idempotency_key, "POST", request.url.path, body.model_dump(mode="json"),
                          run)


@router.get("/plans", summary="List plans, newest first")
def get_plans(request: Request, principal: PlansRead, limit: Annotated[int, Query(ge=1, le=200)] = 20,
              offset: Annotated[int, Query(ge=0)] = 0) -> list[dict[str, Any]]:
    refuse_restricted(principal, "listing plans")
    with context(request).sessions() as s:
        return list_plans(s, principal.org_id, limit, offset)


@router.get("/plans/current", summary="The current plan")
def current_plan(request: Request, principal: PlansRead) -> dict[str, Any]:
    refuse_restricted(principal, "reading plans")
    with context(request).uow(principal.org_id) as uow:
        plan = uow.plans.current()
    if plan is None:
        raise not_found("no plan yet")
    return plan_out(plan)


@router.get("/plans/{plan_id}", summary="A plan with its routes and unassigned orders")
def get_plan(request: Request, plan_id: str, principal: PlansRead) -> dict[str, Any]:
    refuse_restricted(principal, "reading plans")
    with context(request).uow(principal.org_id) as uow:
        return plan_out(uow.plans.get(plan_id))


def _route(request: Request, principal: Principal, route_id: str) -> Route:
    with context(request).uow(principal.org_id) as uow:
        route = uow.plans.get_route(route_id)
        check_route_access(principal, route, {v.id: v for v in uow.vehicles.list()} if principal.restricted else {})
    return route


@router.get("/routes", summary="Routes to watch: the current plan's and every unfinished one")
def list_routes(request: Request, principal: RoutesRead) -> list[dict[str, Any]]:
    """Drivers and carriers get only their own routes."""
    with context(request).uow(principal.org_id) as uow:
        current = uow.plans.current()
        ids = active_route_ids(uow.session, principal.org_id, current.id if current else None)  # type: ignore[arg-type]
        routes = [uow.plans.get_route(i) for i in ids]
        vehicles = {v.id: v for v in uow.vehicles.list()}
    visible = []
    for r in routes:
        try:
            check_route_access(principal, r, vehicles)
        except ApiProblem:
            continue
        visible.append(route_out(r))
    return visible


@router.get("/routes/{route_id}", summary="A route with its stops (planned and actual times)")
def get_route(request: Request, route_id: str, principal: RoutesRead) -> dict[str, Any]:
    return route_out(_route(request, principal, route_id))


@router.post("/routes/{route_id}/dispatch", summary="Release a planned route to its driver")
def dispatch_route(request: Request, route_id: str, principal: PlansWrite) -> dict[str, Any]:
    refuse_restricted(principal, "dispatching")
    context(request).bus(principal.org_id).handle(commands.DispatchRoute(at=now(), actor=principal.actor,
                                                                         route_id=route_id))
    return route_out(_route(request, principal, route_id))


@router.post("/routes/{route_id}/start", summary="The vehicle left the depot")
def start_route(request: Request, route_id: str, principal: Execute) -> dict[str, Any]:
    _route(request, principal, route_id)
    context(request).bus(principal.org_id).handle(commands.StartRoute(at=now(), actor=principal.actor,
                                                                      route_id=route_id))
    return route_out(_route(request, principal, route_id))


@router.post("/routes/{route_id}/complete", summary="The vehicle is back at its depot")
def complete_route(request: Request, route_id: str, principal: Execute, body: ArriveIn | None = None) -> dict[str, Any]:
    _route(request, principal, route_id)
    leg = body or ArriveIn.model_validate({})
    context(request).bus(principal.org_id).handle(commands.CompleteRoute(
        at=now(), actor=principal.actor, route_id=route_id, leg_distance_m=leg.leg_distance_m,
        leg_driving_s=leg.leg_driving_s))
    return route_out(_route(request, principal, route_id))


def _stop_command(request: Request, principal: Principal, route_id: str, order_id: str,
                  cmd: commands.Command) -> dict[str, Any]:
    route = _route(request, principal, route_id)
    if order_id not in route.order_ids:
        raise not_found(f"route {route_id} has no stop for order {order_id}")
    context(request).bus(principal.org_id).handle(cmd)
    return route_out(_route(request, principal, route_id))


@router.post("/routes/{route_id}/stops/{order_id}/arrive", summary="Arrived at a stop")
def arrive(request: Request, route_id: str, order_id: str, principal: Execute,
           body: ArriveIn | None = None) -> dict[str, Any]:
    leg = body or ArriveIn.model_validate({})
    return _stop_command(request, principal, route_id, order_id, commands.ArriveAtStop(
        at=now(), actor=principal.actor, route_id=route_id, order_id=order_id, leg_distance_m=leg.leg_distance_m,
        leg_driving_s=leg.leg_driving_s))


@router.post("/routes/{route_id}/stops/{order_id}/deliver", summary="Delivered (proof: recipient name)")
def deliver(request: Request, route_id: str, order_id: str, principal: Execute,
            body: DeliverIn | None = None) -> dict[str, Any]:
    return _stop_command(request, principal, route_id, order_id, commands.CompleteDelivery(
        at=now(), actor=principal.actor, route_id=route_id, order_id=order_id,
        recipient=body.recipient if body else None))


@router.post("/routes/{route_id}/stops/{order_id}/fail", summary="Delivery attempt failed")
def fail(request: Request, route_id: str, order_id: str, principal: Execute, body: FailIn) -> dict[str, Any]:
    return _stop_command(request, principal, route_id, order_id, commands.FailDelivery(
        at=now(), actor=principal.actor, route_id=route_id, order_id=order_id, reason=body.reason))
