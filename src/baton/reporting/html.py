"""The self-contained HTML day report: KPI tiles, an SVG map of the routes, a per-route timeline.

The report is one file with inline CSS and inline SVG: no scripts, fonts, tiles or styles are
loaded from anywhere, so it opens offline and can be mailed as an attachment. The map uses an
equirectangular projection (x = lng × cos(mean lat), y = -lat) scaled to fit; times of day are
shown in the first depot's time zone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, FileSystemLoader

from baton.domain.fleet import Depot, Driver, Vehicle
from baton.domain.lifecycle import OrderStatus
from baton.domain.order import Order
from baton.domain.plan import Route, Stop, StopKind, UnassignedOrder
from baton.domain.values import LatLng
from baton.reporting.kpis import (
    FAILED_STATUSES,
    DayKpis,
    actual_end,
    format_money,
    kpi_rows,
    lateness_minutes,
    order_stops,
    route_kpis,
)

#: 20 distinct route colours (no pure red: red means late/failed in the report).
PALETTE: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
    "#393b79", "#637939", "#8c6d31", "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1",
    "#636363", "#a55194", "#6b6ecf", "#b5cf6b",
)

_TEMPLATES = Path(__file__).parent / "templates"
_MAP_MAX = 1000.0  # SVG user units, longest side of the map
_MAP_PAD = 24.0
_TL_LABEL = 170.0  # timeline: label column width, SVG units
_TL_WIDTH = 1000.0
_TL_ROW = 34.0
_TL_HEAD = 26.0

#: Above this many stops the report is compacted to stay small (about 3 MB for 15,000 stops):
#: map tooltips become one line and the timeline draws each row's marks as a few paths
#: without per-stop tooltips.
DETAIL_LIMIT = 3000


@dataclass(frozen=True)
class _Projection:
    """Maps WGS84 ``(lat, lng)`` degrees to SVG user units (y grows downwards)."""

    min_lng: float
    max_lat: float
    kx: float
    scale: float
    off_x: float
    off_y: float
    width: float
    height: float

    @classmethod
    def fit(cls, points: Sequence[LatLng]) -> _Projection:
        if not points:
            return cls(0.0, 0.0, 1.0, 1.0, 0.0, 0.0, _MAP_MAX, 300.0)
        mean_lat = sum(p.lat for p in points) / len(points)
        kx = math.cos(math.radians(mean_lat))
        min_lng, max_lng = min(p.lng for p in points), max(p.lng for p in points)
        min_lat, max_lat = min(p.lat for p in points), max(p.lat for p in points)
        dx = max((max_lng - min_lng) * kx, 1e-4)
        dy = max(max_lat - min_lat, 1e-4)
        inner = _MAP_MAX - 2 * _MAP_PAD
        scale = inner / max(dx, dy)
        width = max(dx * scale + 2 * _MAP_PAD, 300.0)
        height = max(dy * scale + 2 * _MAP_PAD, 300.0)
        off_x = (width - dx * scale) / 2
        off_y = (height - dy * scale) / 2
        return cls(min_lng, max_lat, kx, scale, off_x, off_y, round(width), round(height))

    def xy(self, p: LatLng) -> tuple[float, float]:
        x = self.off_x + (p.lng - self.min_lng) * self.kx * self.scale
        y = self.off_y + (self.max_lat - p.lat) * self.scale
        return round(x, 1), round(y, 1)


@dataclass(frozen=True)
class _Mark:
    """A stop on the timeline, in SVG x units: window ``(x, width)``, planned/actual arrival."""

    win: tuple[float, float] | None
    px: float
    ax: float | None
    late: bool
    tip: str


def _zone(depots: Sequence[Depot]) -> tzinfo:
    if depots:
        try:
            return ZoneInfo(depots[0].timezone)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return UTC


def _hm(t: datetime | None, zone: tzinfo) -> str:
    return "—" if t is None else t.astimezone(zone).strftime("%H:%M")


def _status_class(order: Order | None) -> str:
    if order is not None and order.status == OrderStatus.DELIVERED:
        return "del"
    if order is not None and order.status in FAILED_STATUSES:
        return "fail"
    return "pend"


def _stop_tip(stop: Stop, order: Order | None, route: Route, zone: tzinfo, *, detail: str = "full") -> str:
    """Hover text for a stop: ``full`` (several lines), ``line`` (one line) or ``brief`` (no window)."""
    who = order.customer.name if order is not None else "unknown order"
    status = order.status.value.replace("_", " ") if order is not None else "unknown"
    windows = ", ".join(f"{_hm(w.start, zone)}–{_hm(w.end, zone)}" for w in order.time_windows) \
        if order is not None and order.time_windows else "any time"
    late = lateness_minutes(order, stop.actual_arrival) if order is not None else 0.0
    status += f", {late:.0f} min late" if late > 0 else ""
    times = f"ETA {_hm(stop.planned_arrival, zone)} · actual {_hm(stop.actual_arrival, zone)}"
    if detail == "brief":
        return f"{stop.order_id} · {who} · {times} · {status}"
    if detail == "line":
        return f"{stop.order_id} · {who} · window {windows} · {times} · {status}"
    return "\n".join([f"{stop.order_id} · {who}", f"route {route.id}, stop {stop.sequence}",
                      f"window {windows}", times, f"status: {status}"])


def _build_map(
    depots: Sequence[Depot],
    routes: Sequence[Route],
    orders: dict[str, Order],
    unassigned: Sequence[UnassignedOrder],
    zone: tzinfo,
) -> dict[str, Any]:
    depot_by_id = {d.id: d for d in depots}
    points = [d.location for d in depots]
    points += [orders[s.order_id].location for r in routes for s in r.stops
               if s.order_id is not None and s.order_id in orders]
    points += [orders[u.order_id].location for u in unassigned if u.order_id in orders]
    proj = _Projection.fit(points)
    n_stops = sum(len(r.order_ids) for r in routes)
    radius = 4.0 if n_stops <= 200 else 3.0 if n_stops <= 600 else 2.2
    detail = "full" if n_stops <= DETAIL_LIMIT else "brief"
    out_routes = []
    for i, route in enumerate(routes):
        line: list[tuple[float, float]] = []
        if route.start_depot_id in depot_by_id:
            line.append(proj.xy(depot_by_id[route.start_depot_id].location))
        dots: dict[str, list[dict[str, Any]]] = {"del": [], "fail": [], "pend": []}
        for stop in route.stops:
            order = orders.get(stop.order_id) if stop.order_id is not None else None
            if order is None:
                continue
            x, y = proj.xy(order.location)
            line.append((x, y))
            dots[_status_class(order)].append(
                {"x": x, "y": y, "tip": _stop_tip(stop, order, route, zone, detail=detail)})
        if route.end_depot_id in depot_by_id:
            line.append(proj.xy(depot_by_id[route.end_depot_id].location))
        out_routes.append({
            "id": route.id, "label": route.vehicle_id, "color": PALETTE[i % len(PALETTE)], "dots": dots,
            "points": " ".join(f"{x:g},{y:g}" for x, y in line),
        })
    out_depots = []
    for d in depots:
        x, y = proj.xy(d.location)
        out_depots.append({"x": x, "y": y, "name": d.name or d.id,
                           "tip": f"Depot {d.name or d.id} ({d.location.lat:.5f}, {d.location.lng:.5f})"})
    out_unassigned = []
    for u in unassigned:
        order = orders.get(u.order_id)
        if order is not None:
            x, y = proj.xy(order.location)
            out_unassigned.append({"x": x, "y": y,
                                   "tip": f"{u.order_id} · {order.customer.name}\nunassigned: {u.reason}"})
    return {"width": proj.width, "height": proj.height, "routes": out_routes, "depots": out_depots,
            "unassigned": out_unassigned, "r": radius, "empty": not points}


def _floor_hour(t: datetime, zone: tzinfo) -> datetime:
    return t.astimezone(zone).replace(minute=0, second=0, microsecond=0)


def _build_timeline(
    routes: Sequence[Route], orders: dict[str, Order], zone: tzinfo, labels: list[str]
) -> dict[str, Any]:
    stamps: list[datetime] = []
    for r in routes:
        stamps += [r.start, r.end] + [t for t in (r.actual_start, r.actual_end) if t is not None]
        for s in r.stops:
            stamps += [s.planned_arrival, s.planned_departure]
            stamps += [t for t in (s.actual_arrival, s.actual_departure) if t is not None]
    if not stamps:
        return {"rows": [], "hours": [], "width": _TL_WIDTH, "height": _TL_HEAD + _TL_ROW, "top": 0}
    t0 = _floor_hour(min(stamps), zone).astimezone(UTC)
    t1 = _floor_hour(max(stamps), zone).astimezone(UTC) + timedelta(hours=1)
    span = max((t1 - t0).total_seconds(), 3600.0)
    plot_w = _TL_WIDTH - _TL_LABEL - 24
    compact = sum(len(r.stops) for r in routes) > DETAIL_LIMIT

    def x(t: datetime) -> float:
        clipped = min(max(t, t0), t1)
        return round(_TL_LABEL + (clipped - t0).total_seconds() / span * plot_w, 1)

    n_hours = round(span / 3600)
    step = 1 if n_hours <= 16 else 2
    ticks = [t0 + timedelta(hours=h) for h in range(0, n_hours + 1, step)]
    hours = [{"x": x(t), "label": _hm(t, zone)} for t in ticks]
    rows = []
    for i, route in enumerate(routes):
        y = round(_TL_HEAD + i * _TL_ROW, 1)
        marks: list[_Mark] = []
        breaks: list[dict[str, Any]] = []
        for stop in route.stops:
            if stop.kind == StopKind.BREAK:
                a = stop.actual_arrival or stop.planned_arrival
                b = stop.actual_departure or stop.planned_departure
                breaks.append({"x": x(a), "w": max(round(x(b) - x(a), 1), 1.0),
                               "tip": f"Break {_hm(a, zone)}–{_hm(b, zone)}"})
                continue
            order = orders.get(stop.order_id) if stop.order_id is not None else None
            window = order.window_at(stop.planned_arrival) if order is not None else None
            marks.append(_Mark(
                win=None if window is None else (x(window.start), round(x(window.end) - x(window.start), 1)),
                px=x(stop.planned_arrival),
                ax=None if stop.actual_arrival is None else x(stop.actual_arrival),
                late=order is not None and lateness_minutes(order, stop.actual_arrival) > 0,
                tip="" if compact else _stop_tip(stop, order, route, zone, detail="line"),
            ))
        paths = None
        if compact:  # a few paths per row instead of one group per stop; dots are round-capped h0 segments
            dots = [m for m in marks if m.ax is not None]
            paths = {
                "win": "".join(f"M{m.win[0]} {y + 5.5}h{m.win[1]}" for m in marks if m.win is not None),
                "plan": "".join(f"M{m.px} {y + 10}v14" for m in marks),
                "ok": "".join(f"M{m.ax} {y + 17}h0" for m in dots if not m.late),
                "late": "".join(f"M{m.ax} {y + 17}h0" for m in dots if m.late),
            }
            marks = []
        end = actual_end(route)
        rows.append({
            "y": y, "label": labels[i], "color": PALETTE[i % len(PALETTE)], "marks": marks, "paths": paths,
            "breaks": breaks, "plan": (x(route.start), x(route.end)),
            "actual": None if route.actual_start is None or end is None else (x(route.actual_start), x(end)),
        })
    return {"rows": rows, "hours": hours, "width": _TL_WIDTH, "top": _TL_HEAD - 4,
            "height": round(_TL_HEAD + len(routes) * _TL_ROW + 8, 1)}


def _route_rows(
    routes: Sequence[Route],
    orders: dict[str, Order],
    vehicles: dict[str, Vehicle],
    drivers: dict[str, Driver],
    currency: str,
) -> list[dict[str, Any]]:
    served = order_stops(routes)
    rows = []
    for i, route in enumerate(routes):
        vehicle = vehicles.get(route.vehicle_id)
        driver = drivers.get(route.driver_id) if route.driver_id is not None else None
        k = route_kpis(route, orders, vehicle, served)
        cost = k.cost if k.cost is not None else route.cost
        rows.append({
            "color": PALETTE[i % len(PALETTE)],
            "id": route.id,
            "vehicle": (vehicle.name or vehicle.id) if vehicle is not None else route.vehicle_id,
            "driver": driver.name if driver is not None else (route.driver_id or "—"),
            "stops": k.stops, "delivered": k.delivered, "failed": k.failed,
            "planned_km": f"{k.planned_km:,.1f}",
            "actual_km": f"{k.km:,.1f}" if k.ran else "—",
            "hours": f"{k.hours:,.2f}",
            "cost": format_money(cost, vehicle.costs.currency if vehicle is not None else currency),
            "on_time": "—" if k.on_time_pct is None else f"{k.on_time_pct:.1f} %",
        })
    return rows


def _unassigned_rows(unassigned: Sequence[UnassignedOrder], orders: dict[str, Order]) -> list[dict[str, str]]:
    rows = []
    for u in unassigned:
        order = orders.get(u.order_id)
        rows.append({
            "id": u.order_id,
            "customer": order.customer.name if order is not None else "—",
            "address": order.address.line if order is not None else "—",
            "reason": u.reason,
        })
    return rows


def render_day_report(
    *,
    title: str,
    kpis: DayKpis,
    depots: Sequence[Depot],
    routes: Sequence[Route],
    orders: dict[str, Order],
    unassigned: Sequence[UnassignedOrder],
    notes: Sequence[str] = (),
    attribution: str = "",
    vehicles: dict[str, Vehicle] | None = None,
    drivers: dict[str, Driver] | None = None,
    generated_at: datetime | None = None,
    pod_links: dict[str, str] | None = None,
) -> str:
    """The report as an HTML string (see :func:`write_day_report` for the arguments)."""
    zone = _zone(depots)
    vehicles = vehicles or {}
    drivers = drivers or {}
    table = _route_rows(routes, orders, vehicles, drivers, kpis.currency)
    labels = [f"{row['vehicle']}" + (f" · {row['driver']}" if row["driver"] != "—" else "") for row in table]
    env = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=True, trim_blocks=True,
                      lstrip_blocks=True)
    generated = (generated_at or datetime.now(UTC)).astimezone(zone)
    tiles = [{"label": label, "value": value, "main": i < 9}  # the nine headline KPIs stand out
             for i, (label, value) in enumerate(kpi_rows(kpis))]
    return env.get_template("day_report.html.j2").render(
        title=title,
        generated=generated.strftime("%Y-%m-%d %H:%M %Z"),
        zone=str(zone),
        tiles=tiles,
        map=_build_map(depots, routes, orders, unassigned, zone),
        timeline=_build_timeline(routes, orders, zone, labels),
        route_rows=table,
        unassigned=_unassigned_rows(unassigned, orders),
        notes=list(notes),
        attribution=attribution,
        pods=_pod_rows(routes, orders, pod_links, labels) if pod_links is not None else None,
    )


def _pod_rows(routes: Sequence[Route], orders: dict[str, Order], links: dict[str, str],
              labels: list[str]) -> list[dict[str, Any]]:
    """Per route: its label, colour and ``(order id, page href, status class)`` of each stop with a POD page."""
    return [{"label": labels[i], "color": PALETTE[i % len(PALETTE)],
             "links": [(o, links[o], _status_class(orders.get(o))) for o in r.order_ids if o in links]}
            for i, r in enumerate(routes)]


def write_day_report(
    path: Path,
    *,
    title: str,
    kpis: DayKpis,
    depots: list[Depot],
    routes: list[Route],
    orders: dict[str, Order],
    unassigned: list[UnassignedOrder],
    notes: Sequence[str] = (),
    attribution: str = "",
    vehicles: dict[str, Vehicle] | None = None,
    drivers: dict[str, Driver] | None = None,
    generated_at: datetime | None = None,
    pod_links: dict[str, str] | None = None,
) -> Path:
    """Write the day report to ``path`` (UTF-8, one self-contained HTML file) and return it.

    ``orders`` maps order id to order (stops and unassigned entries whose order is missing
    are shown by id only); ``notes`` are shown as a list (e.g. what is synthetic);
    ``attribution`` is plain text at the bottom (URLs in it are text, never loaded).
    Optional ``vehicles``/``drivers`` (by id) give names and per-route actual costs; without
    them the table shows ids and each route's planned ``cost``. ``generated_at`` (aware,
    default now) is the generation time shown in the header. Times of day are in the first
    depot's time zone (UTC when there is none or it is unknown). Parent directories are
    created. ``pod_links`` (order id → page path relative to the report, see
    :mod:`baton.reporting.pod_pages`) adds a "Proofs of delivery" section linking each order's POD page.

    Raises:
        OSError: when the file cannot be written.
    """
    html = render_day_report(
        title=title, kpis=kpis, depots=depots, routes=routes, orders=orders, unassigned=unassigned,
        notes=notes, attribution=attribution, vehicles=vehicles, drivers=drivers,
        generated_at=generated_at, pod_links=pod_links,
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path


__all__ = ["PALETTE", "render_day_report", "write_day_report"]
