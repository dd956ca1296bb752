"""Storage of proof of delivery (tables of :mod:`baton.adapters.orm_prove`) within one session and organisation.

Maps rows to the pure :mod:`baton.prove` dataclasses and back. Writes happen in the caller's
transaction (a unit of work); nothing here commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from baton.adapters import orm_prove as tp
from baton.prove.claims import Claim, ClaimStatus
from baton.prove.custody import CustodyEvent
from baton.prove.model import Pod


def pod_from_content(content: dict[str, Any], content_hash: str) -> Pod:
    data = dict(content)
    for name in ("device_time", "server_time"):
        data[name] = datetime.fromisoformat(data[name])
    return Pod(**data, content_hash=content_hash)


class ProveRecords:
    """PODs, custody links, driver actions, media metadata, claims and route versions of ``org_id``."""

    def __init__(self, session: Session, org_id: str) -> None:
        self.session = session
        self.org_id = org_id

    # PODs ---------------------------------------------------------------------------------------
    def add_pod(self, pod: Pod) -> None:
        self.session.execute(insert(tp.pods).values(
            org_id=self.org_id, id=pod.id, order_id=pod.order_id, kind=pod.kind.value, source=pod.source.value,
            route_id=pod.route_id, driver_id=pod.driver_id, carrier_id=pod.carrier_id, device_time=pod.device_time,
            server_time=pod.server_time, complete=pod.complete, content=pod.content(),
            content_hash=pod.content_hash, client_action_id=pod.client_action_id))

    def pod(self, pod_id: str) -> Pod | None:
        row = self.session.execute(select(tp.pods).where(tp.pods.c.org_id == self.org_id,
                                                         tp.pods.c.id == pod_id)).first()
        return None if row is None else pod_from_content(row.content, row.content_hash)

    def pods_of(self, order_id: str) -> list[Pod]:
        rows = self.session.execute(select(tp.pods).where(tp.pods.c.org_id == self.org_id,
                                                          tp.pods.c.order_id == order_id)
                                    .order_by(tp.pods.c.server_time)).all()
        return [pod_from_content(r.content, r.content_hash) for r in rows]

    def delivered_pod_ids(self) -> dict[str, str]:
        """``order_id -> pod_id`` of the latest ``delivered`` POD of every order."""
        rows = self.session.execute(select(tp.pods.c.order_id, tp.pods.c.id).where(
            tp.pods.c.org_id == self.org_id, tp.pods.c.kind == "delivered").order_by(tp.pods.c.server_time)).all()
        return {r.order_id: r.id for r in rows}

    def carrier_pods(self) -> list[tuple[str, str, bool]]:
        """``(carrier_id, order_id, complete)`` of every delivered carrier POD (latest per order)."""
        rows = self.session.execute(select(tp.pods.c.carrier_id, tp.pods.c.order_id, tp.pods.c.complete).where(
            tp.pods.c.org_id == self.org_id, tp.pods.c.source == "carrier", tp.pods.c.kind == "delivered")
            .order_by(tp.pods.c.server_time)).all()
        latest = {(r.carrier_id, r.order_id): bool(r.complete) for r in rows}
        return [(c, o, ok) for (c, o), ok in latest.items()]

    # custody ------------------------------------------------------------------------------------
    def chain(self, order_id: str) -> list[CustodyEvent]:
        c = tp.custody_events
        rows = self.session.execute(select(c).where(c.c.org_id == self.org_id, c.c.order_id == order_id)
                                    .order_by(c.c.seq)).all()
        return [self._link(r) for r in rows]

    def last_link(self, order_id: str) -> CustodyEvent | None:
        chain = self.chain(order_id)
        return chain[-1] if chain else None

    def last_links(self, order_ids: list[str]) -> dict[str, CustodyEvent]:
        """The latest custody link of each order of ``order_ids`` that has one."""
        if not order_ids:
            return {}
        c = tp.custody_events
        latest = select(c.c.order_id, func.max(c.c.seq).label("seq")).where(
            c.c.org_id == self.org_id, c.c.order_id.in_(order_ids)).group_by(c.c.order_id).subquery()
        rows = self.session.execute(select(c).join(
            latest, (c.c.order_id == latest.c.order_id) & (c.c.seq == latest.c.seq)).where(
            c.c.org_id == self.org_id)).all()
        return {r.order_id: self._link(r) for r in rows}

    @staticmethod
    def _link(r: Any) -> CustodyEvent:
        return CustodyEvent(order_id=r.order_id, seq=r.seq, kind=r.kind, at=r.at, actor=r.actor, route_id=r.route_id,
                            data=r.data, media=list(r.media), prev_hash=r.prev_hash, hash=r.hash, pod_id=r.pod_id)

    def add_link(self, ev: CustodyEvent) -> None:
        self.session.execute(insert(tp.custody_events).values(
            org_id=self.org_id, order_id=ev.order_id, seq=ev.seq, kind=ev.kind, at=ev.at, actor=ev.actor,
            route_id=ev.route_id, data=ev.data, media=ev.media, prev_hash=ev.prev_hash, hash=ev.hash,
            pod_id=ev.pod_id))

    # driver actions -----------------------------------------------------------------------------
    def action(self, client_action_id: str) -> Any:
        a = tp.driver_actions
        return self.session.execute(select(a).where(a.c.org_id == self.org_id,
                                                    a.c.client_action_id == client_action_id)).first()

    def add_action(self, **values: Any) -> None:
        self.session.execute(insert(tp.driver_actions).values(org_id=self.org_id, **values))

    def actions(self, route_id: str | None = None) -> list[Any]:
        a = tp.driver_actions
        stmt = select(a).where(a.c.org_id == self.org_id)
        if route_id is not None:
            stmt = stmt.where(a.c.route_id == route_id)
        return list(self.session.execute(stmt.order_by(a.c.server_time)).all())

    # media --------------------------------------------------------------------------------------
    def media(self, sha256: str) -> Any:
        m = tp.pod_media
        return self.session.execute(select(m).where(m.c.org_id == self.org_id, m.c.sha256 == sha256)).first()

    def known_media(self, shas: list[str]) -> set[str]:
        if not shas:
            return set()
        m = tp.pod_media
        return set(self.session.execute(select(m.c.sha256).where(m.c.org_id == self.org_id,
                                                                 m.c.sha256.in_(shas))).scalars())

    def add_media(self, sha256: str, size: int, content_type: str, uploaded_by: str, at: datetime) -> None:
        self.session.execute(insert(tp.pod_media).values(org_id=self.org_id, sha256=sha256, size=size,
                                                         content_type=content_type, uploaded_by=uploaded_by,
                                                         uploaded_at=at))

    # claims -------------------------------------------------------------------------------------
    def add_claim(self, claim: Claim) -> None:
        self.session.execute(insert(tp.claims).values(
            org_id=self.org_id, id=claim.id, order_id=claim.order_id, status=claim.status.value,
            opened_at=claim.opened_at, reason=claim.reason, amount=claim.amount, currency=claim.currency,
            pod_id=claim.pod_id, photo_sha256s=claim.photo_sha256s, history=claim.history))

    def save_claim(self, claim: Claim) -> None:
        c = tp.claims
        self.session.execute(update(c).where(c.c.org_id == self.org_id, c.c.id == claim.id).values(
            status=claim.status.value, history=list(claim.history)))

    def claim(self, claim_id: str) -> Claim | None:
        c = tp.claims
        row = self.session.execute(select(c).where(c.c.org_id == self.org_id, c.c.id == claim_id)).first()
        return None if row is None else self._claim(row)

    def claims(self, order_id: str | None = None, status: str | None = None) -> list[Claim]:
        c = tp.claims
        stmt = select(c).where(c.c.org_id == self.org_id)
        if order_id is not None:
            stmt = stmt.where(c.c.order_id == order_id)
        if status is not None:
            stmt = stmt.where(c.c.status == status)
        return [self._claim(r) for r in self.session.execute(stmt.order_by(c.c.opened_at)).all()]

    @staticmethod
    def _claim(r: Any) -> Claim:
        return Claim(id=r.id, order_id=r.order_id, status=ClaimStatus(r.status), opened_at=r.opened_at,
                     reason=r.reason, amount=r.amount, currency=r.currency, pod_id=r.pod_id,
                     photo_sha256s=list(r.photo_sha256s), history=list(r.history))

    # route versions -----------------------------------------------------------------------------
    def route_version(self, route_id: str) -> Any:
        v = tp.driver_route_versions
        return self.session.execute(select(v).where(v.c.org_id == self.org_id, v.c.route_id == route_id)).first()

    def set_route_version(self, route_id: str, version: int, signature: str, order_ids: list[str],
                          driver_id: str | None, at: datetime, *, new: bool) -> None:
        v = tp.driver_route_versions
        values = {"version": version, "signature": signature, "order_ids": order_ids, "driver_id": driver_id,
                  "updated_at": at}
        if new:
            self.session.execute(insert(v).values(org_id=self.org_id, route_id=route_id, **values))
        else:
            self.session.execute(update(v).where(v.c.org_id == self.org_id, v.c.route_id == route_id)
                                 .values(**values))
