"""HTTP endpoints for dispatch: carriers, decisions and tenders, gig couriers' offers, and carriers'
inbound webhooks (status feeds and tender answers).

Two routers:

* :data:`router` — behind the API's authentication (:func:`baton.entrypoints.api.auth.require`), every
  read and write confined to the caller's organisation; mounted under ``/api/v1`` by
  :func:`baton.entrypoints.api.features.mount_dispatch`. Errors are ``application/problem+json``.

  ============================================  ===========================  ============================
  endpoint                                       scope                        who
  ============================================  ===========================  ============================
  ``GET /dispatch/carriers``                     ``fleet:read``               not drivers/carriers
  ``POST /dispatch/carriers``                    ``fleet:write``              admins (201; 409 id taken)
  ``GET /dispatch/carriers/{carrier_id}``        ``fleet:read``               not drivers/carriers
  ``PUT /dispatch/carriers/{carrier_id}``        ``fleet:write``              admins (replace; 404 unknown)
  ``GET /dispatch/carriers/{carrier_id}/health`` ``fleet:read``               not drivers/carriers
  ``POST /dispatch/carriers/{carrier_id}/down``  ``plans:write``              dispatchers ``{"reason"}``
  ``POST /dispatch/run``                         ``plans:write``              dispatchers ``{"order_ids"?}``
  ``GET /dispatch/tenders``                      ``plans:read``               not drivers/carriers
  ``GET /dispatch/orders/{order_id}``            ``plans:read orders:read``   not drivers/carriers
  ``GET /dispatch/offers``                       ``routes:read``              couriers: their own only
                                                                              (``?include_closed=true``)
  ``POST /dispatch/offers/{order_id}/accept``    ``execution:write``          the courier offered to
  ``POST /dispatch/offers/{order_id}/decline``   ``execution:write``          the courier offered to
  ============================================  ===========================  ============================

  Carrier bodies are carrier documents (the fields of ``examples/carriers.yaml``, see
  :mod:`baton.dispatch.carrier_file`); an invalid one answers 422 naming the field. Carriers are shown
  without their ``webhook_secret``. ``GET /dispatch/orders/{order_id}`` is the decision trail
  (:func:`baton.service_layer.dispatch_views.explain_order`). Offers are shaped by
  :func:`baton.service_layer.dispatch_views.offer_view`; answering an offer that has expired answers
  409 with ``tender_state`` (the order has already moved on).

* :func:`make_webhook_router` — carriers' machine-to-machine endpoints, authenticated by an HMAC-SHA256
  signature of the raw body under the carrier's ``webhook_secret`` (header per feed format, see
  :mod:`baton.dispatch.feeds`), not by user credentials; mounted by ``mount_dispatch`` as its own
  sub-application at ``/api/v1/hooks/dispatch/{org_id}``:

  * ``POST .../carriers/{carrier_id}/status`` — a status message (or CSV batch) in the carrier's format
    -> 202 ``{"received": n, "applied": m}``; 401 bad/missing signature; 400 malformed (names the
    field); 404 unknown carrier; 409 order not assigned to that carrier.
  * ``POST .../tenders/{tender_id}/response`` — ``{"decision": "accepted"|"rejected", "reason": ""}``
    signed like the generic feed (``X-Baton-Signature``) -> 200 ``{"tender_id", "state"}``; 409 when
    the tender is closed (late accept after timeout), with its state.

:func:`make_dispatch_router` (webhooks plus ``GET /dispatch/orders/{order_id}/explain`` guarded by
``read_dependencies``) serves a single message bus, for embedding and tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.params import Depends as DependsParam
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from baton.adapters.carriers.repository import dispatch_store
from baton.dispatch.carrier_file import carrier_to_dict, load_carriers
from baton.dispatch.carriers import Carrier
from baton.dispatch.feeds import FeedError, authenticate, parse_feed
from baton.dispatch.source import SourceError
from baton.dispatch.tender import TenderClosed, TenderState
from baton.domain.errors import NotFound, ValidationError
from baton.entrypoints.api.access import Principal
from baton.entrypoints.api.auth import context, require
from baton.entrypoints.api.errors import ApiProblem, FieldError, forbidden
from baton.service_layer import commands
from baton.service_layer.dispatch_views import (
    courier_offer_for,
    driver_offers,
    explain_order,
    offer_view,
)
from baton.service_layer.messagebus import MessageBus
from baton.service_layer.prove_hooks import feed_pod_commands  # issue 9: carrier PODs from feeds


def _now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------------------
# Authenticated router (mounted under /api/v1)
# ---------------------------------------------------------------------------------------------------

router = APIRouter(prefix="/dispatch", tags=["dispatch"])

FleetRead = Annotated[Principal, Depends(require("fleet:read"))]
FleetWrite = Annotated[Principal, Depends(require("fleet:write"))]
PlansRead = Annotated[Principal, Depends(require("plans:read"))]
PlansWrite = Annotated[Principal, Depends(require("plans:write"))]
OrderTrail = Annotated[Principal, Depends(require("plans:read", "orders:read"))]
OffersRead = Annotated[Principal, Depends(require("routes:read"))]
OffersWrite = Annotated[Principal, Depends(require("execution:write"))]


def _bus(request: Request, principal: Principal) -> MessageBus:
    return context(request).bus(principal.org_id)


def _not_restricted(principal: Principal, what: str) -> None:
    if principal.restricted:
        raise forbidden(f"{what}: not available to driver or carrier credentials")


def _carrier_json(c: Carrier, bus: MessageBus, load: dict[str, int]) -> dict[str, Any]:
    """The carrier document without its webhook secret, plus ``health`` and today's ``load``."""
    doc = {k: v for k, v in carrier_to_dict(c).items() if k != "webhook_secret"}
    doc["webhook_secret_set"] = c.webhook_secret is not None
    b = dispatch_store(bus.uow).health(c.id)
    doc["health"] = {"state": b.state.value, "failures": b.failures, "reason": b.reason,
                     "opened_at": b.opened_at.isoformat() if b.opened_at else None,
                     "last_status_at": b.last_status_at.isoformat() if b.last_status_at else None}
    doc["load"] = load.get(c.id, 0)
    return doc


