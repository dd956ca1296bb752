"""Custody links written by the unit of work's commit hook, whatever area caused the event.

:func:`install` adds :func:`custody_hook` to :data:`BEFORE_COMMIT_HOOKS` (idempotent). Inside the
same transaction as the events:

* ``route.started`` → a ``pickup`` link for every order on the route (parcels leave the depot);
* ``carrier.status_received`` ``picked_up`` → a ``handover`` link (to the carrier);
* ``carrier.status_received`` ``delivered`` → a carrier POD (source ``carrier``; empty, so incomplete,
  unless :func:`store_carrier_pod` already stored one with the feed's POD data) with its ``delivered`` link.

Chaining is idempotent per order and kind (a replayed event adds no second pickup/handover).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert

from baton.adapters import orm
from baton.adapters.prove_records import ProveRecords
from baton.domain.events import Event
from baton.prove.carrier_pod import CarrierPod
from baton.prove.custody import CustodyEvent, next_event
from baton.prove.events import CustodyRecorded, PodCaptured
from baton.prove.model import Pod, PodKind, PodSource, location_flags
from baton.service_layer.unit_of_work import BEFORE_COMMIT_HOOKS, SqlAlchemyUnitOfWork

log = logging.getLogger(__name__)


def install() -> None:
    if custody_hook not in BEFORE_COMMIT_HOOKS:
        BEFORE_COMMIT_HOOKS.append(custody_hook)


def _link(rec: ProveRecords, prev: CustodyEvent | None, order_id: str, kind: str, at: datetime, actor: str,
          route_id: str | None, data: dict[str, Any]) -> None:
    if prev is not None and prev.kind == kind:
        return
    rec.add_link(next_event(prev, order_id=order_id, kind=kind, at=at, actor=actor, route_id=route_id, data=data))


def _emit_now(uow: Any, events: list[Event]) -> None:
    """Write events straight to the events table (the hook runs after the unit of work wrote its own)."""
    now = datetime.now(UTC)
    uow.session.execute(insert(orm.events), [e.to_record() | {"org_id": uow.org_id, "recorded_at": now}
                                             for e in events])


def custody_hook(uow: SqlAlchemyUnitOfWork, events: list[Event]) -> None:
    wanted = [e for e in events if e.name in ("route.started", "carrier.status_received")]
    if not wanted or uow.session is None:
        return
    rec = ProveRecords(uow.session, uow.org_id)
    for e in wanted:
        p = e.payload()
        if e.name == "route.started":
            route = uow.plans.get_route(p["route_id"])
            last = rec.last_links(route.order_ids)
            for order_id in route.order_ids:
                _link(rec, last.get(order_id), order_id, "pickup", e.occurred_at, e.actor, route.id,
                      {"vehicle_id": route.vehicle_id, "driver_id": route.driver_id, "depot_id": route.start_depot_id})
        elif p.get("status") == "picked_up":
            _link(rec, rec.last_link(p["order_id"]), p["order_id"], "handover", e.occurred_at, e.actor, None,
                  {"carrier_id": p["carrier_id"], "message_id": p["message_id"]})
        elif p.get("status") == "delivered" and not [x for x in rec.pods_of(p["order_id"]) if x.kind == "delivered"]:
            store_carrier_pod(uow, p["carrier_id"], CarrierPod(p["order_id"], e.occurred_at,
                                                               external_ref=p["message_id"]), e.occurred_at,
                              emit=lambda evs: _emit_now(uow, evs))


def store_carrier_pod(uow: Any, carrier_id: str, cp: CarrierPod, at: datetime,
                      emit: Callable[[list[Event]], None] | None = None) -> str | None:
    """Normalise ``cp`` into a POD (source=carrier), chain it and record its events, in the open
    transaction; returns the POD id (``None`` when that carrier already has a complete one)."""
    rec = ProveRecords(uow.session, uow.org_id)
    existing = [x for x in rec.pods_of(cp.order_id) if x.kind == PodKind.DELIVERED and x.carrier_id == carrier_id]
    if existing and (existing[-1].complete or not cp.complete):
        return None
    order = uow.orders.get(cp.order_id)
    evidence = cp.evidence()
    pod = Pod(id=f"pod-{uuid.uuid4().hex[:16]}", order_id=cp.order_id, kind=PodKind.DELIVERED,
              source=PodSource.CARRIER, device_time=cp.occurred_at, server_time=datetime.now(UTC),
              carrier_id=carrier_id, recipient_name=cp.recipient_name, recipient_relation=cp.recipient_relation,
              lat=cp.lat, lng=cp.lng, stop_lat=order.location.lat, stop_lng=order.location.lng,
              notes=" ".join(f"{k}={v}" for k, v in evidence.items() if v) or None, complete=cp.complete)
    location_flags(pod)
    if not cp.complete:
        pod.flags.append("incomplete_carrier_pod")
    actor = f"carrier:{carrier_id}"
    link = next_event(rec.last_link(cp.order_id), order_id=cp.order_id, kind="delivered", at=cp.occurred_at,
                      actor=actor, route_id=None, data={"evidence": evidence}, pod=pod)
    rec.add_pod(pod)
    rec.add_link(link)
    events: list[Event] = [
        PodCaptured(occurred_at=at, actor=actor, order_id=pod.order_id, pod_id=pod.id, kind="delivered",
                    source="carrier", content_hash=pod.content_hash, flags=sorted(pod.flags),
                    device_time=cp.occurred_at.isoformat()),
        CustodyRecorded(occurred_at=at, actor=actor, order_id=pod.order_id, seq=link.seq, kind=link.kind,
                        hash=link.hash)]
    if emit is not None:
        emit(events)
    else:
        uow.record(*events)
    return pod.id


def feed_pod_commands(carrier_id: str, feed_format: str, body: bytes, updates: list[Any],
                      at: datetime) -> list[Any]:
    """``RecordCarrierPod`` commands for the POD data of a carrier feed message (issue 9).

    ``updates``: the feed parser's :class:`baton.dispatch.feeds.StatusUpdate` list; only ``delivered``
    ones are read (:func:`baton.prove.carrier_pod.extract_pods`); a delivered status without POD data gives
    none (the commit hook already stored an empty, incomplete carrier POD for it). Send them after the
    statuses were applied: a complete POD supersedes the empty one (compliance reads the latest).
    """
    from baton.prove.carrier_pod import extract_pods
    from baton.service_layer.commands import RecordCarrierPod

    delivered = {u.message_id: (u.order_id, u.occurred_at) for u in updates if u.status == "delivered"}
    if not delivered:
        return []
    return [RecordCarrierPod(at=at, actor=f"carrier:{carrier_id}", carrier_id=carrier_id, pod=cp)
            for cp in extract_pods(feed_format, body, delivered)
            if cp.recipient_name or cp.signature_url or cp.photo_urls]
