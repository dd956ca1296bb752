"""``baton bench ingest``: sustained GPS pings per second through the real HTTP API, with ETAs kept current.

Setup: a fresh store (a temporary SQLite file, or a throwaway PostgreSQL database created next to
``--database-url`` and dropped afterwards) with ``vehicles`` vans, each on an in-progress route of
:data:`STOPS` stops. Server: uvicorn serving :data:`baton.entrypoints.api_execute.router` with an
:class:`~baton.execute.runtime.ExecutionRuntime` (ETA refresh coalesced per vehicle every 200 ms; pings
validated and stored by the ingest worker process unless ``ingest_process`` is off).
Load: a separate process (so client and server share the machine's cores as they would) posting
batches of ``batch`` pings over keep-alive HTTP connections for ``seconds`` seconds; every vehicle
drives towards its stops in real time at its own speed, within ``speed_spread`` of ``speed_mps``
(default 8 m/s ± 25 %, ~29 km/h in a straight line): each ping carries the generator's real clock and
the van's position at that instant, so the distance between two pings of a van is what it drove
meanwhile (the ETA recomputation threshold sees realistic movement). A warm-up round (one ping per van,
then one ETA pass) comes before the clock starts, as the cold start's first ETAs do. Measured: accepted
pings / wall time, and the ETA lag (ping received by the server → the vehicle's recomputed ETAs
committed) percentiles, server-side.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from baton.domain import Address, Customer, Depot, LatLng, Order, Size, TimeWindow, Vehicle
from baton.domain.plan import Plan, Route, RouteStatus, Stop, StopKind

STOPS = 6
LEG_S = 420  # planned seconds between two stops
CENTRE = (-15.79, -47.88)


@dataclass(frozen=True)
class IngestBenchResult:
    store: str
    pings_per_s: float
    eta_lag_p50_ms: float | None
    eta_lag_p95_ms: float | None
    vehicles: int
    seconds: float
    pings: int
    batches: int
    rejected: int
    eta_updates: int
    eta_skipped: int
    speed_mps: float
    speed_spread: float
    ingest_process: bool
    server_ingest_busy_s: float
    server_refresh_busy_s: float
    refresh_passes: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(bus: Any, vehicles: int, now: datetime, speed_mps: float = 8.0) -> list[str]:
    """Store ``vehicles`` vans with in-progress routes of :data:`STOPS` stops each; returns the route ids.

    Stops are :data:`LEG_S` seconds apart at ``speed_mps`` (m/s) in a straight line north or south of the
    depot, so the plan's legs match how fast the load generator drives the vans."""
    spacing = LEG_S * speed_mps / 111_195.0  # degrees of latitude between two stops
    tz = ZoneInfo("America/Sao_Paulo")
    start = now.astimezone(tz) - timedelta(minutes=5)
    depot = Depot(id="BENCH-D", name="Bench depot", location=LatLng(*CENTRE), timezone="America/Sao_Paulo")
    vans = [Vehicle(id=f"BV{i:05d}", capacity=Size(100, 900, 4000), start_depot_id=depot.id) for i in range(vehicles)]
    orders: list[Order] = []
    routes: list[Route] = []
    window = TimeWindow(start, start + timedelta(hours=10))
    for i, van in enumerate(vans):
        stops, t = [], start
        for k in range(STOPS):
            lat = CENTRE[0] + spacing * (k + 1) * (1 if i % 2 else -1)
            lng = CENTRE[1] + 0.0001 * (i % 500)
            order = Order(id=f"BO{i:05d}-{k}", customer=Customer(f"C{i}-{k}"),
                          address=Address(f"Q{i}-{k}", LatLng(lat, lng)), time_windows=[window],
                          service_time_s=180, size=Size(1, 2.0, 10.0))
            orders.append(order)
            t += timedelta(seconds=LEG_S)
            stops.append(Stop(k + 1, StopKind.DELIVERY, order.id, t, t + timedelta(seconds=180),
                              round(LEG_S * speed_mps), LEG_S))
            t += timedelta(seconds=180)
        routes.append(Route(id=f"BR{i:05d}", vehicle_id=van.id, driver_id=None, start_depot_id=depot.id,
                            end_depot_id=depot.id, start=start, end=t + timedelta(seconds=600), stops=stops,
                            status=RouteStatus.IN_PROGRESS, actual_start=start))
    uow = bus.uow
    with uow:
        uow.depots.add_many([depot])
        uow.vehicles.add_many(vans)
        uow.orders.add_many(orders)
        uow.plans.add(Plan(id="BENCH-P", created_at=start, routes=routes))
        uow.commit()
    return [r.id for r in routes]


