"""The execution service: pings in, stop events, ETAs and exceptions out, through the message bus.

Usage::

    bus = bootstrap(url)
    execution = ExecutionService(bus)
    result = execution.ingest([{"vehicle_id": "V1", "lat": -15.79, "lng": -47.88, "ts": "..."}])
    execution.refresh()          # coalesced: one ETA recomputation per vehicle with new pings

:meth:`ingest` runs a batch through three stages: validation and storage by the service's
:class:`~baton.execute.intake.PingIntake` (no tracking state: a server may run them outside the tracker's
lock, or in another process), then :meth:`observe` (each vehicle's geofence fed in time order, issuing
``ArriveAtStop`` / ``RecordStopDeparture``, the same commands the driver app uses, and the vehicle
marked *dirty*). :meth:`refresh` recomputes the ETAs of dirty vehicles once, however many pings
they sent, publishes them in one transaction (``PublishEtas``) and runs the exception monitor.
Apart from the intake, not thread-safe: callers serialise access (the HTTP runtime holds a lock).
"""

from __future__ import annotations

import contextlib
import time
import zlib
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from baton.adapters.repository.positions import PositionRepository
from baton.domain.errors import NotFound
from baton.domain.events import Event, OrderStatusChanged, RouteCompleted, RouteStarted, StopArrived, StopDeparted
from baton.domain.plan import RouteStatus
from baton.execute.eta import EtaSettings, StopEta
from baton.execute.events import ExceptionResolved
from baton.execute.exceptions import ExceptionManager
from baton.execute.geofence import Arrival, GeofenceSettings
from baton.execute.intake import PingIntake
from baton.execute.monitor import MonitorSettings, VehicleSnapshot, detect
from baton.execute.pings import IngestResult, Ping, PingSettings, distance_m
from baton.execute.playbooks import DEFAULT_PLAYBOOKS, NoRepair, Replanner, validate_playbooks
from baton.execute.records import ExecutionRecords
from baton.execute.tracking import VehicleState, active_route_id, load_plan_states, load_vehicle_state
from baton.service_layer import commands
from baton.service_layer.messagebus import MessageBus
from baton.service_layer.unit_of_work import SqlAlchemyUnitOfWork

GEOFENCE_ACTOR = "system:geofence"


def _age_share(vehicle_id: str) -> float:
    """A stable share in [0.5, 1) of the ETA age limit for ``vehicle_id`` (spreads recomputations)."""
    return 0.5 + (zlib.crc32(vehicle_id.encode()) % 1024) / 2048


@dataclass(frozen=True)
class ExecutionSettings:
    """All execution knobs; ``retention_s``: how long the ping trail is kept (s)."""

    pings: PingSettings = field(default_factory=PingSettings)
    geofence: GeofenceSettings = field(default_factory=GeofenceSettings)
    eta: EtaSettings = field(default_factory=EtaSettings)
    monitor: MonitorSettings = field(default_factory=MonitorSettings)
    playbooks: Mapping[str, Sequence[str]] = field(default_factory=lambda: dict(DEFAULT_PLAYBOOKS))
    retention_s: int = 7 * 24 * 3600
    route_lookup_ttl_s: float = 30.0
    #: in a server (:class:`~baton.execute.runtime.ExecutionRuntime`), each vehicle's *stored* latest position
    #: (``vehicle_positions``) moves at most once per this many seconds (the trail gets every ping at once,
    #: and single-vehicle reads take the newer of both: ``PositionRepository.newest``; see
    #: :mod:`baton.execute.latest`); :meth:`ExecutionService.ingest` always moves it. 5 s, the usual phone
    #: ping interval: a fleet pinging more often does not rewrite that row with every ping (at 10,000 vans it
    #: was the ingest path's bottleneck, docs/benchmarks.md ingest round 4)
    latest_every_s: float = 5.0


