"""The planner's one entry point: :func:`plan_routes` turns a :class:`PlanningProblem` into a
:class:`~baton.domain.plan.Plan` with PyVRP, explaining every order it leaves out.

After solving, each route is re-timed from the matrices (:func:`simulate`), the drivers'
breaks are placed (:func:`schedule`), and the result is verified (:func:`timeline_issues`);
a stop that still breaks a hard rule is dropped with a reason, never kept silently.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import pairwise
from uuid import uuid4

from pyvrp import (
    IteratedLocalSearchCallbacks,
    IteratedLocalSearchParams,
    ProblemData,
    Result,
    SolveParams,
    solve,
)
from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria, StoppingCriterion

from baton.adapters.travel.base import TravelMatrices, TravelTimeProvider
from baton.domain.plan import CostBreakdown, Plan, Route, Stop, StopKind, UnassignedOrder
from baton.planning.mapping import (
    Crew,
    PlanningError,
    break_safe_windows,
    build_crews,
    capacity_units,
    demand_units,
    from_clock,
    order_point,
    problem_matrices,
    resolve_day_start,
    window_bounds,
)
from baton.planning.parallel import ParallelResult, default_workers, parallel_solve
from baton.planning.problem import PlanningOptions, PlanningProblem
from baton.planning.pyvrp_model import (
    SOFT_LATE_STEPS_S,
    SolverModel,
    build_model,
    penalty_params,
    solved_routes,
)
from baton.planning.reasons import explain_unassigned

__all__ = ["PlanningError", "plan_routes"]

log = logging.getLogger(__name__)

ProgressCallback = Callable[[float, float], None]
_PROGRESS_EVERY_S = 0.2
PARALLEL_MIN_S = 1.0
"""Shortest budget (s) searched on several cores; shorter ones run on one core."""


class _Progress(IteratedLocalSearchCallbacks):  # type: ignore[misc]
    """Reports ``(elapsed_s, fraction_done)`` at most every 0.2 s from inside the search.

    It only observes: the search itself runs exactly as without it."""

    def __init__(self, report: ProgressCallback, limit_s: float) -> None:
        self._report, self._limit = report, max(limit_s, 1e-9)
        self._start = self._last = time.perf_counter()

    def on_start(self, ils: object) -> None:
        self._start = self._last = time.perf_counter()
        self._report(0.0, 0.0)

    def on_iteration(self, *args: object) -> None:
        now = time.perf_counter()
        if now - self._last >= _PROGRESS_EVERY_S:
            self._last = now
            elapsed = now - self._start
            self._report(elapsed, min(1.0, elapsed / self._limit))


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
    :func:`window_bounds` (by order index), whether windows are hard and the cap on orders
    per route (``None`` = no cap)."""

    problem: PlanningProblem
    matrices: TravelMatrices
    windows: list[list[tuple[int, int]]]
    hard_time_windows: bool = True
    max_orders_per_route: int | None = None


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
    windows first (naming the order), then load, shift end, working time and break spacing."""
    crew, problem = timeline.crew, ctx.problem
    issues: list[tuple[int | None, str]] = [
        (o, "no room for the driver's break before its time window closes") for o in timeline.missed]
    cap = capacity_units(crew.vehicle.capacity)
    for trip in timeline.trips:
        load = [sum(dim) for dim in zip(*(demand_units(problem.orders[v.order].size)
                                          for v in trip), strict=True)] if trip else []
        if any(x > c for x, c in zip(load, cap, strict=True)):
            issues.append((None, f"vehicle {crew.vehicle.id} capacity exceeded"))
            break
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


def _parallel_params(data: ProblemData) -> SolveParams:
    return SolveParams(penalty=penalty_params(data))


def _solve(model: SolverModel, options: PlanningOptions,
           on_progress: ProgressCallback | None) -> Result | ParallelResult:
    workers = default_workers() if options.workers is None else options.workers
    if workers > 1 and options.max_iterations is None and options.time_limit_s >= PARALLEL_MIN_S:
        return parallel_solve(model.data, options.time_limit_s, seed=options.seed, workers=workers,
                              params=_parallel_params, on_progress=on_progress)
    callbacks = _Progress(on_progress, options.time_limit_s) if on_progress else IteratedLocalSearchCallbacks()
    params = SolveParams(ils=IteratedLocalSearchParams(callbacks=callbacks), penalty=penalty_params(model.data))
    stop: StoppingCriterion = MaxRuntime(options.time_limit_s)
    if options.max_iterations is not None:
        stop = MultipleCriteria([stop, MaxIterations(options.max_iterations)])
    return solve(model.data, stop, seed=options.seed,
                 collect_stats=False, display=False, params=params)


def _repair(ctx: ScheduleContext, crew: Crew, orders: list[int], begin_s: int,
            dropped: dict[int, str], reloads_after: tuple[int, ...] = ()) -> Timeline | None:
    """Schedule the solver's sequence with breaks (and its reloads); while a hard constraint
    fails (a window the break pushed past, a shift overrun), drop the order at fault (else the
    last) and retry. Dropped orders are recorded in ``dropped`` with the reason, and logged."""
    sequence = list(orders)
    reloads = reloads_after
    while sequence:
        timeline = schedule(ctx, crew, sequence, begin_s, reloads)
        issues = timeline_issues(ctx, timeline)
        if not issues:
            return timeline
        culprit = next((o for o, _ in issues if o is not None), sequence[-1])
        message = next((m for o, m in issues if o == culprit), issues[0][1])
        log.warning("order %s dropped after solving: %s", ctx.problem.orders[culprit].id, message)
        dropped[culprit] = f"dropped after solving: {message}"
        gone = sequence.index(culprit)
        sequence.remove(culprit)
        reloads = tuple(sorted({r - (r > gone) for r in reloads} - {0, len(sequence)}))
    return None


def time_cost(timeline: Timeline) -> float:
    """Money for a route's time: ``per_hour`` x hours from the start of loading to the return,
    plus ``overtime_per_hour`` x hours beyond the crew's regular working time."""
    crew, route_s = timeline.crew, timeline.end_s - timeline.begin_s
    return (crew.vehicle.costs.per_hour * route_s + crew.overtime_per_hour * crew.overtime_worked_s(route_s)) / 3600


