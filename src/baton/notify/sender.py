"""The sender worker: claims pending outbox rows, sends them, records the outcome.

Claiming: on PostgreSQL ``SELECT … FOR UPDATE SKIP LOCKED`` then a claim token, so parallel
workers never take the same row; on SQLite (one writer at a time) a single ``UPDATE … SET
claim_token`` over a sub-select. A claimed row is ``sending`` with a lease (``lease_s``): if
the worker dies, the row is claimed again once the lease is over and re-sent with the same
message id, which the channels pass to the provider as the idempotency key (``Idempotency-Key``
/ ``Message-ID``), so the provider drops the copy: nothing is lost, nothing delivered twice.

Each send retries transient errors with exponential backoff (tenacity). A permanent error,
or transient errors beyond the retries, marks the row ``failed`` and queues the customer's
next preferred channel as a new row (``parent_id`` = the failed one). Each outcome is
committed on its own, right after the provider answered.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from baton.adapters import orm
from baton.adapters import orm_notify as tn
from baton.adapters.channels.base import Channel, ChannelError, OutgoingMessage, TransientChannelError
from baton.adapters.orm import utcnow
from baton.notify import store
from baton.notify.model import Kind
from baton.notify.outbox import PERISHABLE

log = logging.getLogger(__name__)
M = tn.messages


_DONE = ("delivered", "cancelled")
#: Per message kind, the order statuses that make it pointless to send (skipped as ``superseded``):
#: perishable kinds once the order is delivered or cancelled.
_STALE_WHEN: dict[str, tuple[str, ...]] = {k.value: _DONE for k in PERISHABLE}
#: An "order planned" message held back by quiet hours is pointless once the order's route is
#: dispatched: "out for delivery" follows when the van leaves.
_DEFERRED_PLANNED_STALE = (*_DONE, "dispatched", "out_for_delivery", "arrived", "failed_attempt")


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries per message and channel, waiting ``wait_min_s`` doubling up to ``wait_max_s``."""

    attempts: int = 4
    wait_min_s: float = 1.0
    wait_max_s: float = 30.0


@dataclass
class SendStats:
    """Counts of one :meth:`Sender.run_once`."""

    claimed: int = 0
    sent: int = 0
    failed: int = 0
    fell_back: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Sender:
    """Sends outbox rows through ``channels`` (``{"email": SmtpChannel(...), "sms": ..., ...}``).

    ``sleep``: how to wait between retries (tests pass a no-op); ``after_send``: called with the
    row id after the provider accepted and before the outcome is committed (crash tests).
    """

    session_factory: sessionmaker[Session]
    channels: Mapping[str, Channel]
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    lease_s: int = 300
    batch_size: int = 50
    sleep: Callable[[float], None] | None = None
    after_send: Callable[[str], None] | None = None

    def claim(self, now: datetime) -> tuple[str, list[dict[str, Any]]]:
        """Claim up to ``batch_size`` due rows (pending, or ``sending`` with an expired lease)."""
        token = str(uuid.uuid4())
        due = or_(and_(M.c.status == "pending", M.c.not_before <= now),
                  and_(M.c.status == "sending", M.c.claimed_at < now - timedelta(seconds=self.lease_s)))
        values = {"status": "sending", "claim_token": token, "claimed_at": now, "attempts": M.c.attempts + 1}
        with self.session_factory() as session, session.begin():
            pick = select(M.c.id).where(due).order_by(M.c.not_before, M.c.id).limit(self.batch_size)
            if session.get_bind().dialect.name == "postgresql":
                ids = list(session.execute(pick.with_for_update(skip_locked=True)).scalars())
                if ids:
                    session.execute(update(M).where(M.c.id.in_(ids)).values(**values))
            else:
                session.execute(update(M).where(M.c.id.in_(pick.scalar_subquery()), due).values(**values))
            rows = [dict(r) for r in session.execute(
                select(M).where(M.c.claim_token == token).order_by(M.c.not_before, M.c.id)).mappings()]
        return token, rows

    def run_once(self, now: datetime | None = None, max_batches: int | None = None,
                 on_progress: Callable[[int], None] | None = None) -> SendStats:
        """Send every due message (batch after batch) and return the counts."""
        stats = SendStats()
        batches = 0
        while max_batches is None or batches < max_batches:
            at = now or utcnow()
            token, rows = self.claim(at)
            if not rows:
                break
            batches += 1
            stats.claimed += len(rows)
            for row in rows:
                self._process(row, token, at, stats)
                if on_progress:
                    on_progress(1)
        return stats

    def _perished(self, session: Session, row: dict[str, Any]) -> bool:
        stale = _STALE_WHEN.get(row["kind"])
        if row["kind"] == Kind.ORDER_PLANNED.value and row.get("status_reason") == "quiet_hours":
            stale = _DEFERRED_PLANNED_STALE
        if stale is None:
            return False
        status = session.execute(select(orm.orders.c.status).where(
            orm.orders.c.org_id == row["org_id"], orm.orders.c.id == row["order_id"])).scalar()
        return status in stale

    def _process(self, row: dict[str, Any], token: str, now: datetime, stats: SendStats) -> None:
        mine = and_(M.c.id == row["id"], M.c.claim_token == token)
        with self.session_factory() as session, session.begin():
            if self._perished(session, row):
                session.execute(update(M).where(mine).values(status="skipped", status_reason="superseded"))
                stats.skipped += 1
                return
            settings = store.load_settings(session, row["org_id"])
        channel = self.channels.get(row["channel"])
        sender = None
        if settings is not None:
            sender = {"email": settings.email_from, "sms": settings.sms_from,
                      "whatsapp": settings.whatsapp_from}.get(row["channel"])
        message = OutgoingMessage(row["id"], row["channel"], row["recipient"], row["subject"], row["body"],
                                  row["html"], sender)
        try:
            if channel is None:
                raise ChannelError(f"channel {row['channel']!r} is not configured")
            retrying = Retrying(
                stop=stop_after_attempt(self.retry.attempts),
                wait=wait_exponential(multiplier=self.retry.wait_min_s, max=self.retry.wait_max_s),
                retry=retry_if_exception_type(TransientChannelError), reraise=True,
            )
            if self.sleep is not None:
                retrying.sleep = self.sleep
            result = retrying(channel.send, message)
        except ChannelError as exc:
            log.warning("message %s via %s failed: %s", row["id"], row["channel"], exc)
            with self.session_factory() as session, session.begin():
                session.execute(update(M).where(mine).values(status="failed", status_reason=str(exc)[:500]))
                if fall_back(session, row, now):
                    stats.fell_back += 1
            stats.failed += 1
            return
        if self.after_send:
            self.after_send(row["id"])
        with self.session_factory() as session, session.begin():
            session.execute(update(M).where(mine).values(
                status="delivered" if result.status == "delivered" else "sent", provider_id=result.provider_id,
                sent_at=now, status_reason=None))
        stats.sent += 1


