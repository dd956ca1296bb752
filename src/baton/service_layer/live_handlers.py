"""Command handlers of live orchestration: each command of the day (a new order, a dispatcher's
assignment, traffic, a breakdown, a break, a reload) repairs the live plan and publishes the routes it
changed (stops + ETAs) in the same transaction as its events. The reactions to execution events are in
:mod:`baton.service_layer.live_reactions`, which also turns the board on (``enable_live``). Without a
board the commands still store what happened (new orders, breakdowns) but change no route: the
``static`` policy.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from baton.domain.errors import NotFound
from baton.domain.events import (
    OrderCreated,
)
from baton.domain.lifecycle import OrderStatus
from baton.domain.plan import StopKind
from baton.domain.values import Actor, LatLng
from baton.live.breakdown import breakdown
from baton.live.events import (
    BreakTaken,
    OrderInserted,
    OrderLeftUnassigned,
    ReloadDone,
    TrafficReported,
    VehicleBrokeDown,
)
from baton.live.model import RELOAD, Slowdown, touches
from baton.live.ops import Insertion, insert_order, remove_order, repair
from baton.service_layer import commands
from baton.service_layer.live_publish import (
    MATERIAL_ETA_S,
    auto_board,
    live_board,
    membership,
    notify_unserved,
    place,
    publish,
    repoint,
)
from baton.service_layer.unit_of_work import AbstractUnitOfWork

if TYPE_CHECKING:
    from baton.service_layer.handlers import Dependencies

S = OrderStatus


#: Re-sequencing work (route timings) a traffic report may spend on the fast path; the background
#: improvement (:mod:`baton.live.improve`) does the rest.
TRAFFIC_REPAIR_EVALS = 160


def start_live(cmd: commands.StartLive, uow: AbstractUnitOfWork, deps: Dependencies) -> int:
    """Load the board and publish every route; returns the number of routes."""
    board = live_board(deps)
    if board is None:
        return 0
    with uow:
        plan = board.load(uow)
        insert = board.mode == "baton" if cmd.insert_unassigned is None else cmd.insert_unassigned
        if insert and plan.unassigned:
            # the morning plan's leftovers: the fast path tries them again, most urgent window first
            todo = sorted(plan.unassigned, key=lambda o: (max((late for _, late in plan.orders[o].windows),
                                                               default=0), o))
            by_id = {o.id: o for o in uow.orders.get_many(todo)}
            for oid in todo:
                result = insert_order(plan, oid)
                if isinstance(result, Insertion):
                    place(uow, board, by_id[oid], result.route_id, cmd.at, cmd.actor, "built by insertion")
                elif board.mode == "baton":
                    uow.record(OrderLeftUnassigned(occurred_at=cmd.at, actor=cmd.actor, order_id=oid,
                                                   reason=result))
        publish(uow, board, plan.routes, "start", cmd.at)
        if board.mode == "baton":  # neither the morning plan nor the fast path could serve them: tell them now
            for oid in sorted(plan.unassigned):
                notify_unserved(uow, board, oid, cmd.at)
        uow.commit()
    return len(plan.routes)


def add_live_order(cmd: commands.AddLiveOrder, uow: AbstractUnitOfWork, deps: Dependencies) -> Insertion | str:
    """Store the new order; with a ``baton`` board insert it (cheapest feasible insertion) and
    publish the route, else leave it unassigned with a reason (also among the stored plan's
    unassigned orders, for the dispatcher's queue) and tell the customer."""
    order = cmd.order
    if not any(isinstance(e, OrderCreated) for e in order.events):
        order.events.insert(0, OrderCreated(occurred_at=cmd.at, actor=cmd.actor, order_id=order.id,
                                            external_ref=order.external_ref))
    board = auto_board(deps) or live_board(deps)
    with uow:
        uow.orders.add_many([order])
        if board is None:
            uow.commit()
            return "no live orchestration: left for the next plan"
        plan = board.ensure(uow)
        board.catch_up(cmd.at)
        plan.orders[order.id] = board.live_order(plan, order)
        if board.mode != "baton":
            plan.unassigned[order.id] = "waiting for a dispatcher"
            uow.commit()
            return plan.unassigned[order.id]
        result = insert_order(plan, order.id)
        if isinstance(result, Insertion):
            place(uow, board, order, result.route_id, cmd.at, cmd.actor, "new order")
            visit = next(v for v in result.timeline.visits if v.item == order.id)
            from baton.planning.mapping import from_clock

            uow.record(OrderInserted(occurred_at=cmd.at, actor=cmd.actor, order_id=order.id,
                                     route_id=result.route_id, position=result.position,
                                     eta=from_clock(visit.start_s, plan.day_start).isoformat(),
                                     added_cost=round(result.added_cost, 2)))
            publish(uow, board, [result.route_id], "order.added", cmd.at)
        else:
            uow.record(OrderLeftUnassigned(occurred_at=cmd.at, actor=cmd.actor, order_id=order.id, reason=result))
            if board.plan_id:  # listed with the plan's unassigned orders: the dispatcher's queue shows it
                uow.plans.mark_unassigned(board.plan_id, order.id, result)
            notify_unserved(uow, board, order.id, cmd.at)
        uow.commit()
    return result


def assign_order(cmd: commands.AssignOrder, uow: AbstractUnitOfWork, deps: Dependencies) -> None:
    """Put the order where the dispatcher says (end of the route by default), with a reload first
    when its parcel is at the depot and the vehicle has left.

    Raises:
        NotFound: without a live board, or for an unknown order/route.
    """
    board = live_board(deps)
    if board is None:
        raise NotFound("live orchestration is off: nothing to assign to")
    with uow:
        plan = board.ensure(uow)
        board.catch_up(cmd.at)
        if cmd.route_id not in plan.routes:
            raise NotFound(f"unknown route id: {cmd.route_id}")
        order = uow.orders.get(cmd.order_id)
        if cmd.order_id not in plan.orders:
            plan.orders[cmd.order_id] = board.live_order(plan, order)
        old = remove_order(plan, cmd.order_id)
        route = plan.routes[cmd.route_id]
        items = route.free
        pos = len(items) if cmd.position is None else max(0, min(cmd.position, len(items)))
        reload_before = (not route.started) or RELOAD in items[:pos] or route.pinned == RELOAD
        new = [cmd.order_id] if cmd.order_id in route.onboard or reload_before else [RELOAD, cmd.order_id]
        route.free = items[:pos] + new + items[pos:]
        plan.unassigned.pop(cmd.order_id, None)
        place(uow, board, order, cmd.route_id, cmd.at, cmd.actor, "assigned by dispatcher")
        publish(uow, board, [cmd.route_id] + ([old] if old else []), "order.assigned", cmd.at)
        uow.commit()


def report_traffic(cmd: commands.ReportTraffic, uow: AbstractUnitOfWork, deps: Dependencies) -> list[str]:
    """Record the slowdown; with a board, recompute ETAs, repair threatened routes (``baton``)
    and publish the routes whose return time moved. Returns the published route ids.

    Raises:
        ValidationError: when ``factor`` is not > 0 or ``end`` is before ``start``.
    """
    from baton.domain.errors import ValidationError

    if not cmd.factor > 0:
        raise ValidationError(f"factor must be > 0, got {cmd.factor}")
    if cmd.end < cmd.start:
        raise ValidationError("end: the slowdown ends before it starts")
    board = live_board(deps)
    incident = f"tr-{cmd.start.isoformat()}-{cmd.vehicle_id or 'area'}"
    event = TrafficReported(occurred_at=cmd.at, actor=cmd.actor, incident_id=incident, factor=cmd.factor,
                            start=cmd.start.isoformat(), end=cmd.end.isoformat(),
                            lat=cmd.center[0] if cmd.center else None, lng=cmd.center[1] if cmd.center else None,
                            radius_m=cmd.radius_m, vehicle_id=cmd.vehicle_id)
    with uow:
        uow.record(event)
        changed: list[str] = []
        if board is not None:
            plan = board.ensure(uow)
            board.catch_up(cmd.at)
            slowdown = Slowdown(cmd.factor, board.clock(cmd.start), board.clock(cmd.end),
                                LatLng(*cmd.center) if cmd.center else None, cmd.radius_m, cmd.vehicle_id)
            # only the routes with a leg in the slowdown's area and span can change
            hit = [rid for rid, r in plan.routes.items() if touches(plan, r, slowdown)]
            plan.slowdowns.append(slowdown)
            where = membership(plan, hit)
            moved = repair(plan, hit, max_evals=TRAFFIC_REPAIR_EVALS) if board.mode == "baton" else set()
            repoint(uow, board, where, moved, cmd.at, cmd.actor)
            # re-timed routes are written only when an ETA moved materially; re-sequenced ones always
            changed = publish(uow, board, hit, "traffic", cmd.at, MATERIAL_ETA_S, always=moved)
        uow.commit()
    return changed


def report_breakdown(cmd: commands.ReportBreakdown, uow: AbstractUnitOfWork,
                     deps: Dependencies) -> tuple[list[str], list[str]]:
    """The vehicle is out for the day. ``baton``: its open stops go to the rest of the fleet;
    ``manual``: they wait for a dispatcher; no board: they are lost. Parcels on board go back to
    the depot with the recovery service (available for reload 45 min later). Returns
    ``(moved, unassigned)`` order ids."""
    board = live_board(deps)
    with uow:
        route = uow.plans.get_route(cmd.route_id)
        moved: list[str] = []
        left: list[str] = []
        transferred: list[str] = []
        if board is not None:
            plan = board.ensure(uow)
            board.catch_up(cmd.at)
            now = board.clock(cmd.at)
            if board.mode == "baton":
                result = breakdown(plan, cmd.route_id, now, board.transfer_delay_s)
                moved, left, transferred = result.moved, result.unassigned, result.transferred
                changed = result.changed_routes
            else:
                lr = plan.routes[cmd.route_id]
                left = lr.order_ids
                transferred = [o for o in left if o in lr.onboard]
                for o in transferred:
                    plan.orders[o].available_s = max(plan.orders[o].available_s, now + board.transfer_delay_s)
                lr.broken, lr.pinned, lr.free = True, None, []
                lr.onboard -= set(left)
                for o in left:
                    plan.unassigned[o] = "vehicle broke down: waiting for a dispatcher"
                changed = {cmd.route_id}
            by_id = {o.id: o for o in uow.orders.get_many(moved + left)}
            for o in moved:
                place(uow, board, by_id[o], plan.route_of(o).id, cmd.at, cmd.actor, cmd.reason)  # type: ignore[union-attr]
            if board.mode == "baton":
                for o in left:
                    why = plan.unassigned.get(o, "no feasible route")
                    uow.record(OrderLeftUnassigned(occurred_at=cmd.at, actor=cmd.actor, order_id=o, reason=why))
                    if by_id[o].status == S.PLANNED and board.plan_id:  # not loaded yet: back among the open
                        # orders, listed as unassigned for a dispatcher (the exceptions queue)
                        by_id[o].transition(S.CREATED, at=cmd.at, actor=Actor.parse(cmd.actor),
                                            reason=f"{cmd.reason}: {why}")
                        uow.plans.mark_unassigned(board.plan_id, o, f"{cmd.reason}: {why}")
                    notify_unserved(uow, board, o, cmd.at)
            publish(uow, board, changed, "breakdown", cmd.at)
        uow.record(VehicleBrokeDown(occurred_at=cmd.at, actor=cmd.actor, route_id=route.id,
                                    vehicle_id=route.vehicle_id, moved=moved, unassigned=left,
                                    transferred=transferred, reason=cmd.reason))
        uow.commit()
    return moved, left


def _mark_done(uow: AbstractUnitOfWork, route_id: str, kind: StopKind, start: datetime, end: datetime) -> None:
    """Record actual times on the route's first open stop of ``kind`` (a break or a reload)."""
    route = uow.plans.get_route(route_id)
    for stop in route.stops:
        if stop.kind == kind and stop.actual_departure is None:
            stop.actual_arrival, stop.actual_departure = start, end
            uow.plans.update_route(route)
            return


def take_break(cmd: commands.TakeBreak, uow: AbstractUnitOfWork, deps: Dependencies) -> None:
    """The driver rested: the break stop is done; the next stretch of work starts now."""
    board = live_board(deps)
    with uow:
        _mark_done(uow, cmd.route_id, StopKind.BREAK, cmd.started, cmd.at)
        if board is not None and board.plan is not None:
            board.break_taken(cmd.route_id, cmd.at)
        uow.record(BreakTaken(occurred_at=cmd.at, actor=cmd.actor, route_id=cmd.route_id,
                              started=cmd.started.isoformat()))
        uow.commit()


def reload_at_depot(cmd: commands.ReloadAtDepot, uow: AbstractUnitOfWork, deps: Dependencies) -> None:
    """The van loaded its next trip at the depot: the reload stop is done, the parcels on board."""
    board = live_board(deps)
    with uow:
        _mark_done(uow, cmd.route_id, StopKind.RELOAD, cmd.at, cmd.at)
        loaded: list[str] = []
        if board is not None and board.plan is not None:
            before = set(board.plan.routes[cmd.route_id].onboard)
            if board.reloaded(cmd.route_id, cmd.at):
                publish(uow, board, [cmd.route_id], "route.reloaded", cmd.at)
            loaded = sorted(board.plan.routes[cmd.route_id].onboard - before)
        uow.record(ReloadDone(occurred_at=cmd.at, actor=cmd.actor, route_id=cmd.route_id, order_ids=loaded))
        uow.commit()


def submit_plan(cmd: commands.SubmitPlan, uow: AbstractUnitOfWork, deps: Dependencies) -> str:
    """Store ``cmd.plan`` as the current plan; its orders become ``planned`` on their routes."""
    from baton.domain.events import PlanCreated

    actor = Actor.parse(cmd.actor)
    with uow:
        plan = cmd.plan
        by_id = {o.id: o for o in uow.orders.get_many(plan.assigned_order_ids)}
        for route in plan.routes:
            for oid in route.order_ids:
                by_id[oid].plan(route.id, at=cmd.at, actor=actor)
        uow.plans.add(plan)
        uow.record(PlanCreated(occurred_at=cmd.at, actor=cmd.actor, plan_id=plan.id, routes=len(plan.routes),
                               assigned=len(plan.assigned_order_ids), unassigned=len(plan.unassigned)))
        uow.commit()
    return plan.id


LIVE_HANDLERS: dict[type[commands.Command], Callable[..., object]] = {
    commands.StartLive: start_live,
    commands.AddLiveOrder: add_live_order,
    commands.AssignOrder: assign_order,
    commands.ReportTraffic: report_traffic,
    commands.ReportBreakdown: report_breakdown,
    commands.TakeBreak: take_break,
    commands.ReloadAtDepot: reload_at_depot,
    commands.SubmitPlan: submit_plan,
}

from baton.service_layer.live_improve import improve_live_plan  # noqa: E402

LIVE_HANDLERS[commands.ImproveLivePlan] = improve_live_plan

from baton.service_layer.live_waves import release_wave  # noqa: E402

LIVE_HANDLERS[commands.ReleaseWave] = release_wave

from baton.service_layer.live_rescue import rescue_live_plan  # noqa: E402

LIVE_HANDLERS[commands.RescueLivePlan] = rescue_live_plan
