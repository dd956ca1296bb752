"""How few messages a customer gets: one "running late" per delay episode whatever its source, no
ETA update inside the promised window, a cap per order, "back on time" only after a delay was told,
and no "order planned" once the van is out."""

from __future__ import annotations

from datetime import datetime

from baton.adapters.channels.base import OutgoingMessage, SendResult
from baton.domain.values import TimeWindow
from baton.execute.events import ExceptionOpened, StopEtaChanged
from baton.live.events import DelayNotified, DelayResolved
from baton.notify.model import MAX_DELAY_MESSAGES, NotifySettings
from baton.notify.sender import Sender
from baton.service_layer.messagebus import MessageBus
from factories import local
from notify_support import messages, planned_day, start_day

AWAKE = NotifySettings(tracking_base_url="http://t", quiet_start="00:00", quiet_end="00:00")
WINDOW = TimeWindow(local(8), local(10))


def _record(bus: MessageBus, *events: object) -> None:
    with bus.uow:
        bus.uow.record(*events)  # type: ignore[arg-type]
        bus.uow.commit()


def _late(at: datetime, eta: datetime, order_id: str = "o-dora") -> DelayNotified:
    return DelayNotified(occurred_at=at, order_id=order_id, eta=eta.isoformat(), window_end=local(10).isoformat())


def _eta(at: datetime, eta: datetime, route_id: str, order_id: str = "o-dora") -> StopEtaChanged:
    return StopEtaChanged(occurred_at=at, order_id=order_id, route_id=route_id, vehicle_id="v-1", old_eta=None,
                          new_eta=eta.isoformat(), delta_s=3600)


def _statuses(bus: MessageBus, order_id: str = "o-dora") -> list[tuple[str, str, str | None]]:
    return [(r["kind"], r["status"], r["status_reason"]) for r in messages(bus, order_id=order_id)
            if r["kind"] in ("late_risk", "eta_changed")]


def test_one_running_late_message_per_delay_whatever_the_source(db_url: str) -> None:
    bus, route_id = planned_day(db_url, AWAKE, windows={"o-dora": WINDOW})
    start_day(bus, route_id)
    _record(bus, _late(local(8, 5), local(10, 40)))  # live re-planning predicts the delay
    # the exception monitor sees the same delay 10 minutes later, 15 minutes worse: same episode
    _record(bus, ExceptionOpened(occurred_at=local(8, 30), exception_id="x-1", kind="late_risk", route_id=route_id,
                                 order_id="o-dora", details={"eta": local(10, 55).isoformat()}))
    assert _statuses(bus) == [("late_risk", "pending", None), ("late_risk", "suppressed", "same_delay")]
    _record(bus, _late(local(9), local(11, 30)))  # 50 minutes later than announced: worth telling
    assert _statuses(bus)[-1] == ("late_risk", "pending", None)
    _record(bus, _late(local(9, 30), local(12, 40)))  # the cap: two per order
    assert _statuses(bus)[-1] == ("late_risk", "suppressed", "eta_update_cap")
    assert len([s for s in _statuses(bus) if s[1] == "pending"]) == MAX_DELAY_MESSAGES


def test_an_eta_update_inside_the_promised_window_is_not_sent(db_url: str) -> None:
    bus, route_id = planned_day(db_url, AWAKE, windows={"o-dora": WINDOW, "o-bob": WINDOW})
    start_day(bus, route_id)
    _record(bus, _eta(local(8, 10), local(9, 40), route_id))  # still inside 08:00-10:00
    _record(bus, _eta(local(8, 10), local(7, 50), route_id, "o-bob"))  # early: the van waits for the window
    _record(bus, _eta(local(8, 40), local(10, 45), route_id))  # breaks the promise: the customer hears of it
    assert _statuses(bus) == [("eta_changed", "suppressed", "inside_window"), ("eta_changed", "pending", None)]
    assert _statuses(bus, "o-bob") == [("eta_changed", "suppressed", "inside_window")]


def test_back_on_time_only_after_a_delay_was_told(db_url: str) -> None:
    bus, route_id = planned_day(db_url, AWAKE, windows={"o-dora": WINDOW, "o-bob": WINDOW})
    start_day(bus, route_id)
    resolved = {o: DelayResolved(occurred_at=local(8, 30), order_id=o, eta=local(9).isoformat(),
                                 window_end=local(10).isoformat()) for o in ("o-dora", "o-bob")}
    _record(bus, _late(local(8, 5), local(10, 40)))
    _record(bus, resolved["o-dora"], resolved["o-bob"])
    assert _statuses(bus) == [("late_risk", "pending", None), ("eta_changed", "pending", None)]
    assert _statuses(bus, "o-bob") == [("eta_changed", "suppressed", "no_delay_told")]


class _Accepting:  # a provider that accepts everything
    def send(self, message: OutgoingMessage) -> SendResult:
        return SendResult(f"p-{message.message_id}")


def _sender(bus: MessageBus) -> Sender:
    return Sender(bus.uow.session_factory, {c: _Accepting() for c in ("email", "sms")})  # type: ignore[attr-defined]


def test_a_deferred_order_planned_message_gives_way_to_out_for_delivery(db_url: str) -> None:
    bus, route_id = planned_day(db_url)  # planned at 07:00, inside quiet hours: deferred to 08:00
    assert {r["status"] for r in messages(bus, kind="order_planned")} == {"pending"}
    start_day(bus, route_id)  # dispatched 07:30, the van leaves at 08:00
    assert {(r["status"], r["status_reason"]) for r in messages(bus, kind="order_planned")} == {
        ("skipped", "superseded")}
    stats = _sender(bus).run_once(now=local(8, 1))
    assert stats.sent == len(messages(bus, kind="out_for_delivery")) == 4  # only "out for delivery" goes out


def test_a_deferred_order_planned_message_is_dropped_once_the_route_is_dispatched(db_url: str) -> None:
    from baton.service_layer import commands

    bus, route_id = planned_day(db_url)
    bus.handle(commands.DispatchRoute(at=local(7, 30), route_id=route_id))  # the van has not left yet
    stats = _sender(bus).run_once(now=local(8, 1))
    assert (stats.skipped, stats.sent) == (4, 0)
    assert {r["status_reason"] for r in messages(bus, kind="order_planned")} == {"superseded"}
