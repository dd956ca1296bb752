"""Execution events: ETAs, exceptions and customer-notification requests.

They subclass :class:`baton.domain.events.Event` and are registered in
:data:`baton.domain.events.EVENT_TYPES` on import (``baton.adapters.orm_execute`` imports this
module, so every unit of work can read them back). Names are ``eta.*``/``exception.*`` so they
cannot collide with the notification area's own event classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from baton.domain.events import EVENT_TYPES, Event


@dataclass(frozen=True, kw_only=True)
class StopEtaChanged(Event):
    """A stop's ETA moved by at least the threshold. Instants are ISO 8601 strings; ``delta_s`` = new - old."""

    name: ClassVar[str] = "eta.changed"
    aggregate: ClassVar[str] = "order"
    order_id: str
    route_id: str
    vehicle_id: str
    old_eta: str | None
    new_eta: str
    delta_s: int
    planned_arrival: str | None = None


@dataclass(frozen=True, kw_only=True)
class EtaErrorRecorded(Event):
    """At arrival: ``error_s`` = actual - predicted arrival (positive: later than predicted)."""

    name: ClassVar[str] = "eta.error_recorded"
    aggregate: ClassVar[str] = "order"
    order_id: str
    route_id: str
    predicted_arrival: str
    actual_arrival: str
    error_s: int


@dataclass(frozen=True, kw_only=True)
class ExceptionOpened(Event):
    """The monitor opened an exception of ``kind`` (``late_risk``, ``long_dwell``, ...)."""

    name: ClassVar[str] = "exception.opened"
    aggregate: ClassVar[str] = "exception"
    exception_id: str
    kind: str
    route_id: str | None = None
    vehicle_id: str | None = None
    order_id: str | None = None
    details: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class ExceptionAcknowledged(Event):
    name: ClassVar[str] = "exception.acknowledged"
    aggregate: ClassVar[str] = "exception"
    exception_id: str
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class ExceptionResolved(Event):
    """``resolution`` says how; ``automatic`` when the monitor saw the condition clear."""

    name: ClassVar[str] = "exception.resolved"
    aggregate: ClassVar[str] = "exception"
    exception_id: str
    resolution: str
    automatic: bool = False


@dataclass(frozen=True, kw_only=True)
class ExceptionActionTaken(Event):
    """A playbook step ran for an exception; ``outcome`` is ``done``, ``no_op`` or ``failed``."""

    name: ClassVar[str] = "exception.action_taken"
    aggregate: ClassVar[str] = "exception"
    exception_id: str
    action: str
    outcome: str
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class CustomerNotificationRequested(Event):
    """Tell the customer of ``order_id`` something (``topic``: ``delay``, ...); the notifier sends it."""

    name: ClassVar[str] = "order.notification_requested"
    aggregate: ClassVar[str] = "order"
    order_id: str
    topic: str
    exception_id: str | None = None
    eta: str | None = None
    message: str = ""


EXECUTION_EVENTS: tuple[type[Event], ...] = (
    StopEtaChanged, EtaErrorRecorded, ExceptionOpened, ExceptionAcknowledged, ExceptionResolved,
    ExceptionActionTaken, CustomerNotificationRequested,
)

for _cls in EXECUTION_EVENTS:
    EVENT_TYPES.setdefault(_cls.name, _cls)
