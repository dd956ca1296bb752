"""The exception lifecycle and playbook runner.

:meth:`ExceptionManager.apply` takes the monitor's findings for one vehicle: a new finding opens an
exception (``OpenException``, idempotent per kind and subject) and runs its kind's playbook; an open
condition exception whose finding is gone is resolved automatically (``ResolveException``,
``automatic=True``). A late-risk exception that grows to more orders notifies the new ones too.
Every playbook step is logged with ``LogExceptionAction``. Dispatchers acknowledge and resolve
with the ``AcknowledgeException`` / ``ResolveException`` commands (CLI ``baton execute``, HTTP).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from baton.domain.events import Event
from baton.execute.eta import StopEta
from baton.execute.monitor import CONDITION_KINDS, Finding
from baton.execute.playbooks import RepairOutcome, Replanner
from baton.execute.records import ExecutionRecords
from baton.service_layer import commands
from baton.service_layer.messagebus import MessageBus

if TYPE_CHECKING:
    from baton.execute.service import ExecutionService

ACTOR = "system:monitor"


class ExceptionManager:
    """Opens, follows and auto-resolves exceptions; runs playbooks (see the module docstring)."""

    def __init__(self, bus: MessageBus, playbooks: Mapping[str, Sequence[str]], replanner: Replanner,
                 service: ExecutionService) -> None:
        self.bus = bus
        self.playbooks = playbooks
        self.replanner = replanner
        self.service = service
        #: (kind, subject) → (exception id, vehicle id, orders already notified)
        self.open: dict[tuple[str, str], tuple[str, str | None, set[str]]] = {}
        self._loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        uow = self.service.uow
        with uow:
            assert uow.session is not None
            for exc in ExecutionRecords(uow.session, uow.org_id).exceptions():
                if exc.status != "resolved":
                    notified = set(exc.details.get("notified", [])) if isinstance(exc.details, dict) else set()
                    self.open[(exc.kind, exc.subject)] = (exc.id, exc.vehicle_id, notified)
        self._loaded = True

    def apply(self, vehicle_id: str, findings: Sequence[Finding], now: datetime, etas: Sequence[StopEta]) -> None:
        """Open/follow/resolve this vehicle's condition exceptions for ``findings`` at ``now``."""
        self._load()
        seen = set()
        for f in findings:
            key = (f.kind, f.subject)
            seen.add(key)
            if key in self.open:
                self._follow(key, f, now, etas)
                continue
            exception_id = self.bus.handle(commands.OpenException(
                at=now, actor=ACTOR, kind=f.kind, subject=f.subject, route_id=f.route_id, vehicle_id=f.vehicle_id,
                order_id=f.order_id, details=dict(f.details)))
            if exception_id is None:  # opened by another worker meanwhile
                continue
            self.open[key] = (exception_id, vehicle_id, set())
            self._run_playbook(exception_id, f, now, etas)
        for key, (exception_id, owner, _) in list(self.open.items()):
            if owner == vehicle_id and key[0] in CONDITION_KINDS and key not in seen:
                self.bus.handle(commands.ResolveException(at=now, actor=ACTOR, exception_id=exception_id,
                                                          resolution="condition cleared", automatic=True))
                self.open.pop(key, None)

    def on_resolved(self, event: Event) -> None:
        """Forget a resolved exception (resolved by a dispatcher or automatically) so it may reopen."""
        exception_id = getattr(event, "exception_id", None)
        for key, (open_id, _, _) in list(self.open.items()):
            if open_id == exception_id:
                del self.open[key]

    def failed_attempt(self, order_id: str, route_id: str | None, vehicle_id: str | None, now: datetime,
                       reason: str | None) -> None:
        """Open a ``failed_attempt`` exception for the order and run its playbook."""
        finding = Finding("failed_attempt", f"order:{order_id}", route_id or "", vehicle_id or "", order_id,
                          {"orders": [order_id], "reason": reason})
        exception_id = self.bus.handle(commands.OpenException(
            at=now, actor=ACTOR, kind=finding.kind, subject=finding.subject, route_id=route_id,
            vehicle_id=vehicle_id, order_id=order_id, details=dict(finding.details)))
        if exception_id is not None:
            self._run_playbook(exception_id, finding, now, [])

    def breakdown(self, route_id: str, vehicle_id: str, now: datetime, moved: Sequence[str],
                  stranded: Sequence[str]) -> None:
        """Open a ``breakdown`` exception: ``moved`` orders went to other vans, ``stranded`` ones are delayed."""
        finding = Finding("breakdown", f"route:{route_id}", route_id, vehicle_id, None,
                          {"orders": list(stranded), "moved": list(moved)})
        exception_id = self.bus.handle(commands.OpenException(
            at=now, actor=ACTOR, kind=finding.kind, subject=finding.subject, route_id=route_id,
            vehicle_id=vehicle_id, details=dict(finding.details)))
        if exception_id is not None:
            self._run_playbook(exception_id, finding, now, [])

    def _follow(self, key: tuple[str, str], f: Finding, now: datetime, etas: Sequence[StopEta]) -> None:
        exception_id, _, notified = self.open[key]
        if f.kind != "late_risk" or "notify_customers" not in self.playbooks.get(f.kind, ()):
            return
        new = [o for o in f.details.get("orders", []) if o not in notified]
        if new:
            self._notify(exception_id, new, now, etas, notified)

    def _log(self, exception_id: str, now: datetime, action: str, outcome: str, detail: str,
             needs_dispatcher: bool = False) -> None:
        self.bus.handle(commands.LogExceptionAction(at=now, actor=ACTOR, exception_id=exception_id, action=action,
                                                    outcome=outcome, detail=detail, needs_dispatcher=needs_dispatcher))

    def _notify(self, exception_id: str, orders: Sequence[str], now: datetime, etas: Sequence[StopEta],
                notified: set[str]) -> None:
        by_order = {e.order_id: e.eta.isoformat() for e in etas}
        n = self.bus.handle(commands.RequestCustomerNotifications(
            at=now, actor=ACTOR, order_ids=list(orders), topic="delay", exception_id=exception_id,
            etas={o: by_order[o] for o in orders if o in by_order}, message="Your delivery is running late"))
        notified.update(orders)
        self._log(exception_id, now, "notify_customers", "done", f"{n} customer(s): {', '.join(orders)}")

    def _run_playbook(self, exception_id: str, f: Finding, now: datetime, etas: Sequence[StopEta]) -> None:
        orders: list[str] = [str(o) for o in f.details.get("orders", [])] or ([f.order_id] if f.order_id else [])
        repaired: RepairOutcome | None = None
        for action in self.playbooks.get(f.kind, ()):
            try:
                if action == "recompute_etas":
                    if f.vehicle_id and f.vehicle_id in self.service.vehicles:
                        etas = self.service.vehicles[f.vehicle_id].etas(now)
                        self._log(exception_id, now, action, "done", f"{len(etas)} ETA(s) recomputed")
                    else:
                        self._log(exception_id, now, action, "no_op", "vehicle not tracked")
                elif action == "request_repair":
                    repaired = self.replanner.repair(f.route_id, orders, now)
                    self._log(exception_id, now, action, "done" if repaired.applied else "no_op", repaired.detail)
                    if repaired.applied and f.vehicle_id:
                        self.service.track_route(f.route_id)
                elif action == "notify_customers":
                    _, _, notified = self.open.get((f.kind, f.subject), (exception_id, None, set()))
                    targets = [o for o in orders if o not in notified and o not in (repaired.moved if repaired
                                                                                      else {})]
                    if targets:
                        self._notify(exception_id, targets, now, etas, notified)
                    else:
                        self._log(exception_id, now, action, "no_op", "no customer affected")
                elif action == "open_dispatcher_task":
                    if repaired is not None and repaired.applied:
                        self._log(exception_id, now, action, "no_op", "repaired automatically")
                    else:
                        self._log(exception_id, now, action, "done", f"dispatcher task opened ({f.kind})",
                                  needs_dispatcher=True)
            except Exception as exc:  # a failing step is logged, the rest of the playbook still runs
                self._log(exception_id, now, action, "failed", f"{type(exc).__name__}: {exc}")
