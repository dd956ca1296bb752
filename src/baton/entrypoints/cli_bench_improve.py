"""``baton bench improve``: the live plan's background improvement vs a cold re-solve."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

out = Console()
err = Console(stderr=True)


def bench_improve(
    stops: Annotated[int, typer.Option(help="Orders in the live plan.")] = 200,
    seconds: Annotated[float, typer.Option(help="Warm-started improvement time, seconds.")] = 10.0,
    cold_seconds: Annotated[float, typer.Option(help="Cold re-solve time, seconds.")] = 60.0,
    seed: Annotated[int, typer.Option(help="Seed of the day and the solver.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Background improvement (warm start) vs a cold re-solve of the same live state."""
    from baton.live.bench_improve import improve_bench

    if stops < 1 or seconds <= 0 or cold_seconds <= 0:
        err.print("[red]--stops must be >= 1, --seconds and --cold-seconds > 0")
        raise typer.Exit(2)
    with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), TimeElapsedColumn(), console=err) as bar:
        task = bar.add_task("setting up", total=None)
        result = improve_bench(stops, seconds, cold_seconds, seed,
                               on_progress=lambda m: bar.update(task, description=m))
    if as_json:
        print(json.dumps(result))
        return
    table = Table(title=f"baton bench improve: {stops} stops, {result['vehicles']} vans, "
                        f"current cost {result['current_cost']:,.2f}")
    for col in ("run", "seconds", "model cost", "published cost", "gain %", "moved", "re-timed"):
        table.add_column(col, justify="right")
    for name in ("warm", "cold"):
        r = result[name]
        table.add_row(name, f"{r['seconds']:.1f}", f"{r['model_cost']:,.2f}", f"{r['candidate_cost']:,.2f}",
                      f"{r['gain_pct']:.2f}", str(r["moved"]), str(r["retimed"]))
    out.print(table)
    out.print(f"warm vs cold: {result['warm_vs_cold_pct']:+.2f} % (target <= 1 %)")
