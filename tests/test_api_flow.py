"""A day over HTTP: fleet → orders → plan → dispatch → drive → deliver/fail → exceptions → KPIs,
with every committed event published live on the organisation's channel."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from baton.adapters.pubsub import InProcessPubSub, PubSub, RedisPubSub
from test_api_support import Tenant, make_app, make_tenant, seed_day


@pytest.fixture
def api(db_url: str) -> Iterator[tuple[TestClient, Tenant, list[dict[str, Any]]]]:
    app = make_app(db_url)
    published: list[dict[str, Any]] = []
    real = app.state.ctx.pubsub

    class Recording(InProcessPubSub):
        def publish(self, channel: str, message: dict[str, Any]) -> None:
            published.append({"channel": channel} | message)
            real.publish(channel, message)

    app.state.ctx.pubsub = Recording()
    with TestClient(app) as client:
        yield client, make_tenant(app, client, "acme"), published


def test_a_day_through_the_api(api: tuple[TestClient, Tenant, list[dict[str, Any]]]) -> None:
    client, t, published = api
    admin, driver = t.headers["admin"], t.headers["driver"]
    plan = seed_day(client, admin, orders=5)
    assert plan["unassigned"] == [] and len(plan["routes"]) == 1
    route = plan["routes"][0]
    rid, stops = route["id"], [s["order_id"] for s in route["stops"] if s["order_id"]]
    assert client.get(f"/api/v1/plans/{plan['id']}", headers=t.headers["viewer"]).json()["id"] == plan["id"]
    assert client.get("/api/v1/plans/current", headers=admin).json()["id"] == plan["id"]
    assert client.post(f"/api/v1/routes/{rid}/dispatch", headers=admin).json()["status"] == "dispatched"
    assert client.post(f"/api/v1/routes/{rid}/start", headers=driver).json()["status"] == "in_progress"
    for order_id in stops[:3]:
        r = client.post(f"/api/v1/routes/{rid}/stops/{order_id}/arrive", headers=driver, json={"leg_distance_m": 900})
        assert r.status_code == 200
        r = client.post(f"/api/v1/routes/{rid}/stops/{order_id}/deliver", headers=driver, json={"recipient": "Ana"})
        assert r.status_code == 200
    failed = stops[3]
    client.post(f"/api/v1/routes/{rid}/stops/{failed}/arrive", headers=driver)
    r = client.post(f"/api/v1/routes/{rid}/stops/{failed}/fail", headers=driver, json={"reason": "not_home"})
    assert r.status_code == 200
    r = client.post(f"/api/v1/routes/{rid}/stops/{failed}/fail", headers=driver, json={})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    assert client.post(f"/api/v1/routes/{rid}/stops/not-there/arrive", headers=driver).status_code == 404

    dash = client.get("/api/v1/dashboard", headers=admin).json()
    moving = dash["routes"][0]["position"]
    assert moving["state"] == "left_stop" and moving["order_id"] == failed
    assert dash["fleet"][0]["status"] == "in_progress" and dash["fleet"][0]["utilisation_pct"] > 0
    kpis = client.get("/api/v1/kpis", headers=t.headers["viewer"]).json()
    assert kpis["delivered"] == 3 and kpis["orders"] == 5
    exceptions = client.get("/api/v1/exceptions", headers=admin).json()
    assert [(x["order_id"], x["kind"], x["reason"]) for x in exceptions] == [(failed, "failed_attempt", "not_home")]

    r = client.post(f"/api/v1/exceptions/{failed}/reattempt", headers=t.headers["dispatcher"])
    assert r.status_code == 200 and r.json()["status"] == "reattempt"
    assert client.get("/api/v1/exceptions", headers=admin).json()[0]["kind"] == "unassigned"
    r = client.post(f"/api/v1/exceptions/{failed}/reassign", headers=t.headers["dispatcher"])
    assert r.status_code == 200 and r.json()["status"] == "planned" and r.json()["route_id"]
    assert client.get("/api/v1/exceptions", headers=admin).json() == []
    r = client.post(f"/api/v1/exceptions/{stops[0]}/reattempt", headers=admin)
    assert r.status_code == 409

    r = client.post(f"/api/v1/routes/{rid}/complete", headers=driver)
    assert r.json()["status"] == "completed"
    names = [m["name"] for m in published]
    assert {"order.created", "plan.created", "route.dispatched", "route.started", "stop.arrived", "stop.departed",
            "order.status_changed", "route.completed"} <= set(names)
    assert {m["channel"] for m in published} == {"baton:events:acme"}
    stored = client.get("/api/v1/events?limit=1000", headers=admin).json()
    assert len(stored) == len(published)


def _roundtrip(pubsub: PubSub, channel: str) -> list[dict[str, Any] | None]:
    async def main() -> list[dict[str, Any] | None]:
        async with pubsub.subscribe(channel) as a, pubsub.subscribe(channel) as b:
            await asyncio.sleep(0.2)
            await asyncio.to_thread(pubsub.publish, channel, {"name": "order.created", "n": 1})
            return [await a.get(5.0), await b.get(5.0), await a.get(0.2)]

    return asyncio.run(main())


def test_in_process_pubsub_fans_out_to_every_subscriber() -> None:
    assert _roundtrip(InProcessPubSub(), "c") == [{"name": "order.created", "n": 1}] * 2 + [None]


def test_redis_pubsub_fans_out_across_connections() -> None:
    import uuid

    from services import redis_url

    url = redis_url()
    publisher, subscriber = RedisPubSub(url, strict=True), RedisPubSub(url, strict=True)
    channel = f"baton:test:{uuid.uuid4().hex}"

    async def main() -> list[dict[str, Any] | None]:
        async with subscriber.subscribe(channel) as sub:
            await asyncio.sleep(0.2)
            await asyncio.to_thread(publisher.publish, channel, {"name": "stop.arrived"})
            return [await sub.get(5.0), await sub.get(0.2)]

    try:
        assert asyncio.run(main()) == [{"name": "stop.arrived"}, None]
    finally:
        publisher.close()
        subscriber.close()
