"""``/api/v1/plans`` and ``/api/v1/routes``: plan (solve, draft, publish), dispatch, report execution (stop events)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select

from baton.adapters import orm
from baton.domain.plan import Plan, Route
from baton.entrypoints.api.access import Principal
from baton.entrypoints.api.auth import check_route_access, context, refuse_restricted, require
from baton.entrypoints.api.errors import ApiProblem, FieldError, not_found
from baton.entrypoints.api.idempotency import run_idempotent
from baton.entrypoints.api.queries import active_route_ids, list_plans, plan_status
from baton.entrypoints.api.routes_orders import IdemKey
from baton.entrypoints.api.schemas import ArriveIn, DeliverIn, FailIn, PlanIn, plan_out, route_out
from baton.planning.problem import PlanningOptions
from baton.service_layer import commands
from baton.service_layer.plan_publish import DraftPlan, PublishPlan, plan_etag
from baton.service_layer.unit_of_work import ConcurrencyError

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
    stops and ETAs, and every unassigned order with its reason. By default the plan is published at
    once (current; planned orders become ``planned``); with ``"publish": false`` it is a draft
    (``status: draft``, orders untouched) to publish with ``POST /plans/{id}/publish``."""
    ctx = context(request)

    def run() -> tuple[int, Any, dict[str, str]]:
        options = PlanningOptions(time_limit_s=body.time_limit_s, seed=body.seed,
                                  hard_time_windows=body.hard_time_windows)
        command: commands.Command
        if body.publish:
            command = commands.PlanOrders(at=now(), actor=principal.actor, options=options,
                                          order_ids=body.order_ids, day_start=body.day_start)
        else:
            command = DraftPlan(at=now(), actor=principal.actor, options=options, order_ids=body.order_ids,
                                day_start=body.day_start)
        plan = ctx.bus(principal.org_id).handle(command)
        out, tag = _plan_view(request, principal, plan)
        return 201, out, {"Location": f"/api/v1/plans/{plan.id}", "ETag": tag}

    return run_idempotent(ctx, principal, idempotency_key, "POST", request.url.path, body.model_dump(mode="json"),
                          run)


@router.get("/plans", summary="List plans, newest first")
def get_plans(request: Request, principal: PlansRead, limit: Annotated[int, Query(ge=1, le=200)] = 20,
              offset: Annotated[int, Query(ge=0)] = 0) -> list[dict[str, Any]]:
    refuse_restricted(principal, "listing plans")
    with context(request).sessions() as s:
        return list_plans(s, principal.org_id, limit, offset)


def _plan_view(request: Request, principal: Principal, plan: Plan) -> tuple[dict[str, Any], str]:
    """The plan's JSON (with ``status``: current | draft | superseded) and its ETag."""
    with context(request).sessions() as s:
        tag = plan_etag(s, principal.org_id, plan.id)
        is_current = bool(s.execute(select(orm.plans.c.is_current).where(
            orm.plans.c.org_id == principal.org_id, orm.plans.c.id == plan.id)).scalar())
        status = plan_status(s, principal.org_id, plan.id, is_current)
    return plan_out(plan) | {"status": status}, tag


@router.get("/plans/current", summary="The current plan")
def current_plan(request: Request, response: Response, principal: PlansRead) -> dict[str, Any]:
    refuse_restricted(principal, "reading plans")
    with context(request).uow(principal.org_id) as uow:
        plan = uow.plans.current()
    if plan is None:
        raise not_found("no plan yet")
    out, response.headers["ETag"] = _plan_view(request, principal, plan)
    return out


@router.get("/plans/{plan_id}", summary="A plan with its routes and unassigned orders (ETag)")
def get_plan(request: Request, response: Response, plan_id: str, principal: PlansRead) -> dict[str, Any]:
    refuse_restricted(principal, "reading plans")
    with context(request).uow(principal.org_id) as uow:
        plan = uow.plans.get(plan_id)
    out, response.headers["ETag"] = _plan_view(request, principal, plan)
    return out


@router.post("/plans/{plan_id}/publish", summary="Make a plan current and dispatch-ready (If-Match required)")
def publish_plan(request: Request, response: Response, plan_id: str, principal: PlansWrite,
                 if_match: Annotated[str | None, Header(description="the plan's ETag as read")] = None,
                 ) -> dict[str, Any]:
    """The plan becomes the organisation's current plan; its orders move to ``planned`` on its routes
    (ready for ``POST /routes/{id}/dispatch``) and ``plan.published`` is persisted with them.
    ``If-Match`` must carry the ETag of ``GET /plans/{id}``: 428 without it, 412 when the plan or the
    current plan changed since. 409 when an order of the plan is no longer open (stale draft: re-plan).
    Publishing the current plan again changes nothing (200)."""
    refuse_restricted(principal, "publishing plans")
    if if_match is None:
        raise ApiProblem(428, "precondition-required", "If-Match: is required (send the plan's ETag)",
                         [FieldError("If-Match", "is required", ("header", "If-Match"))])
    ctx = context(request)
    try:
        ctx.bus(principal.org_id).handle(PublishPlan(at=now(), actor=principal.actor, plan_id=plan_id,
                                                     if_match=if_match))
    except ConcurrencyError:
        raise ApiProblem(412, "precondition-failed",
                         f"plan {plan_id} or the current plan changed since it was read; GET it again and retry",
                         [FieldError("If-Match", "does not match the current ETag", ("header", "If-Match"))]) from None
    with ctx.uow(principal.org_id) as uow:
        plan = uow.plans.get(plan_id)
    out, response.headers["ETag"] = _plan_view(request, principal, plan)
    return out


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
