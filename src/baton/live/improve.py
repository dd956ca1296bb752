"""The background improvement: warm-start PyVRP from the live plan, publish only when better.

:func:`improve` builds the PyVRP model of the live plan (:mod:`baton.live.improve_model`: done
stops out, pinned stops fixed, vans starting where they are, parcels tied to the van carrying
them, promised windows hard, churn as lower prizes), gives PyVRP the current plan as its initial
solution (warm start; ``warm=False`` for a cold solve of the same state), and re-times the best
solution with :func:`baton.live.model.evaluate` (area slowdowns, breaks, every hard rule), which
shares no code with the model. The candidate is accepted only when

* no route breaks a rule it did not already break (nothing new is late), and every order the
  current plan serves is still served: a group of routes exchanging orders that fails this
  keeps its current plan (the model has no breaks nor area slowdowns), the others are taken;
* its cost (routes' km x per_km + hours x per_hour, + churn, + ``drop_penalty`` x priority per
  unserved order) is lower than the current one by at least ``margin`` (default 1 %).

:func:`apply` then writes the accepted routes into the live plan. Pure: no I/O.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from pyvrp import Solution, SolveParams, solve
from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria, StoppingCriterion

from baton.live.improve_model import ChurnCosts, LiveModel, build_live_model, current_solution, read_solution
from baton.live.model import LivePlan, Timeline, evaluate
from baton.live.ops import acceptable, resequence
from baton.planning.pyvrp_model import MONEY_SCALE, penalty_params


@dataclass(frozen=True)
class ImproveOptions:
    """``seconds`` of search (and/or ``max_iterations``, reproducible whatever the load),
    ``margin`` the least relative gain to publish (0.01 = 1 %), ``churn`` costs, ``drop_penalty``
    per unserved order x priority (plan currency), ``seed``, ``warm`` (start from the live plan)."""

    seconds: float = 5.0
    max_iterations: int | None = None
    margin: float = 0.01
    churn: ChurnCosts = field(default_factory=ChurnCosts)
    drop_penalty: float = 500.0
    seed: int = 1
    warm: bool = True

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            raise ValueError(f"seconds must be > 0, got {self.seconds}")
        if not 0 <= self.margin < 1:
            raise ValueError(f"margin must be in [0, 1), got {self.margin}")


@dataclass(frozen=True)
class ImproveResult:
    """What :func:`improve` found: ``current_cost`` and ``candidate_cost`` (plan currency, see the
    module docs), ``gain_pct``, ``publish`` (accepted), ``reason`` when not, ``routes`` the new
    free stops per changed route, ``moved`` orders now on another van, ``retimed`` orders outside
    their announced ETA window, ``served`` formerly unassigned orders now served, ``solver_cost``
    PyVRP's objective of the best solution, ``seconds`` spent, ``signature`` of the plan solved,
    ``reverted`` routes kept as they were because the solver's version broke a rule once re-timed."""

    current_cost: float
    candidate_cost: float
    publish: bool
    reason: str
    routes: dict[str, list[str]]
    moved: list[str]
    retimed: list[str]
    served: list[str]
    solver_cost: float
    seconds: float
    signature: tuple[tuple[str, str | None, tuple[str, ...]], ...]
    reverted: list[str] = field(default_factory=list)

    @property
    def gain_pct(self) -> float:
        if self.current_cost <= 0:
            return 0.0
        return round(100 * (self.current_cost - self.candidate_cost) / self.current_cost, 3)


def signature(plan: LivePlan) -> tuple[tuple[str, str | None, tuple[str, ...]], ...]:
    """The open part of every route: a result may only be applied to the plan it was solved on."""
    return tuple((rid, r.pinned, tuple(r.free)) for rid, r in sorted(plan.routes.items()))


def _cost(plan: LivePlan, timelines: dict[str, Timeline], unserved: list[str], drop_penalty: float) -> float:
    return sum(t.cost for t in timelines.values()) + sum(drop_penalty * plan.orders[o].priority for o in unserved)


def model_cost(model: LiveModel, solution: Solution) -> float:
    """PyVRP's objective of ``solution`` in plan currency: distance + duration costs + the prize
    lost per order group (churn, or the whole prize for an unserved order)."""
    best_prize: dict[str, int] = {}
    for info, client in zip(model.clients, model.data.clients(), strict=True):
        best_prize[info.order_id] = max(best_prize.get(info.order_id, 0), client.prize)
    lost = sum(best_prize.values()) - solution.prizes()
    return (solution.distance_cost() + solution.duration_cost() + lost) / MONEY_SCALE


