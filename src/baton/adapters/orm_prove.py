"""Table models for proof of delivery, on the shared metadata (migration ``0007_prove``).

* ``pods``: every POD (driver or carrier; delivered or failed) with its content hash;
* ``custody_events``: the hash-chained custody links, primary key ``(org_id, order_id, seq)``;
* ``driver_actions``: every applied driver action by ``client_action_id`` (idempotency of retries);
* ``pod_media``: metadata of uploaded media (bytes live in the object store, content-addressed);
* ``claims``: damage claims and their history;
* ``driver_route_versions``: the version counter of each route as the driver app sees it.

Units: coordinates WGS84 degrees, metres, instants aware (UTC out).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

import baton.prove.events  # noqa: F401  (registers the POD events for event_from_record)
from baton.adapters.orm import DEFAULT_ORG, Base, table_of


def _org() -> Mapped[str]:
    return mapped_column(String(64), primary_key=True, default=DEFAULT_ORG, server_default=DEFAULT_ORG)


class PodRow(Base):
    __tablename__ = "pods"

    org_id: Mapped[str] = _org()
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    route_id: Mapped[str | None] = mapped_column(String(128))
    driver_id: Mapped[str | None] = mapped_column(String(128))
    carrier_id: Mapped[str | None] = mapped_column(String(128))
    device_time: Mapped[datetime] = mapped_column()
    server_time: Mapped[datetime] = mapped_column()
    complete: Mapped[bool] = mapped_column(Boolean)
    content: Mapped[dict[str, Any]] = mapped_column()
    content_hash: Mapped[str] = mapped_column(String(64))
    client_action_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_pods_org_id_order_id", "org_id", "order_id"),
        Index("ix_pods_org_id_carrier_id", "org_id", "carrier_id"),
    )


class CustodyEventRow(Base):
    __tablename__ = "custody_events"

    org_id: Mapped[str] = _org()
    order_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column()
    actor: Mapped[str] = mapped_column(String(160))
    route_id: Mapped[str | None] = mapped_column(String(128))
    data: Mapped[dict[str, Any]] = mapped_column()
    media: Mapped[list[Any]] = mapped_column()
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    pod_id: Mapped[str | None] = mapped_column(String(64))


class DriverActionRow(Base):
    __tablename__ = "driver_actions"

    org_id: Mapped[str] = _org()
    client_action_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    route_id: Mapped[str | None] = mapped_column(String(128))
    order_id: Mapped[str | None] = mapped_column(String(128))
    driver_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    pod_id: Mapped[str | None] = mapped_column(String(64))
    device_time: Mapped[datetime] = mapped_column()
    server_time: Mapped[datetime] = mapped_column()
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    payload: Mapped[dict[str, Any]] = mapped_column()

    __table_args__ = (Index("ix_driver_actions_org_id_route_id", "org_id", "route_id"),)


class PodMediaRow(Base):
    __tablename__ = "pod_media"

    org_id: Mapped[str] = _org()
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(160))
    uploaded_at: Mapped[datetime] = mapped_column()


class ClaimRow(Base):
    __tablename__ = "claims"

    org_id: Mapped[str] = _org()
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[datetime] = mapped_column()
    reason: Mapped[str] = mapped_column(Text)
    amount: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3))
    pod_id: Mapped[str | None] = mapped_column(String(64))
    photo_sha256s: Mapped[list[Any]] = mapped_column()
    history: Mapped[list[Any]] = mapped_column()

    __table_args__ = (Index("ix_claims_org_id_order_id", "org_id", "order_id"),)


class DriverRouteVersionRow(Base):
    __tablename__ = "driver_route_versions"

    org_id: Mapped[str] = _org()
    route_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    signature: Mapped[str] = mapped_column(String(64))
    order_ids: Mapped[list[Any]] = mapped_column()
    driver_id: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column()


pods = table_of(PodRow)
custody_events = table_of(CustodyEventRow)
driver_actions = table_of(DriverActionRow)
pod_media = table_of(PodMediaRow)
claims = table_of(ClaimRow)
driver_route_versions = table_of(DriverRouteVersionRow)

PROVE_TABLES: tuple[Table, ...] = (pods, custody_events, driver_actions, pod_media, claims, driver_route_versions)
