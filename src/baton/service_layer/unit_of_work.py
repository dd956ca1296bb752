"""The unit of work: one transaction around one command, with its events.

Usage::

    uow = SqlAlchemyUnitOfWork(session_factory(engine))
    with uow:
        order = uow.orders.get("o-1")
        order.transition("planned", at=now, route_id="r-1")
        uow.commit()            # state + events, one transaction
    for event in uow.collect_new_events():
        bus.handle(event)

Leaving the ``with`` block without :meth:`commit` rolls everything back. :meth:`commit`
writes back every tracked order whose state changed, checking optimistic locks
(``UPDATE ... WHERE version = <version read>``), and appends every pending event of every
tracked order, plus those given to :meth:`record`, to the append-only ``events`` table, in
the same transaction. Only once that transaction is committed are the events cleared from
the orders and handed to :meth:`collect_new_events`.
"""

from __future__ import annotations

import abc
from collections import deque
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Self

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from baton.adapters import orm
from baton.adapters.repository import (
    DepotRepository,
    DriverRepository,
    OrderRepository,
    PlanRepository,
    VehicleRepository,
)
from baton.adapters.repository.events import insert_events
from baton.domain.errors import DomainError
from baton.domain.events import Event, event_from_record


class ConcurrencyError(DomainError):
    """Another transaction changed an aggregate since this unit of work read it.

    ``aggregate`` names the kind (``order``), ``ids`` the conflicting ids. Nothing was
    written; reload the aggregates and retry the command.
    """

    def __init__(self, aggregate: str, ids: list[str]) -> None:
        self.aggregate = aggregate
        self.ids = ids
        shown = ", ".join(ids[:10]) + (" ..." if len(ids) > 10 else "")
        super().__init__(f"{aggregate}(s) changed concurrently, reload and retry: {shown}")


#: Called inside every :class:`SqlAlchemyUnitOfWork` commit, after the state changes and events
#: are written and before the transaction commits, as ``hook(uow, events)``: rows a hook writes
#: (e.g. the notification outbox) commit or roll back with the events that caused them.
BEFORE_COMMIT_HOOKS: list[Any] = []


class AbstractUnitOfWork(abc.ABC):
    """A transaction boundary with repositories and an outbox of committed events."""

    orders: OrderRepository
    depots: DepotRepository
    vehicles: VehicleRepository
    drivers: DriverRepository
    plans: PlanRepository

    def __init__(self) -> None:
        self._recorded: list[Event] = []
        self._committed_events: deque[Event] = deque()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.rollback()

    def record(self, *events: Event) -> None:
        """Queue events not carried by a tracked aggregate (e.g. ``PlanCreated``) for the next commit."""
        self._recorded.extend(events)

    def commit(self) -> None:
        """Persist changes and pending events atomically, then release the events for the bus.

        Raises:
            ConcurrencyError: when a tracked order was changed by someone else (nothing is written).
            sqlalchemy.exc.SQLAlchemyError: when the database refuses the transaction (rolled back).
        """
        events = [e for order in self.orders.tracked() for e in order.events] + self._recorded
        self._commit(events)
        for order in self.orders.tracked():
            order.events.clear()
        self._recorded.clear()
        self._committed_events.extend(events)

    def collect_new_events(self) -> Iterator[Event]:
        """Yield (and forget) committed events, oldest first, including ones committed while iterating."""
        while self._committed_events:
            yield self._committed_events.popleft()

    @abc.abstractmethod
    def _commit(self, events: list[Event]) -> None:
        """Write tracked changes and ``events`` in one transaction and commit it."""

    @abc.abstractmethod
    def rollback(self) -> None:
        """Abandon everything not committed (no-op after :meth:`commit`)."""

    @abc.abstractmethod
    def events_for(self, aggregate_id: str) -> list[Event]:
        """Every stored event of one aggregate (order, route or plan id), oldest first."""

    @abc.abstractmethod
    def all_events(self, limit: int | None = None) -> list[Event]:
        """Stored events, oldest first; with ``limit``, only the latest ``limit`` of them."""


class SqlAlchemyUnitOfWork(AbstractUnitOfWork):
    """A unit of work over SQLAlchemy sessions; each ``with`` block opens a new session.

    ``org_id`` scopes every repository and event to one organisation.
    """

    def __init__(self, session_factory: sessionmaker[Session], org_id: str = orm.DEFAULT_ORG) -> None:
        super().__init__()
        self.session_factory = session_factory
        self.org_id = org_id
        self.session: Session | None = None

    def __enter__(self) -> Self:
        self.session = session = self.session_factory()
        self.orders = OrderRepository(session, self.org_id)
        self.depots = DepotRepository(session, self.org_id)
        self.vehicles = VehicleRepository(session, self.org_id)
        self.drivers = DriverRepository(session, self.org_id)
        self.plans = PlanRepository(session, self.org_id)
        self._recorded.clear()
        return super().__enter__()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            super().__exit__(exc_type, exc, tb)
        finally:
            if self.session is not None:
                self.session.close()
            self.session = None

    def _active(self) -> Session:
        if self.session is None:
            raise RuntimeError("unit of work used outside its `with` block")
        return self.session

    def _commit(self, events: list[Event]) -> None:
        session = self._active()
        try:
            conflicts = self.orders.flush_changes()
            if conflicts:
                raise ConcurrencyError("order", conflicts)
            if events:
                insert_events(session, self.org_id, events, orm.utcnow())
                for hook in BEFORE_COMMIT_HOOKS:
                    hook(self, events)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        self.orders.mark_persisted()

    def rollback(self) -> None:
        self._recorded.clear()
        if self.session is not None:
            self.session.rollback()

    def events_for(self, aggregate_id: str) -> list[Event]:
        e = orm.events
        return self._read_events(
            select(e).where(e.c.org_id == self.org_id, e.c.aggregate_id == aggregate_id).order_by(e.c.id)
        )

    def all_events(self, limit: int | None = None) -> list[Event]:
        e = orm.events
        stmt = select(e).where(e.c.org_id == self.org_id)
        if limit is None:
            return self._read_events(stmt.order_by(e.c.id))
        latest = stmt.order_by(e.c.id.desc()).limit(limit).subquery()
        return self._read_events(select(latest).order_by(latest.c.id))

    def _read_events(self, stmt: Any) -> list[Event]:
        """Run ``stmt`` in the open session, or in a short one outside a ``with`` block.

        Raises:
            KeyError: when a stored event's name is not a known event type.
        """
        if self.session is not None:
            rows = self.session.execute(stmt).all()
        else:
            with self.session_factory() as session:
                rows = session.execute(stmt).all()
        return [event_from_record(r.name, r.occurred_at, r.actor, r.payload) for r in rows]
