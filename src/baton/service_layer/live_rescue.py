"""Handler of :class:`~baton.service_layer.commands.RescueLivePlan`: the rescue pass.

Runs :func:`baton.live.rescue.rescue` on the live board's plan (``baton`` mode only): moved
orders follow their new route in their lifecycle (``live.order_reassigned``), orders given a
route again are planned (a failed attempt becomes ``reattempt`` first), the changed routes are
published with fresh ETAs and customers told of delays as usual, and one ``live.plan_rescued``
event records the pass, in the same transaction. Orders still without a route whose customer
does not know yet are told (:mod:`baton.live.notices`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from baton.domain.lifecycle import OrderStatus
from baton.live.events import LivePlanRescued
from baton.live.rescue import RescueResult, rescue
from baton.service_layer import commands
from baton.service_layer.live_publish import auto_board, notify_unserved, place, publish
from baton.service_layer.unit_of_work import AbstractUnitOfWork

if TYPE_CHECKING:
    from baton.service_layer.handlers import Dependencies

S = OrderStatus
#: Orders without a route that a rescue pass may give one (the others are done or cancelled).
_RETRYABLE = {S.CREATED, S.REATTEMPT, S.FAILED_ATTEMPT, S.PLANNED, S.DISPATCHED, S.OUT_FOR_DELIVERY}


def rescue_live_plan(cmd: commands.RescueLivePlan, uow: AbstractUnitOfWork,
                     deps: Dependencies) -> RescueResult | None:
    """Rescue the live plan; returns what the pass did, ``None`` without a ``baton`` board.

    Raises:
        NotFound: when there is no current plan.
    """
    board = auto_board(deps)
    if board is None:
        return None
    with uow:
        plan = board.ensure(uow)
        board.catch_up(cmd.at)
        waiting = {o.id: o for o in uow.orders.get_many(sorted(plan.unassigned))}
        retry = [oid for oid, o in waiting.items() if o.status in _RETRYABLE]
        result = rescue(plan, board.clock(cmd.at), retry)
        touched = sorted(set(result.moved) | set(result.inserted))
        by_id = {o.id: o for o in uow.orders.get_many(touched)}
        for oid in touched:
            order, route = by_id[oid], plan.route_of(oid)
            assert route is not None
            if order.status == S.FAILED_ATTEMPT:
                order.transition(S.REATTEMPT, at=cmd.at, reason="second attempt today")
            why = "rescue: moved to keep it on time" if oid in result.moved else "rescue: given a route"
            place(uow, board, order, route.id, cmd.at, cmd.actor, why)
        publish(uow, board, result.changed, "rescue", cmd.at)
        for oid in sorted(result.unassigned):
            notify_unserved(uow, board, oid, cmd.at)
        uow.record(LivePlanRescued(
            occurred_at=cmd.at, actor=cmd.actor, plan_id=board.plan_id, resequenced=result.resequenced,
            moved={o: to for o, (_, to) in sorted(result.moved.items())},
            inserted=dict(sorted(result.inserted.items())),
            unassigned=dict(sorted(result.unassigned.items())), at_risk_before=result.before,
            at_risk_after=result.after))
        uow.commit()
    return result
