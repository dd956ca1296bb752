"""Improvement across the seams of a decomposed day (:mod:`baton.planning.seams`) and the warm
start it relies on (:func:`baton.planning.pyvrp_model.initial_solution`); every improved plan is
re-checked by :func:`check_plan` on the whole day."""

from __future__ import annotations

import math

import pytest

from baton.domain.order import Order
from baton.domain.plan import Route, Stop, StopKind, UnassignedOrder
from baton.domain.values import LatLng
from baton.planning import decompose
from baton.planning.check import check_plan
from baton.planning.crews import break_safe_windows, build_crews
from baton.planning.decompose import plan_large, split_problem
from baton.planning.mapping import matrix_points, problem_matrices, resolve_day_start, window_bounds
from baton.planning.planner import plan_routes
from baton.planning.problem import PlanningOptions, PlanningProblem
from baton.planning.pyvrp_model import StartRoute, build_model, initial_solution, solved_routes
from baton.planning.seams import improve_seams, lateness_cost, routes_cost
from planning_doubles import HaversineTravel, at, depot, driver, order, vehicle

HUB = LatLng(-22.9035, -43.2096)


def ring(n: int, radius: float = 0.03) -> list[Order]:
    return [order(f"o{k}", LatLng(HUB.lat + radius * math.sin(2 * math.pi * k / n),
                                  HUB.lng + radius * math.cos(2 * math.pi * k / n))) for k in range(n)]


def ring_day() -> PlanningProblem:
    """36 orders on a ring, vans of 8 parcels: cut in 3 parts of 12, each part needs 2 vans (6 in
    all); the whole day needs 5."""
    fleet = [vehicle(f"v{k}", parcels=8) for k in range(6)]
    return PlanningProblem(ring(36), [depot("d1", HUB)], fleet, [driver(f"dr{k}", vehicle_id=f"v{k}")
                                                                 for k in range(6)])


def test_initial_solution_round_trips_routes_and_picks_the_window_of_the_arrival() -> None:
    orders = ring(6)
    orders[0] = order("o0", orders[0].location, windows=((8, 9), (14, 15)))
    problem = PlanningProblem(orders, [depot("d1", HUB)], [vehicle("v0"), vehicle("v1")],
                              [driver("dr0", vehicle_id="v0"), driver("dr1", vehicle_id="v1")])
    day_start = resolve_day_start(problem)
    crews = build_crews(problem, day_start)
    windows = [window_bounds(o, day_start) for o in problem.orders]
    model = build_model(problem, PlanningOptions(), problem_matrices(problem, HaversineTravel()), crews,
                        break_safe_windows(windows, crews))
    afternoon = windows[0][1][0] + 600
    start = [StartRoute(1, [(2, 9 * 3600), (0, afternoon), (1, afternoon + 900)]), StartRoute(0, [(3, 0), (4, 0)])]
    solution = initial_solution(model, start)
    routes = solved_routes(model, solution)
    assert [(r.crew, r.orders) for r in routes] == [(0, [3, 4]), (1, [2, 0, 1])]
    (second,) = [r for r in solution.routes() if r.vehicle_type() == 1]
    visited = [a.idx for a in second.schedule() if a.is_client()]
    chosen = [c for c in visited if model.client_orders[c] == 0]
    assert model.data.clients()[chosen[0]].tw_early == windows[0][1][0]  # the 14:00 window, not 08:00


def test_warm_start_keeps_a_plan_at_least_as_good() -> None:
    problem = ring_day()
    travel = HaversineTravel()
    options = PlanningOptions(time_limit_s=1.0, workers=1, max_iterations=200)
    first = plan_routes(problem, travel, options)
    again = plan_routes(problem, travel, PlanningOptions(time_limit_s=1.0, workers=1, max_iterations=1, seed=9),
                        start=first.routes)
    assert again.unassigned == []
    assert again.cost.total <= first.cost.total + 0.01


