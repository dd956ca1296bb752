"""Builds PyVRP 0.14 problem data from a :class:`PlanningProblem` and reads solutions back.

With :mod:`baton.planning.planner`, the only module that imports PyVRP. The data is built as
:class:`pyvrp.ProblemData` directly rather than through ``pyvrp.Model``: the model API takes
one Python call per matrix edge (a million calls for 1,000 orders), while ``ProblemData``
takes the numpy matrices as they are. What is modelled, and how:

* **locations**: the :func:`~baton.planning.mapping.matrix_points` layout (depots, then orders);
  ``x`` is the longitude and ``y`` the latitude, for display only;
* **clock**: integer seconds since ``day_start`` (:mod:`baton.planning.mapping`);
* **orders**: each is optional (``required=False``) with ``prize = drop_penalty x priority``,
  so the solver drops an order only when it cannot serve it or serving costs more. One time
  window gives one client; several windows give one client per window in a mutually exclusive
  client group (at most one is visited). With soft windows (``hard_time_windows=False``),
  each window also gets variants closing 15 min, 30 min, 1 h and 2 h later whose prize is
  lower by ``lateness_penalty_per_hour`` x that delay: the solver pays at most the lateness
  penalty for the lateness it chooses (an upper bound of the linear penalty, in 4 steps);
* **returns** (``problem.pickups``): the order's units are the client's ``pickup`` instead of
  its ``delivery``; PyVRP then holds, at every point of a trip, the deliveries still on board
  plus the returns collected within the capacity (simultaneous pickup and delivery);
* **transfers** (``problem.transfers``, pickup-and-delivery pairs): one PyVRP ``Shipment`` per
  pair (pickup step at the pickup order's point with its window and service time, delivery
  step likewise, amount = the pickup order's units, prize = ``drop_penalty`` x the higher
  priority, optional); PyVRP keeps both steps on one route, pickup first, and carries the
  amount in between. Soft-window variants are not made for shipments (their windows stay hard);
* **capacity**: dimensions parcels (count), weight (0.1 kg), volume (0.1 L) and, when
  ``max_customers_per_route`` is set, one unit per order; demands rounded UP, capacities
  DOWN (:func:`~baton.planning.mapping.demand_units`); dimensions no order uses are left out;
* **fleet**: one vehicle type per :class:`~baton.planning.crews.Crew` (``num_available=1``),
  starting at its start depot and ending at its end depot, with the shift as ``tw_early``/
  ``tw_late`` and the working limit as ``shift_duration``, both less the reserved break time;
  paid overtime (``PlanningOptions.overtime_s``) is PyVRP's ``max_overtime`` beyond
  ``shift_duration``, charged ``unit_overtime_cost`` per second (``overtime_per_hour / 3600``);
  the start depot's loading time is the depot's ``service_duration``;
* **money**: integer micro-units of the currency (``MONEY_SCALE`` = 10^6 per unit):
  ``fixed_cost`` per day, ``unit_distance_cost`` per metre (``per_km x 1000``) and
  ``unit_duration_cost`` per second (``per_hour x 10^6 / 3600``), rounded to the nearest
  micro-unit. A vehicle with no distance or time cost gets 1 micro-unit per metre so that the
  solver still prefers short routes. At 20,000 orders of priority 5 and ``drop_penalty`` 500
  the prizes total 5 x 10^13, far below the int64 limit of 9.2 x 10^18;
* **multi-trip**: with ``PlanningOptions.max_reloads = k > 0`` every vehicle may return to
  its start depot up to ``k`` times to reload (PyVRP ``reload_depots``/``max_reloads``);
  capacity then holds per trip, and each reload takes the depot's loading time;
* **features and speed**: one routing profile per distinct (set of order feature sets the
  crew cannot serve, ``speed_factor``) pair actually present; in a profile, every edge into
  an order the crew cannot serve has distance ``PROHIBITIVE_DISTANCE_M`` and duration
  ``PROHIBITIVE_DURATION_S`` (two horizons: any route using it arrives after every window
  and shift has closed, hence is infeasible, so the exclusion is exact); durations are
  ``ceil(duration / speed_factor)``.
  Each profile holds two ``n x n`` int64 matrices (8 n^2 bytes each);
* **penalties**: PyVRP searches through infeasible solutions, charging each unit of excess
  load or time warp a penalty it adapts during the search. Its defaults (start 5 x 10^4, at
  most 10^5 per unit) suit unit-cost instances, not prizes of 5 x 10^8 micro-units: with
  them, overloading a van pays and no feasible plan is ever found. :func:`penalty_params`
  starts each penalty at the typical prize per unit of that violation and lets it grow to
  1000 times that, capped so that penalised costs stay below 10^18 (int64).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pyvrp import (
    Activity,
    ActivityType,
    Client,
    ClientGroup,
    Depot,
    Location,
    PenaltyParams,
    ProblemData,
    Route,
    Shipment,
    Solution,
    VehicleType,
)

from baton.adapters.travel.base import TravelMatrices
from baton.domain.order import Order
from baton.planning.crews import Crew
from baton.planning.mapping import HORIZON_S, capacity_units, demand_units, order_point
from baton.planning.problem import PlanningOptions, PlanningProblem

MONEY_SCALE = 1_000_000
"""Integer money units per currency unit (micro-units)."""
PROHIBITIVE_DISTANCE_M = 10_000_000
PROHIBITIVE_DURATION_S = 2 * HORIZON_S
SOFT_LATE_STEPS_S = (900, 1800, 3600, 7200)
"""Extra lateness (s) a soft window's variants allow."""