def van_speed_mps(i: int, speed_mps: float, spread: float) -> float:
    """Van ``i``'s driving speed (m/s): ``speed_mps`` × a stable factor in [1 - spread, 1 + spread], so the
    fleet does not move in lockstep (every van crossing the ETA recomputation threshold in the same pass)."""
    return speed_mps * (1.0 + spread * (2.0 * ((i * 7919) % 1000) / 1000.0 - 1.0))


def _generator(url: str, vehicles: int, seconds: float, batch: int, workers: int, out: Any, sent: Any,
               speed_mps: float, spread: float, go: Any) -> None:
    """Load generator (own process): one warm-up round (every van's first ping, then waits for ``go``),
    then ``workers`` threads posting batches until ``seconds`` elapse."""
    import httpx

    chunks = max(1, (vehicles + batch - 1) // batch)
    lock = threading.Lock()
    state = {"k": 0, "accepted": 0, "batches": 0, "rejected": 0}
    steps = [van_speed_mps(i, speed_mps, spread) / 111_195.0 for i in range(vehicles)]  # degrees lat per s
    began = time.monotonic()

    def post(client: httpx.Client, chunk: int) -> dict[str, Any]:
        ts = datetime.now(UTC).isoformat()
        elapsed = time.monotonic() - began
        lo, hi = chunk * batch, min(vehicles, (chunk + 1) * batch)
        pings = [{"vehicle_id": f"BV{i:05d}", "lat": CENTRE[0] + steps[i] * elapsed * (1 if i % 2 else -1),
                  "lng": CENTRE[1] + 0.0001 * (i % 500), "accuracy_m": 8.0, "speed_mps": 5.0,
                  "ts": ts} for i in range(lo, hi)]
        r = client.post("/positions", content=json.dumps({"pings": pings}),
                        headers={"content-type": "application/json"})
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body

    with httpx.Client(base_url=url, timeout=30.0) as client:
        for chunk in range(chunks):
            post(client, chunk)
    out.put({"warm": True})
    go.wait()
    deadline = time.monotonic() + seconds

    def work() -> None:
        with httpx.Client(base_url=url, timeout=30.0) as client:
            while time.monotonic() < deadline:
                with lock:
                    k = state["k"]
                    state["k"] += 1
                body = post(client, k % chunks)
                with lock:
                    state["accepted"] += body["accepted"]
                    state["rejected"] += len(body["rejected"])
                    state["batches"] += 1
                    sent.value = state["accepted"]

    started = time.monotonic()
    threads = [threading.Thread(target=work) for _ in range(workers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    out.put({"accepted": state["accepted"], "batches": state["batches"], "rejected": state["rejected"],
             "elapsed": time.monotonic() - started})


def _postgres_scratch(base_url: str) -> tuple[str, Callable[[], None]]:
    """Create a throwaway database on the server of ``base_url``; returns its URL and a dropper."""
    import psycopg
    from sqlalchemy.engine import make_url

    from baton.adapters.db import normalise_url

    url = make_url(normalise_url(base_url))
    name = f"baton_bench_ingest_{int(time.time())}"
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url.set(database=name).render_as_string(hide_password=False), drop


def run_ingest_bench(store: str, vehicles: int, seconds: float, database_url: str | None = None,
                     batch: int = 500, workers: int = 4, refresh_interval_s: float = 0.2,
                     on_progress: Callable[[str, float, float], None] | None = None, *,
                     speed_mps: float = 8.0, ingest_process: bool = True,
                     speed_spread: float = 0.25) -> IngestBenchResult:
    """Run the benchmark (see the module docstring). ``refresh_interval_s``: how often dirty vans' ETAs are
    recomputed; ``on_progress(phase, done, total)`` drives a progress bar; ``speed_mps``: how fast the vans
    drive (m/s), each van at a stable speed within ``speed_spread`` (share, 0..1) of it
    (:func:`van_speed_mps`); ``ingest_process``: validate and store in the ingest worker process
    (:mod:`baton.execute.ingest_process`), else in the server's process.

    Raises:
        ValueError: for an unknown ``store``.
        psycopg.OperationalError: when PostgreSQL cannot be reached.
    """
    import uvicorn
    from fastapi import FastAPI

    from baton.adapters.travel.greatcircle import GreatCircleProvider
    from baton.entrypoints.api_execute import router
    from baton.execute.runtime import ExecutionRuntime, IngestCounters
    from baton.execute.service import ExecutionService
    from baton.service_layer.bootstrap import bootstrap
    from baton.service_layer.messagebus import MessageBus
    from baton.service_layer.unit_of_work import SqlAlchemyUnitOfWork

    progress = on_progress or (lambda phase, done, total: None)
    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if store == "sqlite":
        tmp = tempfile.TemporaryDirectory(prefix="baton-bench-ingest-")
        url = f"sqlite:///{Path(tmp.name) / 'bench.sqlite'}"
    elif store == "postgresql":
        url, cleanup = _postgres_scratch(database_url or "postgresql://postgres@127.0.0.1:5432/postgres")
    else:
        raise ValueError(f"store: expected sqlite or postgresql, got {store!r}")
    server: uvicorn.Server | None = None
    runtime: ExecutionRuntime | None = None
    bus: MessageBus | None = None
    try:
        bus = bootstrap(url, travel=GreatCircleProvider())
        now = datetime.now(UTC)
        progress("seeding", 0, vehicles)
        route_ids = seed(bus, vehicles, now, speed_mps)
        service = ExecutionService(bus)
        if service.track_plan("BENCH-P") != len(route_ids):
            raise RuntimeError("bench: not every seeded route is tracked")
        progress("seeding", vehicles, vehicles)
        service.tick(now)  # cold start (first ETAs of every stop) is not part of the measurement
        service.lag_ms.clear()
        runtime = ExecutionRuntime(service, interval_s=refresh_interval_s, tick_s=3600.0,
                                   ingest_process=ingest_process)
        app = FastAPI()
        app.include_router(router)
        app.state.execution = runtime
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                               access_log=False))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        runtime.start()
        if ingest_process:
            runtime.ingest([])  # start the ingest process before the clock starts
        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        sent = ctx.Value("q", 0)
        go = ctx.Event()
        proc = ctx.Process(target=_generator, args=(f"http://127.0.0.1:{port}", vehicles, seconds, batch, workers,
                                                    out, sent, speed_mps, speed_spread, go))
        proc.start()
        out.get(timeout=120)  # warm-up round done: every van has a fix
        runtime.refresh_now()
        with runtime.lock:  # what follows is the measurement
            service.lag_ms.clear()
            service.skipped = 0
            runtime.counters = IngestCounters()
        go.set()
        started = time.monotonic()
        while proc.is_alive() and out.empty():
            progress("ingesting", min(seconds, time.monotonic() - started), seconds)
            time.sleep(0.2)
        load = out.get(timeout=120)
        proc.join(timeout=30)
        runtime.stop()
        runtime.refresh_now()  # the last pings' ETAs
        stats = runtime.stats()
        progress("ingesting", seconds, seconds)
        return IngestBenchResult(
            store=store, pings_per_s=round(load["accepted"] / load["elapsed"], 1),
            eta_lag_p50_ms=_round(stats["eta_lag_p50_ms"]), eta_lag_p95_ms=_round(stats["eta_lag_p95_ms"]),
            vehicles=vehicles, seconds=round(load["elapsed"], 2), pings=load["accepted"], batches=load["batches"],
            rejected=load["rejected"], eta_updates=stats["eta_updates"], eta_skipped=stats["eta_skipped"],
            speed_mps=speed_mps, speed_spread=speed_spread, ingest_process=ingest_process,
            server_ingest_busy_s=stats["ingest_busy_s"], server_refresh_busy_s=stats["refresh_busy_s"],
            refresh_passes=stats["refresh_passes"])
    finally:
        if runtime is not None:
            runtime.stop()
        if server is not None:
            server.should_exit = True
            time.sleep(0.3)
        if bus is not None and isinstance(bus.uow, SqlAlchemyUnitOfWork):
            bus.uow.session_factory.kw["bind"].dispose()  # close connections before dropping the database
        cleanup()
        if tmp is not None:
            tmp.cleanup()


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