def balanced(options: PlanningOptions, problem: PlanningProblem, crews: list[Crew]) -> PlanningOptions:
    """``options`` with ``max_customers_per_route`` lowered to the balanced-workload cap when
    ``balance_tolerance`` is set (see :class:`PlanningOptions`).

    Raises:
        ValueError: when ``balance_tolerance`` is negative.
    """
    tolerance = options.balance_tolerance
    if tolerance is None or not crews or not problem.orders:
        return options
    if tolerance < 0:
        raise ValueError(f"balance_tolerance must be >= 0, got {tolerance}")
    servable = sum(1 for o in problem.orders if any(c.can_serve(o.required_features) and c.fits(o.size)
                                                     for c in crews))
    cap = max(1, math.ceil(servable / len(crews) * (1 + tolerance) - 1e-9))
    if options.max_customers_per_route is not None:
        cap = min(cap, options.max_customers_per_route)
    return replace(options, max_customers_per_route=cap)


def _route(timeline: Timeline, route_id: str, plan_id: str, day_start: datetime,
           problem: PlanningProblem) -> Route:
    """The domain route of ``timeline``, with break stops and its cost."""
    crew = timeline.crew
    at = lambda s: from_clock(s, day_start)  # noqa: E731
    breaks = {pos: (s, e) for pos, s, e in timeline.breaks}
    stops: list[Stop] = []

    def add_break(pos: int) -> None:
        if pos in breaks:
            s, e = breaks[pos]
            stops.append(Stop(len(stops) + 1, StopKind.BREAK, None, at(s), at(e)))

    reloads = {r.after: r for r in timeline.reloads}
    add_break(0)
    for k, v in enumerate(timeline.visits, start=1):
        order = problem.orders[v.order]
        stops.append(Stop(len(stops) + 1, StopKind.DELIVERY, order.id, at(v.start_s), at(v.end_s),
                          v.leg_m, v.leg_s))
        if k in reloads:
            r = reloads[k]
            stops.append(Stop(len(stops) + 1, StopKind.RELOAD, None, at(r.start_s), at(r.end_s), r.leg_m, r.leg_s))
        add_break(k)
    costs = crew.vehicle.costs
    departure = timeline.begin_s + crew.loading_s
    cost = (costs.fixed_per_day + costs.per_km * timeline.distance_m / 1000 + time_cost(timeline))
    return Route(
        id=route_id, vehicle_id=crew.vehicle.id, driver_id=crew.driver.id if crew.driver else None,
        start_depot_id=problem.depots[crew.start_depot].id, end_depot_id=problem.depots[crew.end_depot].id,
        start=at(departure), end=at(timeline.end_s), stops=stops, distance_m=timeline.distance_m,
        duration_s=timeline.end_s - departure, driving_s=timeline.driving_s, cost=cost, plan_id=plan_id,
    )


