"""In-app customer contact from the driver app (issue 9): a templated message to the customer through the
notification outbox (``POST /api/v1/driver/stops/{order_id}/message``).

The handler records a :class:`baton.notify.events.DriverMessagedCustomer` event; the outbox hook
(:mod:`baton.notify.outbox`) turns it into a ``notify_messages`` row in the same transaction, so the
message gets the customer's preferred channel and language, opt-out, quiet hours, de-duplication,
logging, retries and fallback like every other notification; ``baton notify send`` delivers it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from baton.adapters import orm_notify as tn
from baton.domain.errors import ValidationError
from baton.domain.lifecycle import OrderStatus
from baton.notify import store
from baton.notify.events import DriverMessagedCustomer
from baton.notify.model import Kind
from baton.service_layer.commands import Command
from baton.service_layer.unit_of_work import AbstractUnitOfWork, SqlAlchemyUnitOfWork

#: Message templates a driver may send.
CONTACT_TEMPLATES: tuple[str, ...] = ("arriving_soon", "cannot_find_address", "at_door")
MAX_TEXT = 300
#: At most this many driver messages per stop (order) within :data:`CONTACT_WINDOW`.
CONTACT_LIMIT = 3
CONTACT_WINDOW = timedelta(minutes=10)
#: Order statuses in which the driver may still contact the customer.
CONTACTABLE = frozenset({OrderStatus.PLANNED, OrderStatus.DISPATCHED, OrderStatus.OUT_FOR_DELIVERY,
                         OrderStatus.ARRIVED})


class NotYourStop(Exception):
    """The order is not an open stop on the caller's current route (HTTP 403)."""


class ContactRateLimited(Exception):
    """Too many messages for this stop (HTTP 429); ``retry_after_s``: seconds until one more is allowed."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ContactUnavailable(Exception):
    """Notifications are not enabled for the organisation (HTTP 409)."""


@dataclass(frozen=True, kw_only=True)
class MessageCustomer(Command):
    """The driver ``driver_id`` sends ``template`` (one of :data:`CONTACT_TEMPLATES`) and an optional ``text``
    (at most 300 characters) to the customer of ``order_id``. ``client_message_id``: optional, makes a retry
    idempotent (the same message is answered, nothing is sent twice).

    Returns ``{"message_id", "order_id", "template", "channel", "status", "status_reason", "not_before",
    "duplicate"}`` (``status``: ``pending``, or ``suppressed`` with ``opted_out``/``no_contact``;
    ``status_reason`` ``quiet_hours`` when deferred to ``not_before``, ISO 8601 UTC).

    Raises:
        ValidationError: unknown template, text too long (names the field).
        NotFound: unknown order.
        NotYourStop: the order is not an open stop on the driver's route.
        ContactUnavailable: notifications not enabled for the organisation.
        ContactRateLimited: more than :data:`CONTACT_LIMIT` messages for the stop in :data:`CONTACT_WINDOW`.
    """

    driver_id: str
    order_id: str
    template: str
    text: str = ""
    client_message_id: str | None = None


def _row(uow: SqlAlchemyUnitOfWork, key: str) -> Any:
    assert uow.session is not None
    m = tn.messages
    return uow.session.execute(select(m).where(m.c.org_id == uow.org_id, m.c.dedupe_key == key)).mappings().first()


def _answer(row: Any, cmd: MessageCustomer, duplicate: bool) -> dict[str, Any]:
    nb = row["not_before"]
    return {"message_id": row["id"], "order_id": cmd.order_id, "template": cmd.template, "channel": row["channel"],
            "status": row["status"], "status_reason": row["status_reason"],
            "not_before": nb.isoformat() if nb is not None else None, "duplicate": duplicate}


def _recent(uow: SqlAlchemyUnitOfWork, order_id: str, at: datetime) -> list[datetime]:
    assert uow.session is not None
    m = tn.messages
    rows = uow.session.execute(select(m.c.event_at).where(
        m.c.org_id == uow.org_id, m.c.order_id == order_id, m.c.kind == Kind.DRIVER_MESSAGE.value,
        m.c.parent_id.is_(None), m.c.dedupe_key.like("%|customer"),
        m.c.event_at > at - CONTACT_WINDOW)).scalars().all()
    return sorted(r if r.tzinfo else r.replace(tzinfo=UTC) for r in rows)


def message_customer(cmd: MessageCustomer, uow: AbstractUnitOfWork, deps: Any) -> dict[str, Any]:
    if cmd.template not in CONTACT_TEMPLATES:
        raise ValidationError(f"template: must be one of {', '.join(CONTACT_TEMPLATES)}, got {cmd.template!r}")
    text = " ".join(cmd.text.split())
    if len(text) > MAX_TEXT:
        raise ValidationError(f"text: at most {MAX_TEXT} characters, got {len(text)}")
    if cmd.client_message_id is not None and not (0 < len(cmd.client_message_id) <= 64):
        raise ValidationError("client_message_id: 1 to 64 characters")
    assert isinstance(uow, SqlAlchemyUnitOfWork)
    ref = cmd.client_message_id or str(uuid.uuid4())
    key = f"{cmd.order_id}|{Kind.DRIVER_MESSAGE.value}|driver:{ref}|customer"
    with uow:
        assert uow.session is not None
        order = uow.orders.get(cmd.order_id)  # NotFound → 404
        route = uow.plans.get_route(order.route_id) if order.route_id else None
        if route is None or route.driver_id != cmd.driver_id or order.id not in route.order_ids:
            raise NotYourStop(f"order_id: {cmd.order_id} is not a stop on your route")
        existing = _row(uow, key)
        if existing is not None:
            return _answer(existing, cmd, True)
        if order.status not in CONTACTABLE:
            raise NotYourStop(f"order_id: stop {cmd.order_id} is {order.status.value}; the customer can no longer "
                              "be contacted from the app")
        settings = store.load_settings(uow.session, uow.org_id)
        if settings is None or not settings.enabled:
            raise ContactUnavailable("notifications: not enabled for this organisation (baton notify enable)")
        recent = _recent(uow, order.id, cmd.at)
        if len(recent) >= CONTACT_LIMIT:
            wait = int((recent[0] + CONTACT_WINDOW - cmd.at).total_seconds()) + 1
            raise ContactRateLimited(f"order_id: at most {CONTACT_LIMIT} messages per stop in "
                                     f"{int(CONTACT_WINDOW.total_seconds() // 60)} min; retry in {wait} s",
                                     max(1, wait))
        uow.record(DriverMessagedCustomer(occurred_at=cmd.at, actor=cmd.actor, order_id=order.id,
                                          template=cmd.template, ref=ref, text=text, route_id=route.id,
                                          driver_id=cmd.driver_id))
        uow.commit()
    with uow:
        row = _row(uow, key)
    if row is None:  # the outbox hook failed (logged): the event is stored, the message is not
        raise ContactUnavailable("notifications: the message could not be queued (see the server log)")
    return _answer(row, cmd, False)

