"""Ping ingestion on SQLite and PostgreSQL: validation with reasons, idempotency on (device, ts),
out-of-order batches, latest position never rewinds, rejected pings counted, trail retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from baton.adapters.repository.positions import PositionRepository
from baton.adapters.travel.greatcircle import GreatCircleProvider
from baton.execute.pings import PingSettings, validate_batch
from baton.execute.service import ExecutionService
from baton.service_layer import commands
from baton.service_layer.bootstrap import bootstrap
from baton.service_layer.unit_of_work import SqlAlchemyUnitOfWork

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def ping(vehicle: str = "V9", seconds: int = 0, lat: float = -15.79, lng: float = -47.88,
         **extra: Any) -> dict[str, Any]:
    return {"vehicle_id": vehicle, "lat": lat, "lng": lng, "accuracy_m": 10.0,
            "ts": (NOW + timedelta(seconds=seconds)).isoformat(), **extra}


def test_bad_pings_are_rejected_with_reasons_and_counted(db_url: str) -> None:
    bus = bootstrap(db_url, travel=GreatCircleProvider())
    execution = ExecutionService(bus)
    batch: list[object] = [
        ping(seconds=-60),
        ping(lat=91.0),                                     # impossible latitude
        ping(lng=-181.0),
        ping(seconds=3600),                                 # from the future
        ping(seconds=-30, lat=-15.30),                      # 54 km in 30 s: teleport
        {"vehicle_id": "V9", "lat": -15.79, "lng": -47.88, "ts": "2026-03-02T11:59:00"},  # no offset
        {"lat": -15.79, "lng": -47.88, "ts": NOW.isoformat()},                           # no vehicle
        ping(seconds=-10, heading_deg=400.0),
        ping(seconds=-5, accuracy_m=5000.0),
        "not a ping",
    ]
    result = execution.ingest(batch, now=NOW)
    assert result.accepted == 1
    reasons = {r.index: (r.reason, r.field) for r in result.rejected}
    assert reasons == {
        1: ("lat_out_of_range", "lat"), 2: ("lng_out_of_range", "lng"), 3: ("future_timestamp", "ts"),
        4: ("teleport", "lat"), 5: ("ts_without_offset", "ts"), 6: ("vehicle_id_missing", "vehicle_id"),
        7: ("heading_deg_out_of_range", "heading_deg"), 8: ("accuracy_too_low", "accuracy_m"),
        9: ("invalid_ping", None),
    }
    # a teleport against the *stored* position, in a later batch, is caught too
    later = execution.ingest([ping(seconds=-20, lat=-16.5)], now=NOW)
    assert [r.reason for r in later.rejected] == ["teleport"]
    uow = bus.uow
    assert isinstance(uow, SqlAlchemyUnitOfWork)
    with uow:
        repo = PositionRepository(uow.session, uow.org_id)  # type: ignore[arg-type]
        counts = repo.rejection_counts()
        assert counts["teleport"] == 2 and counts["lat_out_of_range"] == 1 and sum(counts.values()) == 10
        assert [p.lat for p in repo.trail("V9")] == [-15.79]  # nothing refused became a position


def test_ingest_is_idempotent_and_out_of_order_tolerant(db_url: str) -> None:
    bus = bootstrap(db_url, travel=GreatCircleProvider())
    execution = ExecutionService(bus)
    first = execution.ingest([ping(seconds=-30, lat=-15.7900), ping(seconds=-10, lat=-15.7910),
                              ping(vehicle="V8", seconds=-10)], now=NOW)
    assert (first.accepted, first.duplicates) == (3, 0)
    again = execution.ingest([ping(seconds=-10, lat=-15.7910), ping(seconds=-10, lat=-15.7910),
                              ping(seconds=-20, lat=-15.7905)], now=NOW)  # retry + an older ping arriving late
    assert (again.accepted, again.duplicates, again.rejected) == (1, 2, [])
    uow = bus.uow
    assert isinstance(uow, SqlAlchemyUnitOfWork)
    with uow:
        repo = PositionRepository(uow.session, uow.org_id)  # type: ignore[arg-type]
        trail = repo.trail("V9")
        assert [p.ts for p in trail] == [NOW - timedelta(seconds=s) for s in (30, 20, 10)]
        latest = repo.latest(["V9", "V8", "nobody"])
        assert set(latest) == {"V9", "V8"}
        assert latest["V9"].ts == NOW - timedelta(seconds=10) and latest["V9"].lat == -15.7910  # not rewound
    events = [e.name for e in uow.all_events()]
    assert events == []  # positions are data, not domain events


def test_trail_retention_prunes_old_points_only(db_url: str) -> None:
    bus = bootstrap(db_url, travel=GreatCircleProvider())
    execution = ExecutionService(bus)
    execution.ingest([ping(seconds=-3000), ping(seconds=-2000, lat=-15.791), ping(seconds=-10, lat=-15.792)],
                     now=NOW)
    assert execution.prune_trail(now=NOW + timedelta(days=7, seconds=-1500)) == 2
    uow = bus.uow
    assert isinstance(uow, SqlAlchemyUnitOfWork)
    with uow:
        repo = PositionRepository(uow.session, uow.org_id)  # type: ignore[arg-type]
        assert len(repo.trail("V9")) == 1 and repo.latest()["V9"].lat == -15.792


def test_batch_validation_is_pure_and_orders_by_time() -> None:
    raw = [ping(seconds=-10, lat=-15.7910), ping(seconds=-30), ping(seconds=-20, lat=-15.7905)]
    checked = validate_batch(raw, NOW, {}, PingSettings())
    assert [p.ts for p in checked.accepted] == sorted(p.ts for p in checked.accepted)
    assert checked.rejected == [] and checked.duplicates == 0


def test_record_positions_command_through_the_bus(db_url: str) -> None:
    bus = bootstrap(db_url, travel=GreatCircleProvider())
    first = validate_batch([ping(), ping(lat=95.0)], NOW, {}, PingSettings())
    again = validate_batch([ping(), ping(seconds=-5, lat=-15.7901)], NOW, {}, PingSettings())
    # two batches in one transaction: the second re-sends the first's ping, which is not new
    assert bus.handle(commands.RecordPositions(at=NOW, batches=[(first, NOW), (again, NOW)])) == [1, 1]
    assert first.rejected[0].reason == "lat_out_of_range"
    with bus.uow as uow:
        assert uow.session is not None
        repo = PositionRepository(uow.session, uow.org_id)
        assert repo.count_pings() == 2 and repo.rejection_counts() == {"lat_out_of_range": 1}