def plan_routes(
    problem: PlanningProblem,
    travel: TravelTimeProvider,
    options: PlanningOptions = PlanningOptions(),  # noqa: B008 - frozen, immutable default
    on_progress: ProgressCallback | None = None,
) -> Plan:
    """Plan the day: which crew serves which orders, in what order, when.

    Asks ``travel`` once for the matrices of every depot and order (departing at the earliest
    shift start), builds the PyVRP model (:mod:`baton.planning.pyvrp_model`), searches for
    ``options.time_limit_s`` seconds of wall time with ``options.seed`` on ``options.workers``
    cores (:func:`baton.planning.parallel.parallel_solve`), places the drivers'
    breaks (:func:`baton.planning.mapping.schedule`) and maps the result to domain routes:
    instants are aware (in ``day_start``'s timezone), a stop's ``planned_arrival`` is its
    service start (after any waiting), distances are metres, durations seconds and money is
    in ``problem.currency`` (vehicles' costs are taken to be in it). A route's ``cost`` is its
    fixed cost + ``per_km`` x km + ``per_hour`` x hours from the start of loading to the
    return; the plan's ``cost.penalties`` are ``drop_penalty x priority`` per unassigned
    order plus, with soft windows, ``lateness_penalty_per_hour`` x hours late.

    Every order is either on exactly one route or in ``Plan.unassigned`` with a reason
    (:func:`~baton.planning.reasons.explain_unassigned`, or "dropped after solving: ..." when
    placing a break made a stop miss its window or the route overrun the shift). An order
    that cannot be served never raises.

    ``on_progress(elapsed_s, fraction_done)`` is called from the search about every 0.2 s and
    once with fraction 1.0 at the end; it must return quickly.

    Raises:
        PlanningError: when the problem has no depot or no vehicle, or a vehicle refers to an
            unknown depot.
        TravelTimeError: when the travel provider cannot produce matrices.
    """
    started = time.perf_counter()
    day_start = resolve_day_start(problem)
    crews = build_crews(problem, day_start, options.overtime_s, options.overtime_per_hour)
    plan_id = uuid4().hex[:12]
    windows = [window_bounds(o, day_start) for o in problem.orders]
    matrices = problem_matrices(problem, travel)
    options = balanced(options, problem, crews)
    ctx = ScheduleContext(problem, matrices, windows, options.hard_time_windows,
                          options.max_customers_per_route)
    dropped: dict[int, str] = {}
    timelines: list[Timeline] = []
    objective, solve_s = 0.0, 0.0
    model_windows = break_safe_windows(windows, crews)
    model = build_model(problem, options, matrices, crews, model_windows) if crews and problem.orders else None
    if model is not None and model.modelled:
        result = _solve(model, options, on_progress)
        solve_s = result.runtime
        objective = float(result.cost()) if result.is_feasible() else math.inf
        if not result.is_feasible():
            log.warning("the solver found no feasible plan in %.1f s; repairing its best", solve_s)
        for solved in solved_routes(model, result.best):
            timeline = _repair(ctx, model.crews[solved.crew], solved.orders, solved.begin_s, dropped,
                               solved.reloads)
            if timeline is not None:
                timelines.append(timeline)
    if on_progress:
        on_progress(time.perf_counter() - started, 1.0)

    routes = [_route(t, f"{plan_id}-{k:03d}", plan_id, day_start, problem) for k, t in enumerate(timelines, 1)]
    served = {v.order for t in timelines for v in t.visits}
    allowance = 0 if options.hard_time_windows else max(SOFT_LATE_STEPS_S)
    unassigned = [
        UnassignedOrder(o.id, dropped.get(j) or explain_unassigned(
            o, problem, matrices, crews=crews, day_start=day_start, order_index=j,
            late_allowance_s=allowance))
        for j, o in enumerate(problem.orders) if j not in served
    ]
    late_h = sum(v.late_s for t in timelines for v in t.visits) / 3600
    missed = sum(options.drop_penalty * o.priority for j, o in enumerate(problem.orders) if j not in served)
    cost = CostBreakdown(
        fixed=sum(t.crew.vehicle.costs.fixed_per_day for t in timelines),
        distance=sum(t.crew.vehicle.costs.per_km * t.distance_m / 1000 for t in timelines),
        time=sum(time_cost(t) for t in timelines),
        penalties=missed + late_h * options.lateness_penalty_per_hour,
        currency=problem.currency,
    )
    return Plan(id=plan_id, created_at=datetime.now(UTC), routes=routes, unassigned=unassigned, cost=cost,
                solve_seconds=solve_s, objective=objective, feasible=True)
