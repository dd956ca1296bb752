"""Carrier health: a circuit breaker per carrier (pure, clock passed in).

``closed`` (healthy) ─► ``open`` after ``failure_threshold`` consecutive failures (tenders or health
probes that could not be delivered), or when the carrier's status feed has been silent for
``silence_s`` while it holds open orders. ``open`` ─► ``half_open`` once ``cooldown_s`` passed:
one probe is let through; success closes the breaker, failure opens it again for another cooldown.
Nothing new is offered to a carrier whose breaker is not ``closed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class CircuitBreaker:
    """Health of one carrier. Durations in seconds; instants aware."""

    carrier_id: str
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opened_at: datetime | None = None
    last_status_at: datetime | None = None
    reason: str | None = None
    failure_threshold: int = 3
    cooldown_s: int = 120
    silence_s: int = 900

    @property
    def down(self) -> bool:
        return self.state is not BreakerState.CLOSED

    def _open(self, at: datetime, reason: str) -> bool:
        was_open = self.state is BreakerState.OPEN
        self.state, self.opened_at, self.reason = BreakerState.OPEN, at, reason
        return not was_open

    def force_open(self, at: datetime, reason: str) -> bool:
        """Open now (an operator's decision); ``True`` when it was not open already."""
        return self._open(at, reason)

    def record_failure(self, at: datetime, error: str) -> bool:
        """Count a failure; ``True`` when this opened the breaker (closed/half-open -> open)."""
        self.failures += 1
        if self.state is BreakerState.HALF_OPEN:
            return self._open(at, f"half-open probe failed: {error}")
        if self.state is BreakerState.CLOSED and self.failures >= self.failure_threshold:
            return self._open(at, f"{self.failures} consecutive failures, last: {error}")
        return False

    def record_success(self, at: datetime) -> bool:
        """A tender or probe got through; ``True`` when this closed an open/half-open breaker."""
        self.failures = 0
        recovered = self.state is not BreakerState.CLOSED
        self.state, self.reason = BreakerState.CLOSED, None
        if recovered:
            self.opened_at = None
            self.last_status_at = at
        return recovered

    def record_status(self, at: datetime) -> None:
        """The carrier's status feed spoke."""
        if self.last_status_at is None or at > self.last_status_at:
            self.last_status_at = at

    def check_silence(self, at: datetime, has_open_orders: bool) -> bool:
        """Open when the feed has been silent ``silence_s`` with open orders; ``True`` when it opened."""
        if self.state is not BreakerState.CLOSED or not has_open_orders or self.last_status_at is None:
            return False
        silent = (at - self.last_status_at).total_seconds()
        if silent >= self.silence_s:
            return self._open(at, f"status feed silent for {int(silent)} s with open orders")
        return False

    def probe_due(self, at: datetime) -> bool:
        """Move ``open`` -> ``half_open`` once the cooldown passed; ``True`` when a probe may be sent."""
        if self.state is BreakerState.OPEN and self.opened_at is not None \
                and at >= self.opened_at + timedelta(seconds=self.cooldown_s):
            self.state = BreakerState.HALF_OPEN
        return self.state is not BreakerState.OPEN
