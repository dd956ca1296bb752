"""Exceptions' lifecycle on SQLite and PostgreSQL: a failed attempt opens an exception whose playbook
notifies the customer and opens a dispatcher task; a dispatcher acknowledges and resolves it (who,
when, how); GPS silence opens on a tick and resolves itself when pings come back."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from baton.adapters.travel.greatcircle import GreatCircleProvider
from baton.domain.errors import NotFound, ValidationError
from baton.execute.events import CustomerNotificationRequested, ExceptionAcknowledged, ExceptionResolved
from baton.execute.records import ExecutionRecords
from baton.execute.service import ExecutionService
from baton.service_layer import commands
from baton.service_layer.bootstrap import bootstrap
from baton.service_layer.messagebus import MessageBus
from execute_helpers import T0, V1_STOPS, setup_day


def _records(bus: MessageBus) -> ExecutionRecords:
    uow = bus.uow
    return ExecutionRecords(uow.session, uow.org_id)  # type: ignore[attr-defined]


def test_failed_attempt_playbook_then_dispatcher_acknowledges_and_resolves(db_url: str) -> None:
    bus = bootstrap(db_url, travel=GreatCircleProvider())
    setup_day(bus)
    execution = ExecutionService(bus)
    bus.handle(commands.StartRoute(at=T0, actor="driver:d-V1", route_id="R1"))
    arrive = T0 + timedelta(minutes=6)
    bus.handle(commands.ArriveAtStop(at=arrive, actor="driver:d-V1", route_id="R1", order_id="o-1"))
    bus.handle(commands.FailDelivery(at=arrive + timedelta(minutes=2), actor="driver:d-V1", route_id="R1",
                                     order_id="o-1", reason="not_home"))
    with bus.uow:
        records = _records(bus)
        [exc] = records.exceptions(kind="failed_attempt")
        actions = [(a.action, a.outcome) for a in records.actions(exc.id)]
        [visit] = records.visits("R1")
    assert exc.status == "open" and exc.order_id == "o-1" and exc.needs_dispatcher
    assert actions == [("notify_customers", "done"), ("open_dispatcher_task", "done")]
    assert visit.source == "manual" and visit.arrived_at == arrive  # the driver app's arrival, same commands
    notified = [e.order_id for e in bus.uow.all_events() if isinstance(e, CustomerNotificationRequested)]
    assert notified == ["o-1"]

    later = arrive + timedelta(minutes=10)
    bus.handle(commands.AcknowledgeException(at=later, actor="user:ana", exception_id=exc.id, note="calling"))
    bus.handle(commands.AcknowledgeException(at=later, actor="user:bob", exception_id=exc.id))  # no-op
    with pytest.raises(ValidationError, match="resolution"):
        bus.handle(commands.ResolveException(at=later, actor="user:ana", exception_id=exc.id, resolution=" "))
    bus.handle(commands.ResolveException(at=later + timedelta(minutes=1), actor="user:ana", exception_id=exc.id,
                                         resolution="customer asked for tomorrow; reattempt planned"))
    with pytest.raises(NotFound):
        bus.handle(commands.AcknowledgeException(at=later, actor="user:ana", exception_id="exc-nope"))
    with bus.uow:
        done = _records(bus).get_exception(exc.id)
        log = [a.action for a in _records(bus).actions(exc.id)]
    assert done is not None and done.status == "resolved" and not done.auto_resolved
    assert (done.acknowledged_by, done.acknowledged_at) == ("user:ana", later)
    assert (done.resolved_by, done.resolution) == ("user:ana", "customer asked for tomorrow; reattempt planned")
    assert log[-2:] == ["acknowledge", "resolve"]
    events = [e for e in bus.uow.all_events() if isinstance(e, ExceptionAcknowledged | ExceptionResolved)]
    assert [e.actor for e in events] == ["user:ana", "user:ana"]
    assert execution.exceptions.open == {}


def test_gps_silence_opens_on_tick_and_resolves_when_pings_return(db_url: str) -> None:
    bus = bootstrap(db_url, travel=GreatCircleProvider())
    setup_day(bus)
    execution = ExecutionService(bus)
    bus.handle(commands.StartRoute(at=T0, actor="driver:d-V1", route_id="R1"))
    lat, lng = V1_STOPS["o-1"]

    def ping(minute: int) -> dict[str, object]:
        return {"vehicle_id": "V1", "lat": lat + 0.01 - 0.0005 * minute, "lng": lng,
                "ts": (T0 + timedelta(minutes=minute)).isoformat()}

    execution.ingest([ping(1)], now=T0 + timedelta(minutes=1), refresh=True)
    execution.tick(T0 + timedelta(minutes=9))
    with bus.uow:
        [silent] = _records(bus).exceptions(kind="gps_silence")
    assert silent.status == "open" and silent.vehicle_id == "V1" and silent.needs_dispatcher
    execution.ingest([ping(10)], now=T0 + timedelta(minutes=10), refresh=True)
    with bus.uow:
        [after] = _records(bus).exceptions(kind="gps_silence")
    assert after.status == "resolved" and after.auto_resolved and after.resolution == "condition cleared"


def test_track_plan_loads_every_live_route_in_bulk(db_url: str) -> None:
    bus = bootstrap(db_url, travel=GreatCircleProvider())
    setup_day(bus)
    execution = ExecutionService(bus)
    assert execution.track_plan("p-1") == 2
    assert {v: [s.order_id for s in st.stops] for v, st in execution.vehicles.items()} == {
        "V1": ["o-1", "o-2", "o-3", "o-4"], "V2": ["o-5", "o-6"]}
    assert execution.vehicle_pace("R2") == ("V2", 1.0) and execution.vehicle_pace("R9") is None


def test_service_time_is_learned_per_zone_from_visits(db_url: str) -> None:
    bus = bootstrap(db_url, travel=GreatCircleProvider())
    setup_day(bus)
    lat, lng = V1_STOPS["o-4"]
    for k, order_id in enumerate(("o-1", "o-2", "o-3")):  # three past visits in o-4's H3 cell, 10 min each
        arrived = T0 + timedelta(minutes=20 * k)
        bus.handle(commands.RecordStopArrival(at=arrived, route_id="R1", order_id=order_id, vehicle_id="V1",
                                              lat=lat, lng=lng, source="manual"))
        assert bus.handle(commands.RecordStopDeparture(at=arrived + timedelta(minutes=10), route_id="R1",
                                                       order_id=order_id)) == 600
    with bus.uow:
        learned = _records(bus).learned_service_s(3)
    assert list(learned.values()) == [600]
    state = ExecutionService(bus).track_route("R2")  # a route loaded now sees what was learned
    o4_like = next(s for s in state.stops if s.order_id == "o-5")
    assert state.service_s(o4_like) == 180  # o-5 is in another cell: the plan's service time
    assert state.learned_service == learned
    assert state.service_s(dataclasses.replace(o4_like, lat=lat, lng=lng)) == 600


def test_off_route_opens_after_a_detour_and_resolves_back_on_the_leg(db_url: str) -> None:
    bus = bootstrap(db_url, travel=GreatCircleProvider())
    setup_day(bus)
    execution = ExecutionService(bus)
    bus.handle(commands.StartRoute(at=T0, actor="driver:d-V1", route_id="R1"))
    lat, lng = V1_STOPS["o-1"]

    def ping(minute: int, east_deg: float) -> dict[str, object]:
        return {"vehicle_id": "V1", "lat": lat + 0.009, "lng": lng + east_deg,
                "ts": (T0 + timedelta(minutes=minute)).isoformat()}

    for minute in range(5):  # 2.1 km east of the depot → o-1 line, for 4 minutes
        execution.ingest([ping(minute, 0.02 - 0.0001 * minute)], now=T0 + timedelta(minutes=minute), refresh=True)
    with bus.uow:
        [off] = _records(bus).exceptions(kind="off_route")
    assert off.status == "open" and off.details["distance_m"] > 1500
    execution.ingest([ping(6, 0.0)], now=T0 + timedelta(minutes=6), refresh=True)
    with bus.uow:
        [off] = _records(bus).exceptions(kind="off_route")
    assert off.status == "resolved" and off.auto_resolved


def test_a_reported_breakdown_opens_an_exception_for_the_stranded_orders(db_url: str) -> None:
    from baton.domain.events import EVENT_TYPES

    broke_down = EVENT_TYPES.get("live.vehicle_broke_down")
    if broke_down is None:
        pytest.skip("live re-planning (baton.live) is not installed")
    bus = bootstrap(db_url, travel=GreatCircleProvider())
    setup_day(bus)
    execution = ExecutionService(bus)
    execution.on_foreign_event(broke_down(occurred_at=T0 + timedelta(minutes=40), route_id="R1", vehicle_id="V1",
                                 moved=["o-3"], unassigned=["o-4"], transferred=[]))
    with bus.uow:
        [exc] = _records(bus).exceptions(kind="breakdown")
        actions = [(a.action, a.outcome) for a in _records(bus).actions(exc.id)]
    assert exc.details == {"orders": ["o-4"], "moved": ["o-3"]} and exc.needs_dispatcher
    assert actions == [("notify_customers", "done"), ("open_dispatcher_task", "done")]
    notified = [e.order_id for e in bus.uow.all_events() if isinstance(e, CustomerNotificationRequested)]
    assert notified == ["o-4"]
