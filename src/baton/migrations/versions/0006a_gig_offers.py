"""Dispatch: offers made to individual gig couriers (``tenders.driver_id``).

Revision ID: 0006a
Revises: 0006
Create Date: 2026-11-23

Mirrors :class:`baton.adapters.orm_dispatch.TenderRow`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006a"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tenders") as batch:
        batch.add_column(sa.Column("driver_id", sa.String(128), nullable=True))
    op.create_index("ix_tenders_org_id_driver_id_state", "tenders", ["org_id", "driver_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_tenders_org_id_driver_id_state", table_name="tenders")
    with op.batch_alter_table("tenders") as batch:
        batch.drop_column("driver_id")
