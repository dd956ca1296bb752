"""The timing of a route from where its vehicle is now (:func:`evaluate`), incremental and with a
cutoff for the fast path's many trials; the live plan state itself is in :mod:`baton.live.state`
(re-exported here).

Incremental: a timeline keeps the timing's state before each position (:class:`Mark`), so a trial
sequence that shares a prefix with it is timed from the first position that differs. Cutoff: a
trial is given up as soon as lower bounds (what is already known, plus the rest of the sequence
timed at the least factor and earliest departure it can get) show it cannot be chosen. Both give
exactly the result of a timing from scratch whenever one is returned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple, overload

from baton.live.geo import Geo
from baton.live.state import (
    DEFAULT_RELOAD_S,
    RELOAD,
    LiveOrder,
    LivePlan,
    LiveRoute,
    Mark,
    Timeline,
    Visit,
)
from baton.live.traffic import Slowdown, least_factor, scaled

__all__ = ["DEFAULT_RELOAD_S", "LATE_WEIGHT", "RELOAD", "Cutoff", "Geo", "LiveOrder", "LivePlan", "LiveRoute",
           "Mark", "Score", "Slowdown", "Timeline", "Visit", "evaluate", "score", "touches"]

#: Weight of one second of lateness against one unit of cost in a route's :func:`score`.
LATE_WEIGHT = 1.0

Score = tuple[int, int, float]
"""``(rules broken other than lateness, rules broken, lateness (s) x LATE_WEIGHT + cost)``: lower is better."""


class Cutoff(NamedTuple):
    """When :func:`evaluate` may give up a trial: as soon as it is sure the timeline would have a
    :func:`score` of ``score`` or more, more than ``late_s`` seconds of lateness, or a ``cost`` of
    ``cost`` or more (plan currency). ``None``: no such limit."""

    score: Score | None = None
    late_s: int | None = None
    cost: float | None = None


def touches(plan: LivePlan, route: LiveRoute, slowdown: Slowdown) -> bool:
    """Whether ``slowdown`` can change ``route``'s timeline (as timed without it): the route is on
    the road during the slowdown's span and, for an area, one of its legs ends in the area (a
    superset of the routes whose times change: the others are left as they are). The route is
    timed only when its services alone do not already take it past the slowdown's start."""
    if not route.open_items or route.broken:
        return False
    if slowdown.vehicle_id is not None and slowdown.vehicle_id != route.vehicle_id:
        return False
    if route.ready_s >= slowdown.end_s:
        return False
    if slowdown.on_area:
        points = [route.depot if x == RELOAD else plan.orders[x].point for x in route.open_items]
        if not any(plan.traffic.inside(slowdown, p) for p in [*points, route.end_depot]):
            return False
    # it returns no earlier than after every service left: time it only when that is not enough
    services = sum(plan.reload_s if x == RELOAD else plan.orders[x].service_s for x in route.open_items)
    return route.ready_s + services > slowdown.start_s or evaluate(plan, route).end_s > slowdown.start_s


def score(t: Timeline) -> Score:
    """The :data:`Score` of a timeline: rules other than lateness (a parcel not on board, capacity,
    shift...) first, so that re-sequencing never trades a late stop for a stop the van cannot serve."""
    late = sum(1 for v in t.visits if v.late_s > 0 and v.item != RELOAD)
    return (len(t.issues) - late, len(t.issues), t.late_s * LATE_WEIGHT + t.cost)


@overload
def evaluate(plan: LivePlan, route: LiveRoute, items: Sequence[str] | None = None, *,
             base: Timeline | None = None, cutoff: None = None) -> Timeline: ...


@overload
def evaluate(plan: LivePlan, route: LiveRoute, items: Sequence[str] | None = None, *,
             base: Timeline | None = None, cutoff: Cutoff) -> Timeline | None: ...


