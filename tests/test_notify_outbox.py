"""The outbox: messages are written with the events that cause them, per customer preferences."""

from __future__ import annotations

from datetime import timedelta

import pytest

from baton.domain.events import Event
from baton.notify.model import NotifySettings, Preference
from baton.service_layer import commands
from baton.service_layer.unit_of_work import BEFORE_COMMIT_HOOKS
from factories import local
from notify_support import messages, planned_day, start_day


def test_planning_writes_one_message_per_customer_in_its_language_deferred_past_quiet_hours(db_url: str) -> None:
    bus, _ = planned_day(db_url)
    rows = messages(bus, kind="order_planned")
    assert sorted(r["order_id"] for r in rows) == ["o-ana", "o-bob", "o-caio", "o-dora"]
    by_order = {r["order_id"]: r for r in rows}
    assert by_order["o-ana"]["channel"] == "email" and by_order["o-ana"]["language"] == "pt-BR"
    assert "Olá Ana" in by_order["o-ana"]["body"] and "PED-ANA" in by_order["o-ana"]["body"]
    assert by_order["o-ana"]["html"] and "<a href=\"http://track.test/t/" in by_order["o-ana"]["html"]
    assert by_order["o-bob"]["subject"] == "Your Baton delivery is scheduled"
    assert by_order["o-caio"]["channel"] == "sms"  # no e-mail: the next channel with a contact
    assert [f["channel"] for f in by_order["o-ana"]["fallbacks"]] == ["sms"]
    # planned at 07:00 Brasília, inside quiet hours 21:00-08:00: deferred, not dropped
    assert all(r["status"] == "pending" and r["status_reason"] == "quiet_hours" for r in rows)
    assert all(r["not_before"] == local(8) for r in rows)


def test_messages_commit_and_roll_back_with_their_events(db_url: str) -> None:
    bus, route_id = planned_day(db_url)
    before = len(messages(bus))

    def explode(uow: object, events: list[Event]) -> None:
        raise RuntimeError("crash inside the transaction")

    BEFORE_COMMIT_HOOKS.append(explode)
    try:
        with pytest.raises(RuntimeError):
            start_day(bus, route_id)
    finally:
        BEFORE_COMMIT_HOOKS.remove(explode)
    assert len(messages(bus)) == before  # no message without its event ...
    with bus.uow:
        assert all(o.status == "planned" for o in bus.uow.orders.list())  # ... and no event without messages
    start_day(bus, route_id)
    assert len(messages(bus, kind="out_for_delivery")) == 4


def test_opt_out_and_channel_preferences_are_respected_and_logged(db_url: str) -> None:
    prefs = [Preference("bob@example.com", opted_out=True),
             Preference("ana@example.com", channels=("whatsapp", "email"), language="en")]
    bus, route_id = planned_day(db_url, prefs=prefs)
    start_day(bus, route_id)
    bob = messages(bus, order_id="o-bob")
    assert bob and all(r["status"] == "suppressed" and r["status_reason"] == "opted_out" for r in bob)
    ana = messages(bus, order_id="o-ana", kind="out_for_delivery")[0]
    assert (ana["channel"], ana["recipient"], ana["language"]) == ("whatsapp", "+5561990000001", "en")
    assert ana["body"].startswith("Baton: order PED-ANA is out for delivery")
    assert ana["status_reason"] is None and ana["not_before"] == local(8)  # 08:00: quiet hours are over


