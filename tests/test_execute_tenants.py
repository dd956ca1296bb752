"""Per-tenant execution runtimes over the real API: two organisations, each with a van called ``van-1``,
post pings for their own van and both get ETAs; neither sees the other's positions, ETAs or exceptions.
Also with the pings stored by one ingest process per organisation (``baton serve --ingest-process``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from baton.execute.runtime import TenantRuntimes
from test_api_support import Tenant, make_app, make_tenant, order_body, seed_fleet


@pytest.fixture(params=[False, True], ids=["in-process", "ingest-process"])
def two_orgs(db_url: str, request: pytest.FixtureRequest) -> Iterator[tuple[FastAPI, TestClient, Tenant, Tenant]]:
    app = make_app(db_url, operator_org="acme", ingest_process=request.param)
    with TestClient(app) as client:
        tenants = []
        for org_id, lat in (("acme", -15.79), ("beta", -15.80)):
            tenant = make_tenant(app, client, org_id)
            seed_fleet(client, tenant.headers["admin"])
            rows = [order_body(f"o-{i}", lat + 0.01 * i, -47.88) for i in range(3)]
            assert client.post("/api/v1/orders/batch", headers=tenant.headers["admin"],
                               json={"orders": rows}).status_code == 200
            tenants.append(tenant)
        yield app, client, tenants[0], tenants[1]


def _start_route(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    route: dict[str, Any] = client.post("/api/v1/plans", headers=headers, json={"time_limit_s": 1}).json()["routes"][0]
    assert client.post(f"/api/v1/routes/{route['id']}/dispatch", headers=headers).status_code < 300
    assert client.post(f"/api/v1/routes/{route['id']}/start", headers=headers).status_code < 300
    return route


def test_each_organisation_gets_its_own_runtime_and_sees_only_its_own_data(
        two_orgs: tuple[FastAPI, TestClient, Tenant, Tenant]) -> None:
    app, client, acme, beta = two_orgs
    runtimes = app.state.execution
    assert isinstance(runtimes, TenantRuntimes)
    routes = {t.org_id: _start_route(client, t.headers["dispatcher"]) for t in (acme, beta)}
    assert routes["acme"]["vehicle_id"] == routes["beta"]["vehicle_id"] == "van-1"
    now = datetime.now(UTC).isoformat()
    for tenant, lat in ((acme, -15.70), (beta, -15.71)):
        ping = {"device_id": f"phone-{tenant.org_id}", "vehicle_id": "van-1", "ts": now, "lat": lat, "lng": -47.85,
                "accuracy_m": 8}
        r = client.post("/api/v1/execution/positions", headers=tenant.headers["driver"], json={"pings": [ping]})
        assert r.status_code == 202 and r.json()["accepted"] == 1, r.text
    assert runtimes.orgs() == ["acme", "beta"]
    acme_rt, beta_rt = runtimes.for_org("acme"), runtimes.for_org("beta")
    assert acme_rt is not beta_rt and acme_rt.service.uow.org_id == "acme" and beta_rt.service.uow.org_id == "beta"
    separate = app.state.ctx.settings.ingest_process
    assert acme_rt.stats()["ingest_process"] == beta_rt.stats()["ingest_process"] == separate
    for rt in (acme_rt, beta_rt):
        rt.refresh_now()

    for tenant, lat in ((acme, -15.70), (beta, -15.71)):
        h = tenant.headers["dispatcher"]
        own = routes[tenant.org_id]["id"]
        etas = client.get(f"/api/v1/execution/routes/{own}/etas", headers=h).json()
        assert etas and {e["vehicle_id"] for e in etas} == {"van-1"}, etas
        position = client.get("/api/v1/execution/vehicles/van-1/position", headers=h).json()
        assert (position["lat"], position["device_id"]) == (lat, f"phone-{tenant.org_id}")
        assert [p["device_id"] for p in client.get("/api/v1/execution/vehicles/van-1/trail", headers=h).json()] \
            == [f"phone-{tenant.org_id}"]
        stats = client.get("/api/v1/execution/stats", headers=h).json()
        assert stats["accepted"] == 1 and stats["eta_updates"] >= 1

    # cross-tenant reads: the other organisation's route, exception ids are unknown here
    other = routes["acme"]["id"]
    assert other != routes["beta"]["id"]
    assert client.get(f"/api/v1/execution/routes/{other}/etas", headers=beta.headers["dispatcher"]).status_code == 404
    acme_exceptions = client.get("/api/v1/execution/exceptions", headers=acme.headers["dispatcher"]).json()
    beta_exceptions = client.get("/api/v1/execution/exceptions", headers=beta.headers["dispatcher"]).json()
    assert acme_exceptions and {e["route_id"] for e in acme_exceptions} <= {routes["acme"]["id"]}
    assert {e["route_id"] for e in beta_exceptions} <= {routes["beta"]["id"]}
    for e in acme_exceptions:
        assert client.get(f"/api/v1/execution/exceptions/{e['id']}",
                          headers=beta.headers["dispatcher"]).status_code == 404
        assert client.post(f"/api/v1/execution/exceptions/{e['id']}/acknowledge", json={"actor": "user:eve"},
                           headers=beta.headers["dispatcher"]).status_code == 404
    assert client.get("/api/v1/execution/vehicles/van-9/position", headers=beta.headers["dispatcher"]).status_code \
        == 404
    # drivers may only post positions, whatever their organisation
    assert client.get("/api/v1/execution/stats", headers=beta.headers["driver"]).status_code == 403
