"""Access control: organisations, users, API keys and idempotency records.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02

Mirrors :mod:`baton.adapters.orm_auth`. Users' e-mails are unique across Baton (a user belongs
to one organisation); API keys are stored as a lookup prefix plus the SHA-256 of the key.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_T = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ROLES = ("admin", "dispatcher", "viewer", "driver", "carrier")


def _ts(name: str, nullable: bool = False, now: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable,
                     server_default=sa.func.now() if now else None)


def _str(name: str, length: int, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(length), nullable=nullable)


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=f"fk_{table}_org_id_organisations",
                                   ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "organisations",
        _str("id", 64), _str("name", 256), _ts("created_at", now=True),
        sa.PrimaryKeyConstraint("id", name="pk_organisations"),
    )
    op.create_table(
        "users",
        _str("id", 32), _str("org_id", 64), _str("email", 320), _str("name", 256),
        _str("password_hash", 256), _str("role", 16),
        _str("driver_id", 128, True), _str("carrier_id", 128, True),
        sa.Column("active", sa.Boolean(), nullable=False),
        _ts("created_at", now=True),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
        sa.CheckConstraint("role IN (" + ", ".join(f"'{r}'" for r in ROLES) + ")", name="ck_users_role"),
        _org_fk("users"),
    )
    op.create_index("ix_users_org_id", "users", ["org_id"])
    op.create_table(
        "api_keys",
        _str("id", 32), _str("org_id", 64), _str("name", 256), _str("prefix", 16), _str("key_hash", 64),
        sa.Column("scopes", JSON_T, nullable=False),
        _str("driver_id", 128, True), _str("carrier_id", 128, True), _str("created_by", 160),
        _ts("created_at", now=True), _ts("expires_at", True), _ts("revoked_at", True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("prefix", name="uq_api_keys_prefix"),
        _org_fk("api_keys"),
    )
    op.create_index("ix_api_keys_org_id", "api_keys", ["org_id"])
    op.create_table(
        "idempotency_keys",
        _str("org_id", 64), _str("principal", 160), _str("key", 255), _str("method", 8), _str("path", 512),
        _str("request_hash", 64), _str("state", 16),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_body", JSON_T, nullable=True),
        sa.Column("response_headers", JSON_T, nullable=True),
        _ts("created_at", now=True), _ts("completed_at", True),
        sa.PrimaryKeyConstraint("org_id", "principal", "key", name="pk_idempotency_keys"),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    for table in ("idempotency_keys", "api_keys", "users", "organisations"):
        op.drop_table(table)
