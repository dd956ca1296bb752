"""Reactions of live orchestration to execution events: the live board follows the day (routes
started, stops arrived at and left, orders cancelled or changed) and, in ``baton`` mode, repairs the
plan, offers second attempts and publishes what changed.

Turn it on with :func:`enable_live` (``mode="baton"``: Baton repairs, re-sequences and tells
customers of delays on its own; ``mode="manual"``: the board only tracks the day and applies a
dispatcher's :class:`~baton.service_layer.commands.AssignOrder`). Without a board nothing reacts:
the ``static`` policy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from baton.domain.events import (
    Event,
    OrderStatusChanged,
    OrderUpdated,
    RouteCompleted,
    RouteDispatched,
    RouteStarted,
    StopArrived,
    StopDeparted,
)
from baton.domain.lifecycle import OrderStatus
from baton.domain.plan import RouteStatus
from baton.live.attempts import second_attempt
from baton.live.board import LiveBoard
from baton.live.events import OrderLeftUnassigned
from baton.live.ops import Insertion, insert_order, remove_order, repair
from baton.service_layer.live_publish import membership, notify_unserved, place, publish, repoint

if TYPE_CHECKING:
    from baton.service_layer.messagebus import MessageBus

S = OrderStatus


def _react(bus: MessageBus, board: LiveBoard, event: Event) -> None:
    """Keep the board in step with execution and, in ``baton`` mode, repair and re-publish."""
    uow = bus.uow
    if board.plan is None:
        return
    plan = board.plan
    board.catch_up(event.occurred_at)
    if isinstance(event, OrderStatusChanged):
        board.last_status[event.order_id] = event.to_status
        if event.to_status == S.CANCELLED.value:
            board.delays.forget(event.order_id)
            with uow:
                rid = remove_order(plan, event.order_id)
                if rid:
                    publish(uow, board, [rid], "order.cancelled", event.occurred_at)
                uow.commit()
        return
    if isinstance(event, RouteDispatched) and event.route_id in board.route_meta:
        board.route_meta[event.route_id].status = RouteStatus.DISPATCHED
    elif isinstance(event, RouteStarted) and event.route_id in plan.routes:
        board.started(event.route_id, event.occurred_at)
        if board.mode != "baton":
            return  # a manual dispatcher does not re-time routes
        with uow:
            publish(uow, board, [event.route_id], "route.started", event.occurred_at)
            uow.commit()
    elif isinstance(event, StopArrived) and event.route_id in plan.routes:
        board.arrived(event.route_id, event.order_id, event.occurred_at)
    elif isinstance(event, StopDeparted) and event.route_id in plan.routes:
        delivered = board.last_status.get(event.order_id) == S.DELIVERED.value
        board.departed(event.route_id, event.order_id, event.occurred_at, delivered)  # and sets off (set_off)
        with uow:
            changed = {event.route_id}
            if not delivered and board.mode == "baton":
                result = second_attempt(plan, event.route_id, event.order_id, board.clock(event.occurred_at),
                                        board.retry_gap_s)
                order = uow.orders.get(event.order_id)
                if isinstance(result, Insertion) and order.status == S.FAILED_ATTEMPT:
                    order.transition(S.REATTEMPT, at=event.occurred_at, reason="second attempt today")
                    place(uow, board, order, event.route_id, event.occurred_at, "system:baton", "second attempt")
                elif isinstance(result, str):
                    uow.record(OrderLeftUnassigned(occurred_at=event.occurred_at, order_id=event.order_id,
                                                   reason=result))
            if board.mode == "baton":
                where = membership(plan, [event.route_id])
                repaired = repair(plan, [event.route_id])
                repoint(uow, board, where, repaired, event.occurred_at, "system:baton")
                changed |= repaired
                publish(uow, board, changed, "stop.departed", event.occurred_at)
            uow.commit()
    elif isinstance(event, RouteCompleted) and event.route_id in plan.routes:
        plan.routes[event.route_id].broken = True
    elif isinstance(event, OrderUpdated) and event.order_id in plan.orders and board.mode == "baton":
        with uow:
            order = uow.orders.get(event.order_id)
            plan.orders[order.id] = board.live_order(plan, order)
            route = plan.route_of(order.id)
            if route is not None and route.pinned != order.id:
                onboard = order.id in route.onboard
                old = remove_order(plan, order.id)
                result = insert_order(plan, order.id, [route.id] if onboard else None)
                changed = {x for x in (old, result.route_id if isinstance(result, Insertion) else None) if x}
                if isinstance(result, Insertion):
                    place(uow, board, order, result.route_id, event.occurred_at, "system:baton", "order modified")
                publish(uow, board, changed, "order.updated", event.occurred_at)
                if isinstance(result, str):
                    notify_unserved(uow, board, order.id, event.occurred_at)
            uow.commit()


def enable_live(bus: MessageBus, mode: str = "baton", retry_gap_s: int = 3600,
                transfer_delay_s: int = 2700) -> LiveBoard:
    """Attach a :class:`LiveBoard` to ``bus`` (``mode`` ``baton`` or ``manual``) and subscribe it
    to execution events. ``retry_gap_s``: least time before a second attempt (s);
    ``transfer_delay_s``: when parcels of a broken-down van are back at the depot (s).

    Raises:
        ValueError: on an unknown mode.
    """
    if mode not in ("baton", "manual"):
        raise ValueError(f"mode must be baton or manual, got {mode!r}")
    board = LiveBoard(bus.deps.travel, mode=mode, retry_gap_s=retry_gap_s, transfer_delay_s=transfer_delay_s)
    bus.deps.live = board
    handler: Callable[[Event], None] = lambda e: _react(bus, board, e)  # noqa: E731
    for kind in (OrderStatusChanged, RouteDispatched, RouteStarted, StopArrived, StopDeparted, RouteCompleted,
                 OrderUpdated):
        bus.subscribe(kind, handler)
    return board
