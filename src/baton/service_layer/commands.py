"""Commands: requests to change Baton's state, each handled by exactly one handler.

Every instant is timezone-aware. ``actor`` says who asked (``kind:id``). The same commands
serve the CLI, the day simulator and (later) the HTTP API and driver app.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from baton.domain.fleet import Depot, Driver, Vehicle
from baton.domain.order import Order
from baton.domain.plan import Plan
from baton.planning.problem import PlanningOptions


@dataclass(frozen=True, kw_only=True)
class Command:
    at: datetime
    actor: str = "system:baton"


@dataclass(frozen=True, kw_only=True)
class RegisterFleet(Command):
    """Add depots, vehicles and drivers (ids must be new)."""

    depots: list[Depot] = field(default_factory=list)
    vehicles: list[Vehicle] = field(default_factory=list)
    drivers: list[Driver] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class CreateOrders(Command):
    """Add new orders (state ``created``); each raises ``order.created``."""

    orders: list[Order]


@dataclass(frozen=True, kw_only=True)
class PlanOrders(Command):
    """Plan every order in state ``created`` or ``reattempt`` (or only ``order_ids``).

    ``day_start`` (aware) is the planning day's zero; ``None`` = the planner's default.
    """

    options: PlanningOptions = field(default_factory=PlanningOptions)
    order_ids: list[str] | None = None
    day_start: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class DispatchRoute(Command):
    """Release a planned route to its driver: its orders become ``dispatched``."""

    route_id: str


@dataclass(frozen=True, kw_only=True)
class StartRoute(Command):
    """The vehicle leaves the depot: the route's orders become ``out_for_delivery``."""

    route_id: str


@dataclass(frozen=True, kw_only=True)
class ArriveAtStop(Command):
    """The vehicle arrived at ``order_id``'s stop (``arrived``); ``leg_distance_m`` was driven to get there."""

    route_id: str
    order_id: str
    leg_distance_m: int = 0
    leg_driving_s: int = 0


@dataclass(frozen=True, kw_only=True)
class CompleteDelivery(Command):
    """The order was handed over (``delivered``); the vehicle departs the stop at ``at``."""

    route_id: str
    order_id: str
    recipient: str | None = None


@dataclass(frozen=True, kw_only=True)
class FailDelivery(Command):
    """Delivery was attempted and failed (``failed_attempt``); ``reason`` e.g. ``not_home``."""

    route_id: str
    order_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class CompleteRoute(Command):
    """The vehicle is back at its depot after the last leg; failed orders on board are ``returned_to_depot``."""

    route_id: str
    leg_distance_m: int = 0
    leg_driving_s: int = 0


@dataclass(frozen=True, kw_only=True)
class CancelOrder(Command):
    """Cancel an order that has not been delivered."""

    order_id: str
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class UpdateOrder(Command):
    """Change an order's details (not its lifecycle state); raises ``order.updated``.

    ``changes`` maps :class:`~baton.domain.order.Order` field names (``notes``, ``priority``,
    ``time_windows``, ``service_time_s``, ``customer``, ``address``, ``size``, ``tags``,
    ``required_features``, ``sla_tier``, ``declared_value``, ``external_ref``) to new values.
    ``expected_version``: the version the caller read (optimistic lock); ``None`` = any.
    """

    order_id: str
    changes: dict[str, object]
    expected_version: int | None = None


@dataclass(frozen=True, kw_only=True)
class ReattemptOrder(Command):
    """Put a failed or returned order back in the queue to plan (``reattempt``)."""

    order_id: str
    reason: str | None = None


# --- execution (issue 7): positions, stop visits, ETAs, exceptions --------------------------------


@dataclass(frozen=True, kw_only=True)
class RecordPositions(Command):
    """Store batches of GPS pings already validated at the edge (:func:`baton.execute.pings.validate_batch`).

    ``batches``: :class:`baton.execute.pings.Validated` batches, each with the aware instant the server
    received it; all of them are written in one transaction. Idempotent on (device, ts); refused pings
    are stored with their reason. ``latest``: the (ping, received at) whose vehicles' stored latest
    position moves (``None``: the newest ping of each vehicle of ``batches``; see
    :mod:`baton.execute.latest`). Returns a ``list[int]``: per batch, how many of its pings were new.
    """

    batches: list[tuple[object, datetime]]
    latest: list[tuple[object, datetime]] | None = None


@dataclass(frozen=True, kw_only=True)
class RecordStopArrival(Command):
    """Record the visit of ``order_id``'s stop (after ``ArriveAtStop``): zone, source and the ETA error.

    ``predicted_arrival``: the last published ETA (``None`` when none was); ``source``: ``geofence``
    or ``manual``.
    """

    route_id: str
    order_id: str
    vehicle_id: str
    lat: float
    lng: float
    planned_arrival: datetime | None = None
    predicted_arrival: datetime | None = None
    source: str = "geofence"


