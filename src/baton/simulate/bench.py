"""Benchmarks of live orchestration: ``replan`` (fast-path latency) and ``outcome`` (policies
compared on simulated days).

``replan``: a day of ``stops`` orders from the bundled Loggi day (repeated with a small jitter
beyond its 1,019 addresses) on ``ceil(stops / 16.7)`` vans (60 at 1,000), planned by insertion,
dispatched and started at 08:00 (every stop active, the first of each route pinned); then
``events`` events through the message bus, in a seeded mix: 40 % new order, 20 % cancellation,
20 % window change, 15 % area slowdown, 5 % breakdown. Each timing is the wall time of
``bus.handle`` (insertion/repair + ETAs of the changed routes written to the database).
"""

from __future__ import annotations

import math
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from baton.demo.enrich import DemoDay, enrich
from baton.domain.lifecycle import OrderStatus
from baton.domain.order import Order
from baton.domain.plan import Plan
from baton.domain.values import Address, LatLng, TimeWindow
from baton.intake.loggi import load_loggi_day
from baton.service_layer import commands
from baton.service_layer.bootstrap import bootstrap
from baton.service_layer.live_reactions import enable_live
from baton.simulate.engine import POLICIES, SimConfig, _scratch, simulate_day
from baton.simulate.scenario import Scenario

ProgressFn = Callable[[float], None]


