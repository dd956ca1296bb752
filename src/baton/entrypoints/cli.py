"""The ``baton`` command line.

Everything long shows a progress bar on stderr; with ``--json`` a command prints exactly one
JSON object on stdout and nothing else.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from baton import __version__
from baton.entrypoints.cli_bench import bench_app
from baton.entrypoints.cli_execute import execute_app
from baton.entrypoints.cli_notify import notify_app
from baton.entrypoints.cli_serve import admin_app, serve

app = typer.Typer(help="Baton: last-mile delivery orchestration.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database administration.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(bench_app, name="bench")
app.add_typer(admin_app, name="admin")
app.command("serve")(serve)
app.add_typer(execute_app, name="execute")
app.add_typer(notify_app, name="notify")

from baton.entrypoints.cli_dispatch import dispatch_app, rules_app  # noqa: E402

app.add_typer(dispatch_app, name="dispatch")
app.add_typer(rules_app, name="rules")

from baton.entrypoints.cli_prove import prove_app  # noqa: E402

app.add_typer(prove_app, name="prove")

from baton.entrypoints.cli_live import simulate  # noqa: E402

app.command("simulate")(simulate)

out = Console()
err = Console(stderr=True)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
        console=err, transient=False,
    )


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug output to stderr.")] = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, stream=sys.stderr)


@app.command()
def version() -> None:
    """Print Baton's version."""
    out.print(__version__)


@app.command()
def demo(
    day: Annotated[
        Path | None, typer.Option(help="A loggibud-format day (JSON); default: the bundled Brasília day.")
    ] = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Where report.html (and demo.sqlite) go.")
    ] = Path("baton-demo"),
    seed: Annotated[int, typer.Option(help="Seed of the synthetic enrichment, solver and simulation.")] = 7,
    seconds: Annotated[float, typer.Option(help="Planner time limit, seconds.")] = 45.0,
    limit: Annotated[int | None, typer.Option(help="Use only the first N deliveries.")] = None,
    database_url: Annotated[
        str | None, typer.Option(help="Use this (empty) database instead of a fresh SQLite file.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the KPIs as one JSON object.")] = False,
    serve: Annotated[bool, typer.Option("--serve", help="Watch the day live in the dashboard instead.")] = False,
    port: Annotated[int, typer.Option(help="With --serve: the dashboard's port.")] = 8000,
    speed: Annotated[float, typer.Option(help="With --serve: simulated seconds per real second.")] = 600.0,
) -> None:
    """Plan and run a real delivery day end to end, then print KPIs and write an HTML report."""
    if serve:
        from baton.entrypoints.cli_serve import watch_demo

        watch_demo(day=day, out_dir=out_dir, seed=seed, seconds=seconds, limit=limit, database_url=database_url,
                   port=port, speed=speed)
        return
    from baton.demo.main_job import DemoProgress, run_demo
    from baton.reporting.kpis import kpi_table

    with _progress() as bar:
        planning = bar.add_task("Planning", total=1.0, visible=False)
        running = bar.add_task("Running the day", total=None, visible=False)

        def stage(name: str) -> None:
            err.log(name)
            if name.startswith("Planning"):
                bar.update(planning, visible=True, description=name)
            if name.startswith("Running"):
                bar.update(planning, completed=1.0)
                bar.update(running, visible=True)
            if name.startswith("Writing"):
                bar.update(running, completed=bar.tasks[running].total or 0)

        def plan_progress(elapsed_s: float, fraction: float) -> None:
            bar.update(planning, completed=min(1.0, fraction))

        def step(done: int, total: int, now: datetime) -> None:
            bar.update(running, total=total, completed=done,
                       description=f"Running the day  {now.strftime('%H:%M')}")

        result = run_demo(day_path=day, out_dir=out_dir, seed=seed, time_limit_s=seconds, limit=limit,
                          database_url=database_url,
                          progress=DemoProgress(stage=stage, planning=plan_progress, step=step))
    if as_json:
        sys.stdout.write(json.dumps(result.kpis.to_dict()) + "\n")
        return
    out.print(kpi_table(result.kpis))
    for note in result.notes:
        out.print(f"[dim]{note}[/dim]")
    out.print(f"Report: [bold]{result.report_path}[/bold]")


