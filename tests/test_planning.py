"""Planning round-trips on small problems; every plan is re-checked by :func:`check_plan`,
which shares no code with the solver model, and by assertions written here."""

from __future__ import annotations

import pytest

from baton.domain.plan import StopKind
from baton.domain.values import BreakRule, CostRates, LatLng, Size
from baton.planning.check import check_plan
from baton.planning.mapping import PlanningError, matrix_points
from baton.planning.planner import plan_routes
from baton.planning.problem import PlanningOptions, PlanningProblem
from planning_doubles import LOGGI_RJ, HaversineTravel, at, depot, driver, loggi_orders, order, vehicle

HUB = LatLng(-22.9035, -43.2096)  # Rio de Janeiro, Centro
FAST = PlanningOptions(time_limit_s=1.0, seed=7)


def near(k: int, step: float = 0.01) -> LatLng:
    """A point ``k`` steps (about 1.1 km each) north-east of :data:`HUB`."""
    return LatLng(HUB.lat + step * k, HUB.lng + step * k)


def solve(problem: PlanningProblem, options: PlanningOptions = FAST) -> tuple:
    travel = HaversineTravel()
    plan = plan_routes(problem, travel, options)
    matrices = travel.matrices(matrix_points(problem))
    violations = check_plan(plan, problem, matrices, hard_time_windows=options.hard_time_windows,
                            max_orders_per_route=options.max_customers_per_route)
    assert violations == [], violations
    return plan, matrices


def reasons(plan) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {u.order_id: u.reason for u in plan.unassigned}


def test_small_day_is_fully_served_with_etas_inside_windows() -> None:
    orders = [order(f"o{k}", near(k), [(9, 12)] if k % 2 else [(13, 17)]) for k in range(1, 9)]
    problem = PlanningProblem(orders, [depot("d1", HUB)], [vehicle("v1"), vehicle("v2")],
                              [driver("a"), driver("b")])
    plan, _ = solve(problem)
    assert plan.unassigned == []
    served = [s for r in plan.routes for s in r.stops if s.kind is StopKind.DELIVERY]
    assert sorted(s.order_id for s in served) == sorted(o.id for o in orders)
    by_id = {o.id: o for o in orders}
    for stop in served:
        assert stop.order_id is not None
        window = by_id[stop.order_id].time_windows[0]
        assert window.start <= stop.planned_arrival <= window.end
        assert stop.planned_departure is not None
        assert (stop.planned_departure - stop.planned_arrival).total_seconds() == 180
    assert plan.cost.currency == "BRL"
    assert plan.cost.total == pytest.approx(sum(r.cost for r in plan.routes))
    assert len({r.id for r in plan.routes}) == len(plan.routes)


def test_capacity_splits_orders_over_vehicles() -> None:
    orders = [order(f"o{k}", near(k, 0.002), size=Size(10, 50.0, 100.0)) for k in range(1, 7)]
    problem = PlanningProblem(orders, [depot("d1", HUB)], [vehicle("v1", parcels=30), vehicle("v2", parcels=30)],
                              [driver("a"), driver("b")])
    plan, _ = solve(problem)
    assert plan.unassigned == []
    assert sorted(len(r.order_ids) for r in plan.routes) == [3, 3]


def test_every_unserved_order_carries_the_reason_found_by_checking_it() -> None:
    orders = [
        order("ok", near(1)),
        order("cold", near(2), needs=frozenset({"refrigerated"})),
        order("huge", near(3), size=Size(1, 900.0, 10.0)),
        order("early", near(200), [(8, 8.05)]),  # 280 km away, window closes minutes after the shift starts
    ]
    problem = PlanningProblem(orders, [depot("d1", HUB)], [vehicle("v1")], [driver("a")])
    plan, _ = solve(problem)
    why = reasons(plan)
    assert set(why) == {"cold", "huge", "early"}
    assert why["cold"] == "no vehicle has feature refrigerated"
    assert why["huge"].startswith("larger than every vehicle's capacity (weight_kg 900 > 500")
    assert why["early"].startswith("time window closes before any vehicle can arrive")


