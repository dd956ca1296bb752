"""Commands through the message bus, on SQLite and PostgreSQL: the order lifecycle end to end."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from baton.adapters.travel.greatcircle import GreatCircleProvider
from baton.domain import (
    Address,
    Customer,
    Depot,
    Driver,
    IllegalTransition,
    LatLng,
    Order,
    OrderStatus,
    Size,
    TimeWindow,
    Vehicle,
)
from baton.domain.plan import RouteStatus
from baton.planning.problem import PlanningOptions
from baton.service_layer import commands
from baton.service_layer.bootstrap import bootstrap
from baton.service_layer.messagebus import MessageBus

TZ = ZoneInfo("America/Sao_Paulo")
DAY = datetime(2026, 3, 2, tzinfo=TZ)
S = OrderStatus
POINTS = [(-15.790, -47.880), (-15.800, -47.890), (-15.780, -47.870), (-15.810, -47.860), (-15.770, -47.900)]


def _orders() -> list[Order]:
    return [
        Order.create(
            at=DAY + timedelta(hours=6), id=f"o-{k}", customer=Customer(f"Cliente {k}"),
            address=Address(f"Quadra {k}", LatLng(lat, lng)),
            time_windows=[TimeWindow(DAY + timedelta(hours=8), DAY + timedelta(hours=17))],
            service_time_s=240, size=Size(1, 3.0, 20.0),
        )
        for k, (lat, lng) in enumerate(POINTS)
    ]


@pytest.fixture
def bus(db_url: str) -> MessageBus:
    bus = bootstrap(db_url, travel=GreatCircleProvider())
    depot = Depot(id="D1", name="Depot", location=LatLng(-15.657, -47.803), timezone="America/Sao_Paulo")
    bus.handle(commands.RegisterFleet(
        at=DAY,
        depots=[depot],
        vehicles=[Vehicle(id="V1", capacity=Size(50, 500, 1000), start_depot_id="D1")],
        drivers=[Driver(id="DR1", name="Paulo Lima", shift_start=DAY + timedelta(hours=8),
                        shift_end=DAY + timedelta(hours=17), vehicle_id="V1")],
    ))
    bus.handle(commands.CreateOrders(at=DAY + timedelta(hours=6), orders=_orders()))
    return bus


def _statuses(bus: MessageBus) -> dict[str, OrderStatus]:
    with bus.uow:
        return {o.id: o.status for o in bus.uow.orders.list()}


def test_a_day_moves_every_order_through_its_lifecycle_with_persisted_events(bus: MessageBus) -> None:
    seen: list[str] = []
    bus.subscribe(None, lambda e: seen.append(e.name))
    plan = bus.handle(commands.PlanOrders(at=DAY + timedelta(hours=7), day_start=DAY,
                                          options=PlanningOptions(time_limit_s=1, seed=1)))
    assert plan.unassigned == [] and len(plan.routes) == 1
    route = plan.routes[0]
    assert set(_statuses(bus).values()) == {S.PLANNED}
    assert seen.count("order.status_changed") == 5 and "plan.created" in seen

    t = DAY + timedelta(hours=7, minutes=30)
    bus.handle(commands.DispatchRoute(at=t, route_id=route.id))
    bus.handle(commands.DispatchRoute(at=t, route_id=route.id))  # retry: no-op
    bus.handle(commands.StartRoute(at=route.start, route_id=route.id))
    first, second, *rest = route.order_ids
    t = route.start + timedelta(minutes=30)
    bus.handle(commands.ArriveAtStop(at=t, route_id=route.id, order_id=first, leg_distance_m=1000))
    bus.handle(commands.CompleteDelivery(at=t + timedelta(minutes=4), route_id=route.id, order_id=first))
    bus.handle(commands.CompleteDelivery(at=t + timedelta(minutes=5), route_id=route.id, order_id=first))
    bus.handle(commands.ArriveAtStop(at=t + timedelta(minutes=20), route_id=route.id, order_id=second))
    bus.handle(commands.FailDelivery(at=t + timedelta(minutes=22), route_id=route.id, order_id=second,
                                     reason="not_home"))
    bus.handle(commands.CompleteRoute(at=t + timedelta(hours=2), route_id=route.id, leg_distance_m=5000))

    statuses = _statuses(bus)
    assert statuses[first] == S.DELIVERED
    assert statuses[second] == S.RETURNED_TO_DEPOT
    assert all(statuses[o] == S.RETURNED_TO_DEPOT for o in rest)  # never reached: back to the depot
    with bus.uow:
        history = [(e.from_status, e.to_status) for e in bus.uow.events_for(first)  # type: ignore[attr-defined]
                   if e.name == "order.status_changed"]
        stored = bus.uow.plans.get_route(route.id)
    assert history == [("created", "planned"), ("planned", "dispatched"), ("dispatched", "out_for_delivery"),
                       ("out_for_delivery", "arrived"), ("arrived", "delivered")]  # retries wrote nothing
    assert stored.status == RouteStatus.COMPLETED
    assert stored.actual_distance_m == 6000
    assert stored.stop_for(first).actual_arrival == t
    assert stored.stop_for(first).actual_departure == t + timedelta(minutes=4)
    assert seen.count("route.dispatched") == 1


def test_a_refused_command_persists_nothing(bus: MessageBus) -> None:
    with pytest.raises(IllegalTransition, match="created -> delivered"), bus.uow:
        order = bus.uow.orders.get("o-0")
        order.transition(S.DELIVERED, at=DAY)
    bus.handle(commands.CancelOrder(at=DAY + timedelta(hours=7), order_id="o-1", reason="customer"))
    bus.handle(commands.CancelOrder(at=DAY + timedelta(hours=8), order_id="o-1"))  # idempotent
    statuses = _statuses(bus)
    assert statuses["o-0"] == S.CREATED and statuses["o-1"] == S.CANCELLED
    with bus.uow:
        names = [e.name for e in bus.uow.events_for("o-1")]  # type: ignore[attr-defined]
    assert names == ["order.created", "order.status_changed"]
    plan = bus.handle(commands.PlanOrders(at=DAY + timedelta(hours=7), day_start=DAY,
                                          options=PlanningOptions(time_limit_s=1)))
    assert "o-1" not in plan.assigned_order_ids and len(plan.assigned_order_ids) == 4
