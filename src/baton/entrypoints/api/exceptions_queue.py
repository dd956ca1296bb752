"""The dispatcher's exceptions queue: ONE model over order problems and execution exceptions.

Two sources feed the queue (``GET /api/v1/exceptions``, the dashboard's list):

* ``order``: orders needing a decision, derived from their state — a failed attempt (or parcel
  returned to the depot) with the failure reason, or an order the current plan left unassigned
  (with the planner's reason) or waiting for a plan after a reattempt. Id ``order:<order_id>``.
* ``execution``: exceptions opened by the execution monitor (late risk, vehicle stopped, off route,
  no GPS…; :mod:`baton.execute.exceptions`), stored with their action log. Id ``exc:<exception_id>``.

Every item is ``{id, source, kind, status, order_id, route_id, vehicle_id, reason, customer,
attempts, opened_at, actions}``; ``actions`` lists what ``POST /api/v1/exceptions/{id}/{action}``
accepts for it now:

=============== ===================================================================================
``reattempt``   failed order back in the queue (``reattempt``), to be planned again
``reassign``    the order (failed ones first back in the queue) planned again on its own, any vehicle;
                while the day is orchestrated live, put on today's routes by the live board's rescue pass
``notify``      tell the customer (``order.notification_requested``, topic ``delay``; the notify
                area sends it on the customer's channel)
``acknowledge`` a dispatcher owns the execution exception (``exception.acknowledged``)
``resolve``     close the execution exception with a ``resolution`` (``exception.resolved``)
=============== ===================================================================================

Each action is a command through the message bus (events persisted before the answer), recorded
with the caller as actor. ``/api/v1/execution/exceptions/...`` stays the execution area's raw view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Request

from baton.domain.errors import NotFound
from baton.domain.lifecycle import OrderStatus
from baton.entrypoints.api.access import Principal
from baton.entrypoints.api.auth import context
from baton.entrypoints.api.errors import ApiProblem, FieldError
from baton.entrypoints.api.operations import exceptions as order_exceptions
from baton.execute.records import ExceptionRecord, ExecutionRecords
from baton.planning.problem import PlanningOptions
from baton.service_layer import commands
from baton.service_layer.unit_of_work import SqlAlchemyUnitOfWork

#: Solver budget when an exception's order is re-planned on its own, seconds.
REASSIGN_SECONDS = 2.0
ACTIONS = ("reattempt", "reassign", "notify", "acknowledge", "resolve")
OPEN_ORDER_STATES = (OrderStatus.FAILED_ATTEMPT, OrderStatus.RETURNED_TO_DEPOT, OrderStatus.CREATED,
                     OrderStatus.REATTEMPT)


def _execution_item(e: ExceptionRecord, customers: dict[str, str]) -> dict[str, Any]:
    actions = ["acknowledge", "resolve"] if e.status == "open" else ["resolve"]
    if e.order_id:
        actions.append("notify")
    details = e.details if isinstance(e.details, dict) else {}
    reason = str(details.get("reason") or details.get("message") or e.kind.replace("_", " "))
    return {"id": f"exc:{e.id}", "source": "execution", "kind": e.kind, "status": e.status, "order_id": e.order_id,
            "route_id": e.route_id, "vehicle_id": e.vehicle_id, "reason": reason,
            "customer": customers.get(e.order_id or "", ""), "attempts": None,
            "opened_at": e.opened_at.isoformat(), "needs_dispatcher": e.needs_dispatcher, "actions": actions}


def queue(uow: SqlAlchemyUnitOfWork, orders: list[Any] | None = None,
          unassigned: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The organisation's open exceptions, execution ones first (newest first), then order ones.

    ``orders``/``unassigned`` (the organisation's orders, the current plan's unassigned reasons) are
    read here when not given; call inside ``with uow``.
    """
    if orders is None or unassigned is None:
        current = uow.plans.current()
        unassigned = {u.order_id: u.reason for u in current.unassigned} if current else {}
        orders = [o for s in OPEN_ORDER_STATES for o in uow.orders.list(status=s)]
    assert uow.session is not None
    records = [e for e in ExecutionRecords(uow.session, uow.org_id).exceptions() if e.status != "resolved"]
    records.sort(key=lambda e: e.opened_at, reverse=True)
    wanted = [e.order_id for e in records if e.order_id]
    customers = {o.id: o.customer.name for o in orders}
    missing = [i for i in wanted if i not in customers]
    if missing:
        customers.update({o.id: o.customer.name for o in uow.orders.get_many(list(dict.fromkeys(missing)))})
    order_items = order_exceptions(uow, orders, unassigned)
    failed = {x["order_id"] for x in order_items if x["kind"] == "failed_attempt"}
    # the monitor's failed_attempt exception and the failed order are one problem: shown once, as the order
    linked = {e.order_id: e.id for e in records if e.kind == "failed_attempt" and e.order_id in failed}
    shown_as_order = set(linked.values())
    items = [_execution_item(e, customers) for e in records if e.id not in shown_as_order]
    for x in order_items:
        actions = [*x["actions"], "notify"]
        link = linked.get(x["order_id"])
        items.append(x | {"id": f"order:{x['order_id']}", "source": "order", "route_id": None, "vehicle_id": None,
                          "opened_at": None, "needs_dispatcher": True, "actions": actions,
                          "exception_id": f"exc:{link}" if link else None})
    return items


