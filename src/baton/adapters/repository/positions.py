"""Positions storage: the ping trail, latest position per vehicle, rejected pings.

Bulk paths: pings are written with a binary ``COPY`` straight into the trail on PostgreSQL (through a
staging table and ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` when a ping is stored already),
``executemany`` of ``INSERT OR IGNORE`` on SQLite in WAL mode,
so a repeated (device, ts) is skipped, not an error: ingestion is idempotent. Several batches (groups)
can be written in one call, each told how many of its pings were new. The latest
position only moves forward in time (``ON CONFLICT DO UPDATE ... WHERE excluded.ts > ts``), so
out-of-order pings land in the trail without rewinding the vehicle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from baton.adapters import orm
from baton.adapters import orm_execute as ox
from baton.adapters.repository._common import chunks, copy_binary
from baton.execute.pings import Ping, Rejection


@dataclass(frozen=True)
class Position:
    """A stored position (latest or trail point). ``received_at``: when the server got it."""

    vehicle_id: str
    device_id: str
    ts: datetime
    lat: float
    lng: float
    accuracy_m: float | None
    speed_mps: float | None
    heading_deg: float | None
    received_at: datetime


def _insert(session: Session, table: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _sqlite_ts(value: datetime) -> str:
    """An aware instant as SQLAlchemy's SQLite ``DateTime`` text, in UTC (what ``UtcDateTime`` stores)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


PING_COPY_TYPES = ("varchar", "varchar", "timestamptz", "varchar", "float8", "float8", "float8", "float8", "float8",
                   "timestamptz")
LATEST_COPY_TYPES = ("varchar", "varchar", "varchar", "timestamptz", "float8", "float8", "float8", "float8", "float8",
                     "timestamptz")


def _position(r: Any) -> Position:
    return Position(r.vehicle_id, r.device_id, r.ts, r.lat, r.lng, r.accuracy_m, r.speed_mps, r.heading_deg,
                    r.received_at)