def money_units(amount: float) -> int:
    """``amount`` (currency) in integer micro-units, rounded to the nearest."""
    return round(amount * MONEY_SCALE)


@dataclass(frozen=True)
class SolverModel:
    """PyVRP data plus the way back: ``client_orders[c]`` is the order index of client ``c``,
    ``crews[t]`` the crew of vehicle type ``t``; ``modelled`` the order indices given a client
    or a shipment; ``shipment_orders[s]`` the (pickup, delivery) order indices of shipment ``s``."""

    data: ProblemData
    client_orders: list[int]
    crews: list[Crew]
    modelled: frozenset[int]
    shipment_orders: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class SolvedRoute:
    """A solver route in domain terms: crew index, order indices in visiting order, and the
    clock second (``begin_s``) work begins at the start depot (loading first); ``reloads``: the
    vehicle returns to its start depot to reload after that many of ``orders`` (multi-trip)."""

    crew: int
    orders: list[int]
    begin_s: int
    reloads: tuple[int, ...] = ()


@dataclass(frozen=True)
class StartRoute:
    """A route to start the search from, in domain terms: crew index, ``(order index, service
    start clock second)`` per visit in visiting order, and ``reloads`` as in :class:`SolvedRoute`."""

    crew: int
    visits: list[tuple[int, int]]
    reloads: tuple[int, ...] = ()


