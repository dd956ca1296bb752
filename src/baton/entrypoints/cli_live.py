"""``baton simulate`` and the live benchmarks ``baton bench replan`` / ``baton bench outcome``.

Progress bars and logs go to stderr; with ``--json`` exactly one JSON object goes to stdout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, Group
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from baton.simulate.scenario import Scenario

out = Console()
err = Console(stderr=True)

ITERATIONS_HELP = ("Also stop the morning plan after this many solver iterations: the run is then the same "
                   "whatever the machine's load (a time limit alone is not). About 60 iterations a second "
                   "on the bundled day on one idle core.")
KPI_LABELS = {
    "orders": "Orders (not cancelled)", "delivered": "Delivered", "on_time_pct": "On time (%)",
    "late_minutes": "Late minutes", "km": "km driven", "cost": "Cost (BRL)",
    "cost_per_delivery": "Cost per delivery (BRL)", "failed_attempts": "Failed attempts (not home)",
    "told_before_window_pct": "Delayed customers told before window (%)", "delayed": "Delayed customers",
    "false_alarms": "Told of a delay, delivered on time",
    "undelivered": "Not delivered today", "cancelled": "Cancelled", "new_orders": "New orders during the day",
    "vans_used": "Vans used",
    "eta_mae_departure_min": "ETA error, published at van departure (MAE, min)",
    "eta_mae_60min_min": "ETA error, published 60 min before arrival (MAE, min)",
    "eta_stops": "Stops with an ETA at departure",
    "exceptions_opened": "Exceptions opened", "exceptions_auto_resolved": "Exceptions auto-resolved",
    "exceptions_for_dispatcher": "Dispatcher tasks opened", "late_risk_exceptions": "Late-risk exceptions",
    "wismo_delays_announced_pct": "Late deliveries announced before window (%)",
    "messages_per_order": "Messages per order", "messages_sent": "Messages sent",
    "retendered": "Orders re-tendered (carrier down)", "unassigned_orders": "Orders no resource took",
    "outage_detected_min": "Outage detected after (min)",
}


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
                    TimeElapsedColumn(), console=err)


def _scenario(path: Path | None) -> Scenario:
    from baton.domain.errors import ValidationError
    from baton.simulate.scenario import load_scenario

    try:
        return load_scenario(path)
    except (ValidationError, OSError) as exc:
        err.print(f"[red]scenario {path}: {exc}")
        raise typer.Exit(2) from exc


def simulate(
    day: Annotated[Path | None, typer.Option(help="A loggibud-format day (JSON); default: the bundled day.")] = None,
    scenario: Annotated[Path | None, typer.Option(
        help="Scenario (YAML file, or a bundled name: standard, hybrid); default: standard.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of disruptions, noise and solver.")] = 1,
    policy: Annotated[str, typer.Option(help="static | manual | baton")] = "baton",
    seconds: Annotated[float, typer.Option(help="Planner time limit for the morning plan, seconds.")] = 45.0,
    iterations: Annotated[int | None, typer.Option(help=ITERATIONS_HELP)] = None,
    limit: Annotated[int | None, typer.Option(help="Use only the first N orders of the day.")] = None,
    standby_vans: Annotated[int, typer.Option(
        min=0, help="baton: vans back at the depot with nothing to do that wait there for new work.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the KPIs as one JSON object.")] = False,
) -> None:
    """Simulate a delivery day with disruptions, driving Baton through its service layer; print KPIs."""
    from baton.simulate.engine import POLICIES, SimConfig, simulate_day

    if policy not in POLICIES:
        err.print(f"[red]--policy must be one of {', '.join(POLICIES)}, got {policy!r}")
        raise typer.Exit(2)
    cfg = SimConfig(policy=policy, seed=seed, time_limit_s=seconds, max_iterations=iterations, limit=limit,
                    day_path=day, scenario=_scenario(scenario), standby_vans=standby_vans)
    with _progress() as bar:
        task = bar.add_task(f"Simulating ({policy}, seed {seed})", total=1.0)
        result = simulate_day(cfg, on_step=lambda f: bar.update(task, completed=f))
        bar.update(task, completed=1.0)
    if as_json:
        print(json.dumps({"policy": policy, "seed": seed, **result.kpis}))
        return
    out.print(kpi_tables(result.kpis, f"Simulated day: policy {policy}, seed {seed}, scenario {cfg.scenario.name}"))


SECTIONS: dict[str, tuple[str, ...]] = {
    "Orders": ("orders", "delivered", "on_time_pct", "late_minutes", "undelivered", "cancelled", "new_orders",
               "failed_attempts"),
    "Fleet and cost": ("vans_used", "km", "cost", "cost_per_delivery"),
    "Execution (ETAs, exceptions)": ("eta_mae_departure_min", "eta_mae_60min_min", "eta_stops",
                                     "exceptions_opened", "exceptions_auto_resolved",
                                     "exceptions_for_dispatcher", "late_risk_exceptions"),
    "Customers (WISMO)": ("delayed", "told_before_window_pct", "false_alarms", "wismo_delays_announced_pct",
                          "messages_per_order", "messages_sent"),
    "Dispatch": ("unassigned_orders", "retendered", "outage_detected_min"),
}
FLEET_ROWS = (("orders", "Orders"), ("on_time_pct", "On time (%)"), ("cost", "Cost (BRL)"),
              ("cost_per_delivery", "Cost per delivery (BRL)"))


def _fmt(value: object) -> str:
    return f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"


def kpi_tables(kpis: dict[str, float], title: str) -> Group:
    """The simulator's KPIs as rich tables: one per area, and cost / on-time % by fleet type."""
    main = Table(title=title)
    main.add_column("KPI")
    main.add_column("Value", justify="right")
    shown = {f"{f}_{k}" for f in ("captive", "3pl", "gig") for k, _ in FLEET_ROWS}
    for section, keys in SECTIONS.items():
        present = [k for k in keys if k in kpis]
        if not present:
            continue
        main.add_section()
        main.add_row(f"[bold]{section}", "")
        for key in present:
            main.add_row("  " + KPI_LABELS.get(key, key), _fmt(kpis[key]))
            shown.add(key)
    rest = [k for k in kpis if k not in shown]
    if rest:
        main.add_section()
        for key in rest:
            main.add_row(KPI_LABELS.get(key, key), _fmt(kpis[key]))
    fleet = Table(title="By fleet type")
    fleet.add_column("")
    types = [f for f in ("captive", "3pl", "gig") if kpis.get(f"{f}_orders")]
    for f in types:
        fleet.add_column(f, justify="right")
    for key, label in FLEET_ROWS:
        fleet.add_row(label, *(_fmt(kpis[f"{f}_{key}"]) for f in types))
    return Group(main, fleet)


