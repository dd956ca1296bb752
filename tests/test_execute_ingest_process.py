"""The pipelined ingest path: group commit, latest-position checkpoints, and the ingest worker process
(validation and storage in a child process, observation in the tracker's), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from baton.adapters.repository.positions import PositionRepository
from baton.adapters.travel.greatcircle import GreatCircleProvider
from baton.execute.latest import LatestCheckpoints
from baton.execute.pings import BatchError, Ping
from baton.execute.runtime import ExecutionRuntime
from baton.execute.service import ExecutionService
from baton.execute.writer import GroupWriter
from baton.service_layer import commands
from baton.service_layer.bootstrap import bootstrap
from execute_helpers import setup_day


def test_group_writer_writes_concurrent_items_together_and_answers_each() -> None:
    calls: list[list[int]] = []
    gate = threading.Event()

    def write(items: list[int]) -> list[int]:
        calls.append(items)
        gate.wait(2)  # the first write is slow: the others queue behind it
        return [i * 10 for i in items]

    writer: GroupWriter[int, int] = GroupWriter(write, max_group=8)
    results: dict[int, int] = {}
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, writer.submit(i))) for i in range(6)]
    threads[0].start()
    time.sleep(0.1)
    for t in threads[1:]:
        t.start()
    time.sleep(0.1)
    gate.set()
    for t in threads:
        t.join(5)
    assert results == {i: i * 10 for i in range(6)}
    assert calls[0] == [0] and sorted(i for c in calls[1:] for i in c) == [1, 2, 3, 4, 5]
    assert len(calls) == 2  # the five that waited went in one group


def test_group_writer_failure_reaches_every_caller_of_the_group() -> None:
    def write(items: list[int]) -> list[int]:
        raise OSError("disk full")

    writer: GroupWriter[int, int] = GroupWriter(write)
    with pytest.raises(OSError, match="disk full"):
        writer.submit_many([1, 2])
    with pytest.raises(ValueError):
        GroupWriter(write, max_group=0)


def _ping(vehicle: str, ts: datetime, lat: float = -15.7) -> Ping:
    return Ping(vehicle, vehicle, ts, lat, -47.9, 5.0, None, None)


def test_latest_checkpoints_move_a_vehicle_at_most_once_per_interval_and_keep_the_newest() -> None:
    t0 = datetime(2026, 3, 2, 11, tzinfo=UTC)
    cp = LatestCheckpoints()
    first = cp.due([([_ping("V1", t0)], t0)], now=100.0, every_s=1.0)
    assert [p.ts for p, _ in first] == [t0]
    cp.written(first, 100.0)
    assert cp.pending == 0
    newer = t0 + timedelta(seconds=1)
    assert cp.due([([_ping("V1", newer), _ping("V1", t0)], newer)], now=100.5, every_s=1.0) == []
    assert cp.pending == 1  # parked: the newest of the batch
    due = cp.due([], now=101.0, every_s=1.0)  # the interval elapsed: a flush writes it
    assert [p.ts for p, _ in due] == [newer]
    cp.written(due, 101.0)
    assert cp.pending == 0
    cp.due([([_ping("V2", t0)], t0)], now=102.0, every_s=1.0)
    cp.discard([([_ping("V9", t0)], t0)])  # another batch's failure leaves V2 parked
    assert cp.pending == 1


def test_the_ingest_process_validates_and_stores_and_the_tracker_observes(db_url: str) -> None:
    bus = bootstrap(db_url, travel=GreatCircleProvider())
    setup_day(bus)
    now = datetime.now(UTC)
    bus.handle(commands.StartRoute(at=now - timedelta(minutes=2), route_id="R1"))
    service = ExecutionService(bus)
    service.track_route("R1")
    runtime = ExecutionRuntime(service, ingest_process=True)
    try:
        pings = [{"vehicle_id": "V1", "lat": -15.705, "lng": -47.9, "accuracy_m": 5,
                  "ts": (now - timedelta(seconds=s)).isoformat()} for s in (20, 10)]
        bad = {"vehicle_id": "V1", "lat": 91, "lng": -47.9, "ts": now.isoformat()}
        result = runtime.ingest_body(json.dumps({"pings": [*pings, bad]}).encode())
        assert (result.accepted, result.duplicates) == (2, 0)
        assert [(r.index, r.reason) for r in result.rejected] == [(2, "lat_out_of_range")]
        assert service.vehicles["V1"].last_fix is not None  # observed in this process
        assert service.vehicles["V1"].last_fix[0] == datetime.fromisoformat(pings[1]["ts"])
        again = runtime.ingest([pings[0], {**pings[0], "ts": now.isoformat(), "lat": -15.706}])
        assert (again.accepted, again.duplicates) == (1, 1)  # re-sent pings are not stored twice
        teleport = runtime.ingest([{"vehicle_id": "V1", "lat": -14.0, "lng": -47.9,
                                    "ts": (now + timedelta(seconds=1)).isoformat()}])
        assert [r.reason for r in teleport.rejected] == ["teleport"]  # the child's references advanced
        with pytest.raises(BatchError) as not_json:
            runtime.ingest_body(b"{not json")
        assert not_json.value.status == 422
        with pytest.raises(BatchError) as too_many:
            runtime.ingest_body(json.dumps([pings[0]] * 5001).encode())
        assert too_many.value.status == 413
        with bus.uow as uow:  # the stored latest position is checkpointed; a single-vehicle read is exact
            assert uow.session is not None
            assert PositionRepository(uow.session, uow.org_id).newest("V1").lat == -15.706  # type: ignore[union-attr]
        runtime.stop()  # the child flushes and stops; what it stored is there
        with bus.uow as uow:
            assert uow.session is not None
            repo = PositionRepository(uow.session, uow.org_id)
            assert repo.count_pings() == 3
            assert repo.latest(["V1"])["V1"].lat == -15.706
            assert repo.rejection_counts() == {"lat_out_of_range": 1, "teleport": 1}
        assert runtime.stats()["accepted"] == 3
    finally:
        runtime.stop()
