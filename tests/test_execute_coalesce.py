"""ETA recomputation threshold: a van with new pings is recomputed only when it moved at least
``recompute_min_move_m`` or its last computation is ``recompute_max_age_s`` old; ``tick`` always recomputes."""

from __future__ import annotations

from datetime import timedelta

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
    service = ExecutionService(bus, ExecutionSettings(eta=replace(EtaSettings(), recompute_min_move_m=0)))
    bus.handle(commands.StartRoute(at=T0, route_id="R1"))
    for s in (60, 61, 62):
        at = T0 + timedelta(seconds=s)
        service.ingest([{"vehicle_id": "V1", "lat": DEPOT[0] - 0.005, "lng": DEPOT[1], "ts": at.isoformat()}], now=at)
        service.refresh(at)
    assert (len(service.lag_ms), service.skipped) == (3, 0)
