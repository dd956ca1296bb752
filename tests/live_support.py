"""Shared set-up of the live re-planning tests: a 60-order slice of the bundled day, planned and loaded
into a live board in ``baton`` mode."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from baton.adapters.travel import make_provider
from baton.demo.enrich import DemoDay, enrich
from baton.demo.main_job import bundled_day
from baton.domain.order import Order, OrderStatus
from baton.domain.values import Address, LatLng, TimeWindow
from baton.intake.loggi import load_loggi_day
from baton.live.board import LiveBoard
from baton.planning.problem import PlanningOptions
from baton.service_layer import commands
from baton.service_layer.bootstrap import bootstrap
from baton.service_layer.live_reactions import enable_live
from baton.service_layer.messagebus import MessageBus


def live_day() -> DemoDay:
    """The first 60 orders of the bundled day, enriched with seed 7 (windows, sizes, fleet)."""
    return enrich(load_loggi_day(bundled_day()), seed=7, limit=60)


def live_setup(db_url: str, day: DemoDay) -> tuple[MessageBus, LiveBoard]:
    """Fleet and orders stored, planned (1 s, 300 iterations), live board started at 07:00."""
    bus = planned_bus(db_url, day)
    board = enable_live(bus, "baton")
    bus.handle(commands.StartLive(at=day.day_start + timedelta(hours=7)))
    return bus, board


def planned_bus(db_url: str, day: DemoDay) -> MessageBus:
    """A bus with ``day``'s fleet and orders stored and planned (1 s, 300 iterations); no live board."""
    bus = bootstrap(db_url, travel=make_provider("great-circle"))
    t0 = day.day_start
    bus.handle(commands.RegisterFleet(at=t0 + timedelta(hours=6), depots=[day.depot], vehicles=day.vehicles,
                                      drivers=day.drivers))
    bus.handle(commands.CreateOrders(at=t0 + timedelta(hours=6), orders=[replace(o, events=[]) for o in day.orders]))
    bus.handle(commands.PlanOrders(at=t0 + timedelta(hours=6.5), day_start=t0,
                                   options=PlanningOptions(time_limit_s=1, seed=1, max_iterations=300)))
    return bus


def new_order(day: DemoDay, oid: str, hours: tuple[float, float] = (9, 16), near: int = 0,
              offset_deg: float = 0.001) -> Order:
    """A fresh order ``offset_deg`` north-east of the day's order ``near``, window ``hours`` after day start."""
    src = day.orders[near]
    loc = LatLng(src.location.lat + offset_deg, src.location.lng + offset_deg)
    t0 = day.day_start
    return replace(src, id=oid, events=[], status=OrderStatus.CREATED, route_id=None,
                   address=Address("new", loc, "Brasília"),
                   time_windows=[TimeWindow(t0 + timedelta(hours=hours[0]), t0 + timedelta(hours=hours[1]))])
