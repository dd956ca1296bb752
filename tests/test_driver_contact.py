"""Driver app gaps over HTTP: a cancelled stop bumps the route version and is pushed as ``route_changed``;
in-app customer contact (``POST /api/v1/driver/stops/{order_id}/message``) goes through the notification
outbox to the fake SMS provider and the local SMTP server (own stops only, idempotent, rate-limited, quiet
hours and opt-out respected); the masked-call link when ``BATON_CONTACT_PROXY_NUMBER`` is set."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from baton.adapters.channels.smtp import SmtpChannel
from baton.adapters.channels.twilio import TwilioChannel
from baton.notify import outbox, store
from baton.notify.model import NotifySettings, Preference
from baton.notify.sender import RetryPolicy, Sender
from notify_support import SID, TOKEN, fake_twilio, smtp_server
from prove_support import app_with_store, dispatched_day
from test_api_support import PASSWORD, login, make_tenant, order_body, seed_fleet


def _events(client: TestClient, headers: dict[str, str], max_s: float = 0.3) -> list[tuple[str, dict[str, Any]]]:
    out = []
    with client.stream("GET", f"/api/v1/driver/events?max_s={max_s}", headers=headers) as r:
        assert r.status_code == 200
        text = "".join(r.iter_text())
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if "event" in lines:
            out.append((lines["event"], json.loads(lines.get("data", "{}"))))
    return out


def test_a_cancelled_stop_bumps_the_route_version_and_is_pushed(db_url: str, tmp_path: Path) -> None:
    app = app_with_store(db_url, tmp_path)
    with TestClient(app) as client:
        acme, _plan = dispatched_day(client, app, orders=3)
        drv = acme.headers["driver"]
        route = client.get("/api/v1/driver/route", headers=drv).json()
        assert route["version"] == 1
        assert [e for e in _events(client, drv) if e[0] == "route_changed"] == []
        victim = route["stops"][1]["order_id"]
        r = client.post(f"/api/v1/orders/{victim}/cancel", headers=acme.headers["dispatcher"],
                        json={"reason": "customer"})
        assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
        changed = [data for name, data in _events(client, drv) if name == "route_changed"]
        assert changed == [{"route_id": route["route_id"], "version": 2, "changed_order_ids": [victim]}]
        again = client.get("/api/v1/driver/route", headers=drv).json()
        assert again["version"] == 2
        assert {s["order_id"]: s["status"] for s in again["stops"]}[victim] == "cancelled"
        assert [e for e in _events(client, drv) if e[0] == "route_changed"] == []  # nothing new: no event


World = tuple[FastAPI, TestClient, Any, str]


def _enable(app: FastAPI, **kw: Any) -> None:
    sessions = app.state.ctx.sessions
    with sessions() as session, session.begin():
        store.save_settings(session, NotifySettings(org_id="acme", tracking_base_url="http://track.test",
                                                    quiet_start="00:00", quiet_end="00:00", **kw))
        store.save_preference(session, "acme", Preference("+5561990000003", opted_out=True))


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    outbox.install()
    app = app_with_store(db_url, tmp_path)
    with TestClient(app) as client:
        acme = make_tenant(app, client, "acme")
        admin = acme.headers["admin"]
        seed_fleet(client, admin)
        rows = [order_body("o-sms", customer={"name": "Ana Souza", "phone": "+5561990000001", "language": "pt-BR"}),
                order_body("o-mail", -15.80, customer={"name": "Bob Stone", "phone": "+5561990000002",
                                                       "email": "bob@example.com", "language": "en"}),
                order_body("o-out", -15.81, customer={"name": "Caio Reis", "phone": "+5561990000003"})]
        assert not client.post("/api/v1/orders/batch", headers=admin, json={"orders": rows}).json()["errors"]
        plan = client.post("/api/v1/plans", headers=admin,
                           json={"time_limit_s": 1, "day_start": "2026-03-02T00:00:00-03:00"}).json()
        route_id = plan["routes"][0]["id"]
        assert client.post(f"/api/v1/routes/{route_id}/dispatch", headers=acme.headers["dispatcher"]).status_code \
            in (200, 202)
        yield app, client, acme, route_id


def _send(app: FastAPI, tmp_path: Path) -> tuple[list[dict[str, str]], list[Any]]:
    with smtp_server(tmp_path) as box, fake_twilio() as fake:
        channels = {"email": SmtpChannel("127.0.0.1", box.port, username="baton", password="s3cret",
                                         ssl_context=box.ssl_context),
                    "sms": TwilioChannel(fake.url, SID, TOKEN, "+15005550006")}
        Sender(app.state.ctx.sessions, channels, retry=RetryPolicy(attempts=2), sleep=lambda s: None).run_once()
    return fake.accepted, box.messages


def test_driver_messages_the_customer_through_the_outbox(world: World, tmp_path: Path) -> None:
    app, client, acme, _route_id = world
    drv = acme.headers["driver"]
    url = "/api/v1/driver/stops/{}/message"
    # notifications off: a clear 409, nothing queued
    r = client.post(url.format("o-sms"), headers=drv, json={"template": "at_door"})
    assert r.status_code == 409 and "notifications" in r.json()["detail"]
    _enable(app)
    r = client.post(url.format("o-sms"), headers=drv, json={"template": "at_door", "client_message_id": "m-1"})
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["channel"] == "sms" and first["status"] == "pending" and not first["duplicate"]
    retry = client.post(url.format("o-sms"), headers=drv, json={"template": "at_door", "client_message_id": "m-1"})
    assert retry.json()["message_id"] == first["message_id"] and retry.json()["duplicate"]
    mail = client.post(url.format("o-mail"), headers=drv,
                       json={"template": "cannot_find_address", "text": "Is it  the blue gate?"}).json()
    assert mail["channel"] == "email"
    out = client.post(url.format("o-out"), headers=drv, json={"template": "arriving_soon"}).json()
    assert (out["status"], out["status_reason"]) == ("suppressed", "opted_out")

    texts, mails = _send(app, tmp_path)
    assert [(t["To"], "Estou na sua porta" in t["Body"]) for t in texts] == [("+5561990000001", True)]
    assert len(mails) == 1 and mails[0]["To"] == "bob@example.com"
    body = mails[0].get_body(preferencelist=("plain",)).get_content()
    assert "I can't find your address" in body and '"Is it the blue gate?"' in body

    # bad input names the field; only drivers, only their own stops
    bad = client.post(url.format("o-sms"), headers=drv, json={"template": "call_me"})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("template:")
    assert client.post(url.format("o-sms"), headers=drv, json={"template": "at_door", "text": "x" * 301}) \
        .json()["detail"].startswith("text:")
    assert client.post(url.format("o-nope"), headers=drv, json={"template": "at_door"}).status_code == 404
    assert client.post(url.format("o-sms"), headers=acme.headers["dispatcher"],
                       json={"template": "at_door"}).status_code == 403
    app.state.ctx.accounts.create_user("acme", "other@acme.example.com", PASSWORD, "driver", driver_id="drv-9")
    other = login(client, "other@acme.example.com")
    denied = client.post(url.format("o-sms"), headers=other, json={"template": "at_door"})
    assert denied.status_code == 403 and "not a stop on your route" in denied.json()["detail"]

    # rate limit per stop: the 4th message within 10 min answers 429 with Retry-After
    for _ in range(2):
        assert client.post(url.format("o-sms"), headers=drv, json={"template": "arriving_soon"}).status_code == 200
    limited = client.post(url.format("o-sms"), headers=drv, json={"template": "arriving_soon"})
    assert limited.status_code == 429 and 0 < int(limited.headers["Retry-After"]) <= 600
    assert client.post(url.format("o-mail"), headers=drv, json={"template": "at_door"}).status_code == 200


def test_quiet_hours_defer_and_the_masked_call_link(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    app, client, acme, _route_id = world
    drv = acme.headers["driver"]
    now = datetime.now(UTC).astimezone(ZoneInfo("America/Sao_Paulo"))
    start, end = (now - timedelta(hours=1)).strftime("%H:%M"), (now + timedelta(hours=1)).strftime("%H:%M")
    sessions = app.state.ctx.sessions
    with sessions() as session, session.begin():
        store.save_settings(session, NotifySettings(org_id="acme", tracking_base_url="http://track.test",
                                                    quiet_start=start, quiet_end=end))
    r = client.post("/api/v1/driver/stops/o-sms/message", headers=drv, json={"template": "arriving_soon"}).json()
    assert (r["status"], r["status_reason"]) == ("pending", "quiet_hours")
    assert datetime.fromisoformat(r["not_before"]) > datetime.now(UTC)

    stop = client.get("/api/v1/driver/route", headers=drv).json()["stops"][0]
    assert stop["contact"] == {"message_templates": ["arriving_soon", "cannot_find_address", "at_door"],
                               "call_url": None, "short_code": None}
    monkeypatch.setenv("BATON_CONTACT_PROXY_NUMBER", "+556130001234")
    stop = client.get("/api/v1/driver/route", headers=drv).json()["stops"][0]
    code = stop["contact"]["short_code"]
    assert re.fullmatch(r"\d{6}", code) and stop["contact"]["call_url"] == f"tel:+556130001234,,{code}#"
