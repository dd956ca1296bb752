"""A crew's day in clock seconds: the solver's sequence re-timed from the matrices
(:func:`simulate`), the drivers' breaks placed (:func:`schedule`), the hard rules re-verified
(:func:`timeline_issues`) and the route's time cost (:func:`time_cost`). Pure: no solver, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

from baton.adapters.travel.base import TravelMatrices
from baton.planning.crews import Crew
from baton.planning.mapping import capacity_units, order_point, trip_peak_load
from baton.planning.problem import PlanningProblem


@dataclass(frozen=True)
class Visit:
    """A served order on a timeline: ``start_s`` is the service start (after any waiting),
    ``end_s`` the departure, ``leg_m``/``leg_s`` the drive from the previous position and
    ``late_s`` the seconds after the chosen window closed (0 with hard windows)."""

    order: int
    start_s: int
    end_s: int
    leg_m: int
    leg_s: int
    late_s: int = 0


@dataclass(frozen=True)
class Reload:
    """A return to the start depot to reload after the first ``after`` visits: the drive
    (``leg_m``, ``leg_s``) from the last visit, arrival ``start_s`` and departure ``end_s``
    (after the depot's loading time)."""

    after: int
    start_s: int
    end_s: int
    leg_m: int
    leg_s: int


@dataclass(frozen=True)
class Timeline:
    """A crew's day in clock seconds: work begins at ``begin_s`` (loading first), the vehicle
    leaves the depot at ``begin_s + loading``, visits ``visits`` and is back at ``end_s``.
    ``breaks`` are ``(after_visits, start_s, end_s)``: taken where the vehicle stands after its
    first ``after_visits`` visits (0 = at the depot). ``missed`` lists orders whose every window
    had closed on arrival (only with hard windows)."""

    crew: Crew
    begin_s: int
    visits: tuple[Visit, ...]
    breaks: tuple[tuple[int, int, int], ...]
    end_s: int
    return_m: int
    return_s: int
    missed: tuple[int, ...]
    reloads: tuple[Reload, ...] = ()

    @property
    def distance_m(self) -> int:
        return sum(v.leg_m for v in self.visits) + sum(r.leg_m for r in self.reloads) + self.return_m

    @property
    def driving_s(self) -> int:
        return sum(v.leg_s for v in self.visits) + sum(r.leg_s for r in self.reloads) + self.return_s

    @property
    def trips(self) -> list[tuple[Visit, ...]]:
        """The visits of each trip (split at the reloads), in order."""
        cuts = [0, *(r.after for r in self.reloads), len(self.visits)]
        return [self.visits[a:b] for a, b in pairwise(cuts)]

    def departure_after(self, position: int) -> int:
        """When the vehicle leaves the position after its first ``position`` visits (after a
        reload there, if any), seconds."""
        reload = next((r for r in self.reloads if r.after == position), None)
        if reload is not None:
            return reload.end_s
        return self.visits[position - 1].end_s if position else self.begin_s + self.crew.loading_s


@dataclass(frozen=True)
class ScheduleContext:
    """What scheduling needs besides the crew: the problem, its matrices, every order's
    :func:`window_bounds` (by order index), whether windows are hard, the cap on orders
    per route (``None`` = no cap) and each transfer order's partner (order indices)."""

    problem: PlanningProblem
    matrices: TravelMatrices
    windows: list[list[tuple[int, int]]]
    hard_time_windows: bool = True
    max_orders_per_route: int | None = None
    partners: dict[int, int] = field(default_factory=dict)


def service_start(windows: list[tuple[int, int]], arrival_s: int, hard: bool) -> tuple[int, int] | None:
    """``(service start, lateness)`` in seconds for a vehicle arriving at ``arrival_s``: the
    earliest start in a window still open; with soft windows and all closed, start at once and
    be late by the time since the last window closed; ``None`` when hard and all closed."""
    starts = [max(arrival_s, early) for early, late in windows if late >= arrival_s]
    if starts:
        return min(starts), 0
    if hard or not windows:
        return None
    return arrival_s, arrival_s - max(late for _, late in windows)


def simulate(ctx: ScheduleContext, crew: Crew, sequence: list[int], begin_s: int,
             breaks_after: tuple[int, ...] = (), reloads_after: tuple[int, ...] = ()) -> Timeline:
    """The timeline of ``crew`` serving the orders ``sequence`` (order indices) from
    ``begin_s``, with a break of the driver's rule after each position in ``breaks_after`` and
    a reload at the start depot (drive there, its loading time) after each position in
    ``reloads_after`` (a break at the same position is taken after the reload).
    Never raises for lateness: missed windows are listed in :attr:`Timeline.missed`."""
    rule_s = crew.break_rule.duration_s if crew.break_rule else 0
    t = begin_s + crew.loading_s
    here = crew.start_depot
    visits, breaks, missed, reloads = [], [], [], []
    if 0 in breaks_after:
        breaks.append((0, t, t + rule_s))
        t += rule_s
    for k, o in enumerate(sequence, start=1):
        point = order_point(ctx.problem, o)
        metres, secs = crew.leg(ctx.matrices, here, point)
        start = service_start(ctx.windows[o], t + secs, ctx.hard_time_windows)
        if start is None:
            missed.append(o)
            start = (t + secs, 0)
        end = start[0] + ctx.problem.orders[o].service_time_s
        visits.append(Visit(o, start[0], end, metres, secs, start[1]))
        t, here = end, point
        if k in reloads_after and k < len(sequence):
            metres, secs = crew.leg(ctx.matrices, here, crew.start_depot)
            reloads.append(Reload(k, t + secs, t + secs + crew.loading_s, metres, secs))
            t, here = t + secs + crew.loading_s, crew.start_depot
        if k in breaks_after:
            breaks.append((k, t, t + rule_s))
            t += rule_s
    metres, secs = crew.leg(ctx.matrices, here, crew.end_depot)
    return Timeline(crew, begin_s, tuple(visits), tuple(breaks), t + secs, metres, secs, tuple(missed),
                    tuple(reloads))


def schedule(ctx: ScheduleContext, crew: Crew, sequence: list[int], begin_s: int,
             reloads_after: tuple[int, ...] = ()) -> Timeline:
    """:func:`simulate` with the driver's breaks placed.

    PyVRP 0.14 has no breaks, so the model withholds the time of the breaks a shift may need
    (:attr:`Crew.reserved_break_s`) and they are placed here, one at a time: each break goes
    at a stop boundary where work since the route began (or the previous break ended) is at
    most ``after_work_s``; among those boundaries, the one missing fewest windows and ending
    the route earliest wins (a break taken before a stop where the vehicle would wait anyway
    costs nothing: the waiting absorbs it), ties going to the latest boundary. The result may
    still miss a window or overrun the shift: :func:`timeline_issues` reports it.
    """
    timeline = simulate(ctx, crew, sequence, begin_s, (), reloads_after)
    rule = crew.break_rule
    if rule is None:
        return timeline
    placed: tuple[int, ...] = ()
    while True:
        segment_start = timeline.breaks[-1][2] if timeline.breaks else begin_s
        if timeline.end_s - segment_start <= rule.after_work_s:
            return timeline
        first = placed[-1] + 1 if placed else 0
        candidates = [p for p in range(first, len(sequence) + 1)
                      if timeline.departure_after(p) - segment_start <= rule.after_work_s]
        if not candidates:
            return timeline
        best: tuple[tuple[int, int], Timeline, int] | None = None
        for p in reversed(candidates):
            trial = simulate(ctx, crew, sequence, begin_s, (*placed, p), reloads_after)
            key = (len(trial.missed), trial.end_s)
            if best is None or key < best[0]:
                best = (key, trial, p)
        assert best is not None
        timeline, placed = best[1], (*placed, best[2])


def timeline_issues(ctx: ScheduleContext, timeline: Timeline) -> list[tuple[int | None, str]]:
    """Hard-constraint violations of a timeline as ``(order index or None, message)``: missed
    windows first (naming the order), then load, a transfer delivered without its pickup earlier
    on the same trip, orders per route, shift end, working time and break spacing."""
    crew, problem = timeline.crew, ctx.problem
    issues: list[tuple[int | None, str]] = [
        (o, "no room for the driver's break before its time window closes") for o in timeline.missed]
    cap = capacity_units(crew.vehicle.capacity)
    for trip in timeline.trips:
        load = trip_peak_load(problem, [v.order for v in trip])
        if any(x > c for x, c in zip(load, cap, strict=True)):
            issues.append((None, f"vehicle {crew.vehicle.id} capacity exceeded"))
            break
    if ctx.partners:
        pickups = {p for p, _ in problem.transfers}
        where = {v.order: (t, k) for t, trip in enumerate(timeline.trips) for k, v in enumerate(trip)}
        for o, (t, k) in where.items():
            partner = ctx.partners.get(o)
            if partner is None or problem.orders[o].id in pickups:
                continue
            if partner not in where or where[partner][0] != t or where[partner][1] > k:
                issues.append((o, "transfer not picked up earlier on the same trip"))
    if ctx.max_orders_per_route is not None and len(timeline.visits) > ctx.max_orders_per_route:
        issues.append((None, f"route of {crew.vehicle.id} has too many orders"))
    if timeline.end_s > crew.latest_end_s:
        issues.append((None, f"route of {crew.vehicle.id} would end after the shift"))
    if timeline.end_s - timeline.begin_s > crew.max_working_s:
        issues.append((None, f"route of {crew.vehicle.id} would exceed the working time"))
    if crew.break_rule is not None:
        starts = [timeline.begin_s] + [b[2] for b in timeline.breaks]
        ends = [b[1] for b in timeline.breaks] + [timeline.end_s]
        if any(e - s > crew.break_rule.after_work_s for s, e in zip(starts, ends, strict=True)):
            issues.append((None, f"no place for the break of the driver of {crew.vehicle.id}"))
    return issues


def time_cost(timeline: Timeline) -> float:
    """Money for a route's time: ``per_hour`` x hours from the start of loading to the return,
    plus ``overtime_per_hour`` x hours beyond the crew's regular working time."""
    crew, route_s = timeline.crew, timeline.end_s - timeline.begin_s
    return (crew.vehicle.costs.per_hour * route_s + crew.overtime_per_hour * crew.overtime_worked_s(route_s)) / 3600


__all__ = ["Reload", "ScheduleContext", "Timeline", "Visit", "schedule", "service_start", "simulate", "time_cost",
           "timeline_issues"]
