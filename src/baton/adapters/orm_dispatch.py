"""Table models for dispatch: carriers, rule sets, per-order dispatch processes and decisions,
tenders, carrier health and inbound carrier message ids.

On the shared :data:`baton.adapters.orm.metadata`; created by migration ``0006_dispatch``.
Conventions as in :mod:`baton.adapters.orm` (``org_id`` on every table, aware instants, JSON lists).

* ``dispatch_carriers``: one row per carrier; ``spec`` is its document form
  (:func:`baton.dispatch.carrier_file.carrier_to_dict`).
* ``dispatch_rulesets``: every loaded policy version with its source text; one is ``active``.
* ``dispatch_processes``: each order's current dispatch state (queue, tried carriers, assignee).
* ``dispatch_decisions``: every decision with its full explanation (JSON), per order, append-only use.
* ``tenders``: every offer and its outcome (``driver_id``: the gig courier it was offered to; migration 0006a).
* ``carrier_health``: the circuit breaker of each carrier.
* ``carrier_messages``: ids of inbound status messages already applied (deduplication).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from baton.adapters.orm import DEFAULT_ORG, Base, BigIntId, table_of, utcnow
from baton.dispatch import events as _dispatch_events  # noqa: F401  (registers dispatch event types)


def _org() -> Mapped[str]:
    return mapped_column(String(64), primary_key=True, default=DEFAULT_ORG, server_default=DEFAULT_ORG)


class CarrierRow(Base):
    __tablename__ = "dispatch_carriers"

    org_id: Mapped[str] = _org()
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    fleet_type: Mapped[str] = mapped_column(String(16))
    spec: Mapped[dict[str, Any]] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class RuleSetRow(Base):
    __tablename__ = "dispatch_rulesets"

    org_id: Mapped[str] = _org()
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class ProcessRow(Base):
    __tablename__ = "dispatch_processes"

    org_id: Mapped[str] = _org()
    order_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(128))
    ruleset_version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    queue: Mapped[list[Any]] = mapped_column(default=list)
    tried: Mapped[list[Any]] = mapped_column(default=list)
    fallback: Mapped[str] = mapped_column(String(16))
    timeout_s: Mapped[int | None] = mapped_column(Integer)
    carrier_id: Mapped[str | None] = mapped_column(String(128))
    tender_id: Mapped[str | None] = mapped_column(String(160))
    reason: Mapped[str | None] = mapped_column(Text)
    picked_up: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())

    __table_args__ = (Index("ix_dispatch_processes_org_id_carrier_id_state", "org_id", "carrier_id", "state"),)


class DecisionRow(Base):
    __tablename__ = "dispatch_decisions"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(64), default=DEFAULT_ORG, server_default=DEFAULT_ORG)
    order_id: Mapped[str] = mapped_column(String(128))
    decided_at: Mapped[datetime] = mapped_column()
    rule_id: Mapped[str] = mapped_column(String(128))
    ruleset_version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    explanation: Mapped[dict[str, Any]] = mapped_column()

    __table_args__ = (Index("ix_dispatch_decisions_org_id_order_id", "org_id", "order_id"),)


class TenderRow(Base):
    __tablename__ = "tenders"

    org_id: Mapped[str] = _org()
    id: Mapped[str] = mapped_column(String(160), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(128))
    carrier_id: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16))
    offered_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    responded_at: Mapped[datetime | None] = mapped_column()
    reason: Mapped[str | None] = mapped_column(Text)
    price: Mapped[float | None] = mapped_column(Float)
    driver_id: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (
        Index("ix_tenders_org_id_state_expires_at", "org_id", "state", "expires_at"),
        Index("ix_tenders_org_id_order_id", "org_id", "order_id"),
        Index("ix_tenders_org_id_driver_id_state", "org_id", "driver_id", "state"),
    )


class CarrierHealthRow(Base):
    __tablename__ = "carrier_health"

    org_id: Mapped[str] = _org()
    carrier_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime | None] = mapped_column()
    last_status_at: Mapped[datetime | None] = mapped_column()
    reason: Mapped[str | None] = mapped_column(Text)


class CarrierMessageRow(Base):
    __tablename__ = "carrier_messages"

    org_id: Mapped[str] = _org()
    carrier_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


dispatch_carriers = table_of(CarrierRow)
dispatch_rulesets = table_of(RuleSetRow)
dispatch_processes = table_of(ProcessRow)
dispatch_decisions = table_of(DecisionRow)
tenders = table_of(TenderRow)
carrier_health = table_of(CarrierHealthRow)
carrier_messages = table_of(CarrierMessageRow)