def evaluate(plan: LivePlan, route: LiveRoute, items: Sequence[str] | None = None, *,
             base: Timeline | None = None, cutoff: Cutoff | None = None) -> Timeline | None:
    """The timeline of ``route`` serving ``items`` (default: its open items) from its position.

    Rules checked (each failure is an issue): every window missed (hard: a promised window is
    never broken knowingly), capacity on each trip, a reload before any order whose parcel is not
    on board once the vehicle has left, features/skills, return by shift end / depot closing,
    working time, and the driver's break (taken where the vehicle stands, before the leg that
    would exceed ``break_after_s`` of work). A vehicle still at the depot leaves when it reaches its
    first stop as that stop's window opens (its work starts then); once on the road, waiting at a door
    counts as work.

    ``base``: a timeline of the same route in the same state (from this function): the timing
    resumes from the first position where ``items`` differ from it, with the same result as a
    timing from scratch. ``cutoff``: return ``None`` as soon as lower bounds (see :func:`_rest`,
    :func:`_earliest`) show the timeline would reach one of its limits. Never raises.
    """
    seq = list(route.open_items if items is None else items)
    orders, onboard = plan.orders, route.onboard
    learnt = plan.factor_of(route)
    stamp = (route.position, route.ready_s, route.seg_start_s, route.started, learnt, route.speed_factor,
             route.depot, route.end_depot, route.break_s, route.break_after_s, len(onboard), plan.reload_s,
             tuple(plan.slowdowns))
    at_depot_unstarted = not route.started
    in_seq = set(seq)
    carried = [orders[x].units for x in onboard if x in in_seq and x in orders]
    load: tuple[int, ...] = tuple(map(sum, zip(*carried, strict=True))) if carried else (0, 0, 0)
    t = route.ready_s
    if at_depot_unstarted:
        first = seq[:seq.index(RELOAD)] if RELOAD in seq else seq
        t = max([t] + [orders[o].available_s for o in first if o not in onboard])
    here, seg, reload_seen = route.position, route.seg_start_s, False
    issues: list[tuple[str | None, str]] = []
    visits: list[Visit] = []
    breaks: list[tuple[int, int, int]] = []
    marks: list[Mark] = []
    late_total = late_n = dist = start = 0
    if base is not None and base.marks and base.stamp == stamp:
        start = _resume_at(plan, route, base, seq, load, t)
        if start:
            m = base.marks[start]
            t, here, seg, load, reload_seen = m.t, m.here, m.seg, m.load, m.reload_seen
            late_total, late_n, dist = m.late_s, m.late_n, m.metres
            issues, visits = list(base.issues[:m.issues]), list(base.visits[:start])
            breaks, marks = list(base.breaks[:m.breaks]), list(base.marks[:start])
    timing = plan.traffic.timing(plan.slowdowns, learnt, route.ready_s, route.vehicle_id, route.speed_factor)
    factor, speed_factor, ready = timing.factor, route.speed_factor, route.ready_s
    # the legs still to drive: legs[k - start] leads to position k (k == len(seq): the return)
    points = [route.depot if x == RELOAD else orders[x].point for x in seq[start:]]
    legs = plan.geo.legs(zip([here, *points], [*points, route.end_depot], strict=True))
    if at_depot_unstarted and start == 0 and seq and seq[0] != RELOAD:
        # a van still at the depot leaves so as to reach its first door when that door's window opens,
        # not to wait there: its working stretch (and so its break) starts then, not at the shift start
        secs0 = scaled(legs[0][1], speed_factor, factor(points[0], t))
        begin0 = _service_start(orders[seq[0]], t + secs0)[0]
        leave = begin0 - secs0
        if leave > t and leave + scaled(legs[0][1], speed_factor, factor(points[0], leave)) <= begin0:
            seg, t = seg + leave - t, leave
    bound = None if cutoff is None else _rest(plan, route, seq, start, t, legs)

    def reach(more_late_n: int, more_late_s: int, end: int, rest_m: int) -> bool:
        """Whether the timeline will reach the cutoff, from the state now, ``more_late_n`` stops
        still to come sure to be late by ``more_late_s`` (s) at least, a return at ``end`` or later
        and ``rest_m`` metres still to drive."""
        assert cutoff is not None
        late = late_total + more_late_s
        if cutoff.late_s is not None and late > cutoff.late_s:
            return True
        cost = route.per_km * (dist + rest_m) / 1000 + route.per_hour * max(0, end - ready) / 3600
        if cutoff.cost is not None and cost >= cutoff.cost:
            return True
        if cutoff.score is None:
            return False
        n_issues = len(issues) + more_late_n + ((end > route.shift_end_s) + (end > route.max_end_s) if seq else 0)
        key = (n_issues - late_n - more_late_n, n_issues)
        if key != cutoff.score[:2]:
            return key > cutoff.score[:2]
        return late * LATE_WEIGHT + cost >= cutoff.score[2]

    def over(k: int) -> bool:
        """Whether the timeline will reach the cutoff, seen from the state before position ``start + k``."""
        assert bound is not None
        return reach(bound.late_n[k], bound.late_s[k], max(bound.end_s, t + bound.rest_s[k]), bound.rest_m[k])

    def close_trip() -> None:
        if any(a > c for a, c in zip(load, route.capacity, strict=True)):
            issues.append((None, f"vehicle {route.vehicle_id} capacity exceeded"))

    if bound is not None:
        # the cheap bounds first (distance, least time left), then the earliest timing of the rest
        if over(0):
            return None
        bound = _earliest(plan, route, seq, start, t, seg, legs, timing.least_arrival, bound, reach)
        if bound is None:
            return None
    caps, break_s, break_after = route.capabilities, route.break_s, route.break_after_s
    for pos in range(start, len(seq)):
        if bound is not None and over(pos - start):
            return None
        item = seq[pos]
        marks.append(Mark(t, here, seg, load, reload_seen, len(issues), late_n, len(breaks), late_total, dist))
        lo: LiveOrder | None = None
        if item == RELOAD:
            point, service = route.depot, plan.reload_s
            close_trip()
            load, avail = _trip(orders, route, seq, pos)
            reload_seen = True
        else:
            lo = orders[item]
            point, service, avail = lo.point, lo.service_s, 0
            if item not in onboard:
                if at_depot_unstarted and not reload_seen:
                    u = lo.units
                    load = (load[0] + u[0], load[1] + u[1], load[2] + u[2])
                elif not reload_seen:
                    issues.append((item, f"parcel of {item} is not on {route.vehicle_id}: needs a reload first"))
            if lo.features and not lo.features <= caps:
                issues.append((item, f"{route.vehicle_id} lacks {', '.join(sorted(lo.features - caps))}"))
        metres, secs = legs[pos - start]
        secs = scaled(secs, speed_factor, factor(point, t))
        begin, late = (max(t + secs, avail), 0) if lo is None else _service_start(lo, t + secs)
        if break_s and begin + service - seg > break_after:
            # the stretch would be too long: rest here first (waiting at the door counts as work)
            breaks.append((len(visits), t, t + break_s))
            t += break_s
            seg = t
            begin, late = (max(t + secs, avail), 0) if lo is None else _service_start(lo, t + secs)
        if late > 0:
            issues.append((item, f"{item} would be served {late // 60} min after its window"))
            late_n += 1
        visits.append(Visit(item, point, t + secs, begin, begin + service, metres, secs, late))
        late_total += late
        dist += metres
        t, here = begin + service, point
    if bound is not None and over(len(seq) - start):
        return None
    marks.append(Mark(t, here, seg, load, reload_seen, len(issues), late_n, len(breaks), late_total, dist))
    close_trip()
    metres, secs = legs[-1]
    secs = scaled(secs, speed_factor, factor(route.end_depot, t))
    if break_s and t + secs - seg > break_after and seq:
        breaks.append((len(visits), t, t + break_s))
        t += break_s
    end_s = t + secs
    if seq and end_s > route.shift_end_s:
        issues.append((None, f"route of {route.vehicle_id} would end {(end_s - route.shift_end_s) // 60} min "
                             "after the shift"))
    if seq and end_s > route.max_end_s:
        issues.append((None, f"route of {route.vehicle_id} would exceed the working time"))
    dist += metres
    cost = route.per_km * dist / 1000 + route.per_hour * max(0, end_s - ready) / 3600
    if seq and at_depot_unstarted and not route.done:  # the vehicle is used today: its day starts
        cost += route.per_day + route.per_hour * max(0, ready - route.begin_s) / 3600
    return Timeline(tuple(visits), tuple(breaks), end_s, metres, secs, tuple(issues), late_total, cost,
                    tuple(marks), stamp)


