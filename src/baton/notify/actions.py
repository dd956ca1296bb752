"""Customer actions as service-layer commands: instructions, reschedule, cancel, rating.

Importing this module registers the handlers in
:data:`baton.service_layer.handlers.COMMAND_HANDLERS`, so ``bus.handle(cmd)`` runs them like
any other command: one transaction, events persisted before the command returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert

from baton.adapters import orm_notify as tn
from baton.domain.errors import DomainError, NotFound, ValidationError
from baton.domain.events import OrderUpdated
from baton.domain.lifecycle import OrderStatus
from baton.domain.plan import Stop, StopKind
from baton.domain.values import Actor, TimeWindow
from baton.notify.events import DeliveryRated, OrderRescheduled
from baton.notify.slots import offered_slots
from baton.service_layer import commands
from baton.service_layer.handlers import COMMAND_HANDLERS, Dependencies, update_order
from baton.service_layer.unit_of_work import AbstractUnitOfWork, SqlAlchemyUnitOfWork

S = OrderStatus
#: States in which the customer may still cancel (the parcel has not left the depot).
CANCELLABLE = frozenset({S.CREATED, S.PLANNED, S.REATTEMPT, S.RETURNED_TO_DEPOT})
SAFE_PLACE_TAG = "safe_place_ok"
MAX_INSTRUCTIONS = 500


class NotAllowed(DomainError):
    """The customer may not do this now (the message says why)."""


@dataclass(frozen=True, kw_only=True)
class LeaveInstructions(commands.Command):
    """Delivery instructions for the driver (gate code, leave with neighbour, ...), at most 500
    characters; ``safe_place_ok`` authorises leaving the parcel in a safe place."""

    order_id: str
    instructions: str
    safe_place_ok: bool = False


@dataclass(frozen=True, kw_only=True)
class RescheduleDelivery(commands.Command):
    """Move the delivery to the offered slot ``[window_start, window_end]`` (aware)."""

    order_id: str
    window_start: datetime
    window_end: datetime


@dataclass(frozen=True, kw_only=True)
class CustomerCancel(commands.Command):
    """The customer cancels an order that has not left the depot."""

    order_id: str
    reason: str = "customer_request"


@dataclass(frozen=True, kw_only=True)
class RateDelivery(commands.Command):
    """CSAT after delivery: ``rating`` 1-5 and an optional ``comment`` (at most 1,000 characters)."""

    order_id: str
    rating: int
    comment: str = ""


def leave_instructions(cmd: LeaveInstructions, uow: AbstractUnitOfWork, deps: Dependencies) -> int:
    """Set the order's ``notes`` (shown to the driver) and the safe-place tag; returns the new version.

    Raises:
        NotFound, ValidationError (too long), IllegalTransition (delivered/cancelled).
    """
    text = cmd.instructions.strip()
    if len(text) > MAX_INSTRUCTIONS:
        raise ValidationError(f"instructions: at most {MAX_INSTRUCTIONS} characters, got {len(text)}")
    with uow:
        tags = set(uow.orders.get(cmd.order_id).tags)
    tags = (tags | {SAFE_PLACE_TAG}) if cmd.safe_place_ok else (tags - {SAFE_PLACE_TAG})
    return update_order(commands.UpdateOrder(at=cmd.at, actor=cmd.actor, order_id=cmd.order_id,
                                             changes={"notes": text, "tags": frozenset(tags)}), uow, deps)


def customer_cancel(cmd: CustomerCancel, uow: AbstractUnitOfWork, deps: Dependencies) -> None:
    """Cancel, and take the order off its route's stops (idempotent).

    Raises:
        NotFound; NotAllowed once the parcel has left the depot.
    """
    actor = Actor.parse(cmd.actor)
    with uow:
        order = uow.orders.get(cmd.order_id)
        if order.status == S.CANCELLED:
            return
        if order.status not in CANCELLABLE:
            raise NotAllowed(f"order {order.id} is {order.status.value}: it can no longer be cancelled online")
        route_id = order.route_id
        order.cancel(at=cmd.at, actor=actor, reason=cmd.reason)
        if route_id:
            _drop_stop(uow, route_id, order.id)
        uow.commit()


def _drop_stop(uow: AbstractUnitOfWork, route_id: str, order_id: str) -> None:
    try:
        route = uow.plans.get_route(route_id)
    except NotFound:
        return
    if route.plan_id is None or all(s.order_id != order_id for s in route.stops):
        return
    route.stops = [s for s in route.stops if s.order_id != order_id]
    for i, s in enumerate(route.stops, start=1):
        s.sequence = i
    uow.plans.save_route(route, route.plan_id)


def reschedule_delivery(cmd: RescheduleDelivery, uow: AbstractUnitOfWork, deps: Dependencies) -> str:
    """Move the order into the slot: new time window, stop inserted where the slot was found
    (later stops re-timed), removed from its old route; returns the route id.

    Raises:
        NotFound; ValidationError when the slot is not (or no longer) offered.
    """
    actor = Actor.parse(cmd.actor)
    with uow:
        order = uow.orders.get(cmd.order_id)
        slots = offered_slots(uow, order, deps.travel, cmd.at)
        slot = next((s for s in slots if s.start == cmd.window_start and s.end == cmd.window_end), None)
        if slot is None:
            raise ValidationError("slot: this time is no longer available, choose another one")
        old_route = order.route_id
        if old_route and old_route != slot.route_id:
            _drop_stop(uow, old_route, order.id)
        route = uow.plans.get_route(slot.route_id)
        stops = [s for s in route.stops if s.order_id != order.id]
        points = [order.location]
        nxt = stops[slot.position] if slot.position < len(stops) else None
        if nxt is not None and nxt.order_id:
            points.append(uow.orders.get(nxt.order_id).location)
        elif nxt is None:  # last stop: the drive back to the depot decides the route's end
            points.append(uow.depots.get(route.end_depot_id).location)
        dur = deps.travel.matrices(points).duration_s if len(points) > 1 else None
        leave = slot.eta + timedelta(seconds=order.service_time_s)
        stops.insert(slot.position, Stop(0, StopKind.DELIVERY, order.id, slot.eta, leave))
        if nxt is not None:
            shift = leave + timedelta(seconds=int(dur[0, 1]) if dur is not None else 0) - nxt.planned_arrival
            for s in stops[slot.position + 1:]:
                if shift <= timedelta(0):
                    break
                s.planned_arrival += shift
                s.planned_departure += shift
            route.end += max(shift, timedelta(0))
        else:
            route.end = max(route.end, leave + timedelta(seconds=int(dur[0, 1]) if dur is not None else 0))
        route.duration_s = int((route.end - route.start).total_seconds())
        for i, s in enumerate(stops, start=1):
            s.sequence = i
        route.stops = stops
        assert route.plan_id is not None
        uow.plans.save_route(route, route.plan_id)
        order.time_windows = [TimeWindow(slot.start, slot.end)]
        if order.status in (S.FAILED_ATTEMPT, S.RETURNED_TO_DEPOT):
            order.transition(S.REATTEMPT, at=cmd.at, actor=actor, reason="rescheduled by customer")
        if order.status in (S.CREATED, S.REATTEMPT):
            order.transition(S.PLANNED, at=cmd.at, actor=actor, route_id=route.id)
        else:
            order.route_id = route.id
            order.version += 1
        order.events.append(OrderUpdated(occurred_at=cmd.at, actor=cmd.actor, order_id=order.id,
                                         fields=["time_windows"], version=order.version))
        uow.record(OrderRescheduled(occurred_at=cmd.at, actor=cmd.actor, order_id=order.id,
                                    window_start=slot.start.isoformat(), window_end=slot.end.isoformat(),
                                    from_route_id=old_route, to_route_id=route.id, eta=slot.eta.isoformat()))
        uow.commit()
        return route.id


def rate_delivery(cmd: RateDelivery, uow: AbstractUnitOfWork, deps: Dependencies) -> None:
    """Store the rating per order (with route, driver, vehicle, carrier); a new rating replaces the old.

    Raises:
        NotFound; ValidationError (rating outside 1-5, comment too long); NotAllowed before delivery.
    """
    if not 1 <= cmd.rating <= 5:
        raise ValidationError(f"rating: must be within 1..5, got {cmd.rating}")
    if len(cmd.comment) > 1000:
        raise ValidationError(f"comment: at most 1000 characters, got {len(cmd.comment)}")
    if not isinstance(uow, SqlAlchemyUnitOfWork):
        raise TypeError("rate_delivery needs a SqlAlchemyUnitOfWork")
    with uow:
        order = uow.orders.get(cmd.order_id)
        if order.status != S.DELIVERED:
            raise NotAllowed(f"order {order.id} is {order.status.value}: it can be rated once delivered")
        driver_id = vehicle_id = carrier_id = None
        if order.route_id:
            try:
                route = uow.plans.get_route(order.route_id)
                driver_id, vehicle_id = route.driver_id, route.vehicle_id
                carrier_id = uow.vehicles.get(route.vehicle_id).carrier_id
            except NotFound:
                pass
        session = uow.session
        assert session is not None
        c = tn.csat
        session.execute(delete(c).where(c.c.org_id == uow.org_id, c.c.order_id == order.id))
        session.execute(insert(c).values(org_id=uow.org_id, order_id=order.id, rating=cmd.rating,
                                         comment=cmd.comment.strip(), route_id=order.route_id, driver_id=driver_id,
                                         vehicle_id=vehicle_id, carrier_id=carrier_id, rated_at=cmd.at))
        uow.record(DeliveryRated(occurred_at=cmd.at, actor=cmd.actor, order_id=order.id, rating=cmd.rating,
                                 comment=cmd.comment.strip(), route_id=order.route_id, driver_id=driver_id))
        uow.commit()


COMMAND_HANDLERS.update({
    LeaveInstructions: leave_instructions,
    RescheduleDelivery: reschedule_delivery,
    CustomerCancel: customer_cancel,
    RateDelivery: rate_delivery,
})
