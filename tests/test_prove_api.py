"""The driver API contract and proof of delivery end to end over HTTP: route, media, actions (idempotent,
requirements re-checked server-side, conflicts), PODs (JSON, verify, PDF), custody, tampering, auth.

Authorisation covered here: ``/api/v1/driver/`` (route, media, actions, events: drivers only, own route),
``/api/v1/pods/`` and ``/api/v1/orders/{order_id}/custody`` (orders:read users or the capturing driver;
another driver 403, another tenant 404)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from baton.adapters import orm_prove as tp
from baton.prove.requirements import RuleSet
from prove_support import action, app_with_store, dispatched_day, png, upload
from test_api_support import PASSWORD, login, make_tenant

World = tuple[FastAPI, TestClient, Any, dict[str, Any]]


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    app = app_with_store(db_url, tmp_path)
    with TestClient(app) as client:
        acme, plan = dispatched_day(client, app)
        yield app, client, acme, plan


def _complete(client: TestClient, headers: dict[str, str], route_id: str, stop: dict[str, Any],
              **payload: Any) -> dict[str, Any]:
    body = action("complete", route_id, stop["order_id"], lat=stop["lat"] + 0.0002, lng=stop["lng"],
                  recipient_name="Ana", recipient_relation="self",
                  scanned_barcodes=[p["barcode"] for p in stop["parcels"]], **payload)
    r = client.post("/api/v1/driver/actions", headers=headers, json={"actions": [body]})
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()["results"][0]
    return result


def test_route_complete_verify_pdf_and_idempotent_retry(world: World, tmp_path: Path) -> None:
    app, client, acme, _plan = world
    drv = acme.headers["driver"]
    route = client.get("/api/v1/driver/route", headers=drv).json()
    assert route["version"] == 1 and route["depot"]["name"] == "CD Brasília" and len(route["stops"]) == 4
    stop = route["stops"][0]
    assert stop["sequence"] == 1 and stop["parcels"][0]["barcode"] == f"{stop['order_id']}-1"
    assert set(stop["requirements"]) == {"signature", "photo", "min_photos", "age_check", "safe_place_allowed",
                                         "scan_all_parcels"}
    assert stop["window_start"].endswith("-03:00") and stop["phone_masked"].endswith("0000")
    sig, photo = upload(client, drv, png(1)), upload(client, drv, png(2))
    assert upload(client, drv, png(2)) == photo  # same bytes, same key, stored once
    body = action("complete", route["route_id"], stop["order_id"], lat=stop["lat"] + 0.0002, lng=stop["lng"],
                  recipient_name="Ana", recipient_relation="self", signature_sha256=sig, photo_sha256s=[photo],
                  scanned_barcodes=[stop["parcels"][0]["barcode"], "STRAY-1"])
    first = client.post("/api/v1/driver/actions", headers=drv, json={"actions": [body]}).json()["results"][0]
    assert first["status"] == "applied", first
    again = client.post("/api/v1/driver/actions", headers=drv, json={"actions": [body]}).json()["results"][0]
    assert again["status"] == "duplicate" and again["pod_id"] == first["pod_id"]
    with app.state.ctx.engine.connect() as conn:
        assert len(conn.execute(select(tp.pods)).all()) == 1
    pod = client.get(f"/api/v1/pods/{first['pod_id']}", headers=drv).json()
    assert pod["extra_barcodes"] == ["STRAY-1"] and "extra_parcels" in pod["flags"]
    assert 15 < pod["distance_m"] < 30 and "far_from_address" not in pod["flags"]
    assert pod["device_time"].startswith("2026-03-02T13:00:00") and pod["server_time"] > pod["device_time"]
    order = client.get(f"/api/v1/orders/{stop['order_id']}", headers=acme.headers["admin"]).json()
    assert order["status"] == "delivered"
    chain = client.get(f"/api/v1/orders/{stop['order_id']}/custody", headers=acme.headers["viewer"]).json()
    assert [c["kind"] for c in chain["chain"]] == ["pickup", "delivered"] and chain["valid"]
    assert chain["chain"][0]["prev_hash"] == "0" * 64 and chain["chain"][1]["prev_hash"] == chain["chain"][0]["hash"]
    ok = client.get(f"/api/v1/pods/{first['pod_id']}/verify", headers=acme.headers["dispatcher"]).json()
    assert ok == {"pod_id": first["pod_id"], "order_id": stop["order_id"], "valid": True, "problems": [], "links": 2}
    pdf = client.get(f"/api/v1/pods/{first['pod_id']}.pdf", headers=drv)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and len(pdf.content) > 1500

    # tampering: one byte of the photo in the object store
    path = app.state.object_store.path(photo)
    original = path.read_bytes()
    path.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    bad = client.get(f"/api/v1/pods/{first['pod_id']}/verify", headers=drv).json()
    assert not bad["valid"] and any(photo in p for p in bad["problems"])
    path.write_bytes(original)
    assert client.get(f"/api/v1/pods/{first['pod_id']}/verify", headers=drv).json()["valid"]
    # tampering: one field of the stored POD
    with app.state.ctx.engine.begin() as conn:
        row = conn.execute(select(tp.pods.c.content)).scalar_one()
        conn.execute(update(tp.pods).values(content=row | {"recipient_name": "Someone else"}))
    bad = client.get(f"/api/v1/pods/{first['pod_id']}/verify", headers=drv).json()
    assert not bad["valid"] and any("recipient_name" in p for p in bad["problems"])


def test_requirements_block_completion_until_met(world: World) -> None:
    app, client, acme, _plan = world
    app.state.pod_rules = RuleSet(signature_tiers=frozenset({"standard"}), photo_tiers=frozenset({"standard"}),
                                  min_photos=2)
    drv = acme.headers["driver"]
    route = client.get("/api/v1/driver/route", headers=drv).json()
    stop = route["stops"][0]
    assert stop["requirements"]["signature"] and stop["requirements"]["min_photos"] == 2
    refused = _complete(client, drv, route["route_id"], stop)
    assert refused["status"] == "rejected"
    assert "signature_sha256" in refused["message"] and "2 photo(s) required, got 0" in refused["message"]
    order = client.get(f"/api/v1/orders/{stop['order_id']}", headers=acme.headers["admin"]).json()
    assert order["status"] != "delivered"
    not_uploaded = _complete(client, drv, route["route_id"], stop, signature_sha256="a" * 64,
                             photo_sha256s=["b" * 64, "c" * 64])
    assert not_uploaded["status"] == "rejected" and "was not uploaded" in not_uploaded["message"]
    shas = [upload(client, drv, png(k)) for k in (3, 4, 5)]
    done = _complete(client, drv, route["route_id"], stop, signature_sha256=shas[0], photo_sha256s=shas[1:])
    assert done["status"] == "applied"


def test_failed_delivery_reasons_claim_lifecycle_and_webhook(world: World) -> None:
    app, client, acme, _plan = world
    from baton.adapters import orm_notify as tn
    from baton.notify import store
    from baton.notify.model import NotifySettings

    with app.state.ctx.sessions() as session:
        store.save_settings(session, NotifySettings(org_id="acme", webhook_url="http://shop.example/hooks"))
        session.commit()
    drv = acme.headers["driver"]
    route = client.get("/api/v1/driver/route", headers=drv).json()
    s1, s2, s3 = route["stops"][:3]
    photo = upload(client, drv, png(9))
    acts = [action("fail", route["route_id"], s1["order_id"], reason="not_home"),
            action("fail", route["route_id"], s2["order_id"], reason="damaged", photo_sha256s=[photo], notes="wet box"),
            action("fail", route["route_id"], s3["order_id"], reason="wrong_address"),
            action("report_issue", route["route_id"], None, kind="road_closed", notes="works"),
            action("break_start", route["route_id"], None), action("break_end", route["route_id"], None)]
    results = client.post("/api/v1/driver/actions", headers=drv, json={"actions": acts}).json()["results"]
    assert [r["status"] for r in results] == ["applied"] * 6, results
    admin = acme.headers["admin"]
    status = {s["order_id"]: client.get(f"/api/v1/orders/{s['order_id']}", headers=admin).json()["status"]
              for s in (s1, s2, s3)}
    assert status == {s1["order_id"]: "reattempt", s2["order_id"]: "failed_attempt",
                      s3["order_id"]: "failed_attempt"}
    assert "next step: customer_contact" in results[2]["message"] and "exception" in results[3]["message"]
    claims = client.get("/api/v1/claims", headers=admin).json()
    assert len(claims) == 1 and claims[0]["status"] == "opened" and claims[0]["order_id"] == s2["order_id"]
    cid = claims[0]["id"]
    r = client.post(f"/api/v1/claims/{cid}/refund", headers=admin)
    assert r.status_code == 409
    assert client.post(f"/api/v1/claims/{cid}/review", headers=admin).json()["status"] == "under_review"
    refunded = client.post(f"/api/v1/claims/{cid}/refund", headers=admin, json={"note": "ok"}).json()
    assert refunded["status"] == "refunded"
    assert client.post(f"/api/v1/claims/{cid}/review", headers=drv).status_code == 403
    with app.state.ctx.engine.connect() as conn:
        hooks = conn.execute(select(tn.messages.c.kind, tn.messages.c.body).where(
            tn.messages.c.channel == "webhook", tn.messages.c.kind.like("claim.%"))).all()
    assert sorted(h.kind for h in hooks) == ["claim.opened", "claim.refunded", "claim.under_review"]
    assert json.loads(hooks[0].body)["claim"]["id"] == cid


def test_conflict_when_stop_left_the_route_keeps_the_pod(world: World) -> None:
    _app, client, acme, _plan = world
    drv = acme.headers["driver"]
    route = client.get("/api/v1/driver/route", headers=drv).json()
    stop = route["stops"][1]
    assert client.post(f"/api/v1/orders/{stop['order_id']}/cancel", headers=acme.headers["admin"],
                       json={"reason": "customer"}).status_code == 200
    result = _complete(client, drv, route["route_id"], stop)
    assert result["status"] == "conflict" and "cancelled" in result["message"] and result["pod_id"]
    pod = client.get(f"/api/v1/pods/{result['pod_id']}", headers=acme.headers["admin"]).json()
    assert "reassigned" in pod["flags"]


def test_only_the_driver_sees_its_route_and_pods(world: World, db_url: str) -> None:
    app, client, acme, _plan = world
    drv = acme.headers["driver"]
    route = client.get("/api/v1/driver/route", headers=drv).json()
    pod_id = _complete(client, drv, route["route_id"], route["stops"][0])["pod_id"]
    app.state.ctx.accounts.create_user("acme", "d9@acme.example.com", PASSWORD, "driver", driver_id="drv-9")
    other = login(client, "d9@acme.example.com")
    assert client.get("/api/v1/driver/route", headers=other).status_code == 404
    assert client.get(f"/api/v1/pods/{pod_id}", headers=other).status_code == 403
    r = client.post("/api/v1/driver/actions", headers=other,
                    json={"actions": [action("arrive", route["route_id"], route["stops"][1]["order_id"])]})
    assert r.json()["results"][0]["status"] == "conflict"
    globex = make_tenant(app, client, "globex", driver_id="drv-1")
    assert client.get(f"/api/v1/pods/{pod_id}", headers=globex.headers["admin"]).status_code == 404
    assert client.get("/api/v1/driver/route", headers=globex.headers["driver"]).status_code == 404
    assert client.get("/api/v1/driver/route", headers=acme.headers["dispatcher"]).status_code == 403
    r = client.post("/api/v1/driver/media", headers=acme.headers["viewer"] | {"Content-Type": "image/png"},
                    content=png(1))
    assert r.status_code == 403
    r = client.post("/api/v1/driver/media", headers=drv | {"Content-Type": "text/plain"}, content=b"x")
    assert r.status_code == 415
    big = b"\x89PNG\r\n\x1a\n" + b"0" * (5 * 1024 * 1024)
    assert client.post("/api/v1/driver/media", headers=drv | {"Content-Type": "image/png"},
                       content=big).status_code == 413
    r = client.post("/api/v1/driver/actions", headers=drv, json={"actions": [{"type": "teleport"}]})
    assert r.json()["results"][0]["status"] == "rejected" and "client_action_id" in r.json()["results"][0]["message"]


def test_route_version_and_sse_route_changed(world: World) -> None:
    app, client, acme, plan = world
    drv = acme.headers["driver"]
    route = client.get("/api/v1/driver/route", headers=drv).json()
    assert route["version"] == 1
    uow = app.state.ctx.uow("acme")
    with uow:  # a re-plan drops the last stop
        stored = uow.plans.get_route(route["route_id"])
        dropped = stored.stops[-1].order_id
        stored.stops = stored.stops[:-1]
        uow.plans.save_route(stored, plan["id"])
        uow.session.commit()
    with client.stream("GET", "/api/v1/driver/events?max_s=0.5", headers=drv) as r:
        text = "".join(r.iter_text())
    assert "event: route_changed" in text
    data = json.loads(text.split("event: route_changed\ndata: ")[1].split("\n")[0])
    assert data == {"route_id": route["route_id"], "version": 2, "changed_order_ids": [dropped]}
    assert client.get("/api/v1/driver/route", headers=drv).json()["version"] == 2
