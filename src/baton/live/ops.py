"""The fast path: repair the live plan in milliseconds after an event.

* :func:`insert_order`: cheapest feasible insertion over every route (a reload stop is added
  before the order when its parcel is at the depot and the vehicle has left), an insertion
  putting a stop at risk paying :data:`~baton.live.risk.RISK_COST`;
* :func:`remove_order`: take an order off its route (cancellation, modification);
* :func:`resequence`: relocation and 2-opt moves on a route's free stops (the pinned stop stays
  first), minimising lateness, then cost;
* :func:`repair`: re-sequence threatened routes, then move stops that would still be late to
  a route where they are on time;
* a vehicle breaks down: :mod:`baton.live.breakdown`;
* second attempts for customers not home: :mod:`baton.live.attempts`.

A change is accepted only when it makes nothing worse: no new late stop, no more lateness, no
new broken rule (a second attempt alone may take a little ``slack_s``: :mod:`baton.live.attempts`).
Every function mutates the :class:`LivePlan` and returns the ids of the routes it changed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from baton.live.model import RELOAD, Cutoff, LivePlan, LiveRoute, Score, Timeline, evaluate, score
from baton.live.risk import RISK_COST, at_risk

#: Places timed per insertion, smallest detours first.
CANDIDATES = 16
#: Routes considered for an insertion: those passing closest to the order (straight line).
NEAR_ROUTES = 12
#: Places per route considered (smallest detours), so that a full route does not hide the others.
PER_ROUTE = 3


@dataclass(frozen=True)
class Insertion:
    """Where an order went: ``route_id``, its index among the route's open items, the timeline,
    the marginal ``added_cost`` and the ``penalty`` (:data:`~baton.live.risk.RISK_COST` when it
    puts a stop of the route at risk that was not, the new order included, else 0), both in the
    plan currency."""

    route_id: str
    position: int
    timeline: Timeline
    added_cost: float
    penalty: float = 0.0

    @property
    def total(self) -> float:
        """What the choice between places minimises: ``added_cost + penalty``."""
        return self.added_cost + self.penalty


def acceptable(base: Timeline, new: Timeline, slack_s: int = 0) -> bool:
    """True when ``new`` breaks no rule ``base`` did not already break (no stop newly late) and is
    not later: its lateness and its return at most ``slack_s`` seconds more than ``base``'s."""
    if new.feasible:
        return True
    if base.feasible:
        return False
    base_items = {i for i, _ in base.issues}
    new_items = {i for i, _ in new.issues}
    return (new_items <= base_items and new.late_s <= base.late_s + slack_s
            and new.end_s <= max(base.end_s, 0) + slack_s)


def _points(plan: LivePlan, route: LiveRoute, items: list[str]) -> list[int]:
    return [route.depot if x == RELOAD else plan.orders[x].point for x in items]


def _candidates(plan: LivePlan, route: LiveRoute, order_id: str) -> list[tuple[int, int, bool]]:
    """``(detour_m, position, with a reload before)`` for every place the order may go on ``route``
    (see :func:`_inserted`)."""
    order = plan.orders[order_id]
    items = route.open_items
    first = 1 if route.pinned else 0
    pts = [route.position, *_points(plan, route, items), route.end_depot]
    need_reload = order_id not in route.onboard
    reload_before = not route.started or any(x == RELOAD for x in items[:first])
    # the places up to the first reload need one before the order when its parcel is not on board
    upto = first - 1 if reload_before or not need_reload else (
        items.index(RELOAD, first) if RELOAD in items[first:] else len(items))
    legs, p, span = plan.geo.legs, order.point, range(first, len(items) + 1)
    here = [m for m, _ in legs((pts[k], pts[k + 1]) for k in span)]
    to_order = [m for m, _ in legs((pts[k], p) for k in span)]
    from_order = [m for m, _ in legs((p, pts[k + 1]) for k in span)]
    to_depot = [m for m, _ in legs((pts[k], route.depot) for k in range(first, upto + 1))]
    depot_to_order = plan.geo.leg(route.depot, p)[0] if to_depot else 0
    out: list[tuple[int, int, bool]] = []
    for n, pos in enumerate(span):
        if pos <= upto:
            out.append((to_depot[n] + depot_to_order + from_order[n] - here[n], pos, True))
        else:
            out.append((to_order[n] + from_order[n] - here[n], pos, False))
    return out


