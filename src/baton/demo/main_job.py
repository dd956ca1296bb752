"""The main job: a real delivery day, planned and run end to end through the service layer.

Steps: load a loggibud day (the bundled Brasília day by default) → enrich it synthetically
(:mod:`baton.demo.enrich`) → register the fleet and create the orders → plan with PyVRP →
dispatch one wave and run the day on a simulated clock (:mod:`baton.demo.simulate`) →
compute KPIs from what the database holds → write the HTML report.

Every delivery and failed attempt of the simulated day goes through the driver app's command
(``ApplyDriverActions``) with a synthetic POD (:mod:`baton.demo.pods`); media are stored in
``<out>/objects`` (a filesystem object store) and each order's POD page is written to
``<out>/pods/<order_id>.html`` (:mod:`baton.reporting.pod_pages`), linked from the report.
"""

from __future__ import annotations

import dataclasses
import shutil
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

from baton.adapters.objectstore.fs import FileSystemObjectStore
from baton.adapters.travel.base import TravelTimeProvider
from baton.demo.enrich import enrich
from baton.demo.pods import DemoPods
from baton.demo.simulate import SimulationSettings, day_commands, run_day
from baton.domain.plan import Plan
from baton.intake.loggi import load_loggi_day
from baton.planning.parallel import default_workers
from baton.planning.problem import PlanningOptions
from baton.reporting.html import write_day_report
from baton.reporting.kpis import DayKpis, compute_kpis
from baton.reporting.pod_pages import PodIndex, write_pod_pages
from baton.service_layer import commands
from baton.service_layer.bootstrap import bootstrap

ATTRIBUTION = (
    "Delivery locations and parcel sizes: Loggi Benchmark for Urban Deliveries (loggibud), "
    "github.com/loggi/loggibud, MIT licence, Copyright (c) 2021 Loggi. Time windows, service times, "
    "customer names, fleet, shifts and the day's disruptions are synthetic (seeded)."
)


def bundled_day() -> Path:
    """Path of the bundled Loggi Brasília day (``cvrp-0-df-0``, 1,019 deliveries)."""
    return Path(str(resources.files("baton") / "data" / "loggi" / "cvrp-0-df-0.json"))


@dataclass
class DemoProgress:
    """Callbacks for a UI: ``stage(name)``, ``planning(elapsed_s, fraction)``, ``step(done, total, now)``."""

    stage: Callable[[str], None] = lambda name: None
    planning: Callable[[float, float], None] | None = None
    step: Callable[[int, int, datetime], None] | None = None


@dataclass
class DemoResult:
    kpis: DayKpis
    plan: Plan
    report_path: Path
    database_url: str
    commands_handled: int
    notes: list[str] = field(default_factory=list)
    pods: PodIndex | None = None
    pod_seconds: float = 0.0


