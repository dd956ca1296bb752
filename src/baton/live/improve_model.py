"""The live plan as a PyVRP problem, for the background improvement (:mod:`baton.live.improve`).

What is modelled, and how (PyVRP 0.14 ``ProblemData`` built directly):

* **routes**: every live route not broken down and not driving to a reload (a route whose
  pinned stop is a reload is kept as it is). Done stops are not in the model. A route with a
  pinned stop starts *at the pinned stop's address, ready when its service ends* (the ETA of
  the current timeline): the pinned stop is never moved. Otherwise it starts at its current
  position (the depot for a van not yet started), ready at ``ready_s``. Each route is one vehicle
  type (``num_available`` 1) with its own start depot (its current position), its end depot,
  its start depot as *reload depot* (PyVRP multi-trip; a reload takes ``plan.reload_s``, the
  model's reload depot being a second depot at the same place), ``tw_late`` the shift end
  or working-time limit (breaks are not reserved: see :mod:`baton.live.improve`), the vehicle's
  per-km and per-hour costs, and a routing profile per travel-time factor (speed factor x the vehicle's
  learnt traffic factor, rounded to 0.05). Area slowdowns are not in the matrices; the result is
  re-timed with them by :func:`baton.live.model.evaluate` before anything is published;
* **parcels**: a parcel on board a van that has left can only be delivered by that van. Each
  route gets a *code*: ``K/2`` of ``K`` extra capacity dimensions (a constant-weight code, so no
  code contains another); the route's capacity is large on its code's dimensions and 0 on the
  others, and a client tied to the route has a delivery of 1 on each of them, so any other
  vehicle would exceed a capacity. A parcel still at the depot (new orders, vans not yet
  started, unassigned orders, the trips after a reload) may go on any van, but a van that has
  left must reload first. PyVRP applies a client's ``release_time`` to the trip that carries it,
  so: a van that has left starts its first trip at its ready time and no later (``start_late``),
  and a parcel at the depot is released one second after that ready time (:func:`_release`):
  on that first trip it would leave too early, after a reload it need not (probed on PyVRP
  0.14.1, ``tests/test_live_improve.py``). A parcel's variant tied to one van uses that van's
  ready time; a *moved* variant (any van) the latest ready time of all vans that have left,
  so a van back at the depot sooner waits for it in the model (minutes:
  ready times are *now* or the end of the stop a van is driving to);
* **orders**: every open, unpinned order of a modelled route, and every unassigned order
  whose parcel is at the depot. Each is a mutually exclusive group of optional clients
  (``prize`` = ``drop_penalty`` x priority), the *churn* encoded as lower prizes:

  - *kept*: on its current route inside its announced ETA window (published ETA +-
    ``eta_tolerance_s``, within the promised window): full prize;
  - *re-timed*: on its current route, anywhere in a promised window: prize - ``churn_eta``;
  - *moved* (parcel at the depot only): any van (with a reload when it has left), anywhere in
    a promised window: prize - ``churn_driver``; unassigned orders get only this variant, at full
    prize.

  Promised windows are hard (clients' time windows); a parcel at the depot from ``available_s``
  is the client's ``release_time``; a second attempt's ``not_before_s`` opens its windows later;
* **what is already broken**: a stop the current plan serves late keeps, on its own route, the
  window it is late for closing at its current ETA + :data:`SLACK_S`, and a route the current plan
  ends after its shift may end as late as it does now + :data:`SLACK_S`, so the current plan is
  always a feasible warm start (without this, one late stop in the morning made every later
  improvement infeasible: PyVRP could not remove the time warp the van's position forces). The
  re-timing in :mod:`baton.live.improve` still refuses anything later than now;
* **features**: one dimension per required feature set among the orders that may move; vans
  lacking it have capacity 0 there;
* **money**: micro-units as in :mod:`baton.planning.pyvrp_model`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from pyvrp import Activity, ActivityType, Client, ClientGroup, Depot, Location, ProblemData, Solution, VehicleType
from pyvrp import Route as PyRoute

from baton.live.model import RELOAD, LivePlan, LiveRoute, evaluate
from baton.planning.pyvrp_model import money_units

_BIG_TIME = 10 * 24 * 3600
#: Seconds of room past what the current plan already breaks (a late ETA, a route ending after the
#: shift): the model times legs without breaks or area slowdowns and rounds each van's pace to 0.05,
#: so its times differ a little from :func:`baton.live.model.evaluate`'s.
SLACK_S = 600


@dataclass(frozen=True)
class ChurnCosts:
    """Churn in the objective (plan currency): ``driver`` per stop moved to another van,
    ``eta`` per stop served outside its announced ETA window (published ETA +- ``eta_tolerance_s``)."""

    driver: float = 15.0
    eta: float = 5.0
    eta_tolerance_s: int = 1800


@dataclass(frozen=True)
class ClientInfo:
    """A PyVRP client: the ``order_id`` it serves and its ``variant`` (``kept``, ``retimed``, ``moved``)."""

    order_id: str
    variant: str


@dataclass
class LiveModel:
    """PyVRP data for a live plan and the way back: ``routes[t]`` is vehicle type ``t``'s live
    route id, ``clients[c]`` what client ``c`` is, ``orders`` the modelled order ids,
    ``eta`` their announced ETA (clock s; absent when unassigned), ``owner`` their current route."""

    data: ProblemData
    routes: list[str]
    clients: list[ClientInfo]
    orders: list[str]
    started: list[bool] = field(default_factory=list)
    reload_depot: list[int] = field(default_factory=list)
    eta: dict[str, int] = field(default_factory=dict)
    owner: dict[str, str] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)
    retimed: dict[str, int] = field(default_factory=dict)


def modelled_routes(plan: LivePlan) -> list[LiveRoute]:
    """The routes the improvement may change (see the module docs)."""
    return [r for r in sorted(plan.routes.values(), key=lambda r: r.id)
            if not r.broken and r.pinned != RELOAD]


def _code_dims(n: int) -> int:
    k = 2
    while math.comb(k, k // 2) < n:
        k += 1
    return k


def _start(plan: LivePlan, route: LiveRoute) -> tuple[int, int]:
    """``(geo point, ready s)`` where the model's route begins: after the pinned stop, else here."""
    if route.pinned is not None:
        first = evaluate(plan, route, [route.pinned]).visits[0]
        return first.point, first.end_s
    return route.position, route.ready_s


