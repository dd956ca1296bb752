"""KPIs of a simulated day, from the world's truth (what really happened at each door).

* ``orders``: orders of the day not cancelled (morning + placed during the day);
* ``on_time_pct``: % of those delivered inside one of their windows (undelivered = not on time);
* ``late_minutes``: minutes after the window, summed over late deliveries;
* ``km``: kilometres driven by all vans; ``cost``: per used van ``fixed_per_day`` + ``per_km`` x km
  + ``per_hour`` x hours from shift start to the van's return, plus what carriers (3PL, gig) charged;
  ``cost_per_delivery`` = cost / deliveries (money in the vans' currency);
* ``failed_attempts``: attempts where nobody was home;
* ``told_before_window_pct``: of the *delayed* customers (delivered late, or not delivered today,
  leaving out those who were not at home),
  the % Baton told of the delay (``live.delay_notified``) before their first window started
  (100 when nobody was delayed);
* ``false_alarms``: customers told of a delay (``live.delay_notified``, at any time) who were in fact
  delivered on time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from baton.domain.order import Order
from baton.domain.values import CostRates
from baton.reporting.kpis import is_on_time, lateness_minutes


@dataclass
class OrderOutcome:
    """What happened to one order (``delivered_at``: service start at the door)."""

    order: Order
    attempts: int = 0
    failed: int = 0
    delivered_at: datetime | None = None
    cancelled: bool = False
    placed_s: int | None = None
    told_at: datetime | None = None
    fleet: str = "captive"  # who delivered (or last held) it: captive, 3pl, gig, unassigned


@dataclass(frozen=True)
class VanOutcome:
    """One van's day: ``km`` driven, clock seconds ``begin_s``/``end_s``, whether it was ``used``."""

    vehicle_id: str
    km: float
    begin_s: int
    end_s: int
    used: bool


def van_cost(vans: list[VanOutcome], costs: CostRates) -> float:
    """What the used vans cost (see the module docstring), in the vans' currency."""
    used = [v for v in vans if v.used]
    cost = sum(costs.fixed_per_day + costs.per_hour * max(0, v.end_s - v.begin_s) / 3600 for v in used)
    return cost + costs.per_km * sum(v.km for v in vans)


def day_kpis(outcomes: list[OrderOutcome], vans: list[VanOutcome], costs: CostRates,
             carrier_cost: float = 0.0) -> dict[str, float]:
    """The KPIs described in the module docstring, rounded for display; ``carrier_cost``: what 3PL and
    gig carriers charged (same currency)."""
    live = [o for o in outcomes if not o.cancelled]
    delivered = [o for o in live if o.delivered_at is not None]
    on_time = [o for o in delivered if is_on_time(o.order, o.delivered_at)]
    delayed = [o for o in live if not o.failed
               and (o.delivered_at is None or not is_on_time(o.order, o.delivered_at))]
    told = [o for o in delayed if o.told_at is not None and o.order.time_windows
            and o.told_at < o.order.time_windows[0].start]
    used = [v for v in vans if v.used]
    km = sum(v.km for v in vans)
    cost = van_cost(vans, costs) + carrier_cost
    return {
        "orders": len(live),
        "delivered": len(delivered),
        "on_time_pct": round(100.0 * len(on_time) / len(live), 2) if live else 0.0,
        "late_minutes": round(sum(lateness_minutes(o.order, o.delivered_at) for o in delivered), 1),
        "km": round(km, 1),
        "cost": round(cost, 2),
        "cost_per_delivery": round(cost / len(delivered), 2) if delivered else 0.0,
        "failed_attempts": sum(o.failed for o in outcomes),
        "told_before_window_pct": round(100.0 * len(told) / len(delayed), 2) if delayed else 100.0,
        "delayed": len(delayed),
        "false_alarms": sum(1 for o in delivered if o.told_at is not None and is_on_time(o.order, o.delivered_at)),
        "undelivered": len(live) - len(delivered),
        "cancelled": sum(1 for o in outcomes if o.cancelled),
        "new_orders": sum(1 for o in outcomes if o.placed_s is not None),
        "vans_used": len(used),
    }