def run_demo(
    *,
    day_path: Path | None = None,
    out_dir: Path = Path("baton-demo"),
    seed: int = 7,
    time_limit_s: float = 45.0,
    max_iterations: int | None = None,
    limit: int | None = None,
    database_url: str | None = None,
    travel: TravelTimeProvider | None = None,
    progress: DemoProgress | None = None,
) -> DemoResult:
    """Run the main job and return its KPIs, plan and report path.

    ``out_dir`` receives ``report.html`` and, unless ``database_url`` is given, a fresh
    SQLite database ``demo.sqlite`` (recreated on every run), the POD media store ``objects/``
    and the POD pages ``pods/`` (both emptied first). ``limit`` keeps the first N
    deliveries. ``time_limit_s`` is the planner's budget in seconds, searched on every core
    (:func:`~baton.planning.parallel.default_workers`);
    ``max_iterations`` (optional) also caps its search iterations, which makes the whole run
    reproducible per seed whatever the machine's load.

    Raises:
        baton.intake.files.ImportFileError: when the day file cannot be read.
        RuntimeError: when ``database_url`` names a database that already holds orders.
    """
    ui = progress or DemoProgress()
    out_dir.mkdir(parents=True, exist_ok=True)
    if database_url is None:
        db_file = out_dir / "demo.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_file}{suffix}").unlink(missing_ok=True)
        database_url = f"sqlite:///{db_file.resolve()}"
    for sub in ("objects", "pods"):
        shutil.rmtree(out_dir / sub, ignore_errors=True)
    store = FileSystemObjectStore(out_dir / "objects")

    ui.stage("Loading the day")
    source = load_loggi_day(day_path or bundled_day())
    day = enrich(source, seed=seed, limit=limit)
    bus = bootstrap(database_url, travel=travel, on_planning_progress=ui.planning)
    with bus.uow:
        if bus.uow.orders.list():
            raise RuntimeError(f"database {database_url} already holds orders; give the demo an empty one")
    created_at = day.day_start + timedelta(hours=6)
    bus.handle(commands.RegisterFleet(at=created_at, depots=[day.depot], vehicles=day.vehicles,
                                      drivers=day.drivers))
    bus.handle(commands.CreateOrders(at=created_at, orders=day.orders))

    ui.stage(f"Planning {len(day.orders)} orders on {len(day.vehicles)} vans")
    started = _time.perf_counter()
    plan: Plan = bus.handle(commands.PlanOrders(
        at=day.day_start + timedelta(hours=6, minutes=30), day_start=day.day_start,
        options=PlanningOptions(time_limit_s=time_limit_s, seed=seed, max_iterations=max_iterations,
                                workers=default_workers()),
    ))
    planning_seconds = _time.perf_counter() - started

    ui.stage("Running the day")
    orders = {o.id: o for o in day.orders}
    settings, dispatch_at = SimulationSettings(seed=seed), day.day_start + timedelta(hours=7, minutes=30)
    pods = DemoPods(store, orders, plan, seed)
    pods.prepare(bus, day_commands(plan, orders, settings, dispatch_at), at=dispatch_at)
    handled = run_day(bus, plan, orders, settings, dispatch_at=dispatch_at, on_step=ui.step, handle=pods.handle)

    ui.stage("Writing the report")
    with bus.uow:
        final_orders = bus.uow.orders.list()
        stored = bus.uow.plans.get(plan.id)
        vehicles = {v.id: v for v in bus.uow.vehicles.list()}
        drivers = {d.id: d for d in bus.uow.drivers.list()}
        depots = bus.uow.depots.list()
    kpis = compute_kpis(final_orders, stored.routes, vehicles, planning_seconds=planning_seconds,
                        currency=day.vehicles[0].costs.currency)
    started = _time.perf_counter()
    with bus.uow:
        session = getattr(bus.uow, "session", None)
        assert session is not None, "the demo runs on a SQL unit of work"
        index = write_pod_pages(out_dir, session, getattr(bus.uow, "org_id", "default"), store,
                                {o.id: o for o in final_orders}, ZoneInfo(day.timezone))
    pod_pages_s = _time.perf_counter() - started
    kpis = dataclasses.replace(kpis, pod_complete_pct=round(index.complete_pct, 1))
    notes = [
        f"Day: {source.name} ({source.region}), {len(day.orders)} deliveries, {len(day.vehicles)} vans; seed {seed}.",
        f"Plan: {len(stored.routes)} routes, {len(stored.unassigned)} unassigned, "
        f"solver {plan.solve_seconds:.1f} s (limit {time_limit_s:.0f} s).",
        "Travel times: great-circle distance × circuity factor at a time-of-day speed profile (no road network).",
        f"Proof of delivery: {pods.pods} synthetic PODs captured through the driver-app command; "
        f"{index.verified} of {len(index.links)} custody chains verified ({len(index.invalid)} invalid).",
    ]
    report = write_day_report(
        out_dir / "report.html",
        title=f"Baton day report: {source.name}",
        kpis=kpis,
        depots=depots,
        routes=stored.routes,
        orders={o.id: o for o in final_orders},
        unassigned=stored.unassigned,
        notes=notes,
        attribution=ATTRIBUTION,
        vehicles=vehicles,
        drivers=drivers,
        pod_links=index.links,
    )
    return DemoResult(kpis, stored, report, database_url, handled, notes, index, pod_pages_s)
