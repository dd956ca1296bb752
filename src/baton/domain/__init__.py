"""Baton's pure domain: entities, value objects, the order lifecycle and events. No I/O."""

from baton.domain.errors import DomainError, IllegalTransition, NotFound, ValidationError
from baton.domain.events import Event, OrderCreated, OrderStatusChanged
from baton.domain.fleet import Depot, Driver, FleetType, Vehicle
from baton.domain.lifecycle import TRANSITIONS, OrderStatus, can_transition
from baton.domain.order import Order, SlaTier
from baton.domain.plan import CostBreakdown, Plan, Route, RouteStatus, Stop, StopKind, UnassignedOrder
from baton.domain.values import (
    SYSTEM,
    Actor,
    Address,
    BreakRule,
    CostRates,
    Customer,
    LatLng,
    Size,
    TimeWindow,
    features,
)

__all__ = [
    "SYSTEM",
    "TRANSITIONS",
    "Actor",
    "Address",
    "BreakRule",
    "CostBreakdown",
    "CostRates",
    "Customer",
    "Depot",
    "DomainError",
    "Driver",
    "Event",
    "FleetType",
    "IllegalTransition",
    "LatLng",
    "NotFound",
    "Order",
    "OrderCreated",
    "OrderStatus",
    "OrderStatusChanged",
    "Plan",
    "Route",
    "RouteStatus",
    "Size",
    "SlaTier",
    "Stop",
    "StopKind",
    "TimeWindow",
    "UnassignedOrder",
    "ValidationError",
    "Vehicle",
    "can_transition",
    "features",
]
