"""Group commit: many concurrent callers' batches written in one transaction, each caller told its share.

The HTTP ingest path stores every batch of pings before acknowledging it. Under load, requests arrive
while the previous write is still in the database; :class:`GroupWriter` makes whichever caller gets the
write lock the *leader*: it takes every batch queued so far (its own and those of the callers waiting
behind it), writes them with one ``write`` call (one transaction, one ``COPY``), and hands each caller its
own result. Waiting callers whose batch went with the leader's return at once. While the leader waits on
the database (the driver releases the GIL), the other threads validate and observe their batches: the
database's work runs on another core instead of inside the tracker's lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupWriter(Generic[T, R]):
    """``write(items) -> results`` (one result per item, same order) called for groups of at most
    ``max_group`` queued items, one group at a time. Thread-safe.

    :meth:`submit` blocks until the caller's item is written and returns its result, or raises what
    ``write`` raised for its group (nothing of that group is then considered written).
    """

    def __init__(self, write: Callable[[list[T]], Sequence[R]], max_group: int = 16) -> None:
        if max_group < 1:
            raise ValueError(f"max_group must be ≥ 1, got {max_group}")
        self._write = write
        self.max_group = max_group
        self._queue: list[tuple[T, Future[R]]] = []
        self._queued = threading.Lock()
        self._writing = threading.Lock()
        self.groups = 0
        self.items = 0
        self.busy_s = 0.0  # wall time spent in ``write``

    def submit(self, item: T) -> R:
        return self.submit_many([item])[0]

    def submit_many(self, items: Sequence[T]) -> list[R]:
        """:meth:`submit` for several items (written in as few groups as ``max_group`` allows)."""
        futures: list[Future[R]] = [Future() for _ in items]
        with self._queued:
            self._queue.extend(zip(items, futures, strict=True))
        while not all(f.done() for f in futures):
            with self._writing:
                with self._queued:
                    group, self._queue = self._queue[:self.max_group], self._queue[self.max_group:]
                if group:
                    self._run(group)
        return [f.result() for f in futures]

    def _run(self, group: list[tuple[T, Future[R]]]) -> None:
        started = time.perf_counter()
        try:
            results = self._write([item for item, _ in group])
            if len(results) != len(group):
                raise RuntimeError(f"group write returned {len(results)} results for {len(group)} items")
        except BaseException as exc:  # every caller of the group sees the failure
            for _, future in group:
                future.set_exception(exc)
            return
        finally:
            self.busy_s += time.perf_counter() - started
        self.groups += 1
        self.items += len(group)
        for (_, future), result in zip(group, results, strict=True):
            future.set_result(result)
