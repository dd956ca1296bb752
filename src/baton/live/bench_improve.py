"""``baton bench improve``: the background improvement against a cold re-solve of the same state.

Set-up (as :func:`baton.simulate.bench.replan_bench`): ``stops`` orders of the bundled Loggi day
(repeated with a small jitter beyond its 1,019 addresses) on ``ceil(stops / 16.7)`` vans, the
plan built by the fast path's cheapest insertion (what the live plan looks like after a day of
events: feasible, not optimised); at 08:00 every other van leaves (its parcels on board, its
first stop pinned), the others wait at the depot. On that one state:

* ``warm``: :func:`baton.live.improve.improve` from the live plan for ``seconds``;
* ``cold``: the same model solved for ``cold_seconds`` without the initial solution.

Both report PyVRP's objective of their best solution on the same model (``model_cost``: route
km and hours costs + churn + lost prizes, plan currency) and the accepted plan's cost re-timed
by the live model (``candidate_cost``). ``warm_vs_cold_pct`` = (warm - cold) / cold x 100 on
``model_cost``: the target is <= 1.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from baton.live.improve import ImproveOptions, ImproveResult, improve


def _summary(r: ImproveResult) -> dict[str, Any]:
    return {"model_cost": r.solver_cost, "candidate_cost": r.candidate_cost, "gain_pct": r.gain_pct,
            "publish": r.publish, "reason": r.reason, "moved": len(r.moved), "retimed": len(r.retimed),
            "reverted_routes": len(r.reverted), "seconds": r.seconds}


def improve_bench(stops: int, seconds: float, cold_seconds: float, seed: int = 1,
                  on_progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the benchmark (see the module docs); returns ``{"stops", "vehicles", "open_stops",
    "current_cost", "warm": {...}, "cold": {...}, "warm_vs_cold_pct"}``."""
    from baton.domain.plan import Plan, UnassignedOrder
    from baton.service_layer import commands
    from baton.service_layer.bootstrap import bootstrap
    from baton.service_layer.live_reactions import enable_live
    from baton.simulate.bench import _day
    from baton.simulate.engine import _scratch

    day = _day(stops, seed)
    tmp = tempfile.mkdtemp(prefix="baton-improve-", dir=_scratch())
    try:
        bus = bootstrap(f"sqlite:///{Path(tmp) / 'improve.sqlite'}")
        t0 = day.day_start
        at = lambda h: t0 + timedelta(hours=h)  # noqa: E731
        bus.handle(commands.RegisterFleet(at=at(6), depots=[day.depot], vehicles=day.vehicles, drivers=day.drivers))
        bus.handle(commands.CreateOrders(at=at(6), orders=day.orders))
        todo = [UnassignedOrder(o.id, "to insert") for o in day.orders]
        bus.handle(commands.SubmitPlan(at=at(6.5), plan=Plan(id=f"improve-{seed}", created_at=at(6), unassigned=todo)))
        board = enable_live(bus, "baton")
        if on_progress:
            on_progress("building the live plan by insertion")
        bus.handle(commands.StartLive(at=at(7), insert_unassigned=True))
        assert board.plan is not None
        busy = sorted(rid for rid, r in board.plan.routes.items() if r.free)
        for rid in busy[::2]:
            bus.handle(commands.StartRoute(at=at(8), actor="driver:bench", route_id=rid))
        plan = board.plan
        if on_progress:
            on_progress(f"warm start, {seconds:g} s")
        warm = improve(plan, ImproveOptions(seconds=seconds, seed=seed))
        if on_progress:
            on_progress(f"cold solve, {cold_seconds:g} s")
        cold = improve(plan, ImproveOptions(seconds=cold_seconds, seed=seed, warm=False))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    gap = 100 * (warm.solver_cost - cold.solver_cost) / cold.solver_cost if cold.solver_cost else 0.0
    return {"stops": stops, "vehicles": len(day.vehicles),
            "open_stops": sum(len(r.order_ids) for r in plan.routes.values()),
            "started_vans": len(busy[::2]), "current_cost": warm.current_cost, "warm": _summary(warm),
            "cold": _summary(cold), "warm_vs_cold_pct": round(gap, 3)}