def _inserted(route: LiveRoute, order_id: str, pos: int, reload: bool) -> list[str]:
    """``route``'s open items with ``order_id`` at ``pos`` (after a reload stop when ``reload``)."""
    items = route.open_items
    return [*items[:pos], *([RELOAD, order_id] if reload else [order_id]), *items[pos:]]


def _set_open(route: LiveRoute, items: list[str]) -> None:
    if route.pinned is not None:
        assert items[0] == route.pinned, "the pinned stop must stay first"
        route.free = items[1:]
    else:
        route.free = items


BaseCache = dict[str, tuple[tuple[str, ...], int, int, Timeline]]
"""Timelines of routes as they stand, by route id, with the open items, position and ready time
they were computed for (reused across insertions of one event while those are unchanged)."""


def _base(plan: LivePlan, route: LiveRoute, cache: BaseCache) -> Timeline:
    key = (tuple(route.open_items), route.position, route.ready_s)
    hit = cache.get(route.id)
    if hit is not None and hit[:3] == key:
        return hit[3]
    timeline = evaluate(plan, route)
    cache[route.id] = (*key, timeline)
    return timeline


def insert_order(plan: LivePlan, order_id: str, route_ids: list[str] | None = None, *,
                 near_routes: int | None = None, candidates: int | None = None,
                 bases: BaseCache | None = None, slack_s: int = 0) -> Insertion | str:
    """Put ``order_id`` where it adds least cost without breaking a rule.

    Tries the ``candidates`` (default :data:`CANDIDATES`) smallest detours over the ``near_routes``
    (default :data:`NEAR_ROUTES`) routes of ``route_ids`` (default: every route not broken down)
    passing closest to the order, each timed from where it differs from the route (and given up as
    soon as it cannot be chosen), and keeps the acceptable one with the least added cost plus
    :data:`~baton.live.risk.RISK_COST` when it puts a stop of the route at risk (the new order
    included) that was not before. ``bases``
    caches the routes' current timelines across calls made within one event (slowdowns unchanged);
    ``slack_s``: how much lateness and later return a route already breaking a rule may take on
    (see :func:`acceptable`). Returns the :class:`Insertion`, or a reason (``str``) when no route can
    take the order; the order is then in ``plan.unassigned`` with that reason.
    """
    n_cand = CANDIDATES if candidates is None else candidates
    order = plan.orders[order_id]
    pool = [plan.routes[r] for r in route_ids] if route_ids else list(plan.routes.values())
    pool = [r for r in pool if not r.broken]
    if not pool:
        return unassign(plan, order_id, "no vehicle is available")
    capable = [r for r in pool if order.features <= r.capabilities]
    if not capable:
        return unassign(plan, order_id, f"no available vehicle has {', '.join(sorted(order.features))}")
    capable = _nearest_routes(plan, capable, order.point, NEAR_ROUTES if near_routes is None else near_routes)
    cands = []
    for n, r in enumerate(capable):  # the best few places on each route, then the best overall
        per_route = sorted(_candidates(plan, r, order_id), key=lambda c: (c[0], c[1]))[:PER_ROUTE]
        cands += [(detour, n, r, pos, reload) for detour, pos, reload in per_route]
    cands.sort(key=lambda c: (c[0], c[1], c[3]))
    cache: BaseCache = {} if bases is None else bases
    best: Insertion | None = None
    rejected: tuple[LiveRoute, list[str]] | None = None  # the first trial refused (it broke a rule)
    risky: dict[str, set[str]] = {}  # per route, the stops at risk before the insertion
    for k, (_, _, route, pos, reload) in enumerate(cands[:n_cand * 3]):
        if best is not None and k >= n_cand:
            break
        items = _inserted(route, order_id, pos, reload)
        base = _base(plan, route, cache)
        # give up a trial as soon as it is sure to be refused (see acceptable) or to cost more than
        # the best so far (the margin leaves ties to the exact comparison below)
        most = math.inf if best is None else base.cost + best.total + 1e-6
        limit = Cutoff(score=(0, 0, most)) if base.feasible else Cutoff(late_s=base.late_s + slack_s, cost=most)
        trial = evaluate(plan, route, items, base=base, cutoff=limit)
        if trial is None or any(i == order_id for i, _ in trial.issues) or not acceptable(base, trial, slack_s):
            if rejected is None and best is None:
                rejected = (route, items)
            continue
        added = trial.cost - base.cost
        if route.id not in risky:
            risky[route.id] = set(at_risk(plan, route, base))
        penalty = RISK_COST if not set(at_risk(plan, route, trial)) <= risky[route.id] else 0.0
        if best is None or added + penalty < best.total:
            best = Insertion(route.id, pos, trial, added, penalty)
    if best is None:  # name what the cheapest place tried would break: the dispatcher's first question
        first_issue = evaluate(plan, *rejected).issues[0][1] if rejected else None
        return unassign(plan, order_id, f"no feasible route: at the cheapest place, {first_issue}" if first_issue
                        else "no feasible route: no room")
    route = plan.routes[best.route_id]
    items = [v.item for v in best.timeline.visits]
    _set_open(route, items)
    cache[route.id] = (tuple(route.open_items), route.position, route.ready_s, best.timeline)
    plan.unassigned.pop(order_id, None)
    return best


