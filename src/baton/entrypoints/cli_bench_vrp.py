"""``baton bench vrptw`` and ``baton bench planning``: Baton against PyVRP, OR-Tools and VROOM.

``vrptw`` picks a named set of the shared data; ``planning`` reads every instance in a folder
(issue 4's interface, with ``--csv``). Registered in :mod:`baton.entrypoints.cli_bench`. A table
on stdout (progress on stderr), or with ``--json`` exactly one JSON object on stdout.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from baton.bench.vrptw import (
    BenchError,
    InstanceResult,
    bks_for,
    bks_for_paths,
    check_solvers,
    directory_paths,
    instance_paths,
    run_benchmark,
    shared_data_dir,
    summary,
)

log = logging.getLogger(__name__)


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _warn_skipped(err: Console, skipped: list[str]) -> None:
    for name in skipped:
        err.print(f"[yellow]skipping {name}: its optional package is not installed "
                  f"(pip install 'baton[bench]')[/yellow]")


def _table(set_name: str, seconds: float, solvers: list[str], results: list[InstanceResult],
           report: dict[str, object]) -> Table:
    table = Table(title=f"VRPTW {set_name}, {seconds:g} s per solver and instance")
    table.add_column("instance")
    table.add_column("n", justify="right")
    table.add_column("BKS", justify="right")
    for s in solvers:
        table.add_column(f"{s} cost", justify="right")
        table.add_column("gap %", justify="right")
        table.add_column("veh", justify="right")
    for r in results:
        cells = [r.name, str(r.clients), _fmt(r.bks)]
        for s in solvers:
            run = r.runs[s]
            flag = "" if run.feasible else " [red]INFEASIBLE[/red]"
            cells += [_fmt(run.cost) + flag, _fmt(run.gap_pct, 2), str(run.routes)]
        table.add_row(*cells)
    per_solver = report["solvers"]
    assert isinstance(per_solver, dict)
    footer = ["mean", "", ""]
    for s in solvers:
        info = per_solver[s]
        footer += [f"{info['feasible_count']}/{len(results)} feasible", _fmt(info["mean_gap_pct"], 3), ""]
    table.add_row(*footer, style="bold")
    return table


def vrptw(
    set_name: Annotated[str, typer.Option("--set", help="solomon, homberger (1000), homberger200 or ortec.")
                        ] = "solomon",
    instances: Annotated[int | None, typer.Option("--instances", help="First K instances (by name).")] = None,
    names: Annotated[str | None, typer.Option("--names", help="Comma-separated instance names.")] = None,
    seconds: Annotated[float, typer.Option(help="Wall-time limit per solver and instance, seconds.")] = 10.0,
    solvers: Annotated[str, typer.Option(help="Comma-separated: baton,pyvrp,ortools,vroom.")
                       ] = "baton,pyvrp,ortools,vroom",
    seed: Annotated[int, typer.Option(help="Seed of the PyVRP-based solvers.")] = 1,
    data: Annotated[Path | None, typer.Option(help="Shared data folder (holding benchmarks/ and ortec/).")
                    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Solve a VRPTW set with each solver on the same integer matrices, fleet and wall time;
    re-check every answer independently; report cost, gap to the BKS (%) and vehicles."""
    err = Console(stderr=True)
    try:
        if seconds <= 0:
            raise BenchError("--seconds must be positive")
        root = shared_data_dir(data)
        paths = instance_paths(root, set_name, instances,
                               [n.strip() for n in names.split(",") if n.strip()] if names else None)
        usable, skipped = check_solvers([s.strip() for s in solvers.split(",") if s.strip()])
    except BenchError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    _warn_skipped(err, skipped)
    if not usable:
        err.print("[red]error:[/red] no usable solver")
        raise typer.Exit(2)
    results = _run(paths, bks_for(root), usable, seconds, seed, None, err)
    report = summary(set_name, seconds, usable, skipped, results)
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        Console().print(_table(set_name, seconds, usable, results, report))


def _run(paths: list[Path], bks: dict[str, float], solvers: list[str], seconds: float, seed: int,
         workers: int | None, err: Console,
         on_result: Callable[[InstanceResult], None] | None = None) -> list[InstanceResult]:
    """Every instance with every solver, a progress bar on ``err``; ``on_result`` is called with each
    instance's result as soon as all its solvers are done."""
    results: list[InstanceResult] = []
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err) as progress:
        task = progress.add_task("instances", total=len(paths) * len(solvers))

        def step(instance: str, solver: str) -> None:
            progress.update(task, description=f"{instance} · {solver}")

        for result in run_benchmark(paths, bks, solvers, seconds, seed, on_step=step,
                                    on_done=lambda: progress.advance(task), workers=workers):
            results.append(result)
            if on_result is not None:
                on_result(result)
        progress.update(task, description="done")
    return results


