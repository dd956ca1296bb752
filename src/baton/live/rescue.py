"""The rescue pass: a background repair of the live plan around its stops at risk (pure: no I/O;
:mod:`baton.service_layer.live_rescue` runs it as a command).

Stops at risk are late, or on time with less slack than their time ahead calls for
(:func:`baton.live.risk.at_risk`). One pass, in a fixed order (same state, same result):

1. **Re-sequence** every route with stops at risk: the fast path's moves
   (:func:`baton.live.ops.resequence`) with a larger budget, scored by (broken rules, lateness +
   cost + :data:`~baton.live.risk.RISK_COST` per stop at risk).
2. **Move** stops still at risk to another van when that takes stops out of risk overall: the
   stop is inserted elsewhere by the fast path and the move is kept only when the two routes
   together score better (fewer stops at risk for their cost, nothing newly broken). A parcel
   already on board stays on its van (only that van can deliver it today).
3. **Retry** orders without a route: left unassigned by the morning plan, by an earlier insertion
   or a breakdown, and failed attempts refused a second attempt (those only on the van that
   carries the parcel). An order none of whose windows is still open is not retried.

The pinned stop (the one a driver is driving to) and the stops done are never moved. An order
that cannot be placed stays in ``plan.unassigned`` with its reason: nothing is dropped. Every
change strictly improves the score, so passes on an unchanged plan reach a fixed point (a pass
that changes nothing); one pass usually gets there, a route whose re-sequencing used up its
rounds may improve further at the next.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from functools import partial

from baton.live.attempts import insert_on_board
from baton.live.model import LivePlan, LiveRoute, Score, Timeline, evaluate, score
from baton.live.ops import Insertion, drop_idle_reloads, insert_order, resequence
from baton.live.risk import RISK_COST, at_risk

#: Route timings one round of re-sequencing may spend on a route with stops at risk, and rounds
#: at most (a round that improves nothing ends it).
RESCUE_EVALS = 400
RESCUE_ROUNDS = 4
#: Stops moved to another van at most per pass.
RESCUE_MOVES = 40


@dataclass
class RescueResult:
    """What a pass did: ``resequenced`` route ids, ``moved`` order → (from route, to route),
    ``inserted`` order → route (formerly without a route), ``unassigned`` order → reason (still
    without a route), stops at risk over the plan ``before``/``after``, and ``changed`` route ids."""

    resequenced: list[str] = field(default_factory=list)
    moved: dict[str, tuple[str, str]] = field(default_factory=dict)
    inserted: dict[str, str] = field(default_factory=dict)
    unassigned: dict[str, str] = field(default_factory=dict)
    before: int = 0
    after: int = 0
    changed: set[str] = field(default_factory=set)


def rescue_key(plan: LivePlan, route: LiveRoute, t: Timeline) -> Score:
    """:func:`~baton.live.model.score` with :data:`RISK_COST` added per stop at risk."""
    rules, issues, value = score(t)
    return rules, issues, value + RISK_COST * len(at_risk(plan, route, t))


def _live(plan: LivePlan) -> list[LiveRoute]:
    return [plan.routes[r] for r in sorted(plan.routes) if not plan.routes[r].broken]


def rescue(plan: LivePlan, now_s: int, retry: Collection[str] | None = None) -> RescueResult:
    """One rescue pass over ``plan`` at clock ``now_s`` (s); see the module docstring. ``retry``:
    the orders without a route that may be retried (default: every one in ``plan.unassigned``).
    Mutates ``plan``."""
    out = RescueResult()
    keys: dict[str, Score] = {}
    risky: dict[str, list[str]] = {}
    for route in _live(plan):
        t = evaluate(plan, route)
        risky[route.id] = at_risk(plan, route, t)
        keys[route.id] = rescue_key(plan, route, t)
    out.before = sum(len(v) for v in risky.values())
    # 1. re-sequence, round after round while it improves
    for route in _live(plan):
        for _ in range(RESCUE_ROUNDS):
            if not (risky[route.id] and len(route.free) > 1 and resequence(
                    plan, route, RESCUE_EVALS, key=partial(rescue_key, plan, route), urgent=risky[route.id])):
                break
            if route.id not in out.changed:
                out.resequenced.append(route.id)
                out.changed.add(route.id)
            t = evaluate(plan, route)
            risky[route.id], keys[route.id] = at_risk(plan, route, t), rescue_key(plan, route, t)
    # 2. move stops still at risk to another van
    moves = RESCUE_MOVES
    for route in _live(plan):
        for item in list(risky[route.id]):
            if moves <= 0:
                break
            if item not in route.free or item in route.onboard:
                continue
            moves -= 1
            if _move(plan, route, item, keys, risky, out):
                out.changed |= {route.id, out.moved[item][1]}
    # 3. retry orders without a route
    todo = sorted(plan.unassigned if retry is None else [o for o in retry if o in plan.unassigned],
                  key=lambda o: (min((hi for _, hi in plan.orders[o].windows), default=0), o))
    for oid in todo:
        order = plan.orders[oid]
        if not any(hi > now_s for _, hi in order.windows):
            out.unassigned[oid] = plan.unassigned[oid]
            continue
        carriers = [r.id for r in plan.routes.values() if oid in r.onboard]
        if carriers and all(plan.routes[r].broken for r in carriers):
            out.unassigned[oid] = plan.unassigned[oid]
            continue
        found = insert_on_board(plan, oid, carriers) if carriers else insert_order(plan, oid)
        if isinstance(found, Insertion):
            out.inserted[oid] = found.route_id
            out.changed.add(found.route_id)
        else:
            out.unassigned[oid] = found
    out.after = sum(len(at_risk(plan, r, evaluate(plan, r))) for r in _live(plan))
    return out


def _move(plan: LivePlan, route: LiveRoute, item: str, keys: dict[str, Score], risky: dict[str, list[str]],
          out: RescueResult) -> bool:
    """Move ``item`` off ``route`` when the two routes then score better (see the module docstring)."""
    saved = {r.id: list(r.free) for r in _live(plan)}
    route.free.remove(item)
    drop_idle_reloads(route)
    others = [r for r in saved if r != route.id]
    found = insert_order(plan, item, others) if others else "no other route"
    if isinstance(found, Insertion):
        target = plan.routes[found.route_id]
        src_t, dst_t = evaluate(plan, route), found.timeline
        src_key, dst_key = rescue_key(plan, route, src_t), rescue_key(plan, target, dst_t)
        old_src, old_dst = keys[route.id], keys[target.id]
        if (src_key[:2] <= old_src[:2] and dst_key[:2] <= old_dst[:2]
                and src_key[2] + dst_key[2] < old_src[2] + old_dst[2] - 1e-6):
            keys[route.id], keys[target.id] = src_key, dst_key
            risky[route.id], risky[target.id] = at_risk(plan, route, src_t), at_risk(plan, target, dst_t)
            out.moved[item] = (route.id, target.id)
            return True
        target.free = saved[target.id]
    plan.unassigned.pop(item, None)
    route.free = saved[route.id]
    return False