def _nearest_routes(plan: LivePlan, routes: list[LiveRoute], point: int, k: int = NEAR_ROUTES) -> list[LiveRoute]:
    """The ``k`` routes passing closest (straight line) to ``point``, and the legs
    between ``point`` and their stops fetched in one provider call."""
    here = plan.geo.points[point]
    scale = math.cos(math.radians(here.lat)) ** 2
    if len(routes) > k:
        idle = [r for r in routes if not r.open_items][:2]  # an empty van may be the only way
        busy = [r for r in routes if r.open_items]
        points: list[int] = []
        starts: list[int] = []
        for r in busy:
            starts.append(len(points))
            points += [r.position, r.depot, *_points(plan, r, r.open_items)]
        lat, lng = plan.geo.coords()
        at = np.array(points, dtype=np.int64)
        square = (lat[at] - here.lat) ** 2 + (lng[at] - here.lng) ** 2 * scale
        gaps = np.minimum.reduceat(square, starts).tolist() if busy else []
        near = [busy[n] for n in sorted(range(len(busy)), key=lambda n: (gaps[n], busy[n].id))[:k]] + idle
    else:
        near = routes
    plan.geo.fetch(point, sorted({p for r in near for p in [r.position, r.depot, r.end_depot,
                                                            *_points(plan, r, r.open_items)]}))
    return near


def unassign(plan: LivePlan, order_id: str, reason: str) -> str:
    """Leave ``order_id`` without a route with ``reason`` (in ``plan.unassigned``); returns the reason."""
    plan.unassigned[order_id] = reason
    return reason


def drop_idle_reloads(route: LiveRoute) -> None:
    """Remove reload stops with no order to load after them (and repeated ones)."""
    items = route.open_items
    keep: list[str] = []
    for k, x in enumerate(items):
        if x == RELOAD and (k > 0 or route.pinned != RELOAD):
            rest = items[k + 1:]
            upto = rest.index(RELOAD) if RELOAD in rest else len(rest)
            if not any(o not in route.onboard for o in rest[:upto]):
                continue
        keep.append(x)
    _set_open(route, keep)


def remove_order(plan: LivePlan, order_id: str) -> str | None:
    """Take ``order_id`` off its route (the pinned stop too: a cancelled stop is not driven to);
    returns the route id, or ``None`` when the order was on no route."""
    plan.unassigned.pop(order_id, None)
    route = plan.route_of(order_id)
    if route is None:
        return None
    if route.pinned == order_id:
        route.pinned = route.free.pop(0) if route.free else None
    else:
        route.free.remove(order_id)
    drop_idle_reloads(route)
    return route.id


#: A wait this long (s) at the door of the stop a vehicle would drive to next, for a window that opens
#: later (the 16-18 of an 08-10 or 16-18 order reached after 10:00), makes :func:`choose_next` look
#: for a better next stop before it is pinned.
LONG_WAIT_S = 1800


def choose_next(plan: LivePlan, route: LiveRoute, max_evals: int = 300) -> bool:
    """Before a vehicle that has just left a stop is given its next one (nothing pinned yet): when
    its first free stop would make it wait :data:`LONG_WAIT_S` or more at the door, try that stop
    later in the route (:func:`resequence`, kept only if the route scores better: fewer broken
    rules, then less lateness + cost). Returns True when the sequence changed."""
    if route.pinned is not None or len(route.free) < 2:
        return False
    now = evaluate(plan, route)
    first = now.visits[0]  # nothing is pinned: the visits are the free stops, in order
    if first.start_s - first.arrive_s < LONG_WAIT_S:
        return False
    return resequence(plan, route, max_evals, current=now, later=[first.item])


