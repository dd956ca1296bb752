"""Carrier health and failover over real HTTP fake carriers, on SQLite and PostgreSQL.

The issue's scenario: a 3PL goes down mid-day with 200 open orders; Baton detects it and re-tenders
all 200 to other resources within the simulated minute, each with its decision trail."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from baton.adapters.carriers.fake_server import FakeCarrierServer
from baton.domain import OrderStatus
from baton.domain.events import Event
from baton.service_layer import commands
from baton.service_layer.dispatch_views import explain_order
from dispatch_helpers import CASCADE_3PL, carrier, load_rules, make_bus
from factories import local, make_orders

RETENDER_TRAIL = ["tender.withdrawn", "order.status_changed", "dispatch.exception", "dispatch.decided",
                  "tender.offered", "tender.accepted", "order.status_changed", "dispatch.assigned"]


def test_3pl_down_mid_day_with_200_open_orders_all_retendered_within_the_minute(db_url: str) -> None:
    start = local(11, 50)
    with FakeCarrierServer(accept_rate=1.0) as acme, FakeCarrierServer(accept_rate=1.0, seed=3) as backup:
        bus = make_bus(db_url)
        bus.handle(commands.RegisterCarriers(at=start, carriers=[
            carrier("acme", endpoint=acme.url, base=5), carrier("backup", endpoint=backup.url, base=8)]))
        load_rules(bus, CASCADE_3PL, start)
        bus.handle(commands.CreateOrders(at=start, orders=make_orders(200)))
        assert bus.handle(commands.DispatchOrders(at=start)) == {"assigned": 200}
        assert len(acme.received) == 200 and backup.received == []
        # mid-day: healthy checks, then acme goes down at 12:00:00
        assert bus.handle(commands.CheckCarrierHealth(at=local(11, 59)))["down"] == []
        outage = local(12)
        acme.outage = True
        detected = None
        for k in range(1, 5):  # the health check runs every 15 simulated seconds
            result = bus.handle(commands.CheckCarrierHealth(at=outage + timedelta(seconds=15 * k)))
            if result["down"]:
                detected = outage + timedelta(seconds=15 * k)
                assert result == {"down": ["acme"], "retendered": 200}
                break
        assert detected is not None and detected - outage <= timedelta(seconds=60)
        assert len(backup.received) == 200
        incident = bus.uow.events_for("acme")
        assert [e.name for e in incident] == ["carrier.registered", "carrier.down"]
        assert incident[1].payload()["open_orders"] == 200
        with bus.uow:
            orders = bus.uow.orders.list()
        assert {o.route_id for o in orders} == {"carrier:backup"}
        assert {o.status for o in orders} == {OrderStatus.PLANNED}
        trails: dict[str, list[Event]] = defaultdict(list)
        for event in bus.uow.all_events():
            trails[event.aggregate_id].append(event)
        window = (outage, outage + timedelta(seconds=60))
        for order in orders:
            tail = trails[order.id][-len(RETENDER_TRAIL):]
            assert [e.name for e in tail] == RETENDER_TRAIL, order.id
            assert all(window[0] <= e.occurred_at <= window[1] for e in tail), order.id
            decided = [e.payload() for e in trails[order.id] if e.name == "dispatch.decided"]
            assert [d["queue"] for d in decided] == [["acme", "backup"], ["backup"]]
        info = explain_order(bus.uow, orders[0].id)  # what `baton dispatch explain` shows
        assert info["process"] == {**info["process"], "carrier": "backup", "state": "assigned"}
        assert [t["state"] for t in info["tenders"]] == ["withdrawn", "accepted"]
        assert info["decisions"][1]["explanation"]["candidates"][0]["excluded"].startswith("circuit breaker open")
        # the failed probes did not reach the tender API; nothing new was offered to acme
        assert len(acme.received) == 200


def test_silent_feed_opens_breaker_then_half_open_probe_recovers(db_url: str) -> None:
    start = local(8)
    with FakeCarrierServer() as acme, FakeCarrierServer() as backup:
        bus = make_bus(db_url)
        bus.handle(commands.RegisterCarriers(at=start, carriers=[
            carrier("acme", endpoint=acme.url, base=5), carrier("backup", endpoint=backup.url, base=8)]))
        load_rules(bus, CASCADE_3PL, start)
        bus.handle(commands.CreateOrders(at=start, orders=make_orders(3)))
        bus.handle(commands.DispatchOrders(at=start))
        # probes succeed, but no status message for 15 minutes with open orders -> down
        assert bus.handle(commands.CheckCarrierHealth(at=start + timedelta(minutes=14)))["down"] == []
        result = bus.handle(commands.CheckCarrierHealth(at=start + timedelta(minutes=15)))
        assert result == {"down": ["acme"], "retendered": 3}
        assert "silent" in bus.uow.events_for("acme")[1].payload()["reason"]
        # still open during the cooldown (no probe), half-open probe after it: healthy -> recovered
        assert bus.handle(commands.CheckCarrierHealth(at=start + timedelta(minutes=16)))["down"] == ["acme"]
        assert bus.handle(commands.CheckCarrierHealth(at=start + timedelta(minutes=18)))["down"] == []
        assert [e.name for e in bus.uow.events_for("acme")] == ["carrier.registered", "carrier.down",
                                                                "carrier.recovered"]


def test_half_open_probe_failure_reopens_and_operator_can_mark_down(db_url: str) -> None:
    start = local(8)
    with FakeCarrierServer() as acme, FakeCarrierServer() as backup:
        bus = make_bus(db_url)
        bus.handle(commands.RegisterCarriers(at=start, carriers=[
            carrier("acme", endpoint=acme.url, base=5), carrier("backup", endpoint=backup.url, base=8)]))
        load_rules(bus, CASCADE_3PL, start)
        bus.handle(commands.CreateOrders(at=start, orders=make_orders(2)))
        bus.handle(commands.DispatchOrders(at=start))
        assert bus.handle(commands.MarkCarrierDown(at=start, carrier_id="acme", reason="strike")) == 2
        acme.drop_connections = True
        later = start + timedelta(minutes=3)
        assert bus.handle(commands.CheckCarrierHealth(at=later))["down"] == ["acme"]
        assert bus.handle(commands.CheckCarrierHealth(at=later + timedelta(seconds=30)))["down"] == ["acme"]
        acme.drop_connections = False
        assert bus.handle(commands.CheckCarrierHealth(at=later + timedelta(minutes=2)))["down"] == []
        with bus.uow:
            assert {o.route_id for o in bus.uow.orders.list()} == {"carrier:backup"}
