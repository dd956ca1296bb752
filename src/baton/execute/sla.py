"""SLA tracking: each dispatched order against its promised window, live; per route and per carrier.

Per order (:func:`order_sla`): ``on_time`` (arrived inside a window), ``late`` (arrived after its
window closed; ``late_s``), ``early`` (arrived before the window opened: the driver waits),
``at_risk`` (not arrived and its current ETA is after the window closes), ``pending`` otherwise.
Aggregates count these per route and per carrier (``own`` for the organisation's own fleet), with
on-time delivery (OTD) = on time / arrived, in percent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.adapters import orm
from baton.adapters import orm_execute as ox
from baton.domain.plan import RouteStatus


@dataclass(frozen=True)
class OrderSla:
    order_id: str
    route_id: str
    carrier: str
    sla_tier: str
    status: str
    late_s: int = 0


@dataclass
class SlaAggregate:
    """Counts per status; ``otd_pct`` = on time / arrived × 100 (``None`` before any arrival)."""

    key: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def otd_pct(self) -> float | None:
        arrived = sum(self.counts.get(s, 0) for s in ("on_time", "late", "early"))
        return None if arrived == 0 else round(100.0 * (self.counts.get("on_time", 0) + self.counts.get("early", 0))
                                                / arrived, 1)

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, **self.counts, "otd_pct": self.otd_pct}


def order_sla(windows: list[tuple[datetime, datetime]], arrived_at: datetime | None,
              eta: datetime | None) -> tuple[str, int]:
    """(status, seconds late) of one order; ``windows`` sorted ``(start, end)`` pairs."""
    if arrived_at is not None:
        for start, end in windows:
            if start <= arrived_at <= end:
                return "on_time", 0
        if windows and arrived_at < windows[0][0]:
            return "early", 0
        before = [end for _, end in windows if end < arrived_at]
        return ("late", int((arrived_at - max(before)).total_seconds())) if before else ("on_time", 0)
    if eta is not None and windows and eta > windows[-1][1]:
        return "at_risk", int((eta - windows[-1][1]).total_seconds())
    return "pending", 0


def sla_report(session: Session, org_id: str = orm.DEFAULT_ORG) -> tuple[list[OrderSla], list[SlaAggregate],
                                                                         list[SlaAggregate]]:
    """Every order on a dispatched, in-progress or completed route: per order, per route, per carrier."""
    r, s, o, v = orm.routes, orm.stops, orm.orders, orm.vehicles
    live = [RouteStatus.DISPATCHED.value, RouteStatus.IN_PROGRESS.value, RouteStatus.COMPLETED.value]
    rows = session.execute(
        select(s.c.route_id, s.c.order_id, o.c.time_windows, o.c.sla_tier, v.c.carrier_id)
        .join(r, (r.c.org_id == s.c.org_id) & (r.c.id == s.c.route_id))
        .join(o, (o.c.org_id == s.c.org_id) & (o.c.id == s.c.order_id))
        .outerjoin(v, (v.c.org_id == r.c.org_id) & (v.c.id == r.c.vehicle_id))
        .where(s.c.org_id == org_id, r.c.status.in_(live), s.c.order_id.is_not(None))
        .order_by(s.c.route_id, s.c.position)).all()
    visits = {(x.route_id, x.order_id): x.arrived_at for x in session.execute(
        select(ox.stop_visits.c.route_id, ox.stop_visits.c.order_id, ox.stop_visits.c.arrived_at)
        .where(ox.stop_visits.c.org_id == org_id))}
    etas = {(x.route_id, x.order_id): x.eta for x in session.execute(
        select(ox.stop_etas.c.route_id, ox.stop_etas.c.order_id, ox.stop_etas.c.eta)
        .where(ox.stop_etas.c.org_id == org_id))}
    orders: list[OrderSla] = []
    by_route: dict[str, SlaAggregate] = {}
    by_carrier: dict[str, SlaAggregate] = {}
    for row in rows:
        windows = sorted((datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in row.time_windows)
        status, late = order_sla(windows, visits.get((row.route_id, row.order_id)),
                                 etas.get((row.route_id, row.order_id)))
        carrier = row.carrier_id or "own"
        orders.append(OrderSla(row.order_id, row.route_id, carrier, row.sla_tier, status, late))
        for key, table in ((row.route_id, by_route), (carrier, by_carrier)):
            agg = table.setdefault(key, SlaAggregate(key))
            agg.counts[status] = agg.counts.get(status, 0) + 1
    return orders, list(by_route.values()), list(by_carrier.values())
