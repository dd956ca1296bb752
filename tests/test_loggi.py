"""Loggi (loggibud) CVRP day loader: {lng, lat} objects become Baton's (lat, lng); errors name the key."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from baton.domain.values import LatLng
from baton.intake.files import ImportFileError
from baton.intake.loggi import LoggiDelivery, load_loggi_day

LOGGI = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "loggi"
needs_shared = pytest.mark.skipif(not LOGGI.is_dir(), reason=f"shared Loggi data not found at {LOGGI}")

DAY: dict[str, Any] = {
    "name": "cvrp-test", "region": "df-0",
    "origin": {"lng": -47.802664728268745, "lat": -15.657013854445248},
    "vehicle_capacity": 180,
    "deliveries": [
        {"id": "torre-de-tv", "point": {"lng": -47.892778, "lat": -15.790556}, "size": 3},
        {"id": "b", "point": {"lat": -15.8, "lng": -47.9}, "size": 10},
    ],
}


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "day.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def test_known_points_are_lat_lng(tmp_path: Path) -> None:
    day = load_loggi_day(write(tmp_path, DAY))
    assert day.depot == LatLng(lat=-15.657013854445248, lng=-47.802664728268745)
    assert day.deliveries[0] == LoggiDelivery("torre-de-tv", LatLng(lat=-15.790556, lng=-47.892778), 3)
    assert (day.name, day.region, day.vehicle_capacity) == ("cvrp-test", "df-0", 180)
    assert day.total_size == 13 and day.min_vehicles == 1 and day.duplicate_ids == []


@needs_shared
def test_real_rio_day() -> None:
    day = load_loggi_day(LOGGI / "rj" / "cvrp-0-rj-3.json")
    assert day.name == "cvrp-0-rj-3" and day.region == "rj-0" and len(day.deliveries) == 158
    # loggibud's own test day repeats three deliveries verbatim: kept, and reported.
    assert len(day.duplicate_ids) == 3 and "e1749f296b62c1f7c041df67183511b1" in day.duplicate_ids
    # Depot in the north zone of Rio de Janeiro (Brazil: south of the equator, west of Greenwich).
    assert day.depot == LatLng(lat=-22.805996173217757, lng=-43.37769374114032)
    first = day.deliveries[0]
    assert first.id == "7063a8fa39a402b14dc25f9b75160471"
    assert first.location == LatLng(lat=-22.8773044577652, lng=-43.22598850697743) and first.size == 1
    assert all(-23.2 < d.location.lat < -22.4 and -43.9 < d.location.lng < -42.9 for d in day.deliveries)


@needs_shared
def test_real_brasilia_day() -> None:
    day = load_loggi_day(LOGGI / "df" / "cvrp-0-df-0.json")
    assert len(day.deliveries) == 1019 and day.vehicle_capacity == 180 and day.duplicate_ids == []
    assert all(-16.1 < d.location.lat < -15.4 and -48.3 < d.location.lng < -47.3 for d in day.deliveries)
    assert all(1 <= d.size <= 10 for d in day.deliveries)
    assert day.min_vehicles == -(-day.total_size // 180)


def _broken(change: str) -> dict[str, Any]:
    data = copy.deepcopy(DAY)
    if change == "no origin":
        del data["origin"]
    elif change == "no lat":
        del data["deliveries"][1]["point"]["lat"]
    elif change == "zero size":
        data["deliveries"][0]["size"] = 0
    elif change == "string lng":
        data["origin"]["lng"] = "-47.8"
    elif change == "lat out of range":
        data["origin"]["lat"] = 95.0
    elif change == "deliveries not a list":
        data["deliveries"] = {"a": 1}
    elif change == "delivery not an object":
        data["deliveries"][0] = [1, 2]
    return data


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("no origin", "origin: is missing"),
        ("no lat", "deliveries[1].point.lat: is missing"),
        ("zero size", "deliveries[0].size: must be a positive integer, got 0"),
        ("string lng", "origin.lng: must be a finite number of degrees, got '-47.8'"),
        ("lat out of range", "origin: lat must be within [-90, 90] degrees, got 95.0"),
        ("deliveries not a list", "deliveries: must be a list, got dict"),
        ("delivery not an object", "deliveries[0]: must be a JSON object, got list"),
    ],
)
def test_malformed_files_name_the_key(tmp_path: Path, change: str, reason: str) -> None:
    with pytest.raises(ImportFileError) as info:
        load_loggi_day(write(tmp_path, _broken(change)))
    assert info.value.reason == f"not a loggibud CVRP day: {reason}"


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="file not found"):
        load_loggi_day(tmp_path / "missing.json")
    with pytest.raises(ImportFileError, match="invalid JSON at line 1"):
        load_loggi_day(write(tmp_path, "{nope"))
    with pytest.raises(ImportFileError, match=r"\(top level\): must be a JSON object, got list"):
        load_loggi_day(write(tmp_path, [DAY]))
