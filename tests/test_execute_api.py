"""The execution HTTP router in a minimal FastAPI app, on SQLite and PostgreSQL: batch ingest with
reasons, latest position and trail, ETAs, exceptions acknowledged and resolved over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from baton.adapters.travel.greatcircle import GreatCircleProvider
from baton.entrypoints.api_execute import install
from baton.execute.pings import MAX_BATCH
from baton.execute.runtime import ExecutionRuntime
from baton.service_layer import commands
from baton.service_layer.bootstrap import bootstrap
from execute_helpers import setup_day


@pytest.fixture
def client(db_url: str) -> Iterator[tuple[TestClient, ExecutionRuntime]]:
    bus = bootstrap(db_url, travel=GreatCircleProvider())
    setup_day(bus)
    app = FastAPI()
    runtime = install(app, bus, start=False)
    with TestClient(app) as c:
        yield c, runtime


def test_ingest_positions_etas_and_exceptions_over_http(client: tuple[TestClient, ExecutionRuntime]) -> None:
    c, runtime = client
    now = datetime.now(UTC)
    runtime.service.bus.handle(commands.StartRoute(at=now - timedelta(minutes=2), route_id="R1"))
    pings = [{"vehicle_id": "V1", "device_id": "phone-1", "lat": -15.705, "lng": -47.9, "accuracy_m": 5,
              "ts": (now - timedelta(seconds=s)).isoformat()} for s in (20, 10)]
    bad = {"vehicle_id": "V1", "lat": 91, "lng": -47.9, "ts": now.isoformat()}
    r = c.post("/positions", json={"pings": [*pings, bad]})
    assert r.status_code == 202
    assert r.json() == {"accepted": 2, "duplicates": 0,
                        "rejected": [{"index": 2, "reason": "lat_out_of_range", "field": "lat",
                                      "detail": r.json()["rejected"][0]["detail"]}]}
    assert c.post("/positions", json=pings[0]).json()["duplicates"] == 1  # a single ping, re-sent
    assert c.post("/positions", json=[{"lat": 1}] * (MAX_BATCH + 1)).status_code == 413
    assert c.post("/positions", json="nope").status_code == 422

    pos = c.get("/vehicles/V1/position").json()
    assert pos["lat"] == -15.705 and pos["device_id"] == "phone-1"
    assert c.get("/vehicles/V9/position").status_code == 404
    assert len(c.get("/vehicles/V1/trail").json()) == 2
    assert c.get("/vehicles/V1/trail", params={"since": "2026-03-02T08:00:00"}).status_code == 422

    runtime.refresh_now()  # what the background refresher does every 200 ms
    etas = c.get("/routes/R1/etas").json()
    assert [e["order_id"] for e in etas] == ["o-1", "o-2", "o-3", "o-4"]
    assert all(datetime.fromisoformat(e["eta"]) > now - timedelta(minutes=1) for e in etas)
    stats = c.get("/stats").json()
    assert stats["accepted"] == 2 and stats["rejected"] == 1 and stats["eta_updates"] >= 1

    # the plan said 08:05 on 2 March 2026: that is long gone, so every stop is at risk
    [late] = c.get("/exceptions", params={"kind": "late_risk"}).json()
    assert late["status"] == "open" and late["route_id"] == "R1"
    ack = c.post(f"/exceptions/{late['id']}/acknowledge", json={"actor": "user:ana", "note": "on it"})
    assert ack.status_code == 200 and ack.json()["acknowledged_by"] == "user:ana"
    done = c.post(f"/exceptions/{late['id']}/resolve", json={"actor": "user:ana", "resolution": "called all"})
    assert done.json()["status"] == "resolved"
    assert [a["action"] for a in done.json()["actions"]][-2:] == ["acknowledge", "resolve"]
    assert c.post("/exceptions/exc-nope/acknowledge", json={"actor": "user:ana"}).status_code == 404
    assert c.post(f"/exceptions/{late['id']}/resolve", json={"actor": "ana", "resolution": "x"}).status_code == 422
