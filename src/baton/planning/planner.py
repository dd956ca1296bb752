"""The planner's one entry point: :func:`plan_routes` turns a :class:`PlanningProblem` into a
:class:`~baton.domain.plan.Plan` with PyVRP, explaining every order it leaves out.

After solving, each route is re-timed from the matrices (:func:`~baton.planning.timeline.simulate`),
the drivers' breaks are placed (:func:`~baton.planning.timeline.schedule`), and the result is
verified (:func:`~baton.planning.timeline.timeline_issues`);
a stop that still breaks a hard rule is dropped with a reason, never kept silently.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from uuid import uuid4

from pyvrp import (
    IteratedLocalSearchCallbacks,
    IteratedLocalSearchParams,
    ProblemData,
    Result,
    Solution,
    SolveParams,
    solve,
)
from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria, StoppingCriterion

from baton.adapters.travel.base import TravelTimeProvider
from baton.domain.plan import CostBreakdown, Plan, Route, Stop, StopKind, UnassignedOrder
from baton.planning.crews import Crew, break_safe_windows, build_crews
from baton.planning.mapping import (
    PlanningError,
    check_pickups,
    from_clock,
    problem_matrices,
    resolve_day_start,
    to_clock,
    transfer_partners,
    window_bounds,
)
from baton.planning.parallel import ParallelResult, parallel_solve
from baton.planning.problem import PlanningOptions, PlanningProblem
from baton.planning.pyvrp_model import (
    SOFT_LATE_STEPS_S,
    SolverModel,
    StartRoute,
    build_model,
    initial_solution,
    penalty_params,
    solved_routes,
)
from baton.planning.reasons import explain_unassigned
from baton.planning.timeline import (  # noqa: F401 - re-exported: they lived here before
    Reload,
    ScheduleContext,
    Timeline,
    Visit,
    schedule,
    service_start,
    simulate,
    time_cost,
    timeline_issues,
)

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


def _parallel_params(data: ProblemData) -> SolveParams:
    return SolveParams(penalty=penalty_params(data))


def _solve(model: SolverModel, options: PlanningOptions, on_progress: ProgressCallback | None,
           start: Solution | None = None) -> Result | ParallelResult:
    workers = 1 if options.workers is None else options.workers
    if workers > 1 and options.max_iterations is None and options.time_limit_s >= PARALLEL_MIN_S:
        return parallel_solve(model.data, options.time_limit_s, seed=options.seed, workers=workers,
                              params=_parallel_params, initial_solution=start, on_progress=on_progress)
    callbacks = _Progress(on_progress, options.time_limit_s) if on_progress else IteratedLocalSearchCallbacks()
    params = SolveParams(ils=IteratedLocalSearchParams(callbacks=callbacks), penalty=penalty_params(model.data))
    stop: StoppingCriterion = MaxRuntime(options.time_limit_s)
    if options.max_iterations is not None:
        stop = MultipleCriteria([stop, MaxIterations(options.max_iterations)])
    return solve(model.data, stop, seed=options.seed,
                 collect_stats=False, display=False, params=params, initial_solution=start)


def _start_routes(model: SolverModel, problem: PlanningProblem, routes: Sequence[Route],
                  day_start: datetime) -> list[StartRoute]:
    """``routes`` (domain) as the model's :class:`StartRoute` list: crews matched by vehicle id,
    orders by id; routes of vehicles without a crew, and unknown orders, are left out."""
    crew_of = {c.vehicle.id: t for t, c in enumerate(model.crews)}
    index = {o.id: j for j, o in enumerate(problem.orders)}
    out = []
    for route in routes:
        if route.vehicle_id not in crew_of:
            continue
        visits: list[tuple[int, int]] = []
        reloads: list[int] = []
        for stop in route.stops:
            if stop.kind == StopKind.RELOAD:
                reloads.append(len(visits))
            elif stop.order_id in index:
                visits.append((index[stop.order_id], to_clock(stop.planned_arrival, day_start)))
        out.append(StartRoute(crew_of[route.vehicle_id], visits, tuple(reloads)))
    return out


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
        partner = ctx.partners.get(culprit)
        for gone_order in (culprit, partner):
            if gone_order is None or gone_order not in sequence:
                continue
            why = message if gone_order == culprit else f"{message} (at {ctx.problem.orders[culprit].id}, " \
                                                          "the other end of its transfer)"
            log.warning("order %s dropped after solving: %s", ctx.problem.orders[gone_order].id, why)
            dropped[gone_order] = f"dropped after solving: {why}"
            gone = sequence.index(gone_order)
            sequence.remove(gone_order)
            reloads = tuple(sorted({r - (r > gone) for r in reloads} - {0, len(sequence)}))
    return None


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
    pickups = {p for p, _ in problem.transfers}
    add_break(0)
    for k, v in enumerate(timeline.visits, start=1):
        order = problem.orders[v.order]
        kind = StopKind.PICKUP if order.id in problem.pickups or order.id in pickups else StopKind.DELIVERY
        stops.append(Stop(len(stops) + 1, kind, order.id, at(v.start_s), at(v.end_s), v.leg_m, v.leg_s))
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
    start: Sequence[Route] | None = None,
) -> Plan:
    """Plan the day: which crew serves which orders, in what order, when.

    Asks ``travel`` once for the matrices of every depot and order (departing at the earliest
    shift start), builds the PyVRP model (:mod:`baton.planning.pyvrp_model`), searches for
    ``options.time_limit_s`` seconds of wall time with ``options.seed`` on ``options.workers``
    cores (:func:`baton.planning.parallel.parallel_solve`), places the drivers'
    breaks (:func:`baton.planning.timeline.schedule`) and maps the result to domain routes:
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

    ``start`` (optional) warm-starts the search from routes of an earlier plan of these orders
    (vehicles matched by id, orders by id, each visit's window chosen by its ``planned_arrival``;
    :func:`~baton.planning.pyvrp_model.initial_solution`): the search's best is then at least
    as good as those routes in the solver's objective when they are feasible in the model.

    Returns (``problem.pickups``) are ``pickup`` stops; a transfer (``problem.transfers``) is a
    ``pickup`` stop at its pickup order followed, later on the same route, by a ``delivery``
    stop at its delivery order, or both orders are unassigned.

    Raises:
        PlanningError: when the problem has no depot or no vehicle, a vehicle refers to an
            unknown depot, two vehicles/drivers/depots share an id, or a return or transfer is
            malformed (:func:`~baton.planning.mapping.check_pickups`: unknown order id, an order
            in two transfers, a transfer order with several time windows).
        ValueError: when ``options.balance_tolerance`` is negative.
        TravelTimeError: when the travel provider cannot produce matrices.
    """
    started = time.perf_counter()
    check_pickups(problem)
    day_start = resolve_day_start(problem)
    crews = build_crews(problem, day_start, options.overtime_s, options.overtime_per_hour)
    plan_id = uuid4().hex[:12]
    windows = [window_bounds(o, day_start) for o in problem.orders]
    matrices = problem_matrices(problem, travel)
    options = balanced(options, problem, crews)
    ctx = ScheduleContext(problem, matrices, windows, options.hard_time_windows,
                          options.max_customers_per_route, transfer_partners(problem))
    dropped: dict[int, str] = {}
    timelines: list[Timeline] = []
    objective, solve_s = 0.0, 0.0
    model_windows = break_safe_windows(windows, crews)
    model = build_model(problem, options, matrices, crews, model_windows) if crews and problem.orders else None
    if model is not None and model.modelled:
        warm = initial_solution(model, _start_routes(model, problem, start, day_start)) if start else None
        result = _solve(model, options, on_progress, warm)
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
    why = {j: dropped.get(j) or explain_unassigned(o, problem, matrices, crews=crews, day_start=day_start,
                                                   order_index=j, late_allowance_s=allowance)
           for j, o in enumerate(problem.orders) if j not in served}
    own = dict(why)
    for j, partner in ctx.partners.items():  # a transfer goes whole: name the other end's reason too
        if j in why and j not in dropped and partner in why:
            why[j] = f"{own[j]}; transfer with {problem.orders[partner].id}: {own[partner]}"
    unassigned = [UnassignedOrder(problem.orders[j].id, reason) for j, reason in why.items()]
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
