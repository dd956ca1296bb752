"""The main job end to end on a small slice of the real (bundled) Loggi day."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from baton.demo.main_job import bundled_day, run_demo
from baton.demo.simulate import SimulationSettings, route_timeline
from baton.domain.plan import Route, Stop, StopKind
from baton.entrypoints.cli import app
from baton.intake.loggi import load_loggi_day
from baton.service_layer.commands import ArriveAtStop
from order_helpers import BRT, morning_or_evening

KPI_KEYS = ["orders", "delivered", "failed", "on_time_pct", "km", "driving_hours", "cost",
            "cost_per_delivery", "vehicles_used"]
SHARED_RJ = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "loggi" / "rj" / "cvrp-0-rj-3.json"


def test_bundled_day_is_the_real_loggi_day() -> None:
    day = load_loggi_day(bundled_day())
    assert day.name == "cvrp-0-df-0" and len(day.deliveries) == 1019 and day.vehicle_capacity == 180
    assert (Path(bundled_day()).parent / "LICENSE").read_text().startswith("MIT License")


def test_demo_runs_a_slice_end_to_end(tmp_path: Path, db_url: str) -> None:
    result = run_demo(out_dir=tmp_path, limit=80, time_limit_s=2, seed=3, database_url=db_url)
    k = result.kpis
    assert k.orders == 80
    assert k.delivered + k.failed + k.unassigned + k.cancelled == 80
    assert k.delivered > 60 and 0 < k.on_time_pct <= 100
    assert k.km > 0 and k.driving_hours > 0 and k.vehicles_used >= 1
    assert k.cost_per_delivery == pytest.approx(k.cost / k.delivered)
    html = result.report_path.read_text(encoding="utf-8")
    assert "<svg" in html and "cvrp-0-df-0" in html and "loggibud" in html
    # every visited stop has its actual arrival and departure; delivered orders are a subset of them
    visited = [s for r in result.plan.routes for s in r.stops if s.order_id and s.actual_arrival]
    assert all(s.actual_departure is not None and s.actual_departure >= s.actual_arrival for s in visited)
    assert k.delivered <= len(visited) <= k.delivered + k.failed


def test_demo_is_deterministic_per_seed(tmp_path: Path) -> None:
    # An iteration cap (reached long before the time limit) makes the plan independent of CPU load.
    a = run_demo(out_dir=tmp_path / "a", limit=40, time_limit_s=60, max_iterations=300, seed=5).kpis.to_dict()
    b = run_demo(out_dir=tmp_path / "b", limit=40, time_limit_s=60, max_iterations=300, seed=5).kpis.to_dict()
    a.pop("planning_seconds", None)
    b.pop("planning_seconds", None)
    assert a == b


def test_cli_demo_json_prints_exactly_one_object(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["demo", "--limit", "30", "--seconds", "1", "--out", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert list(data)[:9] == KPI_KEYS and data["orders"] == 30


@pytest.mark.skipif(not SHARED_RJ.exists(), reason="../shared not present")
def test_cli_demo_runs_any_loggibud_day(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["demo", "--day", str(SHARED_RJ), "--seconds", "2", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "On-time" in res.stdout and (tmp_path / "report.html").exists()


def test_the_simulated_driver_between_two_windows_follows_his_route() -> None:
    """Reaching an 08-10 or 16-18 order at 12:00: he waits for 16:00 when his route has the stop in
    the evening window, and rings at once (late) when it aimed for the morning."""
    order, _, _ = morning_or_evening()
    day = datetime(2026, 3, 2, tzinfo=BRT)
    exact = SimulationSettings(travel_sigma=0.0, travel_bias=1.0, service_sigma=0.0, not_home_p=0.0)

    def ring(planned: datetime) -> datetime:
        stop = Stop(sequence=1, kind=StopKind.DELIVERY, order_id="x", planned_arrival=planned,
                    planned_departure=planned + timedelta(minutes=5), leg_duration_s=3600)
        route = Route(id="r1", vehicle_id="v1", driver_id=None, start_depot_id="d", end_depot_id="d",
                      start=day.replace(hour=11), end=planned + timedelta(hours=2), stops=[stop])
        return next(at for at, cmd in route_timeline(route, {"x": order}, exact, 0) if isinstance(cmd, ArriveAtStop))

    assert ring(day.replace(hour=16)) == day.replace(hour=16)
    assert ring(day.replace(hour=9, minute=50)) == day.replace(hour=12)