def _parse_carrier(body: Any, path_id: str | None = None) -> Carrier:
    """A carrier from a request body (a carrier document); 422 naming the field when invalid."""
    if not isinstance(body, dict):
        raise ApiProblem(422, "validation-error", "body: must be a carrier object",
                         [FieldError("body", "must be a carrier object", ("body",))])
    if path_id is not None:
        if "id" in body and body["id"] != path_id:
            raise ApiProblem(422, "validation-error", f"id: {body['id']!r} differs from the path's {path_id!r}",
                             [FieldError("id", "differs from the carrier id in the path", ("body", "id"))])
        body = {**body, "id": path_id}
    try:
        return load_carriers(json.dumps({"carriers": [body]}), "body")[0]
    except SourceError as exc:
        name = exc.path.removeprefix("carriers[0]").lstrip(".") or "body"
        raise ApiProblem(422, "validation-error", f"{name}: {exc.detail}",
                         [FieldError(name, exc.detail, ("body", *name.split(".")))]) from None


@router.get("/carriers", summary="Carriers (captive, 3PL, gig) with health and today's load")
def list_carriers(request: Request, principal: FleetRead) -> list[dict[str, Any]]:
    _not_restricted(principal, "carriers")
    bus = _bus(request, principal)
    with bus.uow:
        store = dispatch_store(bus.uow)
        carriers = store.carriers()
        load = store.load_by_carrier(_now(), {c.id: c.timezone for c in carriers})
        return [_carrier_json(c, bus, load) for c in carriers]


@router.post("/carriers", status_code=201, summary="Add a carrier")
def create_carrier(request: Request, principal: FleetWrite,
                   body: Any = Body(...)) -> dict[str, Any]:  # noqa: B008
    carrier = _parse_carrier(body)
    bus = _bus(request, principal)
    with bus.uow:
        if any(c.id == carrier.id for c in dispatch_store(bus.uow).carriers()):
            raise ApiProblem(409, "conflict", f"id: carrier {carrier.id!r} already exists; PUT to replace it",
                             [FieldError("id", "already exists", ("body", "id"))])
    bus.handle(commands.RegisterCarriers(at=_now(), actor=principal.actor, carriers=[carrier]))
    return get_carrier(request, principal, carrier.id)


