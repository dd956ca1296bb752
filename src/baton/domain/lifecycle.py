"""The order lifecycle as an explicit state machine.

::

    created ─► planned ─► dispatched ─► out_for_delivery ─► arrived ─► delivered
       ▲          │                                            │
       └──────────┘ (unplanned: removed from a plan)           └─► failed_attempt ─► reattempt ─► planned
                                                                          │
                                                                          └─► returned_to_depot ─► reattempt

    cancelled: from every state before delivery (not from delivered, not from cancelled).

``reattempt`` means "to be attempted again" (later the same day or another day); it is
planned again like a new order. ``returned_to_depot`` means the parcel is back at the
depot; it can still be reattempted or cancelled. ``delivered`` and ``cancelled`` are terminal.
"""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    CREATED = "created"
    PLANNED = "planned"
    DISPATCHED = "dispatched"
    OUT_FOR_DELIVERY = "out_for_delivery"
    ARRIVED = "arrived"
    DELIVERED = "delivered"
    FAILED_ATTEMPT = "failed_attempt"
    REATTEMPT = "reattempt"
    RETURNED_TO_DEPOT = "returned_to_depot"
    CANCELLED = "cancelled"


S = OrderStatus

_FORWARD: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.CREATED: frozenset({S.PLANNED}),
    S.PLANNED: frozenset({S.DISPATCHED, S.CREATED}),
    S.DISPATCHED: frozenset({S.OUT_FOR_DELIVERY}),
    S.OUT_FOR_DELIVERY: frozenset({S.ARRIVED}),
    S.ARRIVED: frozenset({S.DELIVERED, S.FAILED_ATTEMPT}),
    S.FAILED_ATTEMPT: frozenset({S.REATTEMPT, S.RETURNED_TO_DEPOT}),
    S.REATTEMPT: frozenset({S.PLANNED}),
    S.RETURNED_TO_DEPOT: frozenset({S.REATTEMPT}),
    S.DELIVERED: frozenset(),
    S.CANCELLED: frozenset(),
}

TERMINAL: frozenset[OrderStatus] = frozenset({S.DELIVERED, S.CANCELLED})

#: Every legal ``(from, to)`` pair: the forward arcs plus cancellation from every non-terminal state.
TRANSITIONS: frozenset[tuple[OrderStatus, OrderStatus]] = frozenset(
    {(a, b) for a, targets in _FORWARD.items() for b in targets}
    | {(a, S.CANCELLED) for a in OrderStatus if a not in TERMINAL}
)


def can_transition(from_status: OrderStatus, to_status: OrderStatus) -> bool:
    """True when the lifecycle has an arc ``from_status -> to_status``."""
    return (from_status, to_status) in TRANSITIONS


def next_states(status: OrderStatus) -> frozenset[OrderStatus]:
    """The states reachable from ``status`` in one transition."""
    return frozenset(b for a, b in TRANSITIONS if a == status)
