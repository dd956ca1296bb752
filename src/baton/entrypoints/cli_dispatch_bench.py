"""``baton bench dispatch-failover``: a 3PL goes down mid-day with N open orders; measure detection
(simulated seconds) and re-tendering (wall time) over real HTTP fake carriers on loopback."""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

log = logging.getLogger(__name__)
TZ = ZoneInfo("America/Sao_Paulo")


def _orders(n: int, at: datetime) -> list[Any]:
    """``n`` seeded orders within ~9 km of Brasília's centre, one 08:00-18:00 window."""
    import random

    from baton.domain import Address, Customer, LatLng, Order, TimeWindow

    rng = random.Random(7)
    window = TimeWindow(at.replace(hour=8, minute=0), at.replace(hour=18, minute=0))
    return [Order(id=f"b-{i:05d}", customer=Customer(f"Cliente {i}"),
                  address=Address(f"Quadra {i}", LatLng(-15.7939 + rng.uniform(-0.08, 0.08),
                                                        -47.8828 + rng.uniform(-0.08, 0.08))),
                  time_windows=[window]) for i in range(n)]


def run_failover(orders: int, database_url: str, check_every_s: int = 15,
                 on_progress: Any = None) -> dict[str, Any]:
    """Run the scenario once; returns the measurements (see :func:`bench_dispatch_failover`)."""
    from baton.adapters.carriers.fake_server import FakeCarrierServer
    from baton.adapters.carriers.http import HttpCarrierClient
    from baton.dispatch.carriers import Carrier, Performance, RateCard
    from baton.dispatch.rules import parse_rules
    from baton.domain.fleet import FleetType
    from baton.service_layer import commands
    from baton.service_layer.bootstrap import bootstrap

    start = datetime(2026, 3, 2, 11, 50, tzinfo=TZ)
    rules = parse_rules("version: 1\nrules:\n  - id: to-3pl\n    candidates: {fleet_type: [3pl]}\n"
                        "    action: {type: cascade, order_by: [cost, -rating]}\ndefault: {type: captive}\n")
    with FakeCarrierServer(accept_rate=1.0) as acme, FakeCarrierServer(accept_rate=1.0, seed=2) as backup:
        bus = bootstrap(database_url)
        bus.deps.carrier_client = HttpCarrierClient(timeout_s=2.0, attempts=2, backoff_s=0.01)
        bus.handle(commands.RegisterCarriers(at=start, carriers=[
            Carrier("acme", "Acme 3PL", FleetType.THIRD_PARTY, rate_card=RateCard(base=5), endpoint=acme.url,
                    performance=Performance(rating=4.5)),
            Carrier("backup", "Backup 3PL", FleetType.THIRD_PARTY, rate_card=RateCard(base=8), endpoint=backup.url)]))
        bus.handle(commands.LoadDispatchRules(at=start, rules=rules))
        bus.handle(commands.CreateOrders(at=start, orders=_orders(orders, start)))
        t0 = time.perf_counter()
        ids = [f"b-{i:05d}" for i in range(orders)]
        for i in range(0, orders, 50):
            bus.handle(commands.DispatchOrders(at=start, order_ids=ids[i:i + 50]))
            if on_progress:
                on_progress(len(ids[i:i + 50]))
        dispatch_s = time.perf_counter() - t0
        outage = start + timedelta(minutes=10)
        acme.outage = True
        detected_after = None
        t1 = time.perf_counter()
        result: dict[str, Any] = {}
        for k in range(1, 41):
            at = outage + timedelta(seconds=check_every_s * k)
            result = bus.handle(commands.CheckCarrierHealth(at=at))
            if result["down"]:
                detected_after = check_every_s * k
                break
        retender_s = time.perf_counter() - t1
        if on_progress:
            on_progress(orders)
    return {
        "orders": orders, "dispatch_wall_s": round(dispatch_s, 3),
        "dispatch_orders_per_s": round(orders / dispatch_s, 1) if dispatch_s else None,
        "detected_after_simulated_s": detected_after, "retendered": result.get("retendered", 0),
        "retendered_to_backup": len(backup.received), "retender_wall_s": round(retender_s, 3),
        "within_simulated_minute": detected_after is not None and detected_after <= 60,
    }


def bench_dispatch_failover(
    orders: Annotated[int, typer.Option(help="Open orders on the carrier that goes down.", min=1)] = 200,
    database_url: Annotated[str | None, typer.Option(help="Default: a fresh SQLite file in a temp dir.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """A 3PL with ORDERS accepted orders goes down mid-day: detection time (simulated, health check every
    15 s, breaker opens after 3 failed probes) and re-tendering time (wall) to the backup carrier."""
    err = Console(stderr=True)
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
                            TimeElapsedColumn(), console=err)
        with progress:
            task = progress.add_task(f"Failover with {orders} orders", total=2 * orders)
            res = run_failover(orders, url, on_progress=lambda n: progress.advance(task, n))
    if as_json:
        sys.stdout.write(json.dumps(res) + "\n")
        return
    table = Table(title="Dispatch failover")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for k, v in res.items():
        table.add_row(k, str(v))
    Console().print(table)