def improve(plan: LivePlan, options: ImproveOptions | None = None) -> ImproveResult:
    """Search for a better plan (see the module docs); never changes ``plan``.

    Raises:
        ValueError: on bad options.
    """
    opts = options or ImproveOptions()
    started = time.perf_counter()
    sig = signature(plan)
    model = build_live_model(plan, opts.churn, opts.drop_penalty)
    unserved_now = [o for o in model.orders if o not in model.owner]
    base = {rid: evaluate(plan, plan.routes[rid]) for rid in model.routes}
    current = _cost(plan, base, unserved_now, opts.drop_penalty)
    if not model.clients:
        return ImproveResult(current, current, False, "nothing to improve", {}, [], [], [], 0.0,
                             time.perf_counter() - started, sig)
    init = current_solution(model, plan) if opts.warm else None
    stop: StoppingCriterion = MaxRuntime(opts.seconds)
    if opts.max_iterations is not None:
        stop = MultipleCriteria([MaxIterations(opts.max_iterations), stop])
    res = solve(model.data, stop, seed=opts.seed, collect_stats=False,
                params=SolveParams(penalty=penalty_params(model.data)), initial_solution=init)
    best = res.best
    solver_cost = model_cost(model, best)
    found = read_solution(model, best)
    return _judge(plan, model, base, current, found, opts, solver_cost, time.perf_counter() - started, sig,
                  best.is_feasible())


def _components(model: LiveModel, found: dict[str, list[str]]) -> list[set[str]]:
    """Routes linked by an order moving between them (each route alone otherwise)."""
    parent = {rid: rid for rid in model.routes}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for rid, items in found.items():
        for o in items:
            if o in model.owner:
                parent[root(model.owner[o])] = root(rid)
    groups: dict[str, set[str]] = {}
    for rid in model.routes:
        groups.setdefault(root(rid), set()).add(rid)
    return list(groups.values())


def _judge(plan: LivePlan, model: LiveModel, base: dict[str, Timeline], current: float,
           found: dict[str, list[str]], opts: ImproveOptions, solver_cost: float, seconds: float,
           sig: tuple[tuple[str, str | None, tuple[str, ...]], ...], feasible: bool) -> ImproveResult:
    """Re-time the solver's routes; a route that now breaks a rule (the model has no breaks nor
    area slowdowns) is re-sequenced by the fast path's :func:`~baton.live.ops.resequence`; a group
    of routes exchanging orders still breaking a rule or dropping an order keeps its current plan."""
    new: dict[str, Timeline] = {}
    for rid, items in found.items():
        route = plan.routes[rid]
        new[rid] = evaluate(plan, route, ([route.pinned] if route.pinned else []) + items)
        if not acceptable(base[rid], new[rid]):  # a break or a slowdown the model does not see
            trial = replace(route, free=list(items), known_issues=set())
            resequence(plan, trial, max_evals=400)
            again = evaluate(plan, trial)
            if acceptable(base[rid], again):
                found[rid], new[rid] = trial.free, again
    kept: list[str] = []
    for group in _components(model, found):
        served = {v.item for rid in group for v in new[rid].visits}
        lost = [o for o, rid in model.owner.items() if rid in group and o not in served]
        if lost or not all(acceptable(base[rid], new[rid]) for rid in group):
            kept += sorted(group)
    for rid in kept:
        found[rid], new[rid] = list(plan.routes[rid].free), base[rid]
    where: dict[str, str] = {}
    eta: dict[str, int] = {}
    for rid, t in new.items():
        for v in t.visits:
            where[v.item], eta[v.item] = rid, v.start_s
    unserved = [o for o in model.orders if o not in where]
    moved = sorted(o for o, rid in where.items() if o in model.owner and model.owner[o] != rid)
    tol = opts.churn.eta_tolerance_s
    retimed = sorted(o for o in where if o in model.eta and abs(eta[o] - model.eta[o]) > tol)
    served_new = sorted(o for o in where if o not in model.owner and o in model.orders)
    churn = opts.churn.driver * len(moved) + opts.churn.eta * len(retimed)
    candidate = _cost(plan, new, unserved, opts.drop_penalty) + churn
    changed = {rid: found[rid] for rid in model.routes if found[rid] != plan.routes[rid].free}
    reason = ""
    if not feasible:
        reason = "the solver found no feasible plan"
    elif not changed:
        reason = ("the current plan is already the best found" if not kept
                  else f"re-timed with traffic and breaks, {len(kept)} route(s) would break a rule")
    elif candidate > current * (1 - opts.margin):
        gain = 100 * (current - candidate) / max(current, 1e-9)
        reason = f"gain {gain:.2f} % below the {100 * opts.margin:g} % margin"
    return ImproveResult(round(current, 2), round(candidate, 2), not reason, reason, changed, moved, retimed,
                         served_new, round(solver_cost, 2), round(seconds, 3), sig, sorted(kept))


def apply(plan: LivePlan, result: ImproveResult) -> set[str]:
    """Write an accepted result into ``plan`` (pinned stops stay first); returns the changed routes.

    Raises:
        ValueError: when the result was not accepted or the plan changed since it was solved.
    """
    if not result.publish:
        raise ValueError(f"result not accepted: {result.reason}")
    if signature(plan) != result.signature:
        raise ValueError("the live plan changed while the improvement ran: solve again")
    for rid, items in result.routes.items():
        plan.routes[rid].free = list(items)
    for o in result.served:
        plan.unassigned.pop(o, None)
    return set(result.routes)