def initial_solution(model: SolverModel, routes: list[StartRoute]) -> Solution:
    """The PyVRP solution visiting ``routes`` (a warm start for the search).

    An order with several clients (several windows, soft-window variants) is visited as the
    first of its clients whose window holds the visit's service start (the best prize), else
    the one closing last. Orders the model does not hold, and a second visit of an order, are
    left out; a route left empty is skipped. The result may be infeasible (the search repairs
    it) but always visits each client at most once, with each crew at most once.

    Raises:
        IndexError: when a route's crew is not one of ``model.crews``.
    """
    data = model.data
    clients = data.clients()
    by_order: dict[int, list[int]] = {}
    for c, j in enumerate(model.client_orders):
        by_order.setdefault(j, []).append(c)
    shipment_of = {j: (s, k == 0) for s, pair in enumerate(model.shipment_orders) for k, j in enumerate(pair)}
    used: set[int] = set()
    crews_used: set[int] = set()
    out: list[Route] = []
    for route in routes:
        if route.crew >= len(model.crews):
            raise IndexError(f"crew {route.crew} of {len(model.crews)}")
        if route.crew in crews_used:
            continue
        activities: list[Activity] = []
        for k, (j, start_s) in enumerate(route.visits):
            if k in route.reloads and activities:
                activities.append(Activity(ActivityType.DEPOT, model.crews[route.crew].start_depot))
            if j in used:
                continue
            if j in shipment_of:
                s, is_pickup = shipment_of[j]
                activities.append(Activity(ActivityType.PICKUP if is_pickup else ActivityType.DELIVERY, s))
            elif j in by_order:
                options = by_order[j]
                fitting = [c for c in options if clients[c].tw_early <= start_s <= clients[c].tw_late]
                chosen = fitting[0] if fitting else max(options, key=lambda c: clients[c].tw_late)
                activities.append(Activity(ActivityType.CLIENT, chosen))
            else:
                continue
            used.add(j)
        if any(a.type != ActivityType.DEPOT for a in activities):
            crews_used.add(route.crew)
            out.append(Route(data, activities, route.crew))
    return Solution(data, out)


def can_model(order: Order, crews: list[Crew], windows: list[tuple[int, int]]) -> bool:
    """True when some crew has the order's features and room for it, and it has a window in
    the horizon; other orders are not given to the solver (they cannot be served)."""
    return bool(windows) and any(c.can_serve(order.required_features) and c.fits(order.size) for c in crews)


def _variants(windows: list[tuple[int, int]], prize: int, options: PlanningOptions) -> list[tuple[int, int, int]]:
    """``(tw_early, tw_late, prize)`` of an order's clients (see the module docs)."""
    out = [(early, late, prize) for early, late in windows]
    if not options.hard_time_windows:
        for early, late in windows:
            for step in SOFT_LATE_STEPS_S:
                reduced = prize - money_units(options.lateness_penalty_per_hour * step / 3600)
                if late < HORIZON_S and reduced > 0:
                    out.append((early, min(HORIZON_S, late + step), reduced))
    return out


def _profiles(problem: PlanningProblem, crews: list[Crew], modelled: list[int],
              matrices: TravelMatrices) -> tuple[list[int], list[npt.NDArray[np.int64]], list[npt.NDArray[np.int64]]]:
    """Each crew's profile index, and the distance and duration matrices of every profile."""
    needs = sorted({problem.orders[j].required_features for j in modelled} - {frozenset()}, key=sorted)
    keys: dict[tuple[frozenset[frozenset[str]], float], int] = {}
    crew_profile = []
    base_d = np.asarray(matrices.distance_m, dtype=np.int64)
    base_t = np.asarray(matrices.duration_s, dtype=np.int64)
    distances: list[npt.NDArray[np.int64]] = []
    durations: list[npt.NDArray[np.int64]] = []
    for crew in crews:
        blocked = frozenset(f for f in needs if not crew.can_serve(f))
        key = (blocked, crew.vehicle.speed_factor)
        if key not in keys:
            keys[key] = len(distances)
            dist, dur = base_d, base_t
            if key[1] != 1.0:
                dur = np.ceil(base_t / key[1] - 1e-9).astype(np.int64)
            cols = [order_point(problem, j) for j in modelled if problem.orders[j].required_features in blocked]
            if cols:
                dist = dist.copy()
                if dur is base_t:
                    dur = dur.copy()
                dist[:, cols] = PROHIBITIVE_DISTANCE_M
                dur[:, cols] = PROHIBITIVE_DURATION_S
                dist[cols, cols] = 0
                dur[cols, cols] = 0
            distances.append(dist)
            durations.append(dur)
        crew_profile.append(keys[key])
    return crew_profile, distances, durations


