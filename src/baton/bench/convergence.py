"""How one PyVRP search's cost falls with time: the gap to the BKS at checkpoints of one long run.

Issue 4 asks, for a missed target, for "the profile that shows it". :func:`convergence` solves an
instance once with plain PyVRP (:func:`pyvrp.solve`, one core, the ``pyvrp`` solver of the planning
benchmark) for the last checkpoint's seconds, reads the best feasible cost after every iteration
from PyVRP's own :class:`pyvrp.Statistics`, and gives the gap to the BKS at each checkpoint. The
answer at the end is re-checked independently (:func:`baton.bench.verify.verify`) and must cost
what PyVRP says it costs.

Checkpoints are seconds of the iterated local search (PyVRP's per-iteration runtimes summed: the
construction of the first solution, well under a second at these sizes, is not counted). A
checkpoint reached before the first feasible solution has no gap (``None``). :func:`profile` runs
several instances ``jobs`` at a time, each in its own process (one core each), so the profile of
a two-core machine is two single-core curves side by side: twice the search of one curve at the
same checkpoint is what two perfectly parallel cores could at best give.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing as mp
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pyvrp import solve
from pyvrp.stop import MaxRuntime

from baton.bench.instance import integer_instance, to_pyvrp
from baton.bench.solvers import routes_of
from baton.bench.verify import gap_pct, verify
from baton.intake.benchmarks import load_instance


@dataclass(frozen=True)
class Curve:
    """One instance's profile: ``gaps_pct[k]`` is the gap (%) of the best feasible cost at
    ``checkpoints_s[k]`` (``None``: nothing feasible yet or no BKS); ``costs`` the best feasible
    cost there in the BKS unit; ``iterations`` done in all; ``final_feasible`` the independent
    verdict on the last answer."""

    name: str
    clients: int
    bks: float | None
    checkpoints_s: tuple[float, ...]
    costs: tuple[float | None, ...]
    gaps_pct: tuple[float | None, ...]
    iterations: int
    final_feasible: bool


def convergence(path: Path, checkpoints_s: tuple[float, ...], bks: float | None, seed: int = 1) -> Curve:
    """Profile one instance file (Solomon ``.txt`` or VRPLIB ``.vrp``) for ``max(checkpoints_s)``
    seconds (see the module docstring).

    Raises:
        ValueError: when ``checkpoints_s`` is empty or not positive.
        RuntimeError: when the final answer's verified cost differs from PyVRP's cost.
    """
    if not checkpoints_s or min(checkpoints_s) <= 0:
        raise ValueError("checkpoints must be positive seconds")
    inst = integer_instance(load_instance(path))
    result = solve(to_pyvrp(inst), MaxRuntime(max(checkpoints_s)), seed=seed, collect_stats=True, display=False)
    clock = list(itertools.accumulate(result.stats.runtimes))
    costs: list[float | None] = []
    best: float | None = None
    i = 0
    for at in sorted(checkpoints_s):
        while i < len(clock) and clock[i] <= at:
            datum = result.stats.data[i]
            if datum.best_feas:
                best = datum.best_cost / inst.scale
            i += 1
        costs.append(best)
    final_ok = False
    if result.is_feasible():
        verdict = verify(inst, routes_of(result.best))
        final_ok = verdict.feasible
        if abs(verdict.cost - result.cost()) > 0.5:
            raise RuntimeError(f"{inst.name}: PyVRP cost {result.cost()} but verified cost {verdict.cost}")
    gaps = tuple(None if (g := gap_pct(c, bks)) is None else round(g, 4) for c in costs)
    return Curve(inst.name, inst.size - 1, bks, tuple(sorted(checkpoints_s)), tuple(costs), gaps,
                 int(result.num_iterations), final_ok)


def _one(args: tuple[Path, tuple[float, ...], float | None, int]) -> Curve:
    return convergence(*args)


def profile(paths: list[Path], bks: dict[str, float], checkpoints_s: tuple[float, ...], seed: int = 1,
            jobs: int = 1, on_done: Callable[[Curve], None] | None = None) -> Iterator[Curve]:
    """Yield the :class:`Curve` of each instance in ``paths`` (in order), ``jobs`` processes at a time
    (forked; ``jobs == 1`` runs in this process). ``bks`` is keyed by instance name."""
    tasks = [(p, checkpoints_s, bks.get(p.stem), seed) for p in paths]
    with contextlib.ExitStack() as stack:
        mapper = map if jobs <= 1 else stack.enter_context(mp.get_context("fork").Pool(jobs)).imap
        for curve in mapper(_one, tasks):
            if on_done:
                on_done(curve)
            yield curve


def mean_gaps(curves: list[Curve]) -> list[float | None]:
    """Mean gap (%) per checkpoint over the instances with a gap there (``None`` when none has)."""
    if not curves:
        return []
    out: list[float | None] = []
    for k in range(len(curves[0].checkpoints_s)):
        gaps = [g for c in curves if (g := c.gaps_pct[k]) is not None]
        out.append(round(sum(gaps) / len(gaps), 4) if gaps else None)
    return out


__all__ = ["Curve", "convergence", "mean_gaps", "profile"]
