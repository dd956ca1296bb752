"""Route-based decomposition (:mod:`baton.planning.route_groups`) and the sector epochs of the
parallel search that use it."""

from __future__ import annotations

import math
import pickle
from collections import Counter

import pytest
from pyvrp import (
    Client,
    ClientGroup,
    CostEvaluator,
    Depot,
    Location,
    ProblemData,
    Shipment,
    Solution,
    VehicleType,
    solve,
)
from pyvrp.stop import MaxIterations

from baton.planning import parallel
from baton.planning.parallel import parallel_solve
from baton.planning.route_groups import sectors, sub_problem


def ring_data(n: int = 60, vehicles: int = 30, prize_every: int = 0) -> ProblemData:
    """``n`` clients on three rings around a depot at the origin, 6 units each, capacity 24;
    every ``prize_every``-th client optional with a small prize (0: all required)."""
    locations = [Location(0, 0)]
    for k in range(n):
        angle, radius = 2 * math.pi * k / n, 10.0 + 5 * (k % 3)
        locations.append(Location(x=radius * math.cos(angle), y=radius * math.sin(angle)))
    matrix = [[round(10 * math.dist((a.x, a.y), (b.x, b.y))) for b in locations] for a in locations]
    clients = [Client(location=i, delivery=[6], required=not (prize_every and i % prize_every == 0),
                      prize=1 if prize_every and i % prize_every == 0 else 0) for i in range(1, n + 1)]
    return ProblemData(locations, clients, [Depot(location=0)], [VehicleType(num_available=vehicles, capacity=[24])],
                       [matrix], [matrix])  # type: ignore[list-item]


def served(solution: Solution) -> list[int]:
    return sorted(a.idx for r in solution.routes() for a in r.schedule() if a.is_client())


def cost(solution: Solution) -> float:
    return float(CostEvaluator([0], 0, 0).cost(solution))


@pytest.mark.parametrize("parts", [2, 3])
def test_sectors_share_out_every_route_client_and_vehicle_once(parts: int) -> None:
    data = ring_data()
    solution = solve(data, MaxIterations(200), seed=1, display=False).best
    found = sectors(data, solution, parts, offset=0.3)
    assert len(found) == parts
    assert sorted(c for s in found for c in s.clients) == list(range(data.num_clients))
    assert sorted(r for s in found for r in s.routes) == list(range(solution.num_routes()))
    assert sum(n for s in found for _, n in s.vehicles) == data.vehicle_type(0).num_available
    routes = solution.routes()
    for s in found:  # a sector takes its routes' clients, and has a vehicle for each route
        assert sorted(a.idx for r in s.routes for a in routes[r].schedule() if a.is_client()) == list(s.clients)
        assert dict(s.vehicles)[0] >= len(s.routes)
    assert max(len(s.clients) for s in found) - min(len(s.clients) for s in found) <= 12  # two routes at most


def test_unused_vehicles_are_dealt_out_evenly_when_each_is_its_own_type() -> None:
    base = ring_data()
    data = base.replace(vehicle_types=[VehicleType(num_available=1, capacity=[24], name=f"van{k}") for k in range(30)])
    solution = solve(data, MaxIterations(200), seed=1, display=False).best
    found = sectors(data, solution, 2)
    spare = [sum(n for _, n in s.vehicles) - len(s.routes) for s in found]
    assert sum(spare) == 30 - solution.num_routes() and abs(spare[0] - spare[1]) <= 1
    assert sorted(t for s in found for t, _ in s.vehicles) == list(range(30))


def test_sectors_are_consecutive_in_angle_and_the_offset_moves_the_seams() -> None:
    data = ring_data()
    solution = solve(data, MaxIterations(200), seed=1, display=False).best

    def angles(sector_clients: tuple[int, ...]) -> list[float]:
        return [math.atan2(data.location(c + 1).y, data.location(c + 1).x) for c in sector_clients]

    first, second = sectors(data, solution, 2), sectors(data, solution, 2, offset=0.5)
    assert {s.clients for s in first} != {s.clients for s in second}
    for s in first:  # a half of the ring spans about half the circle, not all of it
        ring = sorted(angles(s.clients))
        gaps = sorted((b - a) % (2 * math.pi) for a, b in zip(ring, ring[1:] + ring[:1], strict=True))
        assert gaps[-1] > 2.0  # the other half lies in one block outside this sector


