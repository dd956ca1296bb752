"""The dispatch workflow over a unit of work: decide, offer, accept/reject/time out, fall back, re-tender.

A :class:`Dispatcher` serves one command; orders are handled in batches (25 per unit-of-work
block), in rounds: every order's next offer is recorded and committed, then the offers are sent,
then the answers and their consequences (assignment, next offer, fallback) are committed.
Order-level events (``dispatch.decided``, ``tender.offered``, ``tender.accepted`` ...) are appended
to the order aggregate, so they are stored in the order they happened, in the same transaction
as the state they describe.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from baton.adapters.carriers.http import CarrierProtocolError, CarrierUnavailable, HttpCarrierClient, TenderRequest
from baton.adapters.carriers.repository import DispatchStore, dispatch_store
from baton.dispatch.carriers import Carrier, RateCard, haversine_km
from baton.dispatch.engine import CAPTIVE_ID, Resource, decide
from baton.dispatch.events import (
    CarrierMarkedDown,
    CarrierRecovered,
    DispatchAssigned,
    DispatchDecided,
    DispatchException,
    TenderAccepted,
    TenderFailed,
    TenderOffered,
    TenderRejected,
    TenderWithdrawn,
)
from baton.dispatch.rules import RuleSet
from baton.dispatch.tender import DispatchProcess, ProcessState, Tender
from baton.domain.fleet import FleetType
from baton.domain.lifecycle import OrderStatus
from baton.domain.order import Order
from baton.domain.values import Actor
from baton.service_layer.unit_of_work import AbstractUnitOfWork

#: The policy used until rules are loaded: everything to captive planning.
DEFAULT_RULES = RuleSet(version=0, name="built-in: captive only", rules=())

_default_client: HttpCarrierClient | None = None


def carrier_client(deps: Any) -> HttpCarrierClient:
    """``deps.carrier_client`` or a shared default :class:`HttpCarrierClient`."""
    global _default_client
    given = getattr(deps, "carrier_client", None)
    if isinstance(given, HttpCarrierClient):
        return given
    if _default_client is None:
        _default_client = HttpCarrierClient()
    return _default_client


def carrier_route(carrier_id: str) -> str:
    """The pseudo route id of orders handed to a carrier (``carrier:<id>``)."""
    return f"carrier:{carrier_id}"


class Dispatcher:
    """Dispatch steps for one command, at one instant ``at`` (aware), by ``actor``."""

    def __init__(self, uow: AbstractUnitOfWork, client: HttpCarrierClient, at: datetime, actor: str) -> None:
        """Load carriers, rules, health and load; opens (and closes) its own unit-of-work block."""
        self.uow = uow
        self.client = client
        self.at = at
        self.actor = actor
        self._feed_started: set[str] = set()
        self._clean: set[str] = set()  # carriers known to have a closed breaker and no failures
        self._courier_load: dict[str, Counter[str]] = {}  # carrier -> courier -> open/accepted offers
        self._unsaved_tenders: Counter[str] = Counter()  # offers recorded for orders without a stored process
        with uow:
            store = self.store
            self.rules = store.active_ruleset() or DEFAULT_RULES
            self.down = store.down_carriers()
            self.carriers: dict[str, Carrier] = {c.id: c for c in store.carriers()}
            tzs = {c.id: c.timezone for c in self.carriers.values()}
            self.load: Counter[str] = Counter(store.load_by_carrier(at, tzs))
            vehicles = [v for v in uow.vehicles.list() if v.fleet_type is FleetType.CAPTIVE]
            depots = uow.depots.list()
        self.origin = depots[0].location if depots else None
        self.captive_capacity = sum(v.capacity.parcels for v in vehicles) if vehicles else None
        own = frozenset().union(*(v.features for v in vehicles)) if vehicles else frozenset()
        configured = next((c for c in self.carriers.values() if c.fleet_type is FleetType.CAPTIVE), None)
        if configured is not None and own:
            self.carriers[configured.id] = dataclasses.replace(configured, features=configured.features | own)
        elif configured is None and vehicles:
            per_km = min(v.costs.per_km for v in vehicles)
            self.carriers[CAPTIVE_ID] = Carrier(
                CAPTIVE_ID, "Captive fleet", FleetType.CAPTIVE, features=own,
                daily_capacity=self.captive_capacity or 0,
                rate_card=RateCard(per_km=per_km, currency=vehicles[0].costs.currency))

    @property
    def store(self) -> DispatchStore:
        """The dispatch store of the open unit-of-work block."""
        return dispatch_store(self.uow)

    def run_batches(self, order_ids: list[str],
                    step: Callable[[list[tuple[Order, DispatchProcess | None]]], list[Any]],
                    on_progress: Callable[[int], None] | None = None, size: int = 25) -> list[Any]:
        """Run ``step([(order, process), ...])`` over ``order_ids`` in batches of ``size`` orders, one
        unit-of-work block (and a final commit) per batch; returns the concatenated results."""
        out: list[Any] = []
        for i in range(0, len(order_ids), size):
            chunk = order_ids[i:i + size]
            with self.uow:
                orders = self.uow.orders.get_many(chunk)
                out.extend(step([(o, self.store.process(o.id)) for o in orders]))
                self.uow.commit()
            if on_progress is not None:
                on_progress(len(chunk))
        return out

    # decisions ---------------------------------------------------------------------------
    def resources(self) -> list[Resource]:
        out = []
        for c in self.carriers.values():
            capacity = c.daily_capacity
            if c.fleet_type is FleetType.CAPTIVE and self.captive_capacity is not None:
                capacity = self.captive_capacity
            out.append(Resource(c, capacity - self.load[c.id], c.id in self.down, self.origin))
        return out

    def decide_and_start(self, order: Order, previous: DispatchProcess | None = None) -> DispatchProcess:
        """Run the rules for ``order``, store the explained decision and run its tender cascade
        (``previous``: the order's earlier process, replaced). The caller commits."""
        return self.decide_many([(order, previous)])[0]

    def decide_many(self, items: list[tuple[Order, DispatchProcess | None]]) -> list[DispatchProcess]:
        """Decide each order (in turn, so capacity taken by one offer counts for the next decision) and
        run the tender cascades together: all first offers are committed, then sent, then answered."""
        procs: list[DispatchProcess] = []
        first: list[tuple[Order, DispatchProcess, Tender, Carrier]] = []
        for order, previous in items:
            d = decide(order, self.rules, self.resources(), self.at)
            self.store.add_decision(d, self.at)
            order.events.append(DispatchDecided(
                occurred_at=self.at, actor=self.actor, order_id=order.id, rule_id=d.rule_id,
                ruleset_version=d.ruleset_version, action=d.action, queue=list(d.queue), fallback=d.fallback,
                reason=d.reason))
            p = DispatchProcess(order.id, d.rule_id, d.ruleset_version, ProcessState.TENDERING, list(d.queue), [],
                                d.fallback, d.timeout_s, stored=previous is not None and previous.stored)
            procs.append(p)
            if d.action == "unassigned":
                self.unassign(order, p, d.reason or "left unassigned by the rules")
                continue
            step = self._next_offer(order, p)  # now, so that its capacity counts for the next decision
            if step is not None:
                first.append((order, p, *step))
        self.advance_many([], first)
        return procs

    def advance(self, order: Order, p: DispatchProcess) -> None:
        """Offer ``order`` to the next carriers of its queue until one accepts or answers ``pending``;
        then the fallback applies. The caller commits."""
        self.advance_many([(order, p)])

    def advance_many(self, items: list[tuple[Order, DispatchProcess]],
                     prepared: list[tuple[Order, DispatchProcess, Tender, Carrier]] | None = None) -> None:
        """Cascade several orders in rounds: prepare each order's next offer (or its captive assignment or
        fallback), commit them all, send the offers, apply and commit the answers; rejected and failed
        ones go round again. ``prepared``: offers already recorded for the first round."""
        active = list(items)
        outgoing = list(prepared or [])
        while active or outgoing:
            for order, p in active:
                step = self._next_offer(order, p)
                if step is not None:
                    outgoing.append((order, p, *step))
            self.uow.commit()  # every offer is on record before it leaves
            active = [(order, p) for order, p, tender, carrier in outgoing
                      if not self._send(order, p, tender, carrier)]
            outgoing = []
            self.uow.commit()  # the answers and what follows from them

    def _next_offer(self, order: Order, p: DispatchProcess) -> tuple[Tender, Carrier] | None:
        """Record the next offer of ``order`` (``None``: assigned to captive or fallen back instead).

        A carrier with ``couriers`` is offered courier by courier (:meth:`next_courier`) before the
        order moves on to the next carrier of the queue."""
        current = self.carriers.get(p.carrier_id) if p.carrier_id and p.state is ProcessState.TENDERING else None
        if current is not None and current.offers_to_couriers and current.id not in self.down:
            courier = self.next_courier(order, current)
            if courier is not None:
                return self._offer(order, p, current, courier)
        while True:
            carrier_id = p.next_carrier(self.down)
            if carrier_id is None:
                self.fallback(order, p)
                return None
            carrier = self.carriers.get(carrier_id)
            if carrier is None:
                continue
            if carrier.fleet_type is FleetType.CAPTIVE:
                self.assign(order, p, carrier)
                return None
            if carrier.offers_to_couriers:
                courier = self.next_courier(order, carrier)
                if courier is None:
                    continue
                return self._offer(order, p, carrier, courier)
            return self._offer(order, p, carrier)

    def next_courier(self, order: Order, carrier: Carrier) -> str | None:
        """The courier of ``carrier`` to offer ``order`` to next: one not offered this order before,
        with the fewest open and recently accepted offers (then by id); ``None`` when none is left."""
        if carrier.id not in self._courier_load:
            self._courier_load[carrier.id] = Counter(self.store.courier_load(carrier.id, self.at))
        asked = {t.driver_id for t in self.store.list_tenders(order_id=order.id, carrier_id=carrier.id)}
        left = [c for c in carrier.couriers if c not in asked]
        if not left:
            return None
        load = self._courier_load[carrier.id]
        return min(left, key=lambda c: (load[c], c))

    def _offer(self, order: Order, p: DispatchProcess, carrier: Carrier,
               courier: str | None = None) -> tuple[Tender, Carrier]:
        origin = carrier.origin or self.origin
        quote = carrier.rate_card.quote(order, haversine_km(origin, order.location) if origin else 0.0)
        known = self.store.count_tenders(order.id) if p.stored else self._unsaved_tenders[order.id]
        self._unsaved_tenders[order.id] += 1
        tender = Tender.offer(f"{order.id}.t{known + 1:03d}", order.id, carrier.id, self.at,
                              p.timeout_s or carrier.tender_timeout_s, quote.total, driver_id=courier)
        p.state, p.carrier_id, p.tender_id = ProcessState.TENDERING, carrier.id, tender.id
        self.load[carrier.id] += 1
        if courier is not None:
            self._courier_load[carrier.id][courier] += 1
        self.store.add_tender(tender)
        self.store.save_process(p, self.at)
        order.events.append(TenderOffered(
            occurred_at=self.at, actor=self.actor, order_id=order.id, tender_id=tender.id, carrier_id=carrier.id,
            expires_at=tender.expires_at.isoformat(), price=tender.price, driver_id=courier))
        return tender, carrier

    def _send(self, order: Order, p: DispatchProcess, tender: Tender, carrier: Carrier) -> bool:
        """Send a recorded offer and apply the answer; ``True`` when the cascade stops (accepted or pending)."""
        if carrier.id in self.down:  # its breaker opened earlier in this round
            return self.failed(order, p, tender, "not sent: circuit breaker open", count=False)
        if tender.driver_id is not None:  # a gig courier answers through the API/CLI, or the offer expires
            return True
        if carrier.endpoint is None:
            return self.failed(order, p, tender, "carrier has no endpoint configured")
        request = TenderRequest(tender.id, order.id, order.location.lat, order.location.lng, order.size.parcels,
                                order.size.weight_kg, order.sla_tier.value, tender.expires_at.isoformat(),
                                tender.price or 0.0, carrier.rate_card.currency)
        try:
            answer = self.client.offer(carrier.endpoint, request)
        except (CarrierUnavailable, CarrierProtocolError) as exc:
            return self.failed(order, p, tender, str(exc))
        self.healthy(carrier.id)
        if answer.decision == "accepted":
            tender.accept(self.at)
            self.store.save_tender(tender)
            order.events.append(TenderAccepted(occurred_at=self.at, actor=f"carrier:{carrier.id}",
                                               order_id=order.id, tender_id=tender.id, carrier_id=carrier.id))
            self.load[carrier.id] -= 1
            self.assign(order, p, carrier)
            return True
        if answer.decision == "rejected":
            self.rejected(order, p, tender, answer.reason)
            return False
        return True  # pending: the carrier answers later (RespondToTender) or the offer times out

    def rejected(self, order: Order, p: DispatchProcess, tender: Tender, reason: str) -> None:
        tender.reject(self.at, reason)
        self.store.save_tender(tender)
        self.load[tender.carrier_id] -= 1
        order.events.append(TenderRejected(occurred_at=self.at, actor=f"carrier:{tender.carrier_id}",
                                           order_id=order.id, tender_id=tender.id, carrier_id=tender.carrier_id,
                                           reason=reason))

    def failed(self, order: Order, p: DispatchProcess, tender: Tender, error: str, count: bool = True) -> bool:
        """Record a failed offer (``count``: it counts against the carrier's breaker); ``False``: go on."""
        tender.fail(self.at, error)
        self.store.save_tender(tender)
        self.load[tender.carrier_id] -= 1
        order.events.append(TenderFailed(occurred_at=self.at, actor=self.actor, order_id=order.id,
                                         tender_id=tender.id, carrier_id=tender.carrier_id, error=error))
        if count:
            self.failure(tender.carrier_id, error)
        return False

    # outcomes ----------------------------------------------------------------------------
    def assign(self, order: Order, p: DispatchProcess, carrier: Carrier) -> None:
        captive = carrier.fleet_type is FleetType.CAPTIVE
        p.state = ProcessState.CAPTIVE if captive else ProcessState.ASSIGNED
        p.carrier_id, p.reason = carrier.id, None
        if captive:
            p.tender_id = None
        self.load[carrier.id] += 1
        if not captive and order.status is OrderStatus.CREATED:
            order.plan(carrier_route(carrier.id), at=self.at, actor=Actor("carrier", carrier.id))
        if not captive and carrier.id not in self._feed_started:
            health = self.store.health(carrier.id)
            if health.last_status_at is None:  # the feed's silence is measured from its first order
                health.record_status(self.at)
                self.store.save_health(health)
            self._feed_started.add(carrier.id)
        self.store.save_process(p, self.at)
        order.events.append(DispatchAssigned(occurred_at=self.at, actor=self.actor, order_id=order.id,
                                             carrier_id=carrier.id, fleet_type=carrier.fleet_type.value))

    def fallback(self, order: Order, p: DispatchProcess) -> None:
        captive = next((c for c in self.carriers.values() if c.fleet_type is FleetType.CAPTIVE), None)
        tried = ", ".join(p.tried) or "none"
        if p.fallback == "captive" and captive is not None and captive.id not in p.tried:
            p.tried.append(captive.id)
            order.events.append(DispatchException(occurred_at=self.at, actor=self.actor, order_id=order.id,
                                              kind="fallback_captive",
                                              message=f"no carrier took it (tried: {tried}); back to captive planning"))
            self.assign(order, p, captive)
            return
        self.unassign(order, p, f"every offer refused, timed out or failed (tried: {tried})")

    def unassign(self, order: Order, p: DispatchProcess, reason: str) -> None:
        p.state, p.carrier_id, p.tender_id, p.reason = ProcessState.UNASSIGNED, None, None, reason
        self.store.save_process(p, self.at)
        order.events.append(DispatchException(occurred_at=self.at, actor=self.actor, order_id=order.id,
                                              kind="unassigned", message=reason))

    # carrier health ----------------------------------------------------------------------
    def healthy(self, carrier_id: str) -> None:
        """A call to the carrier got through: reset its failure count, close its breaker if needed."""
        if carrier_id in self._clean:
            return
        b = self.store.health(carrier_id)
        if not (b.failures or b.down):
            self._clean.add(carrier_id)
        else:
            if b.record_success(self.at):
                self.down.discard(carrier_id)
                self.uow.record(CarrierRecovered(occurred_at=self.at, actor=self.actor, carrier_id=carrier_id))
            self.store.save_health(b)

    def failure(self, carrier_id: str, error: str) -> bool:
        """Count a failure; when the breaker opens, log the incident (re-tendering is :meth:`retender`'s)."""
        self._clean.discard(carrier_id)
        b = self.store.health(carrier_id)
        opened = b.record_failure(self.at, error)
        self.store.save_health(b)
        if opened:
            self.mark_down(carrier_id, b.reason or error)
        return opened

    def mark_down(self, carrier_id: str, reason: str) -> None:
        self.down.add(carrier_id)
        open_orders = len(self.open_processes(carrier_id))
        self.uow.record(CarrierMarkedDown(occurred_at=self.at, actor=self.actor, carrier_id=carrier_id,
                                          reason=reason, open_orders=open_orders))

    def open_processes(self, carrier_id: str) -> list[DispatchProcess]:
        """Orders assigned or offered to ``carrier_id`` and not picked up yet."""
        return [p for p in self.store.processes(carrier_id=carrier_id, picked_up=False)
                if p.state in (ProcessState.ASSIGNED, ProcessState.TENDERING)]

    def retender(self, carrier_id: str, reason: str, on_progress: Callable[[int], None] | None = None) -> int:
        """Withdraw every open, not-picked-up order of ``carrier_id`` and decide it again, in batches
        (call outside a ``with uow`` block); returns how many."""
        with self.uow:
            ids = [p.order_id for p in self.open_processes(carrier_id)]
        self.run_batches(ids, lambda items: self._retender_batch(items, carrier_id, reason), on_progress)
        return len(ids)

    def _retender_batch(self, items: list[tuple[Order, DispatchProcess | None]], carrier_id: str,
                        reason: str) -> list[None]:
        again: list[tuple[Order, DispatchProcess | None]] = []
        for order, p in items:
            if p is None or p.carrier_id != carrier_id or p.picked_up:
                continue
            if p.tender_id is not None:
                tender = self.store.tender(p.tender_id)
                if tender.withdraw(self.at, reason):
                    self.store.save_tender(tender)
                    order.events.append(TenderWithdrawn(occurred_at=self.at, actor=self.actor, order_id=order.id,
                                                        tender_id=tender.id, carrier_id=carrier_id, reason=reason))
            self.load[carrier_id] -= 1
            if order.status is OrderStatus.PLANNED and order.route_id == carrier_route(carrier_id):
                order.transition(OrderStatus.CREATED, at=self.at, actor=Actor.parse(self.actor),
                                 reason=f"carrier {carrier_id} down: re-tendering")
            order.events.append(DispatchException(occurred_at=self.at, actor=self.actor, order_id=order.id,
                                                  kind="retendered", message=f"carrier {carrier_id} down ({reason})"))
            if order.status is OrderStatus.CREATED:
                again.append((order, p))
            else:
                self.unassign(order, p, f"carrier {carrier_id} down and order is {order.status.value}")
        self.decide_many(again)
        return []
