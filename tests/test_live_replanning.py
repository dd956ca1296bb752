"""Live re-planning through the service layer: every event type, pinning, feasibility, events."""

from __future__ import annotations

from datetime import timedelta

import pytest

from baton.adapters.travel import make_provider
from baton.demo.enrich import DemoDay
from baton.domain.lifecycle import OrderStatus
from baton.domain.order import Order
from baton.domain.plan import StopKind
from baton.domain.values import TimeWindow
from baton.live.model import RELOAD, LivePlan, LiveRoute, evaluate
from baton.live.ops import Insertion, remove_order
from baton.live.risk import RISK_COST, at_risk
from baton.planning.check import check_plan
from baton.planning.mapping import problem_matrices
from baton.planning.problem import PlanningProblem
from baton.service_layer import commands
from baton.service_layer.messagebus import MessageBus
from live_support import live_day, live_setup, new_order


@pytest.fixture(scope="module")
def day() -> DemoDay:
    return live_day()


def _check(bus: MessageBus, day: DemoDay, extra: list[Order] = ()) -> list[str]:  # type: ignore[assignment]
    """check_plan on the stored current plan (before execution, routes start at the depot)."""
    with bus.uow:
        plan = bus.uow.plans.current()
        assert plan is not None
        ids = {o for r in plan.routes for o in r.order_ids}
        orders = bus.uow.orders.get_many(sorted(ids))
        depots, vehicles, drivers = bus.uow.depots.list(), bus.uow.vehicles.list(), bus.uow.drivers.list()
    plan.unassigned = []
    # the fleet as stored: the planner (and so the live board) asked the matrices with it
    problem = PlanningProblem(orders=orders, depots=depots, vehicles=vehicles, drivers=drivers,
                              day_start=day.day_start)
    matrices = problem_matrices(problem, make_provider("great-circle"))
    return [v.message for v in check_plan(plan, problem, matrices)]


def _names(bus: MessageBus) -> list[str]:
    return [e.name for e in bus.uow.all_events()]


def test_new_order_is_inserted_cheapest_feasible_and_the_plan_stays_feasible(db_url: str, day: DemoDay) -> None:
    bus, board = live_setup(db_url, day)
    assert _check(bus, day) == []
    result = bus.handle(commands.AddLiveOrder(at=day.day_start + timedelta(hours=7, minutes=5),
                                              order=new_order(day, "LIVE-1")))
    assert isinstance(result, Insertion)
    with bus.uow:
        order = bus.uow.orders.get("LIVE-1")
        route = bus.uow.plans.get_route(result.route_id)
    assert order.route_id == result.route_id and "LIVE-1" in route.order_ids
    assert order.status in (OrderStatus.PLANNED, OrderStatus.DISPATCHED)
    assert _check(bus, day) == []
    assert "live.order_inserted" in _names(bus) and "live.route_replanned" in _names(bus)
    # no other place on any route is both feasible and more than BRL 1 cheaper, counting the at-risk
    # penalty (brute force over every position; the fast path times only the smallest detours, so it
    # may miss a longer detour whose time waiting for a window absorbs)
    plan = board.plan
    assert plan is not None
    best = result.total
    for r in plan.routes.values():
        base = evaluate(plan, r, [x for x in r.open_items if x != "LIVE-1"])
        items = [x for x in r.open_items if x != "LIVE-1"]
        for pos in range(len(items) + 1):
            trial = evaluate(plan, r, [*items[:pos], "LIVE-1", *items[pos:]])
            if trial.feasible and base.feasible:
                penalty = RISK_COST if not set(at_risk(plan, r, trial)) <= set(at_risk(plan, r, base)) else 0.0
                best = min(best, trial.cost - base.cost + penalty)
    assert result.total <= best + 1.0


