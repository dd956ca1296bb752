"""The ingest worker process: ping validation and storage beside the tracker, on another core.

One Python process serialises its Python work on one core (the GIL). A server that both ingests pings
(JSON, validation, ``COPY``) and tracks vehicles (geofences, ETAs, exceptions) is bound by the sum of
both; :class:`IngestProcess` moves the first part into a child process with its own database
connections and teleport references (:class:`~baton.execute.intake.PingIntake`). The server sends each
request body's raw bytes (or an already parsed list of pings) through a pipe; the child parses,
validates and stores the batches that arrived meanwhile in one transaction, and answers each with what
was accepted, the duplicates and the rejections with reasons. The tracker then observes the accepted
pings. A batch is acknowledged only once stored, exactly as in-process.

The child moves stored latest positions at most once per ``latest_every_s`` per vehicle, flushes the
parked ones that are due whenever it has been idle for 0.2 s, and all of them when it stops.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing as mp
import threading
from concurrent.futures import Future
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

from baton.execute.pings import BatchError, IngestResult, PingSettings, Validated, pings_of_json

log = logging.getLogger(__name__)

#: most batches written in one transaction by the child
MAX_GROUP = 16
#: seconds the parent waits for the child's answer to one batch, and for the child to start
TIMEOUT_S = 60.0


class IngestError(RuntimeError):
    """The ingest process could not store a batch (its message says why) or is gone."""


def _serve(url: str, org_id: str, settings: PingSettings, latest_every_s: float, conn: Connection) -> None:
    """The child's loop (see the module docstring). Messages in: ``(id, now, bytes | list)``, or ``None``
    to stop; out: ``(id, "ok", IngestResult)`` or ``(id, "error", message, http_status)``."""
    from baton.adapters.db import make_engine, session_factory
    from baton.adapters.travel.greatcircle import GreatCircleProvider
    from baton.execute.intake import PingIntake
    from baton.service_layer.handlers import Dependencies

    engine = make_engine(url)
    intake = PingIntake(session_factory(engine), org_id, Dependencies(travel=GreatCircleProvider()), settings)
    conn.send(("ready",))
    try:
        while True:
            if not conn.poll(0.2):
                intake.flush_latest(latest_every_s)
                continue
            messages = [conn.recv()]
            while len(messages) < MAX_GROUP and messages[-1] is not None and conn.poll():
                messages.append(conn.recv())
            batches: list[tuple[int, Validated, datetime]] = []
            for message in messages:
                if message is None:
                    continue
                request_id, now, payload = message
                try:
                    raw = pings_of_json(payload) if isinstance(payload, bytes) else payload
                except BatchError as exc:  # a body that is not a batch of pings (or not JSON)
                    conn.send((request_id, "error", str(exc), exc.status))
                    continue
                batches.append((request_id, intake.validate(raw, now), now))
            if batches:
                _store(intake, batches, latest_every_s, conn)
            if any(m is None for m in messages):
                intake.flush_latest(0.0)  # every parked latest position, before stopping
                return
    finally:
        engine.dispose()


def _store(intake: Any, batches: list[tuple[int, Validated, datetime]], latest_every_s: float,
           conn: Connection) -> None:
    try:
        inserted = intake.store_many([(checked, now) for _, checked, now in batches], latest_every_s)
    except Exception as exc:  # every batch of the group fails; the senders may retry (idempotent)
        log.exception("ingest process: storing %d batches failed", len(batches))
        for request_id, _, _ in batches:
            conn.send((request_id, "error", f"storing failed: {exc.__class__.__name__}", 503))
        return
    for (request_id, checked, _), n in zip(batches, inserted, strict=True):
        conn.send((request_id, "ok", IngestResult.of(checked, n)))


class IngestProcess:
    """Parent side: starts the child over the database ``url`` for ``org_id`` and submits batches to it.

    Thread-safe. Raises :class:`IngestError` when the child does not start within :data:`TIMEOUT_S`.
    """

    def __init__(self, url: str, org_id: str, settings: PingSettings, latest_every_s: float) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(url, org_id, settings, latest_every_s, child),
                                    name=f"baton-ingest-{org_id}", daemon=True)
        self._process.start()
        child.close()
        if not self._conn.poll(TIMEOUT_S) or self._conn.recv() != ("ready",):
            self._process.kill()
            raise IngestError("the ingest process did not start")
        self._pending: dict[int, Future[IngestResult]] = {}
        self._ids = itertools.count()
        self._sending = threading.Lock()
        self._reader = threading.Thread(target=self._read, name="baton-ingest-reader", daemon=True)
        self._reader.start()

    def submit(self, payload: bytes | list[object], now: datetime) -> IngestResult:
        """Validate and store one batch: the raw request body (JSON: a list of pings, one ping, or
        ``{"pings": [...]}``) or a parsed list of pings; ``now``: the server's aware clock.

        Raises:
            BatchError: the body is not JSON or not a batch of pings (``status``: the HTTP status to answer).
            IngestError: storing failed or the process is gone.
        """
        future: Future[IngestResult] = Future()
        with self._sending:
            request_id = next(self._ids)
            self._pending[request_id] = future
            try:
                self._conn.send((request_id, now, payload))
            except (OSError, ValueError) as exc:
                del self._pending[request_id]
                raise IngestError(f"the ingest process is gone: {exc}") from exc
        return future.result(timeout=TIMEOUT_S)

    def _read(self) -> None:
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                break
            future = self._pending.pop(message[0], None)
            if future is None:
                continue
            if message[1] == "ok":
                future.set_result(message[2])
            elif message[3] == 503:
                future.set_exception(IngestError(message[2]))
            else:
                future.set_exception(BatchError(message[2], message[3]))
        with self._sending:
            pending, self._pending = self._pending, {}
        for future in pending.values():
            future.set_exception(IngestError("the ingest process is gone"))

    def close(self) -> None:
        """Stop the child after the batches it holds (waits up to 10 s, then kills it)."""
        try:
            with self._sending:
                self._conn.send(None)
        except (OSError, ValueError):
            pass
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
        self._conn.close()