@router.get("/carriers/{carrier_id}", summary="One carrier with health and today's load")
def get_carrier(request: Request, principal: FleetRead, carrier_id: str) -> dict[str, Any]:
    _not_restricted(principal, "carriers")
    bus = _bus(request, principal)
    with bus.uow:
        store = dispatch_store(bus.uow)
        carrier = store.carrier(carrier_id)  # NotFound -> 404
        return _carrier_json(carrier, bus, store.load_by_carrier(_now(), {carrier.id: carrier.timezone}))


@router.put("/carriers/{carrier_id}", summary="Replace a carrier's definition")
def update_carrier(request: Request, principal: FleetWrite, carrier_id: str,
                   body: Any = Body(...)) -> dict[str, Any]:  # noqa: B008
    bus = _bus(request, principal)
    with bus.uow:
        dispatch_store(bus.uow).carrier(carrier_id)  # NotFound -> 404
    carrier = _parse_carrier(body, carrier_id)
    bus.handle(commands.RegisterCarriers(at=_now(), actor=principal.actor, carriers=[carrier]))
    return get_carrier(request, principal, carrier_id)


@router.get("/carriers/{carrier_id}/health", summary="A carrier's circuit breaker")
def carrier_health(request: Request, principal: FleetRead, carrier_id: str) -> dict[str, Any]:
    health: dict[str, Any] = get_carrier(request, principal, carrier_id)["health"]
    return {"carrier_id": carrier_id, **health}


class DownIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


@router.post("/carriers/{carrier_id}/down", summary="Take a carrier out of service; re-tender its open orders")
def carrier_down(request: Request, principal: PlansWrite, carrier_id: str, body: DownIn) -> dict[str, Any]:
    n = _bus(request, principal).handle(commands.MarkCarrierDown(at=_now(), actor=principal.actor,
                                                                 carrier_id=carrier_id, reason=body.reason))
    return {"carrier_id": carrier_id, "retendered": n}


class RunIn(BaseModel):
    order_ids: list[str] | None = Field(default=None, max_length=5000)


@router.post("/run", summary="Decide and tender created orders (all without a decision, or order_ids)")
def run_dispatch(request: Request, principal: PlansWrite, body: RunIn) -> dict[str, Any]:
    summary = _bus(request, principal).handle(commands.DispatchOrders(at=_now(), actor=principal.actor,
                                                                      order_ids=body.order_ids))
    return {"states": summary, "orders": sum(summary.values())}


def _tender_json(t: Any) -> dict[str, Any]:
    return {"id": t.id, "order_id": t.order_id, "carrier": t.carrier_id, "driver_id": t.driver_id,
            "state": t.state.value, "offered_at": t.offered_at.isoformat(), "expires_at": t.expires_at.isoformat(),
            "responded_at": t.responded_at.isoformat() if t.responded_at else None, "reason": t.reason,
            "price": t.price}


