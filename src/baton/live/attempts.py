"""Second attempts: a customer was not home, the parcel is still on the van (pure: no I/O).

* :func:`second_attempt`: try again later the same day on the same vehicle, at least an hour later
  and inside the order's windows, else tomorrow;
* :func:`insert_on_board`: the fast-path insertion for a parcel on board, which may cost its van a
  little overtime and a little more lateness on stops already late, never a newly late stop.
"""

from __future__ import annotations

from baton.live.model import LivePlan, evaluate
from baton.live.ops import Insertion, insert_order, unassign

#: A parcel already on board (a second attempt) may lengthen its van's day by this much past the
#: later of the shift end and the route's current return, and add this much lateness to stops
#: already late (s): one more door on the way back beats a redelivery tomorrow. Never past
#: :data:`OVERTIME_CAP_S` after the shift end and the working-time limit: Brazil's CLT (art. 59)
#: allows at most 2 h of overtime a day.
RETRY_OVERTIME_S = 900
OVERTIME_CAP_S = 7200


def second_attempt(plan: LivePlan, route_id: str, order_id: str, now_s: int, gap_s: int = 3600) -> Insertion | str:
    """The customer was not home: try again on the same vehicle (the parcel is on board) at least
    ``gap_s`` seconds later (default 1 h), within the order's windows. Returns the insertion or
    the reason it is left for the next day."""
    plan.orders[order_id].not_before_s = now_s + gap_s
    if all(late < now_s + gap_s for _, late in plan.orders[order_id].windows):
        return unassign(plan, order_id, "no window left today: second attempt tomorrow")
    result = insert_on_board(plan, order_id, [route_id])
    if isinstance(result, str):
        return unassign(plan, order_id, f"second attempt tomorrow: {result}")
    return result


def insert_on_board(plan: LivePlan, order_id: str, route_ids: list[str]) -> Insertion | str:
    """:func:`insert_order` for a parcel on board one of ``route_ids`` (a second attempt): when no
    place keeps the route within its shift, the shift end and the working-time limit are stretched
    to :data:`RETRY_OVERTIME_S` past the later of themselves and the route's current return (capped at
    :data:`OVERTIME_CAP_S` past them) and the insertion is tried again; it still may make no stop
    late, but may add up to :data:`RETRY_OVERTIME_S` to the lateness of stops already late and to a
    return already past the shift (``slack_s``). Returns the insertion, or the first refusal's reason
    (the order is then unassigned with it)."""
    found = insert_order(plan, order_id, route_ids)
    if isinstance(found, Insertion):
        return found
    for rid in route_ids:
        route = plan.routes[rid]
        if route.broken:
            continue
        shift, most = route.shift_end_s, route.max_end_s
        end = evaluate(plan, route).end_s
        route.shift_end_s = min(max(shift, end) + RETRY_OVERTIME_S, shift + OVERTIME_CAP_S)
        route.max_end_s = min(max(most, end) + RETRY_OVERTIME_S, most + OVERTIME_CAP_S)
        try:
            stretched = insert_order(plan, order_id, [rid], slack_s=RETRY_OVERTIME_S)
        finally:
            route.shift_end_s, route.max_end_s = shift, most
        if isinstance(stretched, Insertion):
            return stretched
    return unassign(plan, order_id, found)