def test_infeasible_new_order_is_left_unassigned_with_a_reason_and_the_customer_told(
        db_url: str, day: DemoDay) -> None:
    bus, _ = live_setup(db_url, day)
    order = new_order(day, "LIVE-X", hours=(7.0, 7.1))  # window closes before any van can be there
    result = bus.handle(commands.AddLiveOrder(at=day.day_start + timedelta(hours=7), order=order))
    assert isinstance(result, str) and "window" in result
    names = _names(bus)
    assert "live.order_unassigned" in names and "live.delay_notified" in names
    with bus.uow:
        assert bus.uow.orders.get("LIVE-X").status == OrderStatus.CREATED


def test_cancel_and_modify_remove_and_reinsert(db_url: str, day: DemoDay) -> None:
    bus, board = live_setup(db_url, day)
    plan = board.plan
    assert plan is not None
    victim = next(r.free[1] for r in plan.routes.values() if len(r.free) > 2)
    bus.handle(commands.CancelOrder(at=day.day_start + timedelta(hours=7, minutes=10), order_id=victim))
    assert plan.route_of(victim) is None
    with bus.uow:
        plan_now = bus.uow.plans.current()
    assert plan_now is not None and victim not in plan_now.assigned_order_ids
    moved = next(r.free[0] for r in plan.routes.values() if r.free and r.free[0] != RELOAD)
    t0 = day.day_start
    bus.handle(commands.UpdateOrder(at=t0 + timedelta(hours=7, minutes=11), order_id=moved,
                                    changes={"time_windows": [TimeWindow(t0 + timedelta(hours=14),
                                                                         t0 + timedelta(hours=16))]}))
    route = plan.route_of(moved)
    assert route is not None
    visit = next(v for v in evaluate(plan, route).visits if v.item == moved)
    assert 14 * 3600 <= visit.start_s <= 16 * 3600
    assert _check(bus, day) == []


def test_pinned_stop_is_never_moved_and_traffic_recomputes_etas(db_url: str, day: DemoDay) -> None:
    bus, board = live_setup(db_url, day)
    plan = board.plan
    assert plan is not None
    t0 = day.day_start
    started = [rid for rid, r in plan.routes.items() if r.free]
    for rid in started:
        bus.handle(commands.DispatchRoute(at=t0 + timedelta(hours=7, minutes=30), route_id=rid))
        bus.handle(commands.StartRoute(at=t0 + timedelta(hours=8), route_id=rid))
    pinned = {rid: plan.routes[rid].pinned for rid in started}
    assert all(pinned.values())
    ends = {rid: evaluate(plan, plan.routes[rid]).end_s for rid in started}
    changed = bus.handle(commands.ReportTraffic(at=t0 + timedelta(hours=8, minutes=1), factor=2.0,
                                                start=t0 + timedelta(hours=8), end=t0 + timedelta(hours=12)))
    assert changed and all(evaluate(plan, plan.routes[rid]).end_s >= ends[rid] for rid in started)
    for k in range(6):  # new orders, a breakdown: the pinned stops stay first
        bus.handle(commands.AddLiveOrder(at=t0 + timedelta(hours=8, minutes=5 + k),
                                         order=new_order(day, f"LIVE-{k}", near=k * 7)))
    broken = started[0]
    moved, left = bus.handle(commands.ReportBreakdown(at=t0 + timedelta(hours=8, minutes=30), route_id=broken))
    for rid in started[1:]:
        assert plan.routes[rid].pinned == pinned[rid]
        with bus.uow:
            stored = bus.uow.plans.get_route(rid)
        first = next(s for s in stored.stops if s.kind == StopKind.DELIVERY)
        assert first.order_id == pinned[rid]
    # breakdown: every open stop of the broken van went to another van or is unassigned with a reason
    assert plan.routes[broken].open_items == []
    assert set(moved) | set(left) >= {pinned[broken]}
    for o in moved:
        route = plan.route_of(o)
        assert route is not None and route.id != broken
        # its parcel was on the broken van: it must be reloaded at the depot first
        items = route.open_items
        assert RELOAD in items[:items.index(o)] or not route.started, (route.id, route.started, items, o)
    assert all(o in plan.unassigned for o in left)
    assert "live.vehicle_broke_down" in _names(bus) and "live.traffic_reported" in _names(bus)