class _Bound(NamedTuple):
    """Lower bounds for the rest of a timing, per position ``k`` from where it resumes (the last
    one is the return): ``rest_m`` metres and ``rest_s`` least driving and service seconds from
    ``k`` on, ``late_n`` stops from ``k`` on that will be late and ``late_s`` their least lateness,
    and ``end_s`` the least return time."""

    rest_m: list[int]
    rest_s: list[int]
    late_n: list[int]
    late_s: list[int]
    end_s: int


def _rest(plan: LivePlan, route: LiveRoute, seq: list[str], start: int, t: int,
          legs: list[tuple[int, int]]) -> _Bound:
    """The :class:`_Bound` of timing ``seq`` from position ``start`` at clock ``t`` by sums alone:
    every metre left, and every service plus every leg at the least factor it can get (from any
    later clock too); no lateness known."""
    orders, n = plan.orders, len(seq) - start
    least = least_factor(plan.slowdowns, plan.factor_of(route), route.ready_s, route.vehicle_id)
    sf = route.speed_factor
    rest_m, rest_s = [0] * (n + 1), [0] * (n + 1)
    rest_m[n], rest_s[n] = legs[n][0], scaled(legs[n][1], sf, least)
    for k in range(n - 1, -1, -1):
        item = seq[start + k]
        service = plan.reload_s if item == RELOAD else orders[item].service_s
        rest_m[k] = rest_m[k + 1] + legs[k][0]
        rest_s[k] = rest_s[k + 1] + scaled(legs[k][1], sf, least) + service
    zero = [0] * (n + 1)
    return _Bound(rest_m, rest_s, zero, zero, t + rest_s[0])


