"""Incremental route timing (baton.live.model.evaluate with ``base`` / ``cutoff``) against the full
re-timing from scratch, on random routes: windows, breaks, reloads, parcels on board, slowdowns."""

from __future__ import annotations

import random
from datetime import datetime

from baton.adapters.travel import make_provider
from baton.domain.values import LatLng
from baton.live.model import (
    RELOAD,
    Cutoff,
    Geo,
    LiveOrder,
    LivePlan,
    LiveRoute,
    Slowdown,
    Timeline,
    evaluate,
    score,
)
from baton.live.traffic import scaled

H = 3600
CENTRE = LatLng(-15.79, -47.88)


def _point(rng: random.Random) -> LatLng:
    return LatLng(CENTRE.lat + rng.uniform(-0.08, 0.08), CENTRE.lng + rng.uniform(-0.08, 0.08))


def _order(rng: random.Random, plan: LivePlan, oid: str, point: int) -> LiveOrder:
    windows = []
    for _ in range(rng.choice([1, 1, 2])):
        early = rng.randrange(7 * H, 16 * H, 600)
        windows.append((early, early + rng.choice([1, 2, 3, 4]) * H))
    return LiveOrder(oid, point, windows, rng.choice([60, 180, 300, 600]),
                     (rng.randint(0, 3), rng.randint(0, 2), rng.randint(0, 1)),
                     frozenset({"cold"}) if rng.random() < 0.1 else frozenset(),
                     available_s=rng.choice([0, 0, 9 * H, 10 * H]),
                     not_before_s=rng.choice([0, 0, 0, 11 * H]))


def _slowdowns(rng: random.Random, plan: LivePlan, vehicle_id: str) -> list[Slowdown]:
    out = []
    for _ in range(rng.randint(0, 4)):
        start = rng.randrange(7 * H, 15 * H, 900)
        span = (rng.choice([0.6, 1.5, 2.0]), start, start + rng.choice([1, 2, 3]) * H)
        kind = rng.random()
        if kind < 0.6:
            centre = plan.geo.points[rng.randrange(len(plan.geo.points))]
            out.append(Slowdown(*span, center=centre, radius_m=rng.choice([2000.0, 5000.0])))
        elif kind < 0.8:
            out.append(Slowdown(*span, vehicle_id=rng.choice([vehicle_id, "other"])))
        else:
            out.append(Slowdown(*span))
    return out