def test_not_home_gets_a_second_attempt_today_when_feasible(db_url: str, day: DemoDay) -> None:
    bus, board = live_setup(db_url, day)
    plan = board.plan
    assert plan is not None
    t0 = day.day_start
    rid, route = next((rid, r) for rid, r in plan.routes.items() if len(r.free) >= 3)
    plan.orders[route.free[0]].windows = [(8 * 3600, 18 * 3600)]  # its first customer is in all day
    bus.handle(commands.DispatchRoute(at=t0 + timedelta(hours=7, minutes=30), route_id=rid))
    bus.handle(commands.StartRoute(at=t0 + timedelta(hours=8), route_id=rid))
    first = route.pinned
    assert first is not None
    at = t0 + timedelta(seconds=evaluate(plan, route).visits[0].start_s)
    bus.handle(commands.ArriveAtStop(at=at, route_id=rid, order_id=first))
    bus.handle(commands.FailDelivery(at=at + timedelta(minutes=2), route_id=rid, order_id=first, reason="not_home"))
    with bus.uow:
        order = bus.uow.orders.get(first)
    assert order.status == OrderStatus.OUT_FOR_DELIVERY and first in route.free, plan.unassigned.get(first)
    visit = next(v for v in evaluate(plan, route).visits if v.item == first)
    assert visit.start_s >= board.clock(at) + 3600  # at least an hour later, same van (parcel on board)
    steps = [getattr(e, "to_status", "") for e in bus.uow.events_for(first) if e.name == "order.status_changed"]
    assert steps[-4:] == ["reattempt", "planned", "dispatched", "out_for_delivery"]
    assert route.done == [first] and route.pinned != first


def test_second_attempt_is_next_day_when_the_window_is_over(db_url: str, day: DemoDay) -> None:
    from baton.live.attempts import second_attempt

    _, board = live_setup(db_url, day)
    plan = board.plan
    assert plan is not None
    rid, route = next((rid, r) for rid, r in plan.routes.items() if r.free)
    oid = route.free[0]
    late = max(late for _, late in plan.orders[oid].windows)
    reason = second_attempt(plan, rid, oid, late - 60)
    assert isinstance(reason, str) and "tomorrow" in reason and plan.unassigned[oid] == reason


def test_stored_live_events_read_back(db_url: str, day: DemoDay) -> None:
    bus, _ = live_setup(db_url, day)
    bus.handle(commands.AddLiveOrder(at=day.day_start + timedelta(hours=7, minutes=5), order=new_order(day, "L-9")))
    with bus.uow:
        events = bus.uow.events_for("L-9")
    assert [e.name for e in events][:1] == ["order.created"]
    assert any(e.name == "live.order_inserted" for e in events)


def test_bad_traffic_report_names_the_field(db_url: str, day: DemoDay) -> None:
    from baton.domain.errors import ValidationError

    bus, _ = live_setup(db_url, day)
    t0 = day.day_start
    with pytest.raises(ValidationError, match="factor"):
        bus.handle(commands.ReportTraffic(at=t0, factor=0, start=t0, end=t0))


def _nearest_stop(plan: LivePlan, min_free: int) -> tuple[str, LiveRoute, str]:
    """``(route id, route, order)``: among routes with ``min_free`` free stops or more, the stop after
    the first whose visit lengthens its route's day least, and at all."""
    best: tuple[int, str, str] | None = None
    for rid, route in sorted(plan.routes.items()):
        if len(route.free) < min_free:
            continue
        end = evaluate(plan, route).end_s
        for x in route.free[1:]:
            saved = end - evaluate(plan, route, [y for y in route.free if y != x]).end_s
            if saved > 0 and (best is None or (saved, rid, x) < best):
                best = (saved, rid, x)
    assert best is not None
    return best[1], plan.routes[best[1]], best[2]


