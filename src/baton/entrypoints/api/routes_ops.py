"""``/api/v1``: KPIs, exceptions (list and act), the event log, the dashboard state and the live stream (SSE)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from baton.entrypoints.api.access import Principal
from baton.entrypoints.api.auth import context, refuse_restricted, require
from baton.entrypoints.api.context import event_message
from baton.entrypoints.api.exceptions_queue import act, queue
from baton.entrypoints.api.operations import dashboard_state

router = APIRouter(tags=["operations"])

#: Seconds between SSE keep-alive comments.
KEEPALIVE_S = 15.0


@router.get("/kpis", summary="Key performance indicators of the current plan and its execution")
def kpis(request: Request, principal: Annotated[Principal, Depends(require("kpis:read"))]) -> dict[str, Any]:
    """``orders``, ``delivered``, ``failed``, ``on_time_pct`` (%), ``km``, ``driving_hours``, ``cost`` and
    ``cost_per_delivery`` (in ``currency``), ``vehicles_used``, ``unassigned`` …"""
    refuse_restricted(principal, "KPIs")
    result: dict[str, Any] = dashboard_state(context(request).uow(principal.org_id))["kpis"]
    return result


@router.get("/exceptions", summary="The exceptions queue: order problems and execution exceptions, one model")
def list_exceptions(request: Request,
                    principal: Annotated[Principal, Depends(require("orders:read"))]) -> list[dict[str, Any]]:
    """Items ``{id (order:<id> | exc:<id>), source (order | execution), kind, status, order_id, route_id,
    vehicle_id, reason, customer, attempts, opened_at, needs_dispatcher, actions}``; see
    :mod:`baton.entrypoints.api.exceptions_queue`."""
    refuse_restricted(principal, "exceptions")
    uow = context(request).uow(principal.org_id)
    with uow:
        return queue(uow)


class ExceptionActionIn(BaseModel):
    """``note``: free text kept with the action (the resolution for ``resolve``, required there; the
    message for ``notify``)."""

    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(None, max_length=2000)


@router.post("/exceptions/{exception_id}/{action}", summary="Act on an exception (one click on the dashboard)")
def act_on_exception(
    request: Request, exception_id: str, action: Literal["reattempt", "reassign", "notify", "acknowledge", "resolve"],
    principal: Annotated[Principal, Depends(require("orders:write", "plans:write"))],
    body: ExceptionActionIn | None = None,
) -> dict[str, Any]:
    """``exception_id`` is a queue item id (``order:<order_id>``, ``exc:<id>``; a bare order id also works).
    Order items: ``reattempt``, ``reassign`` (planned again on its own, solver budget 2 s), ``notify``.
    Execution items: ``acknowledge``, ``resolve`` (``note`` = the resolution), ``notify`` (when it
    concerns an order). Answers ``{id, action, outcome, order_id, status, route_id, reason}``;
    409 when the action does not apply to the item now."""
    refuse_restricted(principal, "exceptions")
    return act(request, principal, exception_id, action, body.note if body else None)


@router.get("/events", summary="The latest events of the organisation")
def recent_events(request: Request, principal: Annotated[Principal, Depends(require("events:read"))],
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    refuse_restricted(principal, "the event log")
    return [event_message(e) for e in context(request).uow(principal.org_id).all_events(limit)]


@router.get("/dashboard", summary="Everything the control-tower dashboard draws")
def dashboard(request: Request, principal: Annotated[Principal, Depends(require("plans:read", "orders:read"))],
              ) -> dict[str, Any]:
    """Depots, fleet (status, utilisation %), routes (colour, stops, live vehicle position), orders,
    KPIs, exceptions and ``live`` (whether the day is orchestrated: ``GET /live``)."""
    refuse_restricted(principal, "the dashboard")
    ctx = context(request)
    return dashboard_state(ctx.uow(principal.org_id)) | {"live": ctx.live.status(principal.org_id)}


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
