"""Execution follows live re-planning: when a tracked route is re-planned (here: an order on it is
cancelled while the van drives), the execution service reloads the route before its next pass, so the
cancelled stop gets no ETA and no geofence arrival any more, and what was observed on the route is kept."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from baton.adapters.travel.greatcircle import GreatCircleProvider
from baton.execute.records import ExecutionRecords
from baton.execute.service import ExecutionService
from baton.service_layer import commands
from baton.service_layer.bootstrap import bootstrap
from baton.service_layer.live_reactions import enable_live
from execute_helpers import DEPOT, T0, _order, setup_day


def test_a_route_replanned_live_is_reloaded_before_the_next_eta_pass(db_url: str) -> None:
    bus = bootstrap(db_url, travel=GreatCircleProvider())
    setup_day(bus)
    enable_live(bus, "baton")
    bus.handle(commands.StartLive(at=T0 - timedelta(minutes=30)))
    service = ExecutionService(bus)
    bus.handle(commands.StartRoute(at=T0, route_id="R1"))
    at = T0 + timedelta(minutes=2)
    service.ingest([{"vehicle_id": "V1", "lat": DEPOT[0] - 0.004, "lng": DEPOT[1], "ts": at.isoformat()}], now=at)
    service.refresh(at)
    state = service.vehicles["V1"]
    assert [p.order_id for p in state.stops] == ["o-1", "o-2", "o-3", "o-4"]
    pace_before = state.pace

    bus.handle(commands.CancelOrder(at=at + timedelta(seconds=30), order_id="o-3", reason="customer cancelled"))
    later = at + timedelta(minutes=1)
    service.refresh(later)

    state = service.vehicles["V1"]
    assert "o-3" not in [p.order_id for p in state.stops]
    assert [t.order_id for t in state.tracker.targets] == [p.order_id for p in state.stops if p.order_id]
    assert state.last_fix is not None and state.pace == pace_before  # observations kept across the reload
    with bus.uow:
        records = ExecutionRecords(bus.uow.session, bus.uow.org_id)  # type: ignore[attr-defined]
        assert "o-3" not in {r.order_id for r in records.etas(route_id="R1")}


def test_a_stop_added_live_gets_an_eta_at_the_next_pass_without_a_new_fix(db_url: str) -> None:
    """A re-planned route invalidates the van's last ETA computation: otherwise a van that has not
    moved since would keep its cached pass and the new stop would get no ETA until it drove on."""
    bus = bootstrap(db_url, travel=GreatCircleProvider())
    setup_day(bus)
    enable_live(bus, "baton")
    bus.handle(commands.StartLive(at=T0 - timedelta(minutes=30)))
    service = ExecutionService(bus)
    at = T0 + timedelta(minutes=2)
    fixes = {"V1": (DEPOT[0] - 0.004, DEPOT[1]), "V2": (-15.74, -47.80)}
    for route_id, (vehicle_id, (lat, lng)) in zip(("R1", "R2"), fixes.items(), strict=True):
        bus.handle(commands.StartRoute(at=T0, route_id=route_id))
        service.ingest([{"vehicle_id": vehicle_id, "lat": lat, "lng": lng, "ts": at.isoformat()}], now=at)
    service.refresh(at)
    new = replace(_order("o-new", -15.755, -47.805), events=[])
    result = bus.handle(commands.AddLiveOrder(at=at + timedelta(seconds=1), order=new))
    route_id = getattr(result, "route_id", None)
    assert route_id in ("R1", "R2"), result
    vehicle_id = {"R1": "V1", "R2": "V2"}[route_id]

    later = at + timedelta(seconds=2)  # no new fix, well within recompute_max_age_s: the vans have not moved
    service.refresh(later)
    assert "o-new" in [p.order_id for p in service.vehicles[vehicle_id].stops]
    with bus.uow:
        records = ExecutionRecords(bus.uow.session, bus.uow.org_id)  # type: ignore[attr-defined]
        assert "o-new" in {r.order_id for r in records.etas(route_id=route_id)}
