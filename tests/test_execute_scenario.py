"""Issue 7's scenario on SQLite and PostgreSQL: a van drives its route with a synthetic GPS trace;
arrivals and departures are detected by geofence; a traffic jam makes it 20+ min late; late risk
opens automatically, ETAs change, and exactly the affected customers get a notification event."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from baton.adapters.travel.greatcircle import GreatCircleProvider
from baton.domain.lifecycle import OrderStatus
from baton.execute.events import CustomerNotificationRequested, EtaErrorRecorded, StopEtaChanged
from baton.execute.playbooks import RepairOutcome
from baton.execute.records import ExecutionRecords
from baton.execute.service import ExecutionService
from baton.execute.sla import sla_report
from baton.service_layer import commands
from baton.service_layer.bootstrap import bootstrap
from execute_helpers import T0, V1_STOPS, setup_day, trace


class MovingReplanner:
    """Records what it was asked; 'moves' nothing unless told to (D's live re-planning plugs in here)."""

    def __init__(self, applied: bool) -> None:
        self.applied = applied
        self.calls: list[tuple[str, list[str]]] = []

    def repair(self, route_id: str, order_ids: Sequence[str], at: datetime) -> RepairOutcome:
        self.calls.append((route_id, list(order_ids)))
        if self.applied:
            return RepairOutcome(True, "moved o-4 to R2", {"o-4": "R2"})
        return RepairOutcome(False, "no feasible move")


def drive(execution: ExecutionService, jam_leg: int | None, jam_s: int) -> None:
    batch: list[object] = []
    for t, item in trace(jam_leg, jam_s):
        if isinstance(item, tuple):
            execution.ingest(batch, now=t, refresh=True)
            batch = []
            execution.bus.handle(commands.CompleteDelivery(at=t, actor="driver:d-V1", route_id="R1",
                                                           order_id=item[1]))
            continue
        batch.append(item)
        if len(batch) == 6:
            execution.ingest(batch, now=t, refresh=True)
            batch = []
    if batch:
        execution.ingest(batch, now=t, refresh=True)


@pytest.mark.parametrize("repair_applied", [False])
def test_jam_opens_late_risk_and_notifies_exactly_the_affected_customers(db_url: str, repair_applied: bool) -> None:
    bus = bootstrap(db_url, travel=GreatCircleProvider())
    setup_day(bus)
    replanner = MovingReplanner(repair_applied)
    execution = ExecutionService(bus, replanner=replanner)
    bus.handle(commands.StartRoute(at=T0, actor="driver:d-V1", route_id="R1"))
    assert "V1" in execution.vehicles

    drive(execution, jam_leg=3, jam_s=25 * 60)

    uow = bus.uow
    with uow:
        records = ExecutionRecords(uow.session, uow.org_id)  # type: ignore[arg-type]
        visits = {v.order_id: v for v in records.visits("R1")}
        exceptions = records.exceptions()
        late = [e for e in exceptions if e.kind == "late_risk"]
        assert len(late) == 1
        actions = [(a.action, a.outcome) for a in records.actions(late[0].id)]
        route = uow.plans.get_route("R1")
        statuses = {o.id: o.status for o in uow.orders.get_many(list(V1_STOPS))}
    # arrivals and departures detected for every stop, with dwell
    assert set(visits) == set(V1_STOPS)
    assert all(v.source == "geofence" and v.dwell_s is not None and v.dwell_s >= 150 for v in visits.values())
    assert all(s.actual_arrival is not None for s in route.stops)
    assert set(statuses.values()) == {OrderStatus.DELIVERED}
    # the jam: the third stop was reached more than 20 min after plan
    o3 = visits["o-3"]
    assert o3.planned_arrival is not None and o3.arrived_at - o3.planned_arrival > timedelta(minutes=20)
    # late risk opened automatically while the van was stuck, for the stops behind it only
    assert late[0].details["orders"][0] == "o-3" and set(late[0].details["orders"]) <= {"o-3", "o-4"}
    assert late[0].opened_at < o3.arrived_at
    assert [a for a, _ in actions][:4] == ["recompute_etas", "request_repair", "notify_customers",
                                           "open_dispatcher_task"]
    assert replanner.calls == [("R1", late[0].details["orders"])]
    assert late[0].needs_dispatcher
    # once the last late stop was reached, nothing is at risk any more: resolved automatically
    assert late[0].status == "resolved" and late[0].auto_resolved and late[0].resolved_by == "system:monitor"
    events = uow.all_events()
    notified = [e.order_id for e in events if isinstance(e, CustomerNotificationRequested)]
    assert sorted(notified) == ["o-3", "o-4"]
    changed = {e.order_id for e in events if isinstance(e, StopEtaChanged) and e.delta_s > 0}
    assert {"o-3", "o-4"} <= changed
    assert "o-5" not in changed and "o-6" not in changed
    errors = [e for e in events if isinstance(e, EtaErrorRecorded)]
    assert {e.order_id for e in errors} == set(V1_STOPS)
    with uow:
        _, routes, carriers = sla_report(uow.session, uow.org_id)  # type: ignore[arg-type]
    # the windows close at noon: 25 minutes of jam cost no promise; V2 has not left yet
    assert {a.key: a.counts for a in routes} == {"R1": {"on_time": 4}, "R2": {"pending": 2}}
    assert [(a.key, a.otd_pct) for a in carriers] == [("own", 100.0)]


def test_late_risk_asks_live_replanning_and_opens_a_task_when_no_stop_moves(db_url: str) -> None:
    """With the live board on, the playbook reports the late van's slowness to live re-planning; here no
    other van can take o-4 in time, so nothing moves and a dispatcher task opens (o-4 closes at 08:45)."""
    from baton.execute.live_repair import LiveReplanner
    from baton.service_layer.live_reactions import enable_live

    bus = bootstrap(db_url, travel=GreatCircleProvider())
    setup_day(bus, o4_closes=T0 + timedelta(minutes=45))
    enable_live(bus, "baton")  # the board follows execution (route started, stops departed)
    bus.handle(commands.StartLive(at=T0 - timedelta(minutes=20)))
    holder: list[ExecutionService] = []
    execution = ExecutionService(bus, replanner=LiveReplanner(bus, lambda route_id: holder[0].vehicle_pace(route_id)))
    holder.append(execution)
    bus.handle(commands.StartRoute(at=T0, actor="driver:d-V1", route_id="R1"))
    drive(execution, jam_leg=3, jam_s=25 * 60)
    uow = bus.uow
    with uow:
        records = ExecutionRecords(uow.session, uow.org_id)  # type: ignore[arg-type]
        [late] = records.exceptions(kind="late_risk")
        actions = [(a.action, a.outcome) for a in records.actions(late.id)]
        moved = {o.id: o.route_id for o in uow.orders.get_many(["o-4"])}
    assert late.details["after_window"] == ["o-4"] and late.needs_dispatcher
    assert actions[:4] == [("recompute_etas", "done"), ("request_repair", "no_op"), ("notify_customers", "done"),
                           ("open_dispatcher_task", "done")]
    assert moved == {"o-4": "R1"}
    traffic = [e for e in uow.all_events() if e.name == "live.traffic_reported"]
    assert len(traffic) == 1 and traffic[0].payload()["vehicle_id"] == "V1"
    notified = sorted(e.order_id for e in uow.all_events() if isinstance(e, CustomerNotificationRequested))
    assert notified == ["o-3", "o-4"]  # never the stops already served (o-1, o-2) nor V2's customers
