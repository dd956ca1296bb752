"""ETA recomputation threshold: a van with new pings is recomputed only when it moved at least
``recompute_min_change_s`` or its last computation is ``recompute_max_age_s`` old; ``tick`` always recomputes."""

from __future__ import annotations

from datetime import datetime, timedelta

from baton.adapters.travel.greatcircle import GreatCircleProvider
from baton.execute.service import ExecutionService
from baton.service_layer import commands
from baton.service_layer.bootstrap import bootstrap
from execute_helpers import DEPOT, T0, setup_day


def test_small_moves_within_the_age_limit_are_coalesced_into_the_last_computation(db_url: str) -> None:
    bus = bootstrap(db_url, travel=GreatCircleProvider())
    setup_day(bus)
    service = ExecutionService(bus)
    bus.handle(commands.StartRoute(at=T0, route_id="R1"))
    lat, lng = DEPOT[0] - 0.005, DEPOT[1]

    def ping(seconds: int, north_m: float) -> None:
        at = T0 + timedelta(seconds=seconds)
        service.ingest([{"vehicle_id": "V1", "lat": lat + north_m / 111_195.0, "lng": lng, "accuracy_m": 5,
                         "ts": at.isoformat()}], now=at)
        service.refresh(at)

    ping(60, 0.0)
    assert (len(service.lag_ms), service.skipped) == (1, 0)
    ping(62, 3.0)  # 3 m in 2 s: the ETAs stand
    assert (len(service.lag_ms), service.skipped) == (1, 1)
    ping(64, 40.0)  # 40 m: recomputed
    assert (len(service.lag_ms), service.skipped) == (2, 1)
    ping(80, 41.0)  # 1 m, but the last computation is 16 s old: recomputed
    assert (len(service.lag_ms), service.skipped) == (3, 1)
    service.tick(T0 + timedelta(seconds=81))  # time passing alone: every tracked van (V1), no threshold
    assert service.skipped == 1 and len(service.lag_ms) == 4


def test_a_zero_threshold_recomputes_every_van_with_pings(db_url: str) -> None:
    from dataclasses import replace

    from baton.execute.eta import EtaSettings
    from baton.execute.service import ExecutionSettings

    bus = bootstrap(db_url, travel=GreatCircleProvider())
    setup_day(bus)
    service = ExecutionService(bus, ExecutionSettings(eta=replace(EtaSettings(), recompute_min_change_s=0)))
    bus.handle(commands.StartRoute(at=T0, route_id="R1"))
    for s in (60, 61, 62):
        at = T0 + timedelta(seconds=s)
        service.ingest([{"vehicle_id": "V1", "lat": DEPOT[0] - 0.005, "lng": DEPOT[1], "ts": at.isoformat()}], now=at)
        service.refresh(at)
    assert (len(service.lag_ms), service.skipped) == (3, 0)


def test_a_restarted_service_knows_what_was_announced_and_does_not_announce_it_again(db_url: str) -> None:
    """Announced ETAs live in memory for speed; a new service (restart) reads them back from storage."""
    from baton.execute.events import StopEtaChanged

    bus = bootstrap(db_url, travel=GreatCircleProvider())
    setup_day(bus)
    bus.handle(commands.StartRoute(at=T0, route_id="R1"))
    late = T0 + timedelta(minutes=20)  # standing at the depot for 20 min: every ETA moves by ~20 min

    def changed(service: ExecutionService, at: datetime) -> set[str]:
        service.ingest([{"vehicle_id": "V1", "lat": DEPOT[0], "lng": DEPOT[1], "accuracy_m": 5,
                         "ts": at.isoformat()}], now=at)
        service.tick(at)
        return {e.order_id for e in bus.uow.all_events() if isinstance(e, StopEtaChanged) and e.occurred_at == at}

    first = ExecutionService(bus)
    first.track_route("R1")
    assert changed(first, late) == {"o-1", "o-2", "o-3", "o-4"}
    again = ExecutionService(bus)  # same database, fresh memory
    again.track_route("R1")
    assert changed(again, late + timedelta(seconds=30)) == set()  # 30 s more: below the 120 s threshold
    assert changed(again, late + timedelta(minutes=5)) == {"o-1", "o-2", "o-3", "o-4"}
