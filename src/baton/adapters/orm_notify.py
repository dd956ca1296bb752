"""Table models for customer notifications, on the shared :data:`baton.adapters.orm.metadata`.

Created by migration ``0003_notify``. Instants are aware (UTC out).

* ``notify_settings``: one row per organisation: enabled, branding, default channels and
  language, timezone, quiet hours (local ``HH:MM``), ETA-change threshold (s), sender
  identities, outbound webhook, the secret that signs tracking links.
* ``notify_templates``: per-organisation template overrides by ``(kind, language)``.
* ``notify_preferences``: a customer's channel order, opt-out, language, timezone and quiet
  hours; ``customer_key`` is the lower-cased e-mail, else the E.164 phone.
* ``notify_messages``: the outbox and message log: one row per message per channel, written
  in the same transaction as the event that caused it; the sender moves ``status`` along
  ``pending → sending → sent → delivered | failed`` (or ``suppressed`` at creation).
* ``notify_csat``: the customer's rating (1-5) and comment per order, with route, driver,
  vehicle and carrier for the analytics.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

import baton.notify.events  # noqa: F401  (registers the notification area's event types)
from baton.adapters.orm import DEFAULT_ORG, Base, table_of, utcnow


def _org(primary: bool = True) -> Mapped[str]:
    return mapped_column(String(64), primary_key=primary, default=DEFAULT_ORG, server_default=DEFAULT_ORG)


class NotifySettingsRow(Base):
    __tablename__ = "notify_settings"

    org_id: Mapped[str] = _org()
    enabled: Mapped[bool] = mapped_column(Boolean)
    brand_name: Mapped[str] = mapped_column(String(120))
    brand_color: Mapped[str] = mapped_column(String(16))
    support_contact: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    default_language: Mapped[str] = mapped_column(String(16))
    channels: Mapped[list[Any]] = mapped_column()
    quiet_start: Mapped[str] = mapped_column(String(5))
    quiet_end: Mapped[str] = mapped_column(String(5))
    eta_threshold_s: Mapped[int] = mapped_column(Integer)
    email_from: Mapped[str] = mapped_column(String(200))
    sms_from: Mapped[str] = mapped_column(String(40))
    whatsapp_from: Mapped[str] = mapped_column(String(40))
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    tracking_base_url: Mapped[str] = mapped_column(String(300))
    signing_secret: Mapped[str] = mapped_column(String(128))
    link_ttl_s: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotifyTemplateRow(Base):
    __tablename__ = "notify_templates"

    org_id: Mapped[str] = _org()
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    language: Mapped[str] = mapped_column(String(16), primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotifyPreferenceRow(Base):
    __tablename__ = "notify_preferences"

    org_id: Mapped[str] = _org()
    customer_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    channels: Mapped[list[Any] | None] = mapped_column()
    opted_out: Mapped[bool] = mapped_column(Boolean)
    language: Mapped[str | None] = mapped_column(String(16))
    timezone: Mapped[str | None] = mapped_column(String(64))
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotifyMessageRow(Base):
    __tablename__ = "notify_messages"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = _org(primary=False)
    dedupe_key: Mapped[str] = mapped_column(String(300))
    order_id: Mapped[str] = mapped_column(String(128))
    customer_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(500))
    language: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    fallbacks: Mapped[list[Any]] = mapped_column()
    parent_id: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(Text)
    event_at: Mapped[datetime] = mapped_column()
    not_before: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer)
    claim_token: Mapped[str | None] = mapped_column(String(36))
    claimed_at: Mapped[datetime | None] = mapped_column()
    provider_id: Mapped[str | None] = mapped_column(String(128))
    sent_at: Mapped[datetime | None] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        UniqueConstraint("org_id", "dedupe_key"),
        Index("ix_notify_messages_status_not_before", "status", "not_before"),
        Index("ix_notify_messages_org_id_order_id", "org_id", "order_id"),
        Index("ix_notify_messages_org_id_customer_key_kind", "org_id", "customer_key", "kind"),
        Index("ix_notify_messages_provider_id", "provider_id"),
    )


class NotifyCsatRow(Base):
    __tablename__ = "notify_csat"

    org_id: Mapped[str] = _org()
    order_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text)
    route_id: Mapped[str | None] = mapped_column(String(128))
    driver_id: Mapped[str | None] = mapped_column(String(128))
    vehicle_id: Mapped[str | None] = mapped_column(String(128))
    carrier_id: Mapped[str | None] = mapped_column(String(128))
    rated_at: Mapped[datetime] = mapped_column()


settings: Table = table_of(NotifySettingsRow)
templates: Table = table_of(NotifyTemplateRow)
preferences: Table = table_of(NotifyPreferenceRow)
messages: Table = table_of(NotifyMessageRow)
csat: Table = table_of(NotifyCsatRow)
