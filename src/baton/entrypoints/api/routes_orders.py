"""``/api/v1/orders``: create (single, batch), read, search, update (If-Match), cancel, history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError as PydanticValidationError

from baton.domain.lifecycle import OrderStatus
from baton.domain.order import Order
from baton.entrypoints.api.access import Principal
from baton.entrypoints.api.auth import check_route_access, context, refuse_restricted, require
from baton.entrypoints.api.errors import ApiProblem, FieldError, describe, field_name
from baton.entrypoints.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from baton.entrypoints.api.idempotency import run_idempotent
from baton.entrypoints.api.queries import OrderFilter, existing_order_ids, list_orders
from baton.entrypoints.api.schemas import CancelIn, OrderIn, OrderPatch, order_out
from baton.service_layer import commands

router = APIRouter(prefix="/orders", tags=["orders"])

#: Most orders one batch request may carry.
MAX_BATCH = 5000

Read = Annotated[Principal, Depends(require("orders:read"))]
Write = Annotated[Principal, Depends(require("orders:write"))]
IdemKey = Annotated[str | None, Header(alias=IDEMPOTENCY_HEADER, description="makes a retried create safe")]


def now() -> datetime:
    return datetime.now(UTC)


def etag(order: Order) -> str:
    return f'"{order.version}"'


def _load_visible(request: Request, principal: Principal, order_id: str) -> Order:
    ctx = context(request)
    with ctx.uow(principal.org_id) as uow:
        order = uow.orders.get(order_id)
        if principal.restricted:
            if order.route_id is None:
                raise ApiProblem(403, "forbidden", f"order {order_id} is not on one of your routes")
            route = uow.plans.get_route(order.route_id)
            check_route_access(principal, route, {v.id: v for v in uow.vehicles.list()})
    return order


@router.post("", status_code=201, summary="Create an order")
def create_order(request: Request, body: OrderIn, principal: Write, idempotency_key: IdemKey = None) -> JSONResponse:
    """Create one order (state ``created``). 409 when the id exists; with ``Idempotency-Key`` a retry
    returns the first answer."""
    ctx = context(request)

    def run() -> tuple[int, Any, dict[str, str]]:
        order = body.to_domain()
        ctx.bus(principal.org_id).handle(commands.CreateOrders(at=now(), actor=principal.actor, orders=[order]))
        return 201, order_out(order), {"Location": f"/api/v1/orders/{order.id}", "ETag": etag(order)}

    return run_idempotent(ctx, principal, idempotency_key, "POST", request.url.path, body.model_dump(mode="json"),
                          run)


@router.post("/batch", summary="Create many orders; bad rows are reported, good rows created")
def create_orders_batch(
    request: Request, principal: Write,
    orders: Annotated[list[dict[str, Any]], Body(embed=True, max_length=MAX_BATCH)],
    idempotency_key: IdemKey = None,
) -> JSONResponse:
    """Validate each row on its own: ``errors`` lists ``{row, field, message}`` (row 0-based, field as
    ``orders[3].address.lat``); the valid rows are created together. Nothing is created when
    every row is bad (status 422)."""
    ctx = context(request)

    def run() -> tuple[int, Any, dict[str, str]]:
        good: list[Order] = []
        errors: list[dict[str, Any]] = []
        seen: set[str] = set()
        for i, raw in enumerate(orders):
            try:
                order = OrderIn.model_validate(raw).to_domain()
            except PydanticValidationError as exc:
                errors += [{"row": i, "field": f"orders[{i}].{field_name(e['loc'])}", "message": describe(e)}
                           for e in exc.errors()]
                continue
            except ValueError as exc:
                errors.append({"row": i, "field": f"orders[{i}]", "message": str(exc)})
                continue
            if order.id in seen:
                errors.append({"row": i, "field": f"orders[{i}].id", "message": f"duplicate id {order.id} in batch"})
                continue
            seen.add(order.id)
            good.append(order)
        with ctx.sessions() as s:
            taken = existing_order_ids(s, principal.org_id, [o.id for o in good])
        for i, raw in enumerate(orders):
            if isinstance(raw, dict) and raw.get("id") in taken:
                errors.append({"row": i, "field": f"orders[{i}].id", "message": f"order {raw['id']} already exists"})
        good = [o for o in good if o.id not in taken]
        if good:
            ctx.bus(principal.org_id).handle(commands.CreateOrders(at=now(), actor=principal.actor, orders=good))
        errors.sort(key=lambda e: e["row"])
        status = 200 if good or not orders else 422
        return status, {"created": [o.id for o in good], "errors": errors,
                        "rejected_rows": sorted({e["row"] for e in errors})}, {}

    return run_idempotent(ctx, principal, idempotency_key, "POST", request.url.path, orders, run)


@router.get("", summary="Search orders")
def search_orders(
    request: Request, principal: Read,
    status: Annotated[list[OrderStatus] | None, Query(description="any of these states")] = None,
    route_id: str | None = None, sla_tier: str | None = None,
    q: Annotated[str | None, Query(max_length=200, description="text in id, ref, customer or address")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """One page of orders sorted by id: ``items``, ``total``, ``limit``, ``offset``, ``next_offset`` (``null``
    at the end)."""
    refuse_restricted(principal, "searching orders")
    ctx = context(request)
    with ctx.sessions() as s:
        items, total = list_orders(s, principal.org_id, OrderFilter(tuple(status or ()), route_id, sla_tier, q),
                                   limit, offset)
    nxt = offset + limit if offset + limit < total else None
    return {"items": [order_out(o) for o in items], "total": total, "limit": limit, "offset": offset,
            "next_offset": nxt}


@router.get("/{order_id}", summary="Get an order")
def get_order(request: Request, order_id: str, principal: Read, response: Response) -> dict[str, Any]:
    order = _load_visible(request, principal, order_id)
    response.headers["ETag"] = etag(order)
    return order_out(order)


@router.patch("/{order_id}", summary="Update an order's details (If-Match required)")
def update_order(
    request: Request, order_id: str, body: OrderPatch, principal: Write, response: Response,
    if_match: Annotated[str | None, Header(description='the ETag read, e.g. "3"')] = None,
) -> dict[str, Any]:
    """Change details (not the state). ``If-Match`` must carry the order's current ETag: 428 without it,
    412 when the order changed since it was read."""
    if if_match is None:
        raise ApiProblem(428, "precondition-required", "If-Match: is required (send the ETag you read)",
                         [FieldError("If-Match", "is required", ("header", "If-Match"))])
    try:
        expected = int(if_match.strip().removeprefix("W/").strip('"'))
    except ValueError:
        raise ApiProblem(422, "validation-error", "If-Match: must be an ETag like \"3\"",
                         [FieldError("If-Match", 'must be an ETag like "3"', ("header", "If-Match"))]) from None
    ctx = context(request)
    bus = ctx.bus(principal.org_id)
    from baton.service_layer.unit_of_work import ConcurrencyError

    try:
        bus.handle(commands.UpdateOrder(at=now(), actor=principal.actor, order_id=order_id, changes=body.changes(),
                                        expected_version=expected))
    except ConcurrencyError:
        raise ApiProblem(412, "precondition-failed",
                         f"order {order_id} changed since it was read; GET it again and retry",
                         [FieldError("If-Match", "does not match the current ETag", ("header", "If-Match"))]) from None
    order = _load_visible(request, principal, order_id)
    response.headers["ETag"] = etag(order)
    return order_out(order)


@router.post("/{order_id}/cancel", summary="Cancel an order")
def cancel_order(request: Request, order_id: str, principal: Write, body: CancelIn | None = None) -> dict[str, Any]:
    """409 when the order is delivered."""
    ctx = context(request)
    ctx.bus(principal.org_id).handle(commands.CancelOrder(at=now(), actor=principal.actor, order_id=order_id,
                                                          reason=body.reason if body else None))
    return order_out(_load_visible(request, principal, order_id))


@router.get("/{order_id}/events", summary="An order's event history")
def order_events(request: Request, order_id: str, principal: Read) -> list[dict[str, Any]]:
    from baton.entrypoints.api.context import event_message

    _load_visible(request, principal, order_id)
    ctx = context(request)
    return [event_message(e) for e in ctx.uow(principal.org_id).events_for(order_id)]
