"""Publishing the live plan: how a repaired route reaches storage and customers, shared by every
live handler (fast path, background improvement, rescue, waves).

:func:`publish` writes re-timed routes (stops + ETAs) and ``live.route_replanned`` events and, in
``baton`` mode, tells customers of delays (:mod:`baton.live.notices`); :func:`place` keeps an order's
lifecycle in step with the route it now rides; :func:`membership` + :func:`repoint` carry orders a
repair moved to their new route in storage.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from baton.domain.errors import NotFound
from baton.domain.lifecycle import OrderStatus
from baton.domain.order import Order
from baton.domain.plan import RouteStatus
from baton.domain.values import Actor
from baton.live.board import LiveBoard
from baton.live.events import DelayNotified, DelayResolved, OrderReassigned, RouteReplanned
from baton.live.model import LivePlan, evaluate
from baton.live.notices import Notice
from baton.service_layer.unit_of_work import AbstractUnitOfWork

if TYPE_CHECKING:
    from baton.service_layer.handlers import Dependencies

S = OrderStatus


def live_board(deps: Dependencies) -> LiveBoard | None:
    """The bus's live board (:func:`~baton.service_layer.live_reactions.enable_live`), if any."""
    return deps.live if isinstance(deps.live, LiveBoard) else None


def auto_board(deps: Dependencies) -> LiveBoard | None:
    """The live board when Baton repairs on its own (``baton`` mode), else ``None``."""
    board = live_board(deps)
    return board if board is not None and board.mode == "baton" else None


#: A re-timed route is written back only when a stop's ETA (or the return) moved at least this much (s).
MATERIAL_ETA_S = 60


def publish(uow: AbstractUnitOfWork, board: LiveBoard, route_ids: Iterable[str], cause: str, at: datetime,
            material_s: int = 0, always: Iterable[str] = ()) -> list[str]:
    """Write each route (done prefix + open stops with ETAs) and a ``live.route_replanned`` event
    (all routes in one batch, :meth:`PlanRepository.save_routes`); in ``baton`` mode also tell the
    customers whose predicted ETA (with its uncertainty) now misses the window, once per delay
    episode, and those whose delay is over (:mod:`baton.live.notices`). With ``material_s`` > 0, a route whose stop
    sequence is unchanged and no ETA moved by ``material_s`` seconds or more since it was last
    published is not rewritten (except those in ``always``). Returns the route ids written."""
    plan = board.plan
    assert plan is not None
    written = []
    forced = set(always)
    for rid in sorted(set(route_ids) | forced):
        route = plan.routes[rid]
        timeline = evaluate(plan, route)
        if board.mode == "baton":
            for notice in board.delays.review(plan, timeline, board.clock(at)):
                _tell(uow, plan, notice, at)
        if material_s > 0 and rid not in forced and not board.moved(rid, timeline, material_s):
            continue
        # only the done prefix is read back, and only when there is one
        stored = None
        if board.done_count.get(rid):
            try:
                stored = uow.plans.get_route(rid)
            except NotFound:
                stored = None
        domain = board.to_route(rid, stored, timeline)
        written.append(domain)
        uow.record(RouteReplanned(occurred_at=at, route_id=rid, cause=cause, order_ids=route.order_ids,
                                  end=domain.end.isoformat()))
    uow.plans.save_routes(written, board.plan_id)
    return [r.id for r in written]


def notify_unserved(uow: AbstractUnitOfWork, board: LiveBoard, order_id: str, at: datetime) -> None:
    """Tell the customer of ``order_id``, left without a route today, unless they already know."""
    assert board.plan is not None
    notice = board.delays.unserved(board.plan, order_id)
    if notice is not None:
        _tell(uow, board.plan, notice, at)


def _tell(uow: AbstractUnitOfWork, plan: LivePlan, notice: Notice, at: datetime) -> None:
    from baton.planning.mapping import from_clock

    eta = from_clock(notice.eta_s, plan.day_start).isoformat() if notice.eta_s is not None else ""
    end = from_clock(notice.window_end_s, plan.day_start).isoformat()
    kind = DelayResolved if notice.kind == "resolved" else DelayNotified
    uow.record(kind(occurred_at=at, order_id=notice.order_id, eta=eta, window_end=end))


def membership(plan: LivePlan, route_ids: Iterable[str]) -> dict[str, str]:
    """order id → live route id, for the open orders of ``route_ids`` (before a repair)."""
    return {o: rid for rid in route_ids for o in plan.routes[rid].order_ids}


def repoint(uow: AbstractUnitOfWork, board: LiveBoard, before: dict[str, str], changed: Iterable[str],
            at: datetime, actor: str) -> None:
    """Orders a repair moved to another route (``before``: where they were) follow it in storage
    (``live.order_reassigned``, lifecycle matched to the new route)."""
    plan = board.plan
    assert plan is not None
    moved = {o: rid for rid in changed for o in plan.routes[rid].order_ids if before.get(o, rid) != rid}
    if moved:
        for order in uow.orders.get_many(sorted(moved)):
            place(uow, board, order, moved[order.id], at, actor, "moved by live repair")


def _route_status(board: LiveBoard, route_id: str) -> RouteStatus:
    assert board.plan is not None
    if board.plan.routes[route_id].started:
        return RouteStatus.IN_PROGRESS
    meta = board.route_meta.get(route_id)
    return meta.status if meta is not None else RouteStatus.DISPATCHED


def place(uow: AbstractUnitOfWork, board: LiveBoard, order: Order, route_id: str, at: datetime, actor: str,
          reason: str) -> None:
    """Move ``order`` along its lifecycle to match ``route_id``'s progress (planned, dispatched,
    out for delivery); an order already under way on another route is re-pointed with a
    ``live.order_reassigned`` event."""
    who = Actor.parse(actor)
    status = _route_status(board, route_id)
    if order.status in (S.CREATED, S.REATTEMPT):
        order.plan(route_id, at=at, actor=who)
    elif order.route_id != route_id:
        order.events.append(OrderReassigned(occurred_at=at, actor=actor, order_id=order.id,
                                            from_route_id=order.route_id, to_route_id=route_id, reason=reason))
        order.route_id = route_id
        order.version += 1
    if status in (RouteStatus.DISPATCHED, RouteStatus.IN_PROGRESS) and order.status == S.PLANNED:
        order.transition(S.DISPATCHED, at=at, actor=who)
    if status == RouteStatus.IN_PROGRESS and order.status == S.DISPATCHED:
        order.transition(S.OUT_FOR_DELIVERY, at=at, actor=who)
