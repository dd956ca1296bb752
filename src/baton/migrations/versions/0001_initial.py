"""Initial schema: orders, fleet, plans, routes, stops, unassigned orders and append-only events.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Instants are ``timestamptz`` on PostgreSQL and UTC text on SQLite (see
:class:`baton.adapters.orm.UtcDateTime`). The ``events`` table is append-only: database
triggers refuse UPDATE and DELETE on both SQLite and PostgreSQL (TRUNCATE, an
administrative operation, is left allowed on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_T = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(
    name: str, nullable: bool = False, server_default: sa.FunctionElement[Any] | None = None
) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, server_default=server_default)


def _org() -> sa.Column[str]:
    return sa.Column("org_id", sa.String(64), nullable=False, server_default="default")


def _id(name: str = "id") -> sa.Column[str]:
    return sa.Column(name, sa.String(128), nullable=False)


def _int(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), nullable=False)


def _float(name: str) -> sa.Column[float]:
    return sa.Column(name, sa.Float(), nullable=False)


def _str(name: str, length: int, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(length), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "orders",
        _org(), _id(),
        _str("external_ref", 128, True),
        _str("customer_name", 256), _str("customer_phone", 64, True), _str("customer_email", 256, True),
        _str("customer_language", 16),
        sa.Column("address_line", sa.Text(), nullable=False),
        _float("lat"), _float("lng"),
        _str("city", 128, True), _str("postal_code", 32, True), _str("country", 64, True),
        sa.Column("time_windows", JSON_T, nullable=False),
        _int("service_time_s"), _int("parcels"), _float("weight_kg"), _float("volume_l"),
        sa.Column("required_features", JSON_T, nullable=False),
        _int("priority"), _str("sla_tier", 32), _float("declared_value"), _str("currency", 3),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("tags", JSON_T, nullable=False),
        _str("status", 32), _int("attempts"), _str("route_id", 128, True), _int("version"),
        _ts("created_at", server_default=sa.func.now()),
        _ts("updated_at", server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_orders"),
    )
    op.create_index("ix_orders_org_id_status", "orders", ["org_id", "status"])
    op.create_index("ix_orders_org_id_route_id", "orders", ["org_id", "route_id"])
    op.create_index("ix_orders_org_id_external_ref", "orders", ["org_id", "external_ref"])

    op.create_table(
        "depots",
        _org(), _id(), _str("name", 256), _float("lat"), _float("lng"), _str("timezone", 64),
        _ts("opens", True), _ts("closes", True), _int("loading_time_s"),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_depots"),
    )

    op.create_table(
        "vehicles",
        _org(), _id(), _str("name", 256),
        _int("capacity_parcels"), _float("capacity_weight_kg"), _float("capacity_volume_l"),
        _str("start_depot_id", 128), _str("end_depot_id", 128, True),
        sa.Column("features", JSON_T, nullable=False),
        _float("cost_per_km"), _float("cost_per_hour"), _float("cost_fixed_per_day"),
        _str("cost_currency", 3),
        _str("fleet_type", 16), _str("carrier_id", 128, True), _float("speed_factor"),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_vehicles"),
    )

    op.create_table(
        "drivers",
        _org(), _id(), _str("name", 256), _ts("shift_start"), _ts("shift_end"),
        _int("max_working_time_s"), _int("break_after_work_s"), _int("break_duration_s"),
        sa.Column("skills", JSON_T, nullable=False),
        _str("vehicle_id", 128, True), _str("phone", 64, True),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_drivers"),
    )

    op.create_table(
        "plans",
        _org(), _id(), _ts("created_at"),
        _float("cost_fixed"), _float("cost_distance"), _float("cost_time"), _float("cost_penalties"),
        _str("currency", 3), _float("solve_seconds"), _float("objective"),
        sa.Column("feasible", sa.Boolean(), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_plans"),
    )
    op.create_index("ix_plans_org_id_is_current_created_at", "plans", ["org_id", "is_current", "created_at"])

    op.create_table(
        "routes",
        _org(), _id(), _id("plan_id"), _int("position"), _id("vehicle_id"), _str("driver_id", 128, True),
        _id("start_depot_id"), _id("end_depot_id"), _ts("start"), _ts("end"),
        _int("distance_m"), _int("duration_s"), _int("driving_s"), _float("cost"), _str("status", 32),
        _ts("actual_start", True), _ts("actual_end", True),
        _int("actual_distance_m"), _int("actual_driving_s"),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_routes"),
        sa.ForeignKeyConstraint(
            ["org_id", "plan_id"], ["plans.org_id", "plans.id"],
            name="fk_routes_org_id_plan_id_plans", ondelete="CASCADE",
        ),
    )
    op.create_index("ix_routes_org_id_plan_id", "routes", ["org_id", "plan_id"])
    op.create_index("ix_routes_org_id_vehicle_id", "routes", ["org_id", "vehicle_id"])

    op.create_table(
        "stops",
        _org(), _id("route_id"), _int("position"), _int("sequence"), _str("kind", 16),
        _str("order_id", 128, True), _ts("planned_arrival"), _ts("planned_departure"),
        _int("leg_distance_m"), _int("leg_duration_s"),
        _ts("actual_arrival", True), _ts("actual_departure", True),
        sa.PrimaryKeyConstraint("org_id", "route_id", "position", name="pk_stops"),
        sa.ForeignKeyConstraint(
            ["org_id", "route_id"], ["routes.org_id", "routes.id"],
            name="fk_stops_org_id_route_id_routes", ondelete="CASCADE",
        ),
    )
    op.create_index("ix_stops_route_id", "stops", ["route_id"])
    op.create_index("ix_stops_org_id_order_id", "stops", ["org_id", "order_id"])

    op.create_table(
        "unassigned_orders",
        _org(), _id("plan_id"), _id("order_id"), _int("position"),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "plan_id", "order_id", name="pk_unassigned_orders"),
        sa.ForeignKeyConstraint(
            ["org_id", "plan_id"], ["plans.org_id", "plans.id"],
            name="fk_unassigned_orders_org_id_plan_id_plans", ondelete="CASCADE",
        ),
    )
    op.create_index("ix_unassigned_orders_org_id_order_id", "unassigned_orders", ["org_id", "order_id"])

    op.create_table(
        "events",
        sa.Column("id", BIGINT_ID, nullable=False, autoincrement=True),
        _org(), _str("name", 64), _str("aggregate_type", 32), _id("aggregate_id"),
        _ts("occurred_at"), _str("actor", 160),
        sa.Column("payload", JSON_T, nullable=False),
        _ts("recorded_at", server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_aggregate_id", "events", ["aggregate_id"])
    op.create_index("ix_events_org_id_name", "events", ["org_id", "name"])
    op.create_index("ix_events_occurred_at", "events", ["occurred_at"])
    _create_append_only_triggers()


def _create_append_only_triggers() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER events_no_{verb.lower()} BEFORE {verb} ON events "
                "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION baton_events_append_only() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'events are append-only' USING ERRCODE = 'restrict_violation'; "
            "END $$"
        )
        op.execute(
            "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
            "FOR EACH ROW EXECUTE FUNCTION baton_events_append_only()"
        )
    else:
        raise NotImplementedError(f"append-only events trigger not written for dialect {dialect!r}")


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS events_no_update")
        op.execute("DROP TRIGGER IF EXISTS events_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_append_only ON events")
        op.execute("DROP FUNCTION IF EXISTS baton_events_append_only()")
    for table in ("events", "unassigned_orders", "stops", "routes", "plans", "drivers", "vehicles",
                  "depots", "orders"):
        op.drop_table(table)