def test_fleet_exhausted_drops_lowest_priority_orders_with_reason() -> None:
    orders = [order(f"o{k}", near(k, 0.002), size=Size(10, 10.0, 10.0), priority=1 if k <= 2 else 5)
              for k in range(1, 6)]
    problem = PlanningProblem(orders, [depot("d1", HUB)], [vehicle("v1", parcels=30)], [driver("a")])
    plan, _ = solve(problem)
    why = reasons(plan)
    assert len(why) == 2
    assert set(why.values()) == {"dropped: fleet capacity exhausted"}
    assert set(why) <= {"o1", "o2"}, "the low-priority orders are the ones dropped"


def test_features_route_refrigerated_orders_to_the_refrigerated_van() -> None:
    orders = [order(f"c{k}", near(k), needs=frozenset({"refrigerated"})) for k in range(1, 4)]
    orders += [order(f"p{k}", near(-k)) for k in range(1, 4)]
    vehicles = [vehicle("cold", feats=frozenset({"refrigerated"})), vehicle("plain")]
    problem = PlanningProblem(orders, [depot("d1", HUB)], vehicles, [driver("a"), driver("b")])
    plan, _ = solve(problem)
    assert plan.unassigned == []
    for route in plan.routes:
        if any(o.startswith("c") for o in route.order_ids):
            assert route.vehicle_id == "cold"


def test_one_of_several_windows_is_chosen() -> None:
    orders = [order("two", near(1), [(8, 8.5), (15, 16)]), order("late", near(2), [(15, 16)])]
    problem = PlanningProblem(orders, [depot("d1", HUB)], [vehicle("v1")], [driver("a", 10, 17)])
    plan, _ = solve(problem)
    assert plan.unassigned == []
    stop = next(s for r in plan.routes for s in r.stops if s.order_id == "two")
    assert at(15) <= stop.planned_arrival <= at(16)


def test_long_day_gets_a_break_and_etas_after_it_include_it() -> None:
    # 14 orders of 15 min service along two spokes: about 5 h of work, more than the 4 h rule.
    orders = [order(f"o{k:02d}", near(k % 7 + 1, 0.01 if k < 7 else -0.01), [(8, 18)], service_s=900)
              for k in range(14)]
    rule = BreakRule(after_work_s=4 * 3600, duration_s=1800)
    problem = PlanningProblem(orders, [depot("d1", HUB)], [vehicle("v1")],
                              [driver("a", 8, 19, max_work_s=11 * 3600, rule=rule)])
    plan, _ = solve(problem, PlanningOptions(time_limit_s=2.0, seed=3))
    assert plan.unassigned == []
    (route,) = plan.routes
    kinds = [s.kind for s in route.stops]
    assert StopKind.BREAK in kinds
    brk = route.stops[kinds.index(StopKind.BREAK)]
    assert brk.planned_departure is not None
    assert (brk.planned_departure - brk.planned_arrival).total_seconds() == 1800
    after = route.stops[kinds.index(StopKind.BREAK) + 1:]
    assert after and all(s.planned_arrival >= brk.planned_departure for s in after)


def test_soft_windows_serve_late_and_charge_lateness() -> None:
    orders = [order("tight", near(15), [(8, 8.1)])]  # ~23 km away, window closes 6 min after start
    problem = PlanningProblem(orders, [depot("d1", HUB)], [vehicle("v1")], [driver("a")])
    hard, _ = solve(problem)
    assert reasons(hard)["tight"].startswith("time window closes before any vehicle can arrive")
    soft, _ = solve(problem, PlanningOptions(time_limit_s=1.0, hard_time_windows=False))
    assert soft.unassigned == []
    assert soft.cost.penalties > 0


