"""Day KPIs: what a delivery day achieved, from the orders' final states and the routes' actuals.

Every figure prefers what actually happened (``Route.actual_*``, ``Stop.actual_arrival``) and
falls back to the plan for routes that never ran (``actual_start is None``), so the same code
reports a planned day and an executed one. Units: distances in km, durations in hours or
minutes as named, money in the vehicles' currency (ISO 4217 code in ``currency``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.table import Table

from baton.domain.fleet import Vehicle
from baton.domain.lifecycle import OrderStatus
from baton.domain.order import Order
from baton.domain.plan import Route, Stop

#: Final statuses that count an order as failed (an attempt was made and did not deliver).
FAILED_STATUSES: frozenset[OrderStatus] = frozenset(
    {OrderStatus.FAILED_ATTEMPT, OrderStatus.RETURNED_TO_DEPOT, OrderStatus.REATTEMPT}
)

_CURRENCY_SYMBOLS: dict[str, str] = {"BRL": "R$", "USD": "US$", "EUR": "€", "GBP": "£"}


@dataclass(frozen=True)
class DayKpis:
    """A day's key performance indicators (see :func:`compute_kpis` for the definitions).

    ``km``/``planned_km`` in kilometres, ``driving_hours`` in hours, ``late_minutes`` in
    minutes, ``cost``/``cost_per_delivery`` in ``currency``, percentages in [0, 100],
    ``planning_seconds`` the solver's wall time in seconds.
    """

    orders: int
    delivered: int
    failed: int
    on_time_pct: float
    km: float
    driving_hours: float
    cost: float
    cost_per_delivery: float
    vehicles_used: int
    unassigned: int = 0
    cancelled: int = 0
    first_attempt_success_pct: float = 0.0
    late_minutes: float = 0.0
    currency: str = "BRL"
    planned_km: float = 0.0
    planning_seconds: float = 0.0
    #: Share (0–100) of delivered orders whose proof of delivery is complete; ``None``: PODs not tracked.
    pod_complete_pct: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, keys in field order (the nine headline KPIs first)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class RouteKpis:
    """One route's figures: ``km``/``planned_km`` in km, ``hours`` of route duration,
    ``driving_hours``, ``cost`` in the vehicle's currency (``None`` without a vehicle),
    ``on_time_pct`` over the route's delivered orders (``None`` when it delivered none)."""

    route_id: str
    ran: bool
    used: bool
    stops: int
    delivered: int
    failed: int
    on_time: int
    km: float
    planned_km: float
    hours: float
    driving_hours: float
    cost: float | None
    on_time_pct: float | None


def route_ran(route: Route) -> bool:
    """True when the route started executing (``actual_start`` is set)."""
    return route.actual_start is not None


def actual_end(route: Route) -> datetime | None:
    """When the route ended: ``actual_end``; for a route still running, its latest recorded
    actual arrival/departure (its ``actual_start`` when none); ``None`` when it never ran."""
    if route.actual_start is None:
        return None
    if route.actual_end is not None:
        return route.actual_end
    stamps = [t for s in route.stops for t in (s.actual_arrival, s.actual_departure) if t is not None]
    return max(stamps, default=route.actual_start)


def route_hours(route: Route) -> float:
    """Route duration in hours: ``actual_end - actual_start`` when it ran (see :func:`actual_end`
    for a route still running), else the planned ``end - start``."""
    end = actual_end(route)
    if route.actual_start is None or end is None:
        return max((route.end - route.start).total_seconds(), 0.0) / 3600.0
    return max((end - route.actual_start).total_seconds(), 0.0) / 3600.0


def route_visited(route: Route) -> bool:
    """True when the route visited at least one order stop: one with an ``actual_arrival``
    when it ran, any order stop when it is only planned."""
    order_stops = [s for s in route.stops if s.order_id is not None]
    if route_ran(route):
        return any(s.actual_arrival is not None for s in order_stops)
    return bool(order_stops)


def arrival_of(stop: Stop) -> datetime:
    """The stop's actual arrival, else its planned arrival (aware instant)."""
    return stop.actual_arrival if stop.actual_arrival is not None else stop.planned_arrival


def order_stops(routes: Iterable[Route]) -> dict[str, tuple[Route, Stop]]:
    """Each order id to the stop that served it last.

    An order visited by several routes (a same-day reattempt) maps to the visit with the
    latest arrival (actual, else planned).
    """
    found: dict[str, tuple[Route, Stop]] = {}
    for route in routes:
        for stop in route.stops:
            if stop.order_id is None:
                continue
            previous = found.get(stop.order_id)
            if previous is None or arrival_of(stop) >= arrival_of(previous[1]):
                found[stop.order_id] = (route, stop)
    return found


