"""The order lifecycle state machine: every legal and every illegal transition."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from baton.domain import (
    Actor,
    Address,
    Customer,
    IllegalTransition,
    LatLng,
    Order,
    OrderCreated,
    OrderStatus,
    OrderStatusChanged,
    TimeWindow,
    ValidationError,
)
from baton.domain.lifecycle import TERMINAL, TRANSITIONS, can_transition, next_states
from order_helpers import BRT, morning_or_evening

S = OrderStatus
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

EXPECTED = {
    (S.CREATED, S.PLANNED),
    (S.PLANNED, S.DISPATCHED),
    (S.PLANNED, S.CREATED),
    (S.DISPATCHED, S.OUT_FOR_DELIVERY),
    (S.OUT_FOR_DELIVERY, S.ARRIVED),
    (S.ARRIVED, S.DELIVERED),
    (S.ARRIVED, S.FAILED_ATTEMPT),
    (S.FAILED_ATTEMPT, S.REATTEMPT),
    (S.FAILED_ATTEMPT, S.RETURNED_TO_DEPOT),
    (S.REATTEMPT, S.PLANNED),
    (S.RETURNED_TO_DEPOT, S.REATTEMPT),
} | {(s, S.CANCELLED) for s in S if s not in (S.DELIVERED, S.CANCELLED)}


def order_in(status: OrderStatus) -> Order:
    return Order(id="o-1", customer=Customer("Ana Silva"), address=Address("Quadra 1", LatLng(-15.79, -47.88)),
                 status=status)


def test_transition_table_is_exactly_the_documented_one() -> None:
    assert TRANSITIONS == EXPECTED
    assert {S.DELIVERED, S.CANCELLED} == TERMINAL
    assert next_states(S.DELIVERED) == frozenset()
    assert next_states(S.ARRIVED) == {S.DELIVERED, S.FAILED_ATTEMPT, S.CANCELLED}


@pytest.mark.parametrize(("src", "dst"), sorted(EXPECTED), ids=lambda s: str(s))
def test_every_legal_transition_moves_and_emits_one_event(src: OrderStatus, dst: OrderStatus) -> None:
    order = order_in(src)
    actor = Actor("driver", "d-07")
    event = order.transition(dst, at=AT, actor=actor, reason="because")
    assert order.status == dst
    assert order.events == [event]
    assert isinstance(event, OrderStatusChanged)
    assert (event.from_status, event.to_status) == (src.value, dst.value)
    assert event.occurred_at == AT and event.actor == "driver:d-07" and event.reason == "because"
    assert order.version == 1


ILLEGAL = sorted(set(itertools.product(S, S)) - EXPECTED)


@pytest.mark.parametrize(("src", "dst"), ILLEGAL, ids=lambda s: str(s))
def test_every_illegal_transition_raises_naming_both_states(src: OrderStatus, dst: OrderStatus) -> None:
    order = order_in(src)
    with pytest.raises(IllegalTransition) as info:
        order.transition(dst, at=AT)
    assert f"{src.value} -> {dst.value}" in str(info.value)
    assert (info.value.from_status, info.value.to_status) == (src.value, dst.value)
    assert order.status == src and order.events == [] and order.version == 0
    assert not can_transition(src, dst)


def test_happy_path_and_attempt_counting() -> None:
    order = Order.create(at=AT, id="o-2", customer=Customer("João"), address=Address("x", LatLng(0, 0)))
    assert isinstance(order.events[0], OrderCreated)
    order.plan("r-1", at=AT)
    assert order.route_id == "r-1"
    for s in (S.DISPATCHED, S.OUT_FOR_DELIVERY, S.ARRIVED, S.FAILED_ATTEMPT, S.REATTEMPT):
        order.transition(s, at=AT + timedelta(minutes=1))
    assert order.route_id is None and order.attempts == 1
    order.plan("r-2", at=AT)
    for s in (S.DISPATCHED, S.OUT_FOR_DELIVERY, S.ARRIVED, S.DELIVERED):
        order.transition(s, at=AT + timedelta(hours=2))
    assert order.attempts == 2 and order.is_terminal
    assert [e.to_status for e in order.events if isinstance(e, OrderStatusChanged)][-1] == "delivered"
    with pytest.raises(IllegalTransition):
        order.cancel(at=AT)


def test_naive_instants_are_refused() -> None:
    order = order_in(S.CREATED)
    with pytest.raises(ValidationError, match="timezone-aware"):
        order.transition(S.PLANNED, at=datetime(2026, 3, 2, 9, 0))
    with pytest.raises(ValidationError, match="timezone-aware"):
        TimeWindow(datetime(2026, 3, 2, 9), datetime(2026, 3, 2, 10))


def test_value_objects_validate() -> None:
    with pytest.raises(ValidationError, match="lat"):
        LatLng(91, 0)
    with pytest.raises(ValidationError, match="before it starts"):
        TimeWindow(AT, AT - timedelta(minutes=1))
    with pytest.raises(ValidationError, match="priority"):
        Order(id="x", customer=Customer("a"), address=Address("x", LatLng(0, 0)), priority=9)


def test_window_selection_prefers_the_window_containing_the_instant() -> None:
    order, morning, evening = morning_or_evening()
    assert order.time_windows == [morning, evening]
    assert order.window_at(datetime(2026, 3, 2, 17, tzinfo=BRT)) == evening
    assert order.window_at(datetime(2026, 3, 2, 12, tzinfo=BRT)) == morning
    assert order.window_at(datetime(2026, 3, 2, 7, tzinfo=BRT)) == morning


def test_a_driver_between_two_windows_waits_for_the_next_one_when_the_plan_aims_for_it() -> None:
    order, morning, evening = morning_or_evening()
    at = datetime(2026, 3, 2, 7, tzinfo=BRT)
    assert order.service_start(at) == morning.start  # early: rings as the first window opens
    assert order.service_start(at.replace(hour=9)) == at.replace(hour=9)  # inside: at once
    aimed_evening, aimed_morning = at.replace(hour=16, minute=30), at.replace(hour=9, minute=40)
    assert order.service_start(at.replace(hour=12), aimed_evening) == evening.start  # waits as planned
    assert order.service_start(at.replace(hour=10, minute=20), aimed_morning) == at.replace(hour=10, minute=20)
    assert order.service_start(at.replace(hour=12)) == at.replace(hour=12)  # no plan: rings, late
    assert order.service_start(at.replace(hour=19)) == at.replace(hour=19)  # all closed: late, at once
    no_window = Order(id="y", customer=Customer("a"), address=Address("y", LatLng(0, 0)))
    assert no_window.service_start(at) == at
