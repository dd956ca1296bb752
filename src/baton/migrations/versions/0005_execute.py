"""Execution: position pings, latest positions, rejected pings, stop visits, ETAs, exceptions.

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-23

Mirrors :mod:`baton.adapters.orm_execute` (an independent branch from ``0001``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_T = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, nullable: bool = False, now: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable,
                     server_default=sa.func.now() if now else None)


def _str(name: str, length: int, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(length), nullable=nullable)


def _f(name: str, nullable: bool = False) -> sa.Column[float]:
    return sa.Column(name, sa.Float(), nullable=nullable)


def _int(name: str, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), nullable=nullable)


def _org() -> sa.Column[str]:
    return sa.Column("org_id", sa.String(64), nullable=False, server_default="default")


def _position_columns() -> list[sa.Column[Any]]:
    return [_f("lat"), _f("lng"), _f("accuracy_m", True), _f("speed_mps", True), _f("heading_deg", True),
            _ts("received_at")]


def upgrade() -> None:
    op.create_table(
        "position_pings",
        _org(), _str("device_id", 128), _ts("ts"), _str("vehicle_id", 128), *_position_columns(),
        sa.PrimaryKeyConstraint("org_id", "device_id", "ts", name="pk_position_pings"),
    )
    op.create_index("ix_position_pings_org_id_vehicle_id_ts", "position_pings", ["org_id", "vehicle_id", "ts"])
    op.create_index("ix_position_pings_ts", "position_pings", ["ts"])
    op.create_table(
        "vehicle_positions",
        _org(), _str("vehicle_id", 128), _str("device_id", 128), _ts("ts"), *_position_columns(),
        sa.PrimaryKeyConstraint("org_id", "vehicle_id", name="pk_vehicle_positions"),
    )
    op.create_table(
        "rejected_pings",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True), _org(),
        _str("device_id", 128, True), _str("vehicle_id", 128, True), _str("reason", 64), _str("field", 64, True),
        sa.Column("detail", sa.Text(), nullable=False), sa.Column("raw", JSON_T, nullable=False),
        _ts("received_at", now=True),
        sa.PrimaryKeyConstraint("id", name="pk_rejected_pings"),
    )
    op.create_index("ix_rejected_pings_org_id_reason", "rejected_pings", ["org_id", "reason"])
    op.create_table(
        "stop_visits",
        _org(), _str("route_id", 128), _str("order_id", 128), _str("vehicle_id", 128), _str("zone", 32),
        _ts("arrived_at"), _ts("departed_at", True), _int("dwell_s", True), _str("source", 16),
        _ts("planned_arrival", True), _ts("predicted_arrival", True), _int("eta_error_s", True),
        sa.PrimaryKeyConstraint("org_id", "route_id", "order_id", name="pk_stop_visits"),
    )
    op.create_index("ix_stop_visits_org_id_zone", "stop_visits", ["org_id", "zone"])
    op.create_table(
        "stop_etas",
        _org(), _str("route_id", 128), _str("order_id", 128), _str("vehicle_id", 128), _ts("eta"),
        _ts("announced_eta", True), _ts("planned_arrival"), _ts("window_end", True), _int("behind_s"),
        _f("pace_factor"), _ts("computed_at"),
        sa.PrimaryKeyConstraint("org_id", "route_id", "order_id", name="pk_stop_etas"),
    )
    op.create_index("ix_stop_etas_org_id_vehicle_id", "stop_etas", ["org_id", "vehicle_id"])
    op.create_table(
        "execution_exceptions",
        _org(), _str("id", 64), _str("kind", 32), _str("subject", 256), _str("status", 16),
        _str("route_id", 128, True), _str("vehicle_id", 128, True), _str("order_id", 128, True),
        sa.Column("details", JSON_T, nullable=False), _ts("opened_at"),
        _str("acknowledged_by", 160, True), _ts("acknowledged_at", True),
        _str("resolved_by", 160, True), _ts("resolved_at", True), sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("auto_resolved", sa.Boolean(), nullable=False),
        sa.Column("needs_dispatcher", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_execution_exceptions"),
    )
    op.create_index("ix_execution_exceptions_org_id_status_kind", "execution_exceptions",
                    ["org_id", "status", "kind"])
    op.create_table(
        "exception_actions",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True), _org(), _str("exception_id", 64),
        _ts("at"), _str("action", 64), _str("outcome", 16), sa.Column("detail", sa.Text(), nullable=False),
        _str("actor", 160),
        sa.PrimaryKeyConstraint("id", name="pk_exception_actions"),
    )
    op.create_index("ix_exception_actions_org_id_exception_id", "exception_actions", ["org_id", "exception_id"])


def downgrade() -> None:
    for table in ("exception_actions", "execution_exceptions", "stop_etas", "stop_visits", "rejected_pings",
                  "vehicle_positions", "position_pings"):
        op.drop_table(table)
