"""Paid overtime and balanced workload: each plan is re-checked by :func:`check_plan` (which
shares no code with the solver model) and by the assertions written here."""

from __future__ import annotations

import math

import pytest

from baton.domain.plan import StopKind
from baton.domain.values import BreakRule, CostRates, LatLng
from baton.planning.check import check_costs, check_plan
from baton.planning.mapping import matrix_points
from baton.planning.planner import plan_routes
from baton.planning.problem import PlanningOptions, PlanningProblem
from planning_doubles import HaversineTravel, depot, driver, order, vehicle

HUB = LatLng(-22.9035, -43.2096)
NO_BREAK = BreakRule(duration_s=0)
RATES = CostRates(per_km=1.0, per_hour=30.0, fixed_per_day=100.0)


def near(k: int) -> LatLng:
    return LatLng(HUB.lat + 0.002 * (k % 4), HUB.lng + 0.002 * (k // 4))


def long_day() -> PlanningProblem:
    """Ten 30-minute stops (about 5 h of work) for one driver with a 4 h shift and 4 h limit."""
    orders = [order(f"o{k}", near(k), [(8, 17)], service_s=1800) for k in range(10)]
    return PlanningProblem(orders, [depot("d1", HUB)], [vehicle("v1", costs=RATES)],
                           [driver("a", 8, 12, max_work_s=4 * 3600, rule=NO_BREAK)])


def test_without_overtime_the_short_shift_leaves_orders_unassigned() -> None:
    problem, travel = long_day(), HaversineTravel()
    plan = plan_routes(problem, travel, PlanningOptions(time_limit_s=1.0, workers=1))
    assert check_plan(plan, problem, travel.matrices(matrix_points(problem))) == []
    assert 0 < len(plan.unassigned) < 10
    assert all("shift" in u.reason or "capacity" in u.reason for u in plan.unassigned)


def test_paid_overtime_serves_every_order_and_is_charged() -> None:
    problem, travel = long_day(), HaversineTravel()
    options = PlanningOptions(time_limit_s=1.0, workers=1, overtime_s=2 * 3600, overtime_per_hour=45.0)
    plan = plan_routes(problem, travel, options)
    matrices = travel.matrices(matrix_points(problem))
    assert check_plan(plan, problem, matrices, overtime_s=2 * 3600) == []
    assert check_costs(plan, problem, drop_penalty=options.drop_penalty, overtime_per_hour=45.0) == []
    assert {v.kind for v in check_costs(plan, problem, drop_penalty=options.drop_penalty)} == {"cost"}
    assert plan.unassigned == []
    # the same plan breaks the regular shift: overtime was really used, and the checker sees it
    kinds = {v.kind for v in check_plan(plan, problem, matrices)}
    assert {"shift_end", "working_time"} <= kinds
    (route,) = plan.routes
    worked_s = (route.end - route.start).total_seconds()  # no loading time at this depot
    overtime_h = (worked_s - 4 * 3600) / 3600
    assert 0 < overtime_h <= 2
    expected_time = 30.0 * worked_s / 3600 + 45.0 * overtime_h
    assert plan.cost.time == pytest.approx(expected_time)
    assert route.cost == pytest.approx(100.0 + 1.0 * route.distance_m / 1000 + expected_time)


def test_overtime_never_runs_past_the_depot_closing() -> None:
    problem = long_day()
    problem.depots[0] = type(problem.depots[0])(
        "d1", "Depot d1", HUB, timezone="America/Sao_Paulo", closes=problem.drivers[0].shift_end)
    travel = HaversineTravel()
    plan = plan_routes(problem, travel, PlanningOptions(time_limit_s=1.0, workers=1, overtime_s=7200))
    assert check_plan(plan, problem, travel.matrices(matrix_points(problem)), overtime_s=7200) == []
    assert all(r.end <= problem.drivers[0].shift_end for r in plan.routes)
    assert plan.unassigned


def test_balanced_workload_spreads_orders_over_the_fleet() -> None:
    orders = [order(f"o{k}", near(k)) for k in range(12)]
    fleet = [vehicle(f"v{k}", costs=RATES) for k in range(3)]
    drivers = [driver(f"d{k}") for k in range(3)]
    problem, travel = PlanningProblem(orders, [depot("d1", HUB)], fleet, drivers), HaversineTravel()
    matrices = travel.matrices(matrix_points(problem))
    packed = plan_routes(problem, travel, PlanningOptions(time_limit_s=1.0, workers=1))
    assert len(packed.routes) == 1  # the fixed cost makes one van cheapest
    plan = plan_routes(problem, travel, PlanningOptions(time_limit_s=1.0, workers=1, balance_tolerance=0.0))
    cap = math.ceil(12 / 3)
    assert check_plan(plan, problem, matrices, max_orders_per_route=cap) == []
    assert plan.unassigned == []
    assert sorted(len(r.order_ids) for r in plan.routes) == [4, 4, 4]


def test_negative_balance_tolerance_is_refused() -> None:
    problem = long_day()
    with pytest.raises(ValueError, match="balance_tolerance"):
        plan_routes(problem, HaversineTravel(), PlanningOptions(time_limit_s=1.0, balance_tolerance=-0.1))


def small_van_day() -> PlanningProblem:
    """Twelve 1-parcel orders near the depot, one van holding 4 parcels, one driver, 15 min of
    loading at the depot."""
    orders = [order(f"o{k}", near(k), [(8, 17)]) for k in range(12)]
    return PlanningProblem(orders, [depot("d1", HUB, loading_s=900)], [vehicle("v1", parcels=4, costs=RATES)],
                           [driver("a", rule=NO_BREAK)])


def test_one_trip_leaves_what_does_not_fit_unassigned() -> None:
    problem, travel = small_van_day(), HaversineTravel()
    plan = plan_routes(problem, travel, PlanningOptions(time_limit_s=1.0, workers=1))
    assert check_plan(plan, problem, travel.matrices(matrix_points(problem))) == []
    assert len(plan.unassigned) == 8


def test_reloads_at_the_depot_serve_every_order_in_several_trips() -> None:
    problem, travel = small_van_day(), HaversineTravel()
    plan = plan_routes(problem, travel, PlanningOptions(time_limit_s=1.0, workers=1, max_reloads=3))
    matrices = travel.matrices(matrix_points(problem))
    assert check_plan(plan, problem, matrices, max_reloads=3) == []
    assert plan.unassigned == []
    (route,) = plan.routes
    kinds = [s.kind for s in route.stops]
    assert kinds.count(StopKind.RELOAD) == 2  # 12 parcels, 4 per trip
    trips: list[int] = [0]
    for stop in route.stops:
        if stop.kind is StopKind.RELOAD:
            assert stop.order_id is None and stop.planned_service_s >= 900
            trips.append(0)
        elif stop.kind is StopKind.DELIVERY:
            trips[-1] += 1
    assert trips == [4, 4, 4]
    # the checker sees reloads: refusing them, or removing one, breaks the plan
    assert {v.kind for v in check_plan(plan, problem, matrices, max_reloads=1)} >= {"reload"}
    route.stops = [s for s in route.stops if s.kind is not StopKind.RELOAD]
    for k, stop in enumerate(route.stops, start=1):
        stop.sequence = k
    assert "capacity" in {v.kind for v in check_plan(plan, problem, matrices, max_reloads=3)}
