"""The solver-neutral layer between domain objects and the planner's integer world.

Everything here is pure (no PyVRP) so that the model builder, the unassigned-order
explainer and the planner share one reading of the problem:

* **clock**: integer seconds since ``day_start`` (:func:`resolve_day_start`); every modelled
  instant is clipped to ``[0, HORIZON_S]``;
* **matrix layout**: point ``i < len(depots)`` is ``problem.depots[i]``, point
  ``len(depots) + j`` is ``problem.orders[j]`` (:func:`matrix_points`, :func:`order_point`);
* **size units**: parcels (count), weight in 0.1 kg, volume in 0.1 L; demands are rounded
  UP and capacities DOWN, so an order the model accepts always fits the real vehicle
  (:func:`demand_units`, :func:`capacity_units`);
* **crews**: a vehicle paired with its driver, with its shift as integer bounds and the time
  reserved for the driver's breaks (:class:`Crew`, :func:`build_crews`);
* **breaks**: PyVRP 0.14 has no driver breaks; the model leaves room for them
  (:func:`breaks_needed`, :func:`break_safe_windows`) and the planner places them after solving.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from baton.adapters.travel.base import TravelMatrices, TravelTimeProvider
from baton.domain.errors import DomainError
from baton.domain.fleet import Driver, Vehicle
from baton.domain.order import Order
from baton.domain.values import BreakRule, LatLng, Size
from baton.planning.problem import PlanningProblem

HORIZON_S = 48 * 3600
"""Length of the planning clock, seconds: every instant is clipped to ``[0, HORIZON_S]``."""
DAY_S = 24 * 3600
WEIGHT_SCALE = 10
"""Integer weight units per kg (0.1 kg resolution)."""
VOLUME_SCALE = 10
"""Integer volume units per litre (0.1 L resolution)."""
_EPS = 1e-9


class PlanningError(DomainError, ValueError):
    """The problem cannot be planned at all: no depot, no vehicle, or a dangling depot reference."""


def resolve_day_start(problem: PlanningProblem) -> datetime:
    """The zero of the solver clock: ``problem.day_start``, or a local midnight.

    The default is midnight, in the first depot's timezone, of the local day of the earliest
    driver shift start (else the earliest depot opening, else the earliest order window
    start, else today).

    Raises:
        PlanningError: when the problem has no depot (there is no timezone to read).
    """
    if problem.day_start is not None:
        return problem.day_start
    if not problem.depots:
        raise PlanningError("cannot plan without a depot")
    tz = ZoneInfo(problem.depots[0].timezone)
    first = _earliest_start(problem)
    if first is None:
        windows = [w.start for o in problem.orders for w in o.time_windows]
        first = min(windows).astimezone(tz) if windows else datetime.now(tz)
    return first.replace(hour=0, minute=0, second=0, microsecond=0)


def _earliest_start(problem: PlanningProblem) -> datetime | None:
    """The earliest driver shift start (else depot opening) in the first depot's timezone (as given
    when there is no depot); ``None`` when there is neither."""
    starts = [d.shift_start for d in problem.drivers] or [d.opens for d in problem.depots if d.opens is not None]
    if not starts:
        return None
    first = min(starts)
    return first.astimezone(ZoneInfo(problem.depots[0].timezone)) if problem.depots else first


def to_clock(instant: datetime, day_start: datetime) -> int:
    """Seconds (floored) from ``day_start`` to the aware ``instant``; may be negative.

    Computed in UTC: Python subtracts datetimes sharing a tzinfo as wall-clock times, which is
    wrong across a daylight-saving change."""
    return math.floor((instant.astimezone(UTC) - day_start.astimezone(UTC)).total_seconds())


def from_clock(seconds: int, day_start: datetime) -> datetime:
    """The aware instant ``seconds`` after ``day_start``, in ``day_start``'s timezone."""
    return (day_start.astimezone(UTC) + timedelta(seconds=int(seconds))).astimezone(day_start.tzinfo)


def matrix_points(problem: PlanningProblem) -> list[LatLng]:
    """The matrix points, ``(lat, lng)``: every depot (in order), then every order (in order)."""
    return [d.location for d in problem.depots] + [o.location for o in problem.orders]


def order_point(problem: PlanningProblem, order_index: int) -> int:
    """Matrix index of ``problem.orders[order_index]``."""
    return len(problem.depots) + order_index


def departure_instant(problem: PlanningProblem) -> datetime:
    """The instant used to ask the travel provider for matrices: the earliest shift start
    (or depot opening), else ``day_start``, expressed in the first depot's timezone.

    Providers pick their time-of-day speed band by the instant's own local time, and instants read
    back from the database are in UTC: 08:00 in Sao Paulo must ask for the 08:00 band, not 11:00's.
    """
    first = _earliest_start(problem)
    return resolve_day_start(problem) if first is None else first