def _earliest(plan: LivePlan, route: LiveRoute, seq: list[str], start: int, t: int, seg: int,
              legs: list[tuple[int, int]], least_arrival: Callable[[int, int, int], int], sums: _Bound,
              reach: Callable[[int, int, int, int], bool]) -> _Bound | None:
    """``sums`` (see :func:`_rest`) with the lateness and return of the earliest timing of the rest
    from clock ``t`` (stretch of work begun at ``seg``): each leg left as early as possible at the
    least traffic it can get, no wait for a parcel, and two chains: without a break, and with one
    taken at the best place so far. Once the first chain would overrun the stretch, a break is
    certain and the second chain holds. Starts and lateness only grow with the arrival, so every
    real value is at least as high. ``None`` as soon as what is known so far ``reach`` es the cutoff
    (late stops and lateness so far, the least return, the metres left)."""
    orders, n, pause, most = plan.orders, len(seq) - start, route.break_s, route.break_after_s
    late = [0] * (n + 1)
    t1 = t + pause  # the earliest clock if a break was taken
    rested = False  # a break is certain by now
    count = total = 0
    for k in range(n):
        item = seq[start + k]
        lo = None if item == RELOAD else orders[item]
        point, service = (route.depot, plan.reload_s) if lo is None else (lo.point, lo.service_s)
        a0 = least_arrival(point, legs[k][1], t)
        a1 = min(least_arrival(point, legs[k][1], t1), a0 + pause) if pause else a0
        (b0, l0), (b1, l1) = ((a0, 0), (a1, 0)) if lo is None else (_service_start(lo, a0), _service_start(lo, a1))
        rested = rested or (bool(pause) and b0 + service - seg > most)
        late[k] = l1 if rested else l0
        t, t1 = b0 + service, b1 + service
        if late[k]:
            count, total = count + 1, total + late[k]
            if reach(count, total, (t1 if rested else t) + sums.rest_s[k + 1], sums.rest_m[0]):
                return None
    end0 = least_arrival(route.end_depot, legs[n][1], t)
    end1 = min(least_arrival(route.end_depot, legs[n][1], t1), end0 + pause) if pause else end0
    rested = rested or (bool(pause) and bool(seq) and end0 - seg > most)
    late_n, late_s = [0] * (n + 1), [0] * (n + 1)
    for k in range(n - 1, -1, -1):
        late_n[k] = late_n[k + 1] + (late[k] > 0)
        late_s[k] = late_s[k + 1] + late[k]
    return _Bound(sums.rest_m, sums.rest_s, late_n, late_s, end1 if rested else end0)


def _resume_at(plan: LivePlan, route: LiveRoute, base: Timeline, seq: list[str], load0: tuple[int, ...],
               t0: int) -> int:
    """The position from which ``seq`` can be timed from ``base``'s marks: the end of the common
    prefix, or the last reload before it when that reload's trip (which it loads) differs; 0 when
    the start itself differs (parcels on board, first departure)."""
    first = base.marks[0]
    if first.load != load0 or first.t != t0:
        return 0
    old = [v.item for v in base.visits]
    p, limit = 0, min(len(seq), len(old))
    while p < limit and seq[p] == old[p]:
        p += 1
    r = p - 1
    while r >= 0 and seq[r] != RELOAD:
        r -= 1
    if r >= 0 and _trip(plan.orders, route, seq, r) != _trip(plan.orders, route, old, r):
        return r
    return p


def _trip(orders: dict[str, LiveOrder], route: LiveRoute, seq: Sequence[str],
          reload_pos: int) -> tuple[tuple[int, ...], int]:
    """The load of the trip loaded at the reload at ``reload_pos`` (every parcel up to the next
    reload) and when the last of its parcels not on board is at the depot (clock s, 0 when none)."""
    nxt = list(seq[reload_pos + 1:])
    trip = nxt[:nxt.index(RELOAD)] if RELOAD in nxt else nxt
    units = [orders[o].units for o in trip]
    load = tuple(map(sum, zip(*units, strict=True))) if units else (0, 0, 0)
    return load, max((orders[o].available_s for o in trip if o not in route.onboard), default=0)


def _service_start(order: LiveOrder, arrive: int) -> tuple[int, int]:
    """``(service start, lateness)``: earliest start in a window still open, else late."""
    if arrive < order.not_before_s:
        arrive = order.not_before_s
    best: int | None = None
    for early, late in order.windows:
        if late >= arrive:
            s = arrive if arrive > early else early
            if best is None or s < best:
                best = s
    if best is not None:
        return best, 0
    last = max((late for _, late in order.windows), default=arrive)
    return arrive, arrive - last
