"""Parallel search on every core: independent PyVRP seeds with periodic exchange of the best.

:func:`parallel_solve` runs ``workers`` PyVRP iterated local searches side by side, each in its
own process with its own seed (``seed + 1000 x worker``). The wall-time budget is cut into
*epochs* of about :data:`EPOCH_S` seconds (at least one, at most :data:`MAX_EPOCHS`); after each
epoch, the best solution over all workers becomes every worker's starting point for the next
epoch. Worker 0 uses the caller's seed, so until the first exchange it is exactly one plain
PyVRP run; the other workers only add candidates. The result is the best feasible solution
seen (else the least infeasible one).

On large problems (:data:`DECOMPOSE_MIN_CLIENTS`) every other epoch is a *sector* epoch: the
best solution's routes are cut into one sector per worker by the angle of their barycentre
(:mod:`baton.planning.route_groups`), each worker searches its sector's sub-problem alone, and
the sectors' best routes are put back together. Two searches of the whole problem mostly improve
different regions and the exchange keeps only one of them; sectors keep both.

PyVRP is not reimplemented: a worker assembles PyVRP's own parts exactly as
:func:`pyvrp.solve` does (random start improved by the local search, then
:class:`pyvrp.IteratedLocalSearch`), but keeps them between epochs: its random stream, its
neighbourhoods and local search (computed once, ~0.7 s at 1,000 clients) and its penalty
manager (whose penalties have adapted). Every epoch stops at an absolute deadline, so the
budget includes the start-up (the construction of the first solution, which
:func:`pyvrp.solve` does not count) and is honoured to within one search iteration.

The processes are forked (POSIX): the problem data is shared copy-on-write, never pickled;
only solutions travel (PyVRP solutions pickle; each is rebuilt on arrival, see :func:`_rebuilt`).
Where processes cannot be started (a daemonic process, no ``fork``), the search falls back to
one in-process run of the same budget and says so in the log.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from pyvrp import (
    Activity,
    CostEvaluator,
    IteratedLocalSearch,
    PenaltyManager,
    ProblemData,
    RandomNumberGenerator,
    Result,
    Route,
    Solution,
    SolveParams,
    solve,
)
from pyvrp.search import LocalSearch, PerturbationManager, compute_neighbours
from pyvrp.stop import MaxRuntime

from baton.planning.route_groups import Sector, sectors, sub_problem

log = logging.getLogger(__name__)

EPOCH_S = 5.0
"""Target seconds between two exchanges of the best solution. Measured on all 44 Solomon
instances at 10 s on 2 cores (2026-12-04, docs/benchmarks.md): mean gap 0.17 % with 2-s epochs,
0.12 % with 3-s epochs, 0.08 % and 0.10 % with 5-s epochs (two runs): each exchange restarts every
worker's late-acceptance history from the same solution, so frequent exchanges cost diversity."""
MAX_EPOCHS = 40
"""Upper bound on the number of exchanges in one search."""
DECOMPOSE_MIN_CLIENTS = 1500
"""From this many clients on, every other epoch splits the best solution's routes into one sector
per worker (:mod:`baton.planning.route_groups`) instead of searching the whole problem twice.
Measured 2026-12-05 on 2 cores (docs/benchmarks.md): the 10,000-stop day (parts of 2,000 orders) in
10 min planned 2.5 % cheaper with sectors (one run each); 18 Gehring-Homberger 1,000-client
instances at 120 s were a tie (9 better, 9 worse), so problems of that size are not split."""
GOLDEN = 0.381966
"""Fraction of the routes by which the sectors' seams turn from one split to the next (the golden
section, 1 - 1/phi, so that successive seams spread evenly around the circle)."""
FINISH_S = 0.1
"""Wall time kept at the end of the budget to collect the last solutions, seconds."""

ProgressCallback = Callable[[float, float], None]
ParamsFactory = Callable[[ProblemData], SolveParams]


def default_workers() -> int:
    """Cores this process may use (CPU affinity where the OS has it), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _objective(solution: Solution) -> float:
    return float(CostEvaluator([0] * len(solution.excess_load()), 0, 0).cost(solution))


@dataclass(frozen=True)
class ParallelResult:
    """The outcome of :func:`parallel_solve`: the best solution, wall seconds used, total ILS
    iterations over all workers and epochs, the number of workers and epochs that ran,
    ``improvements``: in how many epochs a worker other than 0 found the new best,
    ``sector_epochs``: how many epochs searched one sector per worker, and ``decomposed``: in
    how many of them the merged sectors beat the best."""

    best: Solution
    runtime: float
    iterations: int
    workers: int
    epochs: int
    improvements: int
    sector_epochs: int = 0
    decomposed: int = 0

    def cost(self) -> float:
        """The best solution's objective (PyVRP cost units), ``inf`` when infeasible."""
        return _objective(self.best)

    def is_feasible(self) -> bool:
        return bool(self.best.is_feasible())


