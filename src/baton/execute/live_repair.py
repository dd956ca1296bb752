"""A :class:`~baton.execute.playbooks.Replanner` backed by live re-planning (:mod:`baton.live`).

The late vehicle's observed slowness is reported as traffic on that vehicle (``ReportTraffic``:
travel times × its pace factor, from now for ``horizon_s``); with the live board in ``baton`` mode
that re-evaluates every route and repairs threatened ones (re-sequence, or move stops to another
van when that keeps them on time). The repair counts as applied only when a threatened order moved
to another route (re-timing alone leaves it late: the dispatcher task still opens).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from baton.execute.playbooks import RepairOutcome
from baton.service_layer import commands
from baton.service_layer.messagebus import MessageBus


class LiveReplanner:
    """``vehicle_of(route_id)`` → (vehicle id, pace factor) of the route being repaired (``None``: unknown)."""

    def __init__(self, bus: MessageBus, vehicle_of: Callable[[str], tuple[str, float] | None],
                 horizon_s: int = 4 * 3600, min_factor: float = 1.2) -> None:
        self.bus = bus
        self.vehicle_of = vehicle_of
        self.horizon_s = horizon_s
        self.min_factor = min_factor

    def repair(self, route_id: str, order_ids: Sequence[str], at: datetime) -> RepairOutcome:
        found = self.vehicle_of(route_id)
        if found is None:
            return RepairOutcome(False, f"route {route_id} is not tracked")
        vehicle_id, pace = found
        factor = max(self.min_factor, pace)
        changed = self.bus.handle(commands.ReportTraffic(
            at=at, actor="system:monitor", factor=factor, start=at, end=at + timedelta(seconds=self.horizon_s),
            vehicle_id=vehicle_id))
        uow = self.bus.uow
        with uow:
            moved = {o.id: o.route_id for o in uow.orders.get_many(list(order_ids))
                     if o.route_id is not None and o.route_id != route_id}
        routes = ", ".join(changed) if changed else "none"
        if not moved:  # re-timed or re-sequenced at best: the threatened stops are still on this route
            return RepairOutcome(False, f"no stop moved (routes re-published: {routes})")
        return RepairOutcome(True, f"moved {', '.join(f'{o} to {r}' for o, r in moved.items())}; "
                                   f"routes re-published: {routes}", moved)
