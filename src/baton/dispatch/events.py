"""Dispatch events, persisted in the append-only ``events`` table through the unit of work.

Order-level events (aggregate ``order``) form each order's decision trail, read back with
``uow.events_for(order_id)``; carrier-level events (aggregate ``carrier``) record incidents.
Registered in :data:`baton.domain.events.EVENT_TYPES` on import (``baton.adapters.orm_dispatch``
imports this module, so any code touching storage can read them back).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from baton.domain.events import EVENT_TYPES, Event


@dataclass(frozen=True, kw_only=True)
class DispatchDecided(Event):
    """The rules engine decided: ``action`` (captive | tender | unassigned), ``queue`` of carriers."""

    name: ClassVar[str] = "dispatch.decided"
    aggregate: ClassVar[str] = "order"
    order_id: str
    rule_id: str
    ruleset_version: int
    action: str
    queue: list[str] = field(default_factory=list)
    fallback: str = "unassigned"
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class TenderOffered(Event):
    name: ClassVar[str] = "tender.offered"
    aggregate: ClassVar[str] = "order"
    order_id: str
    tender_id: str
    carrier_id: str
    expires_at: str
    price: float | None = None
    driver_id: str | None = None  # the gig courier offered to (None: the carrier's tender API)


@dataclass(frozen=True, kw_only=True)
class TenderAccepted(Event):
    name: ClassVar[str] = "tender.accepted"
    aggregate: ClassVar[str] = "order"
    order_id: str
    tender_id: str
    carrier_id: str
    driver_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class TenderRejected(Event):
    name: ClassVar[str] = "tender.rejected"
    aggregate: ClassVar[str] = "order"
    order_id: str
    tender_id: str
    carrier_id: str
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class TenderTimedOut(Event):
    name: ClassVar[str] = "tender.timed_out"
    aggregate: ClassVar[str] = "order"
    order_id: str
    tender_id: str
    carrier_id: str


@dataclass(frozen=True, kw_only=True)
class TenderFailed(Event):
    """The offer could not be delivered (carrier unreachable, HTTP error)."""

    name: ClassVar[str] = "tender.failed"
    aggregate: ClassVar[str] = "order"
    order_id: str
    tender_id: str
    carrier_id: str
    error: str


@dataclass(frozen=True, kw_only=True)
class TenderLateResponseRefused(Event):
    """A carrier answered an offer that was already closed (timed out, withdrawn...)."""

    name: ClassVar[str] = "tender.late_response_refused"
    aggregate: ClassVar[str] = "order"
    order_id: str
    tender_id: str
    carrier_id: str
    response: str
    tender_state: str


@dataclass(frozen=True, kw_only=True)
class TenderWithdrawn(Event):
    """An accepted tender was taken back (carrier down before pick-up): the order is re-tendered."""

    name: ClassVar[str] = "tender.withdrawn"
    aggregate: ClassVar[str] = "order"
    order_id: str
    tender_id: str
    carrier_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class DispatchAssigned(Event):
    """The order has a resource: ``carrier_id`` (``captive`` for the own fleet's planning)."""

    name: ClassVar[str] = "dispatch.assigned"
    aggregate: ClassVar[str] = "order"
    order_id: str
    carrier_id: str
    fleet_type: str


@dataclass(frozen=True, kw_only=True)
class DispatchException(Event):
    """An exception for a dispatcher: ``kind`` (``unassigned``, ``retendered``...) and why."""

    name: ClassVar[str] = "dispatch.exception"
    aggregate: ClassVar[str] = "order"
    order_id: str
    kind: str
    message: str


@dataclass(frozen=True, kw_only=True)
class CarrierStatusReceived(Event):
    """A carrier's status message, normalised (``status``) with the carrier's own (``external_status``)."""

    name: ClassVar[str] = "carrier.status_received"
    aggregate: ClassVar[str] = "order"
    order_id: str
    carrier_id: str
    status: str
    external_status: str
    message_id: str
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class CarrierMarkedDown(Event):
    """Incident: the circuit breaker opened; ``open_orders`` not yet picked up are re-tendered."""

    name: ClassVar[str] = "carrier.down"
    aggregate: ClassVar[str] = "carrier"
    carrier_id: str
    reason: str
    open_orders: int = 0


@dataclass(frozen=True, kw_only=True)
class CarrierRecovered(Event):
    name: ClassVar[str] = "carrier.recovered"
    aggregate: ClassVar[str] = "carrier"
    carrier_id: str


@dataclass(frozen=True, kw_only=True)
class CarrierRegistered(Event):
    """A carrier was added or its definition replaced."""

    name: ClassVar[str] = "carrier.registered"
    aggregate: ClassVar[str] = "carrier"
    carrier_id: str
    fleet_type: str


@dataclass(frozen=True, kw_only=True)
class RulesLoaded(Event):
    name: ClassVar[str] = "dispatch.rules_loaded"
    aggregate: ClassVar[str] = "ruleset"
    ruleset_id: str
    version: int
    rules: int


@dataclass(frozen=True, kw_only=True)
class RouteDriverAssigned(Event):
    name: ClassVar[str] = "route.driver_assigned"
    aggregate: ClassVar[str] = "route"
    route_id: str
    driver_id: str


DISPATCH_EVENTS: tuple[type[Event], ...] = (
    DispatchDecided, TenderOffered, TenderAccepted, TenderRejected, TenderTimedOut, TenderFailed,
    TenderLateResponseRefused, TenderWithdrawn, DispatchAssigned, DispatchException, CarrierStatusReceived,
    CarrierMarkedDown, CarrierRecovered, RulesLoaded, RouteDriverAssigned, CarrierRegistered,
)
for _cls in DISPATCH_EVENTS:
    EVENT_TYPES.setdefault(_cls.name, _cls)
