"""Customer notifications: settings, template overrides, preferences, outbox/message log, CSAT.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-23

Mirrors :mod:`baton.adapters.orm_notify` (an independent branch from ``0001``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_T = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _s(name: str, length: int, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(length), nullable=nullable)


def _i(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), nullable=False)


def _org() -> sa.Column[str]:
    return sa.Column("org_id", sa.String(64), nullable=False, server_default="default")


def upgrade() -> None:
    op.create_table(
        "notify_settings",
        _org(), sa.Column("enabled", sa.Boolean(), nullable=False), _s("brand_name", 120), _s("brand_color", 16),
        _s("support_contact", 200), _s("timezone", 64), _s("default_language", 16),
        sa.Column("channels", JSON_T, nullable=False), _s("quiet_start", 5), _s("quiet_end", 5),
        _i("eta_threshold_s"), _s("email_from", 200), _s("sms_from", 40), _s("whatsapp_from", 40),
        _s("webhook_url", 500, True), _s("tracking_base_url", 300), _s("signing_secret", 128), _i("link_ttl_s"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("org_id", name="pk_notify_settings"),
    )
    op.create_table(
        "notify_templates",
        _org(), _s("kind", 32), _s("language", 16), sa.Column("source", sa.Text(), nullable=False), _ts("updated_at"),
        sa.PrimaryKeyConstraint("org_id", "kind", "language", name="pk_notify_templates"),
    )
    op.create_table(
        "notify_preferences",
        _org(), _s("customer_key", 200), sa.Column("channels", JSON_T, nullable=True),
        sa.Column("opted_out", sa.Boolean(), nullable=False), _s("language", 16, True), _s("timezone", 64, True),
        _s("quiet_start", 5, True), _s("quiet_end", 5, True), _ts("updated_at"),
        sa.PrimaryKeyConstraint("org_id", "customer_key", name="pk_notify_preferences"),
    )
    op.create_table(
        "notify_messages",
        _s("id", 36), _org(), _s("dedupe_key", 300), _s("order_id", 128), _s("customer_key", 200), _s("kind", 32),
        _s("channel", 16), _s("recipient", 500), _s("language", 16),
        sa.Column("subject", sa.Text(), nullable=False), sa.Column("body", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True), sa.Column("fallbacks", JSON_T, nullable=False),
        _s("parent_id", 36, True), _s("status", 16), sa.Column("status_reason", sa.Text(), nullable=True),
        _ts("event_at"), _ts("not_before"), _ts("created_at"), _i("attempts"), _s("claim_token", 36, True),
        _ts("claimed_at", True), _s("provider_id", 128, True), _ts("sent_at", True), _ts("delivered_at", True),
        sa.PrimaryKeyConstraint("id", name="pk_notify_messages"),
        sa.UniqueConstraint("org_id", "dedupe_key", name="uq_notify_messages_org_id_dedupe_key"),
    )
    op.create_index("ix_notify_messages_status_not_before", "notify_messages", ["status", "not_before"])
    op.create_index("ix_notify_messages_org_id_order_id", "notify_messages", ["org_id", "order_id"])
    op.create_index("ix_notify_messages_org_id_customer_key_kind", "notify_messages",
                    ["org_id", "customer_key", "kind"])
    op.create_index("ix_notify_messages_provider_id", "notify_messages", ["provider_id"])
    op.create_table(
        "notify_csat",
        _org(), _s("order_id", 128), _i("rating"), sa.Column("comment", sa.Text(), nullable=False),
        _s("route_id", 128, True), _s("driver_id", 128, True), _s("vehicle_id", 128, True),
        _s("carrier_id", 128, True), _ts("rated_at"),
        sa.PrimaryKeyConstraint("org_id", "order_id", name="pk_notify_csat"),
    )


def downgrade() -> None:
    for table in ("notify_csat", "notify_messages", "notify_preferences", "notify_templates", "notify_settings"):
        op.drop_table(table)