@router.get("/tenders", summary="Tenders, newest first")
def list_tenders(request: Request, principal: PlansRead, state: TenderState | None = None,
                 carrier_id: str | None = None, driver_id: str | None = None, order_id: str | None = None,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[dict[str, Any]]:
    _not_restricted(principal, "tenders")
    bus = _bus(request, principal)
    with bus.uow:
        found = dispatch_store(bus.uow).list_tenders(state=state, carrier_id=carrier_id, driver_id=driver_id,
                                                     order_id=order_id, limit=limit)
        return [_tender_json(t) for t in found]


@router.get("/orders/{order_id}", summary="An order's dispatch: decisions explained, tenders, event trail")
def order_dispatch(request: Request, principal: OrderTrail, order_id: str) -> dict[str, Any]:
    _not_restricted(principal, "dispatch decisions")
    return explain_order(_bus(request, principal).uow, order_id)  # NotFound -> 404


@router.get("/offers", summary="Offers made to gig couriers (a courier's credential: their own)")
def list_offers(request: Request, principal: OffersRead, driver_id: str | None = None,
                include_closed: bool = False) -> list[dict[str, Any]]:
    if principal.restricted:
        if principal.driver_id is None:
            raise forbidden("offers: only gig couriers (driver credentials) have offers")
        if driver_id is not None and driver_id != principal.driver_id:
            raise forbidden("driver_id: you may only list your own offers")
        driver_id = principal.driver_id
    bus = _bus(request, principal)
    if driver_id is not None:
        return driver_offers(bus.uow, driver_id, open_only=not include_closed)
    with bus.uow:
        state = None if include_closed else TenderState.OFFERED
        found = [t for t in dispatch_store(bus.uow).list_tenders(state=state) if t.driver_id is not None]
        return [offer_view(bus.uow, t) for t in found]


class DeclineIn(BaseModel):
    reason: str = Field(default="", max_length=500)


def _answer(request: Request, principal: Principal, order_id: str, accepted: bool, reason: str) -> dict[str, Any]:
    if principal.driver_id is None:
        raise forbidden("only the gig courier an offer was made to can answer it (a driver credential)")
    bus = _bus(request, principal)
    tender_id = courier_offer_for(bus.uow, order_id, principal.driver_id)  # NotFound -> 404
    try:
        bus.handle(commands.RespondToTender(at=_now(), actor=principal.actor, tender_id=tender_id,
                                            accepted=accepted, reason=reason, driver_id=principal.driver_id))
    except TenderClosed as exc:
        raise ApiProblem(409, "tender-closed", str(exc), extra={"tender_state": exc.state}) from None
    with bus.uow:
        return offer_view(bus.uow, dispatch_store(bus.uow).tender(tender_id))


@router.post("/offers/{order_id}/accept", summary="A gig courier accepts the offer of an order")
def accept_offer(request: Request, principal: OffersWrite, order_id: str) -> dict[str, Any]:
    return _answer(request, principal, order_id, True, "")


@router.post("/offers/{order_id}/decline", summary="A gig courier declines the offer of an order")
def decline_offer(request: Request, principal: OffersWrite, order_id: str,
                  body: DeclineIn | None = None) -> dict[str, Any]:
    return _answer(request, principal, order_id, False, body.reason if body else "")


# ---------------------------------------------------------------------------------------------------
# Carriers' webhooks (HMAC-authenticated)
# ---------------------------------------------------------------------------------------------------

def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def _carrier(bus: MessageBus, carrier_id: str) -> Carrier | None:
    with bus.uow:
        try:
            return dispatch_store(bus.uow).carrier(carrier_id)
        except NotFound:
            return None


def make_webhook_router(bus_for: Callable[[Request], MessageBus],
                        clock: Callable[[], datetime] = _now, prefix: str = "/dispatch") -> APIRouter:
    """The carriers' webhook endpoints (see the module docstring) under ``prefix`` on the bus
    ``bus_for(request)``; ``clock`` gives the instant of each command."""
    hooks = APIRouter(prefix=prefix, tags=["dispatch webhooks"])

    @hooks.post("/carriers/{carrier_id}/status", status_code=202)
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
        # issue 9 (prove helper): carrier PODs in the feed carry their evidence (recipient, signature/photos, GPS)
        for pod_command in feed_pod_commands(carrier_id, carrier.feed_format, body, updates, clock()):
            await run_in_threadpool(bus.handle, pod_command)
        return {"received": len(updates), "applied": applied}

    @hooks.post("/tenders/{tender_id}/response")
    async def tender_response(tender_id: str, request: Request) -> Any:
        bus = bus_for(request)

        def find() -> str | None:
            with bus.uow:
                try:
                    return dispatch_store(bus.uow).tender(tender_id).carrier_id
                except NotFound:
                    return None

        carrier_id = await run_in_threadpool(find)
        if carrier_id is None:
            return _error(404, f"unknown tender {tender_id!r}")
        carrier = await run_in_threadpool(_carrier, bus, carrier_id)
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
        except ValidationError as exc:  # an offer made to a gig courier: only the courier answers it
            return _error(409, str(exc))
        return {"tender_id": tender_id, "state": state}

    return hooks


def make_dispatch_router(bus_for: Callable[[Request], MessageBus],
                         read_dependencies: Sequence[DependsParam] = (),
                         clock: Callable[[], datetime] = _now) -> APIRouter:
    """The webhooks plus ``GET /dispatch/orders/{order_id}/explain`` (guarded by ``read_dependencies``)
    on one bus, for embedding Baton's dispatch in another application and for tests."""
    out = make_webhook_router(bus_for, clock)

    @out.get("/orders/{order_id}/explain", dependencies=list(read_dependencies))
    def explain(order_id: str, request: Request) -> Any:
        try:
            return explain_order(bus_for(request).uow, order_id)
        except NotFound as exc:
            return _error(404, str(exc))

    return out


__all__ = ["make_dispatch_router", "make_webhook_router", "router"]