def problem_matrices(problem: PlanningProblem, travel: TravelTimeProvider) -> TravelMatrices:
    """Distance (m) and duration (s) matrices for :func:`matrix_points`, asked once at
    :func:`departure_instant`.

    Raises:
        TravelTimeError: when the provider cannot answer.
    """
    return travel.matrices(matrix_points(problem), depart_at=departure_instant(problem))


def demand_units(size: Size) -> tuple[int, int, int]:
    """An order's size in integer units (parcels, 0.1 kg, 0.1 L), rounded UP."""
    return (
        math.ceil(size.parcels - _EPS),
        math.ceil(size.weight_kg * WEIGHT_SCALE - _EPS),
        math.ceil(size.volume_l * VOLUME_SCALE - _EPS),
    )


def capacity_units(size: Size) -> tuple[int, int, int]:
    """A vehicle's capacity in integer units (parcels, 0.1 kg, 0.1 L), rounded DOWN."""
    return (
        math.floor(size.parcels + _EPS),
        math.floor(size.weight_kg * WEIGHT_SCALE + _EPS),
        math.floor(size.volume_l * VOLUME_SCALE + _EPS),
    )


def check_pickups(problem: PlanningProblem) -> None:
    """Refuse returns and transfers the model cannot plan faithfully (see :class:`PlanningProblem`).

    Raises:
        PlanningError: when a ``problem.pickups`` or ``problem.transfers`` id is not an order, a
            transfer joins an order to itself, an order is in two transfers or is both a return
            and part of a transfer, or an order of a transfer has more than one time window.
    """
    orders = {o.id: o for o in problem.orders}
    unknown = sorted(problem.pickups - set(orders))
    if unknown:
        raise PlanningError(f"pickups: unknown order id(s) {', '.join(unknown[:5])}")
    seen: set[str] = set()
    for pickup, delivery in problem.transfers:
        for ident in (pickup, delivery):
            if ident not in orders:
                raise PlanningError(f"transfers: unknown order id {ident!r} in {pickup}->{delivery}")
            if ident in seen or ident in problem.pickups or pickup == delivery:
                raise PlanningError(f"transfers: order {ident} is in another transfer, is a return, "
                                    f"or is both ends of {pickup}->{delivery}")
            if len(orders[ident].time_windows) > 1:
                raise PlanningError(f"transfers: order {ident} of {pickup}->{delivery} has several time "
                                    "windows; a transfer step takes one")
            seen.add(ident)


def trip_peak_load(problem: PlanningProblem, trip: Sequence[int]) -> tuple[int, ...]:
    """The most a vehicle holds, per dimension (:func:`demand_units`), on a trip serving the
    orders ``trip`` (indices) in that order: it leaves with every delivery of the trip, drops
    each delivery and collects each return (``problem.pickups``) as it goes; a transfer's goods
    (its pickup order's ``size``) are loaded at the pickup and unloaded at the delivery."""
    carried: dict[str, int] = {}
    if problem.transfers:
        index = {o.id: j for j, o in enumerate(problem.orders)}
        carried = {d: index[p] for p, d in problem.transfers}
        carried.update({p: index[p] for p, _ in problem.transfers})
    load = [0, 0, 0]
    moves = []
    for j in trip:
        ident = problem.orders[j].id
        units = demand_units(problem.orders[carried.get(ident, j)].size)
        loaded = ident in problem.pickups or (ident in carried and carried[ident] == j)
        moves.append(units if loaded else tuple(-u for u in units))
        if not loaded and ident not in carried:
            load = [a + u for a, u in zip(load, units, strict=True)]
    peak = list(load)
    for move in moves:
        load = [a + m for a, m in zip(load, move, strict=True)]
        peak = [max(p, a) for p, a in zip(peak, load, strict=True)]
    return tuple(peak)


def transfer_partners(problem: PlanningProblem) -> dict[int, int]:
    """Order index -> the index of the other order of its transfer (both directions)."""
    index = {o.id: j for j, o in enumerate(problem.orders)}
    pairs = [(index[p], index[d]) for p, d in problem.transfers]
    return {**dict(pairs), **{d: p for p, d in pairs}}


def window_bounds(order: Order, day_start: datetime) -> list[tuple[int, int]]:
    """The order's windows as ``(earliest, latest)`` service start, clock seconds, clipped to
    ``[0, HORIZON_S]``; no window at all means ``[(0, HORIZON_S)]``; windows entirely outside
    the horizon are left out (an empty list means the order cannot be served)."""
    if not order.time_windows:
        return [(0, HORIZON_S)]
    bounds = []
    for w in order.time_windows:
        early = max(0, to_clock(w.start, day_start))
        late = min(HORIZON_S, to_clock(w.end, day_start))
        if early <= late:
            bounds.append((early, late))
    return bounds


