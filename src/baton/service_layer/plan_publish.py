"""Draft plans and their publication: solve now, look, then make the plan current (dispatch-ready).

``DraftPlan`` solves like :class:`~baton.service_layer.commands.PlanOrders` but stores the plan as a
draft: not current, its orders left as they are (a route of a draft carries no order, so it is
not watched on the dashboard). ``PublishPlan`` makes a plan the current one and moves its orders
to ``planned`` on its routes (ready for ``DispatchRoute``), with ``plan.published`` persisted in
the same transaction. Publishing is guarded by the plan's ETag (:func:`plan_etag`): a dispatcher
who read the plan before someone else published another one gets
:class:`~baton.service_layer.unit_of_work.ConcurrencyError` instead of overwriting that choice.

The handlers are registered in :data:`baton.service_layer.handlers.COMMAND_HANDLERS` when this
module is imported (the HTTP API imports it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from baton.adapters import orm
from baton.domain.errors import DomainError
from baton.domain.lifecycle import OrderStatus
from baton.domain.plan import Plan
from baton.domain.plan_events import PlanDrafted, PlanPublished
from baton.domain.values import Actor
from baton.planning.decompose import plan_large
from baton.planning.problem import PlanningOptions, PlanningProblem
from baton.service_layer.commands import Command
from baton.service_layer.handlers import COMMAND_HANDLERS, Dependencies
from baton.service_layer.unit_of_work import AbstractUnitOfWork, ConcurrencyError

S = OrderStatus


class StalePlan(DomainError):
    """The draft's orders are no longer all open (planned elsewhere, cancelled, delivered…): re-plan.

    ``order_ids``: the orders that moved on since the draft was solved.
    """

    def __init__(self, plan_id: str, order_ids: list[str]) -> None:
        self.order_ids = order_ids
        shown = ", ".join(order_ids[:10]) + (" …" if len(order_ids) > 10 else "")
        super().__init__(f"plan {plan_id} is stale: {len(order_ids)} of its orders are no longer open ({shown})")


@dataclass(frozen=True, kw_only=True)
class DraftPlan(Command):
    """Solve the open orders (``created``/``reattempt``, or only ``order_ids``) into a draft plan."""

    options: PlanningOptions = field(default_factory=PlanningOptions)
    order_ids: list[str] | None = None
    day_start: object | None = None  # datetime (aware) | None, as in PlanOrders


@dataclass(frozen=True, kw_only=True)
class PublishPlan(Command):
    """Make ``plan_id`` current. ``if_match``: the plan's ETag as read (``None``: no check)."""

    plan_id: str
    if_match: str | None = None


def _session(uow: AbstractUnitOfWork) -> Session:
    session = getattr(uow, "session", None)
    if session is None:
        raise RuntimeError("plan publication needs a SQLAlchemy unit of work inside its `with` block")
    return cast(Session, session)


def plan_etag(session: Session, org_id: str, plan_id: str) -> str:
    """The plan's strong ETag (quoted): changes when it or another plan is published, or a route of
    it changes status. Compare with ``If-Match``.

    Raises:
        baton.domain.errors.NotFound: when the organisation has no such plan.
    """
    from baton.domain.errors import NotFound

    p, r = orm.plans, orm.routes
    head = session.execute(select(p.c.is_current).where(p.c.org_id == org_id, p.c.id == plan_id)).first()
    if head is None:
        raise NotFound(f"unknown plan id: {plan_id}")
    current = session.execute(select(p.c.id).where(p.c.org_id == org_id, p.c.is_current)
                              .order_by(p.c.created_at.desc(), p.c.id.desc()).limit(1)).scalar()
    statuses = session.execute(select(r.c.id, r.c.status).where(r.c.org_id == org_id, r.c.plan_id == plan_id)
                               .order_by(r.c.position)).all()
    text = "|".join([plan_id, str(bool(head.is_current)), str(current), *(f"{i}={s}" for i, s in statuses)])
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:20] + '"'


def draft_plan(cmd: DraftPlan, uow: AbstractUnitOfWork, deps: Dependencies) -> Plan:
    """Solve and store a draft (not current; orders untouched); records ``plan.drafted``."""
    with uow:
        if cmd.order_ids is not None:
            orders = uow.orders.get_many(cmd.order_ids)
        else:
            orders = uow.orders.list(status=S.CREATED) + uow.orders.list(status=S.REATTEMPT)
        problem = PlanningProblem(orders=orders, depots=uow.depots.list(), vehicles=uow.vehicles.list(),
                                  drivers=uow.drivers.list(), day_start=cmd.day_start)  # type: ignore[arg-type]
        plan = plan_large(problem, deps.travel, cmd.options, on_progress=deps.on_planning_progress)
        uow.plans.add(plan, current=False)
        uow.record(PlanDrafted(occurred_at=cmd.at, actor=cmd.actor, plan_id=plan.id, routes=len(plan.routes),
                               assigned=len(plan.assigned_order_ids), unassigned=len(plan.unassigned)))
        uow.commit()
    return plan


def publish_plan(cmd: PublishPlan, uow: AbstractUnitOfWork, deps: Dependencies) -> bool:
    """Make the plan current and its orders ``planned``; returns ``False`` when it already was (no event).

    Raises:
        ConcurrencyError: ``if_match`` differs from the plan's ETag (412 in the API).
        StalePlan: an order of the plan is no longer ``created``/``reattempt`` (409).
        baton.domain.errors.NotFound: unknown plan (404).
    """
    actor = Actor.parse(cmd.actor)
    with uow:
        session = _session(uow)
        org_id = str(getattr(uow, "org_id", orm.DEFAULT_ORG))
        if cmd.if_match is not None and cmd.if_match.strip().removeprefix("W/") != plan_etag(session, org_id,
                                                                                            cmd.plan_id):
            raise ConcurrencyError("plan", [cmd.plan_id])
        plan = uow.plans.get(cmd.plan_id)
        p = orm.plans
        previous = session.execute(select(p.c.id).where(p.c.org_id == org_id, p.c.is_current)
                                   .order_by(p.c.created_at.desc(), p.c.id.desc()).limit(1)).scalar()
        if previous == plan.id:
            return False
        orders = {o.id: o for o in uow.orders.get_many(plan.assigned_order_ids)}
        stale = [i for i in plan.assigned_order_ids if orders[i].status not in (S.CREATED, S.REATTEMPT)]
        if stale:
            raise StalePlan(plan.id, stale)
        for route in plan.routes:
            for order_id in route.order_ids:
                orders[order_id].plan(route.id, at=cmd.at, actor=actor)
        session.execute(update(p).where(p.c.org_id == org_id, p.c.is_current).values(is_current=False))
        session.execute(update(p).where(p.c.org_id == org_id, p.c.id == plan.id).values(is_current=True))
        uow.record(PlanPublished(occurred_at=cmd.at, actor=cmd.actor, plan_id=plan.id, previous_plan_id=previous,
                                 orders=len(orders)))
        uow.commit()
    return True


COMMAND_HANDLERS.update({DraftPlan: draft_plan, PublishPlan: publish_plan})
