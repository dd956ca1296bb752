"""Ping intake: validation and storage of GPS pings, with no tracking state.

:class:`PingIntake` is the first two stages of ingestion, used in the tracker's process by
:class:`~baton.execute.service.ExecutionService` and on its own by the ingest worker process
(:mod:`baton.execute.ingest_process`):

1. :meth:`PingIntake.validate`: types, ranges, future/stale timestamps and teleports
   (:func:`~baton.execute.pings.validate_batch`) against in-memory teleport references
   (:class:`~baton.execute.references.FixReferences`), which then advance;
2. :meth:`PingIntake.store`: ``RecordPositions`` on a message bus of its own, group-committed with
   concurrent callers (:class:`~baton.execute.writer.GroupWriter`); each vehicle's stored latest
   position moves at most once per ``latest_every_s`` (:class:`~baton.execute.latest.LatestCheckpoints`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from baton.adapters.repository.positions import PositionRepository
from baton.execute.latest import LatestCheckpoints
from baton.execute.pings import PingSettings, Validated, validate_batch
from baton.execute.references import Fix, FixReferences
from baton.execute.writer import GroupWriter
from baton.service_layer import commands
from baton.service_layer.handlers import Dependencies
from baton.service_layer.messagebus import MessageBus
from baton.service_layer.unit_of_work import SqlAlchemyUnitOfWork


class PingIntake:
    """Validation and storage of one organisation's pings over ``session_factory`` (own sessions).

    :meth:`validate` calls are serialised here (one at a time); :meth:`store` is thread-safe.
    """

    def __init__(self, session_factory: sessionmaker[Session], org_id: str, deps: Dependencies,
                 settings: PingSettings | None = None) -> None:
        self.settings = settings or PingSettings()
        self._lookup_uow = SqlAlchemyUnitOfWork(session_factory, org_id)
        self._bus = MessageBus(SqlAlchemyUnitOfWork(session_factory, org_id), deps)
        self._validating = threading.Lock()
        self.references = FixReferences(self._load_fixes)
        self.latest = LatestCheckpoints()
        self.writer: GroupWriter[tuple[Validated, datetime, float], int] = GroupWriter(self._write)

    def validate(self, pings: Sequence[object], now: datetime) -> Validated:
        """Validate raw pings (see :func:`~baton.execute.pings.validate_batch`; ``now``: the server's aware
        clock) against the teleport references, which then advance to the accepted pings. Raises what the
        store raises when a vehicle seen for the first time is looked up."""
        ids = {v for raw in pings if isinstance(raw, dict) and isinstance(v := raw.get("vehicle_id"), str)}
        with self._validating:
            checked = validate_batch(pings, now, self.references.for_vehicles(ids), self.settings)
            self.references.advance(checked.accepted)
        return checked

    def store(self, checked: Validated, received_at: datetime, latest_every_s: float = 0.0) -> int:
        """Persist ``checked`` (trail, latest positions, refused pings) in one transaction with the batches
        of concurrent callers; blocks until committed and returns how many of its pings were new.
        ``received_at``: aware instant of reception; ``latest_every_s``: move each vehicle's stored latest
        position at most once per this many seconds (0: now). Raises what the store raised (the batch is
        then not stored)."""
        return self.writer.submit((checked, received_at, latest_every_s))

    def store_many(self, batches: Sequence[tuple[Validated, datetime]], latest_every_s: float = 0.0) -> list[int]:
        """:meth:`store` for several batches at once (``(checked, received_at)``), in one transaction when
        no other caller is writing; returns how many pings of each were new."""
        return self.writer.submit_many([(checked, at, latest_every_s) for checked, at in batches])

    def flush_latest(self, every_s: float) -> None:
        """Write the parked latest positions whose interval ``every_s`` (s) has elapsed."""
        if self.latest.pending:
            self.store(Validated(), datetime.now(UTC), every_s)

    def _load_fixes(self, vehicle_ids: list[str]) -> dict[str, Fix]:
        with self._lookup_uow as uow:
            assert uow.session is not None
            return PositionRepository(uow.session, uow.org_id).latest_fixes(vehicle_ids)

    def _write(self, items: list[tuple[Validated, datetime, float]]) -> list[int]:
        groups = [(checked.accepted, at) for checked, at, _ in items]
        now = time.monotonic()
        due = self.latest.due(groups, now, min(every for _, _, every in items))
        try:
            inserted: list[int] = self._bus.handle(commands.RecordPositions(
                at=max(at for _, at, _ in items), actor="system:ingest",
                batches=[(checked, at) for checked, at, _ in items], latest=list[tuple[object, datetime]](due)))
        except BaseException:
            self.latest.discard(groups)
            raise
        self.latest.written(due, now)
        return inserted
