"""Plan repository: plans with routes, stops and unassigned orders; execution fields of routes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from baton.adapters import orm
from baton.domain.errors import NotFound
from baton.domain.plan import CostBreakdown, Plan, Route, RouteStatus, Stop, StopKind, UnassignedOrder

_ROUTE_PLANNED = ("plan_id", "start", "end", "distance_m", "duration_s", "driving_s", "cost")
_ROUTE_EXEC = ("driver_id", "status", "actual_start", "actual_end", "actual_distance_m", "actual_driving_s")


def _route_row(r: Route, plan_id: str, position: int, org_id: str) -> dict[str, Any]:
    return {
        "org_id": org_id, "id": r.id, "plan_id": plan_id, "position": position, "vehicle_id": r.vehicle_id,
        "driver_id": r.driver_id, "start_depot_id": r.start_depot_id, "end_depot_id": r.end_depot_id,
        "start": r.start, "end": r.end, "distance_m": r.distance_m, "duration_s": r.duration_s,
        "driving_s": r.driving_s, "cost": r.cost, "status": r.status.value, "actual_start": r.actual_start,
        "actual_end": r.actual_end, "actual_distance_m": r.actual_distance_m,
        "actual_driving_s": r.actual_driving_s,
    }


def _stop_row(s: Stop, route_id: str, position: int, org_id: str) -> dict[str, Any]:
    return {
        "org_id": org_id, "route_id": route_id, "position": position, "sequence": s.sequence,
        "kind": s.kind.value, "order_id": s.order_id, "planned_arrival": s.planned_arrival,
        "planned_departure": s.planned_departure, "leg_distance_m": s.leg_distance_m,
        "leg_duration_s": s.leg_duration_s, "actual_arrival": s.actual_arrival,
        "actual_departure": s.actual_departure,
    }


def _route_from_row(r: Any, stops: list[Stop]) -> Route:
    return Route(
        id=r.id, vehicle_id=r.vehicle_id, driver_id=r.driver_id, start_depot_id=r.start_depot_id,
        end_depot_id=r.end_depot_id, start=r.start, end=r.end, stops=stops, distance_m=r.distance_m,
        duration_s=r.duration_s, driving_s=r.driving_s, cost=r.cost, status=RouteStatus(r.status),
        plan_id=r.plan_id, actual_start=r.actual_start, actual_end=r.actual_end,
        actual_distance_m=r.actual_distance_m, actual_driving_s=r.actual_driving_s,
    )


def _stop_from_row(r: Any) -> Stop:
    return Stop(
        sequence=r.sequence, kind=StopKind(r.kind), order_id=r.order_id, planned_arrival=r.planned_arrival,
        planned_departure=r.planned_departure, leg_distance_m=r.leg_distance_m,
        leg_duration_s=r.leg_duration_s, actual_arrival=r.actual_arrival, actual_departure=r.actual_departure,
    )


class PlanRepository:
    """Plans of one organisation: header, routes, stops and unassigned orders, written together.

    Route ids must be unique within the organisation across plans (``Order.route_id``
    refers to a route by id alone).
    """

    def __init__(self, session: Session, org_id: str = orm.DEFAULT_ORG) -> None:
        self.session = session
        self.org_id = org_id

    def add(self, plan: Plan, *, current: bool = True) -> None:
        """Insert ``plan`` with its routes, stops and unassigned orders; sets each ``route.plan_id``.

        With ``current=True`` the plan becomes the organisation's current plan (the others
        stop being current).

        Raises:
            sqlalchemy.exc.IntegrityError: when the plan id or a route id already exists.
        """
        org = self.org_id
        if current:
            self.session.execute(update(orm.plans).where(orm.plans.c.org_id == org, orm.plans.c.is_current)
                                 .values(is_current=False))
        c = plan.cost
        self.session.execute(insert(orm.plans), [{
            "org_id": org, "id": plan.id, "created_at": plan.created_at, "cost_fixed": c.fixed,
            "cost_distance": c.distance, "cost_time": c.time, "cost_penalties": c.penalties,
            "currency": c.currency, "solve_seconds": plan.solve_seconds, "objective": plan.objective,
            "feasible": plan.feasible, "is_current": current,
        }])
        for route in plan.routes:
            route.plan_id = plan.id
        if plan.routes:
            self.session.execute(insert(orm.routes),
                                 [_route_row(r, plan.id, i, org) for i, r in enumerate(plan.routes)])
        stop_rows = [_stop_row(s, r.id, i, org) for r in plan.routes for i, s in enumerate(r.stops)]
        if stop_rows:
            self.session.execute(insert(orm.stops), stop_rows)
        if plan.unassigned:
            self.session.execute(insert(orm.unassigned_orders), [
                {"org_id": org, "plan_id": plan.id, "order_id": u.order_id, "position": i, "reason": u.reason}
                for i, u in enumerate(plan.unassigned)
            ])

    def get(self, plan_id: str) -> Plan:
        """The plan ``plan_id`` with routes (in plan order) and their stops (in route order).

        Raises:
            NotFound: when the organisation has no such plan.
        """
        org, p = self.org_id, orm.plans
        head = self.session.execute(select(p).where(p.c.org_id == org, p.c.id == plan_id)).first()
        if head is None:
            raise NotFound(f"unknown plan id: {plan_id}")
        r, s, u = orm.routes, orm.stops, orm.unassigned_orders
        stops_by_route: dict[str, list[Stop]] = {}
        stop_rows = self.session.execute(
            select(s).join(r, (r.c.org_id == s.c.org_id) & (r.c.id == s.c.route_id))
            .where(r.c.org_id == org, r.c.plan_id == plan_id).order_by(s.c.route_id, s.c.position)
        )
        for row in stop_rows:
            stops_by_route.setdefault(row.route_id, []).append(_stop_from_row(row))
        route_rows = self.session.execute(
            select(r).where(r.c.org_id == org, r.c.plan_id == plan_id).order_by(r.c.position))
        unassigned_rows = self.session.execute(
            select(u).where(u.c.org_id == org, u.c.plan_id == plan_id).order_by(u.c.position))
        return Plan(
            id=head.id, created_at=head.created_at,
            routes=[_route_from_row(row, stops_by_route.get(row.id, [])) for row in route_rows],
            unassigned=[UnassignedOrder(row.order_id, row.reason) for row in unassigned_rows],
            cost=CostBreakdown(head.cost_fixed, head.cost_distance, head.cost_time, head.cost_penalties,
                               head.currency),
            solve_seconds=head.solve_seconds, objective=head.objective, feasible=head.feasible,
        )

    def current(self) -> Plan | None:
        """The latest (by ``created_at``) plan marked current, or ``None`` when there is none."""
        p = orm.plans
        plan_id = self.session.execute(
            select(p.c.id).where(p.c.org_id == self.org_id, p.c.is_current)
            .order_by(p.c.created_at.desc(), p.c.id.desc()).limit(1)
        ).scalar()
        return None if plan_id is None else self.get(plan_id)

    def get_route(self, route_id: str) -> Route:
        """One route with its stops.

        Raises:
            NotFound: when the organisation has no such route.
        """
        r, s = orm.routes, orm.stops
        row = self.session.execute(select(r).where(r.c.org_id == self.org_id, r.c.id == route_id)).first()
        if row is None:
            raise NotFound(f"unknown route id: {route_id}")
        stop_rows = self.session.execute(
            select(s).where(s.c.org_id == self.org_id, s.c.route_id == route_id).order_by(s.c.position))
        return _route_from_row(row, [_stop_from_row(x) for x in stop_rows])

    def save_route(self, route: Route, plan_id: str) -> None:
        """Write a re-planned route whole (live re-planning): insert it into plan ``plan_id`` when
        new, else replace its planned fields, execution fields and every stop."""
        r, s = orm.routes, orm.stops
        row = _route_row(route, plan_id, 0, self.org_id)
        exists = self.session.execute(
            select(r.c.position).where(r.c.org_id == self.org_id, r.c.id == route.id)).first()
        if exists is None:
            count = select(func.count()).select_from(r).where(r.c.org_id == self.org_id, r.c.plan_id == plan_id)
            row["position"] = self.session.execute(count).scalar_one()
            self.session.execute(insert(r), [row])
        else:
            row.pop("position")
            self.session.execute(update(r).where(r.c.org_id == self.org_id, r.c.id == route.id).values(**row))
            self.session.execute(s.delete().where(s.c.org_id == self.org_id, s.c.route_id == route.id))
        route.plan_id = plan_id
        if route.stops:
            self.session.execute(insert(s), [_stop_row(x, route.id, i, self.org_id)
                                             for i, x in enumerate(route.stops)])

    def mark_unassigned(self, plan_id: str, order_id: str, reason: str) -> None:
        """List ``order_id`` among ``plan_id``'s unassigned orders with ``reason`` (after the ones there;
        a second call updates the reason). Live orchestration calls it for an order it had to take off
        a route and could place nowhere else, so the exceptions queue shows it.

        Raises:
            sqlalchemy.exc.IntegrityError: when the plan does not exist.
        """
        u = orm.unassigned_orders
        mine = (u.c.org_id == self.org_id, u.c.plan_id == plan_id)
        if self.session.execute(select(u.c.order_id).where(*mine, u.c.order_id == order_id)).first():
            self.session.execute(update(u).where(*mine, u.c.order_id == order_id).values(reason=reason))
            return
        last = self.session.execute(select(func.max(u.c.position)).where(*mine)).scalar()
        self.session.execute(insert(u), [{"org_id": self.org_id, "plan_id": plan_id, "order_id": order_id,
                                          "position": 0 if last is None else last + 1, "reason": reason}])

    def save_routes(self, routes: list[Route], plan_id: str) -> None:
        """Write re-planned routes in a few statements (live re-planning publishes every route a
        traffic report touched at once): new routes are inserted whole; for known ones the planned
        fields (times, distance, duration, cost) and every stop are replaced, the execution fields
        (status, actual times and distances) are left as stored."""
        if not routes:
            return
        r, s = orm.routes, orm.stops
        ids = [x.id for x in routes]
        known = set(self.session.execute(
            select(r.c.id).where(r.c.org_id == self.org_id, r.c.id.in_(ids))).scalars())
        fresh = [x for x in routes if x.id not in known]
        if fresh:
            count = select(func.count()).select_from(r).where(r.c.org_id == self.org_id, r.c.plan_id == plan_id)
            base = self.session.execute(count).scalar_one()
            self.session.execute(insert(r), [_route_row(x, plan_id, base + k, self.org_id)
                                             for k, x in enumerate(fresh)])
        old = [x for x in routes if x.id in known]
        if old:
            rows = []
            for x in old:  # planned fields only: execution fields belong to the execution handlers
                row = _route_row(x, plan_id, 0, self.org_id)
                rows.append({**{f"v_{k}": row[k] for k in _ROUTE_PLANNED}, "b_org": self.org_id, "b_id": x.id})
            names = [k[2:] for k in rows[0] if k.startswith("v_")]
            stmt = update(r).where(r.c.org_id == bindparam("b_org"), r.c.id == bindparam("b_id")).values(
                **{n: bindparam(f"v_{n}") for n in names})
            self.session.connection().execute(stmt, rows)
            self.session.execute(s.delete().where(s.c.org_id == self.org_id, s.c.route_id.in_([x.id for x in old])))
        for x in routes:
            x.plan_id = plan_id
        stop_rows = [_stop_row(st, x.id, i, self.org_id) for x in routes for i, st in enumerate(x.stops)]
        if stop_rows:
            self.session.execute(insert(s), stop_rows)

    def update_route(self, route: Route) -> None:
        """Write a route's execution state: status, driver, ``actual_*`` fields and stops' actual times.

        Planned fields (sequence, planned times, legs) are not changed: a new plan is the way
        to change them.

        Raises:
            NotFound: when the route does not exist.
            ValueError: when ``route`` has a different number of stops than stored.
        """
        r, s = orm.routes, orm.stops
        values = {k: v for k, v in _route_row(route, "", 0, self.org_id).items() if k in _ROUTE_EXEC}
        result = self.session.connection().execute(
            update(r).where(r.c.org_id == self.org_id, r.c.id == route.id).values(**values))
        if result.rowcount == 0:
            raise NotFound(f"unknown route id: {route.id}")
        count = select(func.count()).select_from(s).where(s.c.org_id == self.org_id, s.c.route_id == route.id)
        stored = self.session.execute(count).scalar_one()
        if stored != len(route.stops):
            raise ValueError(f"route {route.id} has {len(route.stops)} stops, {stored} stored: "
                             "update_route writes execution fields only")
        if route.stops:
            stmt = update(s).where(s.c.org_id == bindparam("b_org"), s.c.route_id == bindparam("b_route"),
                                   s.c.position == bindparam("b_pos"))
            self.session.connection().execute(stmt, [
                {"actual_arrival": x.actual_arrival, "actual_departure": x.actual_departure,
                 "b_org": self.org_id, "b_route": route.id, "b_pos": i}
                for i, x in enumerate(route.stops)
            ])

