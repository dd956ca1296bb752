"""Inbound carrier status feeds: three formats, HMAC authentication, normalisation to order events,
rejection of malformed and unauthenticated messages, through the HTTP router (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from baton.adapters.carriers.fake_server import FakeCarrierServer
from baton.dispatch.feeds import FeedError, parse_feed, sign
from baton.domain import OrderStatus
from baton.entrypoints.api_dispatch import make_dispatch_router
from baton.service_layer import commands
from baton.service_layer.dispatch_handlers import status_path
from baton.service_layer.dispatch_views import explain_order
from dispatch_helpers import CASCADE_3PL, T0, carrier, load_rules, make_bus
from factories import make_order

S = OrderStatus
RAPIDO = carrier("rapido", feed_format="rapido", webhook_secret="r-secret")
FLASH = carrier("flash", feed_format="flashbox", webhook_secret="f-secret")
GENERIC = carrier("zap", feed_format="generic", webhook_secret="z-secret")


def rapido_body(code: str = "ENT", order: str = "o-1", ev: str = "ev-1") -> bytes:
    return json.dumps({"evento": {"id": ev, "pedido": order, "codigo": code,
                                  "data_hora": "2026-03-02T10:15:00-03:00", "motivo": "cliente ausente"}}).encode()


def test_three_formats_normalise_to_baton_statuses() -> None:
    body = rapido_body("INS")
    [u] = parse_feed(RAPIDO, body, {"X-Rapido-Assinatura": sign("r-secret", body)})
    assert (u.order_id, u.status, u.external_status, u.reason) == ("o-1", "failed_attempt", "INS", "cliente ausente")
    assert u.occurred_at == datetime(2026, 3, 2, 13, 15, tzinfo=UTC)
    csv = b"msg,ref,state,ts,note\nm1,o-1,PICKUP,1772456400,\nm2,o-2,DELIVERED,1772460000,porteiro\n"
    ups = parse_feed(FLASH, csv, {"x-flashbox-signature": sign("f-secret", csv)})
    assert [(u.order_id, u.status, u.reason) for u in ups] == [("o-1", "picked_up", None), ("o-2", "delivered",
                                                                                            "porteiro")]
    g = json.dumps({"message_id": "g1", "order_id": "o-3", "status": "out_for_delivery",
                    "occurred_at": "2026-03-02T09:00:00-03:00"}).encode()
    [u] = parse_feed(GENERIC, g, {"X-Baton-Signature": "sha256=" + sign("z-secret", g)})
    assert (u.order_id, u.status, u.message_id) == ("o-3", "out_for_delivery", "g1")


@pytest.mark.parametrize(("carrier_", "body", "headers", "status", "match"), [
    (RAPIDO, rapido_body(), {}, 401, "missing signature header x-rapido-assinatura"),
    (RAPIDO, rapido_body(), {"X-Rapido-Assinatura": "00"}, 401, "bad signature"),
    (RAPIDO, rapido_body("XYZ"), None, 400, "evento.codigo: unknown code 'XYZ'"),
    (RAPIDO, b'{"evento": {"id": "e", "pedido": "o", "codigo": "ENT", "data_hora": "10:00"}}', None, 400,
     "evento.data_hora: not an ISO 8601"),
    (RAPIDO, b"{not json", None, 400, "not valid JSON"),
    (FLASH, b"msg,ref,state,ts\nm1,o-1,LOST,1,\n", None, 400, "line 2: state: unknown 'LOST'"),
    (FLASH, b"ref,state\no-1,PICKUP\n", None, 400, "CSV header must contain"),
    (GENERIC, b'{"message_id": "g", "order_id": "o", "status": "teleported", "occurred_at": "2026-03-02T09:00:00Z"}',
     None, 400, "status: 'teleported' is not one of"),
    (GENERIC, b'{"order_id": "o", "status": "delivered", "occurred_at": "2026-03-02T09:00:00Z"}', None, 400,
     "message_id: required"),
    (GENERIC, b'{"message_id": "g", "order_id": "o", "status": "delivered", "occurred_at": "2026-03-02T09:00:00"}',
     None, 400, "occurred_at: needs a UTC offset"),
    (carrier("nosecret", feed_format="generic"), b"{}", {"X-Baton-Signature": "x"}, 401, "no webhook_secret"),
])
def test_malformed_or_unauthenticated_messages_are_refused(carrier_: object, body: bytes,
                                                           headers: dict[str, str] | None, status: int,
                                                           match: str) -> None:
    from baton.dispatch.feeds import SIGNATURE_HEADERS

    c = carrier_
    if headers is None:
        headers = {SIGNATURE_HEADERS[c.feed_format]: sign(c.webhook_secret, body)}  # type: ignore[attr-defined]
    with pytest.raises(FeedError, match=match) as info:
        parse_feed(c, body, headers)  # type: ignore[arg-type]
    assert info.value.status_code == status


def test_status_path_fills_intermediate_steps_and_ignores_stale_messages() -> None:
    assert status_path(S.PLANNED, "delivered") == [S.DISPATCHED, S.OUT_FOR_DELIVERY, S.ARRIVED, S.DELIVERED]
    assert status_path(S.PLANNED, "picked_up") == [S.DISPATCHED]
    assert status_path(S.OUT_FOR_DELIVERY, "failed_attempt") == [S.ARRIVED, S.FAILED_ATTEMPT]
    assert status_path(S.DISPATCHED, "returned") == [S.OUT_FOR_DELIVERY, S.ARRIVED, S.FAILED_ATTEMPT,
                                                     S.RETURNED_TO_DEPOT]
    assert status_path(S.DELIVERED, "picked_up") == []
    assert status_path(S.OUT_FOR_DELIVERY, "picked_up") == []


def test_webhooks_update_orders_end_to_end(db_url: str) -> None:
    with FakeCarrierServer() as rapido, FakeCarrierServer(pending=True) as zap:
        bus = make_bus(db_url)
        rc = carrier("rapido", endpoint=rapido.url, base=1, feed_format="rapido", webhook_secret="r-secret")
        zc = carrier("zap", endpoint=zap.url, base=2, webhook_secret="z-secret", tender_timeout_s=60)
        bus.handle(commands.RegisterCarriers(at=T0, carriers=[rc, zc]))
        load_rules(bus, CASCADE_3PL)
        bus.handle(commands.CreateOrders(at=T0, orders=[make_order("o-1"), make_order("o-2")]))
        bus.handle(commands.DispatchOrders(at=T0, order_ids=["o-1"]))
        app = FastAPI()
        app.include_router(make_dispatch_router(lambda request: bus, clock=lambda: T0))
        client = TestClient(app)
        url = "/dispatch/carriers/rapido/status"
        pick = rapido_body("COL", ev="e1")
        assert client.post(url, content=pick, headers={"X-Rapido-Assinatura": "bad"}).status_code == 401
        r = client.post(url, content=pick, headers={"X-Rapido-Assinatura": sign("r-secret", pick)})
        assert r.status_code == 202 and r.json() == {"received": 1, "applied": 1}
        # a duplicate delivery of the same message is ignored
        r = client.post(url, content=pick, headers={"X-Rapido-Assinatura": sign("r-secret", pick)})
        assert r.json() == {"received": 1, "applied": 0}
        done = rapido_body("ENT", ev="e2")
        assert client.post(url, content=done, headers={"X-Rapido-Assinatura": sign("r-secret", done)}).status_code \
            == 202
        with bus.uow:
            assert bus.uow.orders.get("o-1").status is S.DELIVERED
        trail = [e for e in client.get("/dispatch/orders/o-1/explain").json()["trail"]
                 if e["event"] in ("order.status_changed", "carrier.status_received")]  # (not custody links)
        statuses = [(e["event"], e.get("to_status") or e.get("status")) for e in trail[-6:]]
        assert statuses == [("order.status_changed", "dispatched"), ("carrier.status_received", "picked_up"),
                            ("order.status_changed", "out_for_delivery"), ("order.status_changed", "arrived"),
                            ("order.status_changed", "delivered"), ("carrier.status_received", "delivered")]
        # o-2 is not rapido's: refused with 409, nothing applied
        other = rapido_body("ENT", order="o-2", ev="e3")
        r = client.post(url, content=other, headers={"X-Rapido-Assinatura": sign("r-secret", other)})
        assert r.status_code == 409 and "not assigned to carrier rapido" in r.json()["error"]
        assert client.post("/dispatch/carriers/nobody/status", content=b"{}").status_code == 404
        assert client.get("/dispatch/orders/o-404/explain").status_code == 404
        # a pending offer to zap answered through the tender endpoint, and a late accept refused
        bus.handle(commands.MarkCarrierDown(at=T0, carrier_id="rapido", reason="test"))
        bus.handle(commands.DispatchOrders(at=T0, order_ids=["o-2"]))
        tender_id = explain_order(bus.uow, "o-2")["tenders"][0]["id"]
        answer = json.dumps({"decision": "accepted"}).encode()
        late = TestClient(_app(bus, T0.replace(hour=10)))
        r = late.post(f"/dispatch/tenders/{tender_id}/response", content=answer,
                      headers={"X-Baton-Signature": "sha256=" + sign("z-secret", answer)})
        assert r.status_code == 409 and r.json()["tender_state"] == "timed_out"
        assert client.post(f"/dispatch/tenders/{tender_id}/response", content=answer).status_code == 401


def _app(bus: object, now: datetime) -> FastAPI:
    app = FastAPI()
    app.include_router(make_dispatch_router(lambda request: bus, clock=lambda: now))  # type: ignore[arg-type,return-value]
    return app


def test_tender_answer_in_time_through_http(db_url: str) -> None:
    with FakeCarrierServer(pending=True) as zap:
        bus = make_bus(db_url)
        bus.handle(commands.RegisterCarriers(at=T0, carriers=[
            carrier("zap", endpoint=zap.url, webhook_secret="z-secret")]))
        load_rules(bus, CASCADE_3PL)
        bus.handle(commands.CreateOrders(at=T0, orders=[make_order("o-1")]))
        bus.handle(commands.DispatchOrders(at=T0))
        tender_id = explain_order(bus.uow, "o-1")["tenders"][0]["id"]
        client = TestClient(_app(bus, T0))
        bad = b'{"decision": "maybe"}'
        r = client.post(f"/dispatch/tenders/{tender_id}/response", content=bad,
                        headers={"X-Baton-Signature": sign("z-secret", bad)})
        assert r.status_code == 400 and "decision" in r.json()["error"]
        ok = b'{"decision": "accepted"}'
        r = client.post(f"/dispatch/tenders/{tender_id}/response", content=ok,
                        headers={"X-Baton-Signature": sign("z-secret", ok)})
        assert r.status_code == 200 and r.json() == {"tender_id": tender_id, "state": "assigned"}
