"""Command handlers: load aggregates through the unit of work, apply domain rules, commit.

Each handler runs in one transaction: the state change and its events are persisted
together before the handler returns (and so before the command is acknowledged).
Handlers are idempotent where a retry is plausible: repeating a command whose effect is
already there (e.g. ``CompleteDelivery`` on a delivered order) is a no-op, never a
second event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from baton.adapters.travel.base import TravelTimeProvider
from baton.domain.events import (
    OrderCreated,
    PlanCreated,
    RouteCompleted,
    RouteDispatched,
    RouteStarted,
    StopArrived,
    StopDeparted,
)
from baton.domain.lifecycle import OrderStatus
from baton.domain.plan import Plan, RouteStatus
from baton.domain.values import Actor
from baton.planning.decompose import plan_large
from baton.planning.problem import PlanningProblem
from baton.service_layer import commands
from baton.service_layer.unit_of_work import AbstractUnitOfWork

S = OrderStatus


@dataclass
class Dependencies:
    """What handlers need from the outside world, injected by :func:`baton.service_layer.bootstrap.bootstrap`."""

    travel: TravelTimeProvider
    on_planning_progress: Callable[[float, float], None] | None = None
    live: object | None = None  # a baton.live.board.LiveBoard when live orchestration is on
    carrier_client: object | None = None  # a baton.adapters.carriers.http.HttpCarrierClient (None: default)


def register_fleet(cmd: commands.RegisterFleet, uow: AbstractUnitOfWork, deps: Dependencies) -> None:
    with uow:
        uow.depots.add_many(cmd.depots)
        uow.vehicles.add_many(cmd.vehicles)
        uow.drivers.add_many(cmd.drivers)
        uow.commit()


def create_orders(cmd: commands.CreateOrders, uow: AbstractUnitOfWork, deps: Dependencies) -> int:
    """Store new orders; each gets its ``order.created`` event (added here when the caller built none)."""
    for order in cmd.orders:
        if not any(isinstance(e, OrderCreated) for e in order.events):
            order.events.insert(0, OrderCreated(occurred_at=cmd.at, actor=cmd.actor, order_id=order.id,
                                                external_ref=order.external_ref))
    with uow:
        uow.orders.add_many(cmd.orders)
        uow.commit()
    return len(cmd.orders)


def plan_orders(cmd: commands.PlanOrders, uow: AbstractUnitOfWork, deps: Dependencies) -> Plan:
    """Plan the open orders; planned orders move to ``planned`` with their route id.

    Orders the planner cannot serve stay in their state and are listed in
    ``plan.unassigned`` with a reason.
    """
    actor = Actor.parse(cmd.actor)
    with uow:
        if cmd.order_ids is not None:
            orders = uow.orders.get_many(cmd.order_ids)
        else:
            orders = uow.orders.list(status=S.CREATED) + uow.orders.list(status=S.REATTEMPT)
        problem = PlanningProblem(
            orders=orders,
            depots=uow.depots.list(),
            vehicles=uow.vehicles.list(),
            drivers=uow.drivers.list(),
            day_start=cmd.day_start,
        )
        plan = plan_large(problem, deps.travel, cmd.options, on_progress=deps.on_planning_progress)
        by_id = {o.id: o for o in orders}
        for route in plan.routes:
            for order_id in route.order_ids:
                by_id[order_id].plan(route.id, at=cmd.at, actor=actor)
        uow.plans.add(plan)
        uow.record(
            PlanCreated(
                occurred_at=cmd.at,
                actor=cmd.actor,
                plan_id=plan.id,
                routes=len(plan.routes),
                assigned=len(plan.assigned_order_ids),
                unassigned=len(plan.unassigned),
            )
        )
        uow.commit()
    return plan


def dispatch_route(cmd: commands.DispatchRoute, uow: AbstractUnitOfWork, deps: Dependencies) -> None:
    actor = Actor.parse(cmd.actor)
    with uow:
        route = uow.plans.get_route(cmd.route_id)
        if route.status != RouteStatus.PLANNED:
            return
        for order in uow.orders.get_many(route.order_ids):
            if order.status == S.PLANNED:
                order.transition(S.DISPATCHED, at=cmd.at, actor=actor)
        route.status = RouteStatus.DISPATCHED
        uow.plans.update_route(route)
        uow.record(RouteDispatched(occurred_at=cmd.at, actor=cmd.actor, route_id=route.id,
                                   vehicle_id=route.vehicle_id, driver_id=route.driver_id))
        uow.commit()


def start_route(cmd: commands.StartRoute, uow: AbstractUnitOfWork, deps: Dependencies) -> None:
    actor = Actor.parse(cmd.actor)
    with uow:
        route = uow.plans.get_route(cmd.route_id)
        if route.status != RouteStatus.DISPATCHED:
            return
        for order in uow.orders.get_many(route.order_ids):
            if order.status == S.DISPATCHED:
                order.transition(S.OUT_FOR_DELIVERY, at=cmd.at, actor=actor)
        route.status = RouteStatus.IN_PROGRESS
        route.actual_start = cmd.at
        uow.plans.update_route(route)
        uow.record(RouteStarted(occurred_at=cmd.at, actor=cmd.actor, route_id=route.id))
        uow.commit()


def arrive_at_stop(cmd: commands.ArriveAtStop, uow: AbstractUnitOfWork, deps: Dependencies) -> None:
    actor = Actor.parse(cmd.actor)
    with uow:
        route = uow.plans.get_route(cmd.route_id)
        stop = route.stop_for(cmd.order_id)
        order = uow.orders.get(cmd.order_id)
        if order.status != S.OUT_FOR_DELIVERY:
            return  # already arrived (retry) or no longer on this route
        order.transition(S.ARRIVED, at=cmd.at, actor=actor, route_id=route.id)
        stop.actual_arrival = cmd.at
        route.actual_distance_m += cmd.leg_distance_m
        route.actual_driving_s += cmd.leg_driving_s
        uow.plans.update_route(route)
        uow.record(StopArrived(occurred_at=cmd.at, actor=cmd.actor, route_id=route.id,
                               order_id=order.id, planned_arrival=stop.planned_arrival.isoformat()))
        uow.commit()


def _depart(route_id: str, order_id: str, target: OrderStatus, cmd: commands.Command,
            uow: AbstractUnitOfWork, reason: str | None) -> None:
    actor = Actor.parse(cmd.actor)
    with uow:
        route = uow.plans.get_route(route_id)
        stop = route.stop_for(order_id)
        order = uow.orders.get(order_id)
        if order.status != S.ARRIVED:
            return  # idempotent: already completed or failed
        order.transition(target, at=cmd.at, actor=actor, reason=reason)
        stop.actual_departure = cmd.at
        dwell = int((cmd.at - stop.actual_arrival).total_seconds()) if stop.actual_arrival else 0
        uow.plans.update_route(route)
        uow.record(StopDeparted(occurred_at=cmd.at, actor=cmd.actor, route_id=route.id,
                                order_id=order.id, dwell_s=dwell))
        uow.commit()


def complete_delivery(cmd: commands.CompleteDelivery, uow: AbstractUnitOfWork, deps: Dependencies) -> None:
    _depart(cmd.route_id, cmd.order_id, S.DELIVERED, cmd, uow, None)


def fail_delivery(cmd: commands.FailDelivery, uow: AbstractUnitOfWork, deps: Dependencies) -> None:
    _depart(cmd.route_id, cmd.order_id, S.FAILED_ATTEMPT, cmd, uow, cmd.reason)


def complete_route(cmd: commands.CompleteRoute, uow: AbstractUnitOfWork, deps: Dependencies) -> None:
    """Close the route; orders still on board (failed, or never reached) go back to the depot."""
    actor = Actor.parse(cmd.actor)
    with uow:
        route = uow.plans.get_route(cmd.route_id)
        if route.status == RouteStatus.COMPLETED:
            return
        for order in uow.orders.get_many(route.order_ids):
            if order.status == S.OUT_FOR_DELIVERY:
                # never reached: the parcel is still on board
                order.transition(S.ARRIVED, at=cmd.at, actor=actor, route_id=route.id)
                order.transition(S.FAILED_ATTEMPT, at=cmd.at, actor=actor, reason="not_reached")
            if order.status == S.FAILED_ATTEMPT:
                order.transition(S.RETURNED_TO_DEPOT, at=cmd.at, actor=actor)
        route.status = RouteStatus.COMPLETED
        route.actual_end = cmd.at
        route.actual_distance_m += cmd.leg_distance_m
        route.actual_driving_s += cmd.leg_driving_s
        uow.plans.update_route(route)
        uow.record(RouteCompleted(occurred_at=cmd.at, actor=cmd.actor, route_id=route.id,
                                  distance_m=route.actual_distance_m,
                                  duration_s=int((cmd.at - (route.actual_start or cmd.at)).total_seconds())))
        uow.commit()


def cancel_order(cmd: commands.CancelOrder, uow: AbstractUnitOfWork, deps: Dependencies) -> None:
    actor = Actor.parse(cmd.actor)
    with uow:
        order = uow.orders.get(cmd.order_id)
        if order.status == S.CANCELLED:
            return
        order.cancel(at=cmd.at, actor=actor, reason=cmd.reason)
        uow.commit()


#: Order fields :class:`commands.UpdateOrder` may change (the rest follow the lifecycle).
UPDATABLE_ORDER_FIELDS: frozenset[str] = frozenset({
    "customer", "address", "time_windows", "service_time_s", "size", "required_features", "priority",
    "sla_tier", "declared_value", "notes", "tags", "external_ref",
})


def update_order(cmd: commands.UpdateOrder, uow: AbstractUnitOfWork, deps: Dependencies) -> int:
    """Apply ``cmd.changes`` to the order and return its new version.

    Raises:
        NotFound: when the order does not exist.
        ConcurrencyError: when ``expected_version`` is not the stored version.
        ValidationError: when a field is not updatable or a value is invalid (names the field).
        IllegalTransition: when the order is delivered or cancelled (nothing left to change).
    """
    import dataclasses
    from typing import Any

    from baton.domain.errors import IllegalTransition, ValidationError
    from baton.domain.events import OrderUpdated
    from baton.service_layer.unit_of_work import ConcurrencyError

    unknown = sorted(set(cmd.changes) - UPDATABLE_ORDER_FIELDS)
    if unknown:
        allowed = ", ".join(sorted(UPDATABLE_ORDER_FIELDS))
        raise ValidationError(f"{unknown[0]}: cannot be updated (updatable: {allowed})")
    with uow:
        order = uow.orders.get(cmd.order_id)
        if cmd.expected_version is not None and order.version != cmd.expected_version:
            raise ConcurrencyError("order", [order.id])
        if order.is_terminal:
            raise IllegalTransition(order.id, order.status.value, order.status.value)
        changed = [k for k, v in cmd.changes.items() if getattr(order, k) != v]
        if not changed:
            return order.version
        new_values: dict[str, Any] = {k: cmd.changes[k] for k in changed}
        checked = dataclasses.replace(order, events=[], **new_values)  # validates
        for name in changed:
            setattr(order, name, getattr(checked, name))
        order.version += 1
        order.events.append(OrderUpdated(occurred_at=cmd.at, actor=cmd.actor, order_id=order.id,
                                         fields=sorted(changed), version=order.version))
        uow.commit()
        return order.version


def reattempt_order(cmd: commands.ReattemptOrder, uow: AbstractUnitOfWork, deps: Dependencies) -> None:
    """Move a ``failed_attempt``/``returned_to_depot`` order to ``reattempt`` (no-op when already there).

    Raises:
        NotFound: when the order does not exist.
        IllegalTransition: from any other state.
    """
    actor = Actor.parse(cmd.actor)
    with uow:
        order = uow.orders.get(cmd.order_id)
        if order.status == S.REATTEMPT:
            return
        order.transition(S.REATTEMPT, at=cmd.at, actor=actor, reason=cmd.reason)
        uow.commit()


COMMAND_HANDLERS: dict[type[commands.Command], Callable[..., object]] = {
    commands.RegisterFleet: register_fleet,
    commands.CreateOrders: create_orders,
    commands.PlanOrders: plan_orders,
    commands.DispatchRoute: dispatch_route,
    commands.StartRoute: start_route,
    commands.ArriveAtStop: arrive_at_stop,
    commands.CompleteDelivery: complete_delivery,
    commands.FailDelivery: fail_delivery,
    commands.CompleteRoute: complete_route,
    commands.CancelOrder: cancel_order,
    commands.UpdateOrder: update_order,
    commands.ReattemptOrder: reattempt_order,
}

from baton.service_layer.execute_handlers import EXECUTE_HANDLERS  # noqa: E402

COMMAND_HANDLERS.update(EXECUTE_HANDLERS)

from baton.service_layer.live_handlers import LIVE_HANDLERS  # noqa: E402

COMMAND_HANDLERS.update(LIVE_HANDLERS)

from baton.service_layer.dispatch_handlers import DISPATCH_HANDLERS  # noqa: E402

COMMAND_HANDLERS.update(DISPATCH_HANDLERS)

from baton.service_layer.prove_handlers import PROVE_HANDLERS  # noqa: E402

COMMAND_HANDLERS.update(PROVE_HANDLERS)
