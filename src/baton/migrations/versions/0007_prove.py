"""Proof of delivery: PODs, custody chain, driver actions, media metadata, claims, route versions.

Revision ID: 0007
Revises: 0001
Create Date: 2026-11-23

Mirrors :mod:`baton.adapters.orm_prove` (an independent branch from ``0001``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_T = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _str(name: str, length: int, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(length), nullable=nullable)


def _org() -> sa.Column[str]:
    return sa.Column("org_id", sa.String(64), nullable=False, server_default="default")


def _json(name: str) -> sa.Column[object]:
    return sa.Column(name, JSON_T, nullable=False)


def upgrade() -> None:
    op.create_table(
        "pods",
        _org(), _str("id", 64), _str("order_id", 128), _str("kind", 16), _str("source", 16),
        _str("route_id", 128, True), _str("driver_id", 128, True), _str("carrier_id", 128, True),
        _ts("device_time"), _ts("server_time"), sa.Column("complete", sa.Boolean(), nullable=False),
        _json("content"), _str("content_hash", 64), _str("client_action_id", 64, True),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_pods"),
    )
    op.create_index("ix_pods_org_id_order_id", "pods", ["org_id", "order_id"])
    op.create_index("ix_pods_org_id_carrier_id", "pods", ["org_id", "carrier_id"])
    op.create_table(
        "custody_events",
        _org(), _str("order_id", 128), sa.Column("seq", sa.Integer(), nullable=False, autoincrement=False),
        _str("kind", 32), _ts("at"), _str("actor", 160), _str("route_id", 128, True), _json("data"),
        _json("media"), _str("prev_hash", 64), _str("hash", 64), _str("pod_id", 64, True),
        sa.PrimaryKeyConstraint("org_id", "order_id", "seq", name="pk_custody_events"),
    )
    op.create_table(
        "driver_actions",
        _org(), _str("client_action_id", 64), _str("type", 32), _str("route_id", 128, True),
        _str("order_id", 128, True), _str("driver_id", 128, True), _str("status", 16),
        sa.Column("message", sa.Text(), nullable=False), _str("pod_id", 64, True), _ts("device_time"),
        _ts("server_time"), sa.Column("lat", sa.Float(), nullable=True), sa.Column("lng", sa.Float(), nullable=True),
        sa.Column("accuracy_m", sa.Float(), nullable=True), _json("payload"),
        sa.PrimaryKeyConstraint("org_id", "client_action_id", name="pk_driver_actions"),
    )
    op.create_index("ix_driver_actions_org_id_route_id", "driver_actions", ["org_id", "route_id"])
    op.create_table(
        "pod_media",
        _org(), _str("sha256", 64), sa.Column("size", sa.Integer(), nullable=False), _str("content_type", 64),
        _str("uploaded_by", 160), _ts("uploaded_at"),
        sa.PrimaryKeyConstraint("org_id", "sha256", name="pk_pod_media"),
    )
    op.create_table(
        "claims",
        _org(), _str("id", 64), _str("order_id", 128), _str("status", 16), _ts("opened_at"),
        sa.Column("reason", sa.Text(), nullable=False), sa.Column("amount", sa.Float(), nullable=False),
        _str("currency", 3), _str("pod_id", 64, True), _json("photo_sha256s"), _json("history"),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_claims"),
    )
    op.create_index("ix_claims_org_id_order_id", "claims", ["org_id", "order_id"])
    op.create_table(
        "driver_route_versions",
        _org(), _str("route_id", 128), sa.Column("version", sa.Integer(), nullable=False), _str("signature", 64),
        _json("order_ids"), _str("driver_id", 128, True), _ts("updated_at"),
        sa.PrimaryKeyConstraint("org_id", "route_id", name="pk_driver_route_versions"),
    )


def downgrade() -> None:
    for table in ("driver_route_versions", "claims", "pod_media", "driver_actions", "custody_events", "pods"):
        op.drop_table(table)
