"""Fleet constraints: capacity in every dimension, driver skills, heterogeneous costs, returns
(pickups) and the refusal of pickup-and-delivery pairs. Every plan is re-checked by
:func:`check_plan` and :func:`check_costs`, which share no code with the solver model."""

from __future__ import annotations

from dataclasses import replace

import pytest

from baton.domain.plan import StopKind, UnassignedOrder
from baton.domain.values import BreakRule, CostRates, LatLng, Size
from baton.planning.check import check_costs, check_plan
from baton.planning.decompose import plan_large
from baton.planning.mapping import PlanningError, matrix_points
from baton.planning.objective import objective_report
from baton.planning.planner import plan_routes
from baton.planning.problem import PlanningOptions, PlanningProblem
from planning_doubles import HaversineTravel, depot, driver, order, vehicle

HUB = LatLng(-15.7939, -47.8828)  # Brasília
NO_BREAK = BreakRule(duration_s=0)
FAST = PlanningOptions(time_limit_s=1.0, workers=1, max_iterations=2000)


def near(k: int) -> LatLng:
    return LatLng(HUB.lat + 0.003 * (k % 5), HUB.lng + 0.003 * (k // 5))


def planned(problem: PlanningProblem, options: PlanningOptions = FAST):  # type: ignore[no-untyped-def]
    travel = HaversineTravel()
    plan = plan_routes(problem, travel, options)
    matrices = travel.matrices(matrix_points(problem))
    assert check_plan(plan, problem, matrices, hard_time_windows=options.hard_time_windows,
                      overtime_s=options.overtime_s, max_reloads=options.max_reloads) == []
    assert check_costs(plan, problem, drop_penalty=options.drop_penalty,
                       lateness_penalty_per_hour=options.lateness_penalty_per_hour,
                       overtime_per_hour=options.overtime_per_hour) == []
    return plan, matrices


@pytest.mark.parametrize("size, van", [
    (Size(1, 100.0, 10.0), dict(parcels=50, weight_kg=300.0, volume_l=5000.0)),  # weight binds: 3 per van
    (Size(1, 1.0, 400.0), dict(parcels=50, weight_kg=5000.0, volume_l=1200.0)),  # volume binds: 3 per van
])
def test_the_binding_capacity_dimension_is_honoured(size: Size, van: dict[str, float]) -> None:
    orders = [order(f"o{k}", near(k), size=size) for k in range(6)]
    fleet = [vehicle(f"v{k}", **van) for k in range(3)]  # type: ignore[arg-type]
    problem = PlanningProblem(orders, [depot("d1", HUB)], fleet, [driver(f"a{k}") for k in range(3)])
    plan, matrices = planned(problem)
    assert plan.unassigned == []
    assert sorted(len(r.order_ids) for r in plan.routes) == [3, 3]
    # the checker measures every dimension: halve the binding one and it objects
    smaller = replace(problem, vehicles=[replace(v, capacity=Size(50, van["weight_kg"] / 2, van["volume_l"] / 2))
                                         for v in fleet])
    assert "capacity" in {v.kind for v in check_plan(plan, smaller, matrices)}


def test_a_skill_of_the_driver_qualifies_the_crew() -> None:
    orders = [order(f"h{k}", near(k), needs=frozenset({"hazmat"})) for k in range(3)]
    orders += [order(f"p{k}", near(k + 5)) for k in range(3)]
    fleet = [vehicle("v1"), vehicle("v2")]
    drivers = [driver("plain", vehicle_id="v1"), driver("trained", vehicle_id="v2", skills=frozenset({"hazmat"}))]
    problem = PlanningProblem(orders, [depot("d1", HUB)], fleet, drivers)
    plan, matrices = planned(problem)
    assert plan.unassigned == []
    for route in plan.routes:
        if any(o.startswith("h") for o in route.order_ids):
            assert route.driver_id == "trained"
    # the same plan with the skill taken away breaks the features rule
    untrained = replace(problem, drivers=[drivers[0], replace(drivers[1], skills=frozenset())])
    assert "features" in {v.kind for v in check_plan(plan, untrained, matrices)}


def test_heterogeneous_costs_are_charged_per_vehicle_and_reported_per_component() -> None:
    orders = [order(f"o{k}", near(k), size=Size(5, 10.0, 10.0)) for k in range(8)]
    fleet = [vehicle("cheap", parcels=20, costs=CostRates(per_km=0.8, per_hour=20.0, fixed_per_day=100.0)),
             vehicle("dear", parcels=20, costs=CostRates(per_km=2.5, per_hour=45.0, fixed_per_day=300.0))]
    problem = PlanningProblem(orders, [depot("d1", HUB, loading_s=600)], fleet,
                              [driver("a", vehicle_id="cheap"), driver("b", vehicle_id="dear")])
    plan, _ = planned(problem)
    assert plan.unassigned == [] and {r.vehicle_id for r in plan.routes} == {"cheap", "dear"}
    dear = next(r for r in plan.routes if r.vehicle_id == "dear")
    worked_h = ((dear.end - dear.start).total_seconds() + 600) / 3600
    assert dear.cost == pytest.approx(300.0 + 2.5 * dear.distance_m / 1000 + 45.0 * worked_h)
    assert plan.cost.fixed == pytest.approx(400.0)
    assert plan.cost.total == pytest.approx(sum(r.cost for r in plan.routes))
    # the cost checker is not a rubber stamp
    dear.cost += 1.0
    assert {v.kind for v in check_costs(plan, problem, drop_penalty=FAST.drop_penalty)} == {"cost"}


def test_dropped_orders_are_charged_by_priority() -> None:
    orders = [order(f"o{k}", near(k), size=Size(10, 10.0, 10.0), priority=1 + k % 5) for k in range(5)]
    problem = PlanningProblem(orders, [depot("d1", HUB)], [vehicle("v1", parcels=30)], [driver("a")])
    plan, _ = planned(problem, replace(FAST, drop_penalty=200.0))
    by_id = {o.id: o for o in orders}
    assert len(plan.unassigned) == 2
    assert plan.cost.penalties == pytest.approx(sum(200.0 * by_id[u.order_id].priority for u in plan.unassigned))
    assert max(by_id[u.order_id].priority for u in plan.unassigned) <= 2  # the least important go


def returns_day(pickups: int = 4) -> PlanningProblem:
    """Four deliveries and ``pickups`` returns of one parcel each for one van holding 4 parcels."""
    orders = [order(f"d{k}", near(k)) for k in range(4)] + [order(f"r{k}", near(k + 10)) for k in range(pickups)]
    return PlanningProblem(orders, [depot("d1", HUB)], [vehicle("v1", parcels=4)], [driver("a", rule=NO_BREAK)],
                           pickups=frozenset(f"r{k}" for k in range(pickups)))


def test_returns_share_the_van_with_deliveries_within_capacity_at_every_point() -> None:
    problem = returns_day()
    plan, matrices = planned(problem)
    assert plan.unassigned == []  # 4 out, 4 back: fits only because deliveries leave the van first
    (route,) = plan.routes
    kinds = {s.order_id: s.kind for s in route.stops if s.order_id}
    assert {k for o, k in kinds.items() if o.startswith("r")} == {StopKind.PICKUP}
    assert {k for o, k in kinds.items() if o.startswith("d")} == {StopKind.DELIVERY}
    # seen as deliveries, the 8 parcels would not fit: the checker tracks the load stop by stop
    assert "capacity" in {v.kind for v in check_plan(plan, replace(problem, pickups=frozenset()), matrices)}


def test_a_return_collected_before_room_is_made_overloads_the_van() -> None:
    problem = returns_day(pickups=1)
    plan, matrices = planned(problem)
    (route,) = plan.routes
    # move the return to the front: the van still holds all 4 deliveries when it collects it
    stops = [s for s in route.stops if s.order_id == "r0"] + [s for s in route.stops if s.order_id != "r0"]
    route.stops = stops
    for k, stop in enumerate(route.stops, start=1):
        stop.sequence = k
    assert "capacity" in {v.kind for v in check_plan(plan, problem, matrices)}


def transfers_day() -> PlanningProblem:
    """Three B2B transfers of 2 parcels (pickup at a shop, hand-over at another address) for one
    van holding 2 parcels: each must be handed over before the next is collected."""
    orders = [order(f"a{k}", near(3 * k), size=Size(2, 4.0, 10.0)) for k in range(3)]
    orders += [order(f"b{k}", near(3 * k + 12), [(8, 17)], size=Size(2, 4.0, 10.0)) for k in range(3)]
    return PlanningProblem(orders, [depot("d1", HUB)], [vehicle("v1", parcels=2)], [driver("a", rule=NO_BREAK)],
                           transfers=[(f"a{k}", f"b{k}") for k in range(3)])


def test_transfers_are_picked_up_before_they_are_handed_over_on_one_route() -> None:
    problem = transfers_day()
    plan, matrices = planned(problem)
    assert plan.unassigned == []
    (route,) = plan.routes
    position = {s.order_id: k for k, s in enumerate(route.stops) if s.order_id}
    for k in range(3):
        assert position[f"a{k}"] < position[f"b{k}"]
    assert {s.kind for s in route.stops if s.order_id and s.order_id.startswith("a")} == {StopKind.PICKUP}
    # capacity 2: never two transfers on board, so each hand-over directly follows its pickup
    assert all(position[f"b{k}"] == position[f"a{k}"] + 1 for k in range(3))
    # the checker enforces the order of the two ends and both-or-neither
    a0, b0 = route.stops[position["a0"]], route.stops[position["b0"]]
    route.stops[position["a0"]], route.stops[position["b0"]] = b0, a0
    for k, stop in enumerate(route.stops, start=1):
        stop.sequence = k
    assert "transfer" in {v.kind for v in check_plan(plan, problem, matrices)}
    route.stops = [s for s in route.stops if s.order_id != "a0"]
    for k, stop in enumerate(route.stops, start=1):
        stop.sequence = k
    kinds = {v.kind for v in check_plan(replace(plan, unassigned=[UnassignedOrder("a0", "test")]), problem, matrices)}
    assert "transfer" in kinds


def test_a_transfer_beyond_capacity_is_dropped_whole() -> None:
    problem = transfers_day()
    big = replace(problem.orders[0], size=Size(3, 4.0, 10.0))  # 3 parcels: no van can carry a0->b0
    problem = replace(problem, orders=[big, *problem.orders[1:]])
    plan, _ = planned(problem)
    assert {u.order_id for u in plan.unassigned} == {"a0", "b0"}
    reason = {u.order_id: u.reason for u in plan.unassigned}["b0"]
    assert "transfer with a0: larger than every vehicle's capacity" in reason


def test_transfers_the_model_cannot_honour_are_refused_loudly() -> None:
    day = transfers_day()
    with pytest.raises(PlanningError, match=r"transfers: unknown order id 'zz'"):
        plan_routes(replace(day, transfers=[("a0", "zz")]), HaversineTravel(), FAST)
    with pytest.raises(PlanningError, match=r"transfers: order a0 is in another transfer"):
        plan_routes(replace(day, transfers=[("a0", "b0"), ("a0", "b1")]), HaversineTravel(), FAST)
    two = replace(day.orders[3], time_windows=order("x", HUB, [(8, 9), (13, 14)]).time_windows)
    with pytest.raises(PlanningError, match=r"order b0 .* several time windows"):
        plan_routes(replace(day, orders=[*day.orders[:3], two, *day.orders[4:]]), HaversineTravel(), FAST)
    with pytest.raises(PlanningError, match=r"pickups: unknown order id.*nope"):
        plan_routes(replace(day, pickups=frozenset({"nope"})), HaversineTravel(), FAST)
    compass = [order(n, LatLng(HUB.lat + dy, HUB.lng + dx))
               for n, dy, dx in (("n", 0.05, 0), ("e", 0, 0.05), ("s", -0.05, 0), ("w", 0, -0.05))]
    spread = PlanningProblem(compass, [depot("d1", HUB)], [vehicle(f"v{k}") for k in range(2)],
                             [driver(f"x{k}") for k in range(2)], transfers=[("n", "s")])
    with pytest.raises(PlanningError, match=r"transfers: n->s fall in different parts"):
        plan_large(spread, HaversineTravel(), FAST, part_size=2)


def test_objective_report_gives_each_component_in_money_and_units() -> None:
    orders = [order("tight", LatLng(HUB.lat + 0.2, HUB.lng), [(8, 8.1)], priority=1)]
    orders += [order(f"o{k}", near(k), size=Size(10, 10.0, 10.0), priority=3) for k in range(4)]
    problem = PlanningProblem(orders, [depot("d1", HUB, loading_s=300)], [vehicle("v1", parcels=31)],
                              [driver("a", rule=NO_BREAK)])
    options = replace(FAST, hard_time_windows=False, lateness_penalty_per_hour=60.0, drop_penalty=1000.0)
    plan, _ = planned(problem, options)
    report = objective_report(plan, problem, options)
    assert report.total_money == pytest.approx(plan.cost.total)
    assert report.dropped == 1 and report.drop_money == pytest.approx(3000.0)  # one 10-parcel order left
    assert report.late_h > 0 and report.lateness_money == pytest.approx(60.0 * report.late_h)
    assert report.km == pytest.approx(plan.distance_km) and report.vehicles == 1
    (route,) = plan.routes
    assert report.working_h == pytest.approx(((route.end - route.start).total_seconds() + 300) / 3600)
    assert 0 < report.driving_h < report.working_h
    rates = problem.vehicles[0].costs
    assert report.distance_money == pytest.approx(rates.per_km * report.km)
    assert report.time_money == pytest.approx(rates.per_hour * report.working_h)


def test_transfers_deliveries_and_reloads_combine_on_one_van() -> None:
    day = transfers_day()
    extra = [order(f"x{k}", near(k + 1), size=Size(1, 1.0, 1.0)) for k in range(6)]
    problem = replace(day, orders=day.orders + extra, vehicles=[vehicle("v1", parcels=3)])
    plan, _ = planned(problem, replace(FAST, max_reloads=4, max_iterations=3000))
    assert plan.unassigned == []  # 6 parcels of deliveries in a 3-parcel van: at least one reload
    (route,) = plan.routes
    assert sum(s.kind is StopKind.RELOAD for s in route.stops) >= 1
