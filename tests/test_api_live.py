"""Live orchestration over HTTP: start the day, then new orders, traffic, a cancellation from the
orders endpoint and a driver who does not show up are repaired by Baton itself (one live board per
organisation, fed by every bus of the API)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from test_api_support import Tenant, make_app, make_tenant, order_body, seed_today

TZ = ZoneInfo("America/Sao_Paulo")


@pytest.fixture
def api(db_url: str) -> Iterator[tuple[TestClient, Tenant]]:
    app = make_app(db_url)
    with TestClient(app) as client:
        yield client, make_tenant(app, client, "acme")


def _stops(client: TestClient, headers: dict[str, str], route_id: str) -> list[dict[str, Any]]:
    r = client.get(f"/api/v1/routes/{route_id}", headers=headers)
    assert r.status_code == 200, r.text
    return [s for s in r.json()["stops"] if s["order_id"]]


def _etas(client: TestClient, headers: dict[str, str], route_id: str, done: Callable[[set[str]], bool],
          timeout_s: float = 20.0) -> set[str]:
    """The orders of ``route_id`` with a stored ETA once ``done(them)`` (execution's refresher runs
    every 0.2 s), or what there is after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = {e["order_id"] for e in client.get(f"/api/v1/execution/routes/{route_id}/etas", headers=headers).json()}
        if done(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def test_the_day_is_repaired_live_through_the_api(api: tuple[TestClient, Tenant]) -> None:
    client, t = api
    admin, dispatcher = t.headers["admin"], t.headers["dispatcher"]
    plan, now = seed_today(client, admin)
    assert plan["unassigned"] == [] and len(plan["routes"]) == 2
    assert client.get("/api/v1/live", headers=t.headers["viewer"]).json()["active"] is False
    span = {"start": now.isoformat(), "end": (now + timedelta(hours=4)).isoformat()}
    r = client.post("/api/v1/live/traffic", headers=dispatcher, json={"factor": 2.0, **span})
    assert r.status_code == 409 and "live/start" in r.json()["detail"]
    assert client.post("/api/v1/live/start", headers=t.headers["viewer"]).status_code == 403

    r = client.post("/api/v1/live/start", headers=dispatcher)
    assert r.status_code == 200, r.text
    assert r.json()["active"] and r.json()["plan_id"] == plan["id"] and r.json()["routes"] == 2

    # an order placed during the day goes into a route, stored with its stop
    r = client.post("/api/v1/live/orders", headers=dispatcher,
                    json=order_body("late-1", -15.791, -47.881, time_windows=[
                        {"start": (now + timedelta(hours=2)).isoformat(),
                         "end": (now + timedelta(hours=8)).isoformat()}]))
    assert r.status_code == 201, r.text
    rid = r.json()["route_id"]
    assert rid and r.json()["reason"] is None
    assert "late-1" in [s["order_id"] for s in _stops(client, admin, rid)]
    assert client.get("/api/v1/orders/late-1", headers=admin).json()["route_id"] == rid

    # one no route can serve (its window is over) is left unassigned with the reason, in the dispatcher's
    # queue; reassigning it asks the live board again instead of making a new plan
    r = client.post("/api/v1/live/orders", headers=dispatcher,
                    json=order_body("too-late", -15.791, -47.881, time_windows=[
                        {"start": (now - timedelta(hours=3)).isoformat(),
                         "end": (now - timedelta(hours=2)).isoformat()}]))
    assert r.status_code == 201 and r.json()["route_id"] is None and r.json()["reason"], r.text
    queue = {x["order_id"]: x for x in client.get("/api/v1/exceptions", headers=admin).json()}
    assert queue["too-late"]["kind"] == "unassigned" and queue["too-late"]["reason"] == r.json()["reason"]
    r = client.post("/api/v1/exceptions/too-late/reassign", headers=dispatcher)
    assert r.status_code == 200 and r.json()["status"] == "created" and r.json()["reason"], r.text
    assert client.get("/api/v1/plans/current", headers=admin).json()["id"] == plan["id"]

    # city-wide traffic: the routes' ETAs move later
    before = {s["order_id"]: s["planned_arrival"] for s in _stops(client, admin, rid)}
    r = client.post("/api/v1/live/traffic", headers=dispatcher, json={"factor": 2.0, **span})
    assert r.status_code == 200, r.text
    assert rid in r.json()["changed_routes"]
    after = {s["order_id"]: s["planned_arrival"] for s in _stops(client, admin, rid)}
    assert set(after) == set(before)
    assert all(datetime.fromisoformat(after[o]) >= datetime.fromisoformat(before[o]) for o in before)
    assert any(datetime.fromisoformat(after[o]) > datetime.fromisoformat(before[o]) for o in before)
    r = client.post("/api/v1/live/traffic", headers=dispatcher, json={"factor": 0, **span})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "factor"

    # the driver's own endpoints reach the board too: the van leaves and delivers its first stop,
    # and Baton re-times the rest of its route from there
    for step in ("dispatch", "start"):
        assert client.post(f"/api/v1/routes/{rid}/{step}", headers=admin).status_code == 200
    first = _stops(client, admin, rid)[0]["order_id"]
    assert client.post(f"/api/v1/routes/{rid}/stops/{first}/arrive", headers=admin).status_code == 200
    r = client.post(f"/api/v1/routes/{rid}/stops/{first}/deliver", headers=admin, json={"recipient": "Ana"})
    assert r.status_code == 200, r.text
    events = client.get("/api/v1/events", headers=admin, params={"limit": 1000}).json()
    assert any(e["name"] == "live.route_replanned" and e["aggregate_id"] == rid
               and e["payload"]["cause"] == "stop.departed" and first not in e["payload"]["order_ids"]
               for e in events)
    done = _stops(client, admin, rid)[0]
    assert done["order_id"] == first and done["actual_departure"]
    van = client.get(f"/api/v1/routes/{rid}", headers=admin).json()["vehicle_id"]
    ping = {"vehicle_id": van, "device_id": "phone", "lat": -15.79, "lng": -47.88, "accuracy_m": 5,
            "ts": datetime.now(TZ).isoformat()}
    r = client.post("/api/v1/execution/positions", headers=admin, json=ping)
    assert r.status_code == 202 and r.json()["accepted"] == 1, r.text
    assert _etas(client, admin, rid, lambda got: bool(got)), "no ETA from the van's fix"

    # a cancellation through the orders endpoint reaches the live board: the stop leaves its route
    gone = next(o for o in before if o not in ("late-1", first))
    r = client.post(f"/api/v1/orders/{gone}/cancel", headers=dispatcher, json={"reason": "customer"})
    assert r.status_code == 200, r.text
    assert gone not in [s["order_id"] for s in _stops(client, admin, rid)]

    # the other van's driver does not show up: nothing was loaded, every stop goes elsewhere or is
    # left unassigned with a reason
    other = next(r["id"] for r in plan["routes"] if r["id"] != rid)
    stranded = [s["order_id"] for s in _stops(client, admin, other)]
    assert stranded
    r = client.post(f"/api/v1/live/routes/{other}/breakdown", headers=dispatcher, json={"reason": "driver_unavailable"})
    assert r.status_code == 200, r.text
    moved, left = r.json()["moved"], r.json()["unassigned"]
    assert set(moved) | set(left) == set(stranded) and moved
    assert _stops(client, admin, other) == []
    for o in moved:
        route_id = client.get(f"/api/v1/orders/{o}", headers=admin).json()["route_id"]
        assert route_id != other and o in [s["order_id"] for s in _stops(client, admin, route_id)]
    queue = {x["order_id"]: x for x in client.get("/api/v1/exceptions", headers=admin).json()}
    for o in left:  # not loaded yet: back among the open orders, in the dispatcher's queue (tests/test_live_runtime.py)
        order = client.get(f"/api/v1/orders/{o}", headers=admin).json()
        assert order["status"] == "created" and order["route_id"] is None
        assert queue[o]["kind"] == "unassigned" and queue[o]["reason"].startswith("driver_unavailable: ")
        assert "reassign" in queue[o]["actions"]
    status = client.get("/api/v1/live", headers=admin).json()
    assert {u["order_id"] for u in status["unassigned"]} >= set(left) and status["closed_routes"] == [other]
    events = client.get("/api/v1/events", headers=admin, params={"limit": 1000}).json()
    (broke,) = [e for e in events if e["name"] == "live.vehicle_broke_down"]
    assert broke["payload"]["reason"] == "driver_unavailable" and broke["payload"]["transferred"] == []
    assert {"live.route_replanned", "live.traffic_reported"} <= {e["name"] for e in events}
    # execution follows the re-planned route: the moved orders get ETAs from the van's position
    etas = _etas(client, admin, rid, lambda got: set(moved) <= got)
    assert set(moved) <= etas and gone not in etas
    r = client.post("/api/v1/live/routes/nope/breakdown", headers=dispatcher, json={})
    assert r.status_code == 404


def test_live_orchestration_refuses_a_server_of_several_processes(api: tuple[TestClient, Tenant],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    client, t = api
    seed_today(client, t.headers["admin"])
    monkeypatch.setenv("BATON_SERVER_WORKERS", "3")
    r = client.post("/api/v1/live/start", headers=t.headers["dispatcher"])
    assert r.status_code == 409 and "--workers 1" in r.json()["detail"]
    monkeypatch.setenv("BATON_SERVER_WORKERS", "1")
    assert client.post("/api/v1/live/start", headers=t.headers["dispatcher"]).json()["active"] is True
