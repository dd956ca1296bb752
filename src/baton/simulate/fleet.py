"""Hybrid capacity in the day simulator (issue 6): captive vans, 3PL carriers and a gig network.

Scenario (YAML, all optional)::

    fleet:
      captive: 26                 # vans kept from the day's fleet (first N by id); default all
      captive_radius_km: 12       # the captive fleet's service area: within this of the depot; default everywhere
      3pl:                        # 3PL carriers
        - {carrier: rapido, capacity: 200, price_per_order: 14.0, sla: 0.93, rating: 4.3,
           pickups: ["10:00", "13:00"]}
      gig: {couriers: 12, price_per_order: 19.0, orders_per_courier: 10, rating: 4.6}
      rules: my-policy.yaml       # a dispatch policy (docs/dispatch-rules.md); default DEFAULT_POLICY
      health_check_s: 300         # how often Baton checks carrier health (CheckCarrierHealth)
    carrier_outage: {carrier: rapido, at: "09:30", until: "15:00"}   # until: optional

**Baton's side** goes through the dispatch package only: the carriers are registered
(``RegisterCarriers``: the captive fleet priced by :class:`baton.domain.values.CostRates.per_km` from
the depot, each 3PL and the gig network with a flat ``price_per_order`` rate card, their ``sla`` as
on-time performance and ``capacity`` as daily capacity), the policy is loaded (``LoadDispatchRules``),
the morning orders are decided and tendered (``DispatchOrders``) before captive planning plans the
orders the rules left to it (``PlanOrders(order_ids=captive_order_ids(...))``); a new order that live
re-planning cannot insert is dispatched the same way; carrier health is checked every
``health_check_s`` (``CheckCarrierHealth``: probes, circuit breakers, re-tendering of a down carrier's
open, not-picked-up orders); carriers report statuses through ``IngestCarrierStatus``. Offers travel
through the real :class:`~baton.adapters.carriers.http.HttpCarrierClient` over an in-process HTTPX
transport answered by this module's *world*.

**The world** (the carriers' truth): a 3PL accepts every offer while up, collects its parcels at the
depot at each of its ``pickups`` and delivers each inside the window with probability ``sla`` (uniform
within the part of the window at least 45 min after pick-up), else late (window end + exponential, mean
40 min); nobody home as for captive drivers (same draw per order). During an outage its tender API
and health endpoint answer 503 and it collects nothing; what it already collected is still delivered.
A gig courier (``couriers`` of them, each at most ``orders_per_courier`` a day) takes one order at a
time: reaches the depot 15 min after acceptance (or when free), drives there (the day's matrix, with
the scenario's bias and noise), waits for the window, serves, drives back. Cost: ``price_per_order``
per order collected (3PL) or taken (gig), whether delivered or attempted.
"""

from __future__ import annotations

import heapq
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from baton.adapters.carriers.http import HttpCarrierClient
from baton.dispatch.carriers import Carrier, Performance, RateCard, ServiceArea
from baton.dispatch.feeds import StatusUpdate
from baton.dispatch.rules import RuleSet, parse_rules
from baton.domain.fleet import FleetType
from baton.domain.values import LatLng
from baton.service_layer import commands
from baton.service_layer.dispatch_views import captive_order_ids

if TYPE_CHECKING:
    from baton.simulate.engine import DaySimulation

#: Cheapest eligible resource first (captive priced per km from the depot), then the best rated;
#: when every offer fails the order stays unassigned (a dispatch exception, visible per order).
DEFAULT_POLICY = """\
version: 1
name: simulator-cost-then-rating
rules:
  - id: cheapest-resource
    description: every order to the cheapest eligible resource, then the best rated
    action: {type: cascade, order_by: [cost, -rating], fallback: unassigned}
default: {type: captive}
"""
GIG_ID = "gig"
PICKUP_TO_DOOR_S = 45 * 60
LATE_MEAN_S = 40 * 60
GIG_REACH_S = 15 * 60


@dataclass(frozen=True)
class ThirdParty:
    """A 3PL of the scenario (see the module docstring); ``sla`` in [0, 1], money in BRL."""

    carrier: str
    capacity: int
    price_per_order: float
    sla: float = 0.92
    rating: float = 4.2
    pickups: tuple[str, ...] = ("10:00", "13:00")


@dataclass(frozen=True)
class Gig:
    """The gig network of the scenario (see the module docstring)."""

    couriers: int
    price_per_order: float
    orders_per_courier: int = 10
    rating: float = 4.5


