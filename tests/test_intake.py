"""Order/fleet import from CSV and JSON: good rows kept, every bad row reported by row and field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from baton.domain.fleet import FleetType
from baton.domain.order import SlaTier
from baton.domain.values import LatLng
from baton.intake.files import (
    ImportFileError,
    RowError,
    import_bundle,
    import_depots,
    import_drivers,
    import_orders,
    import_vehicles,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
BRT = timezone(timedelta(hours=-3))
HEADER = "id,customer_name,address,lat,lng,tw1_start,tw1_end,tw2_start,tw2_end,parcels,weight_kg,priority," \
    "sla_tier"
NINE_TO_NOON = "2025-03-10T09:00:00-03:00,2025-03-10T12:00:00-03:00"
GOOD = "o-{n},Ana {n},SQS 308 Bloco C,-15.81,-47.89," + NINE_TO_NOON + ",,,1,2.5,2,standard"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def errors_by_row(errors: list[RowError]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for e in errors:
        out.setdefault(e.row, []).append(e.field)
    return out


def test_csv_bad_rows_are_reported_and_good_rows_kept(tmp_path: Path) -> None:
    rows = [
        GOOD.format(n=1),
        "o-2,Bruno,SQN 206,91.0,-47.88,,,,,1,1,1,standard",  # bad lat
        "o-3,,CLN 405,-15.76,-47.87,,,,,1,1,1,standard",  # missing customer_name
        "o-4,Carla,SQSW 304,-15.79,-47.92,2025-03-10T09:00:00,2025-03-10T12:00:00-03:00,,,1,1,1,standard",
        "o-5,Diego,QE 40,-15.82,-47.97,,,2025-03-10T14:00:00-03:00,2025-03-10T13:00:00-03:00,1,1,1,standard",
        "o-6,Elisa,QI 11,-15.83,-47.87,,,,,-2,1,1,standard",  # negative size
        "o-7,Fábio,QNA 22,-15.82,-48.05,,,,,1,1,9,standard",  # bad priority
        "o-1,Gabi,Rua 25,-15.83,-48.02,,,,,1,1,1,standard",  # duplicate id
        "o-9,Hugo,SHCES,-15.79,-47.93,,,,,1,1,1,platinum",  # unknown tier
        GOOD.format(n=10),
    ]
    result = import_orders(write(tmp_path, "orders.csv", "\n".join([HEADER, *rows]) + "\n"))
    assert [o.id for o in result.accepted] == ["o-1", "o-10"]
    assert errors_by_row(result.errors) == {
        2: ["lat"], 3: ["customer_name"], 4: ["tw1_start"], 5: ["tw2_end"], 6: ["parcels"],
        7: ["priority"], 8: ["id"], 9: ["sla_tier"],
    }
    messages = {e.row: str(e) for e in result.errors}
    assert messages[2] == "row 2, field 'lat': must be within [-90, 90] degrees, got 91.0"
    assert messages[3] == "row 3, field 'customer_name': is required"
    assert "naive '2025-03-10T09:00:00'" in messages[4]
    assert "ends (2025-03-10T13:00:00-03:00) before it starts" in messages[5]
    assert messages[6] == "row 6, field 'parcels': must be >= 0, got -2"
    assert "got 9" in messages[7]
    assert messages[8] == "row 8, field 'id': duplicate id 'o-1' (first used on row 1)"
    assert "'standard', 'express', 'same_day' or 'scheduled', got 'platinum'" in messages[9]


def test_csv_row_converts_to_domain_order(tmp_path: Path) -> None:
    text = (
        "id,customer_name,phone,language,address,lat,lng,tw_start,tw_end,required_features,tags,"
        "service_time_s,parcels,weight_kg,volume_l,priority,sla_tier,declared_value,currency\n"
        "o-1, Ana ,+55 (61) 99111-0001,pt-BR,\"SQS 308, Asa Sul\",-15.8122,-47.8988,"
        "2025-03-10T09:00:00-03:00,2025-03-10T12:00:00Z,Refrigerated; two_person,cold_chain,"
        "420,3,18.5,90,4,EXPRESS,780.5,brl\n"
    )
    (order,) = import_orders(write(tmp_path, "o.csv", "\ufeff" + text)).accepted  # BOM tolerated
    assert order.customer.name == "Ana" and order.customer.phone == "+5561991110001"
    assert order.location == LatLng(lat=-15.8122, lng=-47.8988)
    assert order.address.line == "SQS 308, Asa Sul"
    assert [(w.start, w.end) for w in order.time_windows] == [
        (datetime(2025, 3, 10, 9, tzinfo=BRT), datetime(2025, 3, 10, 12, tzinfo=UTC))]
    assert order.required_features == {"refrigerated", "two_person"} and order.tags == {"cold_chain"}
    assert order.service_time_s == 420
    assert (order.size.parcels, order.size.weight_kg, order.size.volume_l) == (3, 18.5, 90)
    assert (order.priority, order.sla_tier) == (4, SlaTier.EXPRESS)
    assert (order.declared_value, order.currency) == (780.5, "BRL")


def test_csv_defaults_and_window_spelling_conflict(tmp_path: Path) -> None:
    text = ("id,customer_name,address,lat,lng,tw_start,tw_end,tw1_start,tw1_end\n"
            "a,Ana,X,0,0,,,,\n"
            "b,Bia,X,0,0,2025-03-10T09:00:00-03:00,2025-03-10T10:00:00-03:00,"
            "2025-03-10T11:00:00-03:00,2025-03-10T12:00:00-03:00\n")
    result = import_orders(write(tmp_path, "o.csv", text))
    (order,) = result.accepted
    assert order.time_windows == [] and order.priority == 1 and order.size.parcels == 1
    assert order.service_time_s == 300 and order.customer.language == "en"
    assert [(e.row, e.field) for e in result.errors] == [(2, "time_windows")]


def test_json_list_and_object_forms_with_nested_field_names(tmp_path: Path) -> None:
    good = {"id": "j-1", "customer_name": "Ana", "address": "X", "lat": -15.8, "lng": -47.9,
            "time_windows": [{"start": "2025-03-10T14:00:00-03:00", "end": "2025-03-10T16:00:00-03:00"},
                             {"start": "2025-03-10T08:00:00-03:00", "end": "2025-03-10T10:00:00-03:00"}],
            "required_features": ["Refrigerated"]}
    backwards = {"start": "2025-03-10T09:00:00-03:00", "end": "2025-03-10T08:00:00-03:00"}
    bad: dict[str, Any] = {**good, "id": "j-2", "lng": 200, "time_windows": [backwards]}
    rows: list[Any] = [good, bad, ["not", "an", "object"], {**good, "id": "j-1"},
                       {**good, "id": "j-5", "priority": 0}]
    for payload in (rows, {"orders": rows}):
        result = import_orders(write(tmp_path, "o.json", json.dumps(payload)))
        (order,) = result.accepted
        assert order.time_windows[0].start.hour == 8  # sorted by start
        assert order.required_features == {"refrigerated"}
        assert [(e.row, e.field) for e in result.errors] == [
            (2, "lng"), (2, "time_windows[0].end"), (3, "(row)"), (4, "id"), (5, "priority")]
        assert str(result.errors[2]) == "row 3: must be an object, got list"


def test_unknown_columns_warn_and_extra_cells_are_errors(tmp_path: Path) -> None:
    text = "id,customer_name,address,lat,lng,priorty\na,Ana,X,0,0,5\nb,Bia,X,0,0,5,surplus\n"
    result = import_orders(write(tmp_path, "o.csv", text))
    assert [o.id for o in result.accepted] == ["a"] and result.accepted[0].priority == 1
    assert result.warnings == ["column 'priorty' is not part of the order schema and was ignored"]
    assert str(result.errors[0]) == "row 2: has 1 more cell(s) than the header"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("missing.csv", None, "file not found"),
        ("orders.xlsx", "id\n", "unsupported extension '.xlsx'"),
        ("orders.json", '[{"id": "a",}]', "invalid JSON at line 1, column 13"),
        ("orders.json", '{"rows": []}', "expected a JSON list or an object with key 'orders'"),
        ("orders.csv", "", "empty file"),
        ("orders.csv", "id;customer_name;address;lat;lng\n", "';'-separated"),
        ("orders.csv", "id,customer_name,address\n", "missing required column(s): lat, lng"),
        ("orders.csv", "id,lat,lng,lat,customer_name,address\n", "duplicate column(s) in the header: lat"),
    ],
)
def test_unreadable_files_raise_import_file_error(tmp_path: Path, name: str, content: str | None,
                                                  reason: str) -> None:
    path = tmp_path / name if content is None else write(tmp_path, name, content)
    with pytest.raises(ImportFileError) as info:
        import_orders(path)
    assert reason in info.value.reason and str(path) in str(info.value)


def test_vehicles_csv(tmp_path: Path) -> None:
    text = ("id,start_depot_id,capacity_parcels,capacity_weight_kg,capacity_volume_l,features,"
            "cost_per_km,fleet_type,carrier_id,speed_factor\n"
            "v1,d1,60,650,3000,refrigerated;tail_lift,1.1,3PL,planalto,0.9\n"
            "v2,d1,60,650,3000,,1.1,uber,,1\n"
            "v3,d1,60,,3000,,-1,gig,,0\n")
    result = import_vehicles(write(tmp_path, "v.csv", text))
    (van,) = result.accepted
    assert van.fleet_type is FleetType.THIRD_PARTY and van.features == {"refrigerated", "tail_lift"}
    assert van.capacity.weight_kg == 650 and van.costs.per_km == 1.1 and van.speed_factor == 0.9
    assert van.returns_to == "d1"
    assert [(e.row, e.field) for e in result.errors] == [
        (2, "fleet_type"), (3, "capacity_weight_kg"), (3, "cost_per_km"), (3, "speed_factor")]
    assert "'captive', '3pl' or 'gig', got 'uber'" in result.errors[0].message


def test_drivers_json(tmp_path: Path) -> None:
    rows = [
        {"id": "d1", "name": "Marcos", "shift_start": "2025-03-10T07:30:00-03:00",
         "shift_end": "2025-03-10T17:30:00-03:00", "max_working_time_h": 8.5, "break_after_h": 4,
         "break_minutes": 45, "skills": "Cold_Chain", "vehicle_id": "v1"},
        {"id": "d2", "name": "Paula", "shift_start": "2025-03-10T18:00:00-03:00",
         "shift_end": "2025-03-10T08:00:00-03:00"},
        {"id": "d3", "name": "Rafa", "shift_start": "2025-03-10T08:00:00",
         "shift_end": "2025-03-10T16:00:00-03:00"},
    ]
    result = import_drivers(write(tmp_path, "d.json", json.dumps({"drivers": rows})))
    (driver,) = result.accepted
    assert driver.max_working_time_s == 30_600 and driver.break_rule.after_work_s == 14_400
    assert driver.break_rule.duration_s == 2_700 and driver.skills == {"cold_chain"}
    assert [(e.row, e.field) for e in result.errors] == [(2, "shift_end"), (3, "shift_start")]


def test_depots_csv(tmp_path: Path) -> None:
    text = ("id,name,lat,lng,timezone,address\n"
            "sia,SIA,-15.8003,-47.9505,America/Sao_Paulo,\"SIA Trecho 3, Guará\"\n"
            "x,X,-15.8,-47.9,Brasil/Brasilia,\n")
    result = import_depots(write(tmp_path, "depots.csv", text))
    (depot,) = result.accepted
    assert depot.location == LatLng(-15.8003, -47.9505) and depot.timezone == "America/Sao_Paulo"
    assert [(e.row, e.field) for e in result.errors] == [(2, "timezone")]


def test_bundle_checks_references(tmp_path: Path) -> None:
    vehicle = {"id": "v1", "start_depot_id": "d1", "capacity_parcels": 10, "capacity_weight_kg": 100,
               "capacity_volume_l": 500}
    bundle = {
        "depots": [{"id": "d1", "lat": -15.8, "lng": -47.9}],
        "vehicles": [{**vehicle, "capacity_parcels": -1, "id": "bad"}, vehicle,
                     {**vehicle, "id": "v2", "end_depot_id": "d9"}],
        "drivers": [{"id": "p1", "name": "P", "shift_start": "2025-03-10T08:00:00-03:00",
                     "shift_end": "2025-03-10T17:00:00-03:00", "vehicle_id": "v2"}],
        "extra": 1,
    }
    result = import_bundle(write(tmp_path, "day.json", json.dumps(bundle)))
    assert [v.id for v in result.vehicles.accepted] == ["v1"]
    assert [str(e) for e in result.vehicles.errors] == [
        "row 1, field 'capacity_parcels': must be >= 0, got -1",
        "row 3, field 'end_depot_id': unknown depot 'd9' (known: d1)",
    ]
    assert [(e.row, e.field) for e in result.drivers.errors] == [(1, "vehicle_id")]
    assert result.orders.accepted == [] and not result.ok
    assert "key 'extra' is not a bundle section and was ignored" in result.problems()
    with pytest.raises(ImportFileError, match="must be a JSON list"):
        import_bundle(write(tmp_path, "b.json", '{"orders": {"id": "a"}}'))
    with pytest.raises(ImportFileError, match=r"must be a \.json file"):
        import_bundle(write(tmp_path, "b.csv", "id\n"))


def test_examples_import_cleanly() -> None:
    orders = import_orders(EXAMPLES / "orders.csv")
    assert len(orders.accepted) == 10 and orders.ok and not orders.warnings
    windows = [w for o in orders.accepted for w in o.time_windows]
    assert len(windows) == 10 and all(w.start.utcoffset() == timedelta(hours=-3) for w in windows)
    fleet = import_bundle(EXAMPLES / "fleet.json")
    assert fleet.ok and not fleet.problems()
    counts = (len(fleet.depots.accepted), len(fleet.vehicles.accepted), len(fleet.drivers.accepted))
    assert counts == (1, 3, 3)
    assert fleet.depots.accepted[0].timezone == "America/Sao_Paulo"
    with_errors = import_orders(EXAMPLES / "orders_with_errors.csv")
    assert len(with_errors.accepted) == 9
    assert [str(e) for e in with_errors.errors] == [
        "row 7, field 'lat': must be within [-90, 90] degrees, got 91.0"]
