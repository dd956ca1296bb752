"""Gig networks whose couriers Baton offers orders to directly, on SQLite and PostgreSQL: one courier
at a time (least loaded first), accept / decline / expire -> next courier -> next carrier or fallback,
late accepts refused, and a courier only ever answers their own offers."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from baton.dispatch.tender import TenderClosed
from baton.domain import OrderStatus
from baton.domain.errors import NotFound, ValidationError
from baton.service_layer import commands
from baton.service_layer.dispatch_views import courier_offer_for, driver_offers, explain_order
from dispatch_helpers import T0, carrier, load_rules, make_bus
from factories import make_order

GIG_FIRST = """
version: 1
rules:
  - id: gig
    action: {type: gig, timeout_s: 90, fallback: captive}
default: {type: captive}
"""


def setup(db_url: str, orders: int = 1):  # type: ignore[no-untyped-def]
    bus = make_bus(db_url)
    bus.handle(commands.RegisterCarriers(at=T0, carriers=[
        carrier("captive", "captive", base=20),
        carrier("zap", "gig", base=6, couriers=("c-ana", "c-bia")),
        carrier("moto", "gig", base=7, couriers=("c-caio",))]))
    load_rules(bus, GIG_FIRST)
    bus.handle(commands.CreateOrders(at=T0, orders=[make_order(f"o-{i}") for i in range(orders)]))
    return bus


def test_offers_go_courier_by_courier_and_balance_the_load(db_url: str) -> None:
    bus = setup(db_url, orders=3)
    assert bus.handle(commands.DispatchOrders(at=T0)) == {"tendering": 3}
    ana, bia = driver_offers(bus.uow, "c-ana"), driver_offers(bus.uow, "c-bia")
    # three orders, two couriers of the cheapest network: offers alternate, least loaded first
    assert [o["order_id"] for o in ana] == ["o-2", "o-0"] and [o["order_id"] for o in bia] == ["o-1"]
    offer = bia[0]
    assert offer["carrier"] == "zap" and offer["state"] == "offered" and offer["price"] == 6.0
    assert offer["dropoff"]["lat"] < 0 and offer["parcels"] == 1 and offer["currency"] == "BRL"
    assert datetime.fromisoformat(offer["expires_at"]) == T0 + timedelta(seconds=90)
    assert driver_offers(bus.uow, "c-caio") == []

    assert bus.handle(commands.RespondToTender(at=T0 + timedelta(seconds=20), actor="driver:c-bia",
                                               tender_id=offer["tender_id"], accepted=True,
                                               driver_id="c-bia")) == "assigned"
    with bus.uow:
        order = bus.uow.orders.get("o-1")
    assert order.status is OrderStatus.PLANNED and order.route_id == "carrier:zap"
    trail = [(e.name, e.actor) for e in bus.uow.events_for("o-1")]
    assert trail[-4:] == [("tender.offered", "system:baton"), ("tender.accepted", "driver:c-bia"),
                          ("order.status_changed", "carrier:zap"), ("dispatch.assigned", "driver:c-bia")]
    accepted = [e.payload() for e in bus.uow.events_for("o-1") if e.name == "tender.accepted"]
    assert accepted[0]["driver_id"] == "c-bia"
    # repeating the same answer is a no-op; the open list no longer shows it
    assert bus.handle(commands.RespondToTender(at=T0 + timedelta(seconds=25), tender_id=offer["tender_id"],
                                               accepted=True, driver_id="c-bia")) == "assigned"
    assert driver_offers(bus.uow, "c-bia") == []
    assert [o["state"] for o in driver_offers(bus.uow, "c-bia", open_only=False)] == ["accepted"]


def test_decline_and_expiry_move_to_next_courier_then_next_network_then_fallback(db_url: str) -> None:
    bus = setup(db_url)
    bus.handle(commands.DispatchOrders(at=T0))
    first = courier_offer_for(bus.uow, "o-0", "c-ana")
    # another courier cannot answer it; a carrier-style answer (no courier) is refused too
    with pytest.raises(NotFound):
        bus.handle(commands.RespondToTender(at=T0, tender_id=first, accepted=True, driver_id="c-bia"))
    with pytest.raises(ValidationError, match="only they can answer"):
        bus.handle(commands.RespondToTender(at=T0, tender_id=first, accepted=True))
    assert bus.handle(commands.RespondToTender(at=T0 + timedelta(seconds=10), tender_id=first, accepted=False,
                                               reason="too far", driver_id="c-ana")) == "tendering"
    second = courier_offer_for(bus.uow, "o-0", "c-bia")
    # c-bia lets it lapse: it times out (not counted against the network's breaker) -> next network
    assert bus.handle(commands.ExpireTenders(at=T0 + timedelta(seconds=99))) == 0
    assert bus.handle(commands.ExpireTenders(at=T0 + timedelta(seconds=100))) == 1
    with pytest.raises(TenderClosed, match="timed_out"):  # the late accept is refused cleanly
        bus.handle(commands.RespondToTender(at=T0 + timedelta(seconds=101), tender_id=second, accepted=True,
                                            driver_id="c-bia"))
    third = courier_offer_for(bus.uow, "o-0", "c-caio")
    assert bus.handle(commands.ExpireTenders(at=T0 + timedelta(seconds=300))) == 1
    info = explain_order(bus.uow, "o-0")
    assert [(t["carrier"], t["driver"], t["state"]) for t in info["tenders"]] == [
        ("zap", "c-ana", "rejected"), ("zap", "c-bia", "timed_out"), ("moto", "c-caio", "timed_out")]
    assert info["tenders"][2]["id"] == third
    assert info["process"]["state"] == "captive" and info["process"]["carrier"] == "captive"
    names = [e["event"] for e in info["trail"]]
    assert "tender.late_response_refused" in names and names[-2:] == ["dispatch.exception", "dispatch.assigned"]
    with bus.uow:
        from baton.adapters.carriers.repository import dispatch_store

        assert not dispatch_store(bus.uow).health("zap").down
    assert bus.handle(commands.DispatchOrders(at=T0 + timedelta(seconds=400))) == {}
