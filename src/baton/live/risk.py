"""Stops at risk: served on time by the live plan, but with too little slack before their window
closes for how far ahead they are (the same uncertainty as the delay notices' margin,
:func:`baton.live.notices.margin_s`: 10 min at the door, +12 min per hour ahead, at most 45 min).

The fast path (:func:`baton.live.ops.insert_order`) adds :data:`RISK_COST` to an insertion that
puts a stop of its route at risk (the new order included) that was not before, so that new work
goes to routes with room; the rescue pass
(:mod:`baton.live.rescue`) re-sequences and moves stops to take them out of risk.
"""

from __future__ import annotations

from baton.live.model import RELOAD, LivePlan, LiveRoute, Timeline
from baton.live.notices import margin_s

#: Penalty (plan currency, BRL on the bundled day) on an insertion that puts a stop of its route at
#: risk (see the module docstring); also what one stop at risk weighs in the rescue's route score.
RISK_COST = 40.0


def at_risk(plan: LivePlan, route: LiveRoute, timeline: Timeline) -> list[str]:
    """The orders of ``timeline`` (of ``route``) late, or served with less slack before the window they
    are served in closes than :func:`~baton.live.notices.margin_s` of their time ahead (counted from
    the route's ``ready_s``)."""
    out = []
    for v in timeline.visits:
        if v.item == RELOAD:
            continue
        if v.late_s > 0:
            out.append(v.item)
            continue
        close = min((hi for lo, hi in plan.orders[v.item].windows if lo <= v.start_s <= hi), default=None)
        if close is not None and v.start_s + margin_s(v.start_s - route.ready_s) > close:
            out.append(v.item)
    return out