def _release(onboard: bool, available_s: int, tie: str | None, started_ready: dict[str, int],
             any_van_from: int) -> int:
    """A client's release time (clock s): 0 for a parcel on board; for one at the depot, when it
    gets there, and not before a reload on a van that has left: tied to such a van, one second
    after that van's ready time; free to move (``tie`` None), ``any_van_from``."""
    if onboard:
        return 0
    if tie is None:
        return max(available_s, any_van_from)
    return max(available_s, started_ready[tie] + 1) if tie in started_ready else available_s


def _latest(route: LiveRoute, ready: int, current_end: int) -> int:
    # a break still due is not reserved: the current plan (breaks included) must stay a feasible
    # warm start; the re-timing with breaks and the repair in :mod:`baton.live.improve` decide
    limit = min(route.shift_end_s, route.max_end_s)
    if current_end > limit:  # already over: not later than now (see the module docs)
        limit = current_end + SLACK_S
    return max(ready, limit)


def _own_windows(windows: list[tuple[int, int]], eta: int, late: bool) -> list[tuple[int, int]]:
    """The windows of a stop on its current route: when it is late, the one it is late for (the
    last to open before its ``eta``) first, closing at ``eta`` + :data:`SLACK_S`."""
    if not late:
        return windows
    opened = [w for w in windows if w[0] <= eta]
    if not opened:
        return windows
    lo, hi = max(opened, key=lambda w: w[1])
    return [(lo, max(hi, eta + SLACK_S))] + [w for w in windows if w != (lo, hi)]