def leg_duration(duration_s: int, speed_factor: float) -> int:
    """A leg's duration (s) for a vehicle of ``speed_factor``: ``ceil(duration_s / factor)``."""
    if speed_factor == 1.0:
        return int(duration_s)
    return math.ceil(duration_s / speed_factor - _EPS)


def breaks_needed(rule: BreakRule | None, span_s: int) -> int:
    """How many breaks a route of at most ``span_s`` seconds (breaks included) may need.

    The smallest ``k`` with ``span_s - k * duration_s <= (k + 1) * after_work_s``: ``k``
    breaks split the work into ``k + 1`` stretches of at most ``after_work_s``.
    """
    if rule is None or rule.duration_s == 0 or span_s <= rule.after_work_s:
        return 0
    return math.ceil((span_s - rule.after_work_s) / (rule.after_work_s + rule.duration_s))


@dataclass(frozen=True)
class Crew:
    """A vehicle with its driver for the day, in clock seconds.

    ``earliest_start_s`` is when work (loading included) may begin; ``latest_end_s`` when the
    vehicle must be back at ``end_depot`` (matrix/depot index); ``max_working_s`` caps the whole
    route (loading, driving, service, waiting, breaks). ``reserved_break_s`` is the break time
    the model withholds from both the shift end and the working limit, so that inserting the
    breaks after solving cannot overrun either (see :func:`break_safe_windows` and
    :func:`baton.planning.planner.schedule`). ``break_rule`` is
    ``None`` without a driver or with a zero-length break. ``overtime_s`` is the paid overtime
    the crew may work (already included in ``latest_end_s`` and ``max_working_s``); each hour of
    it costs ``overtime_per_hour`` (currency) on top of the vehicle's ``per_hour``.
    """

    vehicle: Vehicle
    driver: Driver | None
    start_depot: int
    end_depot: int
    earliest_start_s: int
    latest_end_s: int
    max_working_s: int
    loading_s: int
    break_rule: BreakRule | None
    reserved_break_s: int
    capabilities: frozenset[str]
    overtime_s: int = 0
    overtime_per_hour: float = 0.0

    @property
    def regular_working_s(self) -> int:
        """Working time paid at the regular rate, seconds (``max_working_s`` less overtime)."""
        return self.max_working_s - self.overtime_s

    @property
    def model_regular_s(self) -> int:
        """Regular route duration the solver sees (PyVRP ``shift_duration``), seconds."""
        return self.model_max_duration_s - self.overtime_s

    def overtime_worked_s(self, route_s: int) -> int:
        """Seconds of a route of ``route_s`` seconds (loading to return) paid as overtime."""
        return max(0, route_s - self.regular_working_s)

    @property
    def model_latest_end_s(self) -> int:
        """Latest return the solver may plan, seconds (shift end minus reserved breaks)."""
        return self.latest_end_s - self.reserved_break_s

    @property
    def model_max_duration_s(self) -> int:
        """Longest route the solver may plan, seconds (working limit minus reserved breaks)."""
        return self.max_working_s - self.reserved_break_s

    def can_serve(self, required: frozenset[str]) -> bool:
        """True when vehicle features and driver skills together cover ``required``."""
        return required <= self.capabilities

    def fits(self, size: Size) -> bool:
        """True when ``size`` fits the vehicle in integer units (see :func:`demand_units`)."""
        cap = capacity_units(self.vehicle.capacity)
        return all(d <= c for d, c in zip(demand_units(size), cap, strict=True))

    def leg(self, matrices: TravelMatrices, frm: int, to: int) -> tuple[int, int]:
        """``(metres, seconds)`` from matrix point ``frm`` to ``to`` at this vehicle's speed."""
        return (
            int(matrices.distance_m[frm, to]),
            leg_duration(int(matrices.duration_s[frm, to]), self.vehicle.speed_factor),
        )


def pair_drivers(problem: PlanningProblem) -> list[tuple[Vehicle, Driver | None]]:
    """Vehicles with their drivers: first each vehicle with the driver whose ``vehicle_id`` is
    it, then the remaining drivers with the remaining vehicles in list order. A vehicle left
    without a driver is not used; with no drivers at all, every vehicle is used driverless."""
    if not problem.drivers:
        return [(v, None) for v in problem.vehicles]
    by_vehicle: dict[str, Driver] = {}
    free: list[Driver] = []
    ids = {v.id for v in problem.vehicles}
    for d in problem.drivers:
        if d.vehicle_id in ids and d.vehicle_id not in by_vehicle:
            by_vehicle[d.vehicle_id] = d
        else:
            free.append(d)
    pairs: list[tuple[Vehicle, Driver | None]] = []
    for v in problem.vehicles:
        driver = by_vehicle.get(v.id)
        if driver is None and free:
            driver = free.pop(0)
        if driver is not None:
            pairs.append((v, driver))
    return pairs


