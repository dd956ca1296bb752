"""Crews: each vehicle paired with its driver for the day, as integer bounds for the planner.

A :class:`Crew` holds the shift (clock seconds since the planning day's start, see
:mod:`baton.planning.mapping`), the maximum working time and the time reserved for the
driver's breaks. PyVRP 0.14 has no driver breaks: the model leaves room for them
(:func:`breaks_needed`, :func:`break_safe_windows`) and the planner places them after solving.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from baton.adapters.travel.base import TravelMatrices
from baton.domain.fleet import Driver, Vehicle
from baton.domain.values import BreakRule, Size
from baton.planning.mapping import (
    DAY_S,
    HORIZON_S,
    PlanningError,
    capacity_units,
    demand_units,
    leg_duration,
    to_clock,
)
from baton.planning.problem import PlanningProblem


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