def test_max_customers_per_route_is_honoured() -> None:
    orders = [order(f"o{k}", near(k, 0.002)) for k in range(1, 7)]
    problem = PlanningProblem(orders, [depot("d1", HUB)], [vehicle("v1"), vehicle("v2"), vehicle("v3")],
                              [driver("a"), driver("b"), driver("c")])
    plan, _ = solve(problem, PlanningOptions(time_limit_s=1.0, max_customers_per_route=2))
    assert plan.unassigned == []
    assert all(len(r.order_ids) <= 2 for r in plan.routes)


def test_expensive_vehicle_is_avoided_when_a_cheap_one_suffices() -> None:
    orders = [order(f"o{k}", near(k, 0.003)) for k in range(1, 5)]
    pricey = vehicle("pricey", costs=CostRates(per_km=5.0, per_hour=80.0, fixed_per_day=900.0))
    problem = PlanningProblem(orders, [depot("d1", HUB)], [pricey, vehicle("cheap")], [driver("a"), driver("b")])
    plan, _ = solve(problem)
    assert [r.vehicle_id for r in plan.routes] == ["cheap"]


def test_several_depots_and_open_end_routes() -> None:
    north, south = depot("n", near(5)), depot("s", near(-5))
    orders = [order(f"o{k}", near(k)) for k in (-6, -4, 4, 6)]
    vehicles = [vehicle("vn", "n"), vehicle("vs", "s", end_depot_id="n")]
    problem = PlanningProblem(orders, [north, south], vehicles, [driver("a"), driver("b")])
    plan, _ = solve(problem)
    assert plan.unassigned == []
    for route in plan.routes:
        assert route.end_depot_id == "n"


def test_no_depot_or_no_vehicle_raises_planning_error() -> None:
    with pytest.raises(PlanningError, match="depot"):
        plan_routes(PlanningProblem([order("o", HUB)], [], [vehicle("v")]), HaversineTravel(), FAST)
    with pytest.raises(PlanningError, match="empty fleet"):
        plan_routes(PlanningProblem([order("o", HUB)], [depot("d1", HUB)], []), HaversineTravel(), FAST)


def test_checker_catches_a_broken_plan() -> None:
    orders = [order(f"o{k}", near(k), size=Size(10, 10.0, 10.0)) for k in range(1, 4)]
    problem = PlanningProblem(orders, [depot("d1", HUB)], [vehicle("v1", parcels=30)], [driver("a")])
    plan, matrices = solve(problem)
    # Shrink the van after planning: the checker, not the planner, must notice.
    smaller = PlanningProblem(orders, problem.depots, [vehicle("v1", parcels=20)], problem.drivers)
    kinds = {v.kind for v in check_plan(plan, smaller, matrices)}
    assert "capacity" in kinds
    route = plan.routes[0]
    route.stops[0].planned_arrival = at(5)
    assert {"arrival", "window"} & {v.kind for v in check_plan(plan, problem, matrices)}


@pytest.mark.skipif(not LOGGI_RJ.exists(), reason="../shared not present")
def test_real_loggi_slice_is_feasible_and_mostly_served() -> None:
    origin, orders = loggi_orders(120)
    vehicles = [vehicle(f"v{k}", parcels=180, weight_kg=900, volume_l=3000) for k in range(6)]
    drivers = [driver(f"d{k}", 8, 18, max_work_s=10 * 3600) for k in range(6)]
    problem = PlanningProblem(orders, [depot("d1", origin, loading_s=900)], vehicles, drivers)
    progress: list[float] = []
    travel = HaversineTravel()
    plan = plan_routes(problem, travel, PlanningOptions(time_limit_s=3.0, seed=1),
                       on_progress=lambda _e, f: progress.append(f))
    assert check_plan(plan, problem, travel.matrices(matrix_points(problem))) == []
    assert len(plan.unassigned) + sum(len(r.order_ids) for r in plan.routes) == 120
    assert len(plan.unassigned) <= 12
    assert all(u.reason for u in plan.unassigned)
    assert progress and progress[-1] == 1.0
