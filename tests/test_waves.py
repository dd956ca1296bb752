"""Dispatch waves (baton.live.waves): release feasibility, must-dispatch rule, determinism per seed."""

from __future__ import annotations

import numpy as np
import pytest

from baton.live.waves import (
    REPRODUCIBLE_SCENARIOS,
    DemandModel,
    WaveOptions,
    WaveState,
    decide_wave,
    must_dispatch,
    plan_wave,
    planned_ok,
    route_cost,
    sample_future,
)

WAVE = 3600
DAY_END = 12 * 3600


def model_of(seed: int, pool: int = 40) -> DemandModel:
    """A depot and ``pool`` customers in a 30 km square (travel at 10 m/s), windows over a 12 h day."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 30_000, size=(pool + 1, 2))
    xy[0] = 15_000
    d = np.rint(np.linalg.norm(xy[:, None] - xy[None], axis=2) / 10).astype(np.int64)
    early = rng.integers(0, 9, size=pool) * 3600
    late = early + rng.integers(1, 4, size=pool) * 3600
    return DemandModel(duration=d, location=np.arange(1, pool + 1), early=early, late=np.minimum(late, DAY_END - 600),
                       service=rng.integers(120, 600, size=pool), demand=rng.integers(1, 30, size=pool),
                       depot_late=DAY_END, candidates_per_wave=12)


def state_of(model: DemandModel, seed: int, open_: int = 14, wave: int = 2, waves: int = 8) -> WaveState:
    """The open requests at wave ``wave`` of ``waves``, drawn (and filtered) as they would arrive."""
    rng = np.random.default_rng(1000 + seed)
    start = wave * WAVE + model.margin_s
    d = model.duration
    loc, early, late, srv, dem = [0], [0], [DAY_END - start], [0], [0]
    while len(loc) <= open_:
        k = int(rng.integers(len(model.location)))
        c = int(model.location[k])
        arrive = max(start + d[0, c], model.early[k])
        if arrive <= model.late[k] and arrive + model.service[k] + d[c, 0] <= DAY_END:
            loc.append(c)
            early.append(max(0, int(model.early[k]) - start))
            late.append(int(model.late[k]) - start)
            srv.append(int(model.service[k]))
            dem.append(int(model.demand[k]))
    return WaveState(location=np.array(loc), early=np.array(early), late=np.array(late), service=np.array(srv),
                     demand=np.array(dem), must=np.zeros(len(loc), dtype=bool), capacity=100,
                     planning_start=start, waves_left=waves - wave)


FAST = WaveOptions(scenarios=6, scenario_iterations=60, lookahead=2, max_iterations=60, seed=3)


def test_must_dispatch_is_the_next_wave_rule() -> None:
    m = model_of(1)
    s = state_of(m, 1)
    must = must_dispatch(s, m)
    d = m.duration
    for i in range(1, s.size):
        arrive = max(WAVE + d[0, s.location[i]], s.early[i])
        expected = arrive > s.late[i] or arrive + s.service[i] + d[s.location[i], 0] > s.late[0]
        assert must[i] == expected
    assert not must[0]
    last = WaveState(**{**s.__dict__, "waves_left": 0})
    assert must_dispatch(last, m)[1:].all()


@pytest.mark.parametrize("method", ["must_routes", "scenarios"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_nothing_that_must_go_is_postponed(seed: int, method: str) -> None:
    m = model_of(seed)
    s = state_of(m, seed, wave=int(np.random.default_rng(seed).integers(1, 7)))
    # some requests flagged by the caller too (e.g. promised for this wave): they must go as well
    flagged = s.must.copy()
    flagged[1:4] = True
    s = WaveState(**{**s.__dict__, "must": flagged})
    must = must_dispatch(s, m)
    assert must[1:4].all()
    opts = WaveOptions(**{**FAST.__dict__, "method": method})
    routes, decision = plan_wave(s, m, opts, budget_s=2.0)
    served = sorted(n for r in routes for n in r)
    assert served == sorted(set(served)), "a request routed twice"
    assert set(np.flatnonzero(must)) <= set(served)
    assert set(served) == set(np.flatnonzero(decision.dispatch)) - {0}
    assert planned_ok(routes, s, m) == []
    assert route_cost(routes, s, m) > 0


def test_scenarios_postpone_some_and_the_last_wave_takes_all() -> None:
    m = model_of(4)
    s = state_of(m, 4, open_=16, wave=1)
    opts = WaveOptions(**{**FAST.__dict__, "method": "scenarios"})
    decision = decide_wave(s, m, opts, budget_s=2.0)
    assert decision.feasible_scenarios == decision.scenarios == 6
    assert decision.dispatch[must_dispatch(s, m)].all()
    assert not decision.dispatch.all(), "with eight waves to come something should wait"
    last = WaveState(**{**s.__dict__, "waves_left": 0})
    routes, final = plan_wave(last, m, opts, budget_s=1.0)
    assert final.dispatch.all()
    assert sorted(n for r in routes for n in r) == list(range(1, s.size))
    timed = decide_wave(s, m, WaveOptions(method="scenarios", lookahead=2, scenario_iterations=30), budget_s=1.0)
    assert timed.scenarios >= 1 and timed.dispatch[must_dispatch(s, m)].all()  # as many samples as fit in 0.5 s
    capped = WaveOptions(method="scenarios", lookahead=2, scenario_iterations=20, max_iterations=60, seed=3)
    a, b = decide_wave(s, m, capped, budget_s=0.5), decide_wave(s, m, capped, budget_s=0.5)
    assert a.scenarios == b.scenarios == REPRODUCIBLE_SCENARIOS  # capped solves: a fixed count, not the clock
    assert (a.dispatch == b.dispatch).all()


@pytest.mark.parametrize("method", ["must_routes", "scenarios"])
def test_same_seed_same_wave(method: str) -> None:
    m = model_of(5)
    s = state_of(m, 5)
    opts = WaveOptions(**{**FAST.__dict__, "method": method})
    a_routes, a = plan_wave(s, m, opts, budget_s=5.0)
    b_routes, b = plan_wave(s, m, opts, budget_s=5.0)
    assert a_routes == b_routes
    assert (a.dispatch == b.dispatch).all() and np.allclose(a.now_share, b.now_share)


def test_sampled_futures_are_servable_and_released_at_their_wave() -> None:
    m = model_of(6)
    s = state_of(m, 6, wave=3)
    loc, early, late, srv, _dem, rel = sample_future(s, m, np.random.default_rng(0), lookahead=3)
    assert len(loc) > 0
    assert set(np.unique(rel)) <= {WAVE, 2 * WAVE, 3 * WAVE}
    arrive = np.maximum(rel + m.duration[0, loc], early)
    assert (arrive <= late).all()
    assert (arrive + srv + m.duration[loc, 0] <= s.late[0]).all()


def test_demand_model_names_the_bad_field() -> None:
    m = model_of(7)
    with pytest.raises(ValueError, match="service"):
        DemandModel(**{**m.__dict__, "service": m.service[:-1]})
    with pytest.raises(ValueError, match="location"):
        DemandModel(**{**m.__dict__, "location": m.location * 0})


def test_unknown_method_is_refused() -> None:
    m = model_of(8)
    with pytest.raises(ValueError, match="method"):
        plan_wave(state_of(m, 8), m, WaveOptions(method="greedy"), budget_s=1.0)