def _rebuilt(data: ProblemData, solution: Solution) -> Solution:
    """``solution`` as it was before a trip through ``pickle``.

    In PyVRP 0.14.1 an unpickled :class:`~pyvrp.Solution` reports its fixed vehicle cost
    (``fixed_vehicle_cost()``) but leaves it out of ``CostEvaluator.cost`` and
    ``penalised_cost`` (measured on the bundled day: 39.52 x 10^9 instead of 46.18 x 10^9, the
    difference being the 37 vans' fixed cost). A search started from such a solution sees it
    as cheaper than anything it finds, and the parent would rank solutions without their fixed
    costs. Rebuilding it from its routes' activities (depots at the ends implied by the vehicle
    type, reload depots kept) restores the exact solution with its costs."""
    routes = []
    for route in solution.routes():
        inner: list[Activity] = [activity for activity in list(route)[1:-1]]
        routes.append(Route(data, inner, route.vehicle_type()))
    return Solution(data, routes)


def _key(solution: Solution) -> tuple[int, float]:
    """Sort key: feasible first, then by cost; infeasible ones by their violations."""
    if solution.is_feasible():
        return 0, _objective(solution)
    violation = sum(solution.excess_load()) + solution.time_warp() + solution.excess_distance()
    return 1, float(violation)


class _Deadline:
    """PyVRP stopping criterion: stop at an absolute ``time.perf_counter()`` instant (the
    monotonic clock is shared by forked processes)."""

    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self, best_cost: float) -> bool:
        return time.perf_counter() >= self.at


def _local_search(data: ProblemData, p: SolveParams, rng: RandomNumberGenerator) -> LocalSearch:
    """PyVRP's local search for ``data`` with ``p``'s operators, as :func:`pyvrp.solve` builds it."""
    ls = LocalSearch(data, rng, compute_neighbours(data, p.neighbourhood), PerturbationManager(p.perturbation))
    for op in p.operators:
        if op.supports(data):
            ls.add_operator(op(data))
    return ls


def _worker(conn: Connection, data: ProblemData, params: ParamsFactory, seed: int) -> None:
    """One search process: waits for ``(deadline, start solution or None, sector or None)``,
    answers ``("ok", best, iterations)`` (or ``("error", message)``); ``None`` ends it. With a
    sector it searches only that sector's sub-problem from ``start``'s routes there, and answers
    with those routes only (a partial solution of ``data``)."""
    try:
        p = params(data)
        rng = RandomNumberGenerator(seed=seed)
        ls = _local_search(data, p, rng)
        pm = PenaltyManager(p.penalty.midpoint_penalties(data), p.penalty)
        while (message := conn.recv()) is not None:
            deadline, start, sector = message
            if sector is not None:
                sub = sub_problem(data, sector)
                sub_start = sub.restrict(start)  # new routes from the visits: no _rebuilt needed
                search = IteratedLocalSearch(sub.data, pm, _local_search(sub.data, p, rng), sub_start, p.ils)
                result = search.run(_Deadline(deadline), collect_stats=False)
                found = result.best if _key(result.best) <= _key(sub_start) else sub_start
                conn.send(("ok", Solution(data, sub.lift(data, found)), int(result.num_iterations)))
                continue
            if start is not None:
                start = _rebuilt(data, start)
            else:
                start = ls(Solution.make_random(data, rng), pm.max_cost_evaluator(), exhaustive=True)
            result = IteratedLocalSearch(data, pm, ls, start, p.ils).run(_Deadline(deadline), collect_stats=False)
            conn.send(("ok", result.best, int(result.num_iterations)))
    except EOFError:  # the parent went away
        return
    except Exception as exc:  # report to the parent, which raises it
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _sectors(data: ProblemData, best: Solution | None, n: int, epoch: int) -> list[Sector]:
    """The sectors of epoch ``epoch``'s decomposition, or ``[]`` for a whole-problem epoch: every
    other epoch, from a feasible best, with the seams moved by :data:`GOLDEN` each time."""
    if epoch % 2 == 0 or best is None or not best.is_feasible():
        return []
    return sectors(data, best, n, offset=epoch * GOLDEN)


def _default_params(data: ProblemData) -> SolveParams:
    return SolveParams()


def _epochs(seconds: float) -> int:
    return max(1, min(MAX_EPOCHS, round(seconds / EPOCH_S)))


