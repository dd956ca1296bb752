"""Authorisation of EVERY route of the app: 401 without credentials, 403 for missing roles,
403/404 (never the data) for another tenant, drivers limited to their own routes.

The routes are enumerated from the app (and checked against the OpenAPI document), so a new
endpoint is tested here automatically. Routers of other feature areas whose authorisation is
tested in their own module are listed in :data:`COVERED_ELSEWHERE` (path prefix → test files);
an entry only counts when such a test file exists and names the prefix.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from test_api_support import PASSWORD, Tenant, login, make_app, make_tenant, seed_day

#: Routes anyone may call: login, health, the API description, the dashboard's pages and assets.
PUBLIC = {
    ("POST", "/api/v1/auth/token"), ("GET", "/api/v1/health"), ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/docs"), ("GET", "/login"), ("POST", "/login"),
    ("POST", "/logout"), ("GET", "/"),
}
#: Routes every authenticated principal may call.
ANY_PRINCIPAL = {("GET", "/api/v1/auth/me")}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
STREAM = "/api/v1/stream"
#: What a driver may call (on their own routes and the orders on them only).
DRIVER_ALLOWED = {
    ("GET", "/api/v1/routes"), ("GET", "/api/v1/routes/{route_id}"), ("POST", "/api/v1/routes/{route_id}/start"),
    ("POST", "/api/v1/routes/{route_id}/complete"), ("POST", "/api/v1/routes/{route_id}/stops/{order_id}/arrive"),
    ("POST", "/api/v1/routes/{route_id}/stops/{order_id}/deliver"),
    ("POST", "/api/v1/routes/{route_id}/stops/{order_id}/fail"), ("GET", "/api/v1/orders/{order_id}"),
    ("GET", "/api/v1/orders/{order_id}/events"),
    ("POST", "/api/v1/execution/positions"),  # only for the vehicles of their own open routes (tested below)
}


#: Customer tracking pages: authorised by the unguessable token in their link (tested with that feature).
TOKEN_LINK_PREFIX = "/t/"
#: Feature routers whose tenant isolation and roles are tested in their own module: path prefix → a glob of
#: test files (under tests/), one of which must exist and mention the prefix. Add a line when mounting one.
COVERED_ELSEWHERE: dict[str, str] = {
    "/api/v1/dispatch/": "test_dispatch_api*.py",  # carriers, tenders, decisions, gig offers
    "/api/v1/driver/": "test_prove_*.py",  # driver app API (route, media, actions, events)
    "/api/v1/pods/": "test_prove_*.py",  # proof of delivery
    "/api/v1/orders/{order_id}/custody": "test_prove_*.py",
    "/driver": "test_driver_app_*.py",  # the driver PWA's static shell (no data; its API calls need a token)
}
TESTS = Path(__file__).resolve().parent


def covered_elsewhere(path: str) -> str | None:
    """The prefix of :data:`COVERED_ELSEWHERE` that ``path`` falls under, if any."""
    return next((prefix for prefix in COVERED_ELSEWHERE if path.startswith(prefix)), None)

World = tuple[FastAPI, TestClient, Tenant, Tenant, dict[str, Any]]


def walk_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """Every ``(method, path)`` the app serves with a user or key credential (mounts such as /static and
    the token-link customer pages excluded)."""
    for route in app.routes:
        contexts = route.effective_route_contexts() if hasattr(route, "effective_route_contexts") else [route]
        for ctx in contexts:
            original = getattr(ctx, "original_route", ctx)
            methods = getattr(original, "methods", None) or getattr(ctx, "methods", None)
            path = getattr(ctx, "path", None) or getattr(original, "path", None)
            if not methods or not path:
                continue
            if path.startswith(TOKEN_LINK_PREFIX) or covered_elsewhere(path):
                continue
            for method in sorted(methods - {"HEAD"}):
                yield method, path


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    app = make_app(db_url)
    with TestClient(app) as client:
        acme = make_tenant(app, client, "acme", driver_id="drv-1")
        globex = make_tenant(app, client, "globex", driver_id="drv-1")
        plan = seed_day(client, acme.headers["admin"], orders=4)
        yield app, client, acme, globex, plan


def fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)


def acme_ids(client: TestClient, acme: Tenant, plan: dict[str, Any]) -> dict[str, str]:
    route = plan["routes"][0]
    keys = client.get("/api/v1/api-keys", headers=acme.headers["admin"]).json()
    users = client.get("/api/v1/users", headers=acme.headers["admin"]).json()
    return {"order_id": route["stops"][0]["order_id"], "plan_id": plan["id"], "route_id": route["id"],
            "action": "reassign", "exception_id": "order:" + route["stops"][0]["order_id"],
            "vehicle_id": route["vehicle_id"],
            "key_id": keys[0]["id"] if keys else "none", "claim_id": "clm-unknown",
            "user_id": next(u["id"] for u in users if u["role"] == "viewer")}


def test_every_openapi_operation_is_tested_here_or_in_a_named_module(world: World) -> None:
    """The OpenAPI document and the walk agree, and every allow-listed router has its own test file."""
    app, _client, _acme, _globex, _plan = world
    walked = set(walk_routes(app))
    documented = {(method.upper(), path) for path, ops in app.openapi()["paths"].items() for method in ops
                  if method.upper() != "HEAD"}
    elsewhere: dict[str, list[tuple[str, str]]] = {}
    for method, path in sorted(documented):
        prefix = covered_elsewhere(path)
        if prefix is not None:
            elsewhere.setdefault(prefix, []).append((method, path))
        elif not path.startswith(TOKEN_LINK_PREFIX):
            assert (method, path) in walked, f"{method} {path} is documented but escapes the access tests"
    for prefix in elsewhere:
        pattern = COVERED_ELSEWHERE[prefix]
        files = [f for f in TESTS.iterdir() if fnmatch.fnmatch(f.name, pattern)]
        assert any(prefix.rstrip("/") in f.read_text() for f in files), (
            f"{prefix} is mounted but no tests/{pattern} tests it: write its authorisation tests")
    assert len(documented) >= 40


def test_every_route_is_known_and_protected(world: World) -> None:
    app, client, acme, _globex, plan = world
    routes = sorted(set(walk_routes(app)))
    assert len(routes) >= 30  # the walk found the API
    ids = acme_ids(client, acme, plan)
    checked = 0
    for method, path in routes:
        if (method, path) in PUBLIC:
            continue
        r = client.request(method, fill(path, ids))
        assert r.status_code == 401, f"{method} {path} without credentials: {r.status_code}"
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.headers.get("www-authenticate", "").startswith("Bearer")
        r = client.request(method, fill(path, ids), headers={"Authorization": "Bearer not-a-token"})
        assert r.status_code == 401, f"{method} {path} with a forged token: {r.status_code}"
        checked += 1
    assert checked >= 25


def test_viewers_cannot_write_and_dispatchers_cannot_administer(
        world: World) -> None:
    app, client, acme, _globex, plan = world
    acme.headers["admin"]
    client.post("/api/v1/api-keys", headers=acme.headers["admin"], json={"name": "shop", "scopes": ["orders:read"]})
    ids = acme_ids(client, acme, plan)
    refused = 0
    for method, path in sorted(set(walk_routes(app))):
        if (method, path) in PUBLIC or (method, path) in ANY_PRINCIPAL:
            continue
        url = fill(path, ids)
        if method in WRITE_METHODS:
            r = client.request(method, url, headers=acme.headers["viewer"], json={})
            assert r.status_code == 403, f"viewer {method} {path}: {r.status_code} {r.text[:200]}"
            refused += 1
        if path.startswith(("/api/v1/users", "/api/v1/api-keys")):
            r = client.request(method, url, headers=acme.headers["dispatcher"], json={})
            assert r.status_code == 403, f"dispatcher {method} {path}: {r.status_code}"
        # drivers: nothing organisation-wide; their own route only
        if (method, path) not in DRIVER_ALLOWED:
            r = client.request(method, url, headers=acme.headers["driver"], json={})
            assert r.status_code == 403, f"driver {method} {path}: {r.status_code} {r.text[:200]}"
    assert refused >= 15


def test_another_tenant_never_sees_or_changes_the_data(
        world: World) -> None:
    app, client, acme, globex, plan = world
    client.post("/api/v1/api-keys", headers=acme.headers["admin"], json={"name": "shop", "scopes": ["orders:read"]})
    ids = acme_ids(client, acme, plan)
    before = client.get("/api/v1/orders", headers=acme.headers["admin"]).json()
    secret_ids = [ids["order_id"], ids["route_id"], ids["plan_id"], acme.emails["viewer"]]
    secret_data = ["Customer o-", "SQS 308", acme.emails["viewer"], "acme"]
    for method, path in sorted(set(walk_routes(app))):
        if (method, path) in PUBLIC or path == STREAM:  # the stream's tenant check is tested on its own
            continue
        if method in WRITE_METHODS and "{" not in path:  # creates act on the caller's own organisation
            continue
        r = client.request(method, fill(path, ids), headers=globex.headers["admin"] | {"If-Match": '"1"'}, json={})
        if "{" in path:
            assert r.status_code in (403, 404, 422), f"globex {method} {path}: {r.status_code} {r.text[:200]}"
        else:
            assert r.status_code < 500, f"globex {method} {path}: {r.status_code}"
        # errors may echo the id asked for, never acme's data
        leaked = [s for s in (secret_ids if r.status_code < 300 else secret_data) if s in r.text]
        assert not leaked, f"globex {method} {path} sees acme's {leaked}"
    after = client.get("/api/v1/orders", headers=acme.headers["admin"]).json()
    assert after == before


def test_drivers_see_only_their_own_routes(world: World) -> None:
    app, client, acme, _globex, plan = world
    route = plan["routes"][0]
    assert route["driver_id"] == "drv-1"
    driver = acme.headers["driver"]
    assert [r["id"] for r in client.get("/api/v1/routes", headers=driver).json()] == [route["id"]]
    assert client.get(f"/api/v1/routes/{route['id']}", headers=driver).status_code == 200
    order_id = route["stops"][0]["order_id"]
    assert client.get(f"/api/v1/orders/{order_id}", headers=driver).status_code == 200
    app.state.ctx.accounts.create_user("acme", "other.driver@acme.example.com", PASSWORD, "driver", driver_id="drv-9")
    other = login(client, "other.driver@acme.example.com")
    assert client.get("/api/v1/routes", headers=other).json() == []
    assert client.get(f"/api/v1/routes/{route['id']}", headers=other).status_code == 403
    assert client.get(f"/api/v1/orders/{order_id}", headers=other).status_code == 403
    r = client.post(f"/api/v1/routes/{route['id']}/stops/{order_id}/arrive", headers=other)
    assert r.status_code == 403
    # GPS: a driver reports positions for the vehicle of their own route only
    ping = {"device_id": "phone-1", "lat": -15.79, "lng": -47.88, "ts": datetime.now(UTC).isoformat(),
            "accuracy_m": 5}
    other_van = "not-my-van"
    r = client.post("/api/v1/execution/positions", headers=driver,
                    json={"pings": [{**ping, "vehicle_id": route["vehicle_id"]}, {**ping, "vehicle_id": other_van}]})
    assert r.status_code == 202 and r.json()["accepted"] == 1, r.text
    assert [(x["index"], x["reason"]) for x in r.json()["rejected"]] == [(1, "not_your_vehicle")]
    r = client.post("/api/v1/execution/positions", headers=other, json={**ping, "vehicle_id": route["vehicle_id"]})
    assert r.json()["accepted"] == 0 and r.json()["rejected"][0]["reason"] == "not_your_vehicle"


def test_api_keys_carry_their_scopes_and_can_be_revoked(
        world: World) -> None:
    _app, client, acme, _globex, _plan = world
    r = client.post("/api/v1/api-keys", headers=acme.headers["admin"], json={"name": "shop", "scopes": ["orders:read"]})
    assert r.status_code == 201
    key, key_id = r.json()["key"], r.json()["id"]
    assert client.get("/api/v1/orders", headers={"X-API-Key": key}).json()["total"] == 4
    assert client.get("/api/v1/orders", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    r = client.post("/api/v1/orders/o-1/cancel", headers={"X-API-Key": key})
    assert r.status_code == 403 and "orders:write" in r.json()["detail"]
    assert client.delete(f"/api/v1/api-keys/{key_id}", headers=acme.headers["admin"]).status_code == 200
    assert client.get("/api/v1/orders", headers={"X-API-Key": key}).status_code == 401
    r = client.post("/api/v1/api-keys", headers=acme.headers["admin"], json={"name": "x", "scopes": ["nope"]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "scopes"


def test_login_failures_and_deactivated_users(world: World) -> None:
    _app, client, acme, _globex, _plan = world
    r = client.post("/api/v1/auth/token", data={"username": acme.emails["viewer"], "password": "wrong password"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    r = client.post("/api/v1/auth/token", data={"username": "nobody@acme.example.com", "password": PASSWORD})
    assert r.status_code == 400
    users = client.get("/api/v1/users", headers=acme.headers["admin"]).json()
    viewer = next(u for u in users if u["role"] == "viewer")
    assert client.post(f"/api/v1/users/{viewer['id']}/deactivate", headers=acme.headers["admin"]).status_code == 200
    assert client.get("/api/v1/orders", headers=acme.headers["viewer"]).status_code == 401
