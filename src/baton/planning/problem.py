"""What the planner is asked: orders, depots, vehicles, drivers, a day, and how to weigh costs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from baton.domain.fleet import Depot, Driver, Vehicle
from baton.domain.order import Order
from baton.domain.values import require_aware


@dataclass(frozen=True)
class PlanningOptions:
    """Solver settings and business weights.

    Attributes:
        time_limit_s: wall-clock budget for the search, seconds.
        seed: random seed (same seed, same input, same plan on one machine).
        drop_penalty: money (plan currency) charged per priority point for leaving an
            optional order unassigned; an order is dropped only when serving it costs more.
            Default 500: above the marginal cost of any stop a van can reach in a day,
            so orders are dropped only when infeasible or the fleet is full.
        lateness_penalty_per_hour: money per hour of arrival after a window closes when
            windows are soft (``hard_time_windows=False``).
        hard_time_windows: True = a plan never arrives after a window closes.
        max_customers_per_route: optional cap (``None`` = no cap).
        max_iterations: optional cap on search iterations (``None`` = none). The search stops at
            whichever comes first, this or ``time_limit_s``; a run that ends on iterations is
            reproducible whatever the machine's load (a time limit alone is not).
    """

    time_limit_s: float = 10.0
    seed: int = 1
    drop_penalty: float = 500.0
    lateness_penalty_per_hour: float = 100.0
    hard_time_windows: bool = True
    max_customers_per_route: int | None = None
    max_iterations: int | None = None


@dataclass
class PlanningProblem:
    """A day to plan.

    ``day_start`` (aware) is the zero of the solver's clock; every instant in the problem must
    fall within ``[day_start, day_start + 48 h)``. ``currency`` is the money unit of every cost.
    """

    orders: list[Order]
    depots: list[Depot]
    vehicles: list[Vehicle]
    drivers: list[Driver] = field(default_factory=list)
    day_start: datetime | None = None
    currency: str = "BRL"

    def __post_init__(self) -> None:
        if self.day_start is not None:
            require_aware(self.day_start, "day_start")
