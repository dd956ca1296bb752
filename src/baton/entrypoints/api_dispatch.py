"""HTTP endpoints for dispatch: carriers' inbound status webhooks and tender answers, and the
per-order decision explanation.

Build the router with :func:`make_dispatch_router` and include it in the app::

    app.include_router(make_dispatch_router(bus_for=lambda request: ..., read_dependencies=[...]))

``bus_for(request)`` returns the :class:`~baton.service_layer.messagebus.MessageBus` of the
organisation the request is for. Carrier endpoints are authenticated by an HMAC-SHA256 signature of
the raw body under the carrier's ``webhook_secret`` (header per feed format, see
:mod:`baton.dispatch.feeds`), not by user credentials; ``read_dependencies`` (e.g. the API's
auth/scope dependencies) guard the explanation endpoint.

* ``POST /dispatch/carriers/{carrier_id}/status`` — a status message (or CSV batch) in the carrier's
  format -> 202 ``{"received": n, "applied": m}``; 401 bad/missing signature; 400 malformed (names
  the field); 404 unknown carrier; 409 order not assigned to that carrier.
* ``POST /dispatch/tenders/{tender_id}/response`` — ``{"decision": "accepted"|"rejected", "reason": ""}``
  signed like the generic feed (``X-Baton-Signature``) -> 200 ``{"tender_id", "state"}``; 409 when the
  tender is closed (late accept after timeout), with its state.
* ``GET /dispatch/orders/{order_id}/explain`` — the decision trail (see
  :func:`baton.service_layer.dispatch_handlers.explain_order`); 404 when the order has no dispatch record.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.params import Depends
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from baton.adapters.carriers.repository import dispatch_store
from baton.dispatch.carriers import Carrier
from baton.dispatch.feeds import FeedError, authenticate, parse_feed
from baton.dispatch.tender import TenderClosed
from baton.domain.errors import NotFound, ValidationError
from baton.service_layer import commands
from baton.service_layer.dispatch_handlers import explain_order
from baton.service_layer.messagebus import MessageBus


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def _carrier(bus: MessageBus, carrier_id: str) -> Carrier | None:
    with bus.uow:
        try:
            return dispatch_store(bus.uow).carrier(carrier_id)
        except NotFound:
            return None


def make_dispatch_router(bus_for: Callable[[Request], MessageBus],
                         read_dependencies: Sequence[Depends] = (),
                         clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> APIRouter:
    """The dispatch router (see the module docstring); ``clock`` gives the instant of each command."""
    router = APIRouter(prefix="/dispatch", tags=["dispatch"])

    @router.post("/carriers/{carrier_id}/status", status_code=202)
    async def carrier_status(carrier_id: str, request: Request) -> Any:
        bus = bus_for(request)
        carrier = await run_in_threadpool(_carrier, bus, carrier_id)
        if carrier is None:
            return _error(404, f"unknown carrier {carrier_id!r}")
        body = await request.body()
        try:
            updates = parse_feed(carrier, body, dict(request.headers))
        except FeedError as exc:
            return _error(exc.status_code, str(exc))
        try:
            applied = await run_in_threadpool(bus.handle, commands.IngestCarrierStatus(
                at=clock(), actor=f"carrier:{carrier_id}", updates=updates))
        except ValidationError as exc:
            return _error(409, str(exc))
        except NotFound as exc:
            return _error(404, str(exc))
        return {"received": len(updates), "applied": applied}

    @router.post("/tenders/{tender_id}/response")
    async def tender_response(tender_id: str, request: Request) -> Any:
        bus = bus_for(request)
        with bus.uow:
            try:
                carrier_id = dispatch_store(bus.uow).tender(tender_id).carrier_id
            except NotFound:
                return _error(404, f"unknown tender {tender_id!r}")
        carrier = _carrier(bus, carrier_id)
        if carrier is None:
            return _error(404, f"unknown carrier {carrier_id!r}")
        body = await request.body()
        generic = Carrier(carrier.id, carrier.name, carrier.fleet_type, webhook_secret=carrier.webhook_secret)
        try:
            authenticate(generic, body, dict(request.headers))
            data = json.loads(body)
        except FeedError as exc:
            return _error(exc.status_code, str(exc))
        except ValueError:
            return _error(400, "body is not valid JSON")
        decision = data.get("decision") if isinstance(data, dict) else None
        if decision not in ("accepted", "rejected"):
            return _error(400, f"decision: must be 'accepted' or 'rejected', got {decision!r}")
        try:
            state = await run_in_threadpool(bus.handle, commands.RespondToTender(
                at=clock(), actor=f"carrier:{carrier_id}", tender_id=tender_id, accepted=decision == "accepted",
                reason=str(data.get("reason") or "")))
        except TenderClosed as exc:
            return _error(409, str(exc), tender_state=exc.state)
        return {"tender_id": tender_id, "state": state}

    @router.get("/orders/{order_id}/explain", dependencies=list(read_dependencies))
    def explain(order_id: str, request: Request) -> Any:
        try:
            return explain_order(bus_for(request).uow, order_id)
        except NotFound as exc:
            return _error(404, str(exc))

    return router
