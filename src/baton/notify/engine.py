"""Which events become which customer messages (pure: lookups are passed in).

Events are matched by name, so the engine needs no import of the areas that emit them:

==============================  =====================================================
event                           message kind
==============================  =====================================================
``order.status_changed``        ``order_planned`` (to ``planned`` from ``created``/
                                ``reattempt``), ``out_for_delivery``, ``delivered``,
                                ``failed_attempt``, ``cancelled``
``eta.changed``                 ``eta_changed`` when ``|delta_s|`` >= the threshold
``exception.opened``            ``late_risk`` when ``kind == "late_risk"`` with an order
``order.notification_requested``  ``late_risk`` when ``topic == "delay"``
``live.delay_notified``         ``late_risk``
``live.delay_resolved``         ``eta_changed`` (the delay announced is over)
``stop.departed``               ``arriving_soon`` for the route's next open stop
``driver.customer_messaged``    ``driver_message`` (the driver's template and text)
==============================  =====================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from baton.domain.events import Event
from baton.notify.model import Kind, NotifySettings

_STATUS_KINDS = {
    "out_for_delivery": Kind.OUT_FOR_DELIVERY,
    "delivered": Kind.DELIVERED,
    "failed_attempt": Kind.FAILED_ATTEMPT,
    "cancelled": Kind.CANCELLED,
}


@dataclass(frozen=True)
class Trigger:
    """One message to consider: ``kind`` for ``order_id`` because of an event at ``at``.

    ``eta``: the arrival time to announce (aware), when the event carries one; ``reason``:
    e.g. the failed-attempt reason; ``ref``: what makes the trigger unique (de-duplication).
    """

    kind: Kind
    order_id: str
    at: datetime
    ref: str
    eta: datetime | None = None
    reason: str | None = None
    #: ``driver_message`` only: the driver's template name and free text.
    template: str | None = None
    text: str | None = None


def _iso(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def triggers(event: Event, settings: NotifySettings,
             next_order: Callable[[str, str], str | None]) -> list[Trigger]:
    """The messages ``event`` calls for. ``next_order(route_id, order_id)``: the next open stop's order."""
    p = event.payload()
    at = event.occurred_at
    name = event.name
    if name == "order.status_changed":
        to, frm = p.get("to_status"), p.get("from_status")
        if to == "planned" and frm in ("created", "reattempt"):
            return [Trigger(Kind.ORDER_PLANNED, p["order_id"], at, f"planned:{at.isoformat()}")]
        if to in _STATUS_KINDS:
            return [Trigger(_STATUS_KINDS[to], p["order_id"], at, f"{to}:{at.isoformat()}",
                            reason=p.get("reason"))]
        return []
    if name == "eta.changed":
        if abs(int(p.get("delta_s") or 0)) < settings.eta_threshold_s:
            return []
        eta = _iso(p.get("new_eta"))
        return [Trigger(Kind.ETA_CHANGED, p["order_id"], at, f"eta:{p.get('new_eta')}", eta=eta)]
    if name == "exception.opened":
        if p.get("kind") != "late_risk" or not p.get("order_id"):
            return []
        details = p.get("details") or {}
        eta = _iso(details.get("eta") or details.get("predicted_arrival"))
        return [Trigger(Kind.LATE_RISK, p["order_id"], at, f"late:{p.get('exception_id')}", eta=eta)]
    if name == "order.notification_requested":
        if p.get("topic") != "delay":
            return []
        return [Trigger(Kind.LATE_RISK, p["order_id"], at, f"late:{p.get('exception_id') or at.isoformat()}",
                        eta=_iso(p.get("eta")))]
    if name == "live.delay_notified":
        return [Trigger(Kind.LATE_RISK, p["order_id"], at, f"late:{at.isoformat()}", eta=_iso(p.get("eta")))]
    if name == "live.delay_resolved":
        return [Trigger(Kind.ETA_CHANGED, p["order_id"], at, f"resolved:{at.isoformat()}", eta=_iso(p.get("eta")))]
    if name == "stop.departed":
        nxt = next_order(p["route_id"], p["order_id"])
        if nxt is None:
            return []
        return [Trigger(Kind.ARRIVING_SOON, nxt, at, f"next:{p['route_id']}")]
    if name == "driver.customer_messaged":
        return [Trigger(Kind.DRIVER_MESSAGE, p["order_id"], at, f"driver:{p['ref']}",
                        template=p.get("template"), text=p.get("text") or None)]
    return []


def eta_window(eta: datetime, width: timedelta = timedelta(hours=1)) -> tuple[datetime, datetime]:
    """The window announced around ``eta``: starts 15 min before it, rounded down to the quarter hour."""
    start = eta - timedelta(minutes=15)
    start = start - timedelta(minutes=start.minute % 15, seconds=start.second, microseconds=start.microsecond)
    return start, start + width
