"""The dispatch API mounted in the real app, on SQLite and PostgreSQL: every endpoint's authentication
and roles, tenant isolation, carriers (create / update / health), dispatch decisions with their trail,
gig couriers' offers (a courier sees and answers only their own; a late accept is refused) and the
carriers' HMAC-signed webhooks."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from baton.dispatch.feeds import sign
from baton.dispatch.rules import parse_rules
from baton.service_layer import commands
from dispatch_helpers import T0
from test_api_support import PASSWORD, Tenant, login, make_app, make_tenant, order_body

D = "/api/v1/dispatch"
GIG_RULES = "version: 1\nrules:\n  - id: gig\n    action: {type: gig, fallback: unassigned}\ndefault: {type: captive}\n"
ZAP = {"id": "zap", "name": "Zap Entregas", "fleet_type": "gig", "couriers": ["drv-1", "drv-2"],
       "rate_card": {"base": 6.5, "per_km": 0.5, "currency": "BRL"}, "webhook_secret": "z-secret",
       "performance": {"rating": 4.2}, "tender_timeout_s": 600}
#: (method, path, body) of every authenticated dispatch endpoint, and who may call it.
ENDPOINTS: list[tuple[str, str, Any, set[str]]] = [
    ("GET", f"{D}/carriers", None, {"admin", "dispatcher", "viewer"}),
    ("POST", f"{D}/carriers", {**ZAP, "id": "other"}, {"admin"}),
    ("GET", f"{D}/carriers/zap", None, {"admin", "dispatcher", "viewer"}),
    ("PUT", f"{D}/carriers/zap", ZAP, {"admin"}),
    ("GET", f"{D}/carriers/zap/health", None, {"admin", "dispatcher", "viewer"}),
    ("POST", f"{D}/carriers/nobody/down", {"reason": "x"}, {"admin", "dispatcher"}),
    ("POST", f"{D}/run", {"order_ids": []}, {"admin", "dispatcher"}),
    ("GET", f"{D}/tenders", None, {"admin", "dispatcher", "viewer"}),
    ("GET", f"{D}/orders/o-0", None, {"admin", "dispatcher", "viewer"}),
    ("GET", f"{D}/offers", None, {"admin", "dispatcher", "viewer", "driver"}),
    ("POST", f"{D}/offers/o-0/accept", None, {"driver"}),
    ("POST", f"{D}/offers/o-0/decline", {"reason": "no"}, {"driver"}),
]

World = tuple[FastAPI, TestClient, Tenant, Tenant, dict[str, str]]


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    app = make_app(db_url)
    with TestClient(app) as client:
        acme = make_tenant(app, client, "acme", driver_id="drv-1")
        globex = make_tenant(app, client, "globex", driver_id="drv-1")
        app.state.ctx.accounts.create_user("acme", "courier2@acme.example.com", PASSWORD, "driver", driver_id="drv-2")
        courier2 = login(client, "courier2@acme.example.com")
        r = client.post(f"{D}/carriers", headers=acme.headers["admin"], json=ZAP)
        assert r.status_code == 201, r.text
        app.state.ctx.bus("acme").handle(commands.LoadDispatchRules(at=T0, rules=parse_rules(GIG_RULES)))
        rows = [order_body(f"o-{i}", -15.79 + 0.01 * i) for i in range(3)]
        r = client.post("/api/v1/orders/batch", headers=acme.headers["admin"], json={"orders": rows})
        assert r.status_code == 200 and not r.json()["errors"], r.text
        yield app, client, acme, globex, courier2


def test_every_dispatch_endpoint_checks_credentials_roles_and_tenant(world: World) -> None:
    _app, client, acme, globex, _courier2 = world
    for method, path, body, allowed in ENDPOINTS:
        r = client.request(method, path, json=body)
        assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json"), path
        assert client.request(method, path, json=body, headers={"Authorization": "Bearer forged"}).status_code == 401
        for role in ("admin", "dispatcher", "viewer", "driver"):
            r = client.request(method, path, json=body, headers=acme.headers[role])
            if role in allowed:
                assert r.status_code != 403, f"{role} {method} {path}: {r.status_code} {r.text[:200]}"
            else:
                assert r.status_code == 403, f"{role} {method} {path}: {r.status_code} {r.text[:200]}"
    # another organisation sees none of acme's carriers, decisions or offers
    assert client.get(f"{D}/carriers", headers=globex.headers["admin"]).json() == []
    assert client.get(f"{D}/carriers/zap", headers=globex.headers["admin"]).status_code == 404
    assert client.put(f"{D}/carriers/zap", headers=globex.headers["admin"], json=ZAP).status_code == 404
    assert client.get(f"{D}/carriers/zap/health", headers=globex.headers["admin"]).status_code == 404
    assert client.post(f"{D}/carriers/zap/down", headers=globex.headers["admin"],
                       json={"reason": "x"}).status_code == 404
    assert client.post(f"{D}/run", headers=acme.headers["dispatcher"], json={}).json()["states"] == {"tendering": 3}
    assert client.get(f"{D}/orders/o-0", headers=globex.headers["admin"]).status_code == 404
    assert client.get(f"{D}/tenders", headers=globex.headers["admin"]).json() == []
    # globex's driver has the same driver id as acme's courier: still nothing of acme's
    assert client.get(f"{D}/offers", headers=globex.headers["driver"]).json() == []
    assert client.post(f"{D}/offers/o-0/accept", headers=globex.headers["driver"]).status_code == 404
    assert len(client.get(f"{D}/offers", headers=acme.headers["driver"]).json()) >= 1


def test_carriers_create_update_health_and_validation(world: World) -> None:
    _app, client, acme, _globex, _courier2 = world
    admin = acme.headers["admin"]
    r = client.get(f"{D}/carriers/zap", headers=acme.headers["viewer"])
    assert r.status_code == 200
    zap = r.json()
    assert "webhook_secret" not in zap and zap["webhook_secret_set"] is True and "z-secret" not in r.text
    assert zap["couriers"] == ["drv-1", "drv-2"] and zap["health"]["state"] == "closed" and zap["load"] == 0
    assert client.post(f"{D}/carriers", headers=admin, json=ZAP).status_code == 409
    r = client.post(f"{D}/carriers", headers=admin, json={**ZAP, "id": "bad", "rate_card": {"base": -1}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "rate_card.base"
    r = client.post(f"{D}/carriers", headers=admin, json={**ZAP, "id": "bad", "fleet_type": "drone"})
    assert r.status_code == 422 and "fleet_type" in r.json()["detail"]
    r = client.put(f"{D}/carriers/zap", headers=admin, json={**ZAP, "performance": {"rating": 3.1}})
    assert r.status_code == 200 and r.json()["performance"]["rating"] == 3.1
    assert client.put(f"{D}/carriers/zap", headers=admin, json={**ZAP, "id": "zop"}).status_code == 422
    assert client.put(f"{D}/carriers/nobody", headers=admin, json=ZAP).status_code == 404
    assert [c["id"] for c in client.get(f"{D}/carriers", headers=admin).json()] == ["zap"]
    r = client.post(f"{D}/carriers/zap/down", headers=acme.headers["dispatcher"], json={"reason": "storm"})
    assert r.status_code == 200 and r.json() == {"carrier_id": "zap", "retendered": 0}
    health = client.get(f"{D}/carriers/zap/health", headers=admin).json()
    assert health["state"] == "open" and "storm" in health["reason"]


def test_couriers_see_and_answer_only_their_own_offers(world: World) -> None:
    _app, client, acme, _globex, courier2 = world
    courier1, dispatcher = acme.headers["driver"], acme.headers["dispatcher"]
    assert client.post(f"{D}/run", headers=dispatcher, json={"order_ids": ["o-0", "o-1"]}).status_code == 200
    mine = client.get(f"{D}/offers", headers=courier1).json()
    theirs = client.get(f"{D}/offers", headers=courier2).json()
    assert [o["order_id"] for o in mine] == ["o-0"] and [o["order_id"] for o in theirs] == ["o-1"]
    assert {o["driver_id"] for o in mine + theirs} == {"drv-1", "drv-2"}
    assert mine[0]["dropoff"] == {"lat": -15.79, "lng": -47.88} and mine[0]["price"] == 6.5
    assert client.get(f"{D}/offers?driver_id=drv-2", headers=courier1).status_code == 403
    everyone = client.get(f"{D}/offers", headers=dispatcher).json()
    assert sorted(o["order_id"] for o in everyone) == ["o-0", "o-1"]
    # drv-2 cannot answer drv-1's offer; drv-1 accepts theirs
    assert client.post(f"{D}/offers/o-0/accept", headers=courier2).status_code == 404
    r = client.post(f"{D}/offers/o-0/accept", headers=courier1)
    assert r.status_code == 200 and r.json()["state"] == "accepted"
    assert client.get(f"{D}/offers", headers=courier1).json() == []
    assert [o["state"] for o in client.get(f"{D}/offers?include_closed=true", headers=courier1).json()] == ["accepted"]
    # drv-2 declines o-1: it goes to the network's other courier, drv-1
    r = client.post(f"{D}/offers/o-1/decline", headers=courier2, json={"reason": "flat tyre"})
    assert r.status_code == 200 and r.json()["state"] == "rejected" and r.json()["reason"] == "flat tyre"
    assert [o["order_id"] for o in client.get(f"{D}/offers", headers=courier1).json()] == ["o-1"]
    # the decision trail, for the office only
    trail = client.get(f"{D}/orders/o-1", headers=acme.headers["viewer"]).json()
    assert trail["decisions"][0]["rule_id"] == "gig" and trail["decisions"][0]["explanation"]["queue"] == ["zap"]
    assert [(t["driver"], t["state"]) for t in trail["tenders"]] == [("drv-2", "rejected"), ("drv-1", "offered")]
    assert [e["event"] for e in trail["trail"]][-3:] == ["tender.offered", "tender.rejected", "tender.offered"]
    assert client.get(f"{D}/orders/o-1", headers=courier1).status_code == 403
    tenders = client.get(f"{D}/tenders?driver_id=drv-1", headers=dispatcher).json()
    assert [(t["order_id"], t["state"]) for t in tenders] == [("o-1", "offered"), ("o-0", "accepted")]
    # the courier that accepted reports through the network's signed webhook
    body = json.dumps({"message_id": "m-1", "order_id": "o-0", "status": "delivered",
                       "occurred_at": "2026-03-02T10:15:00-03:00"}).encode()
    hook = "/api/v1/hooks/dispatch/acme/carriers/zap/status"
    assert client.post(hook, content=body, headers={"X-Baton-Signature": "sha256=bad"}).status_code == 401
    assert client.post(hook.replace("acme", "globex"), content=body,
                       headers={"X-Baton-Signature": sign("z-secret", body)}).status_code == 404
    r = client.post(hook, content=body, headers={"X-Baton-Signature": sign("z-secret", body)})
    assert r.status_code == 202 and r.json() == {"received": 1, "applied": 1}
    assert client.get("/api/v1/orders/o-0", headers=dispatcher).json()["status"] == "delivered"


def test_a_late_accept_is_refused_with_the_tender_state(world: World) -> None:
    _app, client, acme, _globex, _courier2 = world
    assert client.put(f"{D}/carriers/zap", headers=acme.headers["admin"],
                      json={**ZAP, "tender_timeout_s": 1}).status_code == 200
    assert client.post(f"{D}/run", headers=acme.headers["dispatcher"], json={"order_ids": ["o-2"]}).status_code == 200
    time.sleep(1.2)
    r = client.post(f"{D}/offers/o-2/accept", headers=acme.headers["driver"])
    assert r.status_code == 409 and r.json()["tender_state"] == "timed_out", r.text
    # the order moved on at once to the other courier, who can still take it
    assert [o["order_id"] for o in client.get(f"{D}/offers", headers=_courier2).json()] == ["o-2"]
    names = [e["event"] for e in client.get(f"{D}/orders/o-2", headers=acme.headers["admin"]).json()["trail"]]
    assert names[-3:] == ["tender.timed_out", "tender.late_response_refused", "tender.offered"]