@dataclass(frozen=True)
class FleetMix:
    """The ``fleet`` key of a scenario (see the module docstring)."""

    captive: int | None = None
    captive_radius_km: float | None = None
    third_party: tuple[ThirdParty, ...] = ()
    gig: Gig | None = None
    rules: str | None = None
    health_check_s: int = 300


@dataclass(frozen=True)
class Outage:
    """``carrier`` is down from ``at`` to ``until`` (``HH:MM``; ``None``: the rest of the day)."""

    carrier: str
    at: str
    until: str | None = None


@dataclass
class _Carried:
    fleet: str
    carrier: str
    accepted_s: int
    picked_s: int | None = None


@dataclass
class CarrierWorld:
    """The carriers' truth for one simulated day; ``sim`` is the running :class:`DaySimulation`."""

    sim: DaySimulation
    mix: FleetMix
    outage: Outage | None
    carried: dict[str, _Carried] = field(default_factory=dict)
    couriers: list[tuple[int, int]] = field(default_factory=list)  # (free at, courier number)
    taken: dict[int, int] = field(default_factory=dict)
    now_s: int = 0
    messages: int = 0
    retendered: int = 0
    detected_s: int | None = None
    cost_by_fleet: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.third = {t.carrier: t for t in self.mix.third_party}
        if self.mix.gig is not None:
            self.couriers = [(0, k) for k in range(self.mix.gig.couriers)]
        from baton.simulate.scenario import minutes

        self._down = ((minutes(self.outage.at) * 60, minutes(self.outage.until) * 60 if self.outage.until else 10**9)
                      if self.outage else None)

    # Baton's side ---------------------------------------------------------------------------
    def carriers(self) -> list[Carrier]:
        """The resources registered with Baton (captive, each 3PL, the gig network)."""
        day, mix = self.sim.day, self.mix
        costs = day.vehicles[0].costs
        area = ServiceArea() if mix.captive_radius_km is None else ServiceArea(
            polygons=(_circle(day.depot.location, mix.captive_radius_km),))
        out = [Carrier("captive", "Captive fleet", FleetType.CAPTIVE, service_area=area, timezone=day.timezone,
                       rate_card=RateCard(per_km=costs.per_km, currency=costs.currency))]
        for t in mix.third_party:
            out.append(Carrier(t.carrier, t.carrier, FleetType.THIRD_PARTY, timezone=day.timezone,
                               daily_capacity=t.capacity, rate_card=RateCard(base=t.price_per_order),
                               performance=Performance(on_time_pct=t.sla, rating=t.rating),
                               endpoint=f"http://{t.carrier}.sim", feed_silence_s=0))
        if mix.gig is not None:
            g = mix.gig
            out.append(Carrier(GIG_ID, "Gig network", FleetType.GIG, timezone=day.timezone,
                               daily_capacity=g.couriers * g.orders_per_courier,
                               rate_card=RateCard(base=g.price_per_order), performance=Performance(rating=g.rating),
                               endpoint=f"http://{GIG_ID}.sim", feed_silence_s=0))
        return out

    def rules(self) -> RuleSet:
        if self.mix.rules is None:
            return parse_rules(DEFAULT_POLICY, "simulator policy")
        path = Path(self.mix.rules)
        return parse_rules(path.read_text(encoding="utf-8"), str(path))

    def setup(self, at: datetime) -> None:
        """Register the carriers and the policy; wire the carrier client to this world."""
        sim = self.sim
        sim.bus.deps.carrier_client = HttpCarrierClient(attempts=1, backoff_s=0.0,  # type: ignore[attr-defined]
                                                        transport=httpx.MockTransport(self._answer))
        sim.handle(commands.RegisterCarriers(at=at, carriers=self.carriers()))
        sim.handle(commands.LoadDispatchRules(at=at, rules=self.rules()))

    def dispatch(self, t: int, order_ids: list[str] | None = None) -> list[str]:
        """Decide and tender (``DispatchOrders``) at clock ``t``; returns the orders left to captive planning."""
        self.now_s = t
        self.sim.handle(commands.DispatchOrders(at=self.sim.at(t), actor="system:dispatch", order_ids=order_ids))
        with self.sim.bus.uow:
            captive = captive_order_ids(self.sim.bus.uow)
        return captive if order_ids is None else [o for o in order_ids if o in set(captive)]

    def health(self, t: int) -> list[str]:
        """``CheckCarrierHealth`` at ``t``; returns the orders re-tendered back to captive planning."""
        self.now_s = t
        result = self.sim.handle(commands.CheckCarrierHealth(at=self.sim.at(t), actor="system:dispatch"))
        withdrawn = []
        for carrier in result["down"]:  # its open orders were withdrawn: it will not collect them
            for order_id, held in list(self.carried.items()):
                if held.carrier == carrier and held.picked_s is None:
                    del self.carried[order_id]
                    self.sim.outcomes[order_id].fleet = "unassigned"
                    withdrawn.append(order_id)
        if not result["retendered"]:
            return []
        self.retendered += result["retendered"]
        if self.detected_s is None and self._down is not None:
            self.detected_s = t - self._down[0]
        with self.sim.bus.uow:
            captive = set(captive_order_ids(self.sim.bus.uow))
        back = [o for o in withdrawn if o in captive]
        for order_id in back:
            self.sim.outcomes[order_id].fleet = "captive"
        return back

    # the world ------------------------------------------------------------------------------
    def down(self, carrier: str, t: int) -> bool:
        return (self.outage is not None and self._down is not None and carrier == self.outage.carrier
                and self._down[0] <= t < self._down[1])

    def _answer(self, request: httpx.Request) -> httpx.Response:
        carrier = request.url.host.removesuffix(".sim")
        if self.down(carrier, self.now_s):
            return httpx.Response(503, json={"error": "service unavailable"})
        if request.method == "GET":
            return httpx.Response(200, json={"ok": True})
        if request.method == "DELETE":
            order_id = request.url.path.rsplit("/", 1)[-1].split(".t")[0]
            held = self.carried.get(order_id)
            if held is not None and held.carrier == carrier and held.picked_s is None:
                del self.carried[order_id]
            return httpx.Response(200, json={"ok": True})
        body = json.loads(request.content)
        order_id = str(body["order_id"])
        if carrier == GIG_ID:
            return httpx.Response(200, json=self._gig_accept(order_id))
        self.carried[order_id] = _Carried("3pl", carrier, self.now_s)
        self.sim.outcomes[order_id].fleet = "3pl"
        nxt = [s for s in self._pickups(carrier) if s >= self.now_s]
        if nxt:
            self.sim.push(nxt[0], "carrier_pickup", (carrier, nxt[0]))
        return httpx.Response(200, json={"decision": "accepted"})

    def _pickups(self, carrier: str) -> list[int]:
        from baton.simulate.scenario import minutes

        return sorted(minutes(p) * 60 for p in self.third[carrier].pickups)

    def _gig_accept(self, order_id: str) -> dict[str, str]:
        gig = self.mix.gig
        assert gig is not None
        if not self.couriers:
            return {"decision": "rejected", "reason": "no courier available"}
        free_at, courier = heapq.heappop(self.couriers)
        if self.taken.get(courier, 0) >= gig.orders_per_courier:
            heapq.heappush(self.couriers, (free_at, courier))
            return {"decision": "rejected", "reason": "no courier available"}
        sim, t = self.sim, self.now_s
        order = sim.orders[order_id]
        leave = max(t + GIG_REACH_S, free_at)
        rng = random.Random(f"{sim.cfg.seed}:gig:{order_id}")
        depot, door = sim.depot_pt, sim.geo.index[order.location]
        _m, secs = sim.geo.leg(depot, door)
        drive = int(secs * sim.sc.travel_bias * math.exp(rng.gauss(0, sim.sc.travel_sigma)))
        arrive = leave + drive
        start = sim.clock(order.service_start(sim.at(arrive)))
        done = start + max(30, int(order.service_time_s * math.exp(rng.gauss(0, sim.sc.service_sigma))))
        heapq.heappush(self.couriers, (done + drive, courier))
        self.taken[courier] = self.taken.get(courier, 0) + 1
        self.carried[order_id] = _Carried("gig", GIG_ID, t, picked_s=leave)
        sim.outcomes[order_id].fleet = "gig"
        self._bill("gig", gig.price_per_order)
        sim.push(leave, "carrier_status", (GIG_ID, order_id, "picked_up", leave))
        sim.push(start, "carrier_door", (GIG_ID, order_id, start))
        return {"decision": "accepted"}

    def _bill(self, fleet: str, amount: float) -> None:
        self.cost_by_fleet[fleet] = self.cost_by_fleet.get(fleet, 0.0) + amount

    def pickup(self, carrier: str, t: int) -> None:
        """A 3PL's pick-up round at the depot (nothing when it is down)."""
        if self.down(carrier, t):
            return
        sim = self.sim
        for order_id, held in sorted(self.carried.items()):
            if held.carrier != carrier or held.picked_s is not None or sim.outcomes[order_id].cancelled:
                continue
            held.picked_s = t
            self._bill("3pl", self.third[carrier].price_per_order)
            self.status(carrier, order_id, "picked_up", t)
            order = sim.orders[order_id]
            rng = random.Random(f"{sim.cfg.seed}:3pl:{order_id}")
            window = order.time_windows[0] if order.time_windows else None
            earliest = t + PICKUP_TO_DOOR_S
            if window is None:
                door = earliest + rng.randint(0, 3 * 3600)
            else:
                lo, hi = max(earliest, sim.clock(window.start)), sim.clock(window.end)
                if rng.random() < self.third[carrier].sla and lo <= hi:
                    door = rng.randint(lo, hi)
                else:
                    door = max(hi, earliest) + int(rng.expovariate(1 / LATE_MEAN_S))
            sim.push(door, "carrier_door", (carrier, order_id, door))

    def at_door(self, carrier: str, order_id: str, t: int) -> None:
        """The carrier's driver rings: delivered, or nobody home (same draw as a captive driver's)."""
        sim = self.sim
        out = sim.outcomes[order_id]
        if out.cancelled:
            return
        out.attempts += 1
        out.fleet = self.carried[order_id].fleet
        home = random.Random(f"{sim.cfg.seed}:home:{order_id}:{out.attempts}").random() >= sim.sc.not_home_pct / 100
        if home:
            out.delivered_at = sim.at(t)
            self.status(carrier, order_id, "delivered", t + 120)
        else:
            out.failed += 1
            self.status(carrier, order_id, "failed_attempt", t + 120, "not_home")

    def status(self, carrier: str, order_id: str, status: str, t: int, reason: str | None = None) -> None:
        """The carrier's status feed (``IngestCarrierStatus``); nothing about a cancelled order."""
        if self.sim.outcomes[order_id].cancelled:
            return
        self.messages += 1
        self.now_s = t
        update = StatusUpdate(carrier, f"{carrier}-{self.messages:06d}", order_id, status, status, self.sim.at(t),
                              reason)
        self.sim.handle(commands.IngestCarrierStatus(at=self.sim.at(t), actor=f"carrier:{carrier}",
                                                     updates=[update]))