def _close_linked(request: Request, principal: Principal, order_id: str, action: str) -> None:
    """Resolve the monitor's open ``failed_attempt`` exception of ``order_id`` once the dispatcher acted."""
    ctx = context(request)
    with ctx.uow(principal.org_id) as uow:
        assert uow.session is not None
        open_ = [e for e in ExecutionRecords(uow.session, uow.org_id).exceptions(kind="failed_attempt")
                 if e.order_id == order_id and e.status != "resolved"]
    for e in open_:
        ctx.bus(principal.org_id).handle(commands.ResolveException(
            at=datetime.now(UTC), actor=principal.actor, exception_id=e.id, resolution=f"dispatcher: {action}"))


@dataclass(frozen=True)
class Ref:
    """A queue item id parsed: ``source`` is ``order`` or ``execution``, ``key`` the order or exception id."""

    source: str
    key: str


def parse_ref(ref: str) -> Ref:
    """``order:<id>``, ``exc:<id>``, or a bare order id (the form before execution exceptions joined)."""
    if ref.startswith("exc:"):
        return Ref("execution", ref[4:])
    return Ref("order", ref.removeprefix("order:"))


def act(request: Request, principal: Principal, ref: str, action: str, note: str | None) -> dict[str, Any]:
    """Run ``action`` on the queue item ``ref``; answers ``{id, action, outcome, order_id, status,
    route_id, reason}`` (``status``: the order's or the exception's, after the action).

    Raises:
        ApiProblem: 404 unknown item; 409 when the action does not apply to it now; 422 for ``resolve``
            without a ``note`` (the resolution).
    """
    item = parse_ref(ref)
    if action not in _allowed(item.source):
        raise ApiProblem(409, "conflict", f"{action} does not apply to {item.source} exceptions "
                                          f"(try one of {', '.join(_allowed(item.source))})")
    if item.source == "execution":
        return _act_execution(request, principal, item.key, action, note)
    return _act_order(request, principal, item.key, action, note)


def _allowed(source: str) -> tuple[str, ...]:
    return ("acknowledge", "resolve", "notify") if source == "execution" else ("reattempt", "reassign", "notify")


def _notify(request: Request, principal: Principal, order_id: str, note: str | None,
            exception_id: str | None = None) -> None:
    context(request).bus(principal.org_id).handle(commands.RequestCustomerNotifications(
        at=datetime.now(UTC), actor=principal.actor, order_ids=[order_id], topic="delay",
        exception_id=exception_id, message=note or "dispatcher: customer informed of the delay"))


