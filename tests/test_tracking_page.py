"""The tracking page router in a minimal FastAPI app: signed links, live status, customer actions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from baton.adapters import orm_execute, orm_notify
from baton.adapters.channels.twilio import TwilioChannel
from baton.adapters.travel.greatcircle import GreatCircleProvider
from baton.entrypoints.web.tracking import configure_tracking, router
from baton.notify.model import NotifySettings
from baton.notify.outbox import tracking_url
from baton.notify.sender import RetryPolicy, Sender
from baton.notify.tokens import make_token
from baton.service_layer import commands
from baton.service_layer.messagebus import MessageBus
from factories import local
from notify_support import SID, TOKEN, fake_twilio, messages, planned_day, start_day

SETTINGS = NotifySettings(tracking_base_url="http://testserver", quiet_start="00:00", quiet_end="00:00",
                          brand_name="Loja Azul")


class Clock:
    def __init__(self) -> None:
        self.now = local(7, 10)

    def __call__(self) -> Any:
        return self.now


@pytest.fixture
def day(db_url: str) -> Iterator[tuple[MessageBus, str, TestClient, Clock]]:
    bus, route_id = planned_day(db_url, SETTINGS)
    app = FastAPI()
    app.include_router(router)
    clock = Clock()
    configure_tracking(app, bus.uow.session_factory, GreatCircleProvider(), clock)  # type: ignore[attr-defined]
    with TestClient(app) as client:
        yield bus, route_id, client, clock


def _settings(bus: MessageBus) -> NotifySettings:
    from baton.notify import store

    with bus.uow.session_factory() as session:  # type: ignore[attr-defined]
        found = store.load_settings(session, "default")
    assert found is not None
    return found


def _link(bus: MessageBus, order_id: str) -> str:
    return tracking_url(_settings(bus), order_id, local(7)).removeprefix("http://testserver")


def test_the_link_from_the_message_opens_the_page_in_the_customers_language(day: Any) -> None:
    bus, _route_id, client, _clock = day
    link = messages(bus, order_id="o-ana")[0]["body"].split("Acompanhe sua entrega: ")[1].strip()
    page = client.get(link.removeprefix("http://testserver"))
    assert page.status_code == 200
    html = page.text
    assert '<html lang="pt-BR">' in html and "Loja Azul" in html and "PED-ANA" in html
    assert 'id="status" aria-live="polite">Agendado<' in html
    assert 'id="eta-from">' in html and "Histórico" in html
    bob = client.get(_link(bus, "o-bob")).text
    assert 'id="status" aria-live="polite">Scheduled<' in bob


def test_tampered_and_expired_links_are_refused(day: Any) -> None:
    bus, _, client, clock = day
    link = _link(bus, "o-bob")
    payload, sig = link.removeprefix("/t/").split(".")
    forged = make_token("o-ana", "default", local(23), "not-the-secret")
    assert client.get(f"/t/{payload}.{sig[:-2]}xx").status_code == 404
    assert client.get(f"/t/{forged}").status_code == 404
    assert client.get("/t/garbage").status_code == 404
    expired = make_token("o-bob", "default", local(7), _settings(bus).signing_secret)
    clock.now = local(7, 30)
    response = client.get(f"/t/{expired}", headers={"Accept-Language": "en"})
    assert response.status_code == 410 and "This link has expired." in response.text


def test_live_status_and_driver_position_only_within_the_last_stops(day: Any) -> None:
    bus, route_id, client, _clock = day
    start_day(bus, route_id)
    with bus.uow:
        route = bus.uow.plans.get_route(route_id)
    first, *_, last = route.order_ids
    with bus.uow.session_factory() as session, session.begin():  # type: ignore[attr-defined]
        session.execute(insert(orm_execute.vehicle_positions).values(
            org_id="default", vehicle_id="v-1", device_id="phone-1", ts=local(8, 5), lat=-15.70, lng=-47.85,
            accuracy_m=5.0, speed_mps=8.0, heading_deg=90.0, received_at=local(8, 5)))
    far = client.get(f"{_link(bus, last)}/status.json").json()
    near = client.get(f"{_link(bus, first)}/status.json").json()
    assert far["status"] == near["status"] == "out_for_delivery"
    assert far["stops_before"] == 3 and near["stops_before"] == 0
    assert near["driver_position"] == [-15.70, -47.85] and near["distance_km"] > 0
    assert near["eta_from"] and near["driver_first_name"] == "Paulo"
    bus.handle(commands.ArriveAtStop(at=local(8, 20), route_id=route_id, order_id=first))
    bus.handle(commands.CompleteDelivery(at=local(8, 24), route_id=route_id, order_id=first))
    stream = client.get(f"{_link(bus, first)}/events?max_s=0")
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.text.startswith("event: status\ndata: {") and '"status": "delivered"' in stream.text


def test_customer_actions_go_through_the_service_layer(day: Any) -> None:
    bus, route_id, client, _clock = day
    link = _link(bus, "o-dora")
    r = client.post(f"{link}/instructions", data={"instructions": "Portão 42, deixar com o porteiro",
                                                  "safe_place": "on"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("?done=instructions#instructions")
    with bus.uow:
        dora = bus.uow.orders.get("o-dora")
        assert dora.notes == "Portão 42, deixar com o porteiro" and "safe_place_ok" in dora.tags
        assert bus.uow.events_for("o-dora")[-1].name == "order.updated"
    # reschedule to an offered slot: the plan changes
    page = client.get(link).text
    assert 'name="slot"' in page
    slot = next(s for s in page.split('value="')[1:] if s.startswith("2026-03-02T14:00")).split('"')[0]
    r = client.post(f"{link}/reschedule", data={"slot": slot}, follow_redirects=False)
    assert r.status_code == 303 and "error" not in r.headers["location"]
    with bus.uow:
        dora = bus.uow.orders.get("o-dora")
        route = bus.uow.plans.get_route(route_id)
    assert (dora.time_windows[0].start, dora.time_windows[0].end) == (local(14), local(16))
    assert route.order_ids[-1] == "o-dora" and route.stop_for("o-dora").planned_arrival == local(14)
    assert route.end >= local(14)
    assert [s.sequence for s in route.stops] == list(range(1, len(route.stops) + 1))
    # an unavailable slot is refused with a clear message, nothing changes
    r = client.post(f"{link}/reschedule", data={"slot": "2026-03-02T03:00:00-03:00/2026-03-02T05:00:00-03:00"},
                    follow_redirects=False)
    assert "error=slot" in r.headers["location"]
    # cancel while planned; refused once out for delivery
    assert client.post(f"{_link(bus, 'o-caio')}/cancel", follow_redirects=False).status_code == 303
    start_day(bus, route_id)
    r = client.post(f"{_link(bus, 'o-bob')}/cancel", follow_redirects=False)
    assert "error=" in r.headers["location"]
    with bus.uow:
        assert bus.uow.orders.get("o-caio").status == "cancelled"
        assert bus.uow.orders.get("o-bob").status == "out_for_delivery"
        assert "o-caio" not in bus.uow.plans.get_route(route_id).order_ids


def test_csat_after_delivery_is_stored_with_driver_and_route(day: Any) -> None:
    bus, route_id, client, _clock = day
    link = _link(bus, "o-bob")
    r = client.post(f"{link}/rating", data={"rating": "5"}, follow_redirects=False)
    assert "error=" in r.headers["location"]  # not delivered yet
    start_day(bus, route_id)
    bus.handle(commands.ArriveAtStop(at=local(9), route_id=route_id, order_id="o-bob"))
    bus.handle(commands.CompleteDelivery(at=local(9, 3), route_id=route_id, order_id="o-bob"))
    page = client.get(link).text
    assert "Proof of delivery" in page and "Delivered at 09:03" in page
    assert client.post(f"{link}/rating", data={"rating": "9"}, follow_redirects=False).headers[
        "location"].count("rating") >= 1
    r = client.post(f"{link}/rating", data={"rating": "4", "comment": "Rápido e educado"}, follow_redirects=False)
    assert r.headers["location"].endswith("?done=rating#rating")
    with bus.uow.session_factory() as session:  # type: ignore[attr-defined]
        row = session.execute(select(orm_notify.csat)).one()
    assert (row.order_id, row.rating, row.comment, row.driver_id, row.route_id) == (
        "o-bob", 4, "Rápido e educado", "d-1", route_id)
    with bus.uow:
        assert bus.uow.events_for("o-bob")[-1].name == "order.rated"


def test_provider_delivery_receipts_update_the_message_log(day: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    bus, _route_id, client, _clock = day
    url = "http://testserver/t/hooks/twilio/status"
    monkeypatch.setenv("BATON_TWILIO_AUTH_TOKEN", TOKEN)
    with fake_twilio() as fake:
        Sender(bus.uow.session_factory, {"sms": TwilioChannel(fake.url, SID, TOKEN, "+1500")},  # type: ignore[attr-defined]
               retry=RetryPolicy(attempts=1)).run_once(now=local(7, 5))
        form, signature = fake.callback(fake.accepted[0]["sid"], "delivered", url)
        assert client.post("/t/hooks/twilio/status", data=form,
                           headers={"X-Twilio-Signature": "forged"}).status_code == 403
        assert client.post("/t/hooks/twilio/status", data=form,
                           headers={"X-Twilio-Signature": signature}).status_code == 200
    caio = messages(bus, order_id="o-caio")[0]
    assert caio["status"] == "delivered" and caio["delivered_at"] is not None
    assert caio["provider_id"] == fake.accepted[0]["sid"]

