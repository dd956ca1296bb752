"""Dispatch: carriers, rule sets, dispatch processes and decisions, tenders, carrier health, messages.

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-23

Mirrors :mod:`baton.adapters.orm_dispatch`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_T = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _org() -> sa.Column[str]:
    return sa.Column("org_id", sa.String(64), nullable=False, server_default="default")


def _str(name: str, length: int, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(length), nullable=nullable)


def _ts(name: str, nullable: bool = False, now: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable,
                     server_default=sa.func.now() if now else None)


def _int(name: str, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "dispatch_carriers",
        _org(), _str("id", 128), _str("fleet_type", 16), sa.Column("spec", JSON_T, nullable=False),
        _ts("updated_at", now=True),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_dispatch_carriers"),
    )
    op.create_table(
        "dispatch_rulesets",
        _org(), sa.Column("version", sa.Integer(), nullable=False, autoincrement=False), _str("name", 128),
        sa.Column("source", sa.Text(), nullable=False), sa.Column("active", sa.Boolean(), nullable=False),
        _ts("loaded_at", now=True),
        sa.PrimaryKeyConstraint("org_id", "version", name="pk_dispatch_rulesets"),
    )
    op.create_table(
        "dispatch_processes",
        _org(), _str("order_id", 128), _str("rule_id", 128), _int("ruleset_version"), _str("state", 16),
        sa.Column("queue", JSON_T, nullable=False), sa.Column("tried", JSON_T, nullable=False),
        _str("fallback", 16), _int("timeout_s", True), _str("carrier_id", 128, True),
        _str("tender_id", 160, True), sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("picked_up", sa.Boolean(), nullable=False), _ts("updated_at", now=True),
        sa.PrimaryKeyConstraint("org_id", "order_id", name="pk_dispatch_processes"),
    )
    op.create_index("ix_dispatch_processes_org_id_carrier_id_state", "dispatch_processes",
                    ["org_id", "carrier_id", "state"])
    op.create_table(
        "dispatch_decisions",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False), _org(), _str("order_id", 128),
        _ts("decided_at"), _str("rule_id", 128), _int("ruleset_version"), _str("action", 16),
        sa.Column("explanation", JSON_T, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dispatch_decisions"),
    )
    op.create_index("ix_dispatch_decisions_org_id_order_id", "dispatch_decisions", ["org_id", "order_id"])
    op.create_table(
        "tenders",
        _org(), _str("id", 160), _str("order_id", 128), _str("carrier_id", 128), _str("state", 16),
        _ts("offered_at"), _ts("expires_at"), _ts("responded_at", True),
        sa.Column("reason", sa.Text(), nullable=True), sa.Column("price", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_tenders"),
    )
    op.create_index("ix_tenders_org_id_state_expires_at", "tenders", ["org_id", "state", "expires_at"])
    op.create_index("ix_tenders_org_id_order_id", "tenders", ["org_id", "order_id"])
    op.create_table(
        "carrier_health",
        _org(), _str("carrier_id", 128), _str("state", 16), _int("failures"), _ts("opened_at", True),
        _ts("last_status_at", True), sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("org_id", "carrier_id", name="pk_carrier_health"),
    )
    op.create_table(
        "carrier_messages",
        _org(), _str("carrier_id", 128), _str("message_id", 160), _ts("received_at", now=True),
        sa.PrimaryKeyConstraint("org_id", "carrier_id", "message_id", name="pk_carrier_messages"),
    )


def downgrade() -> None:
    for table in ("carrier_messages", "carrier_health", "tenders", "dispatch_decisions", "dispatch_processes",
                  "dispatch_rulesets", "dispatch_carriers"):
        op.drop_table(table)