def build_model(problem: PlanningProblem, options: PlanningOptions, matrices: TravelMatrices,
                crews: list[Crew], windows: list[list[tuple[int, int]]]) -> SolverModel:
    """The PyVRP data for ``problem`` (see the module docs for what is modelled and how).

    ``matrices`` follow the :func:`~baton.planning.mapping.matrix_points` layout; ``windows``
    are every order's :func:`~baton.planning.mapping.window_bounds`.

    Raises:
        ValueError: when ``crews`` is empty or the matrices do not match the problem's points.
    """
    if not crews:
        raise ValueError("no crew: every vehicle lacks a driver or a usable shift")
    if matrices.size != len(problem.depots) + len(problem.orders):
        points = len(problem.depots) + len(problem.orders)
        raise ValueError(f"matrices have {matrices.size} points, the problem {points}")
    index = {o.id: j for j, o in enumerate(problem.orders)}
    pairs = [(index[p], index[d]) for p, d in problem.transfers]
    paired = {j for pair in pairs for j in pair}
    pairs = [(p, d) for p, d in pairs if all(can_model(problem.orders[j], crews, windows[j][:1]) for j in (p, d))]
    modelled = [j for j, o in enumerate(problem.orders) if j not in paired and can_model(o, crews, windows[j])]
    demands = {j: demand_units(problem.orders[j].size) for j in modelled + [p for p, _ in pairs]}
    dims = [d for d in range(3) if any(units[d] > 0 for units in demands.values())]
    cap_extra = [options.max_customers_per_route] if options.max_customers_per_route is not None else []
    dem_extra = [1] if cap_extra else []

    locations = [Location(x=d.location.lng, y=d.location.lat, name=d.id) for d in problem.depots]
    locations += [Location(x=o.location.lng, y=o.location.lat, name=o.id) for o in problem.orders]
    depots = [Depot(location=i, service_duration=d.loading_time_s, name=d.id) for i, d in enumerate(problem.depots)]

    clients: list[Client] = []
    client_orders: list[int] = []
    groups: list[ClientGroup] = []
    for j in modelled:
        order = problem.orders[j]
        prize = money_units(options.drop_penalty * order.priority)
        variants = _variants(windows[j], prize, options)
        group = len(groups) if len(variants) > 1 else None
        first = len(clients)
        amounts = [demands[j][d] for d in dims] + dem_extra
        returned = order.id in problem.pickups
        for early, late, value in variants:
            clients.append(Client(
                location=order_point(problem, j), delivery=[0] * len(amounts) if returned else amounts,
                pickup=amounts if returned else [0] * len(amounts),
                service_duration=order.service_time_s, tw_early=early, tw_late=late, prize=value,
                required=False, group=group, name=order.id,
            ))
            client_orders.append(j)
        if group is not None:
            groups.append(ClientGroup(list(range(first, len(clients))), required=False, name=order.id))

    shipments = []
    for p, d in pairs:
        (p_early, p_late), (d_early, d_late) = windows[p][0], windows[d][0]
        priority = max(problem.orders[p].priority, problem.orders[d].priority)
        shipments.append(Shipment(
            pickup_location=order_point(problem, p), delivery_location=order_point(problem, d),
            pickup_tw_early=p_early, pickup_tw_late=p_late, pickup_service_duration=problem.orders[p].service_time_s,
            delivery_tw_early=d_early, delivery_tw_late=d_late,
            delivery_service_duration=problem.orders[d].service_time_s,
            amount=[demands[p][k] for k in dims] + [0] * len(dem_extra),
            prize=money_units(options.drop_penalty * priority), required=False,
            name=f"{problem.orders[p].id}->{problem.orders[d].id}",
        ))
    everything = modelled + [j for pair in pairs for j in pair]
    crew_profile, distances, durations = _profiles(problem, crews, everything, matrices)
    vehicle_types = []
    for crew, profile in zip(crews, crew_profile, strict=True):
        costs = crew.vehicle.costs
        per_metre = money_units(costs.per_km / 1000)
        per_second = money_units(costs.per_hour / 3600)
        vehicle_types.append(VehicleType(
            num_available=1,
            capacity=[capacity_units(crew.vehicle.capacity)[d] for d in dims] + cap_extra,
            start_depot=crew.start_depot, end_depot=crew.end_depot,
            fixed_cost=money_units(costs.fixed_per_day),
            tw_early=crew.earliest_start_s, tw_late=crew.model_latest_end_s,
            shift_duration=crew.model_regular_s, max_overtime=crew.overtime_s,
            unit_overtime_cost=money_units(crew.overtime_per_hour / 3600),
            unit_distance_cost=per_metre if per_metre or per_second else 1,
            reload_depots=[crew.start_depot] if options.max_reloads else [],
            max_reloads=max(0, options.max_reloads),
            unit_duration_cost=per_second, profile=profile, name=crew.vehicle.id,
        ))
    data = ProblemData(locations, clients, depots, vehicle_types,
                       distances, durations, groups, shipments)  # type: ignore[arg-type]
    return SolverModel(data, client_orders, list(crews), frozenset(everything), tuple(pairs))