class ExecutionService:
    """Stateful execution front end over a :class:`MessageBus` on a SQLAlchemy unit of work."""

    def __init__(self, bus: MessageBus, settings: ExecutionSettings | None = None,
                 replanner: Replanner | None = None) -> None:
        if not isinstance(bus.uow, SqlAlchemyUnitOfWork):
            raise TypeError("ExecutionService needs a SqlAlchemyUnitOfWork")
        self.bus = bus
        self.uow: SqlAlchemyUnitOfWork = bus.uow
        self.settings = settings or ExecutionSettings()
        validate_playbooks(self.settings.playbooks)
        self.vehicles: dict[str, VehicleState] = {}
        self._by_route: dict[str, str] = {}
        self._no_route: dict[str, float] = {}
        self._dirty: dict[str, float] = {}
        self._computed: dict[str, tuple[datetime, float, float, int, bool, str]] = {}
        # validation and storage: no tracking state, own sessions (may run outside the tracker's lock)
        self.intake = PingIntake(self.uow.session_factory, self.uow.org_id, bus.deps, self.settings.pings)
        self._stale: set[str] = set()  # tracked routes re-planned since (reloaded before the next pass)
        # route id -> order id -> the ETA last announced to its customer (mirrors stop_etas.announced_eta)
        self._announced: dict[str, dict[str, datetime]] = {}
        self.skipped = 0
        self.lag_ms: deque[float] = deque(maxlen=100_000)
        self.exceptions = ExceptionManager(bus, self.settings.playbooks, replanner or NoRepair(), self)
        bus.subscribe(StopArrived, self._on_arrived)
        bus.subscribe(StopDeparted, self._on_departed)
        bus.subscribe(RouteCompleted, self._on_route_completed)
        bus.subscribe(RouteStarted, self._on_route_started)
        bus.subscribe(ExceptionResolved, self.exceptions.on_resolved)
        bus.subscribe(None, self.on_foreign_event)
        bus.subscribe(OrderStatusChanged, self._on_status)

    # -- tracking -------------------------------------------------------------------------
    def track_route(self, route_id: str) -> VehicleState:
        """Start (or restart) watching ``route_id``. Raises NotFound for an unknown route."""
        with self.uow:
            records = ExecutionRecords(self._session(), self.uow.org_id)
            learned = records.learned_service_s(self.settings.eta.zone_min_samples)
            state = load_vehicle_state(self.uow, route_id, self.settings.geofence, learned)
            self._remember_announced([route_id], records.announced_etas([route_id]))
            self._remember_fixes([state.vehicle_id])
        old = self.vehicles.get(state.vehicle_id)
        if old is not None and old.route.id == route_id:  # reloaded (e.g. re-planned): keep what was observed
            state.pace, state.last_fix, state.anchor = old.pace, old.last_fix, old.anchor
            state.published.update(old.published)
            state.service_done |= old.service_done
            state.tracker.visited |= old.tracker.visited
            state.tracker.at_stop = old.tracker.at_stop
            done = [k for k, p in enumerate(state.stops) if p.order_id in old.tracker.visited]
            state.next_index = max([state.next_index, *(k + 1 for k in done)])
            if old.leg_started_at is not None:
                state.leg_started_at, state.leg_origin = old.leg_started_at, old.leg_origin
        self.vehicles[state.vehicle_id] = state
        self._by_route[route_id] = state.vehicle_id
        self._no_route.pop(state.vehicle_id, None)
        return state

    def track_plan(self, plan_id: str) -> int:
        """Watch every dispatched or in-progress route of ``plan_id`` (bulk load); returns how many."""
        with self.uow:
            records = ExecutionRecords(self._session(), self.uow.org_id)
            learned = records.learned_service_s(self.settings.eta.zone_min_samples)
            states = load_plan_states(self.uow, plan_id, self.settings.geofence, learned)
            route_ids = [s.route.id for s in states]
            self._remember_announced(route_ids, records.announced_etas(route_ids))
            self._remember_fixes([s.vehicle_id for s in states])
        for state in states:
            self.vehicles[state.vehicle_id] = state
            self._by_route[state.route.id] = state.vehicle_id
            self._no_route.pop(state.vehicle_id, None)
        return len(states)

    def _remember_fixes(self, vehicle_ids: list[str]) -> None:
        """Inside an open unit of work: seed the teleport references with the stored latest positions (or
        none) of ``vehicle_ids`` (saves a read per batch for a fleet that has not pinged here yet)."""
        stored = PositionRepository(self._session(), self.uow.org_id).latest_fixes(vehicle_ids)
        self.intake.references.seed({v: stored.get(v) for v in vehicle_ids})

    def _remember_announced(self, route_ids: list[str], stored: Mapping[tuple[str, str], datetime]) -> None:
        """Replace the announced ETAs kept for ``route_ids`` by ``stored`` ((route id, order id) → ETA)."""
        for route_id in route_ids:
            self._announced[route_id] = {}
        for (route_id, order_id), at in stored.items():
            self._announced[route_id][order_id] = at

    def _state(self, vehicle_id: str) -> VehicleState | None:
        state = self.vehicles.get(vehicle_id)
        if state is not None:
            return state
        missed = self._no_route.get(vehicle_id)
        if missed is not None and time.monotonic() - missed < self.settings.route_lookup_ttl_s:
            return None
        with self.uow:
            route_id = active_route_id(self.uow, vehicle_id)
        if route_id is None:
            self._no_route[vehicle_id] = time.monotonic()
            return None
        return self.track_route(route_id)

    def _session(self) -> Session:
        assert self.uow.session is not None
        return self.uow.session

    # -- ingest ---------------------------------------------------------------------------
    def ingest(self, pings: Sequence[object], now: datetime | None = None, *, refresh: bool = False,
               received_mono: float | None = None) -> IngestResult:
        """Validate, store and observe a batch of raw pings; ``refresh`` recomputes ETAs right away.

        ``now``: the server clock (aware; default: the real one) used to refuse future timestamps and
        stamped as the pings' reception instant; ``received_mono``: ``time.monotonic()`` at reception (the
        start of the ETA lag).
        """
        now = now or datetime.now(UTC)
        received = received_mono if received_mono is not None else time.monotonic()
        checked = self.intake.validate(pings, now)
        result = IngestResult.of(checked, self.intake.store(checked, now))
        self.observe(checked.accepted, received)
        if refresh:
            self.refresh(now)
        return result

    def observe(self, pings: Sequence[Ping], received_mono: float) -> None:
        """Stage 3: feed each vehicle's stored pings to its geofence in time order and mark it for the next
        ETA refresh (``received_mono``: when the batch was received, ``time.monotonic()``)."""
        self._reload_stale()
        by_vehicle: dict[str, list[Ping]] = {}
        for p in pings:
            by_vehicle.setdefault(p.vehicle_id, []).append(p)
        for vehicle_id, vp in by_vehicle.items():
            state = self._state(vehicle_id)
            if state is None:
                continue
            for p in sorted(vp, key=lambda x: x.ts) if len(vp) > 1 else vp:
                self._feed(state, p)
            self._dirty[vehicle_id] = min(self._dirty.get(vehicle_id, received_mono), received_mono)

    def _feed(self, state: VehicleState, p: Ping) -> None:
        newer = state.last_fix is None or p.ts > state.last_fix[0]
        state.observe_fix(p.ts, p.lat, p.lng, self.settings.monitor.idle_radius_m)
        if not state.in_progress:
            return
        if newer:
            state.observe_route(p.ts, p.lat, p.lng, self.settings.monitor.off_route_m)
        if not self.settings.geofence.enabled:
            return
        for ev in state.tracker.update(p.ts, p.lat, p.lng):
            if isinstance(ev, Arrival):
                driving = int((ev.at - state.leg_started_at).total_seconds()) if state.leg_started_at else 0
                driven, state.driven_m = state.driven_m, 0.0
                self._quiet_handle(commands.ArriveAtStop(
                    at=ev.at, actor=GEOFENCE_ACTOR, route_id=state.route.id, order_id=ev.order_id,
                    leg_distance_m=int(driven), leg_driving_s=max(0, driving)))
            else:
                state.departed(ev.order_id, ev.at)
                self._quiet_handle(commands.RecordStopDeparture(
                    at=ev.at, actor=GEOFENCE_ACTOR, route_id=state.route.id, order_id=ev.order_id))

    def _quiet_handle(self, command: commands.Command) -> object:
        try:
            return self.bus.handle(command)
        except NotFound:
            return None

    # -- ETAs and monitoring --------------------------------------------------------------
    def refresh(self, now: datetime | None = None, vehicle_ids: Iterable[str] | None = None) -> list[str]:
        """Recompute ETAs of the dirty vehicles (or ``vehicle_ids``), publish them, run the monitor.

        Returns the order ids whose ETA changed by at least the threshold.
        """
        now = now or datetime.now(UTC)
        self._reload_stale()
        if vehicle_ids is None:
            chosen = dict(self._dirty)
            self._dirty.clear()
        else:
            chosen = {v: self._dirty.pop(v, time.monotonic()) for v in vehicle_ids}
        updates, computed = [], {}
        coalesce = vehicle_ids is None
        for vehicle_id in chosen:
            state = self.vehicles.get(vehicle_id)
            if state is None or state.route.status == RouteStatus.COMPLETED:
                continue
            if coalesce and self._unchanged(vehicle_id, state, now):
                self.skipped += 1
                continue
            etas = state.etas(now)
            fix = state.last_fix
            self._computed[vehicle_id] = (now, fix[1] if fix else 0.0, fix[2] if fix else 0.0, state.next_index,
                                          state.tracker.at_stop is None, state.route.status.value)
            computed[vehicle_id] = etas
            grain = self.settings.eta.store_granularity_s
            moved = [e for e in etas if e.order_id not in state.stored
                     or abs((e.eta - state.stored[e.order_id]).total_seconds()) >= grain]
            if moved:
                updates.append((state.route.id, vehicle_id, state.pace, list[object](moved)))
        changed: list[str] = []
        if updates:
            announced = {(route_id, order_id): at for route_id, _, _, _ in updates
                         for order_id, at in self._announced.get(route_id, {}).items()}
            changed = self.bus.handle(commands.PublishEtas(at=now, updates=updates, announced=announced,
                                                           threshold_s=self.settings.eta.change_threshold_s))
            self._note_announced(updates, set(changed))
        done = time.monotonic()
        for vehicle_id, received in chosen.items():
            if vehicle_id in computed:
                self.lag_ms.append((done - received) * 1000.0)
        for vehicle_id, etas in computed.items():
            state = self.vehicles[vehicle_id]
            state.published.update({e.order_id: e.eta for e in etas})
            state.stored.update({e.order_id: e.eta for e in etas if e.order_id not in state.stored
                                 or abs((e.eta - state.stored[e.order_id]).total_seconds())
                                 >= self.settings.eta.store_granularity_s})
            at_stop = state.tracker.at_stop
            service = 0
            if at_stop is not None and (k := state.index_of(at_stop[0])) is not None:
                service = state.stops[k].service_s
            snapshot = VehicleSnapshot(
                state.route.id, vehicle_id, state.in_progress, state.last_fix[0] if state.last_fix else None,
                at_stop, service, state.anchor[2] if state.anchor else None, state.off_route_since,
                state.off_route_m)
            self.exceptions.apply(vehicle_id, detect(snapshot, etas, now, self.settings.monitor), now, etas)
        return changed

    def _note_announced(self, updates: list[tuple[str, str, float, list[object]]], changed: set[str]) -> None:
        for route_id, _, _, etas in updates:
            mine = self._announced.setdefault(route_id, {})
            for e in etas:
                if isinstance(e, StopEta) and e.order_id in changed:
                    mine[e.order_id] = e.eta

    def _unchanged(self, vehicle_id: str, state: VehicleState, now: datetime) -> bool:
        """True when the van's last computation still stands (see ``EtaSettings.recompute_min_change_s``):
        computed less than ``recompute_max_age_s`` ago, no stop event or status change since, and the metres
        driven since then move its next ETA by less than ``recompute_min_change_s``."""
        s = self.settings.eta
        last = self._computed.get(vehicle_id)
        fix = state.last_fix
        if last is None or fix is None or s.recompute_min_change_s <= 0:
            return False
        at, lat, lng, next_index, driving, status = last
        if (now - at).total_seconds() >= s.recompute_max_age_s * _age_share(vehicle_id) \
                or next_index != state.next_index or driving != (state.tracker.at_stop is None) \
                or status != state.route.status.value:
            return False
        return distance_m(lat, lng, fix[1], fix[2]) * state.seconds_per_metre() * state.pace < s.recompute_min_change_s

    def tick(self, now: datetime | None = None) -> list[str]:
        """Re-evaluate every tracked vehicle (time passing alone can make a stop late or a GPS silent)."""
        return self.refresh(now, list(self.vehicles))

    def prune_trail(self, now: datetime | None = None) -> int:
        """Delete pings older than the retention setting; returns how many."""
        from datetime import timedelta

        cut = (now or datetime.now(UTC)) - timedelta(seconds=self.settings.retention_s)
        with self.uow:
            assert self.uow.session is not None
            n = PositionRepository(self.uow.session, self.uow.org_id).prune(cut)
            self.uow.session.commit()
        return n

    def vehicle_pace(self, route_id: str) -> tuple[str, float] | None:
        """(vehicle id, smoothed pace factor) of a tracked route, for re-planning; ``None`` when untracked."""
        state = self._vehicle_for_route(route_id)
        return (state.vehicle_id, state.pace) if state is not None else None

    def current_leg(self, route_id: str, now: datetime) -> tuple[datetime, float] | None:
        """(when the vehicle left for its next stop, how many times its planned leg time that leg takes
        at the current ETA), for re-planning a vehicle stuck on its leg; ``None`` when untracked, not
        driving, or the leg has no planned duration."""
        state = self._vehicle_for_route(route_id)
        if state is None or not state.in_progress or state.leg_started_at is None or state.tracker.at_stop:
            return None
        etas = state.etas(now)
        k = state.index_of(etas[0].order_id) if etas else None
        if k is None or k < state.next_index:
            return None
        planned = sum(s.leg_duration_s for s in state.stops[state.next_index:k + 1])
        if planned <= 0:
            return None
        return state.leg_started_at, (etas[0].eta - state.leg_started_at).total_seconds() / planned

    # -- events from the bus (geofence or driver app alike) -----------------------------
    def _vehicle_for_route(self, route_id: str) -> VehicleState | None:
        vehicle_id = self._by_route.get(route_id)
        state = self.vehicles.get(vehicle_id) if vehicle_id else None
        return state if state is not None and state.route.id == route_id else None

    def _on_arrived(self, event: Event) -> None:
        assert isinstance(event, StopArrived)
        state = self._vehicle_for_route(event.route_id)
        if state is None:
            return
        k = state.index_of(event.order_id)
        if k is None:
            return
        stop = state.stops[k]
        state.arrived(event.order_id, event.occurred_at, self.settings.eta)
        self.bus.handle(commands.RecordStopArrival(
            at=event.occurred_at, actor=event.actor, route_id=event.route_id, order_id=event.order_id,
            vehicle_id=state.vehicle_id, lat=stop.lat, lng=stop.lng, planned_arrival=stop.planned_arrival,
            predicted_arrival=state.published.pop(event.order_id, None),
            source="geofence" if event.actor == GEOFENCE_ACTOR else "manual"))
        self._dirty.setdefault(state.vehicle_id, time.monotonic())

    def _on_departed(self, event: Event) -> None:
        assert isinstance(event, StopDeparted)
        state = self._vehicle_for_route(event.route_id)
        if state is not None:
            state.service_done.add(event.order_id)
            if state.last_fix is None or not self.settings.geofence.enabled:  # the driver app's departure
                state.tracker.at_stop = None
                state.departed(event.order_id, event.occurred_at)
            self._dirty.setdefault(state.vehicle_id, time.monotonic())

    def _on_route_completed(self, event: Event) -> None:
        assert isinstance(event, RouteCompleted)
        state = self._vehicle_for_route(event.route_id)
        if state is not None:
            state.route.status = RouteStatus.COMPLETED
            self.exceptions.apply(state.vehicle_id, [], event.occurred_at, [])

    def _on_route_started(self, event: Event) -> None:
        assert isinstance(event, RouteStarted)
        state = self._vehicle_for_route(event.route_id)
        if state is not None:
            state.route.status = RouteStatus.IN_PROGRESS
            state.route.actual_start = state.leg_started_at = event.occurred_at
            self._dirty.setdefault(state.vehicle_id, time.monotonic())
        else:
            self._quiet_track(event.route_id)

    def _reload_stale(self) -> None:
        """Reload the routes re-planned since the last call (what was observed on them is kept)."""
        while self._stale:
            route_id = self._stale.pop()
            state = self._vehicle_for_route(route_id)
            if state is None or state.route.status == RouteStatus.COMPLETED:
                continue
            before = {p.order_id for p in state.stops if p.order_id is not None}
            self._quiet_track(route_id)
            reloaded = self._vehicle_for_route(route_id)
            gone = before - {p.order_id for p in reloaded.stops if p.order_id is not None} if reloaded else before
            if gone:  # their ETAs are no longer this route's to publish
                with self.uow:
                    records = ExecutionRecords(self._session(), self.uow.org_id)
                    for order_id in sorted(gone):
                        records.delete_eta(route_id, order_id)
                    self.uow.commit()
            self._computed.pop(state.vehicle_id, None)  # new stops: the last computation no longer stands
            self._dirty.setdefault(state.vehicle_id, time.monotonic())

    def _quiet_track(self, route_id: str) -> None:
        with contextlib.suppress(NotFound):
            self.track_route(route_id)

    def on_foreign_event(self, event: Event) -> None:
        """Events of other areas, matched by name (no import): a route re-planned live (its stops are
        reloaded before the next ingest or ETA pass), a breakdown reported to live re-planning."""
        if event.name == "live.route_replanned":
            payload = event.payload()
            route_id = str(payload["route_id"])
            state = self._vehicle_for_route(route_id)
            # a re-timing alone (same stops, same order) keeps the plan the customers were given as the
            # baseline of "behind plan"; a changed sequence or membership is reloaded
            if state is None:
                return
            seen = state.tracker.visited
            replanned = [str(o) for o in payload.get("order_ids", []) if o not in seen]
            if replanned != [p.order_id for p in state.stops if p.order_id is not None and p.order_id not in seen]:
                self._stale.add(route_id)
            return
        if event.name != "live.vehicle_broke_down":
            return
        p = event.payload()
        self.exceptions.breakdown(str(p["route_id"]), str(p["vehicle_id"]), event.occurred_at,
                                  [str(o) for o in p.get("moved", [])],
                                  [str(o) for o in [*p.get("unassigned", []), *p.get("transferred", [])]])

    def _on_status(self, event: Event) -> None:
        assert isinstance(event, OrderStatusChanged)
        if event.to_status == "failed_attempt":
            state = next((s for s in self.vehicles.values() if s.index_of(event.order_id) is not None), None)
            self.exceptions.failed_attempt(event.order_id, state.route.id if state else event.route_id,
                                           state.vehicle_id if state else None, event.occurred_at,
                                           event.reason)
