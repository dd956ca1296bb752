"""The VRPTW benchmark: every chosen solver on the same integer instances and wall time,
each answer re-checked independently (:mod:`baton.bench.verify`) and compared with the BKS.

Sets (folders of the shared data, see ``shared/data/benchmarks/README.md``):

=============  =====================================  ==========================
set            instances                              BKS convention
=============  =====================================  ==========================
``solomon``    ``benchmarks/solomon/*.txt`` (44)       distance, DIMACS x10 trunc
``homberger``  ``benchmarks/homberger/1000/*.txt``     distance, DIMACS x10 trunc
``homberger200`` ``benchmarks/homberger/200/*.txt``    distance, DIMACS x10 trunc
``ortec``      ``ortec/final/*.txt`` (100)             driving time, explicit
=============  =====================================  ==========================

ORTEC's instances are CC BY-NC 4.0: read in place for benchmarking only, never copied.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baton.bench.instance import IntInstance, integer_instance
from baton.bench.solvers import SOLVERS, available, cores
from baton.bench.verify import gap_pct, verify
from baton.intake.benchmarks import load_bks, load_instance

SETS: dict[str, tuple[str, str]] = {
    "solomon": ("benchmarks/solomon", "*.txt"),
    "homberger": ("benchmarks/homberger/1000", "*.txt"),
    "homberger200": ("benchmarks/homberger/200", "*.txt"),
    "ortec": ("ortec/final", "*.txt"),
}
"""Set name -> (folder under the shared data, file pattern)."""


class BenchError(ValueError):
    """Bad benchmark request: unknown set or solver, missing data, unknown instance name."""


def shared_data_dir(explicit: Path | None = None) -> Path:
    """The shared data folder: ``explicit``, else ``$BATON_SHARED_DATA``, else ``../shared/data``
    beside the source checkout, else ``./shared/data`` or ``../shared/data`` from the working
    directory.

    Raises:
        BenchError: when none exists.
    """
    candidates = [explicit] if explicit else []
    if os.environ.get("BATON_SHARED_DATA"):
        candidates.append(Path(os.environ["BATON_SHARED_DATA"]))
    candidates += [Path(__file__).resolve().parents[4] / "shared" / "data",
                   Path.cwd() / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    for path in candidates:
        if path is not None and (path / "benchmarks").is_dir():
            return path
    raise BenchError("shared data not found: pass --data DIR (the folder holding benchmarks/ and ortec/)")


def instance_paths(data: Path, set_name: str, limit: int | None = None,
                   names: list[str] | None = None) -> list[Path]:
    """The set's instance files, sorted by name; ``names`` picks by instance name (case-insensitive),
    else the first ``limit`` (``None`` = all).

    Raises:
        BenchError: unknown set, missing folder or an unknown name.
    """
    if set_name not in SETS:
        raise BenchError(f"unknown set {set_name!r}; choose one of {', '.join(SETS)}")
    folder, pattern = SETS[set_name]
    directory = data / folder
    if not directory.is_dir():
        raise BenchError(f"set {set_name}: folder {directory} not found")
    paths = sorted(directory.glob(pattern), key=lambda p: p.stem.upper())
    if names:
        by_name = {p.stem.upper(): p for p in paths}
        unknown = [n for n in names if n.upper() not in by_name]
        if unknown:
            raise BenchError(f"set {set_name}: unknown instance(s) {', '.join(unknown)}")
        return [by_name[n.upper()] for n in names]
    return paths[:limit] if limit is not None else paths


@dataclass(frozen=True)
class SolverRun:
    """One solver on one instance: ``cost`` in the BKS unit (``None`` without an answer),
    ``gap_pct`` to the BKS, the independent ``feasible`` verdict with its ``problems``,
    ``routes`` used and wall ``seconds``."""

    cost: float | None
    gap_pct: float | None
    feasible: bool
    problems: tuple[str, ...]
    routes: int
    seconds: float


@dataclass
class InstanceResult:
    name: str
    clients: int
    bks: float | None
    runs: dict[str, SolverRun] = field(default_factory=dict)


def run_solver(name: str, inst: IntInstance, seconds: float, seed: int, bks: float | None,
               workers: int | None = None) -> SolverRun:
    """Solve ``inst`` with solver ``name`` and check the answer independently."""
    started = time.perf_counter()
    routes = SOLVERS[name][0](inst, seconds, seed, workers)
    wall = time.perf_counter() - started
    if not routes:
        return SolverRun(None, None, False, ("no solution returned",), 0, wall)
    verdict = verify(inst, routes)
    cost = verdict.cost / inst.scale
    return SolverRun(cost, gap_pct(cost, bks), verdict.feasible, verdict.problems, verdict.routes, wall)


def check_solvers(names: list[str]) -> tuple[list[str], list[str]]:
    """``(usable, skipped)``: known solvers whose optional module is installed, and the others.

    Raises:
        BenchError: when a name is not a known solver.
    """
    unknown = [n for n in names if n not in SOLVERS]
    if unknown:
        raise BenchError(f"unknown solver(s) {', '.join(unknown)}; choose from {', '.join(SOLVERS)}")
    return [n for n in names if available(n)], [n for n in names if not available(n)]


def run_benchmark(paths: list[Path], bks_table: dict[str, float], solvers: list[str], seconds: float,
                  seed: int = 1, on_step: Callable[[str, str], None] | None = None,
                  on_done: Callable[[], None] | None = None,
                  workers: int | None = None) -> Iterator[InstanceResult]:
    """Yield each instance's result: every solver in ``solvers`` for ``seconds`` wall seconds on
    the same integer instance. ``on_step(instance, solver)`` is called before each solve and
    ``on_done()`` after it. ``bks_table`` is keyed by instance name (see :func:`bks_for_paths`)."""
    for path in paths:
        inst = integer_instance(load_instance(path))
        result = InstanceResult(inst.name, inst.size - 1, bks_table.get(inst.name))
        for solver in solvers:
            if on_step:
                on_step(inst.name, solver)
            result.runs[solver] = run_solver(solver, inst, seconds, seed, result.bks, workers)
            if on_done:
                on_done()
        yield result


def summary(set_name: str, seconds: float, solvers: list[str], skipped: list[str],
            results: list[InstanceResult], workers: int | None = None) -> dict[str, Any]:
    """The JSON object of a run: ``{"set", "seconds", "solvers": {name: {"mean_gap_pct",
    "feasible", "feasible_count", "cores"}}, "skipped", "instances": [...]}``. ``mean_gap_pct``
    averages over instances with a feasible answer and a BKS; ``feasible`` is True when every
    instance got a feasible answer."""
    per_solver: dict[str, Any] = {}
    for s in solvers:
        runs = [r.runs[s] for r in results if s in r.runs]
        gaps = [r.gap_pct for r in runs if r.feasible and r.gap_pct is not None]
        per_solver[s] = {
            "mean_gap_pct": round(sum(gaps) / len(gaps), 4) if gaps else None,
            "feasible": bool(runs) and all(r.feasible for r in runs),
            "feasible_count": sum(r.feasible for r in runs),
            "cores": cores(s, workers),
        }
    instances = [{
        "name": r.name, "clients": r.clients, "bks": r.bks,
        "results": {s: {"cost": run.cost, "gap_pct": None if run.gap_pct is None else round(run.gap_pct, 4),
                        "feasible": run.feasible, "routes": run.routes, "seconds": round(run.seconds, 2),
                        "problems": list(run.problems[:3])} for s, run in r.runs.items()},
    } for r in results]
    return {"set": set_name, "seconds": seconds, "solvers": per_solver, "skipped": skipped,
            "load_average": list(os.getloadavg()), "instances": instances}


def bks_for(data: Path) -> dict[str, float]:
    """The shared ``benchmarks/bks.csv`` table (empty when absent)."""
    path = data / "benchmarks" / "bks.csv"
    return load_bks(path) if path.exists() else {}


def directory_paths(directory: Path) -> list[Path]:
    """Every Solomon (``.txt``) and VRPLIB (``.vrp``) instance in ``directory``, sorted by name.

    Raises:
        BenchError: when the folder does not exist or holds no instance.
    """
    if not directory.is_dir():
        raise BenchError(f"--instances: folder {directory} not found")
    paths = sorted((p for p in directory.iterdir() if p.suffix.lower() in (".txt", ".vrp")),
                   key=lambda p: p.stem.upper())
    if not paths:
        raise BenchError(f"--instances: no .txt or .vrp instance in {directory}")
    return paths


def _sol_cost(path: Path) -> float | None:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip().lower().startswith("cost"):
            try:
                return float(line.split()[-1])
            except ValueError:
                return None
    return None


def bks_for_paths(paths: list[Path], data: Path | None) -> dict[str, float]:
    """BKS per instance name for instances in a folder: ``DIR/bks.csv`` if present, else the
    shared ``benchmarks/bks.csv``, else the ``Cost`` line of a ``.sol`` beside the instance.
    Every value is in the instance's BKS convention (``shared/data/benchmarks/README.md``)."""
    table: dict[str, float] = {}
    local = {p.parent / "bks.csv" for p in paths}
    for csv_path in local:
        if csv_path.exists():
            table.update(load_bks(csv_path))
    shared = bks_for(data) if data is not None else {}
    for path in paths:
        name = path.stem
        if name in table:
            continue
        if name in shared:
            table[name] = shared[name]
        elif (sol := path.with_suffix(".sol")).exists() and (cost := _sol_cost(sol)) is not None:
            table[name] = cost
    return table


__all__ = ["SETS", "BenchError", "InstanceResult", "SolverRun", "bks_for", "bks_for_paths", "check_solvers",
           "directory_paths", "instance_paths", "run_benchmark", "shared_data_dir", "summary"]