@app.command()
def plan(
    file: Annotated[
        Path, typer.Argument(help="A bundle JSON (depots, vehicles, drivers, orders) or an orders CSV/JSON.")
    ],
    fleet: Annotated[
        Path | None, typer.Option(help="Bundle JSON with depots, vehicles and drivers (when FILE holds only orders).")
    ] = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Where routes.csv, routes.geojson and unassigned.csv go.")
    ] = Path("baton-plan"),
    seconds: Annotated[float, typer.Option(help="Planner time limit, seconds.")] = 10.0,
    seed: Annotated[int, typer.Option(help="Solver seed.")] = 1,
    database_url: Annotated[
        str | None, typer.Option(help="Persist into this database (default: a fresh SQLite file in --out).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a summary as one JSON object.")] = False,
    workers: Annotated[int | None, typer.Option(help="Search processes (default: every core).", min=1)] = None,
    max_reloads: Annotated[int, typer.Option(help="Returns to the depot to reload per vehicle.", min=0)] = 0,
    overtime_min: Annotated[int, typer.Option(help="Paid overtime a driver may work, minutes.", min=0)] = 0,
    overtime_per_hour: Annotated[float, typer.Option(help="Overtime premium, currency per hour.", min=0)] = 0.0,
    balance: Annotated[
        float | None, typer.Option(help="Balanced workload: orders per route <= average x (1 + BALANCE).", min=0)
    ] = None,
) -> None:
    """Plan the orders in FILE with the fleet in FILE or --fleet; write routes as CSV and GeoJSON.

    Bad rows are reported (row, field, problem) and skipped; the good rows are planned.
    """
    from baton.intake.files import ImportFileError, import_bundle, import_orders
    from baton.planning.problem import PlanningOptions
    from baton.reporting.export import write_plan
    from baton.service_layer import commands
    from baton.service_layer.bootstrap import bootstrap

    try:
        if file.suffix.lower() == ".json" and fleet is None:
            bundle = import_bundle(file)
            orders_res, fleet_bundle = bundle.orders, bundle
        else:
            orders_res = import_orders(file)
            if fleet is None:
                raise typer.BadParameter("an orders file needs --fleet FLEET.json (depots, vehicles, drivers)")
            fleet_bundle = import_bundle(fleet)
    except ImportFileError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    problems = [("orders", e) for e in orders_res.errors]
    problems += [("depots", e) for e in fleet_bundle.depots.errors]
    problems += [("vehicles", e) for e in fleet_bundle.vehicles.errors]
    problems += [("drivers", e) for e in fleet_bundle.drivers.errors]
    for kind, e in problems:
        err.print(f"[yellow]skipped[/yellow] {kind} {e}")
    orders = orders_res.accepted
    depots = fleet_bundle.depots.accepted
    if not orders or not depots or not fleet_bundle.vehicles.accepted:
        err.print("[red]error:[/red] nothing to plan: need at least one valid order, depot and vehicle")
        raise typer.Exit(2)

    out_dir.mkdir(parents=True, exist_ok=True)
    if database_url is None:
        db_file = out_dir / "plan.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_file}{suffix}").unlink(missing_ok=True)
        database_url = f"sqlite:///{db_file.resolve()}"
    now = datetime.now().astimezone()
    with _progress() as bar:
        task = bar.add_task(f"Planning {len(orders)} orders", total=1.0)
        bus = bootstrap(database_url, on_planning_progress=lambda s, f: bar.update(task, completed=min(1.0, f)))
        bus.handle(commands.RegisterFleet(at=now, depots=depots, vehicles=fleet_bundle.vehicles.accepted,
                                          drivers=fleet_bundle.drivers.accepted))
        bus.handle(commands.CreateOrders(at=now, orders=orders))
        result = bus.handle(commands.PlanOrders(at=now + timedelta(seconds=1),
                                                options=PlanningOptions(
            time_limit_s=seconds, seed=seed, workers=workers, max_reloads=max_reloads, overtime_s=60 * overtime_min,
            overtime_per_hour=overtime_per_hour, balance_tolerance=balance)))
        bar.update(task, completed=1.0)
    paths = write_plan(out_dir, result, {o.id: o for o in orders}, {d.id: d for d in depots})
    summary = {
        "plan_id": result.id, "orders": len(orders), "rejected_rows": len(problems),
        "routes": len([r for r in result.routes if r.order_ids]), "assigned": len(result.assigned_order_ids),
        "unassigned": len(result.unassigned), "km": round(result.distance_km, 3),
        "cost": round(result.cost.total, 2), "currency": result.cost.currency,
        "files": [str(p) for p in paths],
    }
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    out.print(f"Planned {summary['assigned']} of {len(orders)} orders on {summary['routes']} routes, "
              f"{summary['km']:.1f} km, cost {summary['cost']:.2f} {summary['currency']}.")
    for u in result.unassigned:
        out.print(f"  [yellow]unassigned[/yellow] {u.order_id}: {u.reason}")
    for p in paths:
        out.print(f"Wrote {p}")


@db_app.command("upgrade")
def db_upgrade(
    database_url: Annotated[
        str | None, typer.Option(help="Default: BATON_DATABASE_URL or the embedded SQLite file.")
    ] = None,
) -> None:
    """Create or migrate the database schema to the latest version (Alembic ``upgrade head``)."""
    from baton.adapters.db import database_url as default_url
    from baton.adapters.db import make_engine, migrate

    url = database_url or default_url()
    migrate(make_engine(url))
    out.print(f"Database at {url} is up to date.")


if __name__ == "__main__":  # pragma: no cover
    app()
