"""Command handlers for dispatch (issue 6), registered in :data:`baton.service_layer.handlers.COMMAND_HANDLERS`.

Each handler runs in a unit of work; the workflow steps (:class:`~baton.service_layer.dispatch_flow.Dispatcher`)
commit state and events together before any call to a carrier. The reads (an order's dispatch story
behind ``baton dispatch explain``, a courier's offers, route validation) are in
:mod:`baton.service_layer.dispatch_views`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from baton.adapters.carriers.repository import dispatch_store
from baton.dispatch.drivers import assign_drivers as match_drivers
from baton.dispatch.drivers import cell_of
from baton.dispatch.events import (
    CarrierRecovered,
    CarrierRegistered,
    CarrierStatusReceived,
    DispatchException,
    RouteDriverAssigned,
    RulesLoaded,
    TenderAccepted,
    TenderLateResponseRefused,
    TenderRejected,
    TenderTimedOut,
)
from baton.dispatch.tender import ProcessState, TenderClosed
from baton.domain.errors import NotFound, ValidationError
from baton.domain.lifecycle import OrderStatus
from baton.domain.order import Order
from baton.domain.plan import RouteStatus
from baton.domain.values import Actor, LatLng
from baton.service_layer import commands
from baton.service_layer.dispatch_flow import Dispatcher, carrier_client
from baton.service_layer.unit_of_work import AbstractUnitOfWork

S = OrderStatus


def register_carriers(cmd: commands.RegisterCarriers, uow: AbstractUnitOfWork, deps: Any) -> int:
    """Store (insert or replace) carriers; returns how many."""
    with uow:
        dispatch_store(uow).put_carriers(cmd.carriers, cmd.at)
        uow.record(*(CarrierRegistered(occurred_at=cmd.at, actor=cmd.actor, carrier_id=c.id,
                                       fleet_type=c.fleet_type.value) for c in cmd.carriers))
        uow.commit()
    return len(cmd.carriers)


def load_dispatch_rules(cmd: commands.LoadDispatchRules, uow: AbstractUnitOfWork, deps: Any) -> bool:
    """Activate a policy version; ``False`` when it was already the active one.

    Raises:
        ValueError: when that version exists with different content.
    """
    with uow:
        changed = dispatch_store(uow).add_ruleset(cmd.rules, cmd.at)
        if changed:
            uow.record(RulesLoaded(occurred_at=cmd.at, actor=cmd.actor, ruleset_id=f"v{cmd.rules.version}",
                                   version=cmd.rules.version, rules=len(cmd.rules.rules)))
        uow.commit()
    return changed


def dispatch_orders(cmd: commands.DispatchOrders, uow: AbstractUnitOfWork, deps: Any) -> dict[str, int]:
    """Decide and tender orders, one unit-of-work block each; returns ``{process state: count}``.

    Raises:
        NotFound: an unknown id in ``order_ids``.
        ValidationError: an order in ``order_ids`` is not ``created``.
    """
    d = Dispatcher(uow, carrier_client(deps), cmd.at, cmd.actor)
    with uow:
        if cmd.order_ids is not None:
            for order in uow.orders.get_many(cmd.order_ids):
                if order.status is not S.CREATED:
                    raise ValidationError(f"order_ids: order {order.id} is {order.status.value}; only created "
                                          "orders can be dispatched")
            ids = list(cmd.order_ids)
        else:
            known = d.store.order_ids()
            ids = [o.id for o in uow.orders.list(status=S.CREATED) if o.id not in known]
    states = d.run_batches(ids, lambda items: [p.state.value for p in d.decide_many(items)])
    return dict(Counter(states))


def respond_to_tender(cmd: commands.RespondToTender, uow: AbstractUnitOfWork, deps: Any) -> str:
    """Apply a carrier's later answer; returns the order's process state.

    Raises:
        NotFound: unknown tender.
        TenderClosed: the tender is no longer open (late accept after timeout...); the refusal is recorded.
    """
    d = Dispatcher(uow, carrier_client(deps), cmd.at, cmd.actor)
    with uow:
        tender = d.store.tender(cmd.tender_id)
        if cmd.driver_id is not None and tender.driver_id != cmd.driver_id:
            raise NotFound(f"tender {cmd.tender_id!r} was not offered to driver {cmd.driver_id}")
        if cmd.driver_id is None and tender.driver_id is not None:
            raise ValidationError(f"tender_id: {cmd.tender_id} was offered to courier {tender.driver_id}; "
                                  "only they can answer it")
        process = d.store.process(tender.order_id)
        order = uow.orders.get(tender.order_id)
        answer = "accept" if cmd.accepted else "reject"
        try:
            changed = tender.accept(cmd.at) if cmd.accepted else tender.reject(cmd.at, cmd.reason)
        except TenderClosed as exc:
            d.store.save_tender(tender)
            current = process is not None and process.tender_id == tender.id
            if exc.state == "timed_out" and current:
                uow.record(TenderTimedOut(occurred_at=cmd.at, actor=cmd.actor, order_id=order.id,
                                          tender_id=tender.id, carrier_id=tender.carrier_id))
            uow.record(TenderLateResponseRefused(occurred_at=cmd.at, actor=cmd.actor, order_id=order.id,
                                                 tender_id=tender.id, carrier_id=tender.carrier_id, response=answer,
                                                 tender_state=exc.state))
            uow.commit()
            if exc.state == "timed_out" and current and process is not None:
                d.advance(order, process)  # the deadline passed before anyone noticed: move on now
            raise
        if process is None or not changed:
            return process.state.value if process else "unknown"
        d.store.save_tender(tender)
        d.load[tender.carrier_id] -= 1
        if cmd.accepted:
            uow.record(TenderAccepted(occurred_at=cmd.at, actor=cmd.actor, order_id=order.id, tender_id=tender.id,
                                      carrier_id=tender.carrier_id, driver_id=tender.driver_id))
            uow.commit()
            d.healthy(tender.carrier_id)
            d.assign(order, process, d.carriers[tender.carrier_id])
        else:
            # on the order, so that it is stored before the next offer that follows from it
            order.events.append(TenderRejected(occurred_at=cmd.at, actor=cmd.actor, order_id=order.id,
                                               tender_id=tender.id, carrier_id=tender.carrier_id, reason=cmd.reason))
            d.advance(order, process)
        uow.commit()
        return process.state.value


def expire_tenders(cmd: commands.ExpireTenders, uow: AbstractUnitOfWork, deps: Any) -> int:
    """Time out open offers past their deadline (each counts as a carrier failure) and move their
    orders on; returns how many timed out."""
    d = Dispatcher(uow, carrier_client(deps), cmd.at, cmd.actor)
    with uow:
        expired = [(t.id, t.order_id) for t in d.store.expired_tenders(cmd.at)]
    for tender_id, order_id in expired:
        with uow:
            tender = d.store.tender(tender_id)
            if not tender.time_out(cmd.at):
                continue
            d.store.save_tender(tender)
            d.load[tender.carrier_id] -= 1
            uow.record(TenderTimedOut(occurred_at=cmd.at, actor=cmd.actor, order_id=order_id,
                                      tender_id=tender.id, carrier_id=tender.carrier_id))
            if tender.driver_id is None:  # a courier letting an offer lapse says nothing about the network
                d.failure(tender.carrier_id, "tender timed out")
            uow.commit()
            process = d.store.process(order_id)
            if process is not None and process.tender_id == tender.id and process.state is ProcessState.TENDERING:
                d.advance(uow.orders.get(order_id), process)
            uow.commit()
    return len(expired)


def check_carrier_health(cmd: commands.CheckCarrierHealth, uow: AbstractUnitOfWork, deps: Any) -> dict[str, Any]:
    """Probe carriers, check feed silence, move breakers; re-tender the open orders of carriers that
    are down. Returns ``{"down": [...], "retendered": n}``."""
    d = Dispatcher(uow, carrier_client(deps), cmd.at, cmd.actor)
    with uow:
        for carrier in d.carriers.values():
            if carrier.endpoint is None:
                continue
            b = d.store.health(carrier.id)
            b.silence_s = carrier.feed_silence_s or b.silence_s
            if carrier.feed_silence_s and b.check_silence(cmd.at, bool(d.open_processes(carrier.id))):
                d.store.save_health(b)
                d.mark_down(carrier.id, b.reason or "status feed silent")
                continue
            if not cmd.probe or not b.probe_due(cmd.at):
                d.store.save_health(b)
                continue
            if d.client.healthy(carrier.endpoint):
                if b.record_success(cmd.at):
                    d.down.discard(carrier.id)
                    uow.record(CarrierRecovered(occurred_at=cmd.at, actor=cmd.actor, carrier_id=carrier.id))
                d.store.save_health(b)
            else:
                d.store.save_health(b)
                d.failure(carrier.id, "health probe failed")
        uow.commit()
        reasons = {c: d.store.health(c).reason or "carrier down" for c in d.down}
    retendered = sum(d.retender(c, reasons[c]) for c in sorted(reasons))
    return {"down": sorted(d.down), "retendered": retendered}


def mark_carrier_down(cmd: commands.MarkCarrierDown, uow: AbstractUnitOfWork, deps: Any) -> int:
    """Open a carrier's breaker by hand and re-tender its open orders; returns how many were re-tendered.

    Raises:
        NotFound: unknown carrier.
    """
    d = Dispatcher(uow, carrier_client(deps), cmd.at, cmd.actor)
    if cmd.carrier_id not in d.carriers:
        raise NotFound(f"carrier {cmd.carrier_id!r} not found")
    with uow:
        b = d.store.health(cmd.carrier_id)
        if b.force_open(cmd.at, f"marked down by {cmd.actor}: {cmd.reason}"):
            d.mark_down(cmd.carrier_id, b.reason or cmd.reason)
        d.store.save_health(b)
        uow.commit()
    return d.retender(cmd.carrier_id, cmd.reason)


#: Lifecycle steps from a carrier's point of view, in order.
_MAIN = (S.CREATED, S.PLANNED, S.DISPATCHED, S.OUT_FOR_DELIVERY, S.ARRIVED)
_TARGET = {"picked_up": S.DISPATCHED, "out_for_delivery": S.OUT_FOR_DELIVERY, "delivered": S.DELIVERED,
           "failed_attempt": S.FAILED_ATTEMPT}


def status_path(current: OrderStatus, status: str) -> list[OrderStatus]:
    """The lifecycle transitions that bring an order from ``current`` to a carrier ``status``
    (missing intermediate steps filled in; empty when the order is already there or beyond)."""
    if status == "returned":
        if current is S.RETURNED_TO_DEPOT:
            return []
        head = [] if current is S.FAILED_ATTEMPT else status_path(current, "failed_attempt")
        return [*head, S.RETURNED_TO_DEPOT] if (head or current is S.FAILED_ATTEMPT) else []
    if current not in _MAIN:
        return []
    target = _TARGET[status]
    i = _MAIN.index(current)
    if target in _MAIN:
        j = _MAIN.index(target)
        return list(_MAIN[i + 1: j + 1])
    return [*_MAIN[i + 1:], target]


def ingest_carrier_status(cmd: commands.IngestCarrierStatus, uow: AbstractUnitOfWork, deps: Any) -> int:
    """Apply carrier statuses to orders (filling intermediate lifecycle steps); returns how many were new.

    Raises:
        ValidationError: an update's order is not assigned to that carrier (nothing of the batch is applied).
        NotFound: unknown order.
    """
    applied = 0
    with uow:
        store = dispatch_store(uow)
        for u in cmd.updates:
            process = store.process(u.order_id)
            if process is None or process.carrier_id != u.carrier_id or process.state is not ProcessState.ASSIGNED:
                raise ValidationError(f"order_id: order {u.order_id} is not assigned to carrier {u.carrier_id}")
        for u in cmd.updates:
            if store.seen_message(u.carrier_id, u.message_id, cmd.at):
                continue
            applied += 1
            order: Order = uow.orders.get(u.order_id)
            process = store.process(u.order_id)
            assert process is not None
            actor = Actor("carrier", u.carrier_id)
            for step in status_path(order.status, u.status):
                order.transition(step, at=u.occurred_at, actor=actor, reason=u.reason)
            process.picked_up = True  # every carrier status comes at or after pick-up
            store.save_process(process, cmd.at)
            b = store.health(u.carrier_id)
            b.record_status(u.occurred_at)
            store.save_health(b)
            uow.record(CarrierStatusReceived(occurred_at=u.occurred_at, actor=str(actor), order_id=u.order_id,
                                             carrier_id=u.carrier_id, status=u.status,
                                             external_status=u.external_status, message_id=u.message_id,
                                             reason=u.reason))
            if u.status in ("failed_attempt", "returned"):
                uow.record(DispatchException(occurred_at=u.occurred_at, actor=str(actor), order_id=u.order_id,
                                             kind=f"carrier_{u.status}", message=u.reason or u.external_status))
        uow.commit()
    return applied


def assign_drivers(cmd: commands.AssignDrivers, uow: AbstractUnitOfWork, deps: Any) -> dict[str, Any]:
    """Assign drivers to planned routes; returns ``{"assigned": {route: driver}, "unassigned": {route: reason},
    "explanations": {...}}``. Each change records ``route.driver_assigned``.

    Raises:
        NotFound: no current plan, or an unknown route id.
    """
    with uow:
        plan = uow.plans.current()
        if plan is None:
            raise NotFound("no current plan: plan the orders first")
        routes = [r for r in plan.routes if r.order_ids and r.status is RouteStatus.PLANNED]
        if cmd.route_ids is not None:
            known = {r.id for r in routes}
            unknown = [i for i in cmd.route_ids if i not in known]
            if unknown:
                raise NotFound(f"route_ids: not planned routes of the current plan: {', '.join(unknown)}")
            routes = [r for r in routes if r.id in set(cmd.route_ids)]
        orders = {o.id: o for o in uow.orders.get_many([o for r in routes for o in r.order_ids])}
        history = {d: Counter(cell_of(LatLng(lat, lng)) for lat, lng in points)
                   for d, points in dispatch_store(uow).driver_history().items()}
        result = match_drivers(routes, uow.drivers.list(), {v.id: v for v in uow.vehicles.list()}, orders, history)
        for route in routes:
            driver = result.drivers.get(route.id)
            if driver is not None and driver != route.driver_id:
                route.driver_id = driver
                uow.plans.update_route(route)
                uow.record(RouteDriverAssigned(occurred_at=cmd.at, actor=cmd.actor, route_id=route.id,
                                               driver_id=driver))
        uow.commit()
    return {"assigned": result.drivers, "unassigned": result.unassigned, "explanations": result.explanations}


DISPATCH_HANDLERS: dict[type[commands.Command], Callable[..., object]] = {
    commands.RegisterCarriers: register_carriers,
    commands.LoadDispatchRules: load_dispatch_rules,
    commands.DispatchOrders: dispatch_orders,
    commands.RespondToTender: respond_to_tender,
    commands.ExpireTenders: expire_tenders,
    commands.CheckCarrierHealth: check_carrier_health,
    commands.MarkCarrierDown: mark_carrier_down,
    commands.IngestCarrierStatus: ingest_carrier_status,
    commands.AssignDrivers: assign_drivers,
}
