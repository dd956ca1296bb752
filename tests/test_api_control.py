"""Control-tower API: draft plans and their publication (ETag / If-Match), the one exceptions queue
(order problems and execution exceptions) with its actions, live GPS positions on the dashboard."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from baton.entrypoints.api.features import positions_message
from baton.service_layer import commands
from test_api_support import Tenant, make_app, make_tenant, order_body, seed_fleet

World = tuple[FastAPI, TestClient, Tenant]


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    app = make_app(db_url, operator_org="acme")
    with TestClient(app) as client:
        acme = make_tenant(app, client, "acme")
        seed_fleet(client, acme.headers["admin"])
        rows = [order_body(f"o-{i}", -15.79 + 0.01 * i, -47.88) for i in range(4)]
        r = client.post("/api/v1/orders/batch", headers=acme.headers["admin"], json={"orders": rows})
        assert r.status_code == 200
        yield app, client, acme


def draft(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    r = client.post("/api/v1/plans", headers=headers,
                    json={"time_limit_s": 1, "publish": False, "day_start": "2026-03-02T00:00:00-03:00"})
    assert r.status_code == 201, r.text
    assert r.headers["ETag"]
    body: dict[str, Any] = r.json()
    return body


def test_a_draft_is_published_with_if_match_and_becomes_dispatch_ready(world: World) -> None:
    app, client, acme = world
    disp = acme.headers["dispatcher"]
    plan = draft(client, disp)
    assert plan["status"] == "draft" and plan["routes"]
    # a draft changes no order and is not watched
    assert {o["status"] for o in client.get("/api/v1/orders", headers=disp).json()["items"]} == {"created"}
    assert client.get("/api/v1/plans/current", headers=disp).status_code == 404
    assert client.get("/api/v1/routes", headers=disp).json() == []

    url = f"/api/v1/plans/{plan['id']}/publish"
    r = client.post(url, headers=disp)
    assert r.status_code == 428 and r.json()["errors"][0]["field"] == "If-Match"
    r = client.post(url, headers=disp | {"If-Match": '"stale"'})
    assert r.status_code == 412
    assert client.post(url, headers=acme.headers["viewer"] | {"If-Match": '"x"'}).status_code == 403
    tag = client.get(f"/api/v1/plans/{plan['id']}", headers=disp).headers["ETag"]
    r = client.post(url, headers=disp | {"If-Match": tag})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "current" and r.headers["ETag"] != tag
    orders = client.get("/api/v1/orders", headers=disp).json()["items"]
    assert {o["status"] for o in orders if o["route_id"]} == {"planned"}
    assert client.get("/api/v1/plans/current", headers=disp).json()["id"] == plan["id"]
    with app.state.ctx.uow("acme") as uow:
        names = [e.name for e in uow.events_for(plan["id"])]
    assert names == ["plan.drafted", "plan.published"]
    # publishing again is a no-op; the old tag is stale now
    assert client.post(url, headers=disp | {"If-Match": tag}).status_code == 412
    again = client.post(url, headers=disp | {"If-Match": r.headers["ETag"]})
    assert again.status_code == 200
    with app.state.ctx.uow("acme") as uow:
        assert [e.name for e in uow.events_for(plan["id"])] == ["plan.drafted", "plan.published"]
    # dispatch-ready: the route can be released
    route_id = plan["routes"][0]["id"]
    assert client.post(f"/api/v1/routes/{route_id}/dispatch", headers=disp).json()["status"] == "dispatched"


def test_a_stale_draft_is_refused_and_names_its_orders(world: World) -> None:
    _app, client, acme = world
    disp = acme.headers["dispatcher"]
    first = draft(client, disp)
    second = draft(client, disp)
    tag = client.get(f"/api/v1/plans/{second['id']}", headers=disp).headers["ETag"]
    assert client.post(f"/api/v1/plans/{second['id']}/publish", headers=disp | {"If-Match": tag}).status_code == 200
    tag = client.get(f"/api/v1/plans/{first['id']}", headers=disp).headers["ETag"]
    r = client.post(f"/api/v1/plans/{first['id']}/publish", headers=disp | {"If-Match": tag})
    assert r.status_code == 409 and "no longer open" in r.json()["detail"]
    listed = {p["id"]: p["status"] for p in client.get("/api/v1/plans", headers=disp).json()}
    assert listed == {first["id"]: "draft", second["id"]: "current"}


def test_one_queue_for_order_problems_and_execution_exceptions(world: World) -> None:
    app, client, acme = world
    disp = acme.headers["dispatcher"]
    r = client.post("/api/v1/plans", headers=disp, json={"time_limit_s": 1, "day_start": "2026-03-02T00:00:00-03:00"})
    route = r.json()["routes"][0]
    order_id = route["stops"][0]["order_id"]
    for step in ("dispatch", "start"):
        assert client.post(f"/api/v1/routes/{route['id']}/{step}", headers=disp).status_code == 200
    base = f"/api/v1/routes/{route['id']}/stops/{order_id}"
    assert client.post(f"{base}/arrive", headers=disp).status_code == 200
    assert client.post(f"{base}/fail", headers=disp, json={"reason": "not_home"}).status_code == 200
    bus = app.state.ctx.bus("acme")
    exc_id = bus.handle(commands.OpenException(at=datetime.now(UTC), kind="late_risk", subject=f"order:{order_id}",
                                               route_id=route["id"], vehicle_id=route["vehicle_id"],
                                               order_id=order_id, details={"reason": "ETA 40 min after window"}))
    failed_exc = bus.handle(commands.OpenException(at=datetime.now(UTC), kind="failed_attempt",
                                                   subject=f"order:{order_id}:failed", route_id=route["id"],
                                                   order_id=order_id))
    items = {x["id"]: x for x in client.get("/api/v1/exceptions", headers=acme.headers["viewer"]).json()}
    assert f"exc:{failed_exc}" not in items  # the same problem as the failed order: listed once
    assert items[f"order:{order_id}"]["exception_id"] == f"exc:{failed_exc}"
    order_item, exec_item = items[f"order:{order_id}"], items[f"exc:{exc_id}"]
    assert order_item["source"] == "order" and order_item["reason"] == "not_home"
    assert order_item["actions"] == ["reattempt", "reassign", "notify"]
    assert exec_item["source"] == "execution" and exec_item["kind"] == "late_risk"
    assert exec_item["actions"] == ["acknowledge", "resolve", "notify"]
    assert exec_item["customer"] == f"Customer {order_id}"

    act = "/api/v1/exceptions/{}/{}"
    assert client.post(act.format(f"exc:{exc_id}", "reattempt"), headers=disp).status_code == 409
    assert client.post(act.format(f"exc:{exc_id}", "acknowledge"), headers=acme.headers["viewer"]).status_code == 403
    r = client.post(act.format(f"exc:{exc_id}", "acknowledge"), headers=disp, json={"note": "on it"})
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    r = client.post(act.format(f"exc:{exc_id}", "resolve"), headers=disp)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "note"
    r = client.post(act.format(f"exc:{exc_id}", "notify"), headers=disp)
    assert r.status_code == 200
    r = client.post(act.format(f"exc:{exc_id}", "resolve"), headers=disp, json={"note": "customer agreed"})
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    r = client.post(act.format(f"order:{order_id}", "notify"), headers=disp, json={"note": "we come back tomorrow"})
    assert r.status_code == 200 and r.json()["status"] == "failed_attempt"
    r = client.post(act.format(f"order:{order_id}", "reattempt"), headers=disp)
    assert r.status_code == 200 and r.json()["status"] == "reattempt"
    assert client.post(act.format("exc:nope", "acknowledge"), headers=disp).status_code == 404

    items = {x["id"]: x for x in client.get("/api/v1/exceptions", headers=disp).json()}
    assert f"exc:{exc_id}" not in items  # resolved
    with app.state.ctx.uow("acme") as uow:
        from baton.execute.records import ExecutionRecords

        record = ExecutionRecords(uow.session, "acme").get_exception(str(failed_exc))
    assert record is not None and record.status == "resolved"  # closed by the reattempt
    assert items[f"order:{order_id}"]["kind"] == "unassigned"  # waiting for a plan after the reattempt
    with app.state.ctx.uow("acme") as uow:
        events = [(e.name, e.actor) for e in uow.all_events() if e.aggregate_id in (order_id, exc_id)]
    user = "user:" + client.get("/api/v1/auth/me", headers=disp).json()["id"]
    for name in ("exception.acknowledged", "exception.resolved", "order.notification_requested"):
        assert (name, user) in events, name
    # the dashboard shows the same queue
    dash = client.get("/api/v1/dashboard", headers=disp).json()
    assert [x["id"] for x in dash["exceptions"]] == list(items)


def test_gps_fixes_move_the_vehicle_and_are_published_live(world: World) -> None:
    app, client, acme = world
    disp = acme.headers["dispatcher"]
    route = client.post("/api/v1/plans", headers=disp, json={"time_limit_s": 1}).json()["routes"][0]
    client.post(f"/api/v1/routes/{route['id']}/dispatch", headers=disp)
    client.post(f"/api/v1/routes/{route['id']}/start", headers=disp)
    before = client.get("/api/v1/dashboard", headers=disp).json()
    assert before["routes"][0]["position"]["state"] == "at_depot"
    published: list[dict[str, Any]] = []
    pubsub = app.state.ctx.pubsub
    original = pubsub.publish
    pubsub.publish = lambda channel, message: (published.append(message), original(channel, message))
    now = datetime.now(UTC).isoformat()
    ping = {"device_id": "phone-1", "vehicle_id": route["vehicle_id"], "ts": now, "lat": -15.70, "lng": -47.85,
            "accuracy_m": 8}
    r = client.post("/api/v1/execution/positions", headers=disp, json={"pings": [ping]})
    assert r.status_code == 202 and r.json()["accepted"] == 1
    position = client.get("/api/v1/dashboard", headers=disp).json()["routes"][0]["position"]
    assert (position["state"], position["lat"], position["lng"]) == ("gps", -15.70, -47.85)
    live = [m for m in published if m["name"] == "vehicle.positions"]
    assert live and live[0]["payload"]["vehicles"][0]["vehicle_id"] == route["vehicle_id"]
    fleet = client.get("/api/v1/dashboard", headers=disp).json()["fleet"]
    assert fleet[0]["last_fix"] is not None
    assert positions_message([], "acme") is None