def build_live_model(plan: LivePlan, churn: ChurnCosts, drop_penalty: float = 500.0) -> LiveModel:
    """The PyVRP data of ``plan`` (see the module docs). Never raises for an empty plan: the
    model then has no client."""
    routes = modelled_routes(plan)
    onboard_of = {o: r.id for r in routes if r.started for o in r.onboard}
    eta: dict[str, int] = {}
    owner: dict[str, str] = {}
    late: set[str] = set()
    ends: dict[str, int] = {}
    for r in routes:
        timeline = evaluate(plan, r)
        ends[r.id] = timeline.end_s
        for v in timeline.visits:
            if v.item != r.pinned and v.item != RELOAD:
                eta[v.item], owner[v.item] = v.start_s, r.id
                if v.late_s > 0:
                    late.add(v.item)
    waiting = sorted(o for o in plan.unassigned if o in plan.orders and o not in onboard_of
                     and plan.orders[o].windows)
    orders = sorted(owner) + [o for o in waiting if o not in owner]

    # locations: one per distinct geo point (depots of the model first)
    starts = {r.id: _start(plan, r) for r in routes}
    depot_pts = list(dict.fromkeys([starts[r.id][0] for r in routes] + [r.end_depot for r in routes]
                                   + [r.depot for r in routes]))
    client_pts = list(dict.fromkeys(plan.orders[o].point for o in orders))
    pts = depot_pts + client_pts
    # a depot of the model is often a client's point too (a van standing at its last stop, an order at the
    # depot's address): depots and clients keep their own indices, never one shared by point
    depot_loc = {p: k for k, p in enumerate(depot_pts)}
    client_loc = {p: len(depot_pts) + k for k, p in enumerate(client_pts)}
    n = len(pts)
    dist = np.zeros((n, n), dtype=np.int64)
    dur = np.zeros((n, n), dtype=np.int64)
    for i, a in enumerate(pts):
        for j, b in enumerate(pts):
            if i != j:
                dist[i, j], dur[i, j] = plan.geo.leg(a, b)
    factors: dict[float, int] = {}
    profile: dict[str, int] = {}
    for r in routes:
        f = round(max(0.05, plan.factor_of(r) / r.speed_factor) * 20) / 20
        profile[r.id] = factors.setdefault(f, len(factors))
    durations = [dur if f == 1.0 else np.ceil(dur * f - 1e-9).astype(np.int64) for f in factors]

    # load dimensions: real ones used, route codes, feature sets
    units = {o: plan.orders[o].units for o in orders}
    real = [d for d in range(3) if any(units[o][d] for o in orders)]
    k = _code_dims(len(routes))
    codes = {r.id: set(c) for r, c in zip(routes, itertools.combinations(range(k), k // 2), strict=False)}
    movable = [o for o in orders if o not in onboard_of]
    feature_sets = sorted({plan.orders[o].features for o in movable} - {frozenset()}, key=sorted)
    n_dims = len(real) + k + len(feature_sets)
    big = 2 * len(orders) + 2

    def demand(o: str, tie: str | None) -> list[int]:
        d = [units[o][x] for x in real] + [0] * (k + len(feature_sets))
        if tie is not None:
            for c in codes[tie]:
                d[len(real) + c] = 1
        fs = plan.orders[o].features
        if fs and o not in onboard_of:
            d[len(real) + k + feature_sets.index(fs)] = 1
        return d

    depots = [Depot(location=i, name=f"p{p}") for i, p in enumerate(depot_pts)]
    reload_at: dict[int, int] = {}  # depot point -> index of its reload depot (loading takes reload_s)
    for r in routes:
        if r.depot not in reload_at:
            reload_at[r.depot] = len(depots)
            depots.append(Depot(location=depot_loc[r.depot], service_duration=plan.reload_s, name=f"reload p{r.depot}"))
    vehicle_types = []
    for r in routes:
        point, ready = starts[r.id]
        cap = [r.capacity[x] for x in real] + [big if c in codes[r.id] else 0 for c in range(k)]
        cap += [big if fs <= r.capabilities else 0 for fs in feature_sets]
        per_metre, per_second = money_units(r.per_km / 1000), money_units(r.per_hour / 3600)
        vehicle_types.append(VehicleType(
            num_available=1, capacity=cap, start_depot=depot_loc[point], end_depot=depot_loc[r.end_depot],
            tw_early=ready, tw_late=_latest(r, ready, ends[r.id]), unit_distance_cost=per_metre or 1,
            unit_duration_cost=per_second, profile=profile[r.id], start_late=ready if r.started else None,
            reload_depots=[reload_at[r.depot]], name=r.id))
    started_ready = {r.id: starts[r.id][1] for r in routes if r.started}
    at_depot_from = max(started_ready.values(), default=-1) + 1  # any van: after the latest ready time

    clients: list[Client] = []
    infos: list[ClientInfo] = []
    groups: list[ClientGroup] = []
    zero = np.zeros((1, 1), dtype=np.int64)
    model = LiveModel(ProblemData([Location(0, 0)], [], [Depot(0)], [VehicleType()], [zero],  # type: ignore[list-item]
                                  [zero]), [r.id for r in routes], infos, orders,  # type: ignore[list-item]
                      [r.started for r in routes], [reload_at[r.depot] for r in routes], eta, owner)
    if not routes:  # every van broken down or driving to a reload: nothing to search
        return model
    for o in orders:
        lo = plan.orders[o]
        prize = money_units(drop_penalty * lo.priority)
        windows = [(max(e, lo.not_before_s), lt) for e, lt in lo.windows if lt >= max(e, lo.not_before_s)]
        variants: list[tuple[str, str | None, int, int, int]] = []
        mine = owner.get(o)
        if mine is not None:
            e = eta[o]
            own = _own_windows(windows, e, o in late)
            for lo_s, hi_s in own:
                a, b = max(lo_s, e - churn.eta_tolerance_s), min(hi_s, e + churn.eta_tolerance_s)
                if a <= b:
                    variants.append(("kept", mine, a, b, prize))
                    break
            variants += [("retimed", mine, a, b, prize - money_units(churn.eta)) for a, b in own]
        if o not in onboard_of:
            cost = money_units(churn.driver) if mine is not None else 0
            variants += [("moved", None, a, b, prize - cost) for a, b in windows]
        first = len(clients)
        for variant, tie, a, b, value in variants:
            release = _release(o in onboard_of, lo.available_s, tie, started_ready, at_depot_from)
            if b < release:  # the parcel may leave the depot only after this window closes
                continue
            if variant == "kept":
                model.kept[o] = len(clients)
            elif variant == "retimed" and o not in model.retimed:
                model.retimed[o] = len(clients)
            clients.append(Client(location=client_loc[lo.point], delivery=demand(o, tie), service_duration=lo.service_s,
                                  tw_early=a, tw_late=b, release_time=release,
                                  prize=max(1, value), required=False, group=len(groups), name=o))
            infos.append(ClientInfo(o, variant))
        if len(clients) > first:
            groups.append(ClientGroup(list(range(first, len(clients))), required=False, name=o))
    model.data = ProblemData([Location(x=plan.geo.points[p].lng, y=plan.geo.points[p].lat) for p in pts], clients,
                             depots, vehicle_types, [dist] * len(durations), durations,  # type: ignore[arg-type,list-item]
                             groups)
    assert n_dims == model.data.num_load_dimensions or not clients
    return model


def _tidy(items: list[str], started: bool) -> list[str]:
    """``items`` without pointless reloads: none last, none twice in a row, none first on a van
    still at the depot."""
    out: list[str] = []
    for x in items:
        if x == RELOAD and ((not out and not started) or (out and out[-1] == RELOAD)):
            continue
        out.append(x)
    while out and out[-1] == RELOAD:
        out.pop()
    return out


def current_solution(model: LiveModel, plan: LivePlan) -> Solution:
    """The live plan as it is, in ``model`` (each order as its *kept* client, else *re-timed*;
    reload stops as visits to the route's reload depot)."""
    routes = []
    for t, rid in enumerate(model.routes):
        acts: list[Activity] = []
        for x in _tidy(list(plan.routes[rid].free), model.started[t]):
            if x == RELOAD:
                acts.append(Activity(ActivityType.DEPOT, model.reload_depot[t]))
            elif (c := model.kept.get(x, model.retimed.get(x))) is not None:
                acts.append(Activity(ActivityType.CLIENT, c))
        route = PyRoute(model.data, acts, t)
        if route.num_clients():
            routes.append(route)
    return Solution(model.data, routes)


def read_solution(model: LiveModel, solution: Solution) -> dict[str, list[str]]:
    """The free stops of every modelled route in ``solution`` (route id -> order ids in order,
    :data:`~baton.live.model.RELOAD` where the van goes back to its depot to reload)."""
    out: dict[str, list[str]] = {rid: [] for rid in model.routes}
    for route in solution.routes():
        t = route.vehicle_type()
        items = [RELOAD if a.is_depot() else model.clients[a.idx].order_id for a in list(route)[1:-1]]
        out[model.routes[t]] = _tidy(items, model.started[t])
    return out
