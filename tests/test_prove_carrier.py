"""Carrier (3PL) PODs from status feeds: evidence recorded through the webhook, compliance per carrier
(API and ``baton prove compliance --json``), custody chain verified (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from baton.adapters.carriers.fake_server import FakeCarrierServer
from baton.adapters.objectstore.fs import FileSystemObjectStore
from baton.adapters.prove_records import ProveRecords
from baton.dispatch.feeds import sign
from baton.entrypoints.api_dispatch import make_dispatch_router
from baton.entrypoints.cli import app as cli_app
from baton.prove.carrier_pod import compliance
from baton.service_layer import commands
from baton.service_layer.prove_views import verify_order_chain
from dispatch_helpers import CASCADE_3PL, T0, carrier, load_rules, make_bus
from factories import make_order


def _rapido(code: str, order: str, ev: str, pod: dict[str, Any] | None = None) -> bytes:
    event: dict[str, Any] = {"id": ev, "pedido": order, "codigo": code, "data_hora": "2026-03-02T10:15:00-03:00"}
    if pod is not None:
        event["comprovante"] = pod
    return json.dumps({"evento": event}).encode()


def test_feed_pods_carry_evidence_and_score_compliance(db_url: str, tmp_path: Any) -> None:
    with FakeCarrierServer() as rapido:
        bus = make_bus(db_url)
        bus.handle(commands.RegisterCarriers(at=T0, carriers=[
            carrier("rapido", endpoint=rapido.url, base=1, feed_format="rapido", webhook_secret="r-secret")]))
        load_rules(bus, CASCADE_3PL)
        bus.handle(commands.CreateOrders(at=T0, orders=[make_order("o-1"), make_order("o-2")]))
        bus.handle(commands.DispatchOrders(at=T0, order_ids=["o-1", "o-2"]))
        api = FastAPI()
        api.include_router(make_dispatch_router(lambda request: bus, clock=lambda: T0))
        client = TestClient(api)

        def post(body: bytes) -> None:
            r = client.post("/dispatch/carriers/rapido/status", content=body,
                            headers={"X-Rapido-Assinatura": sign("r-secret", body)})
            assert r.status_code == 202, r.text

        complete = {"recebedor": "Ana Souza", "parentesco": "porteira", "assinatura_url": "https://r.example/s/1.png",
                    "fotos": ["https://r.example/p/1.jpg"], "lat": -15.79, "lng": -47.88}
        post(_rapido("COL", "o-1", "e1"))
        post(_rapido("ENT", "o-1", "e2", complete))
        with bus.uow:
            rec = ProveRecords(bus.uow.session, bus.uow.org_id)  # type: ignore[attr-defined]
            [score] = compliance(rec.carrier_pods())
            latest = [p for p in rec.pods_of("o-1") if p.source == "carrier"][-1]
        assert (score.carrier_id, score.deliveries, score.complete, score.score) == ("rapido", 1, 1, 1.0)
        assert latest.complete and latest.recipient_name == "Ana Souza" and latest.recipient_relation == "porteira"
        assert "https://r.example/p/1.jpg" in (latest.notes or "") and latest.distance_m is not None

        post(_rapido("ENT", "o-2", "e3"))  # delivered without any POD data
        post(_rapido("ENT", "o-2", "e3"))
        post(_rapido("ENT", "o-1", "e2", complete))  # a retried message: no second POD
        with bus.uow:
            rec = ProveRecords(bus.uow.session, bus.uow.org_id)  # type: ignore[attr-defined]
            [score] = compliance(rec.carrier_pods())
            assert len([p for p in rec.pods_of("o-1") if p.complete]) == 1
            assert len(rec.pods_of("o-2")) == 1
            chains = [verify_order_chain(bus.uow, FileSystemObjectStore(tmp_path), o)  # type: ignore[arg-type]
                      for o in ("o-1", "o-2")]
        assert (score.deliveries, score.complete, score.missing) == (2, 1, ["o-2"])
        assert score.score == 0.5
        assert all(c["valid"] for c in chains), [c["problems"] for c in chains]
        assert [link["kind"] for link in chains[0]["chain"]][-1] == "delivered"

        res = CliRunner().invoke(cli_app, ["prove", "compliance", "--json", "--database-url", db_url])
        assert res.exit_code == 0, res.output
        data = json.loads(res.stdout)
        assert data["carriers"] == [{"carrier_id": "rapido", "deliveries": 2, "complete_pods": 1, "score": 0.5,
                                     "incomplete_order_ids": ["o-2"]}]
