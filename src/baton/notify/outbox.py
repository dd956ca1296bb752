"""The outbox: notification messages written in the same transaction as the events that cause them.

Choice: a hook (:data:`baton.service_layer.unit_of_work.BEFORE_COMMIT_HOOKS`) that the unit of
work calls inside its commit, after the state change and its events are written and before
``COMMIT``. A message row therefore exists if and only if its event does: a rollback takes
both, a crash after commit loses neither. Handlers stay unaware of notifications, and events
recorded by any area (execution, live re-planning) are covered without touching their code.
The alternative, writing rows in committed-event subscribers of the message bus, would run in
a second transaction and could lose messages if the process died in between.

The hook does nothing for an organisation without enabled ``notify_settings`` (one indexed
read per commit that carries a relevant event). Call :func:`install` once per process
(:func:`baton.service_layer.bootstrap.bootstrap` does).
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update

from baton.adapters import orm_notify as tn
from baton.adapters.orm import utcnow
from baton.domain.errors import NotFound
from baton.domain.events import Event
from baton.domain.order import Order
from baton.domain.plan import Route
from baton.notify import store
from baton.notify.engine import Trigger, eta_window, triggers
from baton.notify.model import (
    DELAY_STEP,
    MAX_DELAY_MESSAGES,
    RATE_LIMIT,
    RATE_WINDOW,
    RUNNING_LATE,
    Kind,
    NotifySettings,
    audience,
    customer_key,
    quiet_until,
    zone,
)
from baton.notify.render import Renderer
from baton.notify.tokens import make_token
from baton.service_layer.unit_of_work import BEFORE_COMMIT_HOOKS, SqlAlchemyUnitOfWork

log = logging.getLogger(__name__)
RELEVANT_EVENTS = frozenset({
    "order.status_changed", "eta.changed", "exception.opened", "order.notification_requested",
    "live.delay_notified", "live.delay_resolved", "stop.departed", "driver.customer_messaged",
})
#: Kinds not worth sending once the order is delivered or cancelled (e.g. deferred by quiet hours).
PERISHABLE = frozenset({Kind.OUT_FOR_DELIVERY, Kind.ETA_CHANGED, Kind.LATE_RISK, Kind.ARRIVING_SOON,
                        Kind.DRIVER_MESSAGE})

REASONS = {
    "en": {"not_home": "nobody was home", "not_reached": "we could not reach you in time",
           "refused": "the delivery was refused", "address_not_found": "we could not find the address"},
    "pt-BR": {"not_home": "não havia ninguém no local", "not_reached": "não conseguimos chegar a tempo",
              "refused": "a entrega foi recusada", "address_not_found": "não encontramos o endereço"},
}


def install() -> None:
    """Register :func:`write_outbox` as a before-commit hook (idempotent)."""
    if write_outbox not in BEFORE_COMMIT_HOOKS:
        BEFORE_COMMIT_HOOKS.append(write_outbox)


def uninstall() -> None:
    """Remove the hook (tests)."""
    while write_outbox in BEFORE_COMMIT_HOOKS:
        BEFORE_COMMIT_HOOKS.remove(write_outbox)


def tracking_url(settings: NotifySettings, order_id: str, at: datetime) -> str:
    """The signed tracking link of ``order_id``, valid ``link_ttl_s`` from ``at`` (or now, if later)."""
    start = max(at, utcnow())
    token = make_token(order_id, settings.org_id, start + timedelta(seconds=settings.link_ttl_s),
                       settings.signing_secret)
    return f"{settings.tracking_base_url.rstrip('/')}/t/{token}"


def write_outbox(uow: SqlAlchemyUnitOfWork, events: list[Event]) -> None:
    """The hook: write the messages ``events`` call for, in ``uow``'s open transaction (in a savepoint:
    a failure is logged and rolled back alone, the command still commits)."""
    relevant = [e for e in events if e.name in RELEVANT_EVENTS]
    if not relevant or uow.session is None:
        return
    settings = store.load_settings(uow.session, uow.org_id)
    if settings is None or not settings.enabled:
        return
    try:  # a notification problem must never block the command that caused it
        with uow.session.begin_nested():
            OutboxWriter(uow, settings).write(relevant)
    except Exception:
        log.exception("notification outbox failed for %d event(s); the command commits without its messages",
                      len(relevant))


class OutboxWriter:
    """Turns events into ``notify_messages`` rows within one unit of work."""

    def __init__(self, uow: SqlAlchemyUnitOfWork, settings: NotifySettings) -> None:
        assert uow.session is not None
        self.uow = uow
        self.session = uow.session
        self.settings = settings
        self.renderer = Renderer(store.load_overrides(self.session, uow.org_id))
        self._routes: dict[str, Route | None] = {}
        self.written: list[str] = []

    def route(self, route_id: str | None) -> Route | None:
        if route_id is None:
            return None
        if route_id not in self._routes:
            try:
                self._routes[route_id] = self.uow.plans.get_route(route_id)
            except NotFound:
                self._routes[route_id] = None
        return self._routes[route_id]

    def next_order(self, route_id: str, order_id: str) -> str | None:
        route = self.route(route_id)
        if route is None:
            return None
        seen = False
        for stop in route.stops:
            if stop.order_id == order_id:
                seen = True
            elif seen and stop.order_id is not None and stop.actual_arrival is None:
                return stop.order_id
        return None

    def write(self, events: list[Event]) -> None:
        found = [t for e in events for t in triggers(e, self.settings, self.next_order)]
        if not found:
            return
        orders: dict[str, Order] = {}
        for oid in dict.fromkeys(t.order_id for t in found):
            try:
                orders[oid] = self.uow.orders.get(oid)
            except NotFound:
                continue
        prefs = store.load_preferences(self.session, self.uow.org_id,
                                       [customer_key(o.customer) for o in orders.values()])
        for trig in found:
            order = orders.get(trig.order_id)
            if order is None:
                continue
            if trig.kind in PERISHABLE and order.is_terminal:
                continue
            self._write_one(trig, order, prefs.get(customer_key(order.customer)))

    def _eta(self, trig: Trigger, order: Order) -> datetime | None:
        if trig.eta is not None:
            return trig.eta
        route = self.route(order.route_id)
        if route is not None:
            try:
                return route.stop_for(order.id).planned_arrival
            except KeyError:
                pass
        return None

    def _context(self, trig: Trigger, order: Order, language: str, tz_name: str) -> dict[str, Any]:
        tz = zone(tz_name)
        eta = self._eta(trig, order)
        if eta is not None:
            eta_from, eta_to = eta_window(eta)
        elif order.time_windows:
            w = order.window_at(trig.at) or order.time_windows[0]
            eta_from, eta_to = w.start, w.end
        else:
            eta_from = eta_to = trig.at
        url = tracking_url(self.settings, order.id, trig.at)
        route = self.route(order.route_id)
        driver_name = None
        if route is not None and route.driver_id:
            try:
                driver_name = self.uow.drivers.get(route.driver_id).first_name
            except NotFound:
                driver_name = None
        local_from = eta_from.astimezone(tz)
        reason = None
        if trig.reason:
            reason = REASONS[language].get(trig.reason, trig.reason.replace("_", " "))
        return {
            "brand": {"name": self.settings.brand_name, "color": self.settings.brand_color,
                      "support": self.settings.support_contact},
            "first_name": order.customer.name.split()[0] if order.customer.name.strip() else "",
            "order_ref": order.external_ref or order.id,
            "day": local_from.strftime("%d/%m") if language == "pt-BR" else local_from.strftime("%b %d"),
            "eta_from": local_from.strftime("%H:%M"),
            "eta_to": eta_to.astimezone(tz).strftime("%H:%M"),
            "eta_from_iso": eta_from.isoformat(), "eta_to_iso": eta_to.isoformat(),
            "event_time": trig.at.astimezone(tz).strftime("%H:%M"),
            "tracking_url": url, "reschedule_url": f"{url}#reschedule", "pod_url": f"{url}#pod",
            "driver_name": driver_name, "reason": reason,
            "driver_template": trig.template, "driver_text": trig.text,
        }

    def _exists(self, key: str) -> bool:
        m = tn.messages
        return self.session.execute(
            select(m.c.id).where(m.c.org_id == self.uow.org_id, m.c.dedupe_key == key)).first() is not None

    def _recent_late(self, ckey: str, at: datetime) -> int:
        m = tn.messages
        return int(self.session.execute(
            select(func.count()).select_from(m).where(
                m.c.org_id == self.uow.org_id, m.c.customer_key == ckey, m.c.kind.in_(sorted(RUNNING_LATE)),
                m.c.parent_id.is_(None), m.c.status != "suppressed",
                m.c.event_at > at - RATE_WINDOW, m.c.event_at <= at)).scalar_one())

    def _told(self, order_id: str) -> list[str]:
        """Dedupe keys of the "running late" customer messages written for ``order_id`` (not suppressed)."""
        m = tn.messages
        return list(self.session.execute(select(m.c.dedupe_key).where(
            m.c.org_id == self.uow.org_id, m.c.order_id == order_id, m.c.kind.in_(sorted(RUNNING_LATE)),
            m.c.parent_id.is_(None), m.c.channel != "webhook", m.c.status != "suppressed")).scalars())

    def _not_news(self, trig: Trigger, order: Order, eta_from: datetime) -> str | None:
        """Why a "running late" / ETA-update message would tell the customer nothing new, or ``None``:

        * ``eta_update_cap``: the order already had :data:`MAX_DELAY_MESSAGES` of them;
        * ``no_delay_told``: a delay is over (``live.delay_resolved``) but the customer was never told of it;
        * ``inside_window``: a new ETA still inside the promised window (or before it: the van waits);
          the tracking page shows it, the customer is not bothered;
        * ``same_delay``: a message already announced an arrival less than :data:`DELAY_STEP` away
          (same delay episode, whatever the source: live re-planning or the exception monitor).
        """
        told = self._told(order.id)
        if len(told) >= MAX_DELAY_MESSAGES:
            return "eta_update_cap"
        if trig.ref.startswith("resolved:"):
            return None if told else "no_delay_told"
        if trig.kind == Kind.ETA_CHANGED and trig.eta is not None and not _misses(order, trig.eta):
            return "inside_window"
        for key in told:
            announced = _announced(key)
            if announced is None or abs(eta_from - announced) < DELAY_STEP:
                return "same_delay"
        return None

    def _supersede(self, order_id: str, kind: Kind) -> None:
        """A newer status message makes the customer messages of ``kind`` still held back by quiet
        hours pointless (they would arrive together)."""
        m = tn.messages
        self.session.execute(update(m).where(
            m.c.org_id == self.uow.org_id, m.c.order_id == order_id, m.c.kind == kind.value,
            m.c.status == "pending", m.c.status_reason == "quiet_hours", m.c.channel != "webhook",
        ).values(status="skipped", status_reason="superseded"))

    def _write_one(self, trig: Trigger, order: Order, pref: Any) -> None:
        aud = audience(order.customer, self.settings, pref)
        ctx = self._context(trig, order, aud.language, aud.timezone)
        ref = trig.ref
        if trig.kind in RUNNING_LATE:  # one "running late" per announced window, whatever the source
            ref = f"late:{ctx['eta_from_iso']}/{ctx['eta_to_iso']}"
        base_key = f"{order.id}|{trig.kind.value}|{ref}"
        if self.settings.webhook_url and not self._exists(f"{base_key}|webhook"):
            body = json.dumps({
                "type": trig.kind.value, "order_id": order.id, "external_ref": order.external_ref,
                "occurred_at": trig.at.isoformat(), "eta_from": ctx["eta_from_iso"], "eta_to": ctx["eta_to_iso"],
                "tracking_url": ctx["tracking_url"], "reason": trig.reason,
                "customer": {"name": order.customer.name, "email": order.customer.email,
                             "phone": order.customer.phone, "language": aud.language},
            }, sort_keys=True)
            self._insert(f"{base_key}|webhook", trig, order, "webhook", "webhook", self.settings.webhook_url,
                         aud.language, trig.kind.value, body, None, [], "pending", None, trig.at)
        key = f"{base_key}|customer"
        if self._exists(key):
            return
        status, why = "pending", None
        if aud.opted_out:
            status, why = "suppressed", "opted_out"
        elif not aud.deliveries:
            status, why = "suppressed", "no_contact"
        elif trig.kind in RUNNING_LATE and self._recent_late(aud.customer_key, trig.at) >= RATE_LIMIT:
            status, why = "suppressed", "rate_limited"
        elif trig.kind in RUNNING_LATE:
            stale = self._not_news(trig, order, datetime.fromisoformat(ctx["eta_from_iso"]))
            if stale is not None:
                status, why = "suppressed", stale
        if trig.kind == Kind.OUT_FOR_DELIVERY:
            self._supersede(order.id, Kind.ORDER_PLANNED)
        first = aud.deliveries[0] if aud.deliveries else None
        channel = first.channel if first else "none"
        rendered = self.renderer.render(trig.kind, aud.language, channel, ctx)
        fallbacks: list[dict[str, Any]] = []
        for d in aud.deliveries[1:]:
            alt = self.renderer.render(trig.kind, aud.language, d.channel, ctx)
            fallbacks.append({"channel": d.channel, "recipient": d.recipient, "subject": alt.subject,
                              "body": alt.body, "html": alt.html})
        not_before = trig.at
        if status == "pending":
            later = quiet_until(trig.at, aud.timezone, aud.quiet_start, aud.quiet_end)
            if later is not None:
                not_before, why = later, "quiet_hours"
        self._insert(key, trig, order, aud.customer_key, channel, first.recipient if first else "",
                     aud.language, rendered.subject, rendered.body, rendered.html, fallbacks, status, why,
                     not_before)

    def _insert(self, key: str, trig: Trigger, order: Order, ckey: str, channel: str, recipient: str,
                language: str, subject: str, body: str, html: str | None, fallbacks: list[dict[str, Any]],
                status: str, why: str | None, not_before: datetime) -> None:
        mid = str(uuid.uuid4())
        self.session.execute(insert(tn.messages).values(
            id=mid, org_id=self.uow.org_id, dedupe_key=key, order_id=order.id, customer_key=ckey,
            kind=trig.kind.value, channel=channel, recipient=recipient, language=language, subject=subject,
            body=body, html=html, fallbacks=fallbacks, parent_id=None, status=status, status_reason=why,
            event_at=trig.at, not_before=not_before, created_at=utcnow(), attempts=0))
        self.written.append(mid)


def _announced(key: str) -> datetime | None:
    """The announced window start in a "running late" dedupe key (``…|late:FROM/TO|customer``)."""
    try:
        return datetime.fromisoformat(key.split("|late:", 1)[1].split("/", 1)[0])
    except (IndexError, ValueError):
        return None


def _misses(order: Order, eta: datetime) -> bool:
    """Whether a van arriving at ``eta`` breaks the promise: after a window opened and inside none
    (an order without windows has no promise to break: every ETA change is news)."""
    windows = order.time_windows
    if not windows:
        return True
    return not any(w.contains(eta) for w in windows) and any(w.start <= eta for w in windows)