@contextmanager
def _csv_rows(path: Path | None, solvers: list[str]) -> Iterator[Callable[[InstanceResult], None]]:
    """A writer of one instance's rows (one per solver) to ``path``, header first, flushed at once so
    a long run that stops half-way keeps the instances already done; a no-op when ``path`` is None."""
    if path is None:
        yield lambda result: None
        return
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["instance", "n", "bks", "solver", "cost", "gap_pct", "vehicles", "seconds", "feasible"])
        fh.flush()

        def write(r: InstanceResult) -> None:
            for s in solvers:
                run = r.runs[s]
                writer.writerow([r.name, r.clients, r.bks, s, run.cost,
                                 None if run.gap_pct is None else round(run.gap_pct, 4),
                                 run.routes, round(run.seconds, 2), run.feasible])
            fh.flush()

        yield write


def planning(
    instances: Annotated[Path, typer.Option("--instances", help="Folder of Solomon .txt / VRPLIB .vrp files.")],
    seconds: Annotated[float, typer.Option(help="Wall-time limit per solver and instance, seconds.")] = 10.0,
    peers: Annotated[str, typer.Option(help="Comma-separated peers: ortools,vroom (empty: none).")
                     ] = "ortools,vroom",
    workers: Annotated[int | None, typer.Option(help="Cores for Baton (default: every core).")] = None,
    csv_path: Annotated[Path | None, typer.Option(
        "--csv", help="Write one row per instance and solver, as soon as the instance is done.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of Baton's search.")] = 1,
    data: Annotated[Path | None, typer.Option(help="Shared data folder (for benchmarks/bks.csv).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Solve every instance in a folder with Baton and, in the same run, on the same integer
    matrices, fleet and wall time, with the peers; BKS from DIR/bks.csv, else the shared
    benchmarks/bks.csv, else a .sol beside the instance. JSON: {solver: {"mean_gap_pct",
    "feasible", "instances": [...]}}."""
    err = Console(stderr=True)
    try:
        if seconds <= 0:
            raise BenchError("--seconds must be positive")
        if workers is not None and workers < 1:
            raise BenchError("--workers must be at least 1")
        paths = directory_paths(instances)
        usable, skipped = check_solvers(["baton"] + [p.strip() for p in peers.split(",") if p.strip()])
    except BenchError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    _warn_skipped(err, skipped)
    try:
        root: Path | None = shared_data_dir(data)
    except BenchError:
        root = None
    with _csv_rows(csv_path, usable) as write_rows:
        results = _run(paths, bks_for_paths(paths, root), usable, seconds, seed, workers, err, write_rows)
    report = summary(str(instances), seconds, usable, skipped, results, workers)
    if as_json:
        out = {s: {**report["solvers"][s], "instances": [
            {"name": i["name"], "n": i["clients"], "bks": i["bks"], **i["results"][s]} for i in report["instances"]
        ]} for s in usable}
        sys.stdout.write(json.dumps(out) + "\n")
    else:
        Console().print(_table(instances.name, seconds, usable, results, report))


def scale(
    stops: Annotated[str, typer.Option(help="Comma-separated day sizes (orders).")] = "1000,5000,10000",
    seconds: Annotated[str, typer.Option(help="Search budget per size, seconds: one value, or one per size.")
                       ] = "60",
    part_size: Annotated[int, typer.Option(help="Largest part planned as one problem (orders).")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the enrichment and the search.")] = 7,
    data: Annotated[Path | None, typer.Option(help="Shared data folder (holding real/loggi).")] = None,
    workers: Annotated[int | None, typer.Option(help="Search processes per part (default: every core).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Plan city-sized days (unions of real Loggi Brasília days, enriched as in the demo) with the
    decomposing planner; report wall time, cost, routes, unassigned orders and peak RSS."""
    from baton.bench.scale import run_size

    err = Console(stderr=True)
    try:
        sizes = [int(x) for x in stops.split(",") if x.strip()]
        budgets = [float(x) for x in seconds.split(",") if x.strip()]
        if len(budgets) == 1:
            budgets *= len(sizes)
        if not sizes or len(budgets) != len(sizes) or min(sizes) < 1 or min(budgets) <= 0 or part_size < 1 \
                or (workers is not None and workers < 1):
            raise BenchError("--stops, --seconds and --workers must be positive, --seconds one value or one per size")
        root = shared_data_dir(data)
    except ValueError as exc:  # BenchError is a ValueError, and so is a bad number
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    runs = []
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err) as progress:
        task = progress.add_task("sizes", total=len(sizes))
        for n, budget in zip(sizes, budgets, strict=True):
            progress.update(task, description=f"{n} stops, {budget:g} s")
            try:
                runs.append(run_size(root, n, budget, part_size, seed, workers))
            except (RuntimeError, ValueError) as exc:
                err.print(f"[red]error:[/red] {exc}")
                raise typer.Exit(1) from None
            progress.advance(task)
    rows = [run.__dict__ for run in runs]
    if as_json:
        sys.stdout.write(json.dumps({"part_size": part_size, "load_average": list(os.getloadavg()),
                                     "runs": rows}) + "\n")
        return
    table = Table(title=f"Scale: Loggi Brasília days, parts of <= {part_size} orders")
    for col in ("stops", "budget s", "workers", "wall s", "parts", "routes", "unassigned", "km", "cost",
                "peak RSS MiB"):
        table.add_column(col, justify="right")
    for r in runs:
        table.add_row(str(r.stops), f"{r.budget_s:g}", str(r.workers), f"{r.seconds:.1f}", str(r.parts), str(r.routes),
                      str(r.unassigned), f"{r.km:,.1f}", f"{r.cost:,.2f}", f"{r.peak_rss_mib:,.0f}")
    Console().print(table)


def convergence(
    instances: Annotated[Path, typer.Option("--instances", help="Folder of Solomon .txt / VRPLIB .vrp files.")],
    at: Annotated[str, typer.Option("--at", help="Comma-separated checkpoints, seconds of search.")
                  ] = "10,30,60,120,240",
    jobs: Annotated[int, typer.Option(help="Instances profiled side by side (one core each).")] = 1,
    seed: Annotated[int, typer.Option(help="PyVRP's seed.")] = 1,
    data: Annotated[Path | None, typer.Option(help="Shared data folder (for benchmarks/bks.csv).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Profile one plain PyVRP run (one core) per instance: the gap to the BKS (%) of its best
    feasible cost at each checkpoint. JSON: {"checkpoints_s", "mean_gap_pct": [...], "instances": [...]}."""
    from baton.bench.convergence import mean_gaps, profile

    err = Console(stderr=True)
    try:
        checkpoints = tuple(sorted(float(x) for x in at.split(",") if x.strip()))
        if not checkpoints or checkpoints[0] <= 0 or jobs < 1:
            raise BenchError("--at must list positive seconds and --jobs be at least 1")
        paths = directory_paths(instances)
    except ValueError as exc:  # BenchError is a ValueError, and so is a bad number
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    try:
        root: Path | None = shared_data_dir(data)
    except BenchError:
        root = None
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err) as progress:
        task = progress.add_task(f"{len(paths)} instances x {checkpoints[-1]:g} s", total=len(paths))
        curves = list(profile(paths, bks_for_paths(paths, root), checkpoints, seed, jobs,
                              on_done=lambda _c: progress.advance(task)))
    means = mean_gaps(curves)
    if as_json:
        sys.stdout.write(json.dumps({
            "checkpoints_s": list(checkpoints), "seed": seed, "jobs": jobs, "load_average": list(os.getloadavg()),
            "mean_gap_pct": means,
            "instances": [{"name": c.name, "n": c.clients, "bks": c.bks, "costs": list(c.costs),
                           "gap_pct": list(c.gaps_pct), "iterations": c.iterations,
                           "final_feasible": c.final_feasible} for c in curves]}) + "\n")
        return
    table = Table(title=f"Convergence of one PyVRP run (one core, seed {seed}): gap to BKS %")
    for col in ("instance", "n", "BKS", *(f"{t:g} s" for t in checkpoints), "iterations"):
        table.add_column(col, justify="right")
    for c in curves:
        table.add_row(c.name, str(c.clients), _fmt(c.bks), *(_fmt(g, 2) for g in c.gaps_pct), str(c.iterations))
    table.add_row("mean", "", "", *(_fmt(g, 3) for g in means), "", style="bold")
    Console().print(table)


__all__ = ["convergence", "planning", "scale", "vrptw"]
