"""Reads of proof of delivery: the driver's route (with its version), POD verification, custody chains.

The route *version* (``driver_route_versions``) is bumped whenever the route's stop list, order or
driver changes, or a stop on it is cancelled: :func:`sync_route_version` compares a signature of
``(driver, [order ids in sequence], [cancelled order ids])`` with the stored one; the driver app's
``GET /driver/route`` and the SSE stream both call it. The stored ``order_ids`` list marks a cancelled stop
as ``"<order id>#cancelled"`` (so the orders whose cancellation is new can be named).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from baton.adapters import orm
from baton.adapters import orm_execute as ox
from baton.adapters.objectstore import ObjectMissing, ObjectStore
from baton.adapters.prove_records import ProveRecords
from baton.domain.errors import NotFound
from baton.domain.lifecycle import OrderStatus
from baton.domain.order import Order
from baton.domain.plan import Route, StopKind
from baton.prove.custody import verify_chain
from baton.prove.requirements import RuleSet, parcels_of, requirements_for
from baton.service_layer.unit_of_work import SqlAlchemyUnitOfWork

OPEN_ROUTE_STATUSES = ("planned", "dispatched", "in_progress")


def mask_phone(phone: str | None) -> str | None:
    """``+5561999990000`` → ``+55•••••••0000`` (country code and last 4 digits kept)."""
    if not phone:
        return None
    digits = [c for c in phone if c.isdigit()]
    if len(digits) <= 4:
        return "•" * len(digits)
    head = phone[:3] if phone.startswith("+") else ""
    return head + "•" * (len(digits) - 4 - (len(head) - 1 if head else 0)) + "".join(digits[-4:])


CANCELLED_MARK = "#cancelled"


def _signature(route: Route, cancelled: set[str]) -> tuple[str, list[str]]:
    """``(sha256 hex, stored entries)``; without cancelled stops the signature is the historical
    ``[driver, ids]`` one, so existing rows do not move."""
    ids = route.order_ids
    gone = [o for o in ids if o in cancelled]
    parts: list[Any] = [route.driver_id, ids] + ([gone] if gone else [])
    entries = [o + CANCELLED_MARK if o in cancelled else o for o in ids]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest(), entries


def _split(entries: list[str]) -> tuple[list[str], set[str]]:
    ids = [e.removesuffix(CANCELLED_MARK) for e in entries]
    return ids, {e.removesuffix(CANCELLED_MARK) for e in entries if e.endswith(CANCELLED_MARK)}


def _cancelled_on(uow: SqlAlchemyUnitOfWork, route: Route) -> set[str]:
    ids = route.order_ids
    if not ids:
        return set()
    return {o.id for o in uow.orders.get_many(ids) if o.status == OrderStatus.CANCELLED}


def sync_route_version(uow: SqlAlchemyUnitOfWork, route: Route) -> tuple[int, list[str]]:
    """``(version, changed order ids)``; bumps and commits the version when the route changed since last seen.

    Must be called inside ``with uow``. ``changed``: orders added, removed, moved in the sequence or
    cancelled (by the dispatcher or the customer) since the last call; every stop when the driver changed.
    """
    assert uow.session is not None
    rec = ProveRecords(uow.session, uow.org_id)
    sig, entries = _signature(route, _cancelled_on(uow, route))
    ids, cancelled = _split(entries)
    row = rec.route_version(route.id)
    now = datetime.now(UTC)
    if row is None:
        rec.set_route_version(route.id, 1, sig, entries, route.driver_id, now, new=True)
        uow.session.commit()
        return 1, []
    if row.signature == sig:
        return int(row.version), []
    old, old_cancelled = _split([str(e) for e in row.order_ids])
    changed = sorted((set(old) ^ set(ids)) | {o for o in set(old) & set(ids) if old.index(o) != ids.index(o)}
                     | (cancelled ^ old_cancelled))
    if row.driver_id != route.driver_id:
        changed = sorted(set(old) | set(ids))
    version = int(row.version) + 1
    rec.set_route_version(route.id, version, sig, entries, route.driver_id, now, new=False)
    uow.session.commit()
    return version, changed


def find_driver_route(uow: SqlAlchemyUnitOfWork, driver_id: str, day: date | None = None) -> Route | None:
    """The driver's open route (latest start first), on ``day`` (the depot's local date) when given."""
    assert uow.session is not None
    r = orm.routes
    ids = uow.session.execute(select(r.c.id).where(
        r.c.org_id == uow.org_id, r.c.driver_id == driver_id, r.c.status.in_(OPEN_ROUTE_STATUSES))
        .order_by(r.c.start.desc())).scalars().all()
    for route_id in ids:
        route = uow.plans.get_route(route_id)
        if day is None or _local_day(uow, route) == day:
            return route
    return None


def _tz(uow: SqlAlchemyUnitOfWork, depot_id: str) -> ZoneInfo:
    try:
        return ZoneInfo(uow.depots.get(depot_id).timezone)
    except (NotFound, KeyError, ValueError):
        return ZoneInfo("UTC")


def _local_day(uow: SqlAlchemyUnitOfWork, route: Route) -> date:
    return route.start.astimezone(_tz(uow, route.start_depot_id)).date()


def _etas(uow: SqlAlchemyUnitOfWork, route_id: str) -> dict[str, datetime]:
    assert uow.session is not None
    e = ox.stop_etas
    rows = uow.session.execute(select(e.c.order_id, e.c.eta).where(e.c.org_id == uow.org_id,
                                                                   e.c.route_id == route_id)).all()
    return {row.order_id: row.eta for row in rows}


def _stop_json(order: Order, sequence: int, planned: datetime, eta: datetime | None, rules: RuleSet,
               tz: ZoneInfo) -> dict[str, Any]:
    window = order.window_at(planned)
    return {
        "order_id": order.id, "sequence": sequence, "status": order.status.value, "customer_name": order.customer.name,
        "address": order.address.line, "lat": order.location.lat, "lng": order.location.lng,
        "window_start": window.start.astimezone(tz).isoformat() if window else None,
        "window_end": window.end.astimezone(tz).isoformat() if window else None,
        "eta": (eta or planned).astimezone(tz).isoformat(), "service_time_s": order.service_time_s,
        "instructions": order.notes, "phone_masked": mask_phone(order.customer.phone),
        "parcels": parcels_of(order), "requirements": requirements_for(order, rules).to_json(),
    }


def driver_route_json(uow: SqlAlchemyUnitOfWork, route: Route, rules: RuleSet) -> dict[str, Any]:
    """The ``GET /api/v1/driver/route`` body of ``route`` (inside ``with uow``)."""
    version, _ = sync_route_version(uow, route)
    tz = _tz(uow, route.start_depot_id)
    try:
        depot = uow.depots.get(route.start_depot_id)
        depot_json: dict[str, Any] = {"id": depot.id, "name": depot.name, "lat": depot.location.lat,
                                      "lng": depot.location.lng}
    except NotFound:
        depot_json = {"id": route.start_depot_id, "name": route.start_depot_id, "lat": None, "lng": None}
    deliveries = [s for s in route.stops if s.kind == StopKind.DELIVERY and s.order_id]
    orders = {o.id: o for o in uow.orders.get_many([s.order_id for s in deliveries if s.order_id])}
    etas = _etas(uow, route.id)
    stops = [_stop_json(orders[s.order_id], k, s.planned_arrival, etas.get(s.order_id), rules, tz)
             for k, s in enumerate(deliveries, start=1) if s.order_id in orders]
    return {"route_id": route.id, "date": _local_day(uow, route).isoformat(), "version": version,
            "status": route.status.value, "vehicle_id": route.vehicle_id, "depot": depot_json, "stops": stops}


def verify_pod(uow: SqlAlchemyUnitOfWork, store: ObjectStore, pod_id: str) -> dict[str, Any]:
    """``{"valid", "problems", "pod_id", "order_id", "links"}``: the POD's order chain re-verified, media
    bytes included (inside ``with uow``).

    Raises:
        NotFound: unknown POD.
    """
    assert uow.session is not None
    rec = ProveRecords(uow.session, uow.org_id)
    pod = rec.pod(pod_id)
    if pod is None:
        raise NotFound(f"pod_id: unknown POD {pod_id}")
    result = verify_order_chain(uow, store, pod.order_id)
    if not any(link["pod_id"] == pod_id for link in result["chain"]):
        result["problems"].append(f"POD {pod_id} is not in the custody chain of order {pod.order_id}")
        result["valid"] = False
    return {"pod_id": pod_id, "order_id": pod.order_id, "valid": result["valid"], "problems": result["problems"],
            "links": len(result["chain"])}


def verify_order_chain(uow: SqlAlchemyUnitOfWork, store: ObjectStore, order_id: str) -> dict[str, Any]:
    """``{"order_id", "valid", "problems", "chain": [link JSON]}`` for one order (inside ``with uow``)."""
    assert uow.session is not None
    rec = ProveRecords(uow.session, uow.org_id)
    chain = rec.chain(order_id)
    pods = {p.id: p for p in rec.pods_of(order_id)}
    problems = _row_problems(uow, order_id)

    def read(sha: str) -> bytes | None:
        try:
            return store.get(sha)
        except (ObjectMissing, ValueError):
            return None

    problems += verify_chain(chain, pods, read)
    return {"order_id": order_id, "valid": not problems, "problems": problems, "chain": [c.to_json() for c in chain]}


def _row_problems(uow: SqlAlchemyUnitOfWork, order_id: str) -> list[str]:
    """Indexed columns of the ``pods`` rows must agree with their hashed content."""
    from baton.adapters import orm_prove as tp

    assert uow.session is not None
    out = []
    rows = uow.session.execute(select(tp.pods).where(tp.pods.c.org_id == uow.org_id,
                                                     tp.pods.c.order_id == order_id)).all()
    for row in rows:
        for col in ("order_id", "kind", "source", "route_id", "driver_id", "carrier_id", "complete"):
            if row.content.get(col) != getattr(row, col):
                out.append(f"POD {row.id}: column {col} differs from its content")
    return out
