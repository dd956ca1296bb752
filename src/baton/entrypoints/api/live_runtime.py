"""Live orchestration in an API process: one live board per organisation, fed by every bus.

The live board (:class:`~baton.live.board.LiveBoard`) is the in-memory state of the day that the
fast path repairs: where each van is, what it has done, the stop it drives to. In the API each
request gets its own message bus, so the board lives on one long-lived bus per organisation
(:class:`LiveRuntime`); live commands (start, traffic, breakdown, new orders during the day) go
through it, and every event any other bus of the organisation commits (a driver's arrival, an order
cancelled or changed) is relayed to it (:meth:`LiveRuntime.relay`), so the board follows the day
and repairs the plan on its own. One lock per organisation serialises the board's work.

The board is in this process's memory: run the API as one process (``baton serve`` does) for live
orchestration; a second process would not see the first one's board.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from baton.domain.events import Event
from baton.execute.live_repair import CurrentLeg, LiveReplanner
from baton.execute.playbooks import NoRepair, RepairOutcome
from baton.live.board import LiveBoard
from baton.service_layer import commands
from baton.service_layer.live_reactions import enable_live
from baton.service_layer.messagebus import MessageBus


class LiveRuntime:
    """The live board of one organisation on its own bus (``mode="baton"``: Baton repairs)."""

    def __init__(self, bus: MessageBus, forward: Callable[[Event], None] | None = None) -> None:
        self.bus = bus
        self.board: LiveBoard = enable_live(bus, "baton")
        self.lock = threading.RLock()
        if forward is not None:  # what the board commits, for execution (re-planned routes, breakdowns)
            bus.subscribe(None, forward)

    @property
    def active(self) -> bool:
        """Whether the day is being orchestrated (after ``StartLive``)."""
        return self.board.plan is not None

    def handle(self, command: commands.Command) -> Any:
        """Run one live command on the board's bus (under the organisation's lock)."""
        with self.lock:
            return self.bus.handle(command)

    def relay(self, event: Event) -> None:
        """An event another bus of the organisation committed; ignored until the day is started."""
        if not self.active:
            return
        with self.lock:
            self.bus.deliver(event)


class LiveRuntimes:
    """One :class:`LiveRuntime` per organisation, made by ``factory(org_id, forward)`` on first use,
    where ``forward(event)`` hands every event the board commits to each of :attr:`listeners`
    (``listener(org_id, event)``; they must not block: execution queues them). Thread-safe."""

    def __init__(self, factory: Callable[[str, Callable[[Event], None]], LiveRuntime]) -> None:
        self.factory = factory
        self.listeners: list[Callable[[str, Event], None]] = []
        self._runtimes: dict[str, LiveRuntime] = {}
        self._guard = threading.Lock()

    def _forward(self, org_id: str) -> Callable[[Event], None]:
        def forward(event: Event) -> None:
            for listener in self.listeners:
                listener(org_id, event)
        return forward

    def for_org(self, org_id: str) -> LiveRuntime:
        """The runtime of ``org_id``, created on first use."""
        with self._guard:
            runtime = self._runtimes.get(org_id)
            if runtime is None:
                runtime = self._runtimes[org_id] = self.factory(org_id, self._forward(org_id))
            return runtime

    def get(self, org_id: str) -> LiveRuntime | None:
        """The runtime of ``org_id`` if it exists (never creates one)."""
        return self._runtimes.get(org_id)

    def status(self, org_id: str) -> dict[str, Any]:
        """``active``, ``plan_id``, ``routes``; ``closed_routes``: routes that take no more work today
        (the van is out of service, or back from its route); ``unassigned``: ``[{order_id, reason}]``
        (orders no route can serve now)."""
        runtime = self.get(org_id)
        plan = runtime.board.plan if runtime is not None else None
        if runtime is None or plan is None:
            return {"active": False, "plan_id": None, "routes": 0, "closed_routes": [], "unassigned": []}
        return {"active": True, "plan_id": runtime.board.plan_id, "routes": len(plan.routes),
                "closed_routes": sorted(rid for rid, r in plan.routes.items() if r.broken),
                "unassigned": [{"order_id": o, "reason": r} for o, r in sorted(plan.unassigned.items())]}


class LiveRepair:
    """Execution's :class:`~baton.execute.playbooks.Replanner` in the API: while ``org_id``'s day is
    orchestrated, a route at risk is repaired by its live board
    (:class:`~baton.execute.live_repair.LiveReplanner` on the board's bus, under its lock); before
    that, no repair (the dispatcher gets the task). ``vehicle_of`` and ``current_leg``: as for
    :class:`~baton.execute.live_repair.LiveReplanner`."""

    def __init__(self, runtimes: LiveRuntimes, org_id: str, vehicle_of: Callable[[str], tuple[str, float] | None],
                 current_leg: CurrentLeg | None = None) -> None:
        self.runtimes, self.org_id = runtimes, org_id
        self.vehicle_of, self.current_leg = vehicle_of, current_leg

    def repair(self, route_id: str, order_ids: Sequence[str], at: datetime) -> RepairOutcome:
        runtime = self.runtimes.get(self.org_id)
        if runtime is None or not runtime.active:
            return NoRepair().repair(route_id, order_ids, at)
        with runtime.lock:
            replanner = LiveReplanner(runtime.bus, self.vehicle_of, current_leg=self.current_leg)
            return replanner.repair(route_id, order_ids, at)


__all__ = ["LiveRepair", "LiveRuntime", "LiveRuntimes"]