def _act_execution(request: Request, principal: Principal, exception_id: str, action: str,
                   note: str | None) -> dict[str, Any]:
    ctx = context(request)
    with ctx.uow(principal.org_id) as uow:
        assert uow.session is not None
        found = ExecutionRecords(uow.session, uow.org_id).get_exception(exception_id)
    if found is None:
        raise NotFound(f"unknown exception exc:{exception_id}")
    now = datetime.now(UTC)
    if action == "notify":
        if not found.order_id:
            raise ApiProblem(409, "conflict", f"exception exc:{exception_id} concerns no order: nobody to notify")
        _notify(request, principal, found.order_id, note, exception_id)
    else:
        command: commands.Command
        if action == "acknowledge":
            command = commands.AcknowledgeException(at=now, actor=principal.actor, exception_id=exception_id,
                                                    note=note)
        else:
            if not (note or "").strip():
                raise ApiProblem(422, "validation-error", "note: say how the exception was resolved",
                                 [FieldError("note", "is required to resolve", ("body", "note"))])
            command = commands.ResolveException(at=now, actor=principal.actor, exception_id=exception_id,
                                                resolution=str(note))
        runtimes = getattr(request.app.state, "execution", None)  # TenantRuntimes (mount_execution)
        runtime = runtimes.get(principal.org_id) if runtimes is not None else None
        if runtime is not None:
            with runtime.lock:  # the organisation's execution monitor works on the same records
                ctx.bus(principal.org_id).handle(command)
        else:
            ctx.bus(principal.org_id).handle(command)
    with ctx.uow(principal.org_id) as uow:
        assert uow.session is not None
        after = ExecutionRecords(uow.session, uow.org_id).get_exception(exception_id)
    assert after is not None
    return {"id": f"exc:{exception_id}", "action": action, "outcome": "done", "order_id": after.order_id,
            "status": after.status, "route_id": after.route_id, "reason": None}


def _act_order(request: Request, principal: Principal, order_id: str, action: str,
               note: str | None) -> dict[str, Any]:
    ctx = context(request)
    bus = ctx.bus(principal.org_id)
    now = datetime.now(UTC)
    with ctx.uow(principal.org_id) as uow:
        order = uow.orders.get(order_id)
    reason = None
    if action == "notify":
        if order.status in (OrderStatus.DELIVERED, OrderStatus.CANCELLED):
            raise ApiProblem(409, "conflict", f"order {order_id} is {order.status.value}: nothing to notify")
        _notify(request, principal, order_id, note)
    else:
        if order.status in (OrderStatus.FAILED_ATTEMPT, OrderStatus.RETURNED_TO_DEPOT):
            bus.handle(commands.ReattemptOrder(at=now, actor=principal.actor, order_id=order_id,
                                               reason=note or f"dispatcher: {action}"))
            _close_linked(request, principal, order_id, action)
        elif action == "reattempt" or order.status not in (OrderStatus.CREATED, OrderStatus.REATTEMPT):
            raise ApiProblem(409, "conflict", f"order {order_id} is {order.status.value}: nothing to {action}")
        live = ctx.live.get(principal.org_id)
        if action == "reassign" and live is not None and live.active:
            # the day is orchestrated: the live board's rescue pass tries it on today's routes (fast path)
            live.handle(commands.RescueLivePlan(at=now, actor=principal.actor))
            plan_now = live.board.plan
            reason = plan_now.unassigned.get(order_id) if plan_now is not None else None
        elif action == "reassign":
            plan = bus.handle(commands.PlanOrders(at=now, actor=principal.actor, order_ids=[order_id],
                                                  options=PlanningOptions(time_limit_s=REASSIGN_SECONDS)))
            reason = next((u.reason for u in plan.unassigned if u.order_id == order_id), None)
    with ctx.uow(principal.org_id) as uow:
        order = uow.orders.get(order_id)
    return {"id": f"order:{order_id}", "action": action, "outcome": "done", "order_id": order_id,
            "status": order.status.value, "route_id": order.route_id, "reason": reason}
