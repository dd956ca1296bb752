"""Commands of the order lifecycle: fleet and orders in, plan, dispatch, the driver's day, cancellations,
changes and second attempts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from baton.domain.fleet import Depot, Driver, Vehicle
from baton.domain.order import Order
from baton.planning.problem import PlanningOptions
from baton.service_layer.commands.base import Command


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
