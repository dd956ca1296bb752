"""The VRPTW benchmark: the integer instances, the independent checker, the peers and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from baton.bench.instance import IntInstance, integer_instance
from baton.bench.solvers import available, solve_ortools, solve_vroom
from baton.bench.verify import verify
from baton.bench.vrptw import BenchError, InstanceResult, SolverRun, instance_paths
from baton.entrypoints.cli import app
from baton.entrypoints.cli_bench_vrp import _csv_rows
from baton.intake.benchmarks import load_bks, load_instance

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
BENCH = SHARED / "benchmarks"
needs_data = pytest.mark.skipif(not BENCH.is_dir(), reason="../shared/data not present")


def tiny() -> IntInstance:
    """Depot 0 and three clients on a line 10 apart; windows on client 3 only."""
    xs = np.array([0.0, 10.0, 20.0, 30.0])
    dist = np.abs(xs[:, None] - xs[None, :]).astype(np.int64)
    return IntInstance(
        name="tiny", distance=dist, duration=dist,
        early=np.array([0, 0, 0, 50]), late=np.array([1000, 1000, 1000, 60]),
        service=np.array([0, 5, 5, 5]), demand=np.array([0, 3, 3, 3]), capacity=6, num_vehicles=2,
        scale=1, coords=np.stack([xs, np.zeros(4)], axis=1),
    )


def test_verify_accepts_a_feasible_answer_and_recomputes_its_cost() -> None:
    verdict = verify(tiny(), [[1, 2], [3]])
    assert verdict.feasible, verdict.problems
    assert verdict.cost == 40 + 60
    assert verdict.routes == 2


@pytest.mark.parametrize(("routes", "problem"), [
    ([[1, 2, 3]], "load 9 > capacity 6"),
    ([[1], [2], [3]], "3 routes > fleet of 2"),
    ([[1, 2]], "1 clients not served"),
    ([[1, 2], [3, 1]], "served more than once"),
    ([[1, 2], [9]], "node outside"),
])
def test_verify_names_each_violation(routes: list[list[int]], problem: str) -> None:
    verdict = verify(tiny(), routes)
    assert not verdict.feasible
    assert any(problem in p for p in verdict.problems), verdict.problems


def test_verify_catches_a_missed_window_and_a_late_return() -> None:
    inst = tiny()
    assert verify(inst, [[2, 1], [3]]).feasible  # client 3 alone: reached at 30, served 50..55
    bad = IntInstance(**{**inst.__dict__, "late": np.array([1000, 1000, 1000, 25])})
    verdict = verify(bad, [[1, 2], [3]])
    assert any("client 3 reached at 30 > window end 25" in p for p in verdict.problems)
    closing = IntInstance(**{**inst.__dict__, "late": np.array([50, 1000, 1000, 60])})
    assert any("back at the depot" in p for p in verify(closing, [[1, 2], [3]]).problems)


@needs_data
def test_dimacs_instance_scales_distances_and_times_by_ten_truncated() -> None:
    raw = load_instance(BENCH / "solomon" / "C101.txt")
    inst = integer_instance(raw)
    assert inst.scale == 10 and inst.size == 101 and inst.num_vehicles == 25
    euclid = float(np.hypot(*(raw.coords[0] - raw.coords[1])))
    assert inst.distance[0, 1] == int(10 * euclid)
    assert inst.service[1] == int(10 * raw.service_times[1])  # type: ignore[index]
    assert inst.late[0] == int(10 * raw.time_windows[0, 1])  # type: ignore[index]


@needs_data
def test_the_published_best_known_routes_pass_the_checker_at_the_bks_cost() -> None:
    """The checker re-derives CVRPLIB's cost for GH C1_10_1 from its route file, and rejects
    the same routes once a client is removed: it neither trusts nor invents a cost."""
    inst = integer_instance(load_instance(BENCH / "homberger" / "1000" / "C1_10_1.txt"))
    sol = (BENCH / "homberger" / "1000-vrplib" / "C1_10_1.sol").read_text().splitlines()
    routes = [[int(c) for c in line.split(":")[1].split()] for line in sol if line.startswith("Route")]
    verdict = verify(inst, routes)
    assert verdict.feasible, verdict.problems
    assert verdict.cost / inst.scale == pytest.approx(load_bks(BENCH / "bks.csv")["C1_10_1"])
    routes[0] = routes[0][1:]
    assert not verify(inst, routes).feasible


@needs_data
def test_instance_selection_by_count_and_name() -> None:
    assert len(instance_paths(SHARED, "solomon")) == 44
    assert [p.stem for p in instance_paths(SHARED, "solomon", 2)] == ["C101", "C102"]
    assert [p.stem for p in instance_paths(SHARED, "solomon", names=["rc108"])] == ["RC108"]
    with pytest.raises(BenchError, match="unknown instance"):
        instance_paths(SHARED, "solomon", names=["X999"])
    with pytest.raises(BenchError, match="unknown set"):
        instance_paths(SHARED, "nope")


@needs_data
@pytest.mark.parametrize("peer", ["ortools", "vroom"])
def test_peers_return_feasible_answers_on_the_same_matrices(peer: str) -> None:
    if not available(peer):
        pytest.skip(f"{peer} not installed (optional 'bench' extra)")
    inst = integer_instance(load_instance(BENCH / "solomon" / "C101.txt"))
    routes = (solve_ortools if peer == "ortools" else solve_vroom)(inst, 1.0, 1)
    verdict = verify(inst, routes)
    assert verdict.feasible, verdict.problems
    assert verdict.cost / inst.scale >= 827.3 - 1e-9  # C101's proven optimum


@needs_data
def test_cli_prints_one_json_object_with_gaps_and_feasibility() -> None:
    result = CliRunner().invoke(app, ["bench", "vrptw", "--set", "solomon", "--names", "C101,R101",
                                      "--seconds", "1", "--solvers", "baton,pyvrp", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["set"] == "solomon" and report["seconds"] == 1.0
    assert set(report["solvers"]) == {"baton", "pyvrp"}
    assert [i["name"] for i in report["instances"]] == ["C101", "R101"]
    for name, info in report["solvers"].items():
        assert info["feasible"] is True, name
        assert 0 <= info["mean_gap_pct"] < 5
    c101 = report["instances"][0]
    assert c101["bks"] == 827.3
    assert c101["results"]["baton"]["cost"] >= 827.3 - 1e-9


@needs_data
def test_cli_names_a_bad_solver_and_exits_2() -> None:
    result = CliRunner().invoke(app, ["bench", "vrptw", "--names", "C101", "--solvers", "baton,gurobi"])
    assert result.exit_code == 2
    assert "gurobi" in result.output


TINY = """T1