def _case(seed: int) -> tuple[LivePlan, LiveRoute, list[str]]:
    """A random plan with one route and its open items."""
    rng = random.Random(seed)
    n = rng.randint(3, 14)
    points = [_point(rng) for _ in range(n + 1)]
    geo = Geo(make_provider(), points[: n // 2 + 1], None)
    idx = geo.add(points)  # the rest get their legs on demand
    plan = LivePlan(datetime(2026, 3, 2), geo, {}, {}, reload_s=rng.choice([600, 900]))
    ids = [f"o{k}" for k in range(n)]
    for k, oid in enumerate(ids):
        plan.orders[oid] = _order(rng, plan, oid, idx[k + 1])
    started = rng.random() < 0.7
    ready = rng.randrange(7 * H, 11 * H, 300)
    route = LiveRoute(
        id="r1", vehicle_id="v1", driver_id=None, depot=idx[0], end_depot=idx[0], begin_s=ready - 1800,
        shift_end_s=rng.choice([17 * H, 20 * H]), max_end_s=rng.choice([16 * H, 22 * H]), loading_s=600,
        capacity=(rng.choice([10, 30]), 20, 20), speed_factor=rng.choice([1.0, 1.0, 1.25]), per_km=1.2,
        per_hour=25.0, capabilities=frozenset({"cold"}) if rng.random() < 0.7 else frozenset(),
        break_after_s=rng.choice([0, 2 * H, 3 * H]), break_s=1800, position=idx[rng.choice([0, 1])],
        ready_s=ready, seg_start_s=ready - rng.choice([0, H]), started=started,
        traffic=rng.choice([1.0, 1.0, 1.2, 0.9]))
    if not route.break_after_s:
        route.break_s = 0
    items = list(ids)
    rng.shuffle(items)
    for _ in range(rng.choice([0, 0, 1, 2])):
        items.insert(rng.randrange(len(items) + 1), RELOAD)
    route.onboard = {o for o in ids if rng.random() < (0.8 if started else 0.3)}
    route.free = items
    plan.routes[route.id] = route
    plan.slowdowns = _slowdowns(rng, plan, route.vehicle_id)
    return plan, route, items


def _trial(rng: random.Random, plan: LivePlan, items: list[str], k: int) -> list[str]:
    """A random neighbour of ``items``: relocation, swap, reversal, insertion or removal."""
    seq = list(items)
    move = rng.choice(["relocate", "swap", "reverse", "insert", "remove"])
    i, j = sorted(rng.sample(range(len(seq) + 1), 2)) if len(seq) > 1 else (0, len(seq))
    if move == "relocate" and seq:
        x = seq.pop(min(i, len(seq) - 1))
        seq.insert(j if j <= len(seq) else len(seq), x)
    elif move == "swap" and j < len(seq):
        seq[i], seq[j] = seq[j], seq[i]
    elif move == "reverse":
        seq[i:j] = seq[i:j][::-1]
    elif move == "insert":
        oid = f"new{k}"
        point = plan.geo.add([_point(rng)])[0]
        plan.orders[oid] = _order(rng, plan, oid, point)
        seq[i:i] = [RELOAD, oid] if rng.random() < 0.5 else [oid]
    elif seq:
        seq.pop(i if i < len(seq) else 0)
    return seq


def _reaches(full: Timeline, cutoff: Cutoff) -> bool:
    return ((cutoff.score is not None and score(full) >= cutoff.score)
            or (cutoff.late_s is not None and full.late_s > cutoff.late_s)
            or (cutoff.cost is not None and full.cost >= cutoff.cost))


def _cutoffs(rng: random.Random, full: Timeline) -> list[Cutoff]:
    hard, issues, value = score(full)
    shift = rng.choice([-1, 0, 1])
    return [
        Cutoff(score=(hard, issues, value + rng.uniform(-50, 50))),
        Cutoff(score=(hard + shift, issues, value)),
        Cutoff(score=(hard, issues + shift, value - rng.uniform(0, 5))),
        Cutoff(score=(0, 0, value + rng.uniform(-20, 20))),
        Cutoff(late_s=max(0, full.late_s + rng.randint(-900, 900)), cost=full.cost + rng.uniform(-10, 10)),
        Cutoff(late_s=full.late_s),
        Cutoff(cost=full.cost),
    ]


def test_resumed_timing_is_the_full_timing() -> None:
    reused = 0
    for seed in range(250):
        plan, route, items = _case(seed)
        rng = random.Random(1000 + seed)
        base = evaluate(plan, route)
        assert base == evaluate(plan, route, items)
        for k in range(8):
            trial = _trial(rng, plan, items, k)
            full = evaluate(plan, route, trial)
            again = evaluate(plan, route, trial, base=base)
            assert again == full and again.marks == full.marks, (seed, k, trial)
            reused += bool(again.visits) and bool(base.visits) and again.visits[0] is base.visits[0]
            base = full if rng.random() < 0.5 else base  # chains of trials, as in re-sequencing
    assert reused > 300  # the prefix was reused, not re-timed


def test_a_cutoff_gives_up_only_trials_that_reach_it() -> None:
    given_up = kept = 0
    for seed in range(250):
        plan, route, items = _case(seed)
        rng = random.Random(2000 + seed)
        base = evaluate(plan, route)
        for k in range(6):
            trial = _trial(rng, plan, items, k)
            full = evaluate(plan, route, trial)
            for cutoff in _cutoffs(rng, full):
                for start in (None, base):
                    got = evaluate(plan, route, trial, base=start, cutoff=cutoff)
                    if got is None:
                        assert _reaches(full, cutoff), (seed, k, cutoff)
                        given_up += 1
                    else:
                        assert got == full and got.marks == full.marks, (seed, k, cutoff)
                        kept += 1
    assert given_up > 1000 and kept > 1000


def test_least_arrival_is_the_earliest_over_every_later_departure() -> None:
    for seed in range(60):
        plan, route, _ = _case(seed)
        timing = plan.traffic.timing(plan.slowdowns, route.traffic, route.ready_s, route.vehicle_id,
                                     route.speed_factor)
        rng = random.Random(3000 + seed)
        for _ in range(20):
            point = rng.randrange(len(plan.geo.points))
            secs, depart = rng.randint(60, 3000), rng.randrange(route.ready_s, 18 * H, 60)
            brute = min(x + scaled(secs, route.speed_factor, timing.factor(point, x))
                        for x in range(depart, 24 * H, 60))
            assert timing.least_arrival(point, secs, depart) == brute


def test_a_van_at_the_depot_leaves_for_its_first_window_and_works_from_then() -> None:
    """Regression: a van still at the depot with one stop opening at 14:00 was timed as leaving at
    08:00 and waiting at the door, its 5.5 h of waiting counted as work without a break (the plan
    checker refused the published route). It leaves in time to ring as the window opens instead."""
    from baton.live.board import _departure

    geo = Geo(make_provider(), [CENTRE, LatLng(CENTRE.lat - 0.05, CENTRE.lng)], None)
    plan = LivePlan(datetime(2026, 3, 2), geo, {}, {})
    plan.orders["o1"] = LiveOrder("o1", 1, [(14 * H, 16 * H)], 180, (1, 0, 0), frozenset())
    route = LiveRoute(
        id="r1", vehicle_id="v1", driver_id=None, depot=0, end_depot=0, begin_s=8 * H, shift_end_s=17 * H,
        max_end_s=17 * H, loading_s=600, capacity=(10, 10, 10), speed_factor=1.0, per_km=1.2, per_hour=25.0,
        capabilities=frozenset(), break_after_s=4 * H + 1800, break_s=1800, position=0, ready_s=8 * H + 600,
        seg_start_s=8 * H, started=False)
    route.free = ["o1"]
    plan.routes[route.id] = route
    t = evaluate(plan, route)
    (visit,) = t.visits
    assert visit.arrive_s == visit.start_s == 14 * H and t.breaks == () and t.feasible
    assert _departure(route.ready_s, t) == 14 * H - visit.leg_s
    route.started = True  # once on the road, waiting at the door is work: a break is due
    assert evaluate(plan, route).breaks
