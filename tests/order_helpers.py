"""Orders shared by several test modules."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from baton.domain.order import Address, Customer, Order
from baton.domain.values import LatLng, TimeWindow

BRT = timezone(timedelta(hours=-3))  # America/Sao_Paulo, no DST since 2019


def morning_or_evening() -> tuple[Order, TimeWindow, TimeWindow]:
    """Order ``x`` deliverable 08-10 or 16-18 on 2026-03-02 (Sao Paulo time, given evening first),
    and its two windows."""
    morning = TimeWindow(datetime(2026, 3, 2, 8, tzinfo=BRT), datetime(2026, 3, 2, 10, tzinfo=BRT))
    evening = TimeWindow(datetime(2026, 3, 2, 16, tzinfo=BRT), datetime(2026, 3, 2, 18, tzinfo=BRT))
    order = Order(id="x", customer=Customer("a"), address=Address("x", LatLng(0, 0)),
                  time_windows=[evening, morning])
    return order, morning, evening
