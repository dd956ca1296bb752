"""Reads of dispatch: which orders captive planning may take, an order's dispatch story, a gig
courier's offers, pre-dispatch route validation. Each opens its own unit of work (``offer_view``
runs inside the caller's); nothing here changes state. The commands are in
:mod:`baton.service_layer.dispatch_handlers`.
"""

from __future__ import annotations

from typing import Any

from baton.adapters.carriers.repository import dispatch_store
from baton.dispatch.drivers import validate_route
from baton.dispatch.tender import ProcessState, Tender, TenderState
from baton.domain.errors import NotFound
from baton.domain.lifecycle import OrderStatus
from baton.domain.plan import RouteStatus
from baton.service_layer.unit_of_work import AbstractUnitOfWork

S = OrderStatus


def captive_order_ids(uow: AbstractUnitOfWork) -> list[str]:
    """Orders the dispatch rules sent to captive planning and still ``created`` (to pass as
    ``PlanOrders(order_ids=...)``, so that captive planning leaves carrier and gig orders alone)."""
    with uow:
        store = dispatch_store(uow)
        ids = [p.order_id for p in store.processes(state=ProcessState.CAPTIVE)]
        return [o.id for o in uow.orders.get_many(ids) if o.status in (S.CREATED, S.REATTEMPT)]


def explain_order(uow: AbstractUnitOfWork, order_id: str) -> dict[str, Any]:
    """Everything about one order's dispatch: current process, every decision with its explanation,
    every tender, and the event trail (dispatch, tender, carrier and status events), oldest first.

    Raises:
        NotFound: when the order has no dispatch record.
    """
    with uow:
        store = dispatch_store(uow)
        process = store.process(order_id)
        if process is None:
            raise NotFound(f"order {order_id!r} has no dispatch record")
        trail = [{"at": e.occurred_at.isoformat(), "event": e.name, "actor": e.actor, **e.payload()}
                 for e in uow.events_for(order_id)]
        return {
            "order_id": order_id,
            "process": {"state": process.state.value, "carrier": process.carrier_id, "rule": process.rule_id,
                        "ruleset_version": process.ruleset_version, "tried": process.tried,
                        "queue": process.queue, "reason": process.reason, "picked_up": process.picked_up},
            "decisions": store.decisions(order_id),
            "tenders": [{"id": t.id, "carrier": t.carrier_id, "driver": t.driver_id, "state": t.state.value,
                         "offered_at": t.offered_at.isoformat(), "expires_at": t.expires_at.isoformat(),
                         "responded_at": t.responded_at.isoformat() if t.responded_at else None,
                         "reason": t.reason, "price": t.price} for t in store.tenders(order_id)],
            "trail": trail,
        }


def offer_view(uow: AbstractUnitOfWork, tender: Tender) -> dict[str, Any]:
    """One offer as a gig courier sees it (call inside a ``with uow`` block): ``tender_id``,
    ``order_id``, ``carrier``, ``state``, ``offered_at``/``expires_at``/``responded_at`` (ISO 8601),
    ``price`` (carrier's ``currency``), ``reason``, and the job: ``dropoff`` ``{"lat", "lng"}`` (degrees),
    ``parcels``, ``weight_kg``, ``sla``, ``time_windows`` (``[{"start", "end"}]``)."""
    order = uow.orders.get(tender.order_id)
    carrier = dispatch_store(uow).carrier(tender.carrier_id)
    return {"tender_id": tender.id, "order_id": tender.order_id, "carrier": tender.carrier_id,
            "driver_id": tender.driver_id, "state": tender.state.value, "offered_at": tender.offered_at.isoformat(),
            "expires_at": tender.expires_at.isoformat(),
            "responded_at": tender.responded_at.isoformat() if tender.responded_at else None,
            "price": tender.price, "currency": carrier.rate_card.currency, "reason": tender.reason,
            "dropoff": {"lat": order.location.lat, "lng": order.location.lng}, "parcels": order.size.parcels,
            "weight_kg": order.size.weight_kg, "sla": order.sla_tier.value,
            "time_windows": [{"start": w.start.isoformat(), "end": w.end.isoformat()} for w in order.time_windows]}


def driver_offers(uow: AbstractUnitOfWork, driver_id: str, *, open_only: bool = True) -> list[dict[str, Any]]:
    """The offers made to gig courier ``driver_id`` (only open ones unless ``open_only`` is false),
    newest first, each as :func:`offer_view`. An open offer past its deadline is listed as ``offered``
    until ``ExpireTenders`` runs, but accepting it is refused."""
    with uow:
        state = TenderState.OFFERED if open_only else None
        return [offer_view(uow, t) for t in dispatch_store(uow).list_tenders(driver_id=driver_id, state=state)]


def courier_offer_for(uow: AbstractUnitOfWork, order_id: str, driver_id: str) -> str:
    """The id of the latest offer of ``order_id`` made to courier ``driver_id``.

    Raises:
        NotFound: no offer of that order was ever made to that courier.
    """
    with uow:
        found = dispatch_store(uow).list_tenders(order_id=order_id, driver_id=driver_id, limit=1)
    if not found:
        raise NotFound(f"order {order_id!r} was not offered to driver {driver_id}")
    return found[0].id


def validate_routes(uow: AbstractUnitOfWork, route_ids: list[str] | None = None) -> dict[str, list[str]]:
    """Pre-dispatch validation of the current plan's planned routes (or ``route_ids``): route id -> problems
    (an empty list: ready to release).

    Raises:
        NotFound: an unknown route id, or no current plan when ``route_ids`` is ``None``.
    """
    with uow:
        if route_ids is None:
            plan = uow.plans.current()
            if plan is None:
                raise NotFound("no current plan")
            routes = [r for r in plan.routes if r.order_ids and r.status is RouteStatus.PLANNED]
        else:
            routes = [uow.plans.get_route(i) for i in route_ids]
        ids = [o for r in routes for o in r.order_ids]
        orders = {o.id: o for o in uow.orders.list() if o.id in set(ids)}
        vehicles = {v.id: v for v in uow.vehicles.list()}
        drivers = {d.id: d for d in uow.drivers.list()}
        return {r.id: validate_route(r, orders, vehicles.get(r.vehicle_id),
                                     drivers.get(r.driver_id) if r.driver_id else None) for r in routes}


__all__ = ["captive_order_ids", "courier_offer_for", "driver_offers", "explain_order", "offer_view", "validate_routes"]
