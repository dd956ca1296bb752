"""Dispatch waves (release timing): which open orders leave in this wave, which wait for a later one.

Vehicles leave the depot in waves (every ``wave_s`` seconds, ``margin_s`` after the decision).
Each wave, :func:`plan_wave` splits the open requests in two and routes the ones that go:

* **must-dispatch** requests (:func:`must_dispatch`: waiting one more wave would make them
  infeasible, i.e. the window would close before a vehicle of the next wave can arrive, or the
  vehicle could not be back at the depot before it closes; or flagged by the caller) always go, and
  so does everything in the last wave;
* the others are decided by one of two methods (:attr:`WaveOptions.method`):

  - ``"must_routes"`` (default): every open request is routed together; only the routes that carry
    a must-dispatch request leave, the requests riding along on them included; the other routes
    wait and are re-planned next wave with the requests that arrive meanwhile;
  - ``"scenarios"`` (:func:`decide_wave`, the rule of the EURO Meets NeurIPS 2022 winners, read from
    their public code, N-Wouda/Euro-NeurIPS-2022, ``dynamic/strategies/rollout``): for part of the
    wave's time, as many futures as fit are sampled from the day's history (:class:`DemandModel`:
    requests of the next ``lookahead`` waves, location, window, size and service time drawn
    independently from past requests, filtered as real arrivals are), each solved with a short search
    together with the open requests, each sampled request *released* (may only leave the depot) at
    its wave; an open request whose route carries no future request is "dispatched now" in that
    sample. A request goes when it is dispatched now in at least ``dispatch_share`` of the samples
    (15 %: a request any sample could serve well now goes now).

Routing is Baton's planner (PyVRP through :func:`baton.planning.parallel.parallel_solve`, one core;
``max_iterations`` caps it for reproducible waves); there is no search of our own. The decision logic
is pure: numpy arrays in, arrays out.

Units: every duration and time is integer seconds. A :class:`WaveState`'s times are relative to the
wave's *planning start* (the instant its vehicles may leave the depot, ``margin_s`` after the
decision); a :class:`DemandModel`'s windows are absolute (seconds since the start of the day).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
import numpy.typing as npt
from pyvrp import Client, Depot, Location, ProblemData, Solution, VehicleType, solve
from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria

from baton.planning.parallel import parallel_solve

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Routes = list[list[int]]
"""Routes as lists of node indices of a :class:`WaveState` (1..n-1, never the depot 0)."""


@dataclass(frozen=True, eq=False)
class DemandModel:
    """The day's demand structure, from history, that future requests are sampled from.

    ``duration`` is the full ``(m, m)`` travel-time matrix (s, node 0 the depot) that request
    locations index. The pool arrays (same length ``p``) describe past requests: ``location``
    (matrix node, >= 1), window ``early``/``late`` (absolute s), ``service`` (s), ``demand``
    (capacity units). Each wave, ``candidates_per_wave`` requests are drawn (each attribute
    independently, uniformly from the pool) and those that cannot be served from that wave on are
    discarded. ``depot_late`` is the absolute time every vehicle must be back.

    Raises:
        ValueError: on arrays of different lengths, an empty pool, a location outside the matrix or
            a non-positive wave length.
    """

    duration: IntArray
    location: IntArray
    early: IntArray
    late: IntArray
    service: IntArray
    demand: IntArray
    depot_late: int
    candidates_per_wave: int = 100
    wave_s: int = 3600
    margin_s: int = 3600

    def __post_init__(self) -> None:
        p = len(self.location)
        if p == 0:
            raise ValueError("location: the demand pool is empty")
        for name in ("early", "late", "service", "demand"):
            if len(getattr(self, name)) != p:
                raise ValueError(f"{name}: {len(getattr(self, name))} values for {p} pool requests")
        m = self.duration.shape[0]
        if self.duration.shape != (m, m):
            raise ValueError(f"duration: must be square, got {self.duration.shape}")
        if self.location.min() < 1 or self.location.max() >= m:
            raise ValueError(f"location: every pool location must be in 1..{m - 1}")
        if self.wave_s <= 0:
            raise ValueError(f"wave_s: must be positive, got {self.wave_s}")


@dataclass(frozen=True, eq=False)
class WaveState:
    """The open requests at one wave. Node 0 is the depot, nodes 1..n-1 the open requests.

    ``location`` indexes :attr:`DemandModel.duration`; ``early``/``late`` (service must start in
    the window) are relative to ``planning_start`` (absolute s, when this wave's vehicles may leave)
    and clipped at 0; ``late[0]`` is when vehicles must be back. ``service`` (s), ``demand``
    (units, against ``capacity``); ``must`` flags requests that cannot wait (ORed with
    :func:`must_dispatch`); ``waves_left`` counts the waves after this one (0 = the last: all go).
    """

    location: IntArray
    early: IntArray
    late: IntArray
    service: IntArray
    demand: IntArray
    must: BoolArray
    capacity: int
    planning_start: int
    waves_left: int

    @property
    def size(self) -> int:
        """Nodes, depot included."""
        return len(self.location)


REPRODUCIBLE_SCENARIOS = 32
"""Samples a ``scenarios`` wave takes when its solves are capped by ``max_iterations`` and no count is
given: a fixed count, so that the decision does not depend on the machine's speed."""


@dataclass(frozen=True)
class WaveOptions:
    """How a wave is decided. ``method``: ``"must_routes"`` or ``"scenarios"`` (module docs).
    Scenarios only: ``scenarios`` samples (``None``: as many as fit in ``scenario_share`` of the
    wave's time budget, or :data:`REPRODUCIBLE_SCENARIOS` when ``max_iterations`` is set; a number:
    exactly that many, whatever the time), each solved with at most ``scenario_iterations`` PyVRP
    iterations, ``lookahead`` waves sampled ahead, ``dispatch_share`` the fraction of samples in
    which a request must be dispatched now to go. ``seed`` drives sampling and solver;
    ``max_iterations`` (optional) caps the routing solves so that the decision is reproducible
    whatever the machine's load."""

    scenarios: int | None = None
    scenario_iterations: int = 100
    lookahead: int = 3
    dispatch_share: float = 0.15
    scenario_share: float = 0.5
    seed: int = 1
    max_iterations: int | None = None
    method: str = "must_routes"


@dataclass
class WaveDecision:
    """A wave's decision: ``dispatch[i]`` for every node (the depot's is True); ``now_share[i]`` the
    fraction of the feasible samples that dispatched node ``i`` now (1 for must-dispatch; with
    ``must_routes`` simply 1 for dispatched, 0 for waiting), and how many samples were solved
    (``scenarios``) and feasible."""

    dispatch: BoolArray
    now_share: npt.NDArray[np.float64]
    scenarios: int = 0
    feasible_scenarios: int = 0
    notes: list[str] = field(default_factory=list)


def must_dispatch(state: WaveState, model: DemandModel) -> BoolArray:
    """Requests that would be infeasible if they waited one wave: a vehicle of the next wave (leaving
    ``wave_s`` later) would arrive after the window closes or be back after the depot closes. All
    requests in the last wave. Index 0 (depot) is False. Shape ``(n,)``."""
    if state.waves_left <= 0:
        out = np.ones(state.size, dtype=bool)
        out[0] = False
        return out
    d = model.duration
    arrive = np.maximum(model.wave_s + d[0, state.location], state.early)
    back = arrive + state.service + d[state.location, 0]
    out = (arrive > state.late) | (back > state.late[0])
    out[0] = False
    return np.asarray(out | state.must.astype(bool), dtype=bool)


def _solve(data: ProblemData, seconds: float, seed: int, max_iterations: int | None) -> Solution:
    """Baton's planner on ``data``: one core, ``seconds`` of wall time, optionally capped."""
    if max_iterations is None:
        return parallel_solve(data, max(seconds, 0.05), seed=seed, workers=1).best
    stop = MultipleCriteria([MaxRuntime(max(seconds, 0.05)), MaxIterations(max_iterations)])
    return solve(data, stop, seed=seed, collect_stats=False, display=False).best


def _problem(d: IntArray, location: IntArray, early: IntArray, late: IntArray, service: IntArray,
             demand: IntArray, release: IntArray, capacity: int) -> ProblemData:
    """PyVRP data: node 0 the depot (window ``[early[0], late[0]]``), unlimited vehicles, driving
    time as the objective (the matrix is distance and duration)."""
    n = len(location)
    sub = d[np.ix_(location, location)].astype(np.int64)
    clients = [Client(location=i, delivery=[int(demand[i])], service_duration=int(service[i]),
                      tw_early=int(early[i]), tw_late=int(late[i]), release_time=int(release[i]))
               for i in range(1, n)]
    vehicle = VehicleType(num_available=max(1, n - 1), capacity=[capacity], tw_early=int(early[0]),
                          tw_late=int(late[0]))
    return ProblemData([Location(x=0, y=0) for _ in range(n)], clients, [Depot(location=0)], [vehicle],
                       [sub], [sub])  # type: ignore[list-item]


def sample_future(state: WaveState, model: DemandModel, rng: np.random.Generator,
                  lookahead: int) -> tuple[IntArray, IntArray, IntArray, IntArray, IntArray, IntArray]:
    """Requests of the next ``min(lookahead, waves_left)`` waves sampled from ``model``, as they
    would arrive: ``(location, early, late, service, demand, release)``, windows relative to the
    state's planning start (clipped at 0), ``release`` = the wave's offset (k x ``wave_s``)."""
    parts: list[tuple[IntArray, ...]] = []
    pool = len(model.location)
    d = model.duration
    for k in range(1, min(lookahead, state.waves_left) + 1):
        start = state.planning_start + k * model.wave_s
        c = model.candidates_per_wave
        loc = model.location[rng.integers(pool, size=c)]
        tw = rng.integers(pool, size=c)
        dem = model.demand[rng.integers(pool, size=c)]
        srv = model.service[rng.integers(pool, size=c)]
        early, late = model.early[tw], model.late[tw]
        arrive = np.maximum(start + d[0, loc], early)
        ok = (arrive <= late) & (arrive + srv + d[loc, 0] <= model.depot_late)
        rel = np.full(int(ok.sum()), k * model.wave_s, dtype=np.int64)
        parts.append((loc[ok], np.clip(early[ok] - state.planning_start, 0, None),
                      np.clip(late[ok] - state.planning_start, 0, None), srv[ok], dem[ok], rel))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, empty, empty, empty
    cols = [np.concatenate([p[j] for p in parts]).astype(np.int64) for j in range(6)]
    return cols[0], cols[1], cols[2], cols[3], cols[4], cols[5]


def _scenario_now(state: WaveState, model: DemandModel, rng: np.random.Generator, options: WaveOptions,
                  seconds: float, seed: int) -> BoolArray | None:
    """One sampled future solved with the open requests (at most ``options.scenario_iterations``
    PyVRP iterations): True for each open node whose route has no request released later
    (dispatched now); ``None`` when the solver found nothing feasible."""
    loc, early, late, srv, dem, rel = sample_future(state, model, rng, options.lookahead)
    data = _problem(model.duration, np.concatenate([state.location, loc]), np.concatenate([state.early, early]),
                    np.concatenate([state.late, late]), np.concatenate([state.service, srv]),
                    np.concatenate([state.demand, dem]),
                    np.concatenate([np.zeros(state.size, dtype=np.int64), rel]), state.capacity)
    best = _solve(data, seconds, seed, options.scenario_iterations)
    if not best.is_feasible():
        return None
    now = np.zeros(state.size, dtype=bool)
    for route in best.routes():
        if route.release_time() == 0:
            now[[a.idx + 1 for a in route.schedule() if a.is_client() and a.idx + 1 < state.size]] = True
    return now


def decide_wave(state: WaveState, model: DemandModel, options: WaveOptions | None = None,
                budget_s: float = 10.0) -> WaveDecision:
    """Which open requests to dispatch in this wave (module docs: the ``scenarios`` method), within
    about ``budget_s x scenario_share`` seconds of sampling (or exactly ``options.scenarios``
    samples). Every must-dispatch request is dispatched; in the last wave, all are."""
    opts = options or WaveOptions()
    must = must_dispatch(state, model)
    must[0] = True
    if state.waves_left <= 0 or must[1:].all():
        return WaveDecision(must.copy(), np.where(must, 1.0, 0.0), notes=["every open request must go"])
    rng = np.random.default_rng(opts.seed + 7919 * state.waves_left)
    counts = np.zeros(state.size)
    deadline = time.perf_counter() + budget_s * opts.scenario_share
    solved = feasible = 0
    took = 0.0  # mean seconds per sample so far: one more is started only if it should end in time
    count = opts.scenarios if opts.scenarios is not None or opts.max_iterations is None else REPRODUCIBLE_SCENARIOS
    while count is None or solved < count:
        started = time.perf_counter()
        if count is None and started + took > deadline:
            break
        left = deadline - started if count is None else budget_s
        now = _scenario_now(state, model, rng, opts, max(left, 0.05), opts.seed + solved)
        took = (took * solved + time.perf_counter() - started) / (solved + 1)
        solved += 1
        if now is not None:
            feasible += 1
            counts += now
    if feasible == 0:
        return WaveDecision(np.ones(state.size, dtype=bool), np.where(must, 1.0, 0.0), solved, 0,
                            ["no sample solved feasibly: dispatching everything"])
    share = np.where(must, 1.0, counts / feasible)
    return WaveDecision(must | (share >= opts.dispatch_share), share, solved, feasible)


def route_requests(state: WaveState, model: DemandModel, chosen: BoolArray, seconds: float, seed: int = 1,
                   max_iterations: int | None = None) -> Routes:
    """Routes (node indices of ``state``) serving exactly the chosen requests (``chosen[0]`` is
    ignored), leaving at the planning start, minimising driving time with Baton's planner. If the
    solver returns nothing feasible, each request gets its own route (always feasible for a request
    that is still servable)."""
    nodes = [0, *[i for i in range(1, state.size) if chosen[i]]]
    if len(nodes) == 1:
        return []
    idx = np.asarray(nodes, dtype=np.int64)
    data = _problem(model.duration, state.location[idx], state.early[idx], state.late[idx], state.service[idx],
                    state.demand[idx], np.zeros(len(idx), dtype=np.int64), state.capacity)
    best = _solve(data, seconds, seed, max_iterations)
    if not best.is_feasible():
        return [[n] for n in nodes[1:]]
    return [[nodes[a.idx + 1] for a in route.schedule() if a.is_client()] for route in best.routes()]


def plan_wave(state: WaveState, model: DemandModel, options: WaveOptions | None = None,
              budget_s: float = 10.0) -> tuple[Routes, WaveDecision]:
    """Decide and route one wave in about ``budget_s`` seconds with ``options.method`` (module docs).
    Returns the routes (node indices of ``state``; every must-dispatch request is on one) and the
    decision.

    Raises:
        ValueError: on an unknown method."""
    opts = options or WaveOptions()
    started = time.perf_counter()
    if opts.method == "must_routes":
        return _must_routes(state, model, opts, budget_s)
    if opts.method != "scenarios":
        raise ValueError(f"method: unknown wave method {opts.method!r} (must_routes or scenarios)")
    decision = decide_wave(state, model, opts, budget_s)
    left = max(0.1, budget_s - (time.perf_counter() - started))
    routes = route_requests(state, model, decision.dispatch, left, opts.seed, opts.max_iterations)
    return routes, decision


def _must_routes(state: WaveState, model: DemandModel, opts: WaveOptions,
                 budget_s: float) -> tuple[Routes, WaveDecision]:
    """Route every open request, then dispatch only the routes that carry a must-dispatch request."""
    must = must_dispatch(state, model)
    every = np.ones(state.size, dtype=bool)
    routes = route_requests(state, model, every, budget_s, opts.seed, opts.max_iterations)
    if state.waves_left > 0:
        routes = [r for r in routes if any(must[n] for n in r)]
    dispatch = np.zeros(state.size, dtype=bool)
    dispatch[0] = True
    for r in routes:
        dispatch[r] = True
    return routes, WaveDecision(dispatch, dispatch.astype(float))


def route_cost(routes: Routes, state: WaveState, model: DemandModel) -> int:
    """Driving time (s) of ``routes``: depot → stops → depot on :attr:`DemandModel.duration`."""
    d = model.duration
    total = 0
    for route in routes:
        path = [0, *[int(state.location[n]) for n in route], 0]
        total += int(sum(d[a, b] for a, b in pairwise(path)))
    return total


def planned_ok(routes: Routes, state: WaveState, model: DemandModel) -> list[str]:
    """Independent check of wave routes: capacity, windows (service starts by ``late``; waiting
    allowed) and return by ``late[0]``; no node twice. Returns the problems found (empty = valid)."""
    issues: list[str] = []
    seen: set[int] = set()
    d = model.duration
    for k, route in enumerate(routes):
        if sum(int(state.demand[n]) for n in route) > state.capacity:
            issues.append(f"route {k}: over capacity")
        t, here = int(state.early[0]), 0
        for n in route:
            if n in seen or not 0 < n < state.size:
                issues.append(f"route {k}: node {n} repeated or unknown")
            seen.add(n)
            t = max(t + int(d[here, state.location[n]]), int(state.early[n]))
            if t > state.late[n]:
                issues.append(f"route {k}: node {n} starts at {t} after its window closes at {state.late[n]}")
            t += int(state.service[n])
            here = int(state.location[n])
        if t + int(d[here, 0]) > state.late[0]:
            issues.append(f"route {k}: back at the depot after {state.late[0]}")
    return issues


__all__ = ["REPRODUCIBLE_SCENARIOS", "DemandModel", "Routes", "WaveDecision", "WaveOptions", "WaveState",
           "decide_wave", "must_dispatch", "plan_wave", "planned_ok", "route_cost", "route_requests", "sample_future"]
