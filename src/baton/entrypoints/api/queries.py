"""Read side of the API: filtered, paginated queries straight on the tables, always within one organisation.

Reads do not go through the message bus (they change nothing); they use the same row mapping
as the repositories, so what they return is what the domain sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from baton.adapters import orm
from baton.adapters.repository import order_from_row
from baton.domain.lifecycle import OrderStatus
from baton.domain.order import Order


@dataclass(frozen=True)
class OrderFilter:
    """``status``: any of these; ``route_id``; ``sla_tier``; ``q``: substring of id, external ref,
    customer name or address (case-insensitive); ``route_ids``: restrict to orders on these routes."""

    status: tuple[OrderStatus, ...] = ()
    route_id: str | None = None
    sla_tier: str | None = None
    q: str | None = None
    route_ids: tuple[str, ...] | None = None


def _conditions(org_id: str, f: OrderFilter) -> list[Any]:
    t = orm.orders
    cond: list[Any] = [t.c.org_id == org_id]
    if f.status:
        cond.append(t.c.status.in_([s.value for s in f.status]))
    if f.route_id:
        cond.append(t.c.route_id == f.route_id)
    if f.sla_tier:
        cond.append(t.c.sla_tier == f.sla_tier)
    if f.route_ids is not None:
        cond.append(t.c.route_id.in_(list(f.route_ids)))
    if f.q:
        pattern = f"%{f.q.lower().replace('%', '').replace('_', '')}%"
        cond.append(or_(*(func.lower(c).like(pattern) for c in (t.c.id, t.c.external_ref, t.c.customer_name,
                                                                 t.c.address_line))))
    return cond


def list_orders(session: Session, org_id: str, f: OrderFilter, limit: int, offset: int) -> tuple[list[Order], int]:
    """One page of orders sorted by id and the total number matching."""
    t = orm.orders
    cond = _conditions(org_id, f)
    total = int(session.execute(select(func.count()).select_from(t).where(*cond)).scalar_one())
    rows = session.execute(select(t).where(*cond).order_by(t.c.id).limit(limit).offset(offset))
    return [order_from_row(r) for r in rows], total


def existing_order_ids(session: Session, org_id: str, ids: list[str]) -> set[str]:
    """Which of ``ids`` the organisation already has."""
    t = orm.orders
    found: set[str] = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        found.update(session.execute(select(t.c.id).where(t.c.org_id == org_id, t.c.id.in_(chunk))).scalars())
    return found


def list_plans(session: Session, org_id: str, limit: int, offset: int) -> list[dict[str, Any]]:
    """Plan headers, newest first."""
    p = orm.plans
    rows = session.execute(select(p).where(p.c.org_id == org_id)
                           .order_by(p.c.created_at.desc(), p.c.id.desc()).limit(limit).offset(offset))
    return [{"id": r.id, "created_at": r.created_at.isoformat(), "is_current": r.is_current,
             "status": plan_status(session, org_id, r.id, r.is_current),
             "feasible": r.feasible, "solve_seconds": r.solve_seconds, "currency": r.currency,
             "cost_total": r.cost_fixed + r.cost_distance + r.cost_time + r.cost_penalties} for r in rows]


def active_route_ids(session: Session, org_id: str, current_plan_id: str | None) -> list[str]:
    """Routes to watch: every route of the current plan plus routes of other plans not completed that
    still carry an order (so a draft plan's routes, which carry none until published, are not watched)."""
    r, o = orm.routes, orm.orders
    carries = select(o.c.id).where(o.c.org_id == r.c.org_id, o.c.route_id == r.c.id).exists()
    cond = and_(r.c.status != "completed", carries)
    if current_plan_id is not None:
        cond = or_(cond, r.c.plan_id == current_plan_id)
    rows = session.execute(select(r.c.id).where(r.c.org_id == org_id, cond).order_by(r.c.plan_id, r.c.position))
    return list(rows.scalars())


def plan_status(session: Session, org_id: str, plan_id: str, is_current: bool) -> str:
    """``current``; ``draft`` (solved with ``publish: false``, never published); or ``superseded``
    (was current once — ``plan.created`` or ``plan.published`` — another plan is current now)."""
    if is_current:
        return "current"
    e = orm.events
    used = session.execute(select(e.c.id).where(e.c.org_id == org_id, e.c.aggregate_id == plan_id,
                                                e.c.name.in_(["plan.created", "plan.published"])).limit(1)).first()
    return "superseded" if used is not None else "draft"
