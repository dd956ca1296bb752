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
        workers: processes searching in parallel (:mod:`baton.planning.parallel`: independent
            seeds exchanging their best solution every few seconds); ``None`` = 1, one plain PyVRP
            run. On the bundled day (1,019 orders, 45 s, 2 cores, 2026-12-03) two workers planned
            BRL 15,684 and 15,011 (seeds 1, 2) against 15,573 and 15,941 for one run; the main job
            uses every core. With ``max_iterations`` set, or a budget under 1 s, the search runs on
            one core so that the run stays reproducible.
        overtime_s: paid overtime a driver may work, seconds: it extends both the shift end and
            the maximum working time (never past the end depot's closing). Default 0 (none).
        overtime_per_hour: money per hour of overtime, on top of the vehicle's ``per_hour``;
            the solver uses overtime only when it costs less than what it saves.
        balance_tolerance: balanced workload: ``None`` (off) or a fraction ``t >= 0``; every
            route then serves at most ``ceil(orders / crews x (1 + t))`` orders (counted over
            the orders the fleet can serve), so work is spread over the whole fleet. Combined
            with ``max_customers_per_route``, the smaller cap wins.
        max_reloads: multiple trips: how many times a vehicle may return to its start depot
            to reload (taking the depot's loading time each time); capacity holds per trip.
            Default 0 (one trip). A reload appears in the route as a ``reload`` stop.
    """

    time_limit_s: float = 10.0
    seed: int = 1
    drop_penalty: float = 500.0
    lateness_penalty_per_hour: float = 100.0
    hard_time_windows: bool = True
    max_customers_per_route: int | None = None
    max_iterations: int | None = None
    workers: int | None = None
    overtime_s: int = 0
    overtime_per_hour: float = 0.0
    balance_tolerance: float | None = None
    max_reloads: int = 0


@dataclass
class PlanningProblem:
    """A day to plan.

    ``day_start`` (aware) is the zero of the solver's clock; every instant in the problem must
    fall within ``[day_start, day_start + 48 h)``. ``currency`` is the money unit of every cost.

    ``pickups``: ids of orders that are *returns*: the goods (the order's ``size``) are collected
    at the order's address and carried back to the vehicle's end depot (or unloaded at a reload).
    At every point of a trip the vehicle holds the deliveries still to make plus the returns
    already collected, and that must fit its capacity in every dimension. Other orders are
    deliveries from the start depot.

    ``transfers``: pickup-and-delivery pairs ``(pickup order id, delivery order id)`` between two
    customer addresses (B2B transfers): one vehicle collects the goods (the pickup order's
    ``size``) at the pickup order's address and later, on the same trip, hands them over at the
    delivery order's address; both orders are served or both are unassigned. Each order of a
    transfer has at most one time window, and its window is hard even with soft windows.
    """

    orders: list[Order]
    depots: list[Depot]
    vehicles: list[Vehicle]
    drivers: list[Driver] = field(default_factory=list)
    day_start: datetime | None = None
    currency: str = "BRL"
    pickups: frozenset[str] = frozenset()
    transfers: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.day_start is not None:
            require_aware(self.day_start, "day_start")