def test_no_customer_gets_three_running_late_messages_in_ten_minutes(db_url: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from baton.domain.values import TimeWindow
    from baton.execute.events import StopEtaChanged

    # the rate limit alone: no per-order cap, no episode rule; every ETA below breaks Dora's 08-10 window
    monkeypatch.setattr("baton.notify.outbox.MAX_DELAY_MESSAGES", 10)
    monkeypatch.setattr("baton.notify.outbox.DELAY_STEP", timedelta(0))
    bus, route_id = planned_day(db_url, NotifySettings(tracking_base_url="http://t", quiet_start="00:00",
                                                       quiet_end="00:00", eta_threshold_s=600),
                                windows={"o-dora": TimeWindow(local(8), local(10))})
    start_day(bus, route_id)
    t = local(9)
    for k, minutes in enumerate([20, 40, 60, 80, 5]):  # the last one is below the 10 min threshold
        with bus.uow:
            bus.uow.record(StopEtaChanged(occurred_at=t + timedelta(minutes=2 * k), order_id="o-dora",
                                          route_id=route_id, vehicle_id="v-1", old_eta=None,
                                          new_eta=(local(10) + timedelta(minutes=minutes)).isoformat(),
                                          delta_s=minutes * 60 if minutes > 10 else 300))
            bus.uow.commit()
    late = messages(bus, order_id="o-dora", kind="eta_changed")
    assert [r["status"] for r in late] == ["pending", "pending", "suppressed", "suppressed"]
    assert [r["status_reason"] for r in late[2:]] == ["rate_limited", "rate_limited"]
    # 11 minutes after the first one, a new delay is announced again
    with bus.uow:
        bus.uow.record(StopEtaChanged(occurred_at=t + timedelta(minutes=11), order_id="o-dora", route_id=route_id,
                                      vehicle_id="v-1", old_eta=None, new_eta=local(12).isoformat(), delta_s=3600))
        bus.uow.commit()
    assert messages(bus, order_id="o-dora", kind="eta_changed")[-1]["status"] == "pending"


def test_delivered_failed_and_cancelled_messages_carry_their_links(db_url: str) -> None:
    bus, route_id = planned_day(db_url, NotifySettings(tracking_base_url="http://t", quiet_start="22:00",
                                                       quiet_end="06:00"))
    start_day(bus, route_id)
    t = local(9)
    bus.handle(commands.ArriveAtStop(at=t, route_id=route_id, order_id="o-bob"))
    bus.handle(commands.CompleteDelivery(at=t + timedelta(minutes=3), route_id=route_id, order_id="o-bob"))
    bus.handle(commands.ArriveAtStop(at=t + timedelta(minutes=20), route_id=route_id, order_id="o-ana"))
    bus.handle(commands.FailDelivery(at=t + timedelta(minutes=22), route_id=route_id, order_id="o-ana",
                                     reason="not_home"))
    bus.handle(commands.CancelOrder(at=t + timedelta(minutes=30), order_id="o-dora", reason="customer"))
    delivered = messages(bus, order_id="o-bob", kind="delivered")[0]
    assert "delivered at 09:03" in delivered["body"] and "#pod" in delivered["body"]
    failed = messages(bus, order_id="o-ana", kind="failed_attempt")[0]
    assert "não havia ninguém no local" in failed["body"] and "#reschedule" in failed["body"]
    assert messages(bus, order_id="o-dora", kind="cancelled")[0]["subject"] == "Sua entrega foi cancelada"
    # "you're next" for whoever follows a departed stop
    assert messages(bus, kind="arriving_soon")


def test_wismo_counts_messages_per_order_and_delays_announced_before_the_window(db_url: str) -> None:
    from baton.adapters.channels.base import OutgoingMessage, SendResult
    from baton.domain.values import TimeWindow
    from baton.execute.events import StopEtaChanged
    from baton.notify.sender import Sender
    from baton.notify.wismo import measure

    class Accepting:  # a provider that accepts everything
        def send(self, message: OutgoingMessage) -> SendResult:
            return SendResult(f"p-{message.message_id}")

    early = {o: TimeWindow(local(8), local(10)) for o in ("o-bob", "o-dora")}
    bus, route_id = planned_day(db_url, NotifySettings(tracking_base_url="http://t", quiet_start="00:00",
                                                       quiet_end="00:00"), windows=early)
    start_day(bus, route_id)
    with bus.uow:  # Dora hears of the delay at 07:50, before her window opens; Bob never does
        bus.uow.record(StopEtaChanged(occurred_at=local(7, 50), order_id="o-dora", route_id=route_id,
                                      vehicle_id="v-1", old_eta=None, new_eta=local(10, 30).isoformat(),
                                      delta_s=3600))
        bus.uow.commit()
    for oid, at in (("o-dora", local(10, 35)), ("o-bob", local(10, 50)), ("o-ana", local(11))):
        bus.handle(commands.ArriveAtStop(at=at, route_id=route_id, order_id=oid))
        bus.handle(commands.CompleteDelivery(at=at + timedelta(minutes=2), route_id=route_id, order_id=oid))
    sender = Sender(bus.uow.session_factory, {c: Accepting() for c in ("email", "sms")})  # type: ignore[attr-defined]
    sent = sender.run_once(now=local(12)).sent
    with bus.uow.session_factory() as session:  # type: ignore[attr-defined]
        w = measure(session)
    assert (w.orders, w.messages_sent, w.delayed_orders, w.announced_before_window) == (4, sent, 2, 1)
    assert w.messages_per_order == round(sent / 4, 2) and w.announced_before_window_pct == 50.0


def test_organisation_overrides_and_branding_shape_the_messages(db_url: str) -> None:
    from baton.adapters.travel.greatcircle import GreatCircleProvider
    from baton.notify import store
    from baton.service_layer.bootstrap import bootstrap

    bus = bootstrap(db_url, travel=GreatCircleProvider())
    with bus.uow.session_factory() as session, session.begin():  # type: ignore[attr-defined]
        store.save_template(session, "default", "order_planned", "en",
                            "{% block subject %}{{ brand.name }} booked you{% endblock %}"
                            "{% block email %}Dear {{ first_name }}, {{ eta_from }}-{{ eta_to }}.{% endblock %}"
                            "{% block sms %}{{ brand.name }} {{ eta_from }}{% endblock %}")
    bus2, _ = planned_day(db_url, NotifySettings(tracking_base_url="http://t", brand_name="Mercado Sol",
                                                 brand_color="#ff8800"))
    bob = messages(bus2, order_id="o-bob", kind="order_planned")[0]
    assert bob["subject"] == "Mercado Sol booked you" and bob["body"].startswith("Dear Bob, ")
    assert "#ff8800" in bob["html"] and "Mercado Sol" in bob["html"]
    ana = messages(bus2, order_id="o-ana", kind="order_planned")[0]  # pt-BR keeps the built-in template
    assert ana["subject"] == "Sua entrega Mercado Sol está agendada"


def test_a_notification_failure_never_blocks_the_command(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import insert

    from baton.adapters import orm_notify as tn
    from baton.notify import store
    from baton.notify.outbox import OutboxWriter

    bus, route_id = planned_day(db_url)
    with bus.uow.session_factory() as session, session.begin():  # type: ignore[attr-defined]
        store.save_template(session, "default", "out_for_delivery", "en",  # compiles, fails at render time
                            "{% block subject %}{{ no_such_thing }}{% endblock %}{% block email %}{% endblock %}"
                            "{% block sms %}{% endblock %}")
    original = OutboxWriter.write

    def half_then_crash(self: OutboxWriter, events: list[Event]) -> None:
        original(self, events)
        self.session.execute(insert(tn.messages).values(id="bad"))  # violates NOT NULL: a database error
        raise AssertionError("unreachable")

    monkeypatch.setattr(OutboxWriter, "write", half_then_crash)
    bus.handle(commands.DispatchRoute(at=local(7, 30), route_id=route_id))  # the command still commits
    with bus.uow:
        assert all(o.status == "dispatched" for o in bus.uow.orders.list())
    assert len(messages(bus)) == 4  # only the earlier "planned" ones: the failed batch was rolled back alone
    monkeypatch.setattr(OutboxWriter, "write", original)
    bus.handle(commands.StartRoute(at=local(8), route_id=route_id))
    bob = messages(bus, order_id="o-bob", kind="out_for_delivery")[0]
    assert bob["subject"] == "Your order is on its way"  # the broken override fell back to the built-in one