def is_on_time(order: Order, arrival: datetime | None) -> bool:
    """True when ``order`` has no time window, or ``arrival`` lies inside one of them.

    An unknown arrival (``None``) of a windowed order is not on time: punctuality cannot be shown.
    """
    if not order.time_windows:
        return True
    if arrival is None:
        return False
    return any(w.contains(arrival) for w in order.time_windows)


def lateness_minutes(order: Order, arrival: datetime | None) -> float:
    """Minutes ``arrival`` is after the end of the window it falls in or follows (0 when on time,
    early, unknown, or the order has no window)."""
    if arrival is None:
        return 0.0
    window = order.window_at(arrival)
    return 0.0 if window is None else window.lateness(arrival).total_seconds() / 60.0


def _pct(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def route_kpis(
    route: Route,
    orders: dict[str, Order],
    vehicle: Vehicle | None = None,
    served: dict[str, tuple[Route, Stop]] | None = None,
) -> RouteKpis:
    """Figures for one route.

    ``orders`` maps id to order (stops of unknown orders count as stops, not deliveries).
    ``served`` (from :func:`order_stops` over the whole day) credits an order's final status
    only to the visit that served it last, so a failed visit followed by a same-day
    reattempt elsewhere is not counted twice. ``cost`` = fixed_per_day + per_km × km +
    per_hour × hours when ``vehicle`` is given and the route was used (0 when unused), else
    ``None``.
    """
    ran = route_ran(route)
    used = route_visited(route)
    km = (route.actual_distance_m if ran else route.distance_m) / 1000.0
    hours = route_hours(route)
    delivered = failed = on_time = 0
    for stop in route.stops:
        order = orders.get(stop.order_id) if stop.order_id is not None else None
        if order is None:
            continue
        if served is not None and served.get(order.id, (route, stop))[1] is not stop:
            continue
        if order.status == OrderStatus.DELIVERED:
            delivered += 1
            on_time += is_on_time(order, stop.actual_arrival if ran else stop.planned_arrival)
        elif order.status in FAILED_STATUSES:
            failed += 1
    cost: float | None = None
    if vehicle is not None:
        rates = vehicle.costs
        cost = rates.fixed_per_day + rates.per_km * km + rates.per_hour * hours if used else 0.0
    return RouteKpis(
        route_id=route.id,
        ran=ran,
        used=used,
        stops=len(route.order_ids),
        delivered=delivered,
        failed=failed,
        on_time=on_time,
        km=km,
        planned_km=route.distance_m / 1000.0,
        hours=hours,
        driving_hours=(route.actual_driving_s if ran else route.driving_s) / 3600.0,
        cost=cost,
        on_time_pct=_pct(on_time, delivered) if delivered else None,
    )


def compute_kpis(
    orders: list[Order],
    routes: list[Route],
    vehicles: dict[str, Vehicle],
    *,
    planning_seconds: float = 0.0,
    currency: str = "BRL",
) -> DayKpis:
    """Compute a day's KPIs.

    Definitions (a route "ran" when its ``actual_start`` is set; otherwise its planned
    fields stand in for the actual ones):

    * ``orders``: every order given (cancelled ones included).
    * ``delivered``: orders whose final status is ``delivered``.
    * ``failed``: orders whose final status is ``failed_attempt``, ``returned_to_depot`` or
      ``reattempt`` (orders, not attempts).
    * ``cancelled``: orders whose final status is ``cancelled``.
    * ``unassigned``: orders neither cancelled nor visited by any route's stop.
    * ``on_time_pct``: delivered orders whose arrival (the stop's ``actual_arrival``; the
      ``planned_arrival`` on a route that never ran) lies inside one of their time windows
      / delivered × 100. An order with no window is on time; early arrivals are not; a
      delivered order on no route has no known arrival and is on time only without a window.
    * ``late_minutes``: Σ over delivered orders of minutes between that arrival and the end of
      the window it falls in or follows (:meth:`Order.window_at`).
    * ``first_attempt_success_pct``: delivered on attempt 1 / orders attempted × 100, where an
      order is attempted when ``attempts >= 1`` or its status is delivered or failed (an order
      delivered with ``attempts <= 1`` counts as delivered on attempt 1).
    * ``km``/``driving_hours``: Σ ``actual_distance_m``/``actual_driving_s`` of routes that ran
      (``distance_m``/``driving_s`` otherwise), in km/hours; ``planned_km``: Σ ``distance_m``.
    * ``vehicles_used``: distinct vehicles of routes that visited at least one order stop
      (a stop with an ``actual_arrival`` when the route ran).
    * ``cost``: Σ over used routes of per_km × km + per_hour × route hours (``actual_end -
      actual_start``, planned ``end - start`` when it never ran), plus ``fixed_per_day`` once
      per used vehicle, in the vehicles' ``currency``.
    * ``cost_per_delivery``: cost / delivered (0 when nothing was delivered).

    Raises:
        KeyError: when a route's ``vehicle_id`` is not in ``vehicles``.
        ValueError: when a used vehicle's cost currency differs from ``currency``.
    """
    by_id = {o.id: o for o in orders}
    served = order_stops(routes)
    delivered = [o for o in orders if o.status == OrderStatus.DELIVERED]
    failed = sum(1 for o in orders if o.status in FAILED_STATUSES)
    cancelled = sum(1 for o in orders if o.status == OrderStatus.CANCELLED)
    unassigned = sum(1 for o in orders if o.status != OrderStatus.CANCELLED and o.id not in served)

    on_time = 0
    late_minutes = 0.0
    for order in delivered:
        visit = served.get(order.id)
        arrival = None
        if visit is not None:
            route, stop = visit
            arrival = stop.actual_arrival if route_ran(route) else stop.planned_arrival
        on_time += is_on_time(order, arrival)
        late_minutes += lateness_minutes(order, arrival)

    attempted = [o for o in orders if o.attempts >= 1 or o.status == OrderStatus.DELIVERED
                 or o.status in FAILED_STATUSES]
    first_time = sum(1 for o in attempted if o.status == OrderStatus.DELIVERED and o.attempts <= 1)

    km = driving_hours = cost = 0.0
    used_vehicles: set[str] = set()
    for route in routes:
        vehicle = vehicles[route.vehicle_id]
        figures = route_kpis(route, by_id, vehicle, served)
        km += figures.km
        driving_hours += figures.driving_hours
        if not figures.used:
            continue
        rates = vehicle.costs
        if rates.currency != currency:
            raise ValueError(
                f"vehicle {vehicle.id} costs are in {rates.currency}, the report is in {currency}"
            )
        cost += rates.per_km * figures.km + rates.per_hour * figures.hours
        if vehicle.id not in used_vehicles:
            used_vehicles.add(vehicle.id)
            cost += rates.fixed_per_day

    return DayKpis(
        orders=len(orders),
        delivered=len(delivered),
        failed=failed,
        on_time_pct=_pct(on_time, len(delivered)),
        km=km,
        driving_hours=driving_hours,
        cost=cost,
        cost_per_delivery=cost / len(delivered) if delivered else 0.0,
        vehicles_used=len(used_vehicles),
        unassigned=unassigned,
        cancelled=cancelled,
        first_attempt_success_pct=_pct(first_time, len(attempted)),
        late_minutes=late_minutes,
        currency=currency,
        planned_km=sum(r.distance_m for r in routes) / 1000.0,
        planning_seconds=planning_seconds,
    )


def format_money(amount: float, currency: str) -> str:
    """``1234.5, "BRL"`` → ``"R$ 1,234.50"``; unknown codes are written out (``"CHF 1,234.50"``)."""
    return f"{_CURRENCY_SYMBOLS.get(currency, currency)} {amount:,.2f}"


def kpi_rows(kpis: DayKpis) -> list[tuple[str, str]]:
    """``(label, formatted value with unit)`` pairs, in display order (shared by CLI and HTML)."""
    money = kpis.currency
    return [
        ("Orders", f"{kpis.orders:,}"),
        ("Delivered", f"{kpis.delivered:,}"),
        ("Failed", f"{kpis.failed:,}"),
        ("On-time deliveries", f"{kpis.on_time_pct:.1f} %"),
        ("Distance", f"{kpis.km:,.1f} km"),
        ("Driving time", f"{kpis.driving_hours:,.1f} h"),
        ("Cost", format_money(kpis.cost, money)),
        ("Cost per delivery", format_money(kpis.cost_per_delivery, money)),
        ("Vehicles used", f"{kpis.vehicles_used:,}"),
        ("Unassigned", f"{kpis.unassigned:,}"),
        ("Cancelled", f"{kpis.cancelled:,}"),
        ("First-attempt success", f"{kpis.first_attempt_success_pct:.1f} %"),
        ("Lateness (sum)", f"{kpis.late_minutes:,.0f} min"),
        ("Planned distance", f"{kpis.planned_km:,.1f} km"),
        ("Planning time", f"{kpis.planning_seconds:,.1f} s"),
    ] + ([] if kpis.pod_complete_pct is None else [("POD complete", f"{kpis.pod_complete_pct:.1f} %")])


def kpi_table(kpis: DayKpis) -> Table:
    """A two-column :class:`rich.table.Table` (label, value with unit) for the CLI."""
    table = Table(title="Day KPIs", show_header=True, header_style="bold")
    table.add_column("KPI")
    table.add_column("Value", justify="right")
    for label, value in kpi_rows(kpis):
        table.add_row(label, value)
    return table


__all__ = [
    "FAILED_STATUSES",
    "DayKpis",
    "RouteKpis",
    "actual_end",
    "arrival_of",
    "compute_kpis",
    "format_money",
    "is_on_time",
    "kpi_rows",
    "kpi_table",
    "lateness_minutes",
    "order_stops",
    "route_hours",
    "route_kpis",
    "route_ran",
    "route_visited",
]
