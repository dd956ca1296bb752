"""``/api/v1``: KPIs, exceptions (list and act), the event log, the dashboard state and the live stream (SSE)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from baton.domain.lifecycle import OrderStatus
from baton.entrypoints.api.access import Principal
from baton.entrypoints.api.auth import context, refuse_restricted, require
from baton.entrypoints.api.context import event_message
from baton.entrypoints.api.errors import ApiProblem
from baton.entrypoints.api.operations import dashboard_state, exceptions
from baton.planning.problem import PlanningOptions
from baton.service_layer import commands

router = APIRouter(tags=["operations"])

#: Seconds between SSE keep-alive comments.
KEEPALIVE_S = 15.0
#: Solver budget when an exception's order is re-planned on its own, seconds.
REASSIGN_SECONDS = 2.0


@router.get("/kpis", summary="Key performance indicators of the current plan and its execution")
def kpis(request: Request, principal: Annotated[Principal, Depends(require("kpis:read"))]) -> dict[str, Any]:
    """``orders``, ``delivered``, ``failed``, ``on_time_pct`` (%), ``km``, ``driving_hours``, ``cost`` and
    ``cost_per_delivery`` (in ``currency``), ``vehicles_used``, ``unassigned`` …"""
    refuse_restricted(principal, "KPIs")
    result: dict[str, Any] = dashboard_state(context(request).uow(principal.org_id))["kpis"]
    return result


@router.get("/exceptions", summary="Orders needing a dispatcher: failed attempts and unassigned orders")
def list_exceptions(request: Request,
                    principal: Annotated[Principal, Depends(require("orders:read"))]) -> list[dict[str, Any]]:
    refuse_restricted(principal, "exceptions")
    uow = context(request).uow(principal.org_id)
    with uow:
        current = uow.plans.current()
        unassigned = {u.order_id: u.reason for u in current.unassigned} if current else {}
        orders = [o for s in (OrderStatus.FAILED_ATTEMPT, OrderStatus.RETURNED_TO_DEPOT, OrderStatus.CREATED,
                              OrderStatus.REATTEMPT) for o in uow.orders.list(status=s)]
        return exceptions(uow, orders, unassigned)


@router.post("/exceptions/{order_id}/{action}", summary="Act on an exception: reattempt or reassign")
def act_on_exception(
    request: Request, order_id: str, action: Literal["reattempt", "reassign"],
    principal: Annotated[Principal, Depends(require("orders:write", "plans:write"))],
) -> dict[str, Any]:
    """``reattempt``: a failed order goes back to the queue (``reattempt``). ``reassign``: the order
    (failed ones are first put back in the queue) is planned again on its own, on any vehicle
    (solver budget :data:`REASSIGN_SECONDS` s). Answers ``{order_id, action, status, route_id, reason}``."""
    refuse_restricted(principal, "exceptions")
    ctx = context(request)
    bus = ctx.bus(principal.org_id)
    now = datetime.now(UTC)
    with ctx.uow(principal.org_id) as uow:
        order = uow.orders.get(order_id)
    if order.status in (OrderStatus.FAILED_ATTEMPT, OrderStatus.RETURNED_TO_DEPOT):
        bus.handle(commands.ReattemptOrder(at=now, actor=principal.actor, order_id=order_id,
                                           reason=f"dispatcher: {action}"))
    elif action == "reattempt" or order.status not in (OrderStatus.CREATED, OrderStatus.REATTEMPT):
        raise ApiProblem(409, "conflict", f"order {order_id} is {order.status.value}: nothing to {action}")
    reason = None
    if action == "reassign":
        plan = bus.handle(commands.PlanOrders(at=now, actor=principal.actor, order_ids=[order_id],
                                              options=PlanningOptions(time_limit_s=REASSIGN_SECONDS)))
        reason = next((u.reason for u in plan.unassigned if u.order_id == order_id), None)
    with ctx.uow(principal.org_id) as uow:
        order = uow.orders.get(order_id)
    return {"order_id": order_id, "action": action, "status": order.status.value, "route_id": order.route_id,
            "reason": reason}


@router.get("/events", summary="The latest events of the organisation")
def recent_events(request: Request, principal: Annotated[Principal, Depends(require("events:read"))],
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    refuse_restricted(principal, "the event log")
    return [event_message(e) for e in context(request).uow(principal.org_id).all_events(limit)]


@router.get("/dashboard", summary="Everything the control-tower dashboard draws")
def dashboard(request: Request, principal: Annotated[Principal, Depends(require("plans:read", "orders:read"))],
              ) -> dict[str, Any]:
    """Depots, fleet (status, utilisation %), routes (colour, stops, live vehicle position), orders,
    KPIs and exceptions."""
    refuse_restricted(principal, "the dashboard")
    return dashboard_state(context(request).uow(principal.org_id))


@router.get("/stream", summary="Live events (Server-Sent Events)",
            response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
async def stream(request: Request,
                 principal: Annotated[Principal, Depends(require("events:read"))]) -> StreamingResponse:
    """``text/event-stream``: one ``event: baton`` per committed domain event of the caller's
    organisation (``data`` is ``{name, aggregate_id, occurred_at, actor, payload}``), a
    ``: keep-alive`` comment every 15 s. Starts with ``event: ready``."""
    refuse_restricted(principal, "the live stream")
    ctx = context(request)
    channel = ctx.channel(principal.org_id)

    async def events() -> AsyncIterator[str]:
        async with ctx.pubsub.subscribe(channel) as sub:
            yield "retry: 2000\nevent: ready\ndata: {}\n\n"
            while not await request.is_disconnected():
                message = await sub.get(KEEPALIVE_S)
                if message is None:
                    yield ": keep-alive\n\n"
                else:
                    yield f"event: baton\ndata: {json.dumps(message, default=str)}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
