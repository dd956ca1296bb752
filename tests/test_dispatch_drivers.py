"""Driver assignment for captive routes (shift, skills, zone familiarity, workload) and pre-dispatch
validation; pure rules, then the command on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter

from baton.dispatch.drivers import assign_drivers, cell_of, validate_route
from baton.domain import OrderStatus, RouteStatus, Size, features
from baton.service_layer import commands
from baton.service_layer.dispatch_views import validate_routes
from dispatch_helpers import make_bus
from factories import local, make_depot, make_driver, make_order, make_plan, make_route, make_vehicle

VEHICLES = {v.id: v for v in (make_vehicle("v-1"), make_vehicle("v-2", features=features("refrigerated")))}


def planned(route_id: str, ids: list[str], **kw: object) -> dict[str, object]:
    return {i: make_order(i, status=OrderStatus.PLANNED, route_id=route_id, **kw) for i in ids}


def test_hard_rules_are_explained() -> None:
    orders = planned("r-1", ["o-1"], required_features=features("two_person"))
    route = make_route("r-1", ["o-1"], driver_id=None, start=local(9))
    drivers = [make_driver("late", shift_start=local(10), shift_end=local(18)),
               make_driver("tied", vehicle_id="v-2"),
               make_driver("short", max_working_time_s=600),
               make_driver("unskilled"),
               make_driver("ok", skills=features("two_person"))]
    result = assign_drivers([route], drivers, VEHICLES, orders)  # type: ignore[arg-type]
    assert result.drivers == {"r-1": "ok"}
    why = {o["driver"]: o["why_not"] for o in result.explanations["r-1"]}
    assert why["late"].startswith("shift 10:00-18:00 does not cover") and why["tied"] == "tied to vehicle v-2"
    assert why["short"].startswith("route lasts 35 min > max working time 10 min")
    assert why["unskilled"] == "lacks two_person" and why["ok"] is None


def test_familiarity_then_workload_and_no_overlaps() -> None:
    a = make_route("r-a", ["o-1", "o-2"], driver_id=None, start=local(8))
    b = make_route("r-b", ["o-3"], driver_id=None, start=local(8, 10))
    c = make_route("r-c", ["o-4"], driver_id=None, start=local(13))
    orders = {**planned("r-a", ["o-1", "o-2"]), **planned("r-b", ["o-3"]), **planned("r-c", ["o-4"])}
    history = {"d-2": Counter({cell_of(orders["o-1"].location): 5, cell_of(orders["o-2"].location): 1})}
    result = assign_drivers([a, b, c], [make_driver("d-1"), make_driver("d-2")], VEHICLES, orders,  # type: ignore[arg-type]
                            history)
    assert result.drivers["r-a"] == "d-2"  # knows the zone
    assert result.drivers["r-b"] == "d-1"  # d-2 is busy 08:00-08:50
    assert result.drivers["r-c"] == "d-1" or result.drivers["r-c"] == "d-2"
    fam = {o["driver"]: o["familiarity"] for o in result.explanations["r-a"]}
    assert fam == {"d-1": 0.0, "d-2": 1.0}
    # with equal familiarity the less loaded driver gets the afternoon route
    d = result.drivers["r-c"]
    loads = {o["driver"]: o["workload"] for o in result.explanations["r-c"]}
    assert loads[d] == min(loads.values())
    lonely = assign_drivers([a], [make_driver("x", shift_end=local(8, 30))], VEHICLES, orders)  # type: ignore[arg-type]
    assert lonely.drivers == {} and lonely.unassigned["r-a"].startswith("no driver can take it: x: shift")


def test_pre_dispatch_validation() -> None:
    route = make_route("r-1", ["o-1", "o-2", "o-3"], start=local(9))
    orders = {**planned("r-1", ["o-1"], size=Size(50, 10, 10)), **planned("r-1", ["o-2"], size=Size(20, 10, 10)),
              "o-3": make_order("o-3", status=OrderStatus.CANCELLED)}
    problems = validate_route(route, orders, VEHICLES["v-1"], make_driver("d-1", shift_end=local(9, 30)))  # type: ignore[arg-type]
    assert problems == ["order o-3 is cancelled", "load exceeds vehicle v-1 capacity in parcels",
                        "driver d-1: shift 08:00-09:30 does not cover the route 09:00-10:05"]
    ok = validate_route(make_route("r-2", ["o-9"]), planned("r-2", ["o-9"]), VEHICLES["v-1"], make_driver())  # type: ignore[arg-type]
    assert ok == []
    assert validate_route(make_route("r-2", ["o-9"]), planned("r-2", ["o-9"]), None, None) == [  # type: ignore[arg-type]
        "vehicle v-1 does not exist", "no driver assigned"]


def test_assign_drivers_command_uses_history_and_persists(db_url: str) -> None:
    bus = make_bus(db_url)
    bus.handle(commands.RegisterFleet(at=local(6), depots=[make_depot()], vehicles=list(VEHICLES.values()),
                                      drivers=[make_driver("d-1"), make_driver("d-2")]))
    done = make_order("h-1", status=OrderStatus.DELIVERED)
    new = [make_order("o-1", address=done.address), make_order("o-2")]  # o-1 where d-2 delivered before
    bus.handle(commands.CreateOrders(at=local(6), orders=[done, *new]))
    old = make_route("old/r", ["h-1"], driver_id="d-2")
    old.status = RouteStatus.COMPLETED
    with bus.uow:
        bus.uow.plans.add(make_plan("old", [old], created_at=local(5)), current=False)
        route = make_route("p/r-1", ["o-1"], driver_id=None, start=local(9))
        bus.uow.plans.add(make_plan("p", [route, make_route("p/r-2", ["o-2"], driver_id=None, start=local(9))]))
        for o in bus.uow.orders.get_many(["o-1", "o-2"]):
            o.plan(f"p/{'r-1' if o.id == 'o-1' else 'r-2'}", at=local(7))
        bus.uow.commit()
    assert validate_routes(bus.uow)["p/r-1"] == ["no driver assigned"]
    result = bus.handle(commands.AssignDrivers(at=local(7)))
    assert result["assigned"] == {"p/r-1": "d-2", "p/r-2": "d-1"}  # familiarity; no overlap: one route each
    with bus.uow:
        stored = {r.id: r.driver_id for r in bus.uow.plans.current().routes}  # type: ignore[union-attr]
    assert stored == result["assigned"]
    assert [e.name for e in bus.uow.events_for("p/r-1")] == ["route.driver_assigned"]
    assert validate_routes(bus.uow) == {"p/r-1": [], "p/r-2": []}
