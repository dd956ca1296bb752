"""Live fan-out of messages (committed domain events) to whoever is watching: dashboards over SSE.

Two adapters behind one interface:

* :class:`InProcessPubSub` (default): subscribers in the same process (one ``baton serve``
  worker). ``publish`` is thread-safe (handlers run in worker threads) and never blocks.
* :class:`RedisPubSub`: Redis ``PUBLISH``/``SUBSCRIBE``, so a dashboard connected to any
  server process (``baton serve --workers N``, several hosts) sees events committed by any other.

Messages are JSON-serialisable dicts. Delivery is best effort (a live view, not a log): the
durable record is the ``events`` table; a slow subscriber loses the oldest queued messages
beyond :data:`QUEUE_SIZE` rather than slowing publishers.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

log = logging.getLogger(__name__)

#: Messages kept per subscriber before the oldest are dropped.
QUEUE_SIZE = 1000


class Subscription(abc.ABC):
    """One subscriber's stream of messages on one channel."""

    @abc.abstractmethod
    async def get(self, timeout_s: float) -> dict[str, Any] | None:
        """The next message, or ``None`` when none came within ``timeout_s`` seconds."""


class PubSub(abc.ABC):
    """Publish messages to channels; subscribe to a channel's messages."""

    @abc.abstractmethod
    def publish(self, channel: str, message: dict[str, Any]) -> None:
        """Send ``message`` to every current subscriber of ``channel`` (thread-safe, best effort)."""

    @abc.abstractmethod
    def subscribe(self, channel: str) -> contextlib.AbstractAsyncContextManager[Subscription]:
        """``async with pubsub.subscribe(channel) as sub:`` receives what is published from then on."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (idempotent)."""


class _QueueSubscription(Subscription):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)

    def offer(self, message: dict[str, Any]) -> None:
        """Enqueue from the loop's thread, dropping the oldest message when full."""
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
        self.queue.put_nowait(message)

    async def get(self, timeout_s: float) -> dict[str, Any] | None:
        try:
            return await asyncio.wait_for(self.queue.get(), timeout_s)
        except TimeoutError:
            return None


class InProcessPubSub(PubSub):
    """Fan-out within one process, to subscribers on any event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict[str, set[_QueueSubscription]] = {}

    def publish(self, channel: str, message: dict[str, Any]) -> None:
        with self._lock:
            subs = list(self._subs.get(channel, ()))
        for sub in subs:
            try:
                sub.loop.call_soon_threadsafe(sub.offer, message)
            except RuntimeError:  # the subscriber's loop has closed
                self._remove(channel, sub)

    def _remove(self, channel: str, sub: _QueueSubscription) -> None:
        with self._lock:
            self._subs.get(channel, set()).discard(sub)

    def subscriber_count(self, channel: str) -> int:
        with self._lock:
            return len(self._subs.get(channel, ()))

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        sub = _QueueSubscription(asyncio.get_running_loop())
        with self._lock:
            self._subs.setdefault(channel, set()).add(sub)
        try:
            yield sub
        finally:
            self._remove(channel, sub)


class _RedisSubscription(Subscription):
    def __init__(self, pubsub: Any) -> None:
        self.pubsub = pubsub

    async def get(self, timeout_s: float) -> dict[str, Any] | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            raw = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=remaining)
            if raw is None or raw.get("type") != "message":
                continue
            try:
                data = raw["data"]
                message = json.loads(data.decode() if isinstance(data, bytes) else data)
            except (ValueError, UnicodeDecodeError):
                log.warning("ignoring a malformed live message on %s", raw.get("channel"))
                continue
            if isinstance(message, dict):
                return message


class RedisPubSub(PubSub):
    """Fan-out across processes through Redis pub/sub at ``url`` (``redis://host:6379/0``).

    Raises (from :meth:`publish` only when ``strict``):
        redis.exceptions.RedisError: when Redis cannot be reached.
    """

    def __init__(self, url: str, *, strict: bool = False) -> None:
        import redis

        self.url = url
        self.strict = strict
        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)

    def publish(self, channel: str, message: dict[str, Any]) -> None:
        import redis

        try:
            self._client.publish(channel, json.dumps(message, default=str))
        except redis.RedisError:
            if self.strict:
                raise
            log.warning("live update not published: Redis at %s unreachable", self.url, exc_info=True)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        import redis.asyncio as aredis

        client = aredis.Redis.from_url(self.url)
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(channel)
            yield _RedisSubscription(pubsub)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.unsubscribe(channel)
                await pubsub.aclose()
            await client.aclose()

    def close(self) -> None:
        self._client.close()


def make_pubsub(redis_url: str | None = None) -> PubSub:
    """Redis pub/sub when ``redis_url`` is given, else in-process."""
    return RedisPubSub(redis_url) if redis_url else InProcessPubSub()