def test_seams_pass_merges_vans_split_by_the_decomposition_and_serves_what_was_left() -> None:
    problem = ring_day()
    travel = HaversineTravel()
    options = PlanningOptions(time_limit_s=2.0, workers=1)
    routes, parts = [], []
    for k, part in enumerate(split_problem(problem, part_size=12)):
        sub = plan_routes(part, travel, options)
        routes += sub.routes
        parts += [k] * len(sub.routes)
    assert len(routes) == 6
    late = order("late", LatLng(HUB.lat, HUB.lng + 0.031))  # came in after the parts were planned
    problem.orders.append(late)
    orders = {o.id: o for o in problem.orders}
    before = routes_cost(routes, orders, options)
    result = improve_seams(problem, routes, parts, [UnassignedOrder("late", "dropped: fleet capacity exhausted")],
                           travel, options, seconds=4.0)
    improved = result.routes
    assert result.replaced >= 1 and result.unassigned == []
    assert len(improved) == 5
    assert sorted(i for r in improved for i in r.order_ids) == sorted(o.id for o in problem.orders)
    assert routes_cost(improved, orders, options) < before - 100  # one van's fixed cost (150) saved, less detours
    kept = improve_seams(problem, improved, [0] * 5, [], travel, options, seconds=0.5)
    assert kept.replaced == 0 and kept.routes == improved  # no budget for a group: nothing changes


def test_plan_large_improves_across_seams_and_stays_feasible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decompose, "SEAM_SHARE", 0.5)  # 4 s for the parts, 4 s for the seams
    problem = ring_day()
    travel = HaversineTravel()
    plan = plan_large(problem, travel, PlanningOptions(time_limit_s=8.0, workers=1), part_size=12)
    assert check_plan(plan, problem, travel.matrices(matrix_points(problem))) == []
    assert plan.unassigned == [] and len(plan.routes) == 5
    assert len({r.id for r in plan.routes}) == 5 and all(r.plan_id == plan.id for r in plan.routes)
    assert plan.cost.total == sum(r.cost for r in plan.routes)


def test_seams_pass_is_skipped_when_iterations_bound_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run bounded by iterations must stay reproducible; the seams pass is bounded by time only."""
    monkeypatch.setattr(decompose, "SEAM_SHARE", 0.8)  # parts: 1 s each (the minimum), seams: the rest
    calls: list[float] = []
    real = decompose.improve_seams
    monkeypatch.setattr(decompose, "improve_seams", lambda *a, **k: calls.append(1) or real(*a, **k))
    problem = ring_day()
    travel = HaversineTravel()
    plan_large(problem, travel, PlanningOptions(time_limit_s=4.0, workers=1, max_iterations=200), part_size=12)
    assert calls == []
    plan_large(problem, travel, PlanningOptions(time_limit_s=5.0, workers=1), part_size=12)
    assert calls == [1]


def test_routes_cost_charges_lateness_after_the_closest_window_with_soft_windows_only() -> None:
    orders = {"a": order("a", HUB, windows=((8, 9), (12, 13))), "b": order("b", HUB)}
    stops = [Stop(1, StopKind.DELIVERY, "a", at(10), at(10, 5)),  # between 08-09 and 12-13: not late
             Stop(2, StopKind.DELIVERY, "a", at(14), at(14, 5)),  # 1 h after 12-13 closed (not 5 h after 08-09)
             Stop(3, StopKind.DELIVERY, "b", at(17, 30), at(17, 35))]  # 30 min after 08-17 closed
    route = Route("r", "v0", None, "d1", "d1", at(8), at(18), stops, cost=200.0)
    soft = PlanningOptions(hard_time_windows=False, lateness_penalty_per_hour=100.0)
    assert lateness_cost([route], orders, soft) == 100.0 * 1.5
    assert routes_cost([route], orders, soft) == 200.0 + 150.0
    assert lateness_cost([route], orders, PlanningOptions()) == 0.0
    assert routes_cost([route], orders, PlanningOptions()) == 200.0
