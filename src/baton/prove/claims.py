"""Damage claims: their own lifecycle (pure).

::

    opened ─► under_review ─► refunded
                   │
                   └────────► rejected

``refunded`` and ``rejected`` are final. A claim is opened automatically when a delivery fails with
reason ``damaged`` (or a driver reports a ``damaged_parcel`` issue on an order); every transition
raises a ``claim.*`` event and a webhook to the shop/OMS (see :mod:`baton.service_layer.prove_handlers`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from baton.domain.errors import IllegalTransition


class ClaimStatus(StrEnum):
    OPENED = "opened"
    UNDER_REVIEW = "under_review"
    REFUNDED = "refunded"
    REJECTED = "rejected"


C = ClaimStatus
CLAIM_TRANSITIONS: dict[ClaimStatus, frozenset[ClaimStatus]] = {
    C.OPENED: frozenset({C.UNDER_REVIEW}),
    C.UNDER_REVIEW: frozenset({C.REFUNDED, C.REJECTED}),
    C.REFUNDED: frozenset(),
    C.REJECTED: frozenset(),
}


@dataclass
class Claim:
    """A damage claim on an order; ``amount`` in ``currency`` (the declared value when opened);
    ``history``: ``[{"status", "at", "actor", "note"}]`` oldest first."""

    id: str
    order_id: str
    status: ClaimStatus
    opened_at: datetime
    reason: str
    amount: float = 0.0
    currency: str = "BRL"
    pod_id: str | None = None
    photo_sha256s: list[str] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)

    def move(self, to: ClaimStatus | str, *, at: datetime, actor: str, note: str | None = None) -> bool:
        """Move to ``to``; ``False`` (no-op) when already there.

        Raises:
            IllegalTransition: when the lifecycle has no arc to ``to`` (names both states).
        """
        target = ClaimStatus(to)
        if target == self.status:
            return False
        if target not in CLAIM_TRANSITIONS[self.status]:
            raise IllegalTransition(f"claim {self.id}", self.status.value, target.value)
        self.status = target
        self.history.append({"status": target.value, "at": at.isoformat(), "actor": actor, "note": note})
        return True

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "order_id": self.order_id, "status": self.status.value,
                "opened_at": self.opened_at.isoformat(), "reason": self.reason, "amount": self.amount,
                "currency": self.currency, "pod_id": self.pod_id, "photo_sha256s": list(self.photo_sha256s),
                "history": list(self.history)}