@dataclass
class _InitialPenalties(PenaltyParams):
    """PyVRP penalty parameters with given starting values instead of the midpoint."""

    loads: tuple[float, ...] = ()
    time_warp: float = 1.0

    def midpoint_penalties(self, data: ProblemData) -> tuple[list[float], float, float]:
        return list(self.loads), self.time_warp, 1.0


def penalty_params(data: ProblemData) -> PenaltyParams:
    """Penalty parameters scaled to ``data``'s prizes (see the module docs).

    Per load dimension, the start is the median of ``prize / demand`` over clients (and
    shipments) with a demand; for time warp, the median of ``prize / (service + 600 s)`` (the
    prize of an order per second of the route time it takes, with 10 min for driving to it).
    """
    dims = range(data.num_load_dimensions)
    # (prize, amount per dimension, service seconds) of every client and shipment
    items = [(c.prize, [max(c.delivery[d], c.pickup[d]) for d in dims], c.service_duration) for c in data.clients()]
    items += [(s.prize, list(s.amount), s.pickup.service_duration + s.delivery.service_duration)
              for s in data.shipments()]
    if not items:
        return PenaltyParams()
    loads = tuple(
        float(np.median([prize / a[d] for prize, a, _ in items if a[d] > 0] or [1.0])) for d in dims
    )
    time_warp = float(np.median([prize / (service + 600) for prize, _, service in items]))
    worst = max([sum(a[d] for _, a, _ in items) for d in dims]
                + [(data.num_clients + 2 * data.num_shipments + data.num_vehicles) * 3 * HORIZON_S])
    ceiling = min(1000 * max((*loads, time_warp, 1.0)), 1e18 / worst)
    return _InitialPenalties(
        min_penalty=0.1, max_penalty=ceiling,
        loads=tuple(min(x, ceiling) for x in loads), time_warp=min(time_warp, ceiling),
    )


def solved_routes(model: SolverModel, solution: Solution) -> list[SolvedRoute]:
    """The non-empty routes of ``solution`` as :class:`SolvedRoute`, in vehicle-type order
    (the inverse of :func:`initial_solution`)."""
    routes = []
    for route in solution.routes():
        schedule = route.schedule()
        orders: list[int] = []
        reloads: list[int] = []
        for a in schedule[1:-1]:
            if a.is_pickup() or a.is_delivery():
                orders.append(model.shipment_orders[a.idx][0 if a.is_pickup() else 1])
            elif a.is_client():
                orders.append(model.client_orders[a.idx])
            elif a.is_depot() and orders and (not reloads or reloads[-1] != len(orders)):
                reloads.append(len(orders))
        reloads = [r for r in reloads if 0 < r < len(orders)]
        if orders:
            routes.append(SolvedRoute(route.vehicle_type(), orders, int(schedule[0].start_time), tuple(reloads)))
    return sorted(routes, key=lambda r: r.crew)