def _circle(centre: LatLng, radius_km: float, sides: int = 24) -> tuple[LatLng, ...]:
    dlat = radius_km / 111.195
    dlng = dlat / math.cos(math.radians(centre.lat))
    return tuple(LatLng(centre.lat + dlat * math.sin(2 * math.pi * k / sides),
                        centre.lng + dlng * math.cos(2 * math.pi * k / sides)) for k in range(sides))


def fleet_kpis(outcomes: list[Any], captive_cost: float, world: CarrierWorld | None,
               on_time: Callable[[Any], bool]) -> dict[str, float]:
    """Per fleet type (``captive``, ``3pl``, ``gig``): orders, on-time %, cost (BRL) and cost per delivery;
    ``unassigned_orders`` (no resource took them); with a fleet mix ``retendered`` and
    ``outage_detected_min``. ``captive_cost`` is the vans' cost."""
    costs = {"captive": captive_cost, **(world.cost_by_fleet if world else {})}
    out: dict[str, float] = {}
    for fleet in ("captive", "3pl", "gig"):
        mine = [o for o in outcomes if not o.cancelled and o.fleet == fleet]
        delivered = [o for o in mine if o.delivered_at is not None]
        cost = round(costs.get(fleet, 0.0), 2)
        out[f"{fleet}_orders"] = len(mine)
        out[f"{fleet}_on_time_pct"] = round(100.0 * sum(1 for o in delivered if on_time(o)) / len(mine), 2) \
            if mine else 0.0
        out[f"{fleet}_cost"] = cost
        out[f"{fleet}_cost_per_delivery"] = round(cost / len(delivered), 2) if delivered else 0.0
    out["unassigned_orders"] = sum(1 for o in outcomes if not o.cancelled and o.fleet == "unassigned")
    if world is not None:
        out["retendered"] = world.retendered
        out["outage_detected_min"] = round(world.detected_s / 60, 1) if world.detected_s is not None else 0.0
    return out
