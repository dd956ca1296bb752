"""Large days: decomposition by depot and angle (:mod:`baton.planning.decompose`) and the scale
benchmark; every merged plan is re-checked by :func:`check_plan` on the whole day."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from baton.domain.order import Order
from baton.domain.values import LatLng
from baton.entrypoints.cli import app
from baton.planning.check import check_plan
from baton.planning.decompose import plan_large, sectors, split_problem
from baton.planning.mapping import PlanningError, matrix_points
from baton.planning.problem import PlanningOptions, PlanningProblem
from planning_doubles import HaversineTravel, depot, driver, order, vehicle

HUB = LatLng(-22.9035, -43.2096)
EAST = LatLng(-22.9035, -43.0096)
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def ring(n: int, centre: LatLng = HUB, radius: float = 0.02, prefix: str = "o") -> list[Order]:
    return [order(f"{prefix}{k}", LatLng(centre.lat + radius * math.sin(2 * math.pi * k / n),
                                         centre.lng + radius * math.cos(2 * math.pi * k / n))) for k in range(n)]


def test_sectors_are_contiguous_and_even() -> None:
    orders = ring(40)
    parts = sectors(orders, HUB, 4)
    assert [len(p) for p in parts] == [10, 10, 10, 10]
    assert sorted(o.id for p in parts for o in p) == sorted(o.id for o in orders)
    for part in parts:  # ten neighbours on the ring: a run of consecutive indices (mod 40)
        ks = {int(o.id[1:]) for o in part}
        assert any(ks == {(s + i) % 40 for i in range(10)} for s in range(40)), sorted(ks)


def test_split_shares_crews_by_depot_and_parcels() -> None:
    orders = ring(30) + ring(10, EAST, prefix="e")
    fleet = [vehicle(f"v{k}") for k in range(6)] + [vehicle("w0", "d2"), vehicle("w1", "d2")]
    drivers = [driver(f"dr{k}", vehicle_id=v.id) for k, v in enumerate(fleet)]
    problem = PlanningProblem(orders, [depot("d1", HUB), depot("d2", EAST)], fleet, drivers)
    parts = split_problem(problem, part_size=10)
    assert sum(len(p.orders) for p in parts) == 40
    assert sorted(v.id for p in parts for v in p.vehicles) == sorted(v.id for v in fleet)
    for part in parts:
        assert len(part.orders) <= 10 and part.vehicles
        assert {d.vehicle_id for d in part.drivers} == {v.id for v in part.vehicles}
        starts = {v.start_depot_id for v in part.vehicles}
        assert len(starts) == 1
        assert all(o.id.startswith("e") == (starts == {"d2"}) for o in part.orders)
    with pytest.raises(PlanningError, match="part_size"):
        split_problem(problem, part_size=0)


def test_plan_large_merges_parts_into_one_feasible_plan() -> None:
    orders = ring(36, radius=0.03)
    fleet = [vehicle(f"v{k}", parcels=8) for k in range(6)]
    problem = PlanningProblem(orders, [depot("d1", HUB)], fleet, [driver(f"d{k}") for k in range(6)])
    travel = HaversineTravel()
    progress: list[float] = []
    plan = plan_large(problem, travel, PlanningOptions(time_limit_s=3.0, workers=1), part_size=12,
                      on_progress=lambda _e, f: progress.append(f))
    assert check_plan(plan, problem, travel.matrices(matrix_points(problem))) == []
    assert plan.unassigned == []
    assert len({r.id for r in plan.routes}) == len(plan.routes) and all(r.plan_id == plan.id for r in plan.routes)
    assert plan.cost.total == pytest.approx(sum(r.cost for r in plan.routes))
    assert progress[-1] == 1.0 and progress == sorted(progress)


@pytest.mark.skipif(not (SHARED / "real" / "loggi" / "df").is_dir(), reason="../shared/data not present")
def test_union_day_spans_several_real_days_with_unique_ids() -> None:
    from baton.bench.scale import union_day

    problem = union_day(SHARED, 1500)
    assert len(problem.orders) == 1500
    assert len({o.id for o in problem.orders}) == 1500
    assert {o.id[:3] for o in problem.orders} == {"d0-", "d1-"}
    assert len({v.id for v in problem.vehicles}) == len(problem.vehicles)
    assert {d.vehicle_id for d in problem.drivers} == {v.id for v in problem.vehicles}


@pytest.mark.skipif(not (SHARED / "real" / "loggi" / "df").is_dir(), reason="../shared/data not present")
def test_scale_command_reports_time_cost_and_peak_memory() -> None:
    result = CliRunner().invoke(app, ["bench", "scale", "--stops", "240", "--seconds", "2", "--part-size", "120",
                                      "--workers", "2", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    (run,) = report["runs"]
    assert run["stops"] == 240 and run["parts"] == 2 and run["workers"] == 2
    assert run["routes"] > 0 and run["unassigned"] < 240 and run["cost"] > 0
    assert run["peak_rss_mib"] > 0
