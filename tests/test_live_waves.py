"""The ReleaseWave command: the wave policy on the live plan, through the service layer."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from baton.adapters.travel import make_provider
from baton.demo.enrich import enrich
from baton.demo.main_job import bundled_day
from baton.domain.lifecycle import OrderStatus
from baton.domain.plan import Plan, UnassignedOrder
from baton.domain.values import Address, LatLng, TimeWindow
from baton.intake.loggi import load_loggi_day
from baton.live.events import WaveReleased
from baton.live.model import evaluate
from baton.live.waves import must_dispatch
from baton.service_layer import commands
from baton.service_layer.bootstrap import bootstrap
from baton.service_layer.live_reactions import enable_live
from baton.service_layer.live_waves import wave_inputs


def test_release_wave_dispatches_must_go_orders_and_postpones_the_rest(db_url: str) -> None:
    day = enrich(load_loggi_day(bundled_day()), seed=7, limit=30)
    t0 = day.day_start
    src = day.orders[0]
    loc = LatLng(src.location.lat + 0.001, src.location.lng + 0.001)
    urgent = replace(src, id="URGENT", events=[], status=OrderStatus.CREATED, route_id=None,
                     address=Address("urgent", loc, "Brasília"),
                     time_windows=[TimeWindow(t0 + timedelta(hours=7.2), t0 + timedelta(hours=7.8))])
    orders = [replace(o, events=[]) for o in day.orders] + [urgent]
    bus = bootstrap(db_url, travel=make_provider("great-circle"))
    bus.handle(commands.RegisterFleet(at=t0 + timedelta(hours=6), depots=[day.depot], vehicles=day.vehicles,
                                      drivers=day.drivers))
    bus.handle(commands.CreateOrders(at=t0 + timedelta(hours=6), orders=orders))
    empty = Plan(id="waves", created_at=t0 + timedelta(hours=6),
                 unassigned=[UnassignedOrder(o.id, "waiting for a wave") for o in orders])
    bus.handle(commands.SubmitPlan(at=t0 + timedelta(hours=6), plan=empty))
    board = enable_live(bus, "baton")
    bus.handle(commands.StartLive(at=t0 + timedelta(hours=7), insert_unassigned=False))  # held for the waves
    plan = board.plan
    assert plan is not None and set(plan.unassigned) == {o.id for o in orders}
    at = t0 + timedelta(hours=7)
    # the must-dispatch orders, computed independently of the handler
    open_ids = sorted(plan.unassigned)
    idle = sorted(plan.routes.values(), key=lambda r: r.id)
    state, model = wave_inputs(plan, open_ids, idle[0].depot, board.clock(at), max(r.shift_end_s for r in idle),
                               min(r.capacity[0] for r in idle), 3, 3600, 0)
    must = {o for k, o in enumerate(open_ids) if must_dispatch(state, model)[k + 1]}
    assert "URGENT" in must

    event = bus.handle(commands.ReleaseWave(at=at, waves_left=3, seconds=1, max_iterations=200))
    assert isinstance(event, WaveReleased)
    no_van = {o for o, r in event.reasons.items() if r == "no vehicle"}
    assert set(event.released) | set(event.postponed) | no_van == set(open_ids)
    assert not set(event.released) & set(event.postponed)
    assert not must & set(event.postponed), "an order that must go was postponed"
    assert all(event.reasons[o] in ("must-dispatch", "no vehicle") for o in must)
    assert event.released
    assert event.postponed, "nothing waited: the wave dispatched greedily"
    assert all(event.reasons[o] == "postponed" for o in event.postponed)
    with bus.uow:
        stored = {o.id: o for o in bus.uow.orders.get_many(open_ids)}
        routes = {r.id: r for r in bus.uow.plans.current().routes}  # type: ignore[union-attr]
        names = [e.name for e in bus.uow.all_events()]
    assert "live.wave_released" in names
    for o in event.released:
        assert stored[o].status == OrderStatus.DISPATCHED
        assert o in routes[stored[o].route_id].order_ids
    for o in event.postponed:
        assert stored[o].status == OrderStatus.CREATED and o in plan.unassigned
    for rid in event.route_ids:
        assert evaluate(plan, plan.routes[rid]).feasible

    # the last wave: everything left goes
    last = bus.handle(commands.ReleaseWave(at=at + timedelta(hours=1), waves_left=0, seconds=1, max_iterations=200))
    assert isinstance(last, WaveReleased) and not last.postponed
    again = {o for o, r in last.reasons.items() if r == "no vehicle"}
    assert set(last.released) | again == set(event.postponed) | no_van


def test_release_wave_without_live_board_names_the_problem(db_url: str) -> None:
    from baton.domain.errors import NotFound

    bus = bootstrap(db_url, travel=make_provider("great-circle"))
    with pytest.raises(NotFound, match="live orchestration is off"):
        bus.handle(commands.ReleaseWave(at=bundled_day_start(), waves_left=1))


def bundled_day_start():  # type: ignore[no-untyped-def]
    return enrich(load_loggi_day(bundled_day()), seed=7, limit=5).day_start
