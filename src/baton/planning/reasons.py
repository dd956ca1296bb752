"""Why an order is not in the plan: a reason found by checking the order against the fleet.

The checks use the model's own reading of the problem (:mod:`baton.planning.mapping`: integer
size units, crews with their break reservations, clock seconds), so a reason names what
really kept the solver from the order. In order of precedence:

1. ``no vehicle has feature refrigerated`` — no crew's vehicle features plus driver skills
   cover the order's ``required_features`` (the missing ones are named);
2. ``larger than every vehicle's capacity (volume_l 2500 > 1800)`` — among crews with the
   features, none has room for it (the dimension, the order's size and the largest capacity);
3. ``time window closes before any vehicle can arrive`` — for every such crew and every
   window, leaving the depot at shift start arrives after the window closes;
4. ``cannot be served and returned within any driver's shift/working time``;
5. ``dropped: fleet capacity exhausted`` — it could be served alone, so the solver left it
   out for the sake of other orders.
"""

from __future__ import annotations

from datetime import datetime

from baton.adapters.travel.base import TravelMatrices
from baton.domain.order import Order
from baton.planning.crews import Crew, build_crews
from baton.planning.mapping import (
    capacity_units,
    demand_units,
    from_clock,
    order_point,
    resolve_day_start,
    window_bounds,
)
from baton.planning.problem import PlanningProblem

_DIMENSIONS = ("parcels", "weight_kg", "volume_l")


def _features(order: Order, crews: list[Crew]) -> str | None:
    required = order.required_features
    if not crews:
        return "no vehicle has a driver or a usable shift"
    if any(c.can_serve(required) for c in crews):
        return None
    missing = min((required - c.capabilities for c in crews), key=lambda m: (len(m), sorted(m)))
    noun = "feature" if len(missing) == 1 else "features"
    return f"no vehicle has {noun} {', '.join(sorted(missing))}"


def _capacity(order: Order, crews: list[Crew]) -> str | None:
    if any(c.fits(order.size) for c in crews):
        return None
    need = demand_units(order.size)
    best = [max(capacity_units(c.vehicle.capacity)[d] for c in crews) for d in range(3)]
    largest = [max(getattr(c.vehicle.capacity, n) for c in crews) for n in _DIMENSIONS]
    over = [f"{n} {getattr(order.size, n):g} > {largest[d]:g}"
            for d, n in enumerate(_DIMENSIONS) if need[d] > best[d]]
    if over:
        return f"larger than every vehicle's capacity ({', '.join(over)})"
    sizes = ", ".join(f"{n} {getattr(order.size, n):g}" for n in _DIMENSIONS)
    return f"larger than every vehicle's capacity (no vehicle fits {sizes} together)"


def explain_unassigned(
    order: Order,
    problem: PlanningProblem,
    matrices: TravelMatrices,
    *,
    crews: list[Crew] | None = None,
    day_start: datetime | None = None,
    order_index: int | None = None,
    late_allowance_s: int = 0,
) -> str:
    """A human-readable reason why ``order`` is unassigned (see the module docs for the cases).

    ``matrices`` follow the :func:`~baton.planning.mapping.matrix_points` layout of
    ``problem``; ``crews`` and ``day_start`` default to what :func:`build_crews` and
    :func:`resolve_day_start` make of ``problem``; ``order_index`` (its position in
    ``problem.orders``) saves a search; ``late_allowance_s`` is how late (s) soft windows may
    be served (0 for hard windows).

    Raises:
        ValueError: when ``order`` is not one of ``problem.orders``.
        PlanningError: when crews must be built and the problem has no depot or vehicle.
    """
    if order_index is None:
        order_index = next((j for j, o in enumerate(problem.orders) if o.id == order.id), None)
        if order_index is None:
            raise ValueError(f"order {order.id} is not part of the problem")
    day_start = day_start or resolve_day_start(problem)
    crews = build_crews(problem, day_start) if crews is None else crews

    reason = _features(order, crews)
    if reason:
        return reason
    capable = [c for c in crews if c.can_serve(order.required_features)]
    reason = _capacity(order, capable)
    if reason:
        return reason
    capable = [c for c in capable if c.fits(order.size)]

    windows = window_bounds(order, day_start)
    if not windows:
        return "time window closes before any vehicle can arrive (window outside the planning day)"
    point = order_point(problem, order_index)
    earliest = {id(c): c.earliest_start_s + c.loading_s + c.leg(matrices, c.start_depot, point)[1]
                for c in capable}
    if all(earliest[id(c)] > late + late_allowance_s for c in capable for _, late in windows):
        first = min(earliest.values())
        close = max(late for _, late in windows)
        return (f"time window closes before any vehicle can arrive (earliest arrival "
                f"{from_clock(first, day_start):%H:%M} > window end {from_clock(close, day_start):%H:%M})")

    for crew in capable:
        out = crew.leg(matrices, crew.start_depot, point)[1]
        back = crew.leg(matrices, point, crew.end_depot)[1]
        for early, late in windows:
            arrival = max(earliest[id(crew)], early)
            if arrival > late + late_allowance_s:
                continue
            finish = arrival + order.service_time_s + back
            shortest = crew.loading_s + out + order.service_time_s + back
            if finish <= crew.model_latest_end_s and shortest <= crew.model_max_duration_s:
                return "dropped: fleet capacity exhausted"
    return "cannot be served and returned within any driver's shift/working time"
