"""The day simulator: scenarios, policies, determinism per seed, the CLI and the benchmarks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from baton.adapters.travel import make_provider
from baton.demo.enrich import enrich
from baton.demo.main_job import bundled_day
from baton.domain.errors import ValidationError
from baton.entrypoints.cli import app
from baton.intake.loggi import load_loggi_day
from baton.live.model import Geo
from baton.simulate.bench import replan_bench
from baton.simulate.engine import SimConfig, simulate_day
from baton.simulate.manual import territory_plan
from baton.simulate.scenario import load_scenario, parse_scenario

KEYS = {"on_time_pct", "late_minutes", "km", "cost_per_delivery", "failed_attempts", "told_before_window_pct"}


def test_standard_scenario_ships_and_bad_scenarios_name_the_field(tmp_path: Path) -> None:
    sc = load_scenario()
    assert sc.name == "standard" and sc.new_orders_per_hour > 0 and sc.breakdowns and sc.traffic_incidents
    with pytest.raises(ValidationError, match="not_home_pct"):
        parse_scenario({"not_home_pct": 120})
    with pytest.raises(ValidationError, match="colour"):
        parse_scenario({"colour": "red"})
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="mapping"):
        load_scenario(bad)


def test_manual_territory_plan_covers_every_order_once_in_sectors() -> None:
    day = enrich(load_loggi_day(bundled_day()), seed=7, limit=80)
    geo = Geo(make_provider("great-circle"), [day.depot.location] + [o.location for o in day.orders], None)
    plan = territory_plan(day.depot, day.orders, day.vehicles, day.drivers, geo, day.day_start)
    served = plan.assigned_order_ids
    assert sorted(served) == sorted(o.id for o in day.orders) and len(plan.routes) <= len(day.vehicles)
    for route in plan.routes:  # nearest neighbour: each next stop is the closest remaining one
        ids = route.order_ids
        for k in range(len(ids) - 1):
            here = geo.index[next(o for o in day.orders if o.id == ids[k]).location]
            rest = [geo.index[next(o for o in day.orders if o.id == x).location] for x in ids[k + 1:]]
            assert geo.leg(here, rest[0])[0] == min(geo.leg(here, p)[0] for p in rest)


SMALL = dict(limit=30, time_limit_s=10.0, max_iterations=150)


def test_same_seed_same_day_and_every_policy_runs() -> None:
    sc = load_scenario()
    a = simulate_day(SimConfig(policy="baton", seed=3, scenario=sc, **SMALL)).kpis  # type: ignore[arg-type]
    b = simulate_day(SimConfig(policy="baton", seed=3, scenario=sc, **SMALL)).kpis  # type: ignore[arg-type]
    assert a == b and set(a) >= KEYS
    assert a["delivered"] > 0 and 0 <= a["on_time_pct"] <= 100
    static = simulate_day(SimConfig(policy="static", seed=3, scenario=sc, **SMALL)).kpis  # type: ignore[arg-type]
    manual = simulate_day(SimConfig(policy="manual", seed=3, scenario=sc, **SMALL)).kpis  # type: ignore[arg-type]
    # same world: the same orders are placed and cancelled whatever the policy
    assert static["new_orders"] == manual["new_orders"] == a["new_orders"]
    assert static["told_before_window_pct"] in (0.0, 100.0) and manual["delivered"] > 0


def test_cli_simulate_json_prints_exactly_one_object() -> None:
    res = CliRunner().invoke(app, ["simulate", "--limit", "20", "--seconds", "1", "--policy", "static", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["policy"] == "static" and set(data) >= KEYS
    bad = CliRunner().invoke(app, ["simulate", "--policy", "chaos"])
    assert bad.exit_code == 2


def test_cli_simulate_with_iterations_is_the_same_run_twice() -> None:
    """``--iterations`` bounds the morning plan by solver iterations, so the KPIs do not move with load."""
    args = ["simulate", "--limit", "25", "--seconds", "60", "--iterations", "40", "--policy", "static", "--json"]
    first, second = CliRunner().invoke(app, args), CliRunner().invoke(app, args)
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert a == b


def test_replan_bench_reports_percentiles() -> None:
    result = replan_bench(60, events=12, seed=2)
    assert result["stops"] == 60 and result["active_stops"] > 40
    assert 0 < result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"] <= result["max_ms"]


def test_standby_vans_wait_at_the_depot_until_an_hour_before_their_shift_ends() -> None:
    """``standby_vans``: the first vans back with nothing to do wait for new work; by default none does."""
    from baton.simulate.engine import DaySimulation

    def early(standby: int) -> tuple[set[str], float]:  # vans that ended their day over an hour before shift end
        sim = DaySimulation(SimConfig(policy="baton", seed=3, scenario=load_scenario(), standby_vans=standby,
                                      **SMALL))  # type: ignore[arg-type]
        kpis = sim.run().kpis
        return {v.vehicle_id for v in sim.vans.values()
                if v.started and v.end_s is not None and v.end_s < v.shift_end_s - 3600}, kpis["cost"]

    (none_waits, cost0), (one_waits, cost1) = early(0), early(1)
    assert one_waits < none_waits and len(none_waits - one_waits) == 1  # the first van back waited
    assert cost1 > cost0  # its waiting hours are paid
