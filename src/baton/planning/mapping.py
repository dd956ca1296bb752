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
* **leg durations** for a vehicle's speed factor (:func:`leg_duration`).

Crews (a vehicle paired with its driver, its shift as integer bounds, room for breaks) are in
:mod:`baton.planning.crews`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from baton.adapters.travel.base import TravelMatrices, TravelTimeProvider
from baton.domain.errors import DomainError
from baton.domain.order import Order
from baton.domain.values import LatLng, Size
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
