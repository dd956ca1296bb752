"""Delay notices: a customer whose predicted ETA (with its uncertainty) misses the window is told
before the window starts, once per delay episode (baton.live.notices)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

import pytest

from baton.demo.enrich import DemoDay
from baton.live.events import DelayNotified, DelayResolved
from baton.live.model import Geo, LiveOrder, LivePlan, Timeline, Visit, evaluate
from baton.live.notices import (
    MARGIN_CAP_S,
    MARGIN_FLOOR_S,
    MATERIAL_S,
    RESOLVE_SLACK_S,
    DelayBook,
    margin_s,
    misses,
)
from baton.service_layer import commands
from live_support import live_day, live_setup


@pytest.fixture(scope="module")
def day() -> DemoDay:
    return live_day()


H = 3600


def test_margin_grows_with_the_time_ahead_and_is_capped() -> None:
    assert margin_s(0) == margin_s(-600) == MARGIN_FLOOR_S
    assert MARGIN_FLOOR_S < margin_s(H) < margin_s(2 * H) <= MARGIN_CAP_S
    assert margin_s(100 * H) == MARGIN_CAP_S


def test_late_means_after_a_window_that_opened_and_inside_none() -> None:
    two = [(8 * H, 10 * H), (16 * H, 18 * H)]
    assert not misses(two, 7 * H)  # early: the driver waits for the window
    assert not misses(two, 9 * H) and not misses(two, 17 * H)
    assert misses(two, 11 * H)  # between the windows: the driver rings, nobody expects them
    assert misses(two, 19 * H)
    assert not misses([], 19 * H)


def _plan(windows: list[tuple[int, int]]) -> LivePlan:
    order = LiveOrder("o-1", 1, windows, 300, (1, 1, 1))
    return LivePlan(datetime(2026, 3, 2), cast(Geo, None), {}, {"o-1": order})


def _timeline(arrive_s: int) -> Timeline:
    visit = Visit("o-1", 1, arrive_s, arrive_s, arrive_s + 300, 1000, 600)
    return Timeline((visit,), (), arrive_s + 900, 0, 0, (), 0, 0.0)


def test_one_notice_per_episode_a_new_one_when_materially_later_and_when_resolved() -> None:
    plan, book = _plan([(11 * H, 14 * H)]), DelayBook()
    now = 8 * H
    # at 08:00 the point ETA (13:30) is inside the window, but not with its uncertainty
    first = book.review(plan, _timeline(13 * H + 1800), now)
    assert [(n.kind, n.eta_s) for n in first] == [("late", 13 * H + 1800)]
    assert book.review(plan, _timeline(13 * H + 1900), now + 600) == []  # same episode: told already
    assert book.review(plan, _timeline(13 * H + 1800 + MATERIAL_S - 60), now + 900) == []
    later = book.review(plan, _timeline(13 * H + 1800 + MATERIAL_S), now + 1200)
    assert [n.kind for n in later] == ["later"]
    resolved = book.review(plan, _timeline(11 * H + 600), now + 1800)  # moved to an earlier van
    assert [n.kind for n in resolved] == ["resolved"] and "o-1" not in book.open
    assert book.review(plan, _timeline(11 * H + 700), now + 2400) == []
    assert [n.kind for n in book.review(plan, _timeline(15 * H), now + 3000)] == ["late"]  # a new episode


def test_an_order_left_without_a_route_is_told_once() -> None:
    plan, book = _plan([(11 * H, 14 * H)]), DelayBook()
    notice = book.unserved(plan, "o-1")
    assert notice is not None and notice.eta_s is None and notice.window_end_s == 14 * H
    assert book.unserved(plan, "o-1") is None
    # served again later, comfortably on time: the delay is over
    assert [n.kind for n in book.review(plan, _timeline(12 * H), 9 * H)] == ["resolved"]


def test_a_customer_predicted_late_is_told_before_the_window_starts_and_only_once(db_url: str,
                                                                                   day: DemoDay) -> None:
    bus, board = live_setup(db_url, day)
    t0, plan = day.day_start, board.plan
    assert plan is not None
    at = t0 + timedelta(hours=7, minutes=5)
    # the whole city slows down 2.5x for the day: stops late in their routes now miss their windows
    bus.handle(commands.ReportTraffic(at=at, factor=2.5, start=at, end=t0 + timedelta(hours=20)))
    now = board.clock(at)
    late = {v.item for r in plan.routes.values() for v in evaluate(plan, r).visits
            if v.item in plan.orders and misses(plan.orders[v.item].windows, v.arrive_s)
            and min(lo for lo, _ in plan.orders[v.item].windows) > now}
    assert late, "the slowdown makes some customers late before their window opens"
    told = [e for e in bus.uow.all_events() if isinstance(e, DelayNotified)]
    first: dict[str, DelayNotified] = {}
    for e in told:
        first.setdefault(e.order_id, e)
    assert late <= set(first)  # everyone predicted late was told ...
    for oid in late:  # ... at the latest now, before their window starts
        assert first[oid].occurred_at <= at and board.clock(first[oid].occurred_at) < plan.orders[oid].windows[0][0]
    # a small further slowdown re-publishes the routes: nobody is told twice of the same delay
    bus.handle(commands.ReportTraffic(at=at + timedelta(minutes=1), factor=1.02, start=at, end=at + timedelta(hours=2)))
    assert [e for e in bus.uow.all_events() if isinstance(e, DelayNotified)] == told
    # ... and a delay is declared over only when the re-plan it triggered really put the stop back in
    # its window, with the margin to spare
    for e in [e for e in bus.uow.all_events() if isinstance(e, DelayResolved)]:
        route = plan.route_of(e.order_id)
        assert route is not None
        visit = next(v for v in evaluate(plan, route).visits if v.item == e.order_id)
        upper = visit.arrive_s + margin_s(visit.arrive_s - board.clock(e.occurred_at))
        assert any(lo <= upper <= hi - RESOLVE_SLACK_S for lo, hi in plan.orders[e.order_id].windows)
