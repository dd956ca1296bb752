"""Domain events: immutable facts that something happened.

Every order state change emits an :class:`OrderStatusChanged`. Events are collected on
the aggregate (``order.events``) and persisted by the unit of work in the same
transaction as the state change, in the append-only ``events`` table, before the
command that caused them is acknowledged.

Each event serialises to ``(name, aggregate_id, occurred_at, actor, payload)`` with
:meth:`Event.to_record` and back with :func:`event_from_record`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from baton.domain.values import require_aware


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base class. ``occurred_at`` is timezone-aware; ``actor`` is ``kind:id`` (e.g. ``driver:d-07``)."""

    name: ClassVar[str] = "event"
    aggregate: ClassVar[str] = "none"
    occurred_at: datetime
    actor: str = "system:baton"

    def __post_init__(self) -> None:
        require_aware(self.occurred_at, "event occurred_at")

    @property
    def aggregate_id(self) -> str:
        return str(getattr(self, f"{self.aggregate}_id", ""))

    def payload(self) -> dict[str, Any]:
        """The event's own fields (everything but ``occurred_at``/``actor``), JSON-serialisable."""
        out: dict[str, Any] = {}
        for name in _payload_fields(type(self)):
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, datetime) else value
        return out

    def to_record(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "aggregate_type": self.aggregate,
            "aggregate_id": self.aggregate_id,
            "occurred_at": self.occurred_at,
            "actor": self.actor,
            "payload": self.payload(),
        }


_PAYLOAD_FIELDS: dict[type, tuple[str, ...]] = {}


def _payload_fields(cls: type) -> tuple[str, ...]:
    """The names of ``cls``'s payload fields, in declaration order (memoised: ETA passes emit thousands)."""
    names = _PAYLOAD_FIELDS.get(cls)
    if names is None:
        names = _PAYLOAD_FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls)
                                             if f.name not in ("occurred_at", "actor"))
    return names


@dataclass(frozen=True, kw_only=True)
class OrderCreated(Event):
    name: ClassVar[str] = "order.created"
    aggregate: ClassVar[str] = "order"
    order_id: str
    external_ref: str | None = None


@dataclass(frozen=True, kw_only=True)
class OrderStatusChanged(Event):
    """An order moved along its lifecycle from ``from_status`` to ``to_status``."""

    name: ClassVar[str] = "order.status_changed"
    aggregate: ClassVar[str] = "order"
    order_id: str
    from_status: str
    to_status: str
    reason: str | None = None
    route_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class PlanCreated(Event):
    name: ClassVar[str] = "plan.created"
    aggregate: ClassVar[str] = "plan"
    plan_id: str
    routes: int
    assigned: int
    unassigned: int


@dataclass(frozen=True, kw_only=True)
class RouteDispatched(Event):
    name: ClassVar[str] = "route.dispatched"
    aggregate: ClassVar[str] = "route"
    route_id: str
    vehicle_id: str
    driver_id: str | None


@dataclass(frozen=True, kw_only=True)
class RouteStarted(Event):
    name: ClassVar[str] = "route.started"
    aggregate: ClassVar[str] = "route"
    route_id: str


@dataclass(frozen=True, kw_only=True)
class RouteCompleted(Event):
    name: ClassVar[str] = "route.completed"
    aggregate: ClassVar[str] = "route"
    route_id: str
    distance_m: int
    duration_s: int


@dataclass(frozen=True, kw_only=True)
class StopArrived(Event):
    """A vehicle arrived at a stop; ``planned_arrival`` is the plan's ETA for it."""

    name: ClassVar[str] = "stop.arrived"
    aggregate: ClassVar[str] = "route"
    route_id: str
    order_id: str
    planned_arrival: str | None = None


@dataclass(frozen=True, kw_only=True)
class StopDeparted(Event):
    """A vehicle left a stop after ``dwell_s`` seconds."""

    name: ClassVar[str] = "stop.departed"
    aggregate: ClassVar[str] = "route"
    route_id: str
    order_id: str
    dwell_s: int


EVENT_TYPES: dict[str, type[Event]] = {
    cls.name: cls
    for cls in (
        OrderCreated,
        OrderStatusChanged,
        PlanCreated,
        RouteDispatched,
        RouteStarted,
        RouteCompleted,
        StopArrived,
        StopDeparted,
    )
}


def event_from_record(name: str, occurred_at: datetime, actor: str, payload: dict[str, Any]) -> Event:
    """Rebuild an event from its stored form.

    Raises:
        KeyError: when ``name`` is not a known event type.
    """
    cls = EVENT_TYPES[name]
    return cls(occurred_at=occurred_at, actor=actor, **payload)


@dataclass(frozen=True, kw_only=True)
class OrderUpdated(Event):
    """An order's details changed (``fields``: the names of the changed fields)."""

    name: ClassVar[str] = "order.updated"
    aggregate: ClassVar[str] = "order"
    order_id: str
    fields: list[str]
    version: int = 0


EVENT_TYPES[OrderUpdated.name] = OrderUpdated

from baton.domain import plan_events as _plan_events  # noqa: E402,F401  (registers plan.drafted/plan.published)
from baton.live import events as _live_events  # noqa: E402,F401  (registers the live events)
