"""The API's live runtime outside HTTP: execution's repair requests reach the live board only while
the day is orchestrated, and everything the board commits is forwarded."""

from __future__ import annotations

from datetime import timedelta

import pytest

from baton.demo.enrich import DemoDay
from baton.domain.events import Event
from baton.domain.lifecycle import OrderStatus
from baton.entrypoints.api.live_runtime import LiveRepair, LiveRuntime, LiveRuntimes
from baton.service_layer import commands
from live_support import live_day, planned_bus


@pytest.fixture(scope="module")
def day() -> DemoDay:
    return live_day()


def test_repairs_go_to_the_live_board_once_the_day_is_started(db_url: str, day: DemoDay) -> None:
    bus = planned_bus(db_url, day)
    runtimes = LiveRuntimes(lambda _org, forward: LiveRuntime(bus, forward))
    forwarded: list[tuple[str, Event]] = []
    runtimes.listeners.append(lambda org, event: forwarded.append((org, event)))
    with bus.uow:
        plan = bus.uow.plans.current()
        assert plan is not None
        route = next(r for r in plan.routes if r.order_ids)
    repair = LiveRepair(runtimes, "acme", lambda rid: (route.vehicle_id, 1.8) if rid == route.id else None)
    at = day.day_start + timedelta(hours=9)

    assert runtimes.get("acme") is None
    before = repair.repair(route.id, route.order_ids[-2:], at)
    assert not before.applied and "not configured" in before.detail

    runtime = runtimes.for_org("acme")
    assert runtimes.for_org("acme") is runtime and not runtime.active
    assert not repair.repair(route.id, route.order_ids[-2:], at).applied  # created, not started yet
    runtime.handle(commands.StartLive(at=day.day_start + timedelta(hours=7)))
    assert runtime.active
    assert forwarded and {org for org, _ in forwarded} == {"acme"}
    assert {e.name for _, e in forwarded} >= {"live.route_replanned"}

    forwarded.clear()
    outcome = repair.repair(route.id, route.order_ids[-2:], at)
    assert "route" in outcome.detail  # moved stops, or re-published routes at best
    traffic = [e for _, e in forwarded if e.name == "live.traffic_reported"]
    assert len(traffic) == 1 and traffic[0].payload()["vehicle_id"] == route.vehicle_id
    assert traffic[0].payload()["factor"] == pytest.approx(1.8)
    assert not repair.repair("unknown-route", [], at).applied


def test_orders_no_van_can_take_go_back_to_the_dispatchers_queue(db_url: str, day: DemoDay) -> None:
    bus = planned_bus(db_url, day)
    runtime = LiveRuntime(bus)
    runtime.handle(commands.StartLive(at=day.day_start + timedelta(hours=7)))
    plan = runtime.board.plan
    assert plan is not None
    target = next(rid for rid, r in plan.routes.items() if r.order_ids)
    for rid, r in plan.routes.items():
        r.broken = r.broken or rid != target  # every other van is out already: nobody can take them
    stranded = plan.routes[target].order_ids
    moved, left = runtime.handle(commands.ReportBreakdown(at=day.day_start + timedelta(hours=7, minutes=5),
                                                          route_id=target, reason="driver_unavailable"))
    assert moved == [] and set(left) == set(stranded)
    with bus.uow:
        orders = bus.uow.orders.get_many(left)
        current = bus.uow.plans.current()
        assert current is not None
        reasons = {u.order_id: u.reason for u in current.unassigned}
    assert {o.status for o in orders} == {OrderStatus.CREATED} and {o.route_id for o in orders} == {None}
    assert all(reasons[o].startswith("driver_unavailable: ") for o in left)
    assert set(runtime.board.plan.unassigned) >= set(left)
