"""``baton demo --serve``: the main job's simulated day, watched live in the dashboard.

The day is the same as ``baton demo`` (Loggi Brasília, enriched synthetically and seeded): the fleet and
orders are registered, planned with PyVRP, then the day's commands run through the **server's** message
bus, paced by the simulated clock (``speed`` simulated seconds per real second), so every event reaches
the dashboard over SSE as it happens. A demo dispatcher account is created for the login page.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from baton.demo.enrich import enrich
from baton.demo.main_job import bundled_day
from baton.demo.simulate import SimulationSettings, day_commands
from baton.entrypoints.api.app import create_app
from baton.intake.loggi import load_loggi_day
from baton.planning.problem import PlanningOptions
from baton.service_layer import commands

DEMO_ORG = "default"
DEMO_EMAIL = "demo@baton.example.com"


@dataclass(frozen=True)
class LiveDemo:
    """Where to watch: ``url`` of the dashboard and the demo login (``email``, ``password``)."""

    url: str
    email: str
    password: str


def serve_demo(
    *, database_url: str, host: str = "127.0.0.1", port: int = 8000, day_path: Path | None = None, seed: int = 7,
    limit: int | None = None, seconds: float = 10.0, speed: float = 600.0,
    on_ready: Callable[[LiveDemo], None] = lambda demo: None,
    on_step: Callable[[int, int, datetime], None] | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Serve the dashboard on ``host:port`` and run the demo day through it; returns the commands handled.

    ``database_url`` must name an empty database. ``speed``: simulated seconds per real second (600 =
    a 10-hour day in one minute; ``0`` = no pacing). Keeps serving after the day until ``stop`` is set
    (or returns at once when ``stop`` is ``None``).

    Raises:
        RuntimeError: when the database already holds orders or the server does not start.
    """
    import uvicorn

    app = create_app(database_url)
    ctx = app.state.ctx
    bus = ctx.bus(DEMO_ORG)
    with ctx.uow(DEMO_ORG) as uow:
        if uow.orders.list():
            raise RuntimeError(f"database {database_url} already holds orders; give the demo an empty one")
    password = secrets.token_urlsafe(9)
    ctx.accounts.ensure_organisation(DEMO_ORG, "Baton demo")
    user = ctx.accounts.user_by_email(DEMO_EMAIL)
    if user is None:
        ctx.accounts.create_user(DEMO_ORG, DEMO_EMAIL, password, "dispatcher", name="Demo dispatcher")
    else:
        from baton.entrypoints.api.security import hash_password

        ctx.accounts.set_password_hash(user.id, hash_password(password))

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start on {host}:{port}")
        time.sleep(0.05)
    try:
        on_ready(LiveDemo(f"http://{host}:{port}/", DEMO_EMAIL, password))
        day = enrich(load_loggi_day(day_path or bundled_day()), seed=seed, limit=limit)
        created = day.day_start + timedelta(hours=6)
        bus.handle(commands.RegisterFleet(at=created, depots=[day.depot], vehicles=day.vehicles, drivers=day.drivers))
        bus.handle(commands.CreateOrders(at=created, orders=day.orders))
        plan = bus.handle(commands.PlanOrders(at=created + timedelta(minutes=30), day_start=day.day_start,
                                              options=PlanningOptions(time_limit_s=seconds, seed=seed)))
        timeline = day_commands(plan, {o.id: o for o in day.orders}, SimulationSettings(seed=seed),
                                dispatch_at=day.day_start + timedelta(hours=7, minutes=30))
        previous = timeline[0][0] if timeline else None
        for k, (instant, command) in enumerate(timeline, start=1):
            if speed > 0 and previous is not None:
                time.sleep(min(max((instant - previous).total_seconds() / speed, 0.0), 5.0))
            previous = instant
            bus.handle(command)
            if on_step is not None:
                on_step(k, len(timeline), instant)
            if stop is not None and stop.is_set():
                return k
        if stop is not None:
            stop.wait()
        return len(timeline)
    finally:
        server.should_exit = True
        thread.join(10)
