"""Handler of :class:`~baton.service_layer.commands.ImproveLivePlan`: the background improvement.

Runs :func:`baton.live.improve.improve` on the live board's plan; when the result is accepted
(better by the margin, nothing newly late, nobody dropped) it is applied, moved orders follow
their new route in their lifecycle (``live.order_reassigned``), formerly unassigned orders are
planned, and the changed routes are published with fresh ETAs. A ``live.plan_improved`` event
records every run, published or not, in the same transaction.

Run it from a scheduler or worker every few minutes (the simulator does it every 30 simulated
minutes); the search works on the board's state and is applied only if that state has not
changed meanwhile (:func:`baton.live.improve.apply` refuses a stale result).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from baton.live.events import LivePlanImproved
from baton.live.improve import ImproveOptions, ImproveResult, apply, improve
from baton.live.improve_model import ChurnCosts
from baton.service_layer import commands
from baton.service_layer.live_publish import auto_board, place, publish
from baton.service_layer.unit_of_work import AbstractUnitOfWork

if TYPE_CHECKING:
    from baton.service_layer.handlers import Dependencies


def improve_live_plan(cmd: commands.ImproveLivePlan, uow: AbstractUnitOfWork,
                      deps: Dependencies) -> ImproveResult | None:
    """Improve the live plan (``baton`` mode only); returns the result, ``None`` without a board.

    Raises:
        ValueError: on bad options (``seconds`` <= 0, ``margin`` outside [0, 1)).
        NotFound: when there is no current plan.
    """
    board = auto_board(deps)
    if board is None:
        return None
    opts = ImproveOptions(seconds=cmd.seconds, max_iterations=cmd.max_iterations, margin=cmd.margin,
                          churn=ChurnCosts(driver=cmd.churn_driver, eta=cmd.churn_eta), seed=cmd.seed)
    with uow:
        plan = board.ensure(uow)
        result = improve(plan, opts)
        if result.publish:
            changed = apply(plan, result)
            touched = sorted(set(result.moved) | set(result.served))
            by_id = {o.id: o for o in uow.orders.get_many(touched)}
            for oid in touched:
                route = plan.route_of(oid)
                if route is not None and oid in by_id:
                    place(uow, board, by_id[oid], route.id, cmd.at, cmd.actor, "background improvement")
            publish(uow, board, changed, "improvement", cmd.at)
        uow.record(LivePlanImproved(
            occurred_at=cmd.at, actor=cmd.actor, plan_id=board.plan_id, published=result.publish,
            reason=result.reason, current_cost=result.current_cost, candidate_cost=result.candidate_cost,
            gain_pct=result.gain_pct, routes=sorted(result.routes) if result.publish else [],
            moved=result.moved, retimed=result.retimed, served=result.served, seconds=result.seconds))
        uow.commit()
    return result
