"""Tender workflow over real HTTP fake carriers, on SQLite and PostgreSQL: offer -> accept / reject /
timeout -> next candidate, fallbacks, idempotency and late accepts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from baton.adapters.carriers.fake_server import FakeCarrierServer
from baton.dispatch.tender import TenderClosed
from baton.domain import OrderStatus
from baton.service_layer import commands
from baton.service_layer.dispatch_views import explain_order
from dispatch_helpers import CASCADE_3PL, T0, carrier, load_rules, make_bus
from factories import make_order


def events(bus: object, order_id: str) -> list[str]:
    return [e.name for e in bus.uow.events_for(order_id)]  # type: ignore[attr-defined]


def test_reject_moves_to_next_candidate_and_accept_assigns(db_url: str) -> None:
    with FakeCarrierServer(accept_rate=0.0) as cheap, FakeCarrierServer(accept_rate=1.0) as dear:
        bus = make_bus(db_url)
        bus.handle(commands.RegisterCarriers(at=T0, carriers=[
            carrier("cheap", endpoint=cheap.url, base=5), carrier("dear", endpoint=dear.url, base=9)]))
        load_rules(bus, CASCADE_3PL)
        bus.handle(commands.CreateOrders(at=T0, orders=[make_order("o-1")]))
        summary = bus.handle(commands.DispatchOrders(at=T0))
        assert summary == {"assigned": 1}
        with bus.uow:
            order = bus.uow.orders.get("o-1")
        assert order.status is OrderStatus.PLANNED and order.route_id == "carrier:dear"
        assert events(bus, "o-1") == [
            "order.created", "dispatch.decided", "tender.offered", "tender.rejected", "tender.offered",
            "tender.accepted", "order.status_changed", "dispatch.assigned",
        ]
        assert [b["order_id"] for b in cheap.received] == ["o-1"] and len(dear.received) == 1
        info = explain_order(bus.uow, "o-1")
        assert info["process"]["state"] == "assigned" and info["process"]["carrier"] == "dear"
        assert [t["state"] for t in info["tenders"]] == ["rejected", "accepted"]
        explanation = info["decisions"][0]["explanation"]
        assert explanation["fired"] == "to-3pl" and explanation["queue"] == ["cheap", "dear"]
        # dispatching again is a no-op: the order already has a decision
        assert bus.handle(commands.DispatchOrders(at=T0)) == {}


def test_timeout_moves_on_and_late_accept_is_refused(db_url: str) -> None:
    with FakeCarrierServer(pending=True) as slow, FakeCarrierServer(accept_rate=1.0) as fast:
        bus = make_bus(db_url)
        bus.handle(commands.RegisterCarriers(at=T0, carriers=[
            carrier("slow", endpoint=slow.url, base=5, tender_timeout_s=60),
            carrier("fast", endpoint=fast.url, base=9)]))
        load_rules(bus, CASCADE_3PL)
        bus.handle(commands.CreateOrders(at=T0, orders=[make_order("o-1")]))
        assert bus.handle(commands.DispatchOrders(at=T0)) == {"tendering": 1}
        tender_id = explain_order(bus.uow, "o-1")["tenders"][0]["id"]
        assert bus.handle(commands.ExpireTenders(at=T0 + timedelta(seconds=59))) == 0
        assert bus.handle(commands.ExpireTenders(at=T0 + timedelta(seconds=60))) == 1
        with pytest.raises(TenderClosed, match="timed_out"):
            bus.handle(commands.RespondToTender(at=T0 + timedelta(seconds=61), tender_id=tender_id, accepted=True))
        info = explain_order(bus.uow, "o-1")
        assert info["process"]["carrier"] == "fast" and info["process"]["state"] == "assigned"
        trail = [e["event"] for e in info["trail"]]
        assert trail.count("tender.timed_out") == 1 and trail[-1] == "tender.late_response_refused"


def test_pending_accept_in_time_assigns_and_repeat_is_idempotent(db_url: str) -> None:
    with FakeCarrierServer(pending=True) as slow:
        bus = make_bus(db_url)
        bus.handle(commands.RegisterCarriers(at=T0, carriers=[carrier("slow", endpoint=slow.url)]))
        load_rules(bus, CASCADE_3PL)
        bus.handle(commands.CreateOrders(at=T0, orders=[make_order("o-1")]))
        bus.handle(commands.DispatchOrders(at=T0))
        tender_id = explain_order(bus.uow, "o-1")["tenders"][0]["id"]
        at = T0 + timedelta(seconds=30)
        assert bus.handle(commands.RespondToTender(at=at, tender_id=tender_id, accepted=True)) == "assigned"
        n = len(events(bus, "o-1"))
        assert bus.handle(commands.RespondToTender(at=at, tender_id=tender_id, accepted=True)) == "assigned"
        assert len(events(bus, "o-1")) == n
        with pytest.raises(TenderClosed, match="accepted"):
            bus.handle(commands.RespondToTender(at=at, tender_id=tender_id, accepted=False))
        # an accepted tender never times out
        assert bus.handle(commands.ExpireTenders(at=T0 + timedelta(hours=1))) == 0


@pytest.mark.parametrize(("fallback", "state"), [("captive", "captive"), ("unassigned", "unassigned")])
def test_every_offer_refused_applies_the_fallback(db_url: str, fallback: str, state: str) -> None:
    with FakeCarrierServer(accept_rate=0.0) as nope:
        bus = make_bus(db_url)
        bus.handle(commands.RegisterCarriers(at=T0, carriers=[
            carrier("nope", endpoint=nope.url), carrier("captive", "captive", base=50)]))
        load_rules(bus, CASCADE_3PL.replace("fallback: unassigned", f"fallback: {fallback}"))
        bus.handle(commands.CreateOrders(at=T0, orders=[make_order("o-1")]))
        assert bus.handle(commands.DispatchOrders(at=T0)) == {state: 1}
        info = explain_order(bus.uow, "o-1")
        with bus.uow:
            assert bus.uow.orders.get("o-1").status is OrderStatus.CREATED
        exceptions = [e for e in info["trail"] if e["event"] == "dispatch.exception"]
        assert len(exceptions) == 1 and "tried: nope" in exceptions[0]["message"]
        if state == "unassigned":
            assert "tried: nope" in info["process"]["reason"]
            # once a carrier is willing, the order can be dispatched again
            nope.accept_rate = 1.0
            assert bus.handle(commands.DispatchOrders(at=T0, order_ids=["o-1"])) == {"assigned": 1}
            assert len(explain_order(bus.uow, "o-1")["decisions"]) == 2


def test_unreachable_carrier_fails_over_and_counts_against_its_breaker(db_url: str) -> None:
    with FakeCarrierServer() as down, FakeCarrierServer() as up:
        down.outage = True
        bus = make_bus(db_url)
        bus.handle(commands.RegisterCarriers(at=T0, carriers=[
            carrier("down", endpoint=down.url, base=1), carrier("up", endpoint=up.url, base=9)]))
        load_rules(bus, CASCADE_3PL)
        bus.handle(commands.CreateOrders(at=T0, orders=[make_order(f"o-{i}") for i in range(4)]))
        assert bus.handle(commands.DispatchOrders(at=T0)) == {"assigned": 4}
        # three failed offers open the breaker; the fourth offer of the same round is not even sent
        assert len(down.received) == 0
        first = [e["event"] for e in explain_order(bus.uow, "o-0")["trail"]]
        assert "tender.failed" in first
        last = explain_order(bus.uow, "o-3")["tenders"]
        assert [(t["carrier"], t["state"]) for t in last] == [("down", "failed"), ("up", "accepted")]
        assert last[0]["reason"] == "not sent: circuit breaker open"
        assert [e.name for e in bus.uow.events_for("down")] == ["carrier.registered", "carrier.down"]
        # later orders are not offered to it at all: the decision excludes it
        bus.handle(commands.CreateOrders(at=T0, orders=[make_order("o-9")]))
        bus.handle(commands.DispatchOrders(at=T0))
        later = explain_order(bus.uow, "o-9")
        assert [t["carrier"] for t in later["tenders"]] == ["up"]
        excluded = later["decisions"][0]["explanation"]["candidates"]
        assert next(c for c in excluded if c["carrier"] == "down")["excluded"].startswith("circuit breaker open")


def test_daily_capacity_and_captive_queue(db_url: str) -> None:
    from baton.service_layer.dispatch_views import captive_order_ids

    with FakeCarrierServer() as small, FakeCarrierServer() as big:
        bus = make_bus(db_url)
        bus.handle(commands.RegisterCarriers(at=T0, carriers=[
            carrier("small", endpoint=small.url, base=5, daily_capacity=1),
            carrier("big", endpoint=big.url, base=9, daily_capacity=1), carrier("captive", "captive", base=50)]))
        load_rules(bus, CASCADE_3PL.replace("default: {type: captive}", "default: {type: captive}\n")
                   .replace("fallback: unassigned", "fallback: captive"))
        bus.handle(commands.CreateOrders(at=T0, orders=[make_order(f"o-{i}") for i in range(3)]))
        bus.handle(commands.DispatchOrders(at=T0))
        carriers = {i: explain_order(bus.uow, f"o-{i}")["process"]["carrier"] for i in range(3)}
        assert carriers == {0: "small", 1: "big", 2: "captive"}
        excluded = explain_order(bus.uow, "o-2")["decisions"][0]["explanation"]["candidates"]
        assert {c["carrier"]: c["excluded"] for c in excluded}["small"] == "no capacity left today"
        assert captive_order_ids(bus.uow) == ["o-2"]
        # the next day the capacity is there again
        bus.handle(commands.CreateOrders(at=T0, orders=[make_order("o-9")]))
        bus.handle(commands.DispatchOrders(at=T0 + timedelta(days=1)))
        assert explain_order(bus.uow, "o-9")["process"]["carrier"] == "small"