def _sequential(data: ProblemData, seconds: float, seed: int, params: ParamsFactory,
                initial: Solution | None) -> ParallelResult:
    started = time.perf_counter()
    result: Result = solve(data, MaxRuntime(seconds), seed=seed, collect_stats=False, display=False,
                           params=params(data), initial_solution=initial)
    return ParallelResult(result.best, time.perf_counter() - started, int(result.num_iterations), 1, 1, 0)


def _start(n: int, data: ProblemData, params: ParamsFactory,
           seed: int) -> tuple[list[Any], list[Connection]] | None:
    try:
        ctx = mp.get_context("fork")
        procs, conns = [], []
        for w in range(n):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(child, data, params, seed + 1000 * w), daemon=True)
            proc.start()
            child.close()
            procs.append(proc)
            conns.append(parent)
        return procs, conns
    except (ValueError, AssertionError, OSError) as exc:  # no fork, or a daemonic process
        log.warning("parallel search unavailable (%s); searching on one core", exc)
        return None


def parallel_solve(
    data: ProblemData,
    seconds: float,
    *,
    seed: int = 1,
    workers: int | None = None,
    params: ParamsFactory = _default_params,
    initial_solution: Solution | None = None,
    on_progress: ProgressCallback | None = None,
    decompose: bool | None = None,
) -> ParallelResult:
    """Search ``data`` for ``seconds`` of wall time on ``workers`` processes (default: every
    core this process may use, :func:`default_workers`).

    ``params(data)`` gives the :class:`~pyvrp.SolveParams` of every worker (its ILS callbacks
    run in the worker process). ``initial_solution`` (optional) is every worker's start.
    ``on_progress(elapsed_s, fraction_done)`` is called from this process about every 0.2 s.
    With ``workers == 1`` this is one plain :func:`pyvrp.solve` call. ``decompose``: whether
    every other epoch searches one sector of routes per worker instead of the whole problem on
    each (:mod:`baton.planning.route_groups`); by default from :data:`DECOMPOSE_MIN_CLIENTS`
    clients on.

    Raises:
        ValueError: when ``seconds`` is not positive or ``workers`` is less than 1.
        RuntimeError: when a search process fails (its error message is kept).
    """
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    n = default_workers() if workers is None else workers
    if n < 1:
        raise ValueError(f"workers must be at least 1, got {n}")
    started = time.perf_counter()
    pool = _start(n, data, params, seed) if n > 1 else None
    if pool is None:
        return _sequential(data, seconds, seed, params, initial_solution)
    procs, conns = pool
    epochs = _epochs(seconds)
    end = started + max(0.05, seconds - FINISH_S)
    best: Solution | None = initial_solution
    iterations = improvements = decomposed = sector_epochs = done = 0
    split = data.num_clients >= DECOMPOSE_MIN_CLIENTS if decompose is None else decompose
    try:
        for epoch in range(epochs):
            deadline = started + (end - started) * (epoch + 1) / epochs
            parts = _sectors(data, best, n, epoch) if split else []
            for w, conn in enumerate(conns):
                conn.send((deadline, best, parts[w] if parts else None))
            answers: list[tuple[Solution, int] | None] = [None] * n
            while any(a is None for a in answers):
                for w, conn in enumerate(conns):
                    if answers[w] is None and conn.poll(0.2 / n):
                        reply = conn.recv()
                        if reply[0] != "ok":
                            raise RuntimeError(f"search worker {w} failed: {reply[1]}")
                        answers[w] = (_rebuilt(data, reply[1]), reply[2])
                if on_progress is not None:
                    elapsed = time.perf_counter() - started
                    on_progress(elapsed, min(1.0, elapsed / seconds))
            outcomes = [a for a in answers if a is not None]
            iterations += sum(it for _, it in outcomes)
            if parts:
                sector_epochs += 1
                merged = Solution(data, [route for found, _ in outcomes for route in found.routes()])
                if best is None or _key(merged) < _key(best):
                    decomposed += 1
                    best = merged
                done += 1
                continue
            ranked = sorted(range(n), key=lambda w: _key(outcomes[w][0]))
            winner = outcomes[ranked[0]][0]
            if best is None or _key(winner) < _key(best):
                if ranked[0] != 0 and _key(winner) < _key(outcomes[0][0]):
                    improvements += 1
                best = winner
            done += 1
    finally:
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.send(None)
            conn.close()
        for proc in procs:
            proc.join(timeout=1.0)
            if proc.is_alive():
                proc.terminate()
                proc.join()
    assert best is not None
    runtime = time.perf_counter() - started
    log.debug("parallel search: %d workers, %d epochs (%d by sectors, %d of them improved the best), "
              "%d iterations, %.1f s", n, done, sector_epochs, decomposed, iterations, runtime)
    return ParallelResult(best, runtime, iterations, n, done, improvements, sector_epochs, decomposed)


__all__ = ["ParallelResult", "default_workers", "parallel_solve"]
