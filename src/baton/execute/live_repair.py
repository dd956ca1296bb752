"""A :class:`~baton.execute.playbooks.Replanner` backed by live re-planning (:mod:`baton.live`).

The late vehicle's observed slowness is reported to live re-planning as traffic on that vehicle
(``ReportTraffic`` with ``vehicle_id``); with the live board in ``baton`` mode that re-evaluates
every route and repairs threatened ones (re-sequence, or move stops whose parcels are still at the
depot to another van when that keeps them on time). Two measures of slowness:

* ``current_leg(route_id, at)`` (optional, e.g. :meth:`ExecutionService.current_leg`): the vehicle is
  stuck on the leg it started at ``leg_start``; at execution's ETA that leg takes ``f`` x its planned
  time. Reported as a slowdown of that leg only (legs of that vehicle starting within
  ``leg_slack_s`` of ``leg_start``), so live re-planning sees the same delay as execution's ETAs
  (a jam is a delay on the current leg, not a slower driver for the rest of the day).
* otherwise ``vehicle_of(route_id)`` → (vehicle id, smoothed pace): travel times x max(``min_factor``,
  pace) from now for ``horizon_s``.

The repair counts as applied only when a threatened order moved to another route (re-timing alone
leaves it late: the dispatcher task still opens).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from baton.execute.playbooks import RepairOutcome
from baton.service_layer import commands
from baton.service_layer.messagebus import MessageBus

CurrentLeg = Callable[[str, datetime], "tuple[datetime, float] | None"]


class LiveReplanner:
    """``vehicle_of(route_id)`` → (vehicle id, pace factor) of the route being repaired (``None``: unknown);
    ``current_leg(route_id, at)`` → (leg start, leg factor) or ``None`` (see the module docstring)."""

    def __init__(self, bus: MessageBus, vehicle_of: Callable[[str], tuple[str, float] | None],
                 horizon_s: int = 4 * 3600, min_factor: float = 1.2, current_leg: CurrentLeg | None = None,
                 leg_slack_s: int = 90) -> None:
        self.bus = bus
        self.vehicle_of = vehicle_of
        self.horizon_s = horizon_s
        self.min_factor = min_factor
        self.current_leg = current_leg
        self.leg_slack_s = leg_slack_s

    def repair(self, route_id: str, order_ids: Sequence[str], at: datetime) -> RepairOutcome:
        found = self.vehicle_of(route_id)
        if found is None:
            return RepairOutcome(False, f"route {route_id} is not tracked")
        vehicle_id, pace = found
        leg = self.current_leg(route_id, at) if self.current_leg is not None else None
        if leg is not None and leg[1] > max(self.min_factor, pace):
            slack = timedelta(seconds=self.leg_slack_s)
            cmd = commands.ReportTraffic(at=at, actor="system:monitor", factor=round(leg[1], 3),
                                         start=leg[0] - slack, end=leg[0] + slack, vehicle_id=vehicle_id)
        else:
            cmd = commands.ReportTraffic(at=at, actor="system:monitor", factor=max(self.min_factor, pace), start=at,
                                         end=at + timedelta(seconds=self.horizon_s), vehicle_id=vehicle_id)
        changed = self.bus.handle(cmd)
        uow = self.bus.uow
        with uow:
            moved = {o.id: o.route_id for o in uow.orders.get_many(list(order_ids))
                     if o.route_id is not None and o.route_id != route_id}
        routes = ", ".join(changed) if changed else "none"
        if not moved:  # re-timed or re-sequenced at best: the threatened stops are still on this route
            return RepairOutcome(False, f"no stop moved (routes re-published: {routes})")
        return RepairOutcome(True, f"moved {', '.join(f'{o} to {r}' for o, r in moved.items())}; "
                                   f"routes re-published: {routes}", moved)
