"""Day KPIs against hand-computed numbers, and the self-contained HTML day report."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from baton.domain.fleet import Depot, Driver, Vehicle
from baton.domain.lifecycle import OrderStatus
from baton.domain.order import Order
from baton.domain.plan import Route, Stop, StopKind, UnassignedOrder
from baton.domain.values import Address, CostRates, Customer, LatLng, Size, TimeWindow
from baton.reporting.html import write_day_report
from baton.reporting.kpis import DayKpis, compute_kpis, format_money, kpi_table, order_stops, route_kpis

TZ = ZoneInfo("America/Sao_Paulo")
DEPOT = Depot("dep", "Hub Sul", LatLng(-15.80, -47.90), timezone="America/Sao_Paulo")


def at(hh: int, mm: int = 0) -> datetime:
    return datetime(2024, 3, 4, hh, mm, tzinfo=TZ)


def window(a: tuple[int, int], b: tuple[int, int]) -> TimeWindow:
    return TimeWindow(at(*a), at(*b))


def order(oid: str, lat: float, lng: float, windows: list[TimeWindow], status: str, attempts: int,
          name: str | None = None) -> Order:
    return Order(id=oid, customer=Customer(name or f"Customer {oid}"),
                 address=Address(f"Rua {oid}", LatLng(lat, lng)), time_windows=windows,
                 status=OrderStatus(status), attempts=attempts)


def stop(seq: int, oid: str | None, planned: datetime, actual: datetime | None,
         kind: StopKind = StopKind.DELIVERY, service_min: int = 5) -> Stop:
    return Stop(seq, kind, oid, planned, planned + timedelta(minutes=service_min),
                actual_arrival=actual,
                actual_departure=None if actual is None else actual + timedelta(minutes=service_min))


@pytest.fixture()
def day() -> dict:
    """2 routes, 6 orders: on time, late (20 min), failed, second-attempt, two-window, unassigned."""
    orders = [
        order("o1", -15.79, -47.89, [window((9, 0), (11, 0))], "delivered", 1),
        order("o2", -15.78, -47.88, [window((9, 0), (10, 0))], "delivered", 1, name="Zoë <b>&amp;</b>"),
        order("o3", -15.77, -47.90, [window((10, 0), (12, 0))], "failed_attempt", 1),
        order("o4", -15.82, -47.92, [], "delivered", 2),
        order("o5", -15.83, -47.93, [window((8, 0), (9, 0)), window((13, 0), (14, 0))], "delivered", 1),
        order("o6", -15.85, -47.95, [window((9, 0), (17, 0))], "created", 0),
    ]
    r1 = Route("R1", "v1", "drv1", "dep", "dep", at(8), at(12), [
        stop(1, "o1", at(9, 20), at(9, 30)),
        stop(2, "o2", at(9, 50), at(10, 20)),
        stop(3, "o3", at(10, 40), at(10, 50)),
    ], distance_m=40_000, duration_s=4 * 3600, driving_s=6000,
        actual_start=at(8), actual_end=at(12, 30), actual_distance_m=42_000, actual_driving_s=7200)
    r2 = Route("R2", "v2", "drv2", "dep", "dep", at(8, 30), at(14), [
        stop(1, "o4", at(9, 0), at(9, 5)),
        stop(2, None, at(11, 0), at(11, 10), kind=StopKind.BREAK, service_min=30),
        stop(3, "o5", at(13, 0), at(13, 10)),
    ], distance_m=28_000, duration_s=int(5.5 * 3600), driving_s=5000,
        actual_start=at(8, 30), actual_end=at(14), actual_distance_m=30_500, actual_driving_s=5400)
    vehicles = {
        "v1": Vehicle("v1", Size(50), "dep", costs=CostRates(per_km=2.0, per_hour=30.0, fixed_per_day=100.0),
                      name="Van 1"),
        "v2": Vehicle("v2", Size(50), "dep", costs=CostRates(per_km=1.5, per_hour=20.0, fixed_per_day=80.0),
                      name="Van 2"),
    }
    return {"orders": orders, "routes": [r1, r2], "vehicles": vehicles}


def test_kpis_match_hand_computed_values(day: dict) -> None:
    k = compute_kpis(day["orders"], day["routes"], day["vehicles"], planning_seconds=2.5)
    assert (k.orders, k.delivered, k.failed, k.unassigned, k.cancelled) == (6, 4, 1, 1, 0)
    assert k.on_time_pct == pytest.approx(75.0)  # o1, o4 (no window), o5 (2nd window) of 4
    assert k.late_minutes == pytest.approx(20.0)  # o2: 10:20 vs window end 10:00
    assert k.first_attempt_success_pct == pytest.approx(60.0)  # o1, o2, o5 of 5 attempted
    assert k.km == pytest.approx(72.5)  # actual 42 + 30.5
    assert k.planned_km == pytest.approx(68.0)
    assert k.driving_hours == pytest.approx(3.5)  # (7200 + 5400) s
    # v1: 100 + 2 × 42 + 30 × 4.5 h = 319; v2: 80 + 1.5 × 30.5 + 20 × 5.5 h = 235.75
    assert k.cost == pytest.approx(554.75)
    assert k.cost_per_delivery == pytest.approx(554.75 / 4)
    assert k.vehicles_used == 2
    assert k.currency == "BRL" and k.planning_seconds == 2.5


def test_to_dict_is_json_ready_with_headline_keys_first(day: dict) -> None:
    d = compute_kpis(day["orders"], day["routes"], day["vehicles"]).to_dict()
    assert list(d)[:9] == ["orders", "delivered", "failed", "on_time_pct", "km", "driving_hours", "cost",
                           "cost_per_delivery", "vehicles_used"]
    assert d["cost"] == pytest.approx(554.75) and d["unassigned"] == 1
    assert all(v is None or isinstance(v, int | float | str) for v in d.values())


def test_routes_that_never_ran_use_planned_fields_and_empty_routes_cost_nothing(day: dict) -> None:
    r1, r2 = day["routes"]
    for r in (r1, r2):
        r.actual_start = r.actual_end = None
        for s in r.stops:
            s.actual_arrival = s.actual_departure = None
    empty = Route("R3", "v3", None, "dep", "dep", at(8), at(9), [], distance_m=0)
    vehicles = {**day["vehicles"], "v3": Vehicle("v3", Size(5), "dep", costs=CostRates(1, 1, 999))}
    k = compute_kpis(day["orders"], [r1, r2, empty], vehicles)
    assert k.km == pytest.approx(68.0) and k.driving_hours == pytest.approx(11000 / 3600)
    # planned hours: R1 4 h, R2 5.5 h → 100 + 80 + 80 + 120 + 42 + 110
    assert k.cost == pytest.approx(100 + 2 * 40 + 30 * 4 + 80 + 1.5 * 28 + 20 * 5.5)
    assert k.vehicles_used == 2
    # planned arrivals: o1 09:20 in, o2 09:50 in, o4 no window, o5 13:00 in → all on time
    assert k.on_time_pct == pytest.approx(100.0) and k.late_minutes == 0.0


def test_failed_counts_orders_in_every_failed_state_and_reattempts_once(day: dict) -> None:
    orders = day["orders"]
    orders[2].status = OrderStatus.RETURNED_TO_DEPOT
    orders[5].status = OrderStatus.CANCELLED
    late_visit = Route("R9", "v1", None, "dep", "dep", at(15), at(16),
                       [stop(1, "o3", at(15, 10), at(15, 10))],
                       actual_start=at(15), actual_end=at(16), actual_distance_m=1000)
    k = compute_kpis(orders, [*day["routes"], late_visit], day["vehicles"])
    assert (k.failed, k.cancelled, k.unassigned) == (1, 1, 0)
    orders[2].status = OrderStatus.REATTEMPT
    assert compute_kpis(orders, day["routes"], day["vehicles"]).failed == 1
    # v1 used twice: fixed cost once, hours and km of both routes
    assert k.cost == pytest.approx(319 + 235.75 + 2.0 * 1 + 30.0 * 1)
    assert k.vehicles_used == 2


def test_same_day_reattempt_is_judged_on_its_last_visit(day: dict) -> None:
    orders = day["orders"]
    orders[2].status, orders[2].attempts = OrderStatus.DELIVERED, 2  # o3: failed on R1 10:50, delivered later
    retry = Route("R9", "v1", None, "dep", "dep", at(12), at(13), [stop(1, "o3", at(12, 20), at(12, 30))],
                  actual_start=at(12, 5), actual_end=at(12, 50), actual_distance_m=5000)
    k = compute_kpis(orders, [*day["routes"], retry], day["vehicles"])
    assert (k.delivered, k.failed) == (5, 0)
    assert k.late_minutes == pytest.approx(20.0 + 30.0)  # o2, and o3 at 12:30 vs 12:00
    assert k.on_time_pct == pytest.approx(60.0)  # o1, o4, o5 of 5
    assert k.first_attempt_success_pct == pytest.approx(60.0)  # o1, o2, o5 of 5
    served = order_stops([*day["routes"], retry])
    assert served["o3"][0] is retry
    r1 = route_kpis(day["routes"][0], {o.id: o for o in orders}, day["vehicles"]["v1"], served)
    assert (r1.stops, r1.delivered, r1.failed, r1.on_time) == (3, 2, 0, 1)
    assert r1.cost == pytest.approx(319.0) and r1.on_time_pct == pytest.approx(50.0)


def test_nothing_delivered_gives_zero_ratios() -> None:
    k = compute_kpis([order("x", 0, 0, [], "created", 0)], [], {})
    assert (k.on_time_pct, k.cost_per_delivery, k.first_attempt_success_pct, k.unassigned) == (0, 0, 0, 1)


def test_errors_on_unknown_vehicle_and_mixed_currency(day: dict) -> None:
    with pytest.raises(KeyError):
        compute_kpis(day["orders"], day["routes"], {"v1": day["vehicles"]["v1"]})
    eur = {k: Vehicle(v.id, v.capacity, "dep", costs=CostRates(1, 1, 1, currency="EUR"))
           for k, v in day["vehicles"].items()}
    with pytest.raises(ValueError, match="EUR"):
        compute_kpis(day["orders"], day["routes"], eur)
    assert compute_kpis(day["orders"], day["routes"], eur, currency="EUR").currency == "EUR"


def test_kpi_table_shows_labels_and_units(day: dict) -> None:
    k = compute_kpis(day["orders"], day["routes"], day["vehicles"])
    console = Console(record=True, width=100)
    console.print(kpi_table(k))
    text = console.export_text()
    assert re.search(r"On-time deliveries\s+│\s+75\.0 %", text)
    assert re.search(r"Distance\s+│\s+72\.5 km", text)
    assert "R$ 554.75" in text and "R$ 138.69" in text
    assert format_money(12345.678, "BRL") == "R$ 12,345.68"
    assert format_money(1234.5, "CHF") == "CHF 1,234.50"


class _Checker(HTMLParser):
    """Checks nesting (every non-void element closed in order) and collects what the test needs."""

    VOID = frozenset({"meta", "link", "br", "hr", "img", "input", "source", "col", "area", "base", "wbr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.elements: list[tuple[str, dict[str, str | None], str | None]] = []  # (tag, attrs, open svg id)
        self.text: list[str] = []
        self._svg: list[str | None] = []

    def _record(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs), self._svg[-1] if self._svg else None))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._record(tag, attrs)
        if tag == "svg":
            self._svg.append(dict(attrs).get("id"))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._record(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()
        if tag == "svg" and self._svg:
            self._svg.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_report_is_self_contained_and_complete(day: dict, tmp_path: Path) -> None:
    k = compute_kpis(day["orders"], day["routes"], day["vehicles"])
    by_id = {o.id: o for o in day["orders"]}
    drivers = {"drv1": Driver("drv1", "Ana Lima", at(7), at(17))}
    path = write_day_report(
        tmp_path / "out" / "day.html", title="Hub Sul — 4 March 2024", kpis=k, depots=[DEPOT],
        routes=day["routes"], orders=by_id,
        unassigned=[UnassignedOrder("o6", "needs feature 'refrigerated', no vehicle has it")],
        notes=["synthetic: time windows, service times, names; seeded"],
        attribution="Locations: Loggi loggibud, https://github.com/loggi/loggibud (MIT)",
        vehicles=day["vehicles"], drivers=drivers, generated_at=at(18),
    )
    html = path.read_text(encoding="utf-8")
    p = _Checker()
    p.feed(html)
    p.close()
    assert p.errors == [] and p.stack == []
    text = " ".join(p.text)

    svgs = [a for tag, a, _ in p.elements if tag == "svg"]
    assert [a.get("id") for a in svgs].count("map") == 1
    assert all(a.get("role") == "img" and a.get("aria-labelledby") for a in svgs)
    in_map = [(tag, a) for tag, a, svg in p.elements if svg == "map"]
    polylines = [a for tag, a in in_map if tag == "polyline"]
    assert len(polylines) == 2  # one per route
    assert [len((a["points"] or "").split()) for a in polylines] == [5, 4]  # depot, stops (no break), depot
    assert sum(1 for tag, a in in_map if tag == "rect" and a.get("class") == "depot") == 1
    classes = [a.get("class") for tag, a in in_map if tag == "g"]
    assert classes.count("s-del") == 2 and classes.count("s-fail") == 1
    assert sum(1 for tag, _ in in_map if tag == "circle") == 5
    assert "ETA 09:50 · actual 10:20" in html and "20 min late" in html

    assert "timeline" in [a.get("id") for a in svgs]
    assert sum(1 for tag, a, _ in p.elements if tag == "circle" and "tl-late" in (a.get("class") or "")) == 1
    assert sum(1 for tag, a, _ in p.elements if tag == "rect" and a.get("class") == "tl-break") == 1

    assert "needs feature 'refrigerated', no vehicle has it" in text
    assert "synthetic: time windows, service times, names; seeded" in text
    assert "https://github.com/loggi/loggibud" in text  # shown as text ...
    for _tag, a, _ in p.elements:  # ... and never loaded
        for attr in ("src", "href", "xlink:href", "action", "srcset"):
            assert not re.match(r"\s*(https?:)?//", a.get(attr) or ""), (attr, a)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html) and "@import" not in html
    assert "<script" not in html

    assert "Zoë <b>&amp;</b>" in text and not any(tag == "b" for tag, _, _ in p.elements)  # escaped
    assert "75.0 %" in text and "R$ 554.75" in text and "R$ 319.00" in text and "Ana Lima" in text
    assert "2024-03-04 18:00" in text and "Hub Sul — 4 March 2024" in text


def test_empty_day_still_renders(tmp_path: Path) -> None:
    k = DayKpis(0, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0)
    path = write_day_report(tmp_path / "e.html", title="Empty", kpis=k, depots=[], routes=[], orders={},
                            unassigned=[])
    p = _Checker()
    p.feed(path.read_text(encoding="utf-8"))
    assert p.errors == [] and "No locations to draw" in " ".join(p.text)
