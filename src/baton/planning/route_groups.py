"""Route-based decomposition of one PyVRP problem: sectors of routes solved as sub-problems.

On a large instance, two independent searches from the same best solution mostly improve
*different* regions, and the exchange of the best (:mod:`baton.planning.parallel`) keeps only one
of them: half the work on two cores is thrown away. Splitting the routes instead lets each core
improve its own region and keeps every improvement. This is the route-based barycentre
decomposition of Santini, Schneider, Vidal and Vigo (2023), "Decomposition strategies for vehicle
routing heuristics", INFORMS Journal on Computing 35(3): routes are ordered by the polar angle
of their barycentre around the depots, cut into sectors of about equal size, and each sector's
clients and vehicles form a sub-problem that PyVRP searches on its own.

:func:`sectors` makes the :class:`Sector` specs (client, shipment and vehicle indices only, cheap
to send to a worker process); :func:`sub_problem` turns one into a :class:`SubProblem` whose
:meth:`~SubProblem.restrict` and :meth:`~SubProblem.lift` move solutions between the two
problems. A sub-problem keeps every depot of the whole problem, and only the locations its depots,
clients and shipments use, with the matrices cut down to them: each worker builds its own, and a
copy of the whole matrices per worker would cost as much memory as the problem itself. Its vehicles are the
sector's routes' vehicles plus a share of the unused ones, so the sectors' solutions always fit the
fleet together. A client group (an order's alternative time windows) stays whole in the sector of
its visited member; a shipment (pickup-and-delivery pair) in the sector of the route carrying it.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
from pyvrp import Activity, ActivityType, Client, ClientGroup, Depot, ProblemData, Route, Shipment, Solution

_SHIPMENT_STEPS = (ActivityType.PICKUP, ActivityType.DELIVERY)


@dataclass(frozen=True)
class Sector:
    """One sector of a solution, in whole-problem indices: ``clients`` and ``shipments``
    (sorted); ``vehicles``, ``(vehicle type index, vehicles of that type)`` pairs it may use;
    ``routes``, the indices (in ``solution.routes()``) of the routes it takes over."""

    clients: tuple[int, ...]
    shipments: tuple[int, ...]
    vehicles: tuple[tuple[int, int], ...]
    routes: tuple[int, ...]


def _xy(data: ProblemData, location: int) -> tuple[float, float]:
    point = data.location(location)
    return point.x, point.y


def _visits(route: Route) -> int:
    """Client visits plus pickups and deliveries on ``route`` (depot visits and reloads left out)."""
    return sum(1 for a in route if not a.is_depot())


def _barycentre(data: ProblemData, route: Route) -> tuple[float, float]:
    points = [_xy(data, data.client(a.idx).location) for a in list(route)[1:-1] if a.type == ActivityType.CLIENT]
    points += [_xy(data, data.shipment(a.idx).pickup.location) for a in list(route)[1:-1]
               if a.type == ActivityType.PICKUP]
    return sum(x for x, _ in points) / len(points), sum(y for _, y in points) / len(points)


def sectors(data: ProblemData, solution: Solution, parts: int, offset: float = 0.0) -> list[Sector]:
    """Cut ``solution``'s routes into ``parts`` sectors of consecutive barycentre angle.

    The routes are ordered by the polar angle of their clients' barycentre around the depots'
    mean location (coordinates as in ``data``; any unit); the circle is entered at ``offset``
    (a fraction of the routes, so successive calls can move the seams) and cut into runs of
    about equal client counts. What no route visits (optional clients and shipments left out)
    goes to the sector of the route whose barycentre is nearest, except a client group's
    members, which follow the group's visited member. Vehicles no route uses are dealt out to
    the sectors in turn (a problem with one vehicle type per vehicle gets them spread evenly).

    Returns an empty list when the solution has fewer non-empty routes than ``parts``, or
    when one route holds more than a sector's share of the clients.

    Raises:
        ValueError: when ``parts`` is less than 2.
    """
    if parts < 2:
        raise ValueError(f"parts must be at least 2, got {parts}")
    every = solution.routes()
    kept = [k for k, r in enumerate(every) if _visits(r) > 0]
    routes = [every[k] for k in kept]
    if len(routes) < parts:
        return []
    depots = [_xy(data, data.depot(d).location) for d in range(data.num_depots)]
    cx, cy = sum(x for x, _ in depots) / len(depots), sum(y for _, y in depots) / len(depots)
    centres = [_barycentre(data, r) for r in routes]
    order = sorted(range(len(routes)), key=lambda i: math.atan2(centres[i][1] - cy, centres[i][0] - cx))
    shift = int(offset % 1.0 * len(order))
    order = order[shift:] + order[:shift]
    total = sum(_visits(r) for r in routes)
    cuts: list[list[int]] = [[] for _ in range(parts)]
    seen = 0
    for i in order:
        cuts[min(parts - 1, seen * parts // total)].append(i)
        seen += _visits(routes[i])
    if any(not members for members in cuts):
        return []
    part_of = {i: part for part, members in enumerate(cuts) for i in members}
    client_part: dict[int, int] = {}
    shipment_part: dict[int, int] = {}
    for i, route in enumerate(routes):
        for a in list(route)[1:-1]:
            if a.type == ActivityType.CLIENT:
                client_part[a.idx] = part_of[i]
            elif a.type == ActivityType.PICKUP:
                shipment_part[a.idx] = part_of[i]

    def nearest(location: int) -> int:
        x, y = _xy(data, location)
        return part_of[min(range(len(routes)), key=lambda i: (centres[i][0] - x) ** 2 + (centres[i][1] - y) ** 2)]

    for g in range(data.num_groups):
        members = list(data.group(g).clients)
        home = next((client_part[c] for c in members if c in client_part), None)
        home = nearest(data.client(members[0]).location) if home is None else home
        client_part.update({c: home for c in members})
    for c in range(data.num_clients):
        if c not in client_part:
            client_part[c] = nearest(data.client(c).location)
    for s in range(data.num_shipments):
        if s not in shipment_part:
            shipment_part[s] = nearest(data.shipment(s).pickup.location)
    used = Counter(r.vehicle_type() for r in routes)
    counts = [Counter(routes[i].vehicle_type() for i in members) for members in cuts]
    turn = 0
    for t in range(data.num_vehicle_types):  # unused vehicles dealt out in turn
        for _ in range(data.vehicle_type(t).num_available - used[t]):
            counts[turn % parts][t] += 1
            turn += 1
    result = []
    for part, members in enumerate(cuts):
        result.append(Sector(
            clients=tuple(c for c in range(data.num_clients) if client_part[c] == part),
            shipments=tuple(s for s in range(data.num_shipments) if shipment_part[s] == part),
            vehicles=tuple((t, n) for t, n in sorted(counts[part].items()) if n > 0),
            routes=tuple(sorted(kept[i] for i in members))))
    return result


@dataclass(frozen=True)
class SubProblem:
    """A :class:`Sector` as a PyVRP problem: ``data`` holds only the sector's clients (sub-client
    ``i`` is whole-problem client ``sector.clients[i]``), shipments (likewise), client groups and
    vehicle types (sub-type ``k`` is whole-problem type ``vehicle_types[k]``), and only the
    locations these and the depots use (sub-location ``j`` is whole-problem location
    ``locations[j]``; the matrices are the whole problem's on those rows and columns); the depots
    are the whole problem's, in the same order."""

    data: ProblemData
    sector: Sector
    vehicle_types: tuple[int, ...]
    locations: tuple[int, ...]

    def _moved(self, route: Route, clients: dict[int, int] | tuple[int, ...],
               shipments: dict[int, int] | tuple[int, ...]) -> list[Activity]:
        activities = []
        for a in list(route)[1:-1]:
            if a.type == ActivityType.CLIENT:
                activities.append(Activity(a.type, clients[a.idx]))
            elif a.type in _SHIPMENT_STEPS:
                activities.append(Activity(a.type, shipments[a.idx]))
            else:
                activities.append(Activity(a.type, a.idx))
        return activities

    def restrict(self, whole: Solution) -> Solution:
        """The sector's routes of ``whole`` (a solution of the whole problem) as a solution of
        this sub-problem. Only the routes' visits and vehicle types are read and the routes are
        built anew, so ``whole`` may have come through ``pickle`` (whose solutions leave their fixed
        vehicle costs out of their cost in PyVRP 0.14.1, :func:`baton.planning.parallel._rebuilt`)."""
        clients = {c: i for i, c in enumerate(self.sector.clients)}
        shipments = {s: i for i, s in enumerate(self.sector.shipments)}
        types = {t: k for k, t in enumerate(self.vehicle_types)}
        routes = whole.routes()
        return Solution(self.data, [Route(self.data, self._moved(routes[r], clients, shipments),
                                          types[routes[r].vehicle_type()]) for r in self.sector.routes])

    def lift(self, whole: ProblemData, solution: Solution) -> list[Route]:
        """``solution`` (of this sub-problem) as routes of the ``whole`` problem."""
        return [Route(whole, self._moved(route, self.sector.clients, self.sector.shipments),
                      self.vehicle_types[route.vehicle_type()]) for route in solution.routes()]


def sub_problem(data: ProblemData, sector: Sector) -> SubProblem:
    """The PyVRP problem of ``sector`` (made by :func:`sectors` on the same ``data``): its
    clients, shipments, groups and vehicles, every depot, and the matrices of every routing
    profile cut down to the locations these use (see :class:`SubProblem`)."""
    shipments = [data.shipment(s) for s in sector.shipments]
    used = sorted({d.location for d in data.depots()} | {data.client(c).location for c in sector.clients}
                  | {step.location for s in shipments for step in (s.pickup, s.delivery)})
    at = {loc: i for i, loc in enumerate(used)}
    cut = np.ix_(used, used)
    local = {c: i for i, c in enumerate(sector.clients)}
    groups: list[ClientGroup] = []
    group_index: dict[int, int] = {}
    for c in sector.clients:
        g = data.client(c).group
        if g is not None and g not in group_index:
            whole = data.group(g)
            group_index[g] = len(groups)
            groups.append(ClientGroup([local[m] for m in whole.clients], whole.required, name=whole.name))
    clients = []
    for c in sector.clients:
        k = data.client(c)
        clients.append(Client(at[k.location], k.delivery, k.pickup, k.service_duration, k.tw_early, k.tw_late,
                              k.release_time, k.prize, k.required,
                              None if k.group is None else group_index[k.group], name=k.name))
    types = [data.vehicle_type(t).replace(num_available=n) for t, n in sector.vehicles]
    distances = [data.distance_matrix(p)[cut] for p in range(data.num_profiles)]
    durations = [data.duration_matrix(p)[cut] for p in range(data.num_profiles)]
    sub = ProblemData(
        locations=[data.location(loc) for loc in used],
        clients=clients,
        depots=[Depot(at[d.location], d.tw_early, d.tw_late, d.service_duration, name=d.name) for d in data.depots()],
        vehicle_types=types,
        distance_matrices=distances,  # type: ignore[arg-type]  # the stubs' ndarray[int] is no shape
        duration_matrices=durations,  # type: ignore[arg-type]
        groups=groups,
        shipments=[Shipment(at[s.pickup.location], at[s.delivery.location], s.pickup.tw_early, s.pickup.tw_late,
                            s.pickup.service_duration, s.delivery.tw_early, s.delivery.tw_late,
                            s.delivery.service_duration, s.amount, s.prize, s.required, name=s.name)
                   for s in shipments])
    return SubProblem(sub, sector, tuple(t for t, _ in sector.vehicles), tuple(used))


__all__ = ["Sector", "SubProblem", "sectors", "sub_problem"]
