"""One integer VRPTW instance that every solver of a benchmark sees identically.

:func:`integer_instance` turns a loaded :class:`~baton.intake.benchmarks.BenchmarkInstance`
into integer matrices and times in the BKS convention of its set
(``shared/data/benchmarks/README.md``):

* ``dimacs`` (Solomon, Gehring & Homberger): Euclidean distance **and** every time (windows,
  service, travel) x10, truncated; a cost divided by :attr:`IntInstance.scale` (10) compares
  with ``bks.csv``;
* ``none`` (ORTEC): the explicit integer travel-time matrix is both the distance and the
  duration (the objective is total driving time); windows and service times as given;
  the fleet is not binding (one vehicle per client);
* ``round`` (CVRP X): Euclidean distance rounded, no time windows.

:func:`to_pyvrp` builds the :class:`pyvrp.ProblemData` of it (distance-only objective).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pyvrp import Client, Depot, Location, ProblemData, VehicleType

from baton.intake.benchmarks import BenchmarkInstance

INT_HORIZON = 2**31 - 1
"""Latest time of an instance without windows (fits int32 for the peers)."""


@dataclass(frozen=True, eq=False)
class IntInstance:
    """A single-depot VRPTW in integers. Node 0 is the depot, nodes 1..n-1 the clients.

    ``distance``/``duration`` are ``(n, n)`` int64; ``early``/``late`` the window of each node
    (service must *start* in it; the depot's is the vehicles' working window: leave after
    ``early[0]``, be back by ``late[0]``); ``service`` per node; ``demand`` per node, one
    dimension, against ``capacity``; at most ``num_vehicles`` routes. ``scale`` divides an
    integer cost into the BKS unit."""

    name: str
    distance: npt.NDArray[np.int64]
    duration: npt.NDArray[np.int64]
    early: npt.NDArray[np.int64]
    late: npt.NDArray[np.int64]
    service: npt.NDArray[np.int64]
    demand: npt.NDArray[np.int64]
    capacity: int
    num_vehicles: int
    scale: int
    coords: npt.NDArray[np.float64]

    @property
    def size(self) -> int:
        """Nodes, depot included."""
        return int(self.distance.shape[0])


def integer_instance(raw: BenchmarkInstance) -> IntInstance:
    """The integer instance of ``raw`` in its set's rounding convention (module docs).

    Raises:
        ValueError: when the depot is not node 0 or a explicit-matrix instance has no matrix.
    """
    if raw.depot != 0:
        raise ValueError(f"{raw.name}: the depot must be node 0, got {raw.depot}")
    n = raw.dimension
    scale = 10 if raw.rounding == "dimacs" else 1

    def times(values: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        return (values * scale).astype(np.int64) if raw.rounding == "dimacs" else np.rint(values).astype(np.int64)

    if raw.rounding == "none":
        if raw.edge_weight is None:
            raise ValueError(f"{raw.name}: explicit rounding without EDGE_WEIGHT_SECTION")
        dist = np.asarray(raw.edge_weight, dtype=np.int64)
        vehicles = n - 1
    else:
        diff = raw.coords[:, None, :] - raw.coords[None, :, :]
        euclid = np.sqrt((diff**2).sum(axis=2))
        dist = (10 * euclid).astype(np.int64) if raw.rounding == "dimacs" else np.rint(euclid).astype(np.int64)
        vehicles = raw.num_vehicles
    if raw.time_windows is not None:
        early, late = times(raw.time_windows[:, 0]), times(raw.time_windows[:, 1])
    else:
        early, late = np.zeros(n, dtype=np.int64), np.full(n, INT_HORIZON, dtype=np.int64)
    service = times(raw.service_times) if raw.service_times is not None else np.zeros(n, dtype=np.int64)
    return IntInstance(raw.name, dist, dist, early, late, service, raw.demand.astype(np.int64),
                       raw.capacity, vehicles, scale, raw.coords)


def to_pyvrp(inst: IntInstance) -> ProblemData:
    """PyVRP data of ``inst``: one vehicle type of ``num_vehicles`` vehicles working in the depot's
    window, unit distance cost, no duration cost, every client required."""
    locations = [Location(x=float(x), y=float(y)) for x, y in inst.coords]
    clients = [
        Client(location=i, delivery=[int(inst.demand[i])], service_duration=int(inst.service[i]),
               tw_early=int(inst.early[i]), tw_late=int(inst.late[i]), required=True)
        for i in range(1, inst.size)
    ]
    vehicle = VehicleType(num_available=inst.num_vehicles, capacity=[inst.capacity], start_depot=0, end_depot=0,
                          tw_early=int(inst.early[0]), tw_late=int(inst.late[0]))
    return ProblemData(locations, clients, [Depot(location=0)], [vehicle],
                       [inst.distance], [inst.duration])  # type: ignore[arg-type,list-item]


__all__ = ["IntInstance", "integer_instance", "to_pyvrp"]