def test_second_attempt_may_add_a_little_overtime_never_a_late_stop(db_url: str, day: DemoDay) -> None:
    from baton.live.attempts import OVERTIME_CAP_S, RETRY_OVERTIME_S, insert_on_board
    from baton.live.ops import insert_order

    _, board = live_setup(db_url, day)
    plan = board.plan
    assert plan is not None
    rid, route, oid = _nearest_stop(plan, 3)
    route.free.remove(oid)  # the customer was not home: the parcel stays on the van
    route.onboard.add(oid)
    end = evaluate(plan, route).end_s
    shift, most = end - 60, end + 4 * 3600  # the van already runs a minute past its shift
    route.shift_end_s, route.max_end_s = shift, most
    free = list(route.free)
    refused = insert_order(plan, oid, [rid])
    assert isinstance(refused, str) and route.free == free  # an ordinary insertion may not lengthen it
    retried = insert_on_board(plan, oid, [rid])
    assert isinstance(retried, Insertion), retried
    assert oid in route.free and oid not in plan.unassigned
    assert (route.shift_end_s, route.max_end_s) == (shift, most)  # the stretch was only for the trial
    t = evaluate(plan, route)
    assert end < t.end_s <= end + RETRY_OVERTIME_S and all(v.late_s == 0 for v in t.visits)
    # past the legal cap of overtime, the second attempt waits for tomorrow
    route.free.remove(oid)
    route.shift_end_s = end - OVERTIME_CAP_S
    reason = insert_on_board(plan, oid, [rid])
    assert isinstance(reason, str) and plan.unassigned[oid] == reason and oid not in route.free


def test_second_attempt_may_make_a_late_stop_a_little_later_never_a_stop_late(db_url: str, day: DemoDay) -> None:
    from baton.live.attempts import RETRY_OVERTIME_S, insert_on_board
    from baton.live.ops import insert_order

    _, board = live_setup(db_url, day)
    plan = board.plan
    assert plan is not None
    rid, route, oid = _nearest_stop(plan, 4)
    route.free.remove(oid)
    route.onboard.add(oid)
    first = plan.orders[route.free[0]]
    visit = evaluate(plan, route).visits[0]
    first.windows = [(visit.start_s - 3600, visit.start_s - 600)]  # the first stop is 10 min late
    route.max_end_s = route.shift_end_s = evaluate(plan, route).end_s + 4 * 3600
    base = evaluate(plan, route)
    assert [i for i, _ in base.issues] == [first.id]
    assert isinstance(insert_order(plan, oid, [rid]), str)  # an ordinary insertion may not lengthen it
    retried = insert_on_board(plan, oid, [rid])
    assert isinstance(retried, Insertion), retried
    t = evaluate(plan, route)
    assert [i for i, _ in t.issues] == [first.id]
    assert base.late_s <= t.late_s <= base.late_s + RETRY_OVERTIME_S
    assert base.end_s < t.end_s <= base.end_s + RETRY_OVERTIME_S


