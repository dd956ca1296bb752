"""The :class:`Order` aggregate: what a customer expects delivered, where and when."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from baton.domain.errors import IllegalTransition, ValidationError
from baton.domain.events import Event, OrderCreated, OrderStatusChanged
from baton.domain.lifecycle import OrderStatus, can_transition
from baton.domain.values import (
    SYSTEM,
    Actor,
    Address,
    Customer,
    LatLng,
    Size,
    TimeWindow,
    require_aware,
)


class SlaTier(StrEnum):
    """Service level promised to the customer. ``priority`` in :class:`Order` weighs drops within a tier."""

    STANDARD = "standard"
    EXPRESS = "express"
    SAME_DAY = "same_day"
    SCHEDULED = "scheduled"


@dataclass(eq=False)
class Order:
    """A delivery order.

    Attributes:
        id: Baton's id (unique within the organisation).
        external_ref: the shop's/OMS's reference, if any.
        customer: who receives it.
        address: where; ``address.location`` is WGS84 ``(lat, lng)`` degrees.
        time_windows: one or more timezone-aware windows; the planner picks one. Empty = any time.
        service_time_s: seconds spent at the stop (parking, walking, hand-over).
        size: parcels (count), weight (kg), volume (L).
        required_features: vehicle features/driver skills needed, e.g. ``{"refrigerated"}``.
        priority: 1 (low) … 5 (critical); scales the penalty for leaving it unassigned.
        sla_tier: the service level promised.
        declared_value: the goods' value in ``currency``.
        notes: delivery instructions for the driver.
        tags: free labels (e.g. ``cold_chain``) used by dispatch rules.
        status: position in the lifecycle (:mod:`baton.domain.lifecycle`).
        attempts: delivery attempts made so far.
        events: events raised and not yet persisted (drained by the unit of work).

    Raises:
        ValidationError: on construction, when a field is invalid (message names it).
    """

    id: str
    customer: Customer
    address: Address
    time_windows: list[TimeWindow] = field(default_factory=list)
    service_time_s: int = 300
    size: Size = field(default_factory=Size)
    required_features: frozenset[str] = frozenset()
    priority: int = 1
    sla_tier: SlaTier = SlaTier.STANDARD
    declared_value: float = 0.0
    currency: str = "BRL"
    notes: str = ""
    tags: frozenset[str] = frozenset()
    external_ref: str | None = None
    status: OrderStatus = OrderStatus.CREATED
    attempts: int = 0
    route_id: str | None = None
    version: int = 0
    events: list[Event] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if not self.id:
            raise ValidationError("order id must not be empty")
        if self.service_time_s < 0:
            raise ValidationError(f"service_time_s must be >= 0, got {self.service_time_s}")
        if not 1 <= self.priority <= 5:
            raise ValidationError(f"priority must be within 1..5, got {self.priority}")
        if self.declared_value < 0:
            raise ValidationError(f"declared_value must be >= 0, got {self.declared_value}")
        self.time_windows = sorted(self.time_windows, key=lambda w: w.start)
        self.sla_tier = SlaTier(self.sla_tier)
        self.status = OrderStatus(self.status)

    @classmethod
    def create(cls, *, at: datetime, actor: Actor = SYSTEM, **fields: object) -> Order:
        """Build a new order in state ``created`` and raise :class:`OrderCreated`."""
        order = cls(**fields)  # type: ignore[arg-type]
        order.events.append(
            OrderCreated(occurred_at=require_aware(at, "at"), actor=str(actor), order_id=order.id,
                         external_ref=order.external_ref)
        )
        return order

    @property
    def location(self) -> LatLng:
        """Where to deliver, WGS84 ``(lat, lng)`` degrees."""
        return self.address.location

    @property
    def is_terminal(self) -> bool:
        return self.status in (OrderStatus.DELIVERED, OrderStatus.CANCELLED)

    def transition(
        self,
        to_status: OrderStatus | str,
        *,
        at: datetime,
        actor: Actor = SYSTEM,
        reason: str | None = None,
        route_id: str | None = None,
    ) -> OrderStatusChanged:
        """Move to ``to_status`` and raise an :class:`OrderStatusChanged` event.

        ``route_id`` is remembered when planning; it is cleared when the order goes back to
        ``created`` or ``reattempt``.

        Raises:
            IllegalTransition: when the lifecycle has no arc from the current state
                (the message names both states).
            ValidationError: when ``at`` is naive.
        """
        target = OrderStatus(to_status)
        if not can_transition(self.status, target):
            raise IllegalTransition(self.id, self.status.value, target.value)
        require_aware(at, "at")
        event = OrderStatusChanged(
            occurred_at=at,
            actor=str(actor),
            order_id=self.id,
            from_status=self.status.value,
            to_status=target.value,
            reason=reason,
            route_id=route_id if route_id is not None else self.route_id,
        )
        self.status = target
        if route_id is not None:
            self.route_id = route_id
        if target in (OrderStatus.CREATED, OrderStatus.REATTEMPT):
            self.route_id = None
        if target == OrderStatus.ARRIVED:
            self.attempts += 1
        self.version += 1
        self.events.append(event)
        return event

    # Named commands for readability at call sites -----------------------------------
    def plan(self, route_id: str, *, at: datetime, actor: Actor = SYSTEM) -> OrderStatusChanged:
        return self.transition(OrderStatus.PLANNED, at=at, actor=actor, route_id=route_id)

    def cancel(self, *, at: datetime, actor: Actor = SYSTEM, reason: str | None = None) -> OrderStatusChanged:
        return self.transition(OrderStatus.CANCELLED, at=at, actor=actor, reason=reason)

    def window_at(self, instant: datetime) -> TimeWindow | None:
        """The window containing ``instant`` or, when none does, the last one starting before it."""
        chosen = None
        for w in self.time_windows:
            if w.contains(instant):
                return w
            if w.start <= instant:
                chosen = w
        return chosen or (self.time_windows[0] if self.time_windows else None)

    def service_start(self, arrival: datetime, planned: datetime | None = None) -> datetime:
        """When a driver reaching the door at ``arrival`` rings (aware instants).

        At once inside a window, when every window has closed (a late delivery) or when there is
        none; early for the first window: as it opens. Between two windows (08–10 or 16–18,
        reached at 12:00) the driver follows his route: when ``planned``, the stop's planned
        service start on the route he set off with, is in a later window he waits for the next one
        to open (a wait the planner scheduled); otherwise (late for the window aimed at, or no
        plan) he rings at once rather than sit hours at the door.
        """
        for k, w in enumerate(self.time_windows):  # sorted by start
            if w.contains(arrival):
                return arrival
            if arrival < w.start:
                return w.start if k == 0 or (planned is not None and planned >= w.start) else arrival
        return arrival
