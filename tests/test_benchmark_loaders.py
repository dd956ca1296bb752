"""Benchmark loaders: Solomon and VRPLIB instances, the rounding convention, and the BKS table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import vrplib

from baton.intake.benchmarks import BenchmarkInstance, load_bks, load_instance
from baton.intake.files import ImportFileError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
BENCH = SHARED / "benchmarks"
pytestmark = pytest.mark.skipif(not BENCH.is_dir(), reason=f"shared benchmark data not found at {BENCH}")


def route_cost(instance: BenchmarkInstance, routes: list[list[int]]) -> float:
    """Cost of VRPLIB routes (client numbers 1..n) in the instance's rounding convention."""
    total = 0.0
    for route in routes:
        nodes = [instance.depot, *route, instance.depot]
        legs = np.diff(instance.coords[nodes], axis=0)
        euclid = np.hypot(legs[:, 0], legs[:, 1])
        if instance.rounding == "round":
            total += float(np.rint(euclid).sum())
        else:
            assert instance.rounding == "dimacs"
            total += float(np.floor(euclid * 10).sum()) / 10
    return total


def test_solomon_c101() -> None:
    c101 = load_instance(BENCH / "solomon" / "C101.txt")
    assert (c101.name, c101.source_format, c101.rounding) == ("C101", "solomon", "dimacs")
    assert c101.dimension == 101 and c101.num_clients == 100 and c101.depot == 0
    assert c101.capacity == 200 and c101.num_vehicles == 25 and c101.num_vehicles_given
    assert c101.coords.dtype == np.float64 and c101.coords[:2].tolist() == [[40, 50], [45, 68]]
    assert c101.demand[:3].tolist() == [0, 10, 30] and int(c101.demand.sum()) == 1810
    assert c101.time_windows is not None and c101.time_windows[:2].tolist() == [[0, 1236], [912, 967]]
    assert c101.service_times is not None and c101.service_times[:2].tolist() == [0, 90]
    assert c101.has_time_windows and c101.edge_weight is None


def test_cvrp_x_and_its_bks_route_in_round_convention() -> None:
    x = load_instance(BENCH / "cvrp-x" / "X-n101-k25.vrp")
    assert (x.name, x.source_format, x.rounding) == ("X-n101-k25", "vrplib", "round")
    assert x.capacity == 206 and x.dimension == 101 and x.depot == 0
    assert x.num_vehicles == 100 and not x.num_vehicles_given  # no VEHICLES line: unbounded
    assert x.coords[0].tolist() == [365, 689] and x.demand[:3].tolist() == [0, 38, 51]
    assert x.time_windows is None and x.service_times is None and not x.has_time_windows
    bks = load_bks(BENCH / "bks.csv")
    solution = vrplib.read_solution(BENCH / "cvrp-x" / "X-n101-k25.sol")
    assert route_cost(x, solution["routes"]) == bks["X-n101-k25"] == 27591


def test_homberger_vrplib_scalar_service_time_and_dimacs_bks() -> None:
    gh = load_instance(BENCH / "homberger" / "1000-vrplib" / "C1_10_1.vrp")
    assert (gh.name, gh.rounding, gh.num_vehicles, gh.dimension) == ("C1_10_1", "dimacs", 250, 1001)
    assert gh.service_times is not None and gh.service_times[0] == 0 and (gh.service_times[1:] == 90).all()
    solution = vrplib.read_solution(BENCH / "homberger" / "1000-vrplib" / "C1_10_1.sol")
    bks = load_bks(BENCH / "bks.csv")["C1_10_1"]
    assert route_cost(gh, solution["routes"]) == pytest.approx(bks, abs=0.05)


def test_homberger_txt_takes_the_file_name_as_in_bks() -> None:
    gh = load_instance(BENCH / "homberger" / "200" / "C1_2_1.txt")  # the file itself says "c1_2_1"
    assert gh.name == "C1_2_1" and gh.name in load_bks(BENCH / "bks.csv") and gh.source_format == "solomon"


def test_explicit_matrix_instance_uses_no_rounding() -> None:
    ortec = next((SHARED / "ortec" / "final").glob("ORTEC-VRPTW-ASYM-*.txt"))
    inst = load_instance(ortec)
    assert inst.rounding == "none" and inst.source_format == "vrplib"
    assert inst.edge_weight is not None and inst.edge_weight.shape == (inst.dimension, inst.dimension)
    assert not np.diagonal(inst.edge_weight).any()


def test_load_bks_table() -> None:
    bks = load_bks(BENCH / "bks.csv")
    assert len(bks) == 364 and bks["C101"] == 827.3 and bks["R101"] == pytest.approx(1637.7)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("instance,vehicles\nC101,10\n", "missing column(s): distance"),
        ("instance,distance\nC101,abc\n", "line 2: distance 'abc' is not a number"),
        ("instance,distance\nC101,1\nC101,2\n", "line 3: instance 'C101' listed twice"),
        ("instance,distance\n,1\n", "line 2: empty instance name"),
    ],
)
def test_load_bks_errors(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "bks.csv"
    path.write_text(text)
    with pytest.raises(ImportFileError) as info:
        load_bks(path)
    assert info.value.reason == reason


def test_bad_instance_files(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="file not found"):
        load_instance(tmp_path / "nope.vrp")
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\nworld\n")
    with pytest.raises(ImportFileError, match="neither Solomon"):
        load_instance(junk)
    truncated = tmp_path / "short.vrp"
    head = (BENCH / "cvrp-x" / "X-n101-k25.vrp").read_text().splitlines()
    cut = head.index(next(line for line in head if line.startswith("DEMAND_SECTION")))
    truncated.write_text("\n".join([*head[: cut + 5], "DEPOT_SECTION", "1", "-1", "EOF"]) + "\n")
    with pytest.raises(ImportFileError, match="'demand' has 4 entries, expected 101"):
        load_instance(truncated)
