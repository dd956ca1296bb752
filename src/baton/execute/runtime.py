"""Running execution in a server: a pipelined ingest path, one lock around tracking, a background ETA refresher.

:class:`ExecutionRuntime` is what the HTTP router talks to. An ingest request goes through the service's
three stages: validation (one request at a time, against in-memory teleport references), storage (group
commit: the batches of concurrent requests share one transaction, and the database works while the
other requests validate or observe) and observation (geofences, under the tracking lock); it is
acknowledged once its pings are stored and observed. ETA recomputation is *coalesced per vehicle*: the
refresher thread wakes every ``interval_s``, recomputes each vehicle that received pings since its last
pass exactly once and publishes the ETAs in one transaction. ``lag_ms`` samples measure ping received → ETA committed.
Every ``tick_s`` the refresher also re-evaluates all tracked vehicles (GPS silence, lateness that
grows while nothing is received).

:class:`TenantRuntimes` holds one runtime per organisation, each over that organisation's own message bus
and unit of work, created (and started) lazily on the organisation's first request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from baton.domain.events import Event
from baton.execute.ingest_process import IngestProcess
from baton.execute.pings import IngestResult, pings_of_json
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

    def __init__(self, service: ExecutionService, interval_s: float = 0.2, tick_s: float = 30.0, *,
                 ingest_process: bool = False) -> None:
        self.service = service
        self.interval_s = interval_s
        self.tick_s = tick_s
        self.lock = threading.Lock()  # tracking state: observation, ETA passes, bus commands
        self.counters = IngestCounters()
        self._stop = threading.Event()
        self._refresh_waiting = threading.Event()
        self._thread: threading.Thread | None = None
        self._use_process = ingest_process
        self._process: IngestProcess | None = None
        self._starting = threading.Lock()
        self._foreign: deque[Event] = deque()  # events of other buses, handed over under the lock

    def foreign(self, event: Event) -> None:
        """An event another bus committed that execution must see (``live.route_replanned``: reload the
        route; ``live.vehicle_broke_down``: open its exceptions). Thread-safe and never blocks: it is
        handed to :meth:`ExecutionService.on_foreign_event` under the tracking lock at the next ingest
        or refresh pass (within ``interval_s``)."""
        self._foreign.append(event)

    def _take_foreign(self) -> None:
        """Hand queued foreign events to the service (call with :attr:`lock` held)."""
        while self._foreign:
            self.service.on_foreign_event(self._foreign.popleft())

    def ingest(self, pings: Sequence[object]) -> IngestResult:
        """Validate, store and observe a batch of raw pings (see the module docstring); raises what the
        store raises (nothing of the batch is then stored)."""
        return self._ingest(list(pings))

    def ingest_body(self, body: bytes) -> IngestResult:
        """:meth:`ingest` for a raw JSON request body (a list of pings, one ping, or ``{"pings": [...]}``);
        with the ingest process on, the body is parsed there.

        Raises:
            BatchError: the body is not JSON or not a batch of pings (``status``: the HTTP status).
            IngestError: the ingest process could not store the batch.
        """
        if self._worker() is not None:
            return self._ingest(body)
        return self._ingest(pings_of_json(body))

    def _worker(self) -> IngestProcess | None:
        if not self._use_process:
            return None
        if self._process is None:
            with self._starting:
                if self._process is None:
                    bind = self.service.uow.session_factory.kw["bind"]
                    url = bind.url.render_as_string(hide_password=False)
                    settings = self.service.settings
                    self._process = IngestProcess(url, self.service.uow.org_id, settings.pings,
                                                  settings.latest_every_s)
        return self._process

    def _ingest(self, payload: bytes | list[object]) -> IngestResult:
        received = time.monotonic()
        started = time.perf_counter()
        service = self.service
        now = datetime.now(UTC)
        worker = self._worker()
        if worker is not None:
            result = worker.submit(payload, now)
        else:
            assert isinstance(payload, list)
            checked = service.intake.validate(payload, now)
            result = IngestResult.of(checked, service.intake.store(checked, now, service.settings.latest_every_s))
        while self._refresh_waiting.is_set():  # the refresher goes first: it bounds the ETA lag
            time.sleep(0.001)
        with self.lock:
            self._take_foreign()
            service.observe(result.stored, received)
            c = self.counters
            c.ingest_s += time.perf_counter() - started
            c.batches += 1
            c.accepted += result.accepted
            c.duplicates += result.duplicates
            c.rejected += len(result.rejected)
        self.after_ingest(result)
        return result

    def after_ingest(self, result: IngestResult) -> None:
        """Called with every stored batch after it was observed (a hook: nothing here)."""

    def refresh_now(self) -> None:
        self._refresh_waiting.set()
        try:
            with self.lock:
                self._refresh_waiting.clear()
                started = time.perf_counter()
                self._take_foreign()
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
        """Stop the refresher and the ingest process (a later batch starts the process again)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        with self._starting:
            process, self._process = self._process, None
        if process is not None:
            process.close()  # it writes its parked latest positions first
        else:
            self.service.intake.flush_latest(0.0)

    def _run(self) -> None:
        last_tick = time.monotonic()
        while not self._stop.wait(self.interval_s):
            try:
                if time.monotonic() - last_tick >= self.tick_s:
                    with self.lock:
                        self._take_foreign()
                        self.service.tick(datetime.now(UTC))
                    last_tick = time.monotonic()
                else:
                    self.refresh_now()
                if self._process is None:
                    self.service.intake.flush_latest(self.service.settings.latest_every_s)
            except Exception:  # keep refreshing; the failure is in the log
                log.exception("ETA refresh failed")

    def stats(self) -> dict[str, Any]:
        """Counters and ETA lag percentiles (ms) since start; ``ingest_process``: pings are validated and
        stored by the ingest process."""
        with self.lock:
            lags = list(self.service.lag_ms)
            c = self.counters
            return {"batches": c.batches, "accepted": c.accepted, "duplicates": c.duplicates,
                    "rejected": c.rejected, "vehicles_tracked": len(self.service.vehicles),
                    "ingest_process": self._process is not None,
                    "ingest_busy_s": round(c.ingest_s, 3),
                    "refresh_passes": c.refresh_passes,
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
