"""``baton bench dynamic``: the EURO Meets NeurIPS 2022 dynamic VRPTW (:mod:`baton.bench.dynamic`).

Registered in :mod:`baton.entrypoints.cli_bench`. A table on stdout (progress on stderr), or with
``--json`` exactly one JSON object on stdout. Missing shared data: a clear error and exit code 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from baton.bench.dynamic import POLICIES, DynamicBenchError, epochs_of, ortec_dir, report, run_dynamic
from baton.live.waves import WaveOptions


def _fmt(value: float | None) -> str:
    return "failed" if value is None else f"{value:,.0f}"


def _table(out: dict[str, Any], policies: tuple[str, ...]) -> Table:
    table = Table(title=f"EURO-NeurIPS 2022 dynamic VRPTW, {out['epoch_seconds']:g} s per epoch "
                        "(total driving time, s; lower is better)")
    table.add_column("instance")
    table.add_column("seed", justify="right")
    table.add_column("requests", justify="right")
    for p in policies:
        table.add_column(p, justify="right")
    if "baton" in policies and "greedy" in policies:
        table.add_column("baton / greedy", justify="right")
    for row in out["instances"]:
        cells = [row["instance"], str(row["seed"]), str(row["requests"]), *[_fmt(row.get(p)) for p in policies]]
        if "baton" in policies and "greedy" in policies:
            b, g = row.get("baton"), row.get("greedy")
            cells.append(f"{b / g:.3f}" if b and g else "-")
        table.add_row(*cells)
    footer = ["mean", "", "", *[_fmt(out[p]["mean_cost"]) for p in policies]]
    if "baton" in policies and "greedy" in policies:
        ratio = out["ratio_baton_greedy"]
        footer.append("-" if ratio is None else f"{ratio:.3f} (target ≤ {out['target_ratio']})")
    table.add_row(*footer, style="bold")
    return table


def dynamic(
    instances: Annotated[int, typer.Option("--instances", help="First K dynamic runs of final/configs.json.")] = 3,
    seed: Annotated[int | None, typer.Option(help="Environment seed for every instance "
                                                  "(default: each run's instance_seed).")] = None,
    epoch_seconds: Annotated[float, typer.Option("--epoch-seconds", help="Wall time per epoch, s "
                                                                         "(the competition used 120).")] = 15.0,
    policies: Annotated[str, typer.Option(help="Comma-separated: greedy,lazy,baton (and baton_scenarios).")
                        ] = ",".join(POLICIES),
    data: Annotated[Path | None, typer.Option(help="Shared data folder (holding ortec/).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Greedy, lazy and Baton's wave policy through the organisers' dynamic environment, same seeds and
    epoch time; total driving time per instance and the mean."""
    err = Console(stderr=True)
    chosen = tuple(p.strip() for p in policies.split(",") if p.strip())
    try:
        ortec = ortec_dir(data)
        total = epochs_of(ortec, instances, seed) * len(chosen)
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=err) as progress:
            task = progress.add_task("epochs", total=total)

            def on_epoch(name: str, policy: str, epoch: int, epochs: int) -> None:
                progress.update(task, advance=1, description=f"{name[17:]} · {policy} · epoch {epoch}/{epochs}")

            results = run_dynamic(ortec, instances, epoch_seconds, seed, chosen, WaveOptions(), on_epoch)
    except DynamicBenchError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    out = report(results, epoch_seconds, chosen)
    if as_json:
        sys.stdout.write(json.dumps(out) + "\n")
    else:
        Console().print(_table(out, chosen))
