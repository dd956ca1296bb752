"""Order repository: the aggregate commands mutate, with change tracking and optimistic locking."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from baton.adapters import orm
from baton.adapters.repository._common import chunks
from baton.domain.errors import NotFound
from baton.domain.lifecycle import OrderStatus
from baton.domain.order import Order, SlaTier
from baton.domain.values import Address, Customer, LatLng, Size, TimeWindow


def order_to_row(order: Order, org_id: str) -> dict[str, Any]:
    """The ``orders`` row for ``order`` (windows as ISO 8601 pairs, label sets sorted)."""
    c, a, s = order.customer, order.address, order.size
    return {
        "org_id": org_id, "id": order.id, "external_ref": order.external_ref,
        "customer_name": c.name, "customer_phone": c.phone, "customer_email": c.email,
        "customer_language": c.language,
        "address_line": a.line, "lat": a.location.lat, "lng": a.location.lng, "city": a.city,
        "postal_code": a.postal_code, "country": a.country,
        "time_windows": [[w.start.isoformat(), w.end.isoformat()] for w in order.time_windows],
        "service_time_s": order.service_time_s,
        "parcels": s.parcels, "weight_kg": s.weight_kg, "volume_l": s.volume_l,
        "required_features": sorted(order.required_features), "priority": order.priority,
        "sla_tier": order.sla_tier.value, "declared_value": order.declared_value,
        "currency": order.currency, "notes": order.notes, "tags": sorted(order.tags),
        "status": order.status.value, "attempts": order.attempts, "route_id": order.route_id,
        "version": order.version,
    }


def order_from_row(r: Any) -> Order:
    """Rebuild an :class:`Order` (with no pending events) from an ``orders`` row."""
    return Order(
        id=r.id, external_ref=r.external_ref,
        customer=Customer(r.customer_name, r.customer_phone, r.customer_email, r.customer_language),
        address=Address(r.address_line, LatLng(r.lat, r.lng), r.city, r.postal_code, r.country),
        time_windows=[TimeWindow(datetime.fromisoformat(s), datetime.fromisoformat(e))
                      for s, e in r.time_windows],
        service_time_s=r.service_time_s, size=Size(r.parcels, r.weight_kg, r.volume_l),
        required_features=frozenset(r.required_features), priority=r.priority,
        sla_tier=SlaTier(r.sla_tier), declared_value=r.declared_value, currency=r.currency,
        notes=r.notes, tags=frozenset(r.tags), status=OrderStatus(r.status), attempts=r.attempts,
        route_id=r.route_id, version=r.version,
    )


_ORDER_KEY = ("org_id", "id")


class OrderRepository:
    """Orders of one organisation, with an identity map and change tracking.

    ``seen`` holds every order added or loaded through this repository; the unit of work
    writes back the ones that changed and persists their pending events. Loading an id
    already seen returns the same object (in-memory changes are never overwritten).
    """

    def __init__(self, session: Session, org_id: str = orm.DEFAULT_ORG) -> None:
        self.session = session
        self.org_id = org_id
        self.seen: set[Order] = set()
        self._by_id: dict[str, Order] = {}
        self._persisted: dict[str, dict[str, Any]] = {}

    # reads ----------------------------------------------------------------------------
    def get(self, order_id: str) -> Order:
        """The order ``order_id``.

        Raises:
            NotFound: when the organisation has no such order.
        """
        return self.get_many([order_id])[0]

    def get_many(self, ids: Sequence[str]) -> builtins.list[Order]:
        """The orders ``ids``, in that order (duplicates allowed).

        Raises:
            NotFound: when any id is unknown (the message lists up to 10 of them).
        """
        missing = [i for i in dict.fromkeys(ids) if i not in self._by_id]
        for chunk in chunks(missing):
            self._load(orm.orders.c.id.in_(chunk))
        unknown = [i for i in missing if i not in self._by_id]
        if unknown:
            raise NotFound(f"unknown order id(s): {', '.join(unknown[:10])}")
        return [self._by_id[i] for i in ids]

    def list(
        self, status: OrderStatus | str | None = None, route_id: str | None = None
    ) -> builtins.list[Order]:
        """Orders filtered by ``status`` and/or ``route_id`` (``None`` = any), sorted by id."""
        conditions = []
        if status is not None:
            conditions.append(orm.orders.c.status == OrderStatus(status).value)
        if route_id is not None:
            conditions.append(orm.orders.c.route_id == route_id)
        return self._load(*conditions)

    def count_by_status(self) -> dict[str, int]:
        """``{status: count}`` for every lifecycle status (0 when none), as stored in the database."""
        t = orm.orders
        stmt = select(t.c.status, func.count()).where(t.c.org_id == self.org_id).group_by(t.c.status)
        counts = {s.value: 0 for s in OrderStatus}
        counts.update({status: int(n) for status, n in self.session.execute(stmt)})
        return counts

    def _load(self, *conditions: Any) -> builtins.list[Order]:
        stmt = select(orm.orders).where(orm.orders.c.org_id == self.org_id, *conditions)
        out = []
        for row in self.session.execute(stmt.order_by(orm.orders.c.id)):
            known = self._by_id.get(row.id)
            if known is None:
                known = order_from_row(row)
                self._track(known)
            out.append(known)
        return out

    # writes ---------------------------------------------------------------------------
    def add(self, order: Order) -> None:
        """Insert ``order`` now (in the open transaction); its pending events are written at commit.

        Raises:
            sqlalchemy.exc.IntegrityError: when the id already exists in the organisation.
        """
        self.add_many([order])

    def add_many(self, orders: Iterable[Order]) -> None:
        """Insert ``orders`` with one ``executemany``.

        Raises:
            sqlalchemy.exc.IntegrityError: when an id already exists in the organisation.
        """
        batch = builtins.list(orders)
        if not batch:
            return
        now = orm.utcnow()
        rows = [order_to_row(o, self.org_id) | {"created_at": now, "updated_at": now} for o in batch]
        self.session.execute(insert(orm.orders), rows)
        for order in batch:
            self._track(order)

    def _track(self, order: Order) -> None:
        self.seen.add(order)
        self._by_id[order.id] = order
        self._persisted[order.id] = order_to_row(order, self.org_id)

    def changed(self) -> builtins.list[Order]:
        """Tracked orders whose state differs from what this repository last wrote or read."""
        return [o for o in self._by_id.values() if order_to_row(o, self.org_id) != self._persisted[o.id]]

    def tracked(self) -> builtins.list[Order]:
        """Every tracked order, in the order it was first added or loaded."""
        return builtins.list(self._by_id.values())

    def flush_changes(self) -> builtins.list[str]:
        """Write back every changed order with an optimistic-lock check; return the conflicting ids.

        Each changed row is updated ``WHERE version = <version when loaded>``. An order whose
        version did not move (a change outside the lifecycle) gets ``version + 1``, so every
        write is visible to concurrent readers. Nothing is raised here: when the returned
        list is not empty, the caller must roll the transaction back.
        """
        dirty = self.changed()
        if not dirty:
            return []
        now = orm.utcnow()
        params = []
        for order in dirty:
            old_version = self._persisted[order.id]["version"]
            if order.version == old_version:
                order.version += 1
            row = order_to_row(order, self.org_id)
            keys = {"b_org": self.org_id, "b_id": order.id, "b_version": old_version}
            params.append({k: v for k, v in row.items() if k not in _ORDER_KEY} | {"updated_at": now} | keys)
        t = orm.orders
        stmt = update(t).where(t.c.org_id == bindparam("b_org"), t.c.id == bindparam("b_id"),
                               t.c.version == bindparam("b_version"))
        result = self.session.connection().execute(stmt, params)
        if result.rowcount == len(dirty):
            return []
        versions = {}
        for chunk in chunks([o.id for o in dirty]):
            sel = select(t.c.id, t.c.version).where(t.c.org_id == self.org_id, t.c.id.in_(chunk))
            versions.update({row.id: row.version for row in self.session.execute(sel)})
        conflicts = [o.id for o in dirty if versions.get(o.id) != o.version]
        return conflicts or [o.id for o in dirty]

    def mark_persisted(self) -> None:
        """Record the current state of every tracked order as written (call after commit)."""
        for order in self._by_id.values():
            self._persisted[order.id] = order_to_row(order, self.org_id)