def resequence(plan: LivePlan, route: LiveRoute, max_evals: int = 300, current: Timeline | None = None,
               key: Callable[[Timeline], Score] = score, urgent: Sequence[str] = (), later: Sequence[str] = ()) -> bool:
    """Improve the order of ``route``'s free stops, keeping the pinned stop first: first each of
    ``later`` is tried at every later position (last first), then each late stop (and each of
    ``urgent``) at every earlier position, then single-stop relocations and segment reversals, first
    improvement, within ``max_evals`` timings. The ``key`` is
    (broken rules, lateness + cost) by default (:func:`~baton.live.model.score`); another key must
    have the same first two parts and a third part no less than ``score``'s (the timings' cutoff
    relies on it). ``current``: the route's timeline as it stands, when known. Returns True when
    the sequence changed."""
    fixed = [route.pinned] if route.pinned else []
    free = list(route.free)
    best = evaluate(plan, route) if current is None else current
    best_key, changed, evals = key(best), False, 0
    n = len(free)

    def attempt(trial: list[str]) -> bool:
        nonlocal free, best, best_key, evals
        evals += 1
        # re-timed from the first moved stop; given up as soon as it cannot beat the best
        t = evaluate(plan, route, fixed + trial, base=best, cutoff=Cutoff(score=best_key))
        if t is not None and key(t) < best_key:
            free, best, best_key = trial, t, key(t)
            return True
        return False

    moves: list[tuple[int, int, bool]] = []
    for item in [x for x in later if x in free]:
        i = free.index(item)
        moves += [(i, j, False) for j in range(n - 1, i, -1)]
    late_first = [v.item for v in best.visits if v.late_s > 0 and v.item in free]
    late_first += [x for x in urgent if x in free and x not in late_first]
    for item in late_first:
        i = free.index(item)
        moves += [(i, j, False) for j in range(i)]
    moves += [(i, j, False) for i in range(n) for j in range(n) if i != j and abs(i - j) <= 6]
    moves += [(i, j, True) for i in range(n - 1) for j in range(i + 2, min(n, i + 8) + 1)]
    for i, j, reverse in moves:
        if evals >= max_evals:
            break
        if reverse:
            trial = free[:i] + free[i:j][::-1] + free[j:]
        else:
            trial = free[:i] + free[i + 1:]
            trial.insert(j, free[i])
        changed |= attempt(trial)
    route.free = free
    return changed


def repair(plan: LivePlan, route_ids: list[str], max_evals: int = 400, max_moves: int = 3) -> set[str]:
    """Re-sequence each route in ``route_ids`` whose timeline breaks a rule it did not break at
    the last repair; then move up to ``max_moves`` stops still late to another route where they
    are on time (cheapest insertion). ``max_evals`` bounds the re-sequencing work over all routes
    (the fast path must stay fast; the background improvement does the rest). Returns the
    changed routes."""
    changed: set[str] = set()
    budget, moves = max_evals, max_moves
    for rid in route_ids:
        route = plan.routes[rid]
        if route.broken:
            continue
        now = evaluate(plan, route)
        threatened = {i or "" for i, _ in now.issues}
        if not threatened or threatened <= route.known_issues:
            route.known_issues = threatened
            continue  # nothing new since the last repair: customers were told already
        t = now
        if len(route.free) > 1 and budget > 0:
            share = min(budget, 120)
            budget -= share
            if resequence(plan, route, share, current=now):
                changed.add(rid)
                t = evaluate(plan, route)
        for item in [v.item for v in t.visits if v.late_s > 0 and v.item in route.free]:
            if item in route.onboard or moves <= 0:
                continue  # the parcel is on this van: only this van can deliver it today
            moves -= 1
            others = [r for r in plan.routes if r != rid and not plan.routes[r].broken]
            saved = list(route.free)
            route.free.remove(item)
            moved = insert_order(plan, item, others) if others else "no other route"
            if isinstance(moved, Insertion):
                drop_idle_reloads(route)
                changed |= {rid, moved.route_id}
                t = evaluate(plan, route)
            else:
                route.free = saved
                plan.unassigned.pop(item, None)
        route.known_issues = {i or "" for i, _ in t.issues}
    return changed
