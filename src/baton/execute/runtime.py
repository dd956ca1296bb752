"""Running execution in a server: one lock around the service, a background ETA refresher.

:class:`ExecutionRuntime` is what the HTTP router talks to. Ingest requests store pings and run
geofences at once; ETA recomputation is *coalesced per vehicle*: the refresher thread wakes every
``interval_s``, recomputes each vehicle that received pings since its last pass exactly once and
publishes the ETAs in one transaction. ``lag_ms`` samples measure ping received → ETA committed.
Every ``tick_s`` the refresher also re-evaluates all tracked vehicles (GPS silence, lateness that
grows while nothing is received).

:class:`TenantRuntimes` holds one runtime per organisation, each over that organisation's own message bus
and unit of work, created (and started) lazily on the organisation's first request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from baton.execute.pings import IngestResult
from baton.execute.service import ExecutionService

log = logging.getLogger(__name__)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) by nearest rank, ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[k]


@dataclass
class IngestCounters:
    batches: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    ingest_s: float = 0.0
    refresh_passes: int = 0
    refresh_s: float = 0.0


class ExecutionRuntime:
    """Thread-safe façade over :class:`ExecutionService` with a background coalescing refresher."""

    def __init__(self, service: ExecutionService, interval_s: float = 0.2, tick_s: float = 30.0) -> None:
        self.service = service
        self.interval_s = interval_s
        self.tick_s = tick_s
        self.lock = threading.Lock()
        self.counters = IngestCounters()
        self._stop = threading.Event()
        self._refresh_waiting = threading.Event()
        self._thread: threading.Thread | None = None

    def ingest(self, pings: Sequence[object]) -> IngestResult:
        received = time.monotonic()
        while self._refresh_waiting.is_set():  # the refresher goes first: it bounds the ETA lag
            time.sleep(0.001)
        with self.lock:
            started = time.perf_counter()
            result = self.service.ingest(pings, received_mono=received)
            c = self.counters
            c.ingest_s += time.perf_counter() - started
            c.batches += 1
            c.accepted += result.accepted
            c.duplicates += result.duplicates
            c.rejected += len(result.rejected)
        return result

    def refresh_now(self) -> None:
        self._refresh_waiting.set()
        try:
            with self.lock:
                self._refresh_waiting.clear()
                started = time.perf_counter()
                self.service.refresh(datetime.now(UTC))
                self.counters.refresh_passes += 1
                self.counters.refresh_s += time.perf_counter() - started
        finally:
            self._refresh_waiting.clear()

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="baton-eta-refresher", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        last_tick = time.monotonic()
        while not self._stop.wait(self.interval_s):
            try:
                if time.monotonic() - last_tick >= self.tick_s:
                    with self.lock:
                        self.service.tick(datetime.now(UTC))
                    last_tick = time.monotonic()
                else:
                    self.refresh_now()
            except Exception:  # keep refreshing; the failure is in the log
                log.exception("ETA refresh failed")

    def stats(self) -> dict[str, Any]:
        """Counters and ETA lag percentiles (ms) since start."""
        with self.lock:
            lags = list(self.service.lag_ms)
            c = self.counters
            return {"batches": c.batches, "accepted": c.accepted, "duplicates": c.duplicates,
                    "rejected": c.rejected, "vehicles_tracked": len(self.service.vehicles),
                    "ingest_busy_s": round(c.ingest_s, 3), "refresh_passes": c.refresh_passes,
                    "refresh_busy_s": round(c.refresh_s, 3),
                    "eta_updates": len(lags), "eta_skipped": self.service.skipped,
                    "eta_lag_p50_ms": percentile(lags, 0.5),
                    "eta_lag_p95_ms": percentile(lags, 0.95)}


class TenantRuntimes:
    """One :class:`ExecutionRuntime` per organisation, created on first use by ``factory(org_id)``.

    ``factory`` must build the runtime over a message bus (and unit of work) confined to ``org_id``, so an
    organisation never sees another's positions, ETAs or exceptions. Runtimes created after :meth:`start`
    start their refresher at once. Thread-safe.
    """

    def __init__(self, factory: Callable[[str], ExecutionRuntime]) -> None:
        self.factory = factory
        self._runtimes: dict[str, ExecutionRuntime] = {}
        self._guard = threading.Lock()
        self._started = False

    def for_org(self, org_id: str) -> ExecutionRuntime:
        """The runtime of ``org_id`` (created, and started when the registry is, on first use)."""
        runtime = self._runtimes.get(org_id)
        if runtime is not None:
            return runtime
        with self._guard:
            runtime = self._runtimes.get(org_id)
            if runtime is None:
                runtime = self.factory(org_id)
                if self._started:
                    runtime.start()
                self._runtimes[org_id] = runtime
        return runtime

    def get(self, org_id: str) -> ExecutionRuntime | None:
        """The runtime of ``org_id`` if it exists already (never creates one)."""
        return self._runtimes.get(org_id)

    def orgs(self) -> list[str]:
        """Organisations with a runtime, sorted."""
        return sorted(self._runtimes)

    def start(self) -> None:
        with self._guard:
            self._started = True
            for runtime in self._runtimes.values():
                runtime.start()

    def stop(self) -> None:
        with self._guard:
            self._started = False
            runtimes = list(self._runtimes.values())
        for runtime in runtimes:
            runtime.stop()