def build_crews(problem: PlanningProblem, day_start: datetime, overtime_s: int = 0,
                overtime_per_hour: float = 0.0) -> list[Crew]:
    """One :class:`Crew` per (vehicle, driver) pair (see :func:`pair_drivers`), in vehicle order.

    Shift bounds are the driver's shift intersected with the start depot's opening and the end
    depot's closing; driverless vehicles run from opening to closing (else the whole first day).
    Crews whose bounds leave no time are left out. ``overtime_s`` (seconds, >= 0) of paid
    overtime extend both a driver's shift end and working limit (never past the depot's
    closing); driverless vehicles get none.

    Raises:
        PlanningError: when there is no depot or no vehicle, a vehicle names an unknown depot,
            or two orders, vehicles, drivers or depots share an id.
    """
    if not problem.depots:
        raise PlanningError("cannot plan without a depot")
    if not problem.vehicles:
        raise PlanningError("cannot plan without a vehicle (empty fleet)")
    for kind, items in (("order", problem.orders), ("vehicle", problem.vehicles),
                        ("driver", problem.drivers), ("depot", problem.depots)):
        seen: set[str] = set()
        for item in items:
            if item.id in seen:
                raise PlanningError(f"two {kind}s share the id {item.id!r}")
            seen.add(item.id)
    depot_index = {d.id: i for i, d in enumerate(problem.depots)}
    crews = []
    for vehicle, driver in pair_drivers(problem):
        for ref in (vehicle.start_depot_id, vehicle.returns_to):
            if ref not in depot_index:
                raise PlanningError(f"vehicle {vehicle.id} refers to unknown depot {ref!r}")
        start, end = problem.depots[depot_index[vehicle.start_depot_id]], problem.depots[
            depot_index[vehicle.returns_to]]
        early = to_clock(start.opens, day_start) if start.opens else 0
        late = to_clock(end.closes, day_start) if end.closes else (HORIZON_S if driver else DAY_S)
        working = HORIZON_S
        rule: BreakRule | None = None
        extra, depot_late = 0, late
        if driver is not None:
            early = max(early, to_clock(driver.shift_start, day_start))
            late = min(late, to_clock(driver.shift_end, day_start))
            working = driver.max_working_time_s
            rule = driver.break_rule if driver.break_rule.duration_s > 0 else None
            extra = max(0, overtime_s)
        early, late = max(0, early), min(HORIZON_S, late)
        if late <= early:
            continue
        regular = min(working, late - early)
        if extra:
            late = min(HORIZON_S, depot_late, late + extra)
        working = min(regular + extra, late - early)
        reserved = breaks_needed(rule, working) * (rule.duration_s if rule else 0)
        if working - reserved <= 0:
            continue
        crews.append(Crew(
            vehicle=vehicle, driver=driver, start_depot=depot_index[vehicle.start_depot_id],
            end_depot=depot_index[vehicle.returns_to], earliest_start_s=early, latest_end_s=late,
            max_working_s=working, loading_s=start.loading_time_s, break_rule=rule,
            reserved_break_s=reserved,
            capabilities=vehicle.features | (driver.skills if driver else frozenset()),
            overtime_s=working - regular, overtime_per_hour=overtime_per_hour,
        ))
    return crews


def break_safe_windows(windows: list[list[tuple[int, int]]], crews: list[Crew]) -> list[list[tuple[int, int]]]:
    """The windows the solver sees, so that breaks placed after solving rarely push a stop late.

    Breaks are placed after solving and delay every later stop by up to the break's length
    (less any waiting that absorbs it). So a window closing after the earliest moment a break
    can fall due (``min(earliest_start + after_work_s)`` over crews with a break rule) closes
    ``duration_s`` (the longest break) earlier in the model, but never before it opens. On
    Loggi Brasília (1,019 orders, 12 vans, 30 s) this serves ~3% more orders than solving on
    the real windows and dropping the stops a break pushes late. Windows closing earlier are
    unchanged; the planner still verifies every stop against the real windows.
    """
    rules = [c for c in crews if c.break_rule is not None]
    if not rules:
        return windows
    due = min(c.earliest_start_s + c.break_rule.after_work_s for c in rules if c.break_rule)
    length = max(c.break_rule.duration_s for c in rules if c.break_rule)
    return [[(early, max(early, late - length)) if late > due else (early, late) for early, late in w]
            for w in windows]
