"""Live orchestration commands (handled in :mod:`baton.service_layer.live_handlers`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from baton.domain.order import Order
from baton.domain.plan import Plan
from baton.service_layer.commands.base import Command


@dataclass(frozen=True, kw_only=True)
class StartLive(Command):
    """Load the current plan into the live board and publish every route with ETAs (idle vans
    get an empty route they can be given work on). ``insert_unassigned``: insert the plan's
    unassigned orders by the fast path, most urgent window first (``None``, the default: in
    ``baton`` mode, the morning plan's leftovers; ``True``: always, e.g. to build a whole plan by
    insertion, no solver; ``False``: never, e.g. orders held for dispatch waves); those still
    infeasible stay unassigned with a reason."""

    insert_unassigned: bool | None = None


@dataclass(frozen=True, kw_only=True)
class ReleaseWave(Command):
    """Decide a dispatch wave at ``at`` (:mod:`baton.live.waves`): which open, not yet dispatched
    orders of the live plan leave now on idle vans at the depot, which wait. ``waves_left``: waves
    after this one (0 = the last: everything goes); ``wave_s`` seconds between waves; vans leave
    ``margin_s`` after ``at``; ``seconds``/``max_iterations``/``seed`` bound the routing (PyVRP);
    ``method`` ``must_routes`` or ``scenarios``."""

    waves_left: int
    wave_s: int = 3600
    margin_s: int = 0
    seconds: float = 2.0
    max_iterations: int | None = None
    seed: int = 1
    method: str = "must_routes"


@dataclass(frozen=True, kw_only=True)
class ImproveLivePlan(Command):
    """Background improvement of the live plan (:mod:`baton.live.improve`): warm-started PyVRP for
    ``seconds`` (or ``max_iterations``), published only when cheaper by ``margin`` (0.01 = 1 %),
    churn costing ``churn_driver`` per stop moved to another van and ``churn_eta`` per stop
    served outside its announced ETA window (plan currency)."""

    seconds: float = 5.0
    max_iterations: int | None = None
    margin: float = 0.01
    churn_driver: float = 15.0
    churn_eta: float = 5.0
    seed: int = 1


@dataclass(frozen=True, kw_only=True)
class RescueLivePlan(Command):
    """The rescue pass over the live plan (:mod:`baton.live.rescue`): re-sequence routes with stops
    at risk, move such stops to another van when that keeps them on time, retry orders without a
    route (second attempts included). Idempotent: a second pass on an unchanged plan changes
    nothing. Run it after dispatch and after every traffic report or breakdown."""


@dataclass(frozen=True, kw_only=True)
class AddLiveOrder(Command):
    """A new order during the day: stored, then (live board in ``baton`` mode) inserted where it
    costs least without breaking a rule, else left unassigned with a reason."""

    order: Order


@dataclass(frozen=True, kw_only=True)
class AssignOrder(Command):
    """A dispatcher puts ``order_id`` on ``route_id`` at ``position`` among its open stops
    (``None`` = appended at the end); a reload is added first when the parcel is at the depot."""

    order_id: str
    route_id: str
    position: int | None = None


@dataclass(frozen=True, kw_only=True)
class ReportTraffic(Command):
    """Travel times x ``factor`` (> 0; 1.5 = 50 % slower) from ``start`` to ``end`` (aware), within
    ``radius_m`` metres of ``center`` (``(lat, lng)``; ``None`` = everywhere) or for ``vehicle_id``."""

    factor: float
    start: datetime
    end: datetime
    center: tuple[float, float] | None = None
    radius_m: float = 0.0
    vehicle_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class ReportBreakdown(Command):
    """``route_id``'s vehicle cannot continue today (breakdown, driver unavailable)."""

    route_id: str
    reason: str = "breakdown"


@dataclass(frozen=True, kw_only=True)
class TakeBreak(Command):
    """The driver of ``route_id`` took a break from ``started`` to ``at`` (aware instants)."""

    route_id: str
    started: datetime


@dataclass(frozen=True, kw_only=True)
class ReloadAtDepot(Command):
    """The vehicle of ``route_id`` loaded the parcels of its next trip at the depot at ``at``."""

    route_id: str


@dataclass(frozen=True, kw_only=True)
class SubmitPlan(Command):
    """Store a plan made outside the planner (e.g. a dispatcher's manual plan) as the current one;
    its orders become ``planned``."""

    plan: Plan
