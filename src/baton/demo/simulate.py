"""Run a planned day on a simulated clock, through the service layer.

Each route is executed by a simulated driver, independently seeded (so the outcome does
not depend on the order routes are simulated in):

* every route is dispatched in one wave at ``dispatch_at`` and leaves the depot at its
  planned start;
* each leg takes the planned leg duration × a log-normal factor (median 1.0,
  ``travel_sigma``), plus a city-wide slowdown ``travel_bias``; distances are the planned legs;
* a driver early for a window waits and rings at the window's start;
* the customer is not at home with probability ``not_home_p``: the attempt fails after
  ``failed_dwell_s`` and the parcel stays on board;
* service takes the planned service time × a log-normal factor (median 1.0, ``service_sigma``);
* planned breaks are taken where the plan put them, for their planned length;
* the vehicle drives back to its depot after the last stop, where undelivered parcels are
  ``returned_to_depot``.

All commands of all routes are merged by simulated time and sent to the message bus in
that order, so the database sees the day unfold chronologically. The main job sends deliveries
and failed attempts as driver actions with a POD (``run_day(handle=...)``, :mod:`baton.demo.pods`);
there a ``not_home`` failure's next step moves the order to ``reattempt`` instead of back to the depot.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from baton.domain.order import Order
from baton.domain.plan import Plan, Route, StopKind
from baton.service_layer import commands
from baton.service_layer.messagebus import MessageBus


@dataclass(frozen=True)
class SimulationSettings:
    """Noise and behaviour of the simulated day (see the module docstring); seconds where timed."""

    seed: int = 7
    travel_sigma: float = 0.20
    travel_bias: float = 1.05
    service_sigma: float = 0.30
    not_home_p: float = 0.04
    failed_dwell_s: int = 120


def _lognormal(rng: random.Random, sigma: float) -> float:
    return math.exp(rng.gauss(0.0, sigma)) if sigma > 0 else 1.0


def route_timeline(
    route: Route, orders: dict[str, Order], settings: SimulationSettings, route_index: int
) -> list[tuple[datetime, commands.Command]]:
    """The commands one driver issues over the day, with their simulated instants."""
    rng = random.Random(f"{settings.seed}:{route_index}:{route.vehicle_id}")
    actor = f"driver:{route.driver_id or route.vehicle_id}"
    out: list[tuple[datetime, commands.Command]] = []
    clock = route.start
    out.append((clock, commands.StartRoute(at=clock, actor=actor, route_id=route.id)))
    pending_distance = 0
    pending_driving = 0
    for stop in route.stops:
        drive = int(stop.leg_duration_s * settings.travel_bias * _lognormal(rng, settings.travel_sigma))
        clock += timedelta(seconds=drive)
        pending_distance += stop.leg_distance_m
        pending_driving += drive
        if stop.kind == StopKind.BREAK:
            clock += timedelta(seconds=stop.planned_service_s)
            continue
        if stop.order_id is None:
            continue
        order = orders[stop.order_id]
        clock = order.service_start(clock, stop.planned_arrival)  # early: wait and ring as the window opens
        out.append((clock, commands.ArriveAtStop(
            at=clock, actor=actor, route_id=route.id, order_id=order.id,
            leg_distance_m=pending_distance, leg_driving_s=pending_driving,
        )))
        pending_distance = pending_driving = 0
        if rng.random() < settings.not_home_p:
            clock += timedelta(seconds=settings.failed_dwell_s)
            out.append((clock, commands.FailDelivery(
                at=clock, actor=actor, route_id=route.id, order_id=order.id, reason="not_home")))
        else:
            clock += timedelta(seconds=max(30, int(order.service_time_s * _lognormal(rng, settings.service_sigma))))
            out.append((clock, commands.CompleteDelivery(
                at=clock, actor=actor, route_id=route.id, order_id=order.id, recipient=order.customer.name)))
    back = route.end - (route.stops[-1].planned_departure if route.stops else route.start)
    back_s = int(back.total_seconds() * settings.travel_bias * _lognormal(rng, settings.travel_sigma))
    clock += timedelta(seconds=back_s)
    last_leg_m = max(0, route.distance_m - sum(s.leg_distance_m for s in route.stops))
    out.append((clock, commands.CompleteRoute(
        at=clock, actor=actor, route_id=route.id,
        leg_distance_m=pending_distance + last_leg_m, leg_driving_s=pending_driving + back_s,
    )))
    return out


def day_commands(
    plan: Plan, orders: dict[str, Order], settings: SimulationSettings, dispatch_at: datetime
) -> list[tuple[datetime, commands.Command]]:
    """Every command of the day in chronological order (dispatch wave first)."""
    routes = [r for r in plan.routes if r.order_ids]
    wave = [(dispatch_at, commands.DispatchRoute(at=dispatch_at, actor="system:dispatch", route_id=r.id))
            for r in routes]
    timelines = [route_timeline(r, orders, settings, k) for k, r in enumerate(routes)]
    merged: Iterator[tuple[datetime, commands.Command]] = heapq.merge(*timelines, key=lambda tc: tc[0])
    return wave + list(merged)


def run_day(
    bus: MessageBus,
    plan: Plan,
    orders: dict[str, Order],
    settings: SimulationSettings,
    dispatch_at: datetime,
    on_step: Callable[[int, int, datetime], None] | None = None,
    handle: Callable[[MessageBus, datetime, commands.Command], object] | None = None,
) -> int:
    """Send the day's commands through ``bus``; returns how many were handled.

    ``on_step(done, total, simulated_now)`` is called after each command (for a progress bar).
    ``handle(bus, simulated_now, command)``, when given, sends each command instead of ``bus.handle``
    (the main job's :class:`baton.demo.pods.DemoPods` turns deliveries into driver actions with a POD).
    """
    timeline = day_commands(plan, orders, settings, dispatch_at)
    for k, (instant, command) in enumerate(timeline, start=1):
        if handle is None:
            bus.handle(command)
        else:
            handle(bus, instant, command)
        if on_step is not None:
            on_step(k, len(timeline), instant)
    return len(timeline)
