"""WISMO ("where is my order?") measures from the message log and the event store.

* ``messages_per_order``: messages sent (``sent``/``delivered``) per order of the organisation;
* ``delayed_orders``: delivered orders whose delivery came after the end of their window;
* ``announced_before_window_pct``: share (%) of those whose first "running late"/"new ETA"
  message was created at or before the start of their window, i.e. the customer knew before
  starting to wait. ``None`` when no order was late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from baton.adapters import orm
from baton.adapters import orm_notify as tn
from baton.adapters.repository.orders import order_from_row
from baton.notify.model import RUNNING_LATE


@dataclass(frozen=True)
class Wismo:
    orders: int
    messages_sent: int
    messages_per_order: float
    delayed_orders: int
    announced_before_window: int
    announced_before_window_pct: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        return dict(self.__dict__)


def measure(session: Session, org_id: str = orm.DEFAULT_ORG) -> Wismo:
    """The WISMO measures of one organisation (all its orders and messages)."""
    m, e = tn.messages, orm.events
    orders = {r.id: order_from_row(r) for r in session.execute(select(orm.orders).where(orm.orders.c.org_id == org_id))}
    sent = int(session.execute(select(func.count()).select_from(m).where(
        m.c.org_id == org_id, m.c.status.in_(("sent", "delivered")), m.c.channel != "webhook")).scalar_one())
    delivered: dict[str, datetime] = {}
    for r in session.execute(select(e.c.aggregate_id, e.c.occurred_at, e.c.payload).where(
            e.c.org_id == org_id, e.c.name == "order.status_changed")):
        if r.payload.get("to_status") == "delivered":
            delivered[r.aggregate_id] = r.occurred_at
    first_late: dict[str, datetime] = {}
    for oid, first in session.execute(select(m.c.order_id, func.min(m.c.event_at)).where(
            m.c.org_id == org_id, m.c.kind.in_(sorted(RUNNING_LATE)), m.c.channel != "webhook",
            m.c.parent_id.is_(None)).group_by(m.c.order_id)).tuples():
        first_late[oid] = first
    delayed = announced = 0
    for oid, at in delivered.items():
        order = orders.get(oid)
        window = order.window_at(at) if order else None
        if window is None or at <= window.end:
            continue
        delayed += 1
        if oid in first_late and first_late[oid] <= window.start:
            announced += 1
    n = len(orders)
    return Wismo(n, sent, round(sent / n, 2) if n else 0.0, delayed, announced,
                 round(100.0 * announced / delayed, 1) if delayed else None)
