"""Pure parts of execution: geofence arrival/departure with dwell, the ETA engine, pace, detection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from baton.execute.eta import PlannedStop, StopEta, changed_etas, compute_etas, update_pace
from baton.execute.geofence import Arrival, Departure, GeofenceSettings, GeofenceTracker, StopTarget
from baton.execute.monitor import MonitorSettings, VehicleSnapshot, detect, distance_to_leg_m
from baton.execute.playbooks import validate_playbooks
from baton.execute.sla import order_sla

T = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
STOP = StopTarget("o-1", -15.80, -47.88)


def at(s: int) -> datetime:
    return T + timedelta(seconds=s)


def test_geofence_arrives_after_dwell_and_departs_on_leaving() -> None:
    g = GeofenceTracker([STOP, StopTarget("o-2", -15.82, -47.88)], GeofenceSettings(75, 120, 45))
    assert g.update(at(0), -15.790, -47.88) == []          # 1.1 km away
    assert g.update(at(10), -15.8003, -47.88) == []        # inside (33 m), dwell starts
    assert g.update(at(30), -15.8001, -47.88) == []        # 20 s inside: not yet
    assert g.update(at(20), -15.8001, -47.88) == []        # older fix: ignored
    assert g.update(at(60), -15.8002, -47.88) == [Arrival("o-1", at(10))]
    assert g.update(at(90), -15.8009, -47.88) == []        # 100 m: within the exit radius (hysteresis)
    events = g.update(at(300), -15.8030, -47.88)           # 333 m: gone
    assert events == [Departure("o-1", at(300), at(10))] and events[0].dwell_s == 290  # type: ignore[union-attr]
    assert g.update(at(310), -15.8000, -47.88) == []       # back at a visited stop: no second arrival


def test_geofence_drive_by_is_not_an_arrival() -> None:
    g = GeofenceTracker([STOP])
    for k, lat in enumerate((-15.7995, -15.8000, -15.8005, -15.8015)):
        assert g.update(at(10 * k), lat, -47.88) == []
    assert g.at_stop is None and g.visited == set()


def _stops() -> list[PlannedStop]:
    return [PlannedStop("a", -15.80, -47.88, at(600), 120, 600, at(0), at(3600)),
            PlannedStop("b", -15.81, -47.88, at(1320), 120, 600, at(2400), at(7200))]


def test_eta_uses_remaining_leg_pace_windows_and_service() -> None:
    etas = compute_etas(_stops(), at(300), pace=1.5, position=(-15.795, -47.88), leg_origin=(-15.79, -47.88))
    # half the first leg left: 300 s × 1.5; then 120 s service and 600 s × 1.5, but b's window opens at 2400
    assert etas[0].eta == at(300 + 450) and etas[0].behind_s == 150
    assert etas[1].eta == at(750 + 120 + 900) and etas[1].behind_s == 1770 - 1320
    learned = compute_etas(_stops(), at(0), service_for=lambda s: 600)
    assert learned[1].eta == at(600 + 600 + 600)
    waiting = compute_etas(_stops(), at(0), at_stop_remaining_s=100)
    assert waiting[0].eta == at(100 + 600)


def test_eta_after_window_and_change_threshold() -> None:
    late = compute_etas(_stops(), at(3500))
    assert late[0].after_window and not late[1].after_window
    moved = changed_etas(late, {"a": late[0].eta - timedelta(seconds=60), "b": late[1].eta - timedelta(seconds=600)},
                         120)
    assert [e.order_id for e, _ in moved] == ["b"]


def test_pace_is_smoothed_and_clamped() -> None:
    assert update_pace(1.0, 900, 600) == pytest.approx(1.2)
    assert update_pace(1.0, 60000, 600) <= 4.0
    assert update_pace(1.3, 10, 30) == 1.3  # legs under a minute say nothing


def test_detection_rules() -> None:
    etas = [StopEta("a", at(2000), at(1000), at(3600), 1000, False),
            StopEta("b", at(3000), at(2900), at(2950), 100, True)]
    snap = VehicleSnapshot("R1", "V1", True, at(0), None, 0, at(0))
    kinds = {f.kind: f for f in detect(snap, etas, at(700), MonitorSettings())}
    assert kinds["late_risk"].details["orders"] == ["a", "b"] and kinds["late_risk"].details["after_window"] == ["b"]
    assert set(kinds) == {"late_risk", "idle_vehicle", "gps_silence"}
    dwell = VehicleSnapshot("R1", "V1", True, at(890), ("a", at(0)), 180, None)
    assert [f.kind for f in detect(dwell, [], at(901))] == ["long_dwell"]
    assert detect(dwell, [], at(899)) == []


def test_unknown_playbook_action_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"late_risk.*'call_mum'"):
        validate_playbooks({"late_risk": ("notify_customers", "call_mum")})


def test_order_sla_statuses() -> None:
    windows = [(at(0), at(3600)), (at(7200), at(10800))]
    assert order_sla(windows, at(100), None) == ("on_time", 0)
    assert order_sla(windows, at(-60), None) == ("early", 0)
    assert order_sla(windows, at(3700), None) == ("late", 100)
    assert order_sla(windows, None, at(11000)) == ("at_risk", 200)
    assert order_sla(windows, None, at(9000)) == ("pending", 0)


def test_distance_to_leg_and_off_route_rule() -> None:
    a, b = (-15.70, -47.90), (-15.72, -47.90)  # ~2.2 km due south
    assert distance_to_leg_m((-15.71, -47.90), a, b) < 1
    assert distance_to_leg_m((-15.71, -47.88), a, b) == pytest.approx(2142, rel=0.01)  # 0.02° east
    assert distance_to_leg_m((-15.69, -47.90), a, b) == pytest.approx(1105, rel=0.01)  # before the start
    off = VehicleSnapshot("R1", "V1", True, at(0), None, 0, None, at(0), 2100.0)
    assert [f.kind for f in detect(off, [], at(180))] == ["off_route"]
    assert detect(off, [], at(179)) == []
