"""The dispatch store: carriers, rule sets, processes, decisions, tenders and carrier health.

It works in the session of a :class:`~baton.service_layer.unit_of_work.SqlAlchemyUnitOfWork`, so its
writes commit atomically with the unit of work's orders and events (:func:`dispatch_store`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from baton.adapters import orm_dispatch as t
from baton.dispatch.breaker import BreakerState, CircuitBreaker
from baton.dispatch.carrier_file import carrier_to_dict, load_carriers
from baton.dispatch.carriers import Carrier
from baton.dispatch.engine import Decision
from baton.dispatch.rules import RuleSet, parse_rules
from baton.dispatch.tender import DispatchProcess, ProcessState, Tender, TenderState
from baton.domain.errors import NotFound


class DispatchStore:
    """Dispatch persistence for one organisation in one session (nothing commits here)."""

    def __init__(self, session: Session, org_id: str) -> None:
        self.session = session
        self.org_id = org_id

    # carriers ---------------------------------------------------------------------------
    def put_carriers(self, carriers: list[Carrier], at: datetime) -> None:
        """Insert or replace carriers by id."""
        for c in carriers:
            self.session.merge(t.CarrierRow(org_id=self.org_id, id=c.id, fleet_type=c.fleet_type.value,
                                            spec=carrier_to_dict(c), updated_at=at))
        self.session.flush()

    def carriers(self) -> list[Carrier]:
        rows = self.session.scalars(select(t.CarrierRow).where(t.CarrierRow.org_id == self.org_id)
                                    .order_by(t.CarrierRow.id)).all()
        if not rows:
            return []
        return load_carriers(_dump({"carriers": [r.spec for r in rows]}), "<stored carriers>")

    def carrier(self, carrier_id: str) -> Carrier:
        """Raises NotFound when no such carrier."""
        for c in self.carriers():
            if c.id == carrier_id:
                return c
        raise NotFound(f"carrier {carrier_id!r} not found")

    # rule sets --------------------------------------------------------------------------
    def add_ruleset(self, rules: RuleSet, at: datetime) -> bool:
        """Store ``rules`` and make it the active policy; ``False`` when this exact version was already
        active with the same source (idempotent).

        Raises:
            ValueError: when the version exists with a different source (versions are immutable).
        """
        row = self.session.get(t.RuleSetRow, (self.org_id, rules.version))
        if row is not None and row.source != rules.source:
            raise ValueError(f"rules version {rules.version} already exists with other content; bump 'version'")
        if row is not None and row.active:
            return False
        for other in self.session.scalars(select(t.RuleSetRow).where(t.RuleSetRow.org_id == self.org_id,
                                                                     t.RuleSetRow.active.is_(True))):
            other.active = False
        if row is None:
            self.session.add(t.RuleSetRow(org_id=self.org_id, version=rules.version, name=rules.name,
                                          source=rules.source, active=True, loaded_at=at))
        else:
            row.active = True
        self.session.flush()
        return True

    def active_ruleset(self) -> RuleSet | None:
        row = self.session.scalars(select(t.RuleSetRow).where(t.RuleSetRow.org_id == self.org_id,
                                                              t.RuleSetRow.active.is_(True))).first()
        return None if row is None else parse_rules(row.source, f"<rules v{row.version}>")

    # processes --------------------------------------------------------------------------
    def process(self, order_id: str) -> DispatchProcess | None:
        tp = t.dispatch_processes
        row = self.session.execute(select(tp).where(tp.c.org_id == self.org_id, tp.c.order_id == order_id)).first()
        return None if row is None else _process_from_row(row)

    def save_process(self, p: DispatchProcess, at: datetime) -> None:
        """Insert (``p.stored`` false: a new process) or update."""
        values = {"rule_id": p.rule_id, "ruleset_version": p.ruleset_version, "state": p.state.value,
                  "queue": list(p.queue), "tried": list(p.tried), "fallback": p.fallback, "timeout_s": p.timeout_s,
                  "carrier_id": p.carrier_id, "tender_id": p.tender_id, "reason": p.reason,
                  "picked_up": p.picked_up, "updated_at": at}
        key = {"org_id": self.org_id, "order_id": p.order_id}
        if p.stored:
            self._upsert(t.dispatch_processes, key, values)
        else:
            self.session.execute(insert(t.dispatch_processes).values(**key, **values))
            p.stored = True

    def _upsert(self, table: Any, key: dict[str, Any], values: dict[str, Any]) -> None:
        cond = [table.c[k] == v for k, v in key.items()]
        result = self.session.execute(update(table).where(*cond).values(**values))
        if getattr(result, "rowcount", 0) == 0:
            self.session.execute(insert(table).values(**key, **values))

    def processes(self, *, carrier_id: str | None = None, state: ProcessState | None = None,
                  picked_up: bool | None = None) -> list[DispatchProcess]:
        """Processes filtered by assignee, state and pick-up (``None``: any), by order id."""
        tp = t.dispatch_processes
        stmt = select(tp).where(tp.c.org_id == self.org_id)
        if carrier_id is not None:
            stmt = stmt.where(tp.c.carrier_id == carrier_id)
        if state is not None:
            stmt = stmt.where(tp.c.state == state.value)
        if picked_up is not None:
            stmt = stmt.where(tp.c.picked_up.is_(picked_up))
        return [_process_from_row(r) for r in self.session.execute(stmt.order_by(tp.c.order_id))]

    def order_ids(self) -> set[str]:
        """Ids of every order with a dispatch process."""
        tp = t.dispatch_processes
        return set(self.session.scalars(select(tp.c.order_id).where(tp.c.org_id == self.org_id)).all())

    def load_by_carrier(self, at: datetime, timezones: dict[str, str] | None = None) -> dict[str, int]:
        """Orders assigned to or being offered to each carrier on ``at``'s local day (in each carrier's
        timezone from ``timezones``, default UTC): what counts against its daily capacity."""
        from zoneinfo import ZoneInfo

        tp = t.dispatch_processes
        rows = self.session.execute(
            select(tp.c.carrier_id, tp.c.updated_at).where(
                tp.c.org_id == self.org_id, tp.c.carrier_id.is_not(None), tp.c.updated_at >= at - timedelta(days=1),
                tp.c.updated_at <= at + timedelta(days=1),
                tp.c.state.in_([ProcessState.ASSIGNED.value, ProcessState.TENDERING.value,
                                ProcessState.CAPTIVE.value]))).all()
        out: dict[str, int] = {}
        tzs = timezones or {}
        for carrier_id, updated_at in rows:
            tz = ZoneInfo(tzs.get(carrier_id, "UTC"))
            if updated_at.astimezone(tz).date() == at.astimezone(tz).date():
                out[carrier_id] = out.get(carrier_id, 0) + 1
        return out

    # decisions --------------------------------------------------------------------------
    def add_decision(self, d: Decision, at: datetime) -> None:
        self.session.add(t.DecisionRow(org_id=self.org_id, order_id=d.order_id, decided_at=at, rule_id=d.rule_id,
                                       ruleset_version=d.ruleset_version, action=d.action,
                                       explanation=d.explanation))

    def decisions(self, order_id: str) -> list[dict[str, Any]]:
        """Every decision for ``order_id``, oldest first: ``decided_at``, ``rule_id``, ``action``, ``explanation``."""
        rows = self.session.scalars(select(t.DecisionRow).where(
            t.DecisionRow.org_id == self.org_id, t.DecisionRow.order_id == order_id).order_by(t.DecisionRow.id)).all()
        return [{"decided_at": r.decided_at.isoformat(), "rule_id": r.rule_id, "ruleset_version": r.ruleset_version,
                 "action": r.action, "explanation": r.explanation} for r in rows]

    # tenders ----------------------------------------------------------------------------
    def add_tender(self, x: Tender) -> None:
        """Insert a new tender."""
        self.session.execute(insert(t.tenders).values(
            org_id=self.org_id, id=x.id, order_id=x.order_id, carrier_id=x.carrier_id, state=x.state.value,
            offered_at=x.offered_at, expires_at=x.expires_at, responded_at=x.responded_at, reason=x.reason,
            price=x.price, driver_id=x.driver_id))

    def save_tender(self, x: Tender) -> None:
        """Insert or update a tender."""
        self._upsert(t.tenders, {"org_id": self.org_id, "id": x.id}, {
            "order_id": x.order_id, "carrier_id": x.carrier_id, "state": x.state.value, "offered_at": x.offered_at,
            "expires_at": x.expires_at, "responded_at": x.responded_at, "reason": x.reason, "price": x.price,
            "driver_id": x.driver_id})

    def tender(self, tender_id: str) -> Tender:
        """Raises NotFound when no such tender."""
        tt = t.tenders
        r = self.session.execute(select(tt).where(tt.c.org_id == self.org_id, tt.c.id == tender_id)).first()
        if r is None:
            raise NotFound(f"tender {tender_id!r} not found")
        return _tender_from_row(r)

    def list_tenders(self, *, driver_id: str | None = None, carrier_id: str | None = None,
                     state: TenderState | None = None, order_id: str | None = None,
                     limit: int = 500) -> list[Tender]:
        """Tenders filtered by courier, carrier, state and order (``None``: any), newest offer first."""
        tt = t.tenders
        stmt = select(tt).where(tt.c.org_id == self.org_id)
        for column, value in (("driver_id", driver_id), ("carrier_id", carrier_id), ("order_id", order_id),
                              ("state", state.value if state is not None else None)):
            if value is not None:
                stmt = stmt.where(tt.c[column] == value)
        rows = self.session.execute(stmt.order_by(tt.c.offered_at.desc(), tt.c.id.desc()).limit(limit)).all()
        return [_tender_from_row(r) for r in rows]

    def courier_load(self, carrier_id: str, at: datetime) -> dict[str, int]:
        """Per courier of ``carrier_id``: offers open now plus offers accepted in the 24 h before ``at``
        (what balances offers among a gig network's couriers)."""
        tt = t.tenders
        rows = self.session.execute(select(tt.c.driver_id, func.count()).where(
            tt.c.org_id == self.org_id, tt.c.carrier_id == carrier_id, tt.c.driver_id.is_not(None),
            tt.c.state.in_([TenderState.OFFERED.value, TenderState.ACCEPTED.value]),
            tt.c.offered_at >= at - timedelta(days=1)).group_by(tt.c.driver_id)).all()
        return {str(d): int(n) for d, n in rows}

    def tenders(self, order_id: str) -> list[Tender]:
        ids = self.session.scalars(select(t.TenderRow.id).where(
            t.TenderRow.org_id == self.org_id, t.TenderRow.order_id == order_id).order_by(t.TenderRow.id)).all()
        return [self.tender(i) for i in ids]

    def count_tenders(self, order_id: str) -> int:
        return int(self.session.scalar(select(func.count()).select_from(t.TenderRow).where(
            t.TenderRow.org_id == self.org_id, t.TenderRow.order_id == order_id)) or 0)

    def expired_tenders(self, at: datetime) -> list[Tender]:
        ids = self.session.scalars(select(t.TenderRow.id).where(
            t.TenderRow.org_id == self.org_id, t.TenderRow.state == TenderState.OFFERED.value,
            t.TenderRow.expires_at <= at).order_by(t.TenderRow.expires_at, t.TenderRow.id)).all()
        return [self.tender(i) for i in ids]

    # health -----------------------------------------------------------------------------
    def health(self, carrier_id: str) -> CircuitBreaker:
        th = t.carrier_health
        r = self.session.execute(select(th).where(th.c.org_id == self.org_id, th.c.carrier_id == carrier_id)).first()
        if r is None:
            return CircuitBreaker(carrier_id)
        return CircuitBreaker(carrier_id, BreakerState(r.state), r.failures, r.opened_at, r.last_status_at, r.reason)

    def save_health(self, b: CircuitBreaker) -> None:
        self._upsert(t.carrier_health, {"org_id": self.org_id, "carrier_id": b.carrier_id}, {
            "state": b.state.value, "failures": b.failures, "opened_at": b.opened_at,
            "last_status_at": b.last_status_at, "reason": b.reason})

    def down_carriers(self) -> set[str]:
        rows = self.session.scalars(select(t.CarrierHealthRow.carrier_id).where(
            t.CarrierHealthRow.org_id == self.org_id,
            t.CarrierHealthRow.state != BreakerState.CLOSED.value)).all()
        return set(rows)

    # driver history ---------------------------------------------------------------------
    def driver_history(self) -> dict[str, list[tuple[float, float]]]:
        """Delivery positions ``(lat, lng)`` per driver from completed routes (for zone familiarity)."""
        from baton.adapters import orm

        r, s, o = orm.routes, orm.stops, orm.orders
        stmt = (select(r.c.driver_id, o.c.lat, o.c.lng)
                .select_from(r.join(s, (s.c.org_id == r.c.org_id) & (s.c.route_id == r.c.id))
                             .join(o, (o.c.org_id == s.c.org_id) & (o.c.id == s.c.order_id)))
                .where(r.c.org_id == self.org_id, r.c.driver_id.is_not(None), r.c.status == "completed"))
        out: dict[str, list[tuple[float, float]]] = {}
        for driver_id, lat, lng in self.session.execute(stmt):
            out.setdefault(str(driver_id), []).append((float(lat), float(lng)))
        return out

    # inbound messages -------------------------------------------------------------------
    def seen_message(self, carrier_id: str, message_id: str, at: datetime) -> bool:
        """``True`` when this message was applied before; otherwise remember it and return ``False``."""
        if self.session.get(t.CarrierMessageRow, (self.org_id, carrier_id, message_id)) is not None:
            return True
        self.session.add(t.CarrierMessageRow(org_id=self.org_id, carrier_id=carrier_id, message_id=message_id,
                                             received_at=at))
        return False


def _tender_from_row(r: Any) -> Tender:
    return Tender(r.id, r.order_id, r.carrier_id, r.offered_at, r.expires_at, TenderState(r.state),
                  r.responded_at, r.reason, r.price, r.driver_id)


def _process_from_row(row: Any) -> DispatchProcess:
    return DispatchProcess(row.order_id, row.rule_id, row.ruleset_version, ProcessState(row.state), list(row.queue),
                           list(row.tried), row.fallback, row.timeout_s, row.carrier_id, row.tender_id, row.reason,
                           row.picked_up, stored=True)


def _dump(value: Any) -> str:
    import json

    return json.dumps(value)


def dispatch_store(uow: Any) -> DispatchStore:
    """The store on an open :class:`~baton.service_layer.unit_of_work.SqlAlchemyUnitOfWork`'s session.

    Raises:
        RuntimeError: outside the unit of work's ``with`` block, or on a unit of work without a session.
    """
    session = getattr(uow, "session", None)
    if not isinstance(session, Session):
        raise RuntimeError("dispatch needs an open SqlAlchemyUnitOfWork (inside its `with` block)")
    return DispatchStore(session, uow.org_id)