def test_a_sector_round_trips_and_improved_sectors_merge_into_a_complete_cheaper_solution() -> None:
    data = ring_data()
    start = solve(data, MaxIterations(5), seed=2, display=False).best
    routes = []
    for sector in sectors(data, start, 2):
        sub = sub_problem(data, sector)
        assert sub.data.num_clients == len(sector.clients)
        # only the depot's and the sector's locations, the matrices cut down to them
        assert sub.locations == (0, *sorted(c + 1 for c in sector.clients))
        assert sub.data.num_locations == 1 + len(sector.clients) < data.num_locations
        whole, part = data.distance_matrix(0), sub.data.distance_matrix(0)
        assert all(part[i, j] == whole[a, b] for i, a in enumerate(sub.locations) for j, b in enumerate(sub.locations))
        local = sub.restrict(start)
        assert local.is_complete() and cost(local) == sum(start.routes()[r].distance() for r in sector.routes)
        assert Solution(data, sub.lift(data, local)).routes() == [start.routes()[r] for r in sector.routes]
        better = solve(sub.data, MaxIterations(300), seed=3, display=False, initial_solution=local).best
        assert cost(better) <= cost(local)
        routes.extend(sub.lift(data, better))
    merged = Solution(data, routes)
    assert merged.is_complete() and merged.is_feasible()
    assert served(merged) == list(range(data.num_clients))
    assert cost(merged) < cost(start)
    assert Counter(r.vehicle_type() for r in merged.routes())[0] <= data.vehicle_type(0).num_available


def test_a_sub_problem_cuts_every_profiles_distance_and_duration_matrices() -> None:
    data = ring_data()
    n = data.num_locations
    base = data.distance_matrix(0)
    slow = [[3 * int(x) for x in row] for row in base.tolist()]  # a second profile, and durations unlike distances
    dist = [[int(x) for x in row] for row in base.tolist()]
    dur = [[int(x) + 7 * (i != j) for j, x in enumerate(row)] for i, row in enumerate(base.tolist())]
    two = data.replace(vehicle_types=[VehicleType(num_available=15, capacity=[24], profile=p) for p in (0, 1)],
                       distance_matrices=[dist, slow], duration_matrices=[dur, slow])  # type: ignore[list-item]
    start = solve(two, MaxIterations(50), seed=1, display=False).best
    for sector in sectors(two, start, 2):
        sub = sub_problem(two, sector)
        assert sub.data.num_profiles == 2 and sub.data.num_locations < n
        at = list(sub.locations)
        for p in (0, 1):
            assert (sub.data.distance_matrix(p) == two.distance_matrix(p)[at][:, at]).all()
            assert (sub.data.duration_matrix(p) == two.duration_matrix(p)[at][:, at]).all()
        assert [sub.data.location(i).x for i in range(sub.data.num_locations)] == [two.location(a).x for a in at]
        local = sub.restrict(start)
        assert cost(local) == sum(start.routes()[r].distance() for r in sector.routes)
        assert local.duration() == sum(start.routes()[r].duration() for r in sector.routes)


def test_restrict_takes_a_solution_that_came_through_pickle_with_its_fixed_costs() -> None:
    """The parallel search's workers receive the best solution by pickle, which in PyVRP 0.14.1 drops
    the fixed vehicle cost from a solution's cost; a restricted sector must cost what it should."""
    data = ring_data()
    data = data.replace(vehicle_types=[VehicleType(num_available=30, capacity=[24], fixed_cost=1000)])
    start = solve(data, MaxIterations(50), seed=1, display=False).best
    unpickled = pickle.loads(pickle.dumps(start))
    assert cost(unpickled) < cost(start)  # the PyVRP behaviour this guards against
    for sector in sectors(data, start, 2):
        sub = sub_problem(data, sector)
        assert cost(sub.restrict(unpickled)) == cost(sub.restrict(start)) == sum(
            start.routes()[r].distance() + 1000 for r in sector.routes)


