"""A vehicle breaks down: its open stops go to the rest of the fleet (fast path, pure: no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

from baton.live.model import LivePlan
from baton.live.ops import BaseCache, Insertion, insert_order

#: Routes and fully timed candidates per order when a broken-down van's stops are re-inserted
#: (many insertions in one event: the nearest few routes are enough, the background improvement
#: does the rest).
BREAKDOWN_NEAR_ROUTES = 8
BREAKDOWN_CANDIDATES = 10


@dataclass(frozen=True)
class BreakdownResult:
    """``moved`` orders found a new route, ``unassigned`` did not, ``transferred`` were on board
    (returned to the depot by the recovery service, ready for reload ``transfer_delay_s`` later)."""

    moved: list[str]
    unassigned: list[str]
    transferred: list[str]
    changed_routes: set[str]


def breakdown(plan: LivePlan, route_id: str, now_s: int, transfer_delay_s: int = 2700) -> BreakdownResult:
    """``route_id``'s vehicle cannot continue: its open stops (the pinned one included) are
    inserted on the rest of the fleet, most urgent window first (each on the
    :data:`BREAKDOWN_NEAR_ROUTES` routes passing closest to it, :data:`BREAKDOWN_CANDIDATES` timed
    tries). Parcels on board are modelled as a *return*: the recovery service brings them back to
    the depot, where they are available for a reload ``transfer_delay_s`` seconds after ``now_s`` (default 45 min)."""
    route = plan.routes[route_id]
    route.broken = True
    todo = route.order_ids
    transferred = [o for o in todo if o in route.onboard]
    for o in transferred:
        plan.orders[o].available_s = max(plan.orders[o].available_s, now_s + transfer_delay_s)
    route.onboard -= set(todo)
    route.pinned, route.free = None, []
    todo.sort(key=lambda o: min((late for _, late in plan.orders[o].windows), default=0))
    moved, left, changed = [], [], {route_id}
    bases: BaseCache = {}
    for o in todo:
        result = insert_order(plan, o, near_routes=BREAKDOWN_NEAR_ROUTES, candidates=BREAKDOWN_CANDIDATES,
                              bases=bases)
        if isinstance(result, Insertion):
            moved.append(o)
            changed.add(result.route_id)
        else:
            left.append(o)
    return BreakdownResult(moved, left, transferred, changed)