def test_next_stop_is_chosen_on_leaving_never_a_long_wait_for_a_later_window(db_url: str, day: DemoDay) -> None:
    """A van leaves a stop after 10:00 and its route's next stop is an 08-10 or 16-18 order: pinning
    it would make the driver wait hours at that door with the rest on board. That stop is tried later
    in the route before the next stop is pinned (ops.choose_next): the 16-18 customer is served later,
    in that window, and no stop is late."""
    bus, board = live_setup(db_url, day)
    plan = board.plan
    assert plan is not None
    t0 = day.day_start
    rid, route = min(((rid, r) for rid, r in plan.routes.items() if len(r.free) >= 4), key=lambda x: len(x[1].free))
    first, both = route.free[0], route.free[1]
    for oid in route.free:
        plan.orders[oid].windows = [(8 * 3600, 18 * 3600)]
    plan.orders[both].windows = [(8 * 3600, 10 * 3600), (16 * 3600, 18 * 3600)]
    bus.handle(commands.DispatchRoute(at=t0 + timedelta(hours=7, minutes=30), route_id=rid))
    bus.handle(commands.StartRoute(at=t0 + timedelta(hours=8), route_id=rid))
    assert route.pinned == first
    at = t0 + timedelta(hours=9, minutes=58)  # too late to reach the next door by 10:00
    bus.handle(commands.ArriveAtStop(at=at, route_id=rid, order_id=first))
    bus.handle(commands.CompleteDelivery(at=at + timedelta(minutes=3), route_id=rid, order_id=first))
    assert route.pinned is not None and route.pinned != both and both in route.free
    timeline = evaluate(plan, route)
    assert timeline.feasible and all(v.late_s == 0 for v in timeline.visits)
    served = next(v for v in timeline.visits if v.item == both)
    assert 16 * 3600 <= served.start_s <= 18 * 3600
    waits = [v.start_s - v.arrive_s for v in timeline.visits if v.item != both]
    assert max(waits, default=0) < 1800
    with bus.uow:
        stored = bus.uow.plans.get_route(rid)
    upcoming = [s.order_id for s in stored.stops if s.kind == StopKind.DELIVERY and s.actual_departure is None]
    assert upcoming[0] == route.pinned and both in upcoming


@pytest.mark.parametrize("leaving", ["start", "reload"])
def test_a_van_leaving_the_depot_is_not_sent_to_wait_hours_at_its_first_door(db_url: str, day: DemoDay,
                                                                             leaving: str) -> None:
    """The first stop after the depot is chosen as on leaving any stop (board.set_off): a 16-18 order
    first in the day's route, or first in the trip after a reload, is served later in it, in its
    window, instead of the van waiting at its door from morning; the stop it drives to is pinned and
    published first. (For the reload, the choice is already made when the van leaves its last stop
    before the depot, and made again at the reload.)"""
    bus, board = live_setup(db_url, day)
    plan = board.plan
    assert plan is not None
    t0 = day.day_start
    rid, route = min(((rid, r) for rid, r in plan.routes.items() if len(r.free) >= 6), key=lambda x: len(x[1].free))
    keep = 3 if leaving == "reload" else 6  # short trips: the route as planned breaks no rule, nothing repairs it
    for oid in route.free[keep:]:
        remove_order(plan, oid)
    for oid in route.free:
        plan.orders[oid].windows = [(8 * 3600, 18 * 3600)]
    if leaving == "reload":  # one stop, back to the depot, then the trip under test
        route.free.insert(1, RELOAD)
    first, evening = route.free[0], route.free[2 if leaving == "reload" else 0]
    plan.orders[evening].windows = [(16 * 3600, 18 * 3600)]
    bus.handle(commands.DispatchRoute(at=t0 + timedelta(hours=7, minutes=30), route_id=rid))
    bus.handle(commands.StartRoute(at=t0 + timedelta(hours=8), route_id=rid))
    if leaving == "reload":
        assert route.pinned == first and evening not in route.onboard
        at = t0 + timedelta(hours=8, minutes=20)
        bus.handle(commands.ArriveAtStop(at=at, route_id=rid, order_id=first))
        bus.handle(commands.CompleteDelivery(at=at + timedelta(minutes=3), route_id=rid, order_id=first))
        assert route.pinned == RELOAD
        bus.handle(commands.ReloadAtDepot(at=t0 + timedelta(hours=9), route_id=rid))
        assert evening in route.onboard
    assert route.pinned is not None and route.pinned != evening and evening in route.free
    timeline = evaluate(plan, route)
    assert timeline.feasible and all(v.late_s == 0 for v in timeline.visits)
    served = next(v for v in timeline.visits if v.item == evening)
    assert 16 * 3600 <= served.start_s <= 18 * 3600
    with bus.uow:
        stored = bus.uow.plans.get_route(rid)
    upcoming = [s.order_id for s in stored.stops if s.kind == StopKind.DELIVERY and s.actual_departure is None]
    assert upcoming[0] == route.pinned and evening in upcoming