def test_clients_left_out_go_to_the_nearest_sector() -> None:
    data = ring_data(prize_every=4)
    optional = [c for c in range(data.num_clients) if not data.client(c).required]
    visits = [c for c in range(data.num_clients) if data.client(c).required]
    solution = Solution(data, [visits[k:k + 4] for k in range(0, len(visits), 4)])
    assert not set(served(solution)) & set(optional)
    found = sectors(data, solution, 2)
    assert sorted(c for s in found for c in s.clients) == list(range(data.num_clients))


def with_groups_and_shipments(data: ProblemData) -> ProblemData:
    """``data`` with every 5th client turned into a group of two alternatives (its own location
    or the next client's, as an order with two time windows) and four shipments (pickup at one
    ring client's location, delivery at the opposite one)."""
    clients: list[Client] = []
    groups: list[ClientGroup] = []
    for c in range(data.num_clients):
        k = data.client(c)
        if c % 5 == 0 and c + 1 < data.num_clients:
            group = len(groups)
            groups.append(ClientGroup([len(clients), len(clients) + 1], required=True))
            clients += [Client(location=k.location, delivery=k.delivery, required=False, group=group),
                        Client(location=k.location + 1, delivery=k.delivery, required=False, group=group)]
        elif c % 5 != 1:
            clients.append(Client(location=k.location, delivery=k.delivery))
    n = data.num_clients
    shipments = [Shipment(pickup_location=1 + q * n // 4, delivery_location=1 + (q * n // 4 + n // 2) % n, amount=[3])
                 for q in range(4)]
    return data.replace(clients=clients, groups=groups, shipments=shipments)


def test_groups_stay_whole_and_shipments_stay_with_their_route() -> None:
    data = with_groups_and_shipments(ring_data())
    start = solve(data, MaxIterations(300), seed=4, display=False).best
    assert start.is_feasible() and start.is_complete()
    for offset in (0.0, 0.5):
        found = sectors(data, start, 2, offset=offset)
        assert sorted(c for s in found for c in s.clients) == list(range(data.num_clients))
        assert sorted(x for s in found for x in s.shipments) == list(range(data.num_shipments))
        for s in found:
            for g in range(data.num_groups):
                members = set(data.group(g).clients)
                assert members <= set(s.clients) or not members & set(s.clients)
    routes = []
    for sector in sectors(data, start, 2):
        sub = sub_problem(data, sector)
        assert sub.data.num_groups == sum(1 for g in range(data.num_groups)
                                          if data.group(g).clients[0] in sector.clients)
        local = sub.restrict(start)
        assert local.is_feasible()
        assert cost(local) == sum(start.routes()[r].distance() for r in sector.routes)  # shipments' legs too
        better = solve(sub.data, MaxIterations(200), seed=5, display=False, initial_solution=local).best
        routes.extend(sub.lift(data, better if better.is_feasible() else local))
    merged = Solution(data, routes)
    assert merged.is_feasible() and merged.is_complete()
    assert cost(merged) <= cost(start)


def test_too_few_routes_give_no_sectors() -> None:
    data = ring_data(n=6, vehicles=6)
    with pytest.raises(ValueError, match="parts"):
        sectors(data, Solution(data, [[0, 1]]), 1)
    assert sectors(data, Solution(data, [[0, 1, 2, 3, 4, 5]]), 2) == []


def test_the_parallel_search_alternates_whole_and_sector_epochs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "EPOCH_S", 0.5)
    data = ring_data(n=90, vehicles=40)
    result = parallel_solve(data, 2.0, seed=5, workers=2, decompose=True)
    assert (result.epochs, result.sector_epochs) == (4, 2)
    assert result.is_feasible() and served(result.best) == list(range(data.num_clients))
    plain = parallel_solve(data, 1.0, seed=5, workers=2)  # 90 clients: below DECOMPOSE_MIN_CLIENTS
    assert plain.sector_epochs == 0 and plain.decomposed == 0
