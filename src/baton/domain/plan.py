"""Plans and routes: which vehicle and driver visit which orders, in what sequence, when."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class StopKind(StrEnum):
    DELIVERY = "delivery"
    PICKUP = "pickup"
    BREAK = "break"
    RELOAD = "reload"


@dataclass
class Stop:
    """One visit on a route.

    ``planned_arrival``/``planned_departure`` are aware instants (the plan's ETA and ETD);
    ``order_id`` is ``None`` for breaks and reloads; ``leg_distance_m``/``leg_duration_s``
    describe the drive from the previous stop (or the depot) to this one.
    ``actual_arrival``/``actual_departure`` are filled during execution.
    """

    sequence: int
    kind: StopKind
    order_id: str | None
    planned_arrival: datetime
    planned_departure: datetime
    leg_distance_m: int = 0
    leg_duration_s: int = 0
    actual_arrival: datetime | None = None
    actual_departure: datetime | None = None

    @property
    def planned_service_s(self) -> int:
        return int((self.planned_departure - self.planned_arrival).total_seconds())


class RouteStatus(StrEnum):
    PLANNED = "planned"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


@dataclass
class Route:
    """A vehicle's (and driver's) sequence of stops for one day.

    Distances in metres, durations in seconds, ``cost`` in the plan's currency.
    ``start``/``end`` are the planned departure from and return to the depot;
    ``duration_s`` is ``end - start`` (driving + service + waiting + breaks) and
    ``driving_s`` the driving part. ``actual_*`` fields are filled during execution.
    """

    id: str
    vehicle_id: str
    driver_id: str | None
    start_depot_id: str
    end_depot_id: str
    start: datetime
    end: datetime
    stops: list[Stop] = field(default_factory=list)
    distance_m: int = 0
    duration_s: int = 0
    driving_s: int = 0
    cost: float = 0.0
    status: RouteStatus = RouteStatus.PLANNED
    plan_id: str | None = None
    actual_start: datetime | None = None
    actual_end: datetime | None = None
    actual_distance_m: int = 0
    actual_driving_s: int = 0

    @property
    def order_ids(self) -> list[str]:
        return [s.order_id for s in self.stops if s.order_id is not None]

    def stop_for(self, order_id: str) -> Stop:
        """The stop serving ``order_id``.

        Raises:
            KeyError: when the route does not visit that order.
        """
        for s in self.stops:
            if s.order_id == order_id:
                return s
        raise KeyError(f"route {self.id} has no stop for order {order_id}")


@dataclass(frozen=True)
class UnassignedOrder:
    """An order the plan does not serve, with a human-readable ``reason`` found by checking it."""

    order_id: str
    reason: str


@dataclass(frozen=True)
class CostBreakdown:
    """A plan's cost by component, in ``currency``; ``total`` is the sum of the four."""

    fixed: float = 0.0
    distance: float = 0.0
    time: float = 0.0
    penalties: float = 0.0
    currency: str = "BRL"

    @property
    def total(self) -> float:
        return self.fixed + self.distance + self.time + self.penalties


@dataclass
class Plan:
    """The result of planning a day: routes plus every order not served, with its reason.

    ``solve_seconds`` is the wall time the solver used; ``objective`` is PyVRP's internal
    objective value (scaled integers, for diagnostics only).
    """

    id: str
    created_at: datetime
    routes: list[Route] = field(default_factory=list)
    unassigned: list[UnassignedOrder] = field(default_factory=list)
    cost: CostBreakdown = field(default_factory=CostBreakdown)
    solve_seconds: float = 0.0
    objective: float = 0.0
    feasible: bool = True

    @property
    def assigned_order_ids(self) -> list[str]:
        return [o for r in self.routes for o in r.order_ids]

    @property
    def distance_km(self) -> float:
        return sum(r.distance_m for r in self.routes) / 1000.0

    @property
    def driving_hours(self) -> float:
        return sum(r.driving_s for r in self.routes) / 3600.0

    @property
    def vehicles_used(self) -> int:
        return sum(1 for r in self.routes if r.order_ids)
