"""Storage on SQLite and PostgreSQL: round trips, events in the same transaction, append-only
events, optimistic locking, aware instants, bulk paths and migrations."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from baton.adapters import db, orm
from baton.domain import (
    BreakRule,
    FleetType,
    NotFound,
    OrderCreated,
    OrderStatus,
    OrderStatusChanged,
    RouteStatus,
    SlaTier,
    Stop,
    StopKind,
    TimeWindow,
    UnassignedOrder,
    features,
)
from baton.domain.events import PlanCreated
from baton.service_layer.unit_of_work import ConcurrencyError, SqlAlchemyUnitOfWork
from factories import (
    TZ,
    local,
    make_depot,
    make_driver,
    make_order,
    make_orders,
    make_plan,
    make_route,
    make_vehicle,
)

S = OrderStatus


def state(order: Any) -> dict[str, Any]:
    """Every field of an order except its pending events."""
    return {f.name: getattr(order, f.name) for f in dataclasses.fields(order) if f.name != "events"}


def test_order_round_trips_every_field(uow: SqlAlchemyUnitOfWork) -> None:
    order = make_order(
        "o-42", external_ref="SHOP-42",
        time_windows=[TimeWindow(local(14), local(18)), TimeWindow(local(8), local(10))],
        required_features=features("Refrigerated", "two_person"), tags=frozenset({"cold_chain", "fragile"}),
        priority=4, sla_tier=SlaTier.EXPRESS, declared_value=899.9, notes="Portão azul", route_id=None,
    )
    with uow:
        uow.orders.add(order)
        uow.commit()
    with uow:
        loaded = uow.orders.get("o-42")
    assert loaded is not order
    assert state(loaded) == state(order)
    assert [w.start for w in loaded.time_windows] == [local(8), local(14)]
    assert loaded.required_features == frozenset({"refrigerated", "two_person"})


def test_depot_vehicle_driver_round_trip(uow: SqlAlchemyUnitOfWork) -> None:
    depot = make_depot("dep-1")
    vehicles = [make_vehicle("v-2", end_depot_id="dep-1", features=features("refrigerated"),
                             fleet_type=FleetType.THIRD_PARTY, carrier_id="c-9", speed_factor=0.8),
                make_vehicle("v-1")]
    driver = make_driver("d-1", vehicle_id="v-1", break_rule=BreakRule(4 * 3600, 900),
                         max_working_time_s=8 * 3600)
    with uow:
        uow.depots.add(depot)
        uow.vehicles.add_many(vehicles)
        uow.drivers.add(driver)
        uow.commit()
    with uow:
        assert uow.depots.get("dep-1") == depot
        assert uow.vehicles.list() == sorted(vehicles, key=lambda v: v.id)
        assert uow.drivers.get("d-1") == driver
        assert uow.drivers.list() == [driver]
        with pytest.raises(NotFound, match="v-404"):
            uow.vehicles.get("v-404")


def test_plan_round_trips_with_routes_stops_and_unassigned_reasons(uow: SqlAlchemyUnitOfWork) -> None:
    r1 = make_route("p-1/r-1", ["o-1", "o-2", "o-3"])
    r1.stops.insert(2, Stop(9, StopKind.BREAK, None, local(9), local(9, 30)))
    r2 = make_route("p-1/r-2", ["o-4"], vehicle_id="v-2", driver_id=None, start=local(9))
    plan = make_plan("p-1", [r1, r2], [UnassignedOrder("o-9", "needs refrigerated; no vehicle has it"),
                                       UnassignedOrder("o-5", "window closes before any vehicle can arrive")])
    with uow:
        uow.plans.add(plan)
        uow.commit()
    with uow:
        loaded = uow.plans.get("p-1")
        route = uow.plans.get_route("p-1/r-2")
        with pytest.raises(NotFound):
            uow.plans.get("p-404")
    assert loaded == plan
    assert [r.plan_id for r in loaded.routes] == ["p-1", "p-1"]
    assert loaded.routes[0].stops[2].kind is StopKind.BREAK and loaded.routes[0].stops[2].order_id is None
    assert [u.order_id for u in loaded.unassigned] == ["o-9", "o-5"]
    assert loaded.cost.total == pytest.approx(774.5)
    assert route == r2


def test_current_plan_is_the_latest_marked_current(uow: SqlAlchemyUnitOfWork) -> None:
    with uow:
        assert uow.plans.current() is None
        uow.plans.add(make_plan("p-1", [make_route("p-1/r", ["o-1"])], created_at=local(6)))
        uow.plans.add(make_plan("p-2", [make_route("p-2/r", ["o-1"])], created_at=local(7)))
        uow.plans.add(make_plan("p-3", created_at=local(8)), current=False)
        uow.commit()
    with uow:
        current = uow.plans.current()
        assert current is not None and current.id == "p-2"
        assert uow.plans.get("p-1").routes[0].id == "p-1/r"


def test_update_route_writes_execution_fields_only(uow: SqlAlchemyUnitOfWork) -> None:
    with uow:
        uow.plans.add(make_plan("p-1", [make_route("r-1", ["o-1", "o-2"])]))
        uow.commit()
    with uow:
        route = uow.plans.get_route("r-1")
        route.status = RouteStatus.IN_PROGRESS
        route.actual_start = local(8, 5)
        route.actual_distance_m = 4100
        route.stops[0].actual_arrival = local(8, 17)
        route.stops[0].actual_departure = local(8, 21)
        route.stops[1].sequence = 99  # planned fields are not written back
        uow.plans.update_route(route)
        uow.commit()
    with uow:
        stored = uow.plans.get_route("r-1")
        assert stored.status is RouteStatus.IN_PROGRESS and stored.actual_start == local(8, 5)
        assert stored.actual_distance_m == 4100
        first_stop = stored.stops[0]
        assert (first_stop.actual_arrival, first_stop.actual_departure) == (local(8, 17), local(8, 21))
        assert stored.stops[1].actual_arrival is None and stored.stops[1].sequence == 2
        stored.stops.pop()
        with pytest.raises(ValueError, match="2 stored"):
            uow.plans.update_route(stored)
        stored.id = "r-404"
        with pytest.raises(NotFound):
            uow.plans.update_route(stored)


def test_state_change_and_its_events_are_committed_together(uow: SqlAlchemyUnitOfWork) -> None:
    with uow:
        uow.orders.add(make_order("o-1", created_at=local(6)))
        uow.commit()
    with uow:
        order = uow.orders.get("o-1")
        order.plan("r-1", at=local(7))
        uow.record(PlanCreated(occurred_at=local(7), plan_id="p-1", routes=1, assigned=1, unassigned=0))
        uow.commit()
        assert order.events == []
    new = list(uow.collect_new_events())
    assert [type(e) for e in new] == [OrderCreated, OrderStatusChanged, PlanCreated]
    assert list(uow.collect_new_events()) == []
    history = uow.events_for("o-1")
    assert history == new[:2]
    assert history[1] == OrderStatusChanged(occurred_at=local(7), order_id="o-1", from_status="created",
                                            to_status="planned", route_id="r-1")
    assert uow.events_for("p-1") == [new[2]]
    assert uow.all_events(limit=2) == new[1:]
    with uow:
        stored = uow.orders.get("o-1")
        assert (stored.status, stored.route_id, stored.version) == (S.PLANNED, "r-1", 1)


def test_a_large_batch_of_events_is_stored_whole_and_in_order(uow: SqlAlchemyUnitOfWork) -> None:
    """Enough events for the bulk path (``COPY`` on PostgreSQL) come back exactly as recorded."""
    from baton.adapters.repository.events import COPY_MIN

    events = [PlanCreated(occurred_at=local(7) + timedelta(seconds=k), actor="system:test", plan_id=f"p-{k}",
                          routes=k, assigned=2 * k, unassigned=k % 3) for k in range(COPY_MIN + 8)]
    with uow:
        uow.record(*events)
        uow.commit()
    assert list(uow.collect_new_events()) == events
    assert uow.all_events() == events
    assert uow.events_for("p-33") == [events[33]]


def test_leaving_without_commit_keeps_neither_state_nor_event(uow: SqlAlchemyUnitOfWork) -> None:
    with uow:
        uow.orders.add(make_order("o-1", created_at=local(6)))
        uow.commit()
    list(uow.collect_new_events())
    with uow:
        uow.orders.get("o-1").plan("r-1", at=local(7))
        uow.record(PlanCreated(occurred_at=local(7), plan_id="p-1", routes=1, assigned=1, unassigned=0))
    with pytest.raises(RuntimeError), uow:
        uow.orders.get("o-1").cancel(at=local(7))
        raise RuntimeError("handler crashed")
    with uow:
        assert uow.orders.get("o-1").status is S.CREATED
    assert [e.name for e in uow.all_events()] == ["order.created"]
    assert list(uow.collect_new_events()) == []


def test_events_table_is_append_only(uow: SqlAlchemyUnitOfWork, engine: Engine) -> None:
    with uow:
        uow.orders.add(make_order("o-1", created_at=local(6)))
        uow.commit()
    for statement in ("UPDATE events SET actor = 'user:mallory'", "DELETE FROM events"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    assert [e.actor for e in uow.all_events()] == ["system:baton"]


def test_concurrent_change_is_detected_and_nothing_is_written(
    session_factory: sessionmaker[Session],
) -> None:
    first, second = SqlAlchemyUnitOfWork(session_factory), SqlAlchemyUnitOfWork(session_factory)
    with first:
        first.orders.add(make_order("o-1"))
        first.commit()
    with first:
        mine = first.orders.get("o-1")
        with second:
            theirs = second.orders.get("o-1")
            theirs.cancel(at=local(7), reason="customer called")
            second.commit()
        mine.plan("r-1", at=local(7, 1))
        with pytest.raises(ConcurrencyError, match="o-1") as info:
            first.commit()
    assert info.value.ids == ["o-1"]
    with first:
        stored = first.orders.get("o-1")
        assert (stored.status, stored.version) == (S.CANCELLED, 1)
    assert [e.to_status for e in first.events_for("o-1")] == ["cancelled"]  # type: ignore[attr-defined]


def test_edits_outside_the_lifecycle_bump_the_version(uow: SqlAlchemyUnitOfWork) -> None:
    with uow:
        uow.orders.add(make_order("o-1"))
        uow.commit()
    with uow:
        order = uow.orders.get("o-1")
        assert uow.orders.get("o-1") is order  # identity map
        order.notes = "Deixar na portaria"
        uow.commit()
        assert order.version == 1
    with uow:
        stored = uow.orders.get("o-1")
        assert (stored.notes, stored.version) == ("Deixar na portaria", 1)


def test_instants_come_back_aware_and_equal(uow: SqlAlchemyUnitOfWork, engine: Engine) -> None:
    opens = datetime(2026, 3, 2, 6, 30, 15, 123456, tzinfo=TZ)
    with uow:
        uow.depots.add(make_depot("dep-1", opens=opens, closes=None))
        uow.commit()
    with uow:
        stored = uow.depots.get("dep-1")
    assert stored.opens == opens and stored.closes is None
    assert stored.opens is not None and stored.opens.utcoffset() == timedelta(0)
    with engine.connect() as conn:
        raw = conn.execute(select(orm.depots.c.opens)).scalar_one()
    assert raw == opens and raw.tzinfo is not None
    naive = dict(id="dep-2", name="x", lat=0.0, lng=0.0, timezone="UTC", opens=datetime(2026, 3, 2, 6),
                 loading_time_s=0)
    with pytest.raises(StatementError, match="naive"), engine.begin() as conn:
        conn.execute(insert(orm.depots), [naive])


def test_bulk_thousand_orders_add_load_and_transition(uow: SqlAlchemyUnitOfWork, db_url: str) -> None:
    orders = make_orders(1000)
    with uow:
        uow.orders.add_many(orders)
        uow.commit()
    with uow:
        loaded = uow.orders.list()
    assert [state(o) for o in loaded] == [state(o) for o in orders]
    with uow:
        batch = uow.orders.get_many([o.id for o in reversed(orders)])
        assert [o.id for o in batch] == [o.id for o in reversed(orders)]
        for i, order in enumerate(batch):
            order.plan(f"r-{i % 7}", at=local(7))
        uow.commit()
    with uow:
        assert uow.orders.count_by_status()["planned"] == 1000
        assert uow.orders.count_by_status()["created"] == 0
        assert len(uow.orders.list(status=S.PLANNED, route_id="r-3")) == len(range(3, 1000, 7))
    assert len(uow.all_events()) == 1000
    with uow, pytest.raises(NotFound, match="nope"):
        uow.orders.get_many(["o-0001", "nope"])


def test_duplicate_ids_are_refused(uow: SqlAlchemyUnitOfWork) -> None:
    with uow:
        uow.orders.add(make_order("o-1"))
        uow.commit()
    with uow, pytest.raises(IntegrityError):
        uow.orders.add(make_order("o-1"))


def test_organisations_do_not_see_each_other(session_factory: sessionmaker[Session]) -> None:
    default = SqlAlchemyUnitOfWork(session_factory)
    acme = SqlAlchemyUnitOfWork(session_factory, org_id="acme")
    with default:
        default.orders.add(make_order("o-1", created_at=local(6)))
        default.commit()
    with acme:
        acme.orders.add(make_order("o-1"))  # same id, other organisation
        acme.commit()
        with pytest.raises(NotFound):
            acme.depots.get("dep-1")
    assert acme.all_events() == [] and len(default.all_events()) == 1


def test_migrate_is_idempotent_and_matches_the_models(engine: Engine) -> None:
    db.migrate(engine)
    db.migrate(engine)
    assert db.current_revisions(engine) == db.script_heads()
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), orm.metadata)
    assert diffs == []
    db.downgrade(engine)
    assert db.current_revisions(engine) == ()
    db.migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(select(orm.orders.c.id)).all() == []


def test_database_url_defaults_to_sqlite_under_baton_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("BATON_DATABASE_URL", raising=False)
    monkeypatch.setenv("BATON_HOME", str(tmp_path / "home"))
    assert db.database_url() == f"sqlite:///{tmp_path / 'home' / 'baton.sqlite'}"
    assert (tmp_path / "home").is_dir()
    monkeypatch.setenv("BATON_DATABASE_URL", "postgresql://u@h:5433/baton")
    assert db.database_url() == "postgresql+psycopg://u@h:5433/baton"
    engine = db.make_engine(f"sqlite:///{tmp_path / 'x' / 'b.sqlite'}")
    with engine.connect() as conn:
        pragmas = [conn.exec_driver_sql(f"PRAGMA {p}").scalar() for p in
                   ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")]
    engine.dispose()
    assert pragmas == ["wal", 1, 1, db.SQLITE_BUSY_TIMEOUT_MS]
