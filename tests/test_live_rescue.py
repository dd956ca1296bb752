"""Outcome levers of live re-planning: the city-wide pace learnt from the legs driven, the at-risk
insertion penalty, the rescue pass (baton.live.rescue) and the morning's leftovers at StartLive."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from unittest.mock import patch

import pytest

from baton.demo.enrich import DemoDay
from baton.domain.lifecycle import OrderStatus
from baton.domain.plan import Plan, UnassignedOrder
from baton.live import ops
from baton.live.board import LiveBoard
from baton.live.events import LivePlanRescued, OrderLeftUnassigned
from baton.live.model import LivePlan, Slowdown, evaluate
from baton.live.ops import Insertion, insert_order, remove_order
from baton.live.rescue import rescue
from baton.live.risk import RISK_COST, at_risk
from baton.live.traffic import PACE_MIN_LEGS, CityPace
from baton.service_layer import commands
from baton.service_layer.messagebus import MessageBus
from live_support import live_day, live_setup, new_order

H = 3600


@pytest.fixture(scope="module")
def day() -> DemoDay:
    return live_day()


def _plan(board: LiveBoard) -> LivePlan:
    assert board.plan is not None
    return board.plan


def _orders_everywhere(plan: LivePlan) -> dict[str, str]:
    """Every order of the plan → where it is: a route id (open), ``done`` or ``unassigned``."""
    where = {o: "unassigned" for o in plan.unassigned}
    for rid, r in plan.routes.items():
        where |= {o: rid for o in r.order_ids}
        where |= {o: "done" for o in r.done}
    return where


def _start_all(bus: MessageBus, board: LiveBoard, day: DemoDay) -> list[str]:
    t0, plan = day.day_start, _plan(board)
    started = sorted(rid for rid, r in plan.routes.items() if r.free)
    for rid in started:
        bus.handle(commands.DispatchRoute(at=t0 + timedelta(hours=7, minutes=30), route_id=rid))
        bus.handle(commands.StartRoute(at=t0 + timedelta(hours=8), route_id=rid))
    return started


# city-wide pace -----------------------------------------------------------------------------
def test_city_pace_is_a_ratio_of_sums_once_enough_legs_were_seen() -> None:
    pace = CityPace()
    for _ in range(PACE_MIN_LEGS - 1):
        pace.observe(600, 720)
    assert pace.factor == 1.0  # too few legs yet
    assert pace.observe(600, 720) and pace.factor == pytest.approx(1.2)
    for _ in range(1000):
        pace.observe(600, 6000)  # a stuck van does not take the city to 10x: clamped
    assert pace.factor == pytest.approx(1.5)


def test_legs_driven_slower_than_planned_teach_the_plan_the_city_pace(db_url: str, day: DemoDay) -> None:
    bus, board = live_setup(db_url, day)
    plan, t0 = _plan(board), day.day_start
    started = _start_all(bus, board, day)
    arrived = 0
    for rid in started:  # every van drives its first legs 20 % slower than the matrix says
        route = plan.routes[rid]
        for _ in range(4):
            oid = route.pinned
            if oid is None or oid not in plan.orders:
                break
            secs = plan.geo.leg(route.position, plan.orders[oid].point)[1]
            at = t0 + timedelta(seconds=route.ready_s + round(secs * 1.2 / route.speed_factor))
            bus.handle(commands.ArriveAtStop(at=at, route_id=rid, order_id=oid))
            arrived += secs > 120
            bus.handle(commands.CompleteDelivery(at=at + timedelta(seconds=plan.orders[oid].service_s),
                                                 route_id=rid, order_id=oid))
    assert arrived >= 1 and plan.pace.legs
    assert all(took == pytest.approx(1.2 * expected, abs=2) for expected, took in plan.pace.legs)
    # with fewer legs than PACE_MIN_LEGS the pace is not applied yet; feed the rest the same way
    while len(plan.pace.legs) < PACE_MIN_LEGS:
        plan.pace.observe(600, 720)
    assert plan.pace.factor == pytest.approx(1.2, abs=0.02)
    # ETAs and feasibility are timed at the city's pace: the routes end later than at the matrix's
    for rid in started:
        route = plan.routes[rid]
        assert plan.factor_of(route) == pytest.approx(plan.pace.factor * route.traffic)
        assert 0.9 < route.traffic < 1.1  # the vehicle's own factor is what the city's does not explain
        if route.free:
            now = evaluate(plan, route).end_s
            with patch.object(plan.pace, "factor", 1.0):
                assert evaluate(plan, route).end_s < now


# at-risk insertion penalty ------------------------------------------------------------------
def test_insertion_pays_the_risk_penalty_and_prefers_routes_with_room(db_url: str, day: DemoDay) -> None:
    _, board = live_setup(db_url, day)
    plan = board.plan
    assert plan is not None
    differs = 0
    for k in range(60):  # new orders next to each of the day's, open all day
        order = new_order(day, f"RISK-{k}", (8.0, 17.0), near=k, offset_deg=0.0005)
        plan.orders[order.id] = board.live_order(plan, order)
        with patch.object(ops, "RISK_COST", 0.0):
            cheap = insert_order(plan, order.id)
        if isinstance(cheap, Insertion):
            remove_order(plan, order.id)
        chosen = insert_order(plan, order.id)
        if not isinstance(chosen, Insertion):
            continue
        assert chosen.penalty in (0.0, RISK_COST)
        route = plan.routes[chosen.route_id]
        base = evaluate(plan, route, [x for x in route.open_items if x != order.id])
        newly = set(at_risk(plan, route, chosen.timeline)) - set(at_risk(plan, route, base))
        assert (chosen.penalty == RISK_COST) == bool(newly)
        if isinstance(cheap, Insertion) and (cheap.route_id, cheap.position) != (chosen.route_id, chosen.position):
            # the cheapest place put a stop at risk; the one chosen costs less than that plus the penalty
            assert chosen.penalty == 0.0 and chosen.added_cost < cheap.added_cost + RISK_COST
            differs += 1
        remove_order(plan, order.id)
    assert differs >= 1  # the penalty changed at least one choice on this day


# rescue pass ---------------------------------------------------------------------------------
def _squeeze(plan: LivePlan, rid: str, day: DemoDay) -> None:
    """Vehicle ``rid`` is reported 2.5x slower for the morning: its later stops become late or at risk."""
    route = plan.routes[rid]
    plan.slowdowns.append(Slowdown(2.5, 7 * H, 13 * H, vehicle_id=route.vehicle_id))


def test_rescue_moves_stops_at_risk_keeps_pins_and_drops_nothing(db_url: str, day: DemoDay) -> None:
    bus, board = live_setup(db_url, day)
    plan, t0 = _plan(board), day.day_start
    busy = sorted(rid for rid, r in plan.routes.items() if len(r.free) >= 4)
    started = busy[1:]
    for rid in started:  # all vans but one leave: their first stops are pinned, their parcels on board
        bus.handle(commands.DispatchRoute(at=t0 + timedelta(hours=7, minutes=30), route_id=rid))
        bus.handle(commands.StartRoute(at=t0 + timedelta(hours=8), route_id=rid))
    victim = busy[0]  # still at the depot: its parcels can go on another van
    _squeeze(plan, victim, day)
    for rid in started[:2]:
        _squeeze(plan, rid, day)
    pinned = {rid: plan.routes[rid].pinned for rid in started}
    onboard = {rid: set(plan.routes[rid].order_ids) & plan.routes[rid].onboard for rid in started}
    where = _orders_everywhere(plan)
    risky_before = {rid: len(at_risk(plan, r, evaluate(plan, r))) for rid, r in plan.routes.items()}
    assert risky_before[victim] > 0
    result = bus.handle(commands.RescueLivePlan(at=t0 + timedelta(hours=8, minutes=5)))
    assert result is not None and result.after < result.before
    assert result.moved and all(src == victim for src, _ in result.moved.values())
    for rid in started:  # pinned stops and parcels on board never move
        assert plan.routes[rid].pinned == pinned[rid]
        assert onboard[rid] <= set(plan.routes[rid].order_ids)
    for oid, (_, to) in result.moved.items():  # on time where they went, and stored there
        visit = next(v for v in evaluate(plan, plan.routes[to]).visits if v.item == oid)
        assert visit.late_s == 0
        with bus.uow:
            assert bus.uow.orders.get(oid).route_id == to
    after = _orders_everywhere(plan)
    assert set(after) == set(where)  # nothing dropped
    assert all(after[o] == where[o] for o in where if o not in result.moved and o not in result.inserted)
    with bus.uow:
        events = [e for e in bus.uow.all_events() if isinstance(e, LivePlanRescued)]
    assert len(events) == 1 and events[0].moved == {o: to for o, (_, to) in result.moved.items()}
    assert events[0].at_risk_before == result.before and events[0].at_risk_after == result.after
    # idempotent: passes on an unchanged plan reach a fixed point, after which a pass changes nothing
    for _ in range(5):
        state = {rid: list(r.open_items) for rid, r in plan.routes.items()}
        again = bus.handle(commands.RescueLivePlan(at=t0 + timedelta(hours=8, minutes=5)))
        assert again is not None and again.after <= again.before
        if not again.changed:
            break
    assert not again.moved and not again.inserted and not again.resequenced
    assert {rid: list(r.open_items) for rid, r in plan.routes.items()} == state


def test_rescue_resequences_a_route_with_stops_at_risk(db_url: str, day: DemoDay) -> None:
    _, board = live_setup(db_url, day)
    plan = _plan(board)
    rid = max(sorted(plan.routes), key=lambda r: len(plan.routes[r].free))
    route = plan.routes[rid]
    route.free = route.free[::-1]  # a bad sequence: the morning's stops served last
    before = len(at_risk(plan, route, evaluate(plan, route)))
    assert before > 0
    # only this route may change: the other vans are out of the picture
    for other in plan.routes.values():
        if other.id != rid:
            other.broken = True
    result = rescue(plan, 7 * H)
    assert result.resequenced == [rid] and not result.moved
    assert len(at_risk(plan, route, evaluate(plan, route))) < before


def test_rescue_retries_orders_without_a_route_and_tells_those_still_without(db_url: str, day: DemoDay) -> None:
    bus, board = live_setup(db_url, day)
    plan, t0 = _plan(board), day.day_start
    rid = sorted(r for r in plan.routes if plan.routes[r].free)[0]
    oid = plan.routes[rid].free[-1]
    remove_order(plan, oid)
    plan.unassigned[oid] = "test: no room at the time"
    gone = new_order(day, "GONE-1", (7.0, 7.25), near=3, offset_deg=0.0005)  # window over by the pass
    bus.handle(commands.AddLiveOrder(at=t0 + timedelta(hours=7, minutes=1), order=gone))
    assert "GONE-1" in plan.unassigned
    result = bus.handle(commands.RescueLivePlan(at=t0 + timedelta(hours=7, minutes=30)))
    assert result is not None and oid in result.inserted and oid not in plan.unassigned
    assert "GONE-1" in result.unassigned and "GONE-1" in plan.unassigned  # not dropped: kept, with its reason
    with bus.uow:
        order = bus.uow.orders.get(oid)
        told = [e for e in bus.uow.events_for("GONE-1") if e.name == "live.delay_notified"]
    assert order.route_id == result.inserted[oid] and order.status in (OrderStatus.PLANNED, OrderStatus.DISPATCHED)
    assert len(told) == 1  # told once, when it was left unassigned; not again by the pass


def test_rescue_gives_a_failed_attempt_its_second_attempt_on_the_van_carrying_it(
        db_url: str, day: DemoDay) -> None:
    bus, board = live_setup(db_url, day)
    plan, t0 = _plan(board), day.day_start
    rid, route = next((rid, r) for rid, r in sorted(plan.routes.items()) if len(r.free) >= 3)
    plan.orders[route.free[0]].windows = [(8 * H, 18 * H)]  # its first customer is in all day
    bus.handle(commands.DispatchRoute(at=t0 + timedelta(hours=7, minutes=30), route_id=rid))
    bus.handle(commands.StartRoute(at=t0 + timedelta(hours=8), route_id=rid))
    first = route.pinned
    assert first is not None
    board.retry_gap_s = 20 * H  # the second attempt is refused at first: no window left today
    at = t0 + timedelta(seconds=evaluate(plan, route).visits[0].start_s)
    bus.handle(commands.ArriveAtStop(at=at, route_id=rid, order_id=first))
    bus.handle(commands.FailDelivery(at=at + timedelta(minutes=2), route_id=rid, order_id=first, reason="not_home"))
    assert first in plan.unassigned and first in route.onboard
    plan.orders[first].not_before_s = board.clock(at) + H  # e.g. the customer said they will be home in an hour
    result = bus.handle(commands.RescueLivePlan(at=at + timedelta(minutes=5)))
    assert result is not None and result.inserted.get(first) == rid  # only the van with the parcel
    with bus.uow:
        order = bus.uow.orders.get(first)
    assert order.status == OrderStatus.OUT_FOR_DELIVERY and order.route_id == rid
    steps = [getattr(e, "to_status", "") for e in bus.uow.events_for(first) if e.name == "order.status_changed"]
    assert "reattempt" in steps[-4:]


def test_rescue_is_deterministic(tmp_path_factory: pytest.TempPathFactory, day: DemoDay) -> None:
    outs = []
    for k in range(2):
        url = f"sqlite:///{tmp_path_factory.mktemp(f'rescue{k}') / 'db.sqlite'}"
        bus, board = live_setup(url, day)
        plan = _plan(board)
        for rid in sorted(plan.routes)[:3]:
            _squeeze(plan, rid, day)
        result = bus.handle(commands.RescueLivePlan(at=day.day_start + timedelta(hours=7, minutes=30)))
        assert result is not None
        van = {rid: r.vehicle_id for rid, r in plan.routes.items()}  # route ids carry the plan's random id
        outs.append(({o: (van[a], van[b]) for o, (a, b) in result.moved.items()},
                     {o: van[r] for o, r in result.inserted.items()}, sorted(van[r] for r in result.resequenced),
                     {van[rid]: list(r.open_items) for rid, r in plan.routes.items()}))
    assert outs[0] == outs[1]


# morning leftovers ------------------------------------------------------------------------------
def test_start_live_inserts_the_morning_leftovers_and_reports_the_rest(db_url: str, day: DemoDay) -> None:
    from baton.adapters.travel import make_provider
    from baton.service_layer.bootstrap import bootstrap
    from baton.service_layer.live_reactions import enable_live

    bus = bootstrap(db_url, travel=make_provider("great-circle"))
    t0 = day.day_start
    orders = [replace(o, events=[]) for o in day.orders[:20]]
    late = new_order(day, "TOO-LATE", (6.0, 6.5), near=0, offset_deg=0.0005)  # closed before any van can leave
    bus.handle(commands.RegisterFleet(at=t0 + timedelta(hours=6), depots=[day.depot], vehicles=day.vehicles,
                                      drivers=day.drivers))
    bus.handle(commands.CreateOrders(at=t0 + timedelta(hours=6), orders=[*orders, late]))
    bus.handle(commands.SubmitPlan(at=t0 + timedelta(hours=6.5), plan=Plan(
        id="p", created_at=t0, unassigned=[UnassignedOrder(o.id, "morning plan: no room") for o in [*orders, late]])))
    board = enable_live(bus, "baton")
    bus.handle(commands.StartLive(at=t0 + timedelta(hours=7)))
    plan = _plan(board)
    placed = {o for r in plan.routes.values() for o in r.order_ids}
    assert {o.id for o in orders} <= placed
    assert plan.unassigned.get("TOO-LATE", "").startswith("no feasible route: at the cheapest place, TOO-LATE would be "
                                                           "served ")
    assert plan.unassigned["TOO-LATE"].endswith(" min after its window")
    with bus.uow:
        left = [e for e in bus.uow.all_events() if isinstance(e, OrderLeftUnassigned)]
        told = [e for e in bus.uow.events_for("TOO-LATE") if e.name == "live.delay_notified"]
    assert [e.order_id for e in left] == ["TOO-LATE"] and len(told) == 1
