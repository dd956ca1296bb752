"""The parallel search (:mod:`baton.planning.parallel`) and its use by :func:`plan_routes`."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from pyvrp import Client, CostEvaluator, Depot, Location, ProblemData, VehicleType, solve
from pyvrp.stop import MaxIterations

from baton.domain.values import LatLng
from baton.planning.check import check_plan
from baton.planning.mapping import matrix_points
from baton.planning.parallel import _rebuilt, parallel_solve
from baton.planning.planner import plan_routes
from baton.planning.problem import PlanningOptions, PlanningProblem
from planning_doubles import HaversineTravel, depot, driver, order, vehicle

SOLOMON = Path(__file__).resolve().parents[2] / "shared" / "data" / "benchmarks" / "solomon"
HUB = LatLng(-22.9035, -43.2096)


def grid_data(n: int = 40) -> ProblemData:
    """``n`` clients on a grid, capacity for 10 each, unit demands, no windows."""
    locations = [Location(0, 0)] + [Location(x=float(k % 8), y=float(k // 8)) for k in range(n)]
    size = len(locations)
    matrix = [[round(10 * ((a.x - b.x) ** 2 + (a.y - b.y) ** 2) ** 0.5) for b in locations] for a in locations]
    clients = [Client(location=i, delivery=[1]) for i in range(1, size)]
    return ProblemData(locations, clients, [Depot(location=0)], [VehicleType(num_available=n, capacity=[10])],
                       [matrix], [matrix])  # type: ignore[list-item]


def test_parallel_search_runs_every_worker_and_exchanges_the_best() -> None:
    data = grid_data()
    progress: list[float] = []
    result = parallel_solve(data, 2.0, seed=3, workers=2, on_progress=lambda _e, f: progress.append(f))
    assert result.workers == 2 and result.epochs >= 1
    assert result.is_feasible()
    assert sorted(a.idx for r in result.best.routes() for a in r.schedule() if a.is_client()) == list(range(40))
    assert result.cost() == result.best.distance()
    assert result.iterations > 0
    assert progress and all(0 <= f <= 1 for f in progress)


def test_one_worker_is_one_plain_pyvrp_run() -> None:
    result = parallel_solve(grid_data(), 0.5, workers=1)
    assert (result.workers, result.epochs, result.improvements) == (1, 1, 0)
    assert result.is_feasible()


@pytest.mark.parametrize(("kwargs", "message"), [({"workers": 0}, "workers"), ({}, "seconds")])
def test_bad_arguments_are_named(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parallel_solve(grid_data(), 0 if message == "seconds" else 1.0, **kwargs)  # type: ignore[arg-type]


def test_plan_routes_on_two_workers_gives_a_feasible_plan() -> None:
    orders = [order(f"o{k}", LatLng(HUB.lat + 0.004 * (k % 5), HUB.lng + 0.004 * (k // 5)),
                    [(9, 12)] if k % 2 else [(12, 16)]) for k in range(25)]
    problem = PlanningProblem(orders, [depot("d1", HUB)], [vehicle(f"v{k}", parcels=10) for k in range(4)],
                              [driver(f"d{k}") for k in range(4)])
    travel = HaversineTravel()
    progress: list[float] = []
    plan = plan_routes(problem, travel, PlanningOptions(time_limit_s=1.5, seed=2, workers=2),
                       on_progress=lambda _e, f: progress.append(f))
    assert check_plan(plan, problem, travel.matrices(matrix_points(problem))) == []
    assert plan.unassigned == []
    assert progress[-1] == 1.0


def test_an_iteration_cap_keeps_the_plan_reproducible_whatever_the_workers() -> None:
    orders = [order(f"o{k}", LatLng(HUB.lat + 0.003 * k, HUB.lng - 0.002 * k)) for k in range(15)]
    problem = PlanningProblem(orders, [depot("d1", HUB)], [vehicle("v1", parcels=8), vehicle("v2", parcels=8)],
                              [driver("a"), driver("b")])
    options = PlanningOptions(time_limit_s=30, seed=4, workers=2, max_iterations=200)
    a, b = (plan_routes(problem, HaversineTravel(), options) for _ in range(2))
    assert [r.order_ids for r in a.routes] == [r.order_ids for r in b.routes]


@pytest.mark.skipif(not SOLOMON.is_dir(), reason="../shared/data not present")
def test_parallel_search_finds_the_optimum_of_an_easy_solomon_instance() -> None:
    from baton.bench.instance import integer_instance, to_pyvrp
    from baton.intake.benchmarks import load_instance

    inst = integer_instance(load_instance(SOLOMON / "C101.txt"))
    result = parallel_solve(to_pyvrp(inst), 2.0, workers=2)
    assert result.is_feasible()
    assert result.cost() / inst.scale == pytest.approx(827.3)  # proven optimum (bks.csv)


def test_a_solution_sent_between_processes_keeps_its_fixed_vehicle_cost() -> None:
    """PyVRP 0.14.1's unpickled solutions leave the fixed cost out of their cost; the search rebuilds them."""
    base = grid_data()
    data = base.replace(vehicle_types=[VehicleType(num_available=40, capacity=[10], fixed_cost=1_000)])
    solution = solve(data, MaxIterations(30), seed=1, display=False).best
    evaluator = CostEvaluator([0], 0, 0)
    back = pickle.loads(pickle.dumps(solution))
    assert evaluator.cost(back) != evaluator.cost(solution)  # the upstream bug this works around
    rebuilt = _rebuilt(data, back)
    assert rebuilt == solution and evaluator.cost(rebuilt) == evaluator.cost(solution)
    assert evaluator.cost(rebuilt) == solution.distance() + 1_000 * solution.num_routes()


def test_two_workers_rank_solutions_with_their_fixed_costs() -> None:
    base = grid_data()
    data = base.replace(vehicle_types=[VehicleType(num_available=40, capacity=[10], fixed_cost=1_000)])
    result = parallel_solve(data, 2.0, seed=3, workers=2)
    assert result.is_feasible() and result.epochs >= 1
    assert result.cost() == result.best.distance() + 1_000 * result.best.num_routes()
