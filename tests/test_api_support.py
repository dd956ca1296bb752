"""Helpers shared by the API and dashboard tests (no tests here): an app on a test database,
organisations with one user per role, and valid request bodies around Brasília."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from baton.entrypoints.api import security
from baton.entrypoints.api.app import create_app

# argon2 at its production cost (64 MiB, 3 passes) takes ~0.5 s per hash on a loaded 2-core machine;
# the tests hash dozens of passwords, so they use the minimum cost (same code path, same format).
security._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)

SECRET = "test-secret-" + "x" * 40
PASSWORD = "correct horse battery"
ROLES = ("admin", "dispatcher", "viewer")


@dataclass
class Tenant:
    """An organisation with a bearer header per role (``admin``, ``dispatcher``, ``viewer``, ``driver``)."""

    org_id: str
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)


def make_app(db_url: str, **kwargs: Any) -> FastAPI:
    return create_app(db_url, secret_key=SECRET, **kwargs)


def login(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def make_tenant(app: FastAPI, client: TestClient, org_id: str, driver_id: str = "drv-1") -> Tenant:
    accounts = app.state.ctx.accounts
    accounts.ensure_organisation(org_id)
    tenant = Tenant(org_id)
    for role in (*ROLES, "driver"):
        email = f"{role}@{org_id}.example.com"
        accounts.create_user(org_id, email, PASSWORD, role, driver_id=driver_id if role == "driver" else None)
        tenant.emails[role] = email
        tenant.headers[role] = login(client, email)
    return tenant


def order_body(order_id: str, lat: float = -15.79, lng: float = -47.88, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": order_id, "customer": {"name": f"Customer {order_id}", "phone": "+5561999990000"},
        "address": {"line": f"SQS 308 bloco {order_id}", "lat": lat, "lng": lng, "city": "Brasília"},
        "time_windows": [{"start": "2026-03-02T08:00:00-03:00", "end": "2026-03-02T18:00:00-03:00"}],
        "service_time_s": 120, "size": {"parcels": 1, "weight_kg": 2.0},
    }
    body.update(extra)
    return body


def seed_fleet(client: TestClient, headers: dict[str, str], vehicles: int = 1, driver_id: str = "drv-1") -> None:
    r = client.post("/api/v1/depots", headers=headers, json={
        "id": "dep-1", "name": "CD Brasília", "lat": -15.657, "lng": -47.803, "timezone": "America/Sao_Paulo"})
    assert r.status_code == 201, r.text
    for k in range(vehicles):
        r = client.post("/api/v1/vehicles", headers=headers, json={
            "id": f"van-{k + 1}", "capacity": {"parcels": 60, "weight_kg": 600}, "start_depot_id": "dep-1",
            "costs": {"per_km": 1.2, "per_hour": 30, "fixed_per_day": 100}})
        assert r.status_code == 201, r.text
        r = client.post("/api/v1/drivers", headers=headers, json={
            "id": driver_id if k == 0 else f"drv-{k + 1}", "name": f"Driver {k + 1}",
            "shift_start": "2026-03-02T07:00:00-03:00", "shift_end": "2026-03-02T19:00:00-03:00",
            "vehicle_id": f"van-{k + 1}"})
        assert r.status_code == 201, r.text


def seed_day(client: TestClient, headers: dict[str, str], orders: int = 6) -> dict[str, Any]:
    """Fleet, ``orders`` orders, and a plan (1 s); returns the plan JSON."""
    seed_fleet(client, headers)
    rows = [order_body(f"o-{i}", -15.79 + 0.01 * (i % 5), -47.88 + 0.01 * (i // 5)) for i in range(orders)]
    r = client.post("/api/v1/orders/batch", headers=headers, json={"orders": rows})
    assert r.status_code == 200 and not r.json()["errors"], r.text
    r = client.post("/api/v1/plans", headers=headers,
                    json={"time_limit_s": 1, "day_start": "2026-03-02T00:00:00-03:00"})
    assert r.status_code == 201, r.text
    plan: dict[str, Any] = r.json()
    return plan


def seed_today(client: httpx.Client, headers: dict[str, str], orders: int = 8) -> tuple[dict[str, Any], datetime]:
    """Two vans of 6 parcels on shift from an hour ago, ``orders`` orders due in the next hours, and a
    plan (which needs both vans)."""
    now = datetime.now(ZoneInfo("America/Sao_Paulo")).replace(microsecond=0)
    r = client.post("/api/v1/depots", headers=headers, json={
        "id": "dep-1", "name": "CD Brasília", "lat": -15.657, "lng": -47.803, "timezone": "America/Sao_Paulo"})
    assert r.status_code == 201, r.text
    for k in (1, 2):
        r = client.post("/api/v1/vehicles", headers=headers, json={
            "id": f"van-{k}", "capacity": {"parcels": 6, "weight_kg": 600}, "start_depot_id": "dep-1",
            "costs": {"per_km": 1.2, "per_hour": 30, "fixed_per_day": 100}})
        assert r.status_code == 201, r.text
        r = client.post("/api/v1/drivers", headers=headers, json={
            "id": f"drv-{k}", "name": f"Driver {k}", "vehicle_id": f"van-{k}",
            "shift_start": (now - timedelta(hours=1)).isoformat(),
            "shift_end": (now + timedelta(hours=11)).isoformat()})
        assert r.status_code == 201, r.text
    window = [{"start": (now + timedelta(hours=1)).isoformat(), "end": (now + timedelta(hours=9)).isoformat()}]
    rows = [order_body(f"o-{i}", -15.79 + 0.02 * (i % 4), -47.88 + 0.03 * (i // 4), time_windows=window)
            for i in range(orders)]
    r = client.post("/api/v1/orders/batch", headers=headers, json={"orders": rows})
    assert r.status_code == 200 and not r.json()["errors"], r.text
    r = client.post("/api/v1/plans", headers=headers, json={"time_limit_s": 1})
    assert r.status_code == 201, r.text
    return r.json(), now