VEHICLE
NUMBER     CAPACITY
   3          10

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0      0          0          0          0       1000          0
    1     10          0          5          0       1000         10
    2     20          0          5          0       1000         10
    3      0         10          5          0       1000         10
    4      0         20          5          0       1000         10
"""


@pytest.mark.parametrize("bks_source", ["csv", "sol"])
def test_planning_command_reads_a_folder_writes_csv_and_json(tmp_path: Path, bks_source: str) -> None:
    """Four clients two by two on two axes, capacity for two: the optimum is two out-and-back
    routes of 2 x 20 = 80 (DIMACS: x10 then /10)."""
    (tmp_path / "T1.txt").write_text(TINY)
    if bks_source == "csv":
        (tmp_path / "bks.csv").write_text("instance,distance\nT1,80\n")
    else:
        (tmp_path / "T1.sol").write_text("Route #1: 1 2\nRoute #2: 3 4\nCost 80\n")
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(app, ["bench", "planning", "--instances", str(tmp_path), "--seconds", "1",
                                      "--peers", "", "--workers", "1", "--csv", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert list(report) == ["baton"]
    (row,) = report["baton"]["instances"]
    assert (row["name"], row["n"], row["bks"], row["cost"], row["gap_pct"], row["routes"]) == ("T1", 4, 80.0, 80.0,
                                                                                             0.0, 2)
    assert report["baton"]["feasible"] is True and report["baton"]["cores"] == 1
    lines = out.read_text().splitlines()
    assert lines[0].startswith("instance,n,bks,solver,cost,gap_pct")
    assert lines[1].startswith("T1,4,80.0,baton,80.0,0.0,2,")


def test_planning_csv_keeps_each_instance_as_soon_as_it_is_done(tmp_path: Path) -> None:
    """A long run stopped half-way keeps the rows of the instances already solved."""
    out = tmp_path / "rows.csv"
    first = InstanceResult("T1", 4, 80.0, {"baton": SolverRun(80.0, 0.0, True, (), 2, 1.0)})
    second = InstanceResult("T2", 4, None, {"baton": SolverRun(None, None, False, ("no solution returned",), 0, 1.0)})
    with _csv_rows(out, ["baton"]) as write:
        write(first)
        assert out.read_text().splitlines() == ["instance,n,bks,solver,cost,gap_pct,vehicles,seconds,feasible",
                                                "T1,4,80.0,baton,80.0,0.0,2,1.0,True"]
        write(second)
    assert out.read_text().splitlines()[2] == "T2,4,,baton,,,0,1.0,False"


def test_planning_command_refuses_an_empty_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bench", "planning", "--instances", str(tmp_path)])
    assert result.exit_code == 2
    assert "no .txt or .vrp instance" in result.output


def test_convergence_profiles_the_gap_at_each_checkpoint(tmp_path: Path) -> None:
    """The optimum (80) is found at once; against a BKS of 64 it is 25 % above at every checkpoint,
    and the final answer passes the independent checker."""
    (tmp_path / "T1.txt").write_text(TINY)
    (tmp_path / "bks.csv").write_text("instance,distance\nT1,64\n")
    result = CliRunner().invoke(app, ["bench", "convergence", "--instances", str(tmp_path), "--at", "0.6,0.3",
                                      "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["checkpoints_s"] == [0.3, 0.6]
    (row,) = report["instances"]
    assert (row["name"], row["n"], row["bks"], row["costs"], row["gap_pct"]) == ("T1", 4, 64.0, [80.0, 80.0],
                                                                               [25.0, 25.0])
    assert row["final_feasible"] is True and row["iterations"] > 0
    assert report["mean_gap_pct"] == [25.0, 25.0]


def test_convergence_refuses_checkpoints_that_are_not_positive(tmp_path: Path) -> None:
    (tmp_path / "T1.txt").write_text(TINY)
    result = CliRunner().invoke(app, ["bench", "convergence", "--instances", str(tmp_path), "--at", "0,5"])
    assert result.exit_code == 2
    assert "--at must list positive seconds" in result.output