@dataclass(frozen=True, kw_only=True)
class RecordStopDeparture(Command):
    """The vehicle left ``order_id``'s stop at ``at`` (geofence): dwell recorded; the order's state is untouched."""

    route_id: str
    order_id: str


@dataclass(frozen=True, kw_only=True)
class PublishEtas(Command):
    """Store the current ETAs of each ``(route_id, vehicle_id, pace, [StopEta, ...])``; a stop whose ETA
    moved at least ``threshold_s`` from the last announced one (at first: the planned arrival) raises
    ``eta.changed``. Returns the order ids whose ETA changed.

    ``announced``: the caller's copy of the last announced ETA per ``(route_id, order_id)`` (a stop missing
    from it was never announced: its planned arrival counts); ``None``: read them from storage."""

    updates: list[tuple[str, str, float, list[object]]]
    threshold_s: int = 120
    announced: Mapping[tuple[str, str], datetime] | None = None


@dataclass(frozen=True, kw_only=True)
class OpenException(Command):
    """Open an exception unless one of the same ``kind`` and ``subject`` is not resolved yet.

    Returns the new exception id, or ``None`` when one was already open (idempotent)."""

    kind: str
    subject: str
    route_id: str | None = None
    vehicle_id: str | None = None
    order_id: str | None = None
    details: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class AcknowledgeException(Command):
    """A dispatcher took ownership of an open exception (no-op when already acknowledged or resolved)."""

    exception_id: str
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class ResolveException(Command):
    """Close an exception saying how (``resolution``); ``automatic`` when the condition cleared by itself."""

    exception_id: str
    resolution: str
    automatic: bool = False


@dataclass(frozen=True, kw_only=True)
class LogExceptionAction(Command):
    """Log one playbook action against an exception; ``needs_dispatcher`` flags it for a person."""

    exception_id: str
    action: str
    outcome: str
    detail: str = ""
    needs_dispatcher: bool = False


@dataclass(frozen=True, kw_only=True)
class RequestCustomerNotifications(Command):
    """Raise one ``order.notification_requested`` per order (``etas``: order id → ISO ETA, optional)."""

    order_ids: list[str]
    topic: str
    exception_id: str | None = None
    etas: dict[str, str] = field(default_factory=dict)
    message: str = ""


# Live orchestration (handled in baton.service_layer.live_handlers) -------------------------
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


# Dispatch (issue 6): carriers, rules, tenders, carrier health, inbound status feeds -------------
from baton.dispatch.carriers import Carrier  # noqa: E402
from baton.dispatch.feeds import StatusUpdate  # noqa: E402
from baton.dispatch.rules import RuleSet  # noqa: E402


@dataclass(frozen=True, kw_only=True)
class RegisterCarriers(Command):
    """Add or replace carriers (by id), e.g. loaded with :func:`baton.dispatch.carrier_file.load_carriers`."""

    carriers: list[Carrier]


@dataclass(frozen=True, kw_only=True)
class LoadDispatchRules(Command):
    """Make ``rules`` the active dispatch policy (a version, once stored, never changes)."""

    rules: RuleSet


@dataclass(frozen=True, kw_only=True)
class DispatchOrders(Command):
    """Decide a resource for every ``created`` order without a dispatch decision (or only ``order_ids``,
    re-deciding them) and start tendering; returns a summary ``{action: count}``."""

    order_ids: list[str] | None = None


@dataclass(frozen=True, kw_only=True)
class RespondToTender(Command):
    """A carrier's later answer to a ``pending`` offer, or a gig courier's answer to an offer made to
    them (``driver_id``: the courier answering; the offer must be theirs, else ``NotFound``). A late
    or contradicting answer is refused (``TenderClosed``) and recorded; repeating the same answer is a no-op."""

    tender_id: str
    accepted: bool
    reason: str = ""
    driver_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class ExpireTenders(Command):
    """Time out every offer whose deadline is at or before ``at`` and move its order on."""


@dataclass(frozen=True, kw_only=True)
class CheckCarrierHealth(Command):
    """Probe carriers (``probe``), check their feeds' silence, open/close circuit breakers, and
    re-tender the open, not-picked-up orders of carriers found down."""

    probe: bool = True


@dataclass(frozen=True, kw_only=True)
class MarkCarrierDown(Command):
    """An operator takes a carrier out of service now; its open orders are re-tendered."""

    carrier_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class IngestCarrierStatus(Command):
    """Apply normalised inbound carrier statuses (duplicates by message id are ignored)."""

    updates: list[StatusUpdate]


@dataclass(frozen=True, kw_only=True)
class AssignDrivers(Command):
    """Match the current plan's planned routes (or only ``route_ids``) to drivers by shift, skills,
    zone familiarity and workload (:func:`baton.dispatch.drivers.assign_drivers`)."""

    route_ids: list[str] | None = None
