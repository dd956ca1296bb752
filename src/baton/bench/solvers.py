"""The solvers a VRPTW benchmark compares, all on the same :class:`IntInstance` and wall time.

* ``baton``: Baton's engine, :func:`baton.planning.parallel.parallel_solve` (PyVRP seeds on
  every core with exchange of the best);
* ``pyvrp``: one plain :func:`pyvrp.solve` run, one core, seed 1;
* ``ortools``: Google OR-Tools routing, first solution by parallel cheapest insertion, then guided local
  search until the time limit, one core (optional ``bench`` extra);
* ``vroom``: VROOM via ``pyvroom``, exploration level 5, the time limit as its timeout and
  ``cores`` threads (optional ``bench`` extra).

Each returns :data:`~baton.bench.verify.Routes`; an empty list means "no answer".
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from datetime import timedelta

import numpy as np
from pyvrp import Solution, solve
from pyvrp.stop import MaxRuntime

from baton.bench.instance import IntInstance, to_pyvrp
from baton.bench.verify import Routes
from baton.planning.parallel import default_workers, parallel_solve

FIRST_SOLUTION = "PARALLEL_CHEAPEST_INSERTION"
"""OR-Tools first-solution strategy: path-cheapest-arc finds no feasible start at all on tight
Solomon windows (R101, RC101, ... even with 10 s on an idle core); parallel cheapest insertion does."""

Solver = Callable[[IntInstance, float, int, int | None], Routes]
"""``solver(instance, seconds, seed, workers) -> routes``; ``workers`` (``None`` = every core)
matters to the solvers that use several cores (Baton, VROOM) only."""


def routes_of(solution: Solution) -> Routes:
    """Client nodes per route: PyVRP numbers clients from 0 after the one depot (node 0)."""
    return [[a.idx + 1 for a in route.schedule() if a.is_client()] for route in solution.routes()]


def solve_baton(inst: IntInstance, seconds: float, seed: int, workers: int | None = None) -> Routes:
    result = parallel_solve(to_pyvrp(inst), seconds, seed=seed, workers=workers)
    return routes_of(result.best) if result.is_feasible() else []


def solve_pyvrp(inst: IntInstance, seconds: float, seed: int, workers: int | None = None) -> Routes:
    result = solve(to_pyvrp(inst), MaxRuntime(seconds), seed=seed, collect_stats=False, display=False)
    return routes_of(result.best) if result.is_feasible() else []


def solve_ortools(inst: IntInstance, seconds: float, seed: int, workers: int | None = None) -> Routes:
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    n = inst.size
    manager = pywrapcp.RoutingIndexManager(n, inst.num_vehicles, 0)
    routing = pywrapcp.RoutingModel(manager)
    arc = routing.RegisterTransitMatrix(inst.distance.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(arc)
    travel = (inst.duration + inst.service[:, None]).tolist()  # service at the origin, then the drive
    horizon = int(inst.late[0])
    time_cb = routing.RegisterTransitMatrix(travel)
    routing.AddDimension(time_cb, horizon, horizon, False, "Time")
    time_dim = routing.GetDimensionOrDie("Time")
    for node in range(1, n):
        time_dim.CumulVar(manager.NodeToIndex(node)).SetRange(int(inst.early[node]), int(inst.late[node]))
    for v in range(inst.num_vehicles):
        time_dim.CumulVar(routing.Start(v)).SetRange(int(inst.early[0]), horizon)
        time_dim.CumulVar(routing.End(v)).SetRange(int(inst.early[0]), horizon)
    demand = routing.RegisterUnaryTransitVector([int(d) for d in inst.demand])
    routing.AddDimensionWithVehicleCapacity(demand, 0, [inst.capacity] * inst.num_vehicles, True, "Load")
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, FIRST_SOLUTION)
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(int(seconds * 1000))
    solution = routing.SolveWithParameters(params)
    if solution is None:
        return []
    routes: Routes = []
    for v in range(inst.num_vehicles):
        index, route = solution.Value(routing.NextVar(routing.Start(v))), []
        while not routing.IsEnd(index):
            route.append(manager.IndexToNode(index))
            index = solution.Value(routing.NextVar(index))
        if route:
            routes.append(route)
    return routes


def solve_vroom(inst: IntInstance, seconds: float, seed: int, workers: int | None = None) -> Routes:
    import vroom

    problem = vroom.Input()
    problem.set_durations_matrix("car", inst.duration.astype(np.uint32))
    problem.set_costs_matrix("car", inst.distance.astype(np.uint32))
    window = vroom.TimeWindow(int(inst.early[0]), int(inst.late[0]))
    for v in range(inst.num_vehicles):
        problem.add_vehicle(vroom.Vehicle(v + 1, start=0, end=0, capacity=[inst.capacity], time_window=window))
    for node in range(1, inst.size):
        problem.add_job(vroom.Job(node, location=node, default_service=int(inst.service[node]),
                                  delivery=[int(inst.demand[node])],
                                  time_windows=[vroom.TimeWindow(int(inst.early[node]), int(inst.late[node]))]))
    solution = problem.solve(exploration_level=5, nb_threads=workers or default_workers(),
                             timeout=timedelta(seconds=seconds))
    frame = solution.routes
    jobs = frame[frame["type"] == "job"]
    return [[int(j) for j in group["id"]] for _, group in jobs.groupby("vehicle_id", sort=True)]


SOLVERS: dict[str, tuple[Solver, str | None]] = {
    "baton": (solve_baton, None),
    "pyvrp": (solve_pyvrp, None),
    "ortools": (solve_ortools, "ortools"),
    "vroom": (solve_vroom, "vroom"),
}
"""Solver name -> (function, module it needs or ``None``)."""


def available(name: str) -> bool:
    """True when solver ``name`` is known and its optional module is installed."""
    if name not in SOLVERS:
        return False
    module = SOLVERS[name][1]
    return module is None or importlib.util.find_spec(module) is not None


def cores(name: str, workers: int | None = None) -> int:
    """Cores solver ``name`` uses: Baton and VROOM ``workers`` (default every core), PyVRP and
    OR-Tools one."""
    return (workers or default_workers()) if name in ("baton", "vroom") else 1


__all__ = ["SOLVERS", "Solver", "available", "cores", "routes_of"]
