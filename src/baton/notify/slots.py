"""Reschedule slots offered to a customer, from the day's routes' spare capacity.

A slot is offered when the order can be inserted into a route of the current plan so that
its service starts inside the slot, the vehicle's capacity holds, every later stop still
starts within its own time window (push-forward check with the stops' waiting slack) and
the route still ends within the driver's shift. The cheapest insertion (smallest added
driving time) is kept per slot. Orders already on board (``out_for_delivery``) can only
move within their own route; parcels at the depot can join any route that has not left yet.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from baton.adapters.travel.base import TravelTimeProvider
from baton.domain.errors import NotFound
from baton.domain.fleet import Driver
from baton.domain.lifecycle import OrderStatus
from baton.domain.order import Order
from baton.domain.plan import Route, RouteStatus, Stop
from baton.domain.values import LatLng, Size
from baton.service_layer.unit_of_work import AbstractUnitOfWork

#: States in which a customer may reschedule.
RESCHEDULABLE = frozenset({OrderStatus.CREATED, OrderStatus.PLANNED, OrderStatus.DISPATCHED,
                           OrderStatus.OUT_FOR_DELIVERY, OrderStatus.FAILED_ATTEMPT,
                           OrderStatus.RETURNED_TO_DEPOT, OrderStatus.REATTEMPT})

ONBOARD = frozenset({OrderStatus.OUT_FOR_DELIVERY, OrderStatus.FAILED_ATTEMPT})


@dataclass(frozen=True)
class Slot:
    """An offered window ``[start, end]`` (aware), served by ``route_id`` at ``eta``, inserted before
    the route's ``position``-th stop; ``added_s``: what it costs, seconds of extra driving plus the
    delay it imposes on the later stops."""

    start: datetime
    end: datetime
    route_id: str
    position: int
    eta: datetime
    added_s: int

    @property
    def key(self) -> str:
        return f"{self.start.isoformat()}/{self.end.isoformat()}"


@dataclass
class _Visit:
    stop: Stop
    point: int
    window_end: datetime | None
    window_start: datetime | None


def _candidates(now: datetime, last_end: datetime, length: timedelta) -> list[tuple[datetime, datetime]]:
    start = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    out: list[tuple[datetime, datetime]] = []
    while start + length <= last_end and len(out) < 12:
        out.append((start, start + length))
        start += timedelta(hours=1)
    return out


def offered_slots(uow: AbstractUnitOfWork, order: Order, travel: TravelTimeProvider, now: datetime,
                  length: timedelta = timedelta(hours=2)) -> list[Slot]:
    """The slots ``order`` can move to, earliest first (at most 12, one per hour, ``length`` long).

    Call inside ``with uow``. An order in a state that cannot be rescheduled gets none.
    """
    if order.status not in RESCHEDULABLE:
        return []
    plan = uow.plans.current()
    if plan is None:
        return []
    if order.status in ONBOARD:  # the parcel is on its van: it can only move within that route
        routes = [r for r in plan.routes if r.id == order.route_id and r.status != RouteStatus.COMPLETED]
    else:  # at the depot: any route that has not left yet
        routes = [r for r in plan.routes if r.status in (RouteStatus.PLANNED, RouteStatus.DISPATCHED)]
    if not routes:
        return []
    best: dict[tuple[datetime, datetime], Slot] = {}
    horizon = max(r.end for r in routes)
    for r in routes:  # a route may grow until its driver's shift ends
        if r.driver_id:
            with suppress(NotFound):
                horizon = max(horizon, uow.drivers.get(r.driver_id).shift_end)
    windows = _candidates(now, horizon, length)
    for route in routes:
        for slot in _route_slots(uow, order, route, travel, now, windows):
            k = (slot.start, slot.end)
            if k not in best or slot.added_s < best[k].added_s:
                best[k] = slot
    current = {(w.start, w.end) for w in order.time_windows}
    return [best[k] for k in sorted(best) if k not in current]


def _route_slots(uow: AbstractUnitOfWork, order: Order, route: Route, travel: TravelTimeProvider,
                 now: datetime, windows: list[tuple[datetime, datetime]]) -> list[Slot]:
    others = [s for s in route.stops if s.order_id != order.id]
    order_ids = [s.order_id for s in others if s.order_id]
    stop_orders = {o.id: o for o in uow.orders.get_many(order_ids)} if order_ids else {}
    try:
        vehicle = uow.vehicles.get(route.vehicle_id)
        depot = uow.depots.get(route.start_depot_id)
    except NotFound:
        return []
    driver: Driver | None = None
    if route.driver_id:
        try:
            driver = uow.drivers.get(route.driver_id)
        except NotFound:
            driver = None
    load = Size(0, 0.0, 0.0)
    for o in stop_orders.values():
        load = load + o.size
    if order.route_id != route.id and not (load + order.size).fits_in(vehicle.capacity):
        return []
    points: list[LatLng] = [depot.location, order.location]
    visits: list[_Visit] = []
    for s in others:
        if s.order_id is None:
            point = len(points) - 1 if visits else 0  # breaks/reloads stay where the vehicle is
            visits.append(_Visit(s, point, None, None))
            continue
        o = stop_orders[s.order_id]
        w = o.window_at(s.planned_arrival)
        points.append(o.location)
        visits.append(_Visit(s, len(points) - 1, w.end if w else None, w.start if w else None))
    dur = travel.matrices(points).duration_s
    first_free = 0
    for i, v in enumerate(visits):
        if v.stop.actual_arrival is not None:
            first_free = i + 1
    shift_end = driver.shift_end if driver else None
    out: list[Slot] = []
    for start, end in windows:
        found: Slot | None = None
        for pos in range(first_free, len(visits) + 1):
            prev = visits[pos - 1] if pos > 0 else None
            depart = prev.stop.planned_departure if prev else route.start
            if prev and prev.stop.actual_departure:
                depart = prev.stop.actual_departure
            depart = max(depart, now)
            prev_pt = prev.point if prev else 0
            arrive = depart + timedelta(seconds=int(dur[prev_pt, 1]))
            begin = max(arrive, start)
            if begin > end:
                continue
            leave = begin + timedelta(seconds=order.service_time_s)
            nxt = visits[pos] if pos < len(visits) else None
            next_pt = nxt.point if nxt else 0
            base = int(dur[prev_pt, next_pt])
            added = int(dur[prev_pt, 1]) + int(dur[1, next_pt]) - base
            pushed = _push_cost(visits[pos:], leave + timedelta(seconds=int(dur[1, next_pt])), route.end, shift_end)
            if pushed is None:
                continue
            cost = added + pushed  # extra driving + the delay imposed on the customers after it
            if found is None or cost < found.added_s:
                found = Slot(start, end, route.id, pos, begin, cost)
        if found is not None:
            out.append(found)
    return out


def _push_cost(rest: list[_Visit], new_arrival: datetime, route_end: datetime,
               shift_end: datetime | None) -> int | None:
    """Seconds of delay the later stops ``rest`` suffer when the first is reached at ``new_arrival``
    (summed over stops), or ``None`` when one would start after its window or the shift would overrun."""
    if not rest:
        return 0 if shift_end is None or new_arrival <= shift_end else None
    shift = new_arrival - rest[0].stop.planned_arrival
    total = 0
    for v in rest:
        if shift <= timedelta(0):
            return total
        old_start = v.stop.planned_arrival if v.window_start is None else max(v.stop.planned_arrival, v.window_start)
        new_start = v.stop.planned_arrival + shift
        if v.window_start is not None:
            new_start = max(new_start, v.window_start)
        if v.window_end is not None and new_start > v.window_end:
            return None
        shift = new_start - old_start
        total += max(0, int(shift.total_seconds()))
    if shift_end is not None and route_end + max(shift, timedelta(0)) > shift_end:
        return None
    return total
