"""Helpers for the proof-of-delivery tests (no tests here): an app with a filesystem object store,
a dispatched day, tiny real PNG images, and action bodies."""

from __future__ import annotations

import struct
import uuid
import zlib
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from baton.adapters.objectstore.fs import FileSystemObjectStore
from test_api_support import make_app, make_tenant, seed_day


def png(seed: int, size: int = 8) -> bytes:
    """A valid ``size``×``size`` grey PNG whose pixels depend on ``seed``."""
    raw = b"".join(b"\x00" + bytes(((seed * 31 + x * 7 + y * 13) % 256) for x in range(size)) for y in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def app_with_store(db_url: str, tmp_path: Path) -> FastAPI:
    app = make_app(db_url)
    app.state.object_store = FileSystemObjectStore(tmp_path / "objects")
    return app


def dispatched_day(client: TestClient, app: FastAPI, orders: int = 4) -> tuple[Any, dict[str, Any]]:
    """Tenant ``acme`` with a driver ``drv-1`` whose route is dispatched; returns (tenant, plan)."""
    acme = make_tenant(app, client, "acme", driver_id="drv-1")
    plan = seed_day(client, acme.headers["admin"], orders=orders)
    route = plan["routes"][0]
    r = client.post(f"/api/v1/routes/{route['id']}/dispatch", headers=acme.headers["dispatcher"])
    assert r.status_code in (200, 202), r.text
    return acme, plan


def upload(client: TestClient, headers: dict[str, str], data: bytes, content_type: str = "image/png") -> str:
    r = client.post("/api/v1/driver/media", headers=headers | {"Content-Type": content_type}, content=data)
    assert r.status_code == 200, r.text
    sha: str = r.json()["sha256"]
    return sha


def action(type_: str, route_id: str, order_id: str | None, *, lat: float = -15.79, lng: float = -47.88,
           device_time: str = "2026-03-02T10:00:00-03:00", **payload: Any) -> dict[str, Any]:
    return {"client_action_id": str(uuid.uuid4()), "type": type_, "route_id": route_id, "order_id": order_id,
            "device_time": device_time, "lat": lat, "lng": lng, "accuracy_m": 8.0, "payload": payload}
