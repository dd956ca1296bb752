"""What the day simulator watches besides the doors: execution (GPS, ETAs, exceptions) and customer
notifications, each through Baton's own code.

* **Execution** (:class:`baton.execute.service.ExecutionService`, issue 7): every ``TICK_S`` (5 min) of
  simulated time each van on the road sends one GPS fix (``RecordPositions`` through
  :meth:`ExecutionService.ingest`): its true position, interpolated along the leg it is driving (straight
  line between the two addresses, at the world's true leg duration), or where it stands.
  Arrivals and departures come from the driver app (the simulator's ``ArriveAtStop`` /
  ``CompleteDelivery`` / ``FailDelivery``), so the geofence is switched off (``enabled=False``); GPS silence is
  judged against the tick (``gps_silence_s`` = 2 ticks). Then :meth:`ExecutionService.tick` recomputes
  every tracked van's ETAs and runs the exception monitor and its playbooks. Under the ``baton`` policy
  the default playbooks run, a late-risk one asking live re-planning to repair
  (:class:`baton.execute.live_repair.LiveReplanner`); under ``static`` and ``manual`` exceptions only
  recompute ETAs and open dispatcher tasks (no repair, no customer notification). Routes re-published by
  live re-planning are re-read by execution at the next tick.
* **ETA accuracy**: for every stop, the ETA execution published (a) at the first tick after the van left
  the depot on the trip that served it, and (b) in force 60 min before the van actually reached the
  door (the latest ETA published at or before arrival - 60 min; stops reached less than 60 min after
  their trip started are left out of (b)), each compared with the true arrival at the door (before
  any wait for the window). Mean absolute error in minutes.
* **Notifications** (issue 8), ``baton`` policy only: notifications are enabled for the simulated
  organisation (SMS, the bundled customers have phone numbers) before the day starts; the outbox is
  sent at each tick by the real :class:`baton.notify.sender.Sender` through an in-process SMS channel
  that accepts every message;
  WISMO measures come from :func:`baton.notify.wismo.measure`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from baton.adapters.channels.base import OutgoingMessage, SendResult
from baton.domain.events import Event
from baton.domain.values import LatLng
from baton.execute.geofence import GeofenceSettings
from baton.execute.live_repair import LiveReplanner
from baton.execute.monitor import MonitorSettings
from baton.execute.playbooks import DEFAULT_PLAYBOOKS, NoRepair, Replanner
from baton.execute.records import ExecutionRecords
from baton.execute.service import ExecutionService, ExecutionSettings
from baton.notify import store as notify_store
from baton.notify.model import NotifySettings
from baton.notify.sender import RetryPolicy, Sender
from baton.notify.wismo import measure
from baton.service_layer.messagebus import MessageBus

TICK_S = 300
REFERENCE_S = 3600


class SimSmsChannel:
    """An in-process SMS provider that accepts every message (counts them)."""

    def __init__(self) -> None:
        self.sent = 0

    def send(self, message: OutgoingMessage) -> SendResult:
        self.sent += 1
        return SendResult(f"SIM{self.sent:07d}", "delivered")


@dataclass
class EtaLog:
    """Published ETAs of one order: ``(published at, eta)`` when it changed, and the reference points."""

    history: list[tuple[datetime, datetime]] = field(default_factory=list)
    at_departure: datetime | None = None
    trip_started: datetime | None = None
    arrived: datetime | None = None


class Observer:
    """Execution and notifications for one simulated day on ``bus`` (see the module docstring)."""

    def __init__(self, bus: MessageBus, live_repair: bool) -> None:
        self.bus = bus
        uow: Any = bus.uow
        self._session_factory = uow.session_factory
        playbooks = dict(DEFAULT_PLAYBOOKS) if live_repair else {  # without Baton: a dispatcher sees it, no more
            kind: tuple(a for a in actions if a not in ("request_repair", "notify_customers"))
            for kind, actions in DEFAULT_PLAYBOOKS.items()}
        settings = ExecutionSettings(geofence=GeofenceSettings(enabled=False), playbooks=playbooks,
                                     monitor=MonitorSettings(gps_silence_s=2 * TICK_S))
        holder: list[ExecutionService] = []
        replanner: Replanner = NoRepair()
        if live_repair:
            replanner = LiveReplanner(bus, lambda rid: holder[0].vehicle_pace(rid),
                                      current_leg=lambda rid, at: holder[0].current_leg(rid, at))
        self.execution = ExecutionService(bus, settings, replanner)
        holder.append(self.execution)
        self.stale: set[str] = set()
        self.etas: dict[str, EtaLog] = {}
        self.trip_start: dict[str, datetime] = {}  # route id -> when its van last left the depot
        self.sms = SimSmsChannel()
        self.sender = Sender(self._session_factory, {"sms": self.sms}, retry=RetryPolicy(attempts=1),
                             sleep=lambda _s: None)
        bus.subscribe(None, self._on_event)

    def enable_notifications(self) -> None:
        """Switch customer notifications on (SMS first; quiet hours 21:00-08:00 local)."""
        with self._session_factory() as session, session.begin():
            notify_store.save_settings(session, NotifySettings(channels=("sms",),
                                                               tracking_base_url="https://track.example.com"))

    def _on_event(self, event: Event) -> None:
        if event.name == "live.route_replanned":
            self.stale.add(str(event.payload()["route_id"]))

    def left_depot(self, route_id: str, at: datetime) -> None:
        """The van of ``route_id`` left the depot (start of the day or after a reload)."""
        self.trip_start[route_id] = at

    def arrived(self, order_id: str, at: datetime) -> None:
        """The van reached ``order_id``'s door at ``at`` (true time, before any wait)."""
        self.etas.setdefault(order_id, EtaLog()).arrived = at

    def tick(self, now: datetime, positions: list[tuple[str, LatLng]]) -> None:
        """One execution tick: ``positions`` (vehicle id, true position) of the vans on the road."""
        ex = self.execution
        driving = {s.route.id for s in ex.vehicles.values() if s.in_progress}
        for rid in sorted(self.stale & driving):
            ex.track_route(rid)
        self.stale.clear()
        if positions:
            ex.ingest([{"vehicle_id": v, "lat": round(p.lat, 6), "lng": round(p.lng, 6), "accuracy_m": 10.0,
                        "ts": now.isoformat()} for v, p in positions], now=now)
        ex.tick(now)
        for state in ex.vehicles.values():
            if not state.in_progress:
                continue
            trip = self.trip_start.get(state.route.id)
            ahead = {p.order_id for p in state.stops[state.next_index:] if p.order_id is not None}
            for oid, eta in state.published.items():
                if oid not in ahead:  # served already, or moved to another van by re-planning
                    continue
                log = self.etas.setdefault(oid, EtaLog())
                if not log.history or log.history[-1][1] != eta:
                    log.history.append((now, eta))
                if trip is not None and log.trip_started != trip and log.arrived is None:
                    log.trip_started, log.at_departure = trip, eta
        self.sender.run_once(now=now)

    def _eta_mae(self, counted: Callable[[str], bool]) -> tuple[float, float, int]:
        """(MAE at departure, MAE 60 min before arrival, stops with an ETA at departure); minutes."""
        dep, ref = [], []
        for oid, log in self.etas.items():
            if log.arrived is None or not counted(oid):
                continue
            if log.at_departure is not None:
                dep.append(abs((log.at_departure - log.arrived).total_seconds()))
            cut = log.arrived.timestamp() - REFERENCE_S
            before = [eta for at, eta in log.history if at.timestamp() <= cut]
            if before and log.trip_started is not None and log.trip_started.timestamp() <= cut:
                ref.append(abs((before[-1] - log.arrived).total_seconds()))
        return (round(sum(dep) / len(dep) / 60, 1) if dep else 0.0, round(sum(ref) / len(ref) / 60, 1) if ref else 0.0,
                len(dep))

    def kpis(self, counted: Callable[[str], bool]) -> dict[str, float]:
        """ETA accuracy, exceptions and WISMO; ``counted(order_id)``: the order is one of the day's."""
        dep, ref, n = self._eta_mae(counted)
        uow: Any = self.bus.uow
        with uow:
            records = ExecutionRecords(uow.session, uow.org_id)
            exceptions = records.exceptions()
            wismo = measure(uow.session, uow.org_id)
        return {
            "eta_mae_departure_min": dep,
            "eta_mae_60min_min": ref,
            "eta_stops": n,
            "exceptions_opened": len(exceptions),
            "exceptions_auto_resolved": sum(1 for e in exceptions if e.auto_resolved),
            "exceptions_for_dispatcher": sum(1 for e in exceptions if e.needs_dispatcher),
            "late_risk_exceptions": sum(1 for e in exceptions if e.kind == "late_risk"),
            "messages_per_order": wismo.messages_per_order,
            "messages_sent": wismo.messages_sent,
            "wismo_delays_announced_pct": (wismo.announced_before_window_pct
                                           if wismo.announced_before_window_pct is not None else 100.0),
        }
