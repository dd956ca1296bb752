"""What a plan costs, component by component, in money and in km / hours.

The planner minimises one objective, in the plan's currency (``PlanningProblem.currency``,
BRL by default), whose weights are all configurable:

================  ==================================================  ===========================
component         weight (where it is set)                            default
================  ==================================================  ===========================
vehicle fixed     ``Vehicle.costs.fixed_per_day`` per vehicle used     0 (``CostRates``)
distance          ``Vehicle.costs.per_km`` per km driven               0 (``CostRates``)
driver time       ``Vehicle.costs.per_hour`` per hour, loading to      0 (``CostRates``)
                  return (driving, service, waiting, breaks)
overtime          ``PlanningOptions.overtime_per_hour`` per hour       0 (and ``overtime_s`` = 0:
                  beyond the regular working time                      no overtime)
lateness          ``PlanningOptions.lateness_penalty_per_hour`` per    100 / h (soft windows only;
                  hour after a window closed                           windows are hard by default)
dropped order     ``PlanningOptions.drop_penalty`` x ``priority``      500 per priority point
================  ==================================================  ===========================

With every vehicle rate at 0 the solver still charges 1 micro-unit per metre so that routes
stay short (:mod:`baton.planning.pyvrp_model`). :func:`objective_report` splits a plan's
:class:`~baton.domain.plan.CostBreakdown` (whose ``penalties`` lump lateness and drops
together) into these components with their physical quantities.
"""

from __future__ import annotations

from dataclasses import dataclass

from baton.domain.plan import Plan
from baton.planning.problem import PlanningOptions, PlanningProblem


@dataclass(frozen=True)
class ObjectiveReport:
    """A plan's objective by component: money in ``currency``, distance in km, time in hours.

    ``time_money`` includes overtime; ``working_h`` runs from the start of loading to the
    return (``driving_h`` is the part spent driving); ``late_h`` are hours of service started
    after a window closed (soft windows); ``total_money`` equals ``Plan.cost.total``."""

    currency: str
    vehicles: int
    fixed_money: float
    km: float
    distance_money: float
    working_h: float
    driving_h: float
    time_money: float
    late_h: float
    lateness_money: float
    dropped: int
    drop_money: float

    @property
    def total_money(self) -> float:
        return self.fixed_money + self.distance_money + self.time_money + self.lateness_money + self.drop_money


def objective_report(plan: Plan, problem: PlanningProblem, options: PlanningOptions) -> ObjectiveReport:
    """Split ``plan``'s cost into the components of the module table, with their quantities.

    ``options`` must be those the plan was made with (they hold the penalty weights).
    Raises nothing; an unassigned id missing from ``problem`` counts with priority 1.
    """
    priority = {o.id: o.priority for o in problem.orders}
    drop_money = sum(options.drop_penalty * priority.get(u.order_id, 1) for u in plan.unassigned)
    loading = {d.id: d.loading_time_s for d in problem.depots}
    working_s = sum((r.end - r.start).total_seconds() + loading.get(r.start_depot_id, 0) for r in plan.routes)
    lateness_money = max(0.0, plan.cost.penalties - drop_money)
    rate = options.lateness_penalty_per_hour
    return ObjectiveReport(
        currency=plan.cost.currency, vehicles=plan.vehicles_used, fixed_money=plan.cost.fixed,
        km=plan.distance_km, distance_money=plan.cost.distance, working_h=working_s / 3600,
        driving_h=plan.driving_hours, time_money=plan.cost.time,
        late_h=lateness_money / rate if rate > 0 else 0.0, lateness_money=lateness_money,
        dropped=len(plan.unassigned), drop_money=drop_money,
    )


__all__ = ["ObjectiveReport", "objective_report"]