def _day(stops: int, seed: int) -> DemoDay:
    from baton.demo.main_job import bundled_day

    base = enrich(load_loggi_day(bundled_day()), seed=7)
    rng = random.Random(seed)
    orders: list[Order] = []
    for k in range(stops):
        src = base.orders[k % len(base.orders)]
        if k < len(base.orders):
            orders.append(src)
            continue
        loc = LatLng(src.location.lat + rng.uniform(-0.003, 0.003), src.location.lng + rng.uniform(-0.003, 0.003))
        orders.append(replace(src, id=f"{src.id}-x{k}", events=[],
                              address=Address(f"{loc.lat:.5f}, {loc.lng:.5f}", loc, "Brasília", country="BR")))
    n_vans = max(1, math.ceil(stops / 16.7))
    vehicles = [replace(base.vehicles[0], id=f"VAN-{k:03d}", name=f"Van {k:03d}",
                        features=base.vehicles[0].features if k < max(1, n_vans // 10) else frozenset())
                for k in range(1, n_vans + 1)]
    drivers = [replace(base.drivers[0], id=f"DRV-{k:03d}", vehicle_id=f"VAN-{k:03d}") for k in range(1, n_vans + 1)]
    return DemoDay(base.name, base.day, base.timezone, base.depot, orders, vehicles, drivers)


def replan_bench(stops: int, events: int = 200, seed: int = 1, on_progress: ProgressFn | None = None) -> dict[str, Any]:
    """Run the ``replan`` benchmark (see the module docstring); returns
    ``{"stops", "vehicles", "events", "p50_ms", "p95_ms", "p99_ms", "max_ms", "by_event"}``."""
    day = _day(stops, seed)
    tmp = tempfile.mkdtemp(prefix="baton-replan-", dir=_scratch())
    try:
        bus = bootstrap(f"sqlite:///{Path(tmp) / 'replan.sqlite'}")
        t0 = day.day_start
        at = lambda h: t0 + timedelta(hours=h)  # noqa: E731
        bus.handle(commands.RegisterFleet(at=at(6), depots=[day.depot], vehicles=day.vehicles, drivers=day.drivers))
        bus.handle(commands.CreateOrders(at=at(6), orders=day.orders))
        empty = Plan(id=f"replan-{seed}", created_at=at(6), unassigned=[])
        from baton.domain.plan import UnassignedOrder

        empty.unassigned = [UnassignedOrder(o.id, "to insert") for o in day.orders]
        bus.handle(commands.SubmitPlan(at=at(6.5), plan=empty))
        board = enable_live(bus, "baton")
        bus.handle(commands.StartLive(at=at(7), insert_unassigned=True))
        assert board.plan is not None
        for rid, route in list(board.plan.routes.items()):
            if route.free:
                bus.handle(commands.StartRoute(at=at(8), actor="driver:bench", route_id=rid))
        active = sum(len(r.order_ids) for r in board.plan.routes.values())
        rng = random.Random(seed)
        timings: dict[str, list[float]] = {}
        clock = at(8)
        for k in range(events):
            clock += timedelta(seconds=15)
            cmd = _event(rng, board, day, clock, k)
            started = time.perf_counter()
            bus.handle(cmd)
            timings.setdefault(type(cmd).__name__, []).append((time.perf_counter() - started) * 1000)
            if on_progress:
                on_progress((k + 1) / events)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    every = sorted(x for xs in timings.values() for x in xs)

    def pct(p: float) -> float:
        return round(every[min(len(every) - 1, max(0, math.ceil(p / 100 * len(every)) - 1))], 1)

    return {"stops": stops, "active_stops": active, "vehicles": len(day.vehicles), "events": events,
            "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99), "max_ms": round(every[-1], 1),
            "by_event": {k: round(statistics.median(v), 1) for k, v in sorted(timings.items())}}


def _event(rng: random.Random, board: Any, day: DemoDay, clock: Any, k: int) -> commands.Command:
    plan = board.plan
    routed = sorted(o for r in plan.routes.values() for o in r.free if not o.startswith("@"))
    r = rng.random()
    if r < 0.40 or not routed:
        src = rng.choice(day.orders)
        loc = LatLng(src.location.lat + rng.uniform(-0.004, 0.004), src.location.lng + rng.uniform(-0.004, 0.004))
        order = replace(src, id=f"LIVE-{k:05d}", events=[], status=OrderStatus.CREATED, route_id=None,
                        address=Address(f"{loc.lat:.5f}, {loc.lng:.5f}", loc, "Brasília", country="BR"),
                        time_windows=[TimeWindow(clock + timedelta(hours=1), clock + timedelta(hours=5))])
        return commands.AddLiveOrder(at=clock, order=order)
    if r < 0.60:
        return commands.CancelOrder(at=clock, order_id=rng.choice(routed), reason="customer")
    if r < 0.80:
        oid = rng.choice(routed)
        start = clock + timedelta(hours=rng.choice([1, 2, 3]))
        return commands.UpdateOrder(at=clock, order_id=oid, changes={
            "time_windows": [TimeWindow(start, start + timedelta(hours=3))]})
    if r < 0.95:
        centre = rng.choice(day.orders).location
        return commands.ReportTraffic(at=clock, factor=1.5, start=clock, end=clock + timedelta(hours=2),
                                      center=(centre.lat, centre.lng), radius_m=3000)
    live = sorted(rid for rid, route in plan.routes.items() if route.free and not route.broken)
    return commands.ReportBreakdown(at=clock, route_id=rng.choice(live))


def outcome_bench(seeds: int, scenario: Scenario, time_limit_s: float, limit: int | None = None,
                  max_iterations: int | None = None,
                  on_progress: Callable[[str, int, float], None] | None = None) -> dict[str, Any]:
    """Every policy on the same day, scenario and seeds (1..``seeds``). Returns per policy the mean
    of each KPI over the seeds and ``spread`` (min, max) of the headline ones, plus ``runs``."""
    keys = ("on_time_pct", "late_minutes", "km", "cost_per_delivery", "failed_attempts", "told_before_window_pct")
    out: dict[str, Any] = {}
    for policy in POLICIES:
        runs = []
        for seed in range(1, seeds + 1):
            cfg = SimConfig(policy=policy, seed=seed, time_limit_s=time_limit_s, max_iterations=max_iterations,
                            limit=limit, scenario=scenario)
            step = (lambda f, p=policy, s=seed: on_progress(p, s, f)) if on_progress else None
            runs.append(simulate_day(cfg, on_step=step).kpis)
        summary: dict[str, Any] = {k: round(statistics.fmean(r[k] for r in runs), 2) for k in runs[0]}
        summary["spread"] = {k: [min(r[k] for r in runs), max(r[k] for r in runs)] for k in keys}
        summary["runs"] = runs
        out[policy] = summary
    return out