def replan(
    stops: Annotated[int, typer.Option(help="Active stops in the live plan.")] = 1000,
    events: Annotated[int, typer.Option(help="Events to time.")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of the event mix.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Fast-path latency: event → repaired feasible plan with ETAs written (p50/p95/p99 ms)."""
    from baton.simulate.bench import replan_bench

    with _progress() as bar:
        task = bar.add_task(f"Replanning events on {stops} stops", total=1.0)
        result = replan_bench(stops, events, seed, on_progress=lambda f: bar.update(task, completed=f))
    if as_json:
        print(json.dumps(result))
        return
    table = Table(title=f"baton bench replan: {stops} stops, {result['vehicles']} vans, {events} events")
    for col in ("event", "median ms"):
        table.add_column(col)
    for k, v in result["by_event"].items():
        table.add_row(k, f"{v:.1f}")
    table.add_row("[bold]all: p50 / p95 / p99", f"{result['p50_ms']} / {result['p95_ms']} / {result['p99_ms']}")
    out.print(table)


def outcome(
    seeds: Annotated[int, typer.Option(help="Seeds per policy (1..N).")] = 3,
    scenario: Annotated[Path | None, typer.Option(help="Scenario (YAML); default: the standard one.")] = None,
    seconds: Annotated[float, typer.Option(help="Planner time limit for the morning plan, seconds.")] = 45.0,
    iterations: Annotated[int | None, typer.Option(help=ITERATIONS_HELP)] = None,
    limit: Annotated[int | None, typer.Option(help="Use only the first N orders of the day.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """static vs manual vs baton on the bundled day with the scenario, same seeds (means + spread)."""
    from baton.simulate.bench import outcome_bench

    with _progress() as bar:
        task = bar.add_task("Simulating", total=3 * seeds)
        done: set[tuple[str, int]] = set()

        def step(policy: str, seed: int, f: float) -> None:
            if f >= 1.0:
                done.add((policy, seed))
            bar.update(task, completed=len(done) + (0 if f >= 1.0 else f), description=f"{policy} seed {seed}")

        result = outcome_bench(seeds, _scenario(scenario), seconds, limit, iterations, on_progress=step)
    if as_json:
        print(json.dumps({p: {k: v for k, v in r.items() if k != "runs"} | {"runs": r["runs"]}
                          for p, r in result.items()}))
        return
    keys = ("on_time_pct", "late_minutes", "km", "cost_per_delivery", "failed_attempts", "told_before_window_pct")
    table = Table(title=f"baton bench outcome: {seeds} seed(s), mean (min-max)")
    table.add_column("KPI")
    for policy in result:
        table.add_column(policy, justify="right")
    for key in keys:
        table.add_row(KPI_LABELS.get(key, key), *(
            f"{r[key]:,.1f} ({r['spread'][key][0]:,.1f}-{r['spread'][key][1]:,.1f})" for r in result.values()))
    out.print(table)