class PositionRepository:
    """Pings and positions of one organisation, in the caller's session (no commit here)."""

    def __init__(self, session: Session, org_id: str = orm.DEFAULT_ORG) -> None:
        self.session = session
        self.org_id = org_id

    def add_pings(self, groups: Sequence[tuple[Sequence[Ping], datetime]]) -> list[int]:
        """Insert the pings of each group (``(pings, received_at)``), skipping (device, ts) already stored,
        also by an earlier group of the same call; returns how many pings of each group were new.

        PostgreSQL: one ``COPY`` of every group straight into the trail, in a savepoint; if a ping was stored
        already (unique violation), back to the savepoint, one ``COPY`` into a temporary staging table and
        one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` per group (its row count is the group's share).
        SQLite: one ``executemany`` of ``INSERT OR IGNORE`` per group (counted with the connection's change counter).
        Both bypass per-value ORM type processing: instants are written in UTC exactly as
        :class:`~baton.adapters.orm.UtcDateTime` stores them.
        """
        counts = [0] * len(groups)
        if not any(pings for pings, _ in groups):
            return counts
        conn = self.session.connection()
        raw: Any = conn.connection.dbapi_connection
        if conn.dialect.name == "postgresql":
            return self._copy_pings(raw, groups)
        cur = raw.cursor()
        try:
            for k, (pings, received_at) in enumerate(groups):
                received = _sqlite_ts(received_at)
                rows = [(self.org_id, p.device_id, _sqlite_ts(p.ts), p.vehicle_id, p.lat, p.lng, p.accuracy_m,
                         p.speed_mps, p.heading_deg, received) for p in pings]
                before = raw.total_changes
                cur.executemany(
                    "INSERT OR IGNORE INTO position_pings (org_id, device_id, ts, vehicle_id, lat, lng, accuracy_m, "
                    "speed_mps, heading_deg, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                counts[k] = int(raw.total_changes - before)
        finally:
            cur.close()
        return counts

    def _copy_pings(self, raw: Any, groups: Sequence[tuple[Sequence[Ping], datetime]]) -> list[int]:
        """PostgreSQL: ``COPY`` straight into the trail inside a savepoint (every ping new: the usual case);
        when one was stored already, back to the savepoint and through the staging table."""
        from psycopg.errors import UniqueViolation

        cols = "org_id, device_id, ts, vehicle_id, lat, lng, accuracy_m, speed_mps, heading_deg, received_at"
        org = self.org_id
        rows = [(org, p.device_id, p.ts, p.vehicle_id, p.lat, p.lng, p.accuracy_m, p.speed_mps, p.heading_deg,
                 received_at, k) for k, (pings, received_at) in enumerate(groups) for p in pings]
        try:
            with raw.transaction(), raw.cursor() as cur:
                copy_binary(cur, f"position_pings ({cols})", PING_COPY_TYPES, [r[:-1] for r in rows])
            return [len(pings) for pings, _ in groups]
        except UniqueViolation:
            pass
        counts = [0] * len(groups)
        with raw.cursor() as cur:
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS position_pings_groups "
                        "(LIKE position_pings INCLUDING DEFAULTS, group_no int4) ON COMMIT DELETE ROWS")
            copy_binary(cur, f"position_pings_groups ({cols}, group_no)", (*PING_COPY_TYPES, "int4"), rows)
            for k, (pings, _) in enumerate(groups):
                if pings:
                    cur.execute(f"INSERT INTO position_pings ({cols}) SELECT {cols} FROM position_pings_groups "
                                "WHERE group_no = %s ON CONFLICT DO NOTHING", (k,))
                    counts[k] = int(cur.rowcount)
            cur.execute("DELETE FROM position_pings_groups")
        return counts

    def upsert_latest(self, rows: Sequence[tuple[Ping, datetime]]) -> None:
        """Move each vehicle's latest position to its newest ping of ``rows`` (``(ping, received_at)``),
        never backwards in time.

        PostgreSQL: ``COPY`` into a staging table, then one ``INSERT ... SELECT ... ON CONFLICT (org_id,
        vehicle_id) DO UPDATE ... WHERE excluded.ts > ts``; SQLite: one ``executemany`` of the same upsert.
        """
        newest: dict[str, tuple[Ping, datetime]] = {}
        for p, received_at in rows:
            cur = newest.get(p.vehicle_id)
            if cur is None or p.ts > cur[0].ts:
                newest[p.vehicle_id] = (p, received_at)
        if not newest:
            return
        conn = self.session.connection()
        raw: Any = conn.connection.dbapi_connection
        pg = conn.dialect.name == "postgresql"
        ts: Any = (lambda v: v) if pg else _sqlite_ts
        mark = "%s" if pg else "?"
        cols = ("org_id", "vehicle_id", "device_id", "ts", "lat", "lng", "accuracy_m", "speed_mps", "heading_deg",
                "received_at")
        sets = ", ".join(f"{c} = excluded.{c}" for c in cols[2:])
        sql = (f"INSERT INTO vehicle_positions ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))}) "
               f"ON CONFLICT (org_id, vehicle_id) DO UPDATE SET {sets} WHERE excluded.ts > vehicle_positions.ts")
        values = [(self.org_id, p.vehicle_id, p.device_id, ts(p.ts), p.lat, p.lng, p.accuracy_m, p.speed_mps,
                   p.heading_deg, ts(received_at)) for p, received_at in newest.values()]
        if pg:
            self._copy_latest(raw, values, cols, sets)
            return
        cur = raw.cursor()
        try:
            cur.executemany(sql, values)
        finally:
            cur.close()

    @staticmethod
    def _copy_latest(raw: Any, rows: list[tuple[Any, ...]], cols: tuple[str, ...], sets: str) -> None:
        names = ", ".join(cols)
        with raw.cursor() as cur:
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS vehicle_positions_stage "
                        "(LIKE vehicle_positions INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
            copy_binary(cur, f"vehicle_positions_stage ({names})", LATEST_COPY_TYPES, rows)
            cur.execute(f"INSERT INTO vehicle_positions ({names}) SELECT {names} FROM vehicle_positions_stage "
                        f"ON CONFLICT (org_id, vehicle_id) DO UPDATE SET {sets} "
                        "WHERE excluded.ts > vehicle_positions.ts")
            cur.execute("DELETE FROM vehicle_positions_stage")

    def latest_fixes(self, vehicle_ids: Sequence[str]) -> dict[str, tuple[datetime, float, float, float | None]]:
        """``vehicle id → (ts, lat, lng, accuracy_m)`` of the latest positions (the fast path of ingestion)."""
        t = ox.vehicle_positions
        out: dict[str, tuple[datetime, float, float, float | None]] = {}
        conn = self.session.connection()
        if conn.dialect.name == "postgresql":  # one array parameter, joined (a 500-value IN is a slow filter)
            with conn.connection.dbapi_connection.cursor() as cur:  # type: ignore[union-attr]
                cur.execute("SELECT v.vehicle_id, v.ts, v.lat, v.lng, v.accuracy_m "
                            "FROM unnest(%s::varchar[]) AS u(id) JOIN vehicle_positions v "
                            "ON v.org_id = %s AND v.vehicle_id = u.id", (sorted(set(vehicle_ids)), self.org_id))
                return {v: (ts, lat, lng, acc) for v, ts, lat, lng, acc in cur.fetchall()}
        for part in chunks(sorted(set(vehicle_ids))):  # SQLite: the stored UTC text, parsed here
            stmt = select(t.c.vehicle_id, t.c.ts.cast(String), t.c.lat, t.c.lng, t.c.accuracy_m).where(
                t.c.org_id == self.org_id, t.c.vehicle_id.in_(part))
            for vehicle_id, ts, lat, lng, acc in self.session.execute(stmt):
                out[vehicle_id] = (datetime.fromisoformat(ts).replace(tzinfo=UTC), lat, lng, acc)
        return out

    def latest(self, vehicle_ids: Sequence[str] | None = None) -> dict[str, Position]:
        """Latest position per vehicle (all vehicles, or only ``vehicle_ids``)."""
        t = ox.vehicle_positions
        base = select(t).where(t.c.org_id == self.org_id)
        if vehicle_ids is None:
            return {r.vehicle_id: _position(r) for r in self.session.execute(base)}
        out: dict[str, Position] = {}
        for part in chunks(sorted(set(vehicle_ids))):
            for r in self.session.execute(base.where(t.c.vehicle_id.in_(part))):
                out[r.vehicle_id] = _position(r)
        return out

    def newest(self, vehicle_id: str) -> Position | None:
        """The vehicle's newest accepted position: the later of its stored latest position (checkpointed, see
        :mod:`baton.execute.latest`) and the last point of its trail (written with every batch); ``None``
        when it has neither."""
        t = ox.position_pings
        last = self.session.execute(select(t).where(t.c.org_id == self.org_id, t.c.vehicle_id == vehicle_id)
                                    .order_by(t.c.ts.desc()).limit(1)).first()
        stored = self.latest([vehicle_id]).get(vehicle_id)
        if last is None:
            return stored
        point = _position(last)
        return stored if stored is not None and stored.ts >= point.ts else point

    def trail(self, vehicle_id: str, since: datetime | None = None, until: datetime | None = None) -> list[Position]:
        """The vehicle's stored pings in time order, optionally within ``[since, until]``."""
        t = ox.position_pings
        stmt = select(t).where(t.c.org_id == self.org_id, t.c.vehicle_id == vehicle_id)
        if since is not None:
            stmt = stmt.where(t.c.ts >= since)
        if until is not None:
            stmt = stmt.where(t.c.ts <= until)
        return [_position(r) for r in self.session.execute(stmt.order_by(t.c.ts))]

    def prune(self, before: datetime) -> int:
        """Delete trail points older than ``before`` (the retention cut-off); returns how many."""
        t = ox.position_pings
        result = self.session.execute(delete(t).where(t.c.org_id == self.org_id, t.c.ts < before))
        return int(getattr(result, "rowcount", 0) or 0)

    def add_rejections(self, rejections: Sequence[Rejection], received_at: datetime) -> None:
        """Keep every refused ping with its reason (for audit and counting; never a position)."""
        if not rejections:
            return
        rows = [{"org_id": self.org_id, "device_id": r.device_id, "vehicle_id": r.vehicle_id, "reason": r.reason,
                 "field": r.field, "detail": r.detail[:500], "raw": r.raw, "received_at": received_at}
                for r in rejections]
        self.session.execute(ox.rejected_pings.insert(), rows)

    def rejection_counts(self) -> dict[str, int]:
        """How many pings were refused, per reason."""
        t = ox.rejected_pings
        stmt = select(t.c.reason, func.count()).where(t.c.org_id == self.org_id).group_by(t.c.reason)
        return {str(reason): int(n) for reason, n in self.session.execute(stmt)}

    def count_pings(self) -> int:
        t = ox.position_pings
        return int(self.session.execute(select(func.count()).select_from(t).where(t.c.org_id == self.org_id))
                   .scalar_one())
