"""Execution commands (issue 7): positions, stop visits, ETAs, exceptions, customer notifications."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from baton.service_layer.commands.base import Command


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
