"""Domain errors. Every error Baton's domain raises derives from :class:`DomainError`."""

from __future__ import annotations


class DomainError(Exception):
    """Base class of every domain rule violation."""


class ValidationError(DomainError, ValueError):
    """A value object or entity was given an invalid value (message names the field)."""


class IllegalTransition(DomainError):
    """An order was asked to move between two states the lifecycle does not connect.

    ``from_status`` and ``to_status`` are the two :class:`~baton.domain.order.OrderStatus` values.
    """

    def __init__(self, order_id: str, from_status: str, to_status: str) -> None:
        self.order_id = order_id
        self.from_status = from_status
        self.to_status = to_status
        super().__init__(
            f"order {order_id}: illegal transition {from_status} -> {to_status}"
        )


class NotFound(DomainError, LookupError):
    """An aggregate referred to by id does not exist."""
