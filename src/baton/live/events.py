"""Events of live re-planning, persisted in the ``events`` table like every other event.

They are registered in :data:`baton.domain.events.EVENT_TYPES` on import (the domain module
imports this one at its end so stored events can always be read back).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from baton.domain.events import EVENT_TYPES, Event


@dataclass(frozen=True, kw_only=True)
class OrderInserted(Event):
    """A live order was put on ``route_id`` at ``position`` (0-based among the route's open stops);
    ``eta`` is its ISO 8601 service start and ``added_cost`` the marginal cost (plan currency)."""

    name: ClassVar[str] = "live.order_inserted"
    aggregate: ClassVar[str] = "order"
    order_id: str
    route_id: str
    position: int
    eta: str
    added_cost: float


@dataclass(frozen=True, kw_only=True)
class OrderLeftUnassigned(Event):
    """No route can serve the order feasibly now; ``reason`` says why (handed to dispatch)."""

    name: ClassVar[str] = "live.order_unassigned"
    aggregate: ClassVar[str] = "order"
    order_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class OrderReassigned(Event):
    """An order moved from one route to another (breakdown, repair, re-insertion)."""

    name: ClassVar[str] = "live.order_reassigned"
    aggregate: ClassVar[str] = "order"
    order_id: str
    from_route_id: str | None
    to_route_id: str | None
    reason: str


@dataclass(frozen=True, kw_only=True)
class RouteReplanned(Event):
    """A route's open stops or ETAs changed; ``cause`` names the event that caused it and
    ``order_ids`` lists the open stops in their new sequence."""

    name: ClassVar[str] = "live.route_replanned"
    aggregate: ClassVar[str] = "route"
    route_id: str
    cause: str
    order_ids: list[str]
    end: str


@dataclass(frozen=True, kw_only=True)
class TrafficReported(Event):
    """A slowdown: travel times x ``factor`` inside ``radius_m`` of ``(lat, lng)`` (or everywhere
    when ``radius_m`` is 0) from ``start`` to ``end`` (ISO 8601), or for one ``vehicle_id``."""

    name: ClassVar[str] = "live.traffic_reported"
    aggregate: ClassVar[str] = "incident"
    incident_id: str
    factor: float
    start: str
    end: str
    lat: float | None = None
    lng: float | None = None
    radius_m: float = 0.0
    vehicle_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class VehicleBrokeDown(Event):
    """A vehicle is out for the day (``reason``: ``breakdown``, ``driver_unavailable``, ...);
    ``moved`` orders went to other routes, ``unassigned`` could not, ``transferred`` were on board and
    go back to the depot for reload (none when the van had not been loaded)."""

    name: ClassVar[str] = "live.vehicle_broke_down"
    aggregate: ClassVar[str] = "route"
    route_id: str
    vehicle_id: str
    moved: list[str]
    unassigned: list[str]
    transferred: list[str]
    reason: str = "breakdown"  # events stored before the field existed read back as breakdowns


@dataclass(frozen=True, kw_only=True)
class DelayNotified(Event):
    """The customer was told their delivery will miss the promised window (predicted from the live
    plan's ETA and its uncertainty, :mod:`baton.live.notices`); ``eta`` ISO 8601, empty when the
    order has no route today."""

    name: ClassVar[str] = "live.delay_notified"
    aggregate: ClassVar[str] = "order"
    order_id: str
    eta: str
    window_end: str


@dataclass(frozen=True, kw_only=True)
class DelayResolved(Event):
    """The delay the customer was told of is over: the live plan serves the order inside its window
    again; ``eta`` ISO 8601 (see :mod:`baton.live.notices`)."""

    name: ClassVar[str] = "live.delay_resolved"
    aggregate: ClassVar[str] = "order"
    order_id: str
    eta: str
    window_end: str


@dataclass(frozen=True, kw_only=True)
class BreakTaken(Event):
    """The driver of ``route_id`` rested from ``started`` (ISO 8601) to ``occurred_at``."""

    name: ClassVar[str] = "live.break_taken"
    aggregate: ClassVar[str] = "route"
    route_id: str
    started: str


@dataclass(frozen=True, kw_only=True)
class ReloadDone(Event):
    """The vehicle of ``route_id`` loaded ``order_ids`` at the depot."""

    name: ClassVar[str] = "live.reload_done"
    aggregate: ClassVar[str] = "route"
    route_id: str
    order_ids: list[str]


@dataclass(frozen=True, kw_only=True)
class LivePlanImproved(Event):
    """A background improvement ran: ``published`` tells whether its plan replaced the live one
    (else ``reason``); costs in the plan currency (routes + churn + unserved orders), ``routes``
    the changed route ids, ``moved``/``retimed`` the churn, ``served`` formerly unassigned orders."""

    name: ClassVar[str] = "live.plan_improved"
    aggregate: ClassVar[str] = "plan"
    plan_id: str
    published: bool
    reason: str
    current_cost: float
    candidate_cost: float
    gain_pct: float
    routes: list[str]
    moved: list[str]
    retimed: list[str]
    served: list[str]
    seconds: float


@dataclass(frozen=True, kw_only=True)
class LivePlanRescued(Event):
    """A rescue pass ran (:mod:`baton.live.rescue`): ``resequenced`` route ids, ``moved`` order id →
    new route id, ``inserted`` formerly unassigned order id → route id, ``unassigned`` order id →
    reason (still without a route), stops at risk over the plan before and after."""

    name: ClassVar[str] = "live.plan_rescued"
    aggregate: ClassVar[str] = "plan"
    plan_id: str
    resequenced: list[str]
    moved: dict[str, str]
    inserted: dict[str, str]
    unassigned: dict[str, str]
    at_risk_before: int
    at_risk_after: int


@dataclass(frozen=True, kw_only=True)
class WaveReleased(Event):
    """A dispatch wave was decided (:mod:`baton.live.waves`): ``released`` orders left on
    ``route_ids`` (idle vans at the depot), ``postponed`` wait for a later wave; ``reasons`` gives
    per order ``must-dispatch`` (waiting one more wave would make it infeasible), ``chosen`` (rides
    on a route that must go), ``postponed`` or ``no vehicle`` (released but no idle van could take
    its route: left unassigned). ``method`` is the wave method, ``waves_left`` after this one."""

    name: ClassVar[str] = "live.wave_released"
    aggregate: ClassVar[str] = "plan"
    plan_id: str
    released: list[str]
    postponed: list[str]
    route_ids: list[str]
    reasons: dict[str, str]
    method: str
    waves_left: int


for _cls in (BreakTaken, ReloadDone, OrderInserted, OrderLeftUnassigned, OrderReassigned, RouteReplanned,
             TrafficReported, VehicleBrokeDown, DelayNotified, DelayResolved, LivePlanImproved, LivePlanRescued,
             WaveReleased):
    EVENT_TYPES[_cls.name] = _cls

