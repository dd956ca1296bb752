"""The tender workflow as pure state machines.

A :class:`Tender` is one offer of one order to one carrier::

    offered ─► accepted ─► withdrawn (carrier down before pick-up)
       ├─────► rejected
       ├─────► timed_out   (no answer before ``expires_at``)
       └─────► failed      (offer could not be delivered)

An answer to a tender that is no longer ``offered`` raises :class:`TenderClosed` (a late accept
after a timeout is refused cleanly); repeating the answer it already has is a no-op.

A :class:`DispatchProcess` is one order's way through its decision: offers go to ``queue`` in
order; when the queue is empty the ``fallback`` applies (``captive`` or ``unassigned``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from baton.domain.errors import DomainError
from baton.domain.values import require_aware


class TenderState(StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"
    FAILED = "failed"
    WITHDRAWN = "withdrawn"


class TenderClosed(DomainError):
    """An answer arrived for a tender that is no longer open; ``state`` is its current state."""

    def __init__(self, tender_id: str, state: str, answer: str) -> None:
        self.tender_id = tender_id
        self.state = state
        self.answer = answer
        super().__init__(f"tender {tender_id}: {answer} refused, the tender is already {state}")


@dataclass
class Tender:
    """One offer. Instants are aware; ``expires_at`` = ``offered_at`` + the carrier's timeout.
    ``driver_id``: the gig courier the offer was made to (``None``: made to the carrier's API)."""

    id: str
    order_id: str
    carrier_id: str
    offered_at: datetime
    expires_at: datetime
    state: TenderState = TenderState.OFFERED
    responded_at: datetime | None = None
    reason: str | None = None
    price: float | None = None
    driver_id: str | None = None

    @classmethod
    def offer(cls, tender_id: str, order_id: str, carrier_id: str, at: datetime, timeout_s: int,
              price: float | None = None, driver_id: str | None = None) -> Tender:
        require_aware(at, "at")
        return cls(tender_id, order_id, carrier_id, at, at + timedelta(seconds=timeout_s), price=price,
                   driver_id=driver_id)

    @property
    def open(self) -> bool:
        return self.state is TenderState.OFFERED

    def _answer(self, to: TenderState, answer: str, at: datetime, reason: str | None) -> bool:
        if self.state is to:
            return False
        if self.state is not TenderState.OFFERED:
            raise TenderClosed(self.id, self.state.value, answer)
        self.state, self.responded_at, self.reason = to, at, reason
        return True

    def accept(self, at: datetime) -> bool:
        """Accept; ``False`` when already accepted (idempotent).

        Raises:
            TenderClosed: when the tender is rejected, timed out, failed or withdrawn, or when
                ``at`` is after ``expires_at`` (the tender is then marked timed out first).
        """
        if self.state is TenderState.OFFERED and at > self.expires_at:
            self.time_out(at)
        return self._answer(TenderState.ACCEPTED, "accept", at, None)

    def reject(self, at: datetime, reason: str = "") -> bool:
        """Reject; ``False`` when already rejected. Raises :class:`TenderClosed` otherwise when closed."""
        return self._answer(TenderState.REJECTED, "reject", at, reason)

    def fail(self, at: datetime, error: str) -> bool:
        return self._answer(TenderState.FAILED, "fail", at, error)

    def time_out(self, at: datetime) -> bool:
        """Close an open offer whose deadline passed; ``False`` when not open or not expired."""
        if self.state is not TenderState.OFFERED or at < self.expires_at:
            return False
        self.state, self.responded_at, self.reason = TenderState.TIMED_OUT, at, "no answer before deadline"
        return True

    def withdraw(self, at: datetime, reason: str) -> bool:
        """Take back an accepted or open tender (carrier down); ``False`` when already closed otherwise."""
        if self.state not in (TenderState.ACCEPTED, TenderState.OFFERED):
            return False
        self.state, self.responded_at, self.reason = TenderState.WITHDRAWN, at, reason
        return True


class ProcessState(StrEnum):
    TENDERING = "tendering"
    ASSIGNED = "assigned"
    CAPTIVE = "captive"
    UNASSIGNED = "unassigned"
    DONE = "done"


@dataclass
class DispatchProcess:
    """One order's dispatch: ``queue`` of carriers still to try, ``tried`` ones, the current tender,
    the assignee (``carrier_id``) and, when unassigned, the ``reason``."""

    order_id: str
    rule_id: str
    ruleset_version: int
    state: ProcessState
    queue: list[str] = field(default_factory=list)
    tried: list[str] = field(default_factory=list)
    fallback: str = "unassigned"
    timeout_s: int | None = None
    carrier_id: str | None = None
    tender_id: str | None = None
    reason: str | None = None
    picked_up: bool = False
    stored: bool = field(default=False, compare=False)  # a row exists (set by the store)

    def next_carrier(self, excluded: set[str]) -> str | None:
        """Pop the next carrier to offer to, skipping ``excluded`` (down) ones and ones already tried."""
        while self.queue:
            carrier = self.queue.pop(0)
            if carrier in excluded or carrier in self.tried:
                continue
            self.tried.append(carrier)
            return carrier
        return None
