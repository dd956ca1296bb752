"""The scale benchmark: city-sized days from real coordinates, planned by
:func:`~baton.planning.decompose.plan_large`, with wall time, cost, routes and peak memory.

A day of ``N`` stops is the union of the first Loggi Brasília days (``real/loggi/df``, MIT,
one shared depot), each enriched as the demo does (:func:`baton.demo.enrich.enrich`: synthetic
windows, service times, vans and drivers, seeded), cut to ``N`` orders; the fleet of a day
cut short is cut in the same proportion. Ids get a ``d<k>-`` prefix per source day.
Each size runs in its own forked process, so its peak RSS (the process plus its search
workers) is its own.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import resource
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from baton.adapters.travel.greatcircle import GreatCircleProvider
from baton.demo.enrich import enrich
from baton.domain.fleet import Depot, Driver, Vehicle
from baton.domain.order import Order
from baton.intake.loggi import load_loggi_day
from baton.planning.decompose import DEFAULT_PART_SIZE, plan_large
from baton.planning.parallel import default_workers
from baton.planning.problem import PlanningOptions, PlanningProblem


def loggi_days(data: Path) -> list[Path]:
    """The Brasília day files in numeric order (``cvrp-0-df-0`` … ``-29``)."""
    folder = data / "real" / "loggi" / "df"
    return sorted(folder.glob("cvrp-0-df-*.json"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))


def union_day(data: Path, stops: int, seed: int = 7) -> PlanningProblem:
    """A day of ``stops`` orders (module docs).

    Raises:
        ValueError: when the shared days hold fewer than ``stops`` deliveries or ``stops`` < 1.
    """
    if stops < 1:
        raise ValueError(f"stops must be >= 1, got {stops}")
    orders: list[Order] = []
    vehicles: list[Vehicle] = []
    drivers: list[Driver] = []
    depot: Depot | None = None
    day_start: datetime | None = None
    for k, path in enumerate(loggi_days(data)):
        if len(orders) >= stops:
            break
        day = enrich(load_loggi_day(path), seed=seed + k)
        depot = depot or day.depot
        day_start = day_start or day.day_start
        take = min(len(day.orders), stops - len(orders))
        keep = math.ceil(len(day.vehicles) * take / len(day.orders))
        orders += [replace(o, id=f"d{k}-{o.id}") for o in day.orders[:take]]
        vehicles += [replace(v, id=f"d{k}-{v.id}", start_depot_id=depot.id) for v in day.vehicles[:keep]]
        drivers += [replace(d, id=f"d{k}-{d.id}", vehicle_id=f"d{k}-{d.vehicle_id}") for d in day.drivers[:keep]]
    if len(orders) < stops or depot is None:
        raise ValueError(f"the Loggi days hold {len(orders)} deliveries, fewer than {stops}")
    return PlanningProblem(orders, [depot], vehicles, drivers, day_start=day_start)


@dataclass(frozen=True)
class ScaleRun:
    """One size: orders, wall seconds (matrices, search, breaks), plan cost (currency),
    routes, unassigned orders, km, and peak RSS in MiB: the planner process's peak plus the
    peak of its largest search worker (``getrusage``; pages shared after fork count twice);
    ``workers``: search processes per part (:attr:`PlanningOptions.workers`)."""

    stops: int
    seconds: float
    cost: float
    routes: int
    unassigned: int
    km: float
    peak_rss_mib: float
    budget_s: float
    parts: int
    workers: int


def _measure(data: Path, stops: int, seconds: float, part_size: int, seed: int, workers: int) -> dict[str, Any]:
    problem = union_day(data, stops, seed)
    started = time.perf_counter()
    plan = plan_large(problem, GreatCircleProvider(cache_size=0),
                      PlanningOptions(time_limit_s=seconds, seed=seed, workers=workers), part_size=part_size)
    wall = time.perf_counter() - started
    served = sum(len(r.order_ids) for r in plan.routes)
    if served + len(plan.unassigned) != stops:
        raise RuntimeError(f"{stops} orders in, {served} routed + {len(plan.unassigned)} unassigned out")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"stops": stops, "seconds": round(wall, 1), "cost": round(plan.cost.total, 2), "routes": len(plan.routes),
            "unassigned": len(plan.unassigned), "km": round(sum(r.distance_m for r in plan.routes) / 1000, 1),
            "peak_rss_mib": round((own + children) / 1024, 1), "budget_s": seconds,
            "parts": math.ceil(stops / part_size), "workers": workers}


def _child(conn: Any, *args: Any) -> None:
    try:
        conn.send(("ok", _measure(*args)))
    except Exception as exc:  # report any failure to the parent, which raises it
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def run_size(data: Path, stops: int, seconds: float, part_size: int = DEFAULT_PART_SIZE, seed: int = 7,
             workers: int | None = None) -> ScaleRun:
    """Plan a ``stops``-order day in a fresh forked process and measure it, searching each part on
    ``workers`` processes (default: every core this process may use, :func:`default_workers`).

    Raises:
        RuntimeError: when planning fails in the child (its message is kept).
    """
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, data, stops, seconds, part_size, seed,
                                            workers or default_workers()))
    proc.start()
    child.close()
    status, payload = parent.recv()
    proc.join()
    if status != "ok":
        raise RuntimeError(f"{stops} stops: {payload}")
    return ScaleRun(**payload)


__all__ = ["ScaleRun", "loggi_days", "run_size", "union_day"]