def fall_back(session: Session, row: Mapping[str, Any], now: datetime) -> bool:
    """Queue ``row``'s next fallback channel as a new pending row; ``False`` when none is left."""
    fallbacks = list(row["fallbacks"] or [])
    if not fallbacks:
        return False
    nxt, rest = fallbacks[0], fallbacks[1:]
    key = f"{row['dedupe_key']}|fb:{nxt['channel']}"
    exists = session.execute(select(M.c.id).where(M.c.org_id == row["org_id"], M.c.dedupe_key == key)).first()
    if exists:
        return False
    session.execute(insert(M).values(
        id=str(uuid.uuid4()), org_id=row["org_id"], dedupe_key=key, order_id=row["order_id"],
        customer_key=row["customer_key"], kind=row["kind"], channel=nxt["channel"], recipient=nxt["recipient"],
        language=row["language"], subject=nxt["subject"], body=nxt["body"], html=nxt.get("html"), fallbacks=rest,
        parent_id=row["id"], status="pending", status_reason=f"fallback after {row['channel']} failed",
        event_at=row["event_at"], not_before=max(row["not_before"], now), created_at=utcnow(), attempts=0))
    return True


def apply_provider_status(session: Session, provider_id: str, provider_status: str, at: datetime,
                          error: str | None = None) -> str | None:
    """Record a delivery receipt (Twilio ``MessageStatus``) for the message ``provider_id``.

    ``delivered``/``read`` → ``delivered``; ``undelivered``/``failed`` → ``failed`` and the next
    fallback channel is queued. Returns the message id, or ``None`` when unknown. Idempotent.
    """
    from baton.adapters.channels.twilio import STATUS_MAP

    found = session.execute(select(M).where(M.c.provider_id == provider_id)).mappings().first()
    if found is None:
        return None
    row = dict(found)
    if row is None:
        return None
    status = STATUS_MAP.get(provider_status, "sent")
    if status == "delivered" and row["status"] != "delivered":
        session.execute(update(M).where(M.c.id == row["id"]).values(status="delivered", delivered_at=at))
    elif status == "failed" and row["status"] != "failed":
        session.execute(update(M).where(M.c.id == row["id"]).values(
            status="failed", status_reason=f"provider: {provider_status} {error or ''}".strip()))
        fall_back(session, row, at)
    return str(row["id"])
