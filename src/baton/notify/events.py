"""Events of the customer-experience area, registered in :data:`baton.domain.events.EVENT_TYPES`.

ETA changes (``eta.changed``) and late risks (``exception.opened`` of kind ``late_risk``,
``order.notification_requested``) are defined by the execution area
(:mod:`baton.execute.events`); the notification engine consumes them by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from baton.domain.events import EVENT_TYPES, Event


@dataclass(frozen=True, kw_only=True)
class DeliveryRated(Event):
    """The customer rated a delivered order: ``rating`` 1-5 and a free ``comment``."""

    name: ClassVar[str] = "order.rated"
    aggregate: ClassVar[str] = "order"
    order_id: str
    rating: int
    comment: str = ""
    route_id: str | None = None
    driver_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class OrderRescheduled(Event):
    """The customer moved the delivery to the slot ``[window_start, window_end]`` (ISO 8601).

    ``from_route_id``/``to_route_id``: the routes it left and joined (``None``: left to the
    next planning run); ``eta``: the new planned arrival, when inserted into a route.
    """

    name: ClassVar[str] = "order.rescheduled"
    aggregate: ClassVar[str] = "order"
    order_id: str
    window_start: str
    window_end: str
    from_route_id: str | None = None
    to_route_id: str | None = None
    eta: str | None = None


@dataclass(frozen=True, kw_only=True)
class DriverMessagedCustomer(Event):
    """The driver sent the customer a message from the app: ``template`` (``arriving_soon``,
    ``cannot_find_address``, ``at_door``) and an optional free ``text``; ``ref``: unique per message
    (the client's message id, for idempotent retries)."""

    name: ClassVar[str] = "driver.customer_messaged"
    aggregate: ClassVar[str] = "order"
    order_id: str
    template: str
    ref: str
    text: str = ""
    route_id: str | None = None
    driver_id: str | None = None


for _cls in (DeliveryRated, OrderRescheduled, DriverMessagedCustomer):
    EVENT_TYPES.setdefault(_cls.name, _cls)
