"""The simulator's hooks for the background work of live re-planning, under the ``baton`` policy.

Every :data:`EVERY_S` simulated seconds the simulation sends
:class:`~baton.service_layer.commands.ImproveLivePlan` then
:class:`~baton.service_layer.commands.RescueLivePlan` through the message bus, as a worker
would (one call in :mod:`baton.simulate.engine`); :func:`rescue` also sends the rescue after
dispatch (07:30) and after every traffic incident and breakdown of the scenario
(:mod:`baton.simulate.disruptions`). The
improvement is bounded by :data:`ITERATIONS` PyVRP iterations (not wall time), so the same seed
gives the same day whatever the machine's load; :data:`SAFETY_S` caps its wall time.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from baton.service_layer import commands

EVERY_S = 900
ITERATIONS = 1500
SAFETY_S = 60.0
_last: WeakKeyDictionary[Any, int] = WeakKeyDictionary()


def periodic_improve(sim: Any, t: int) -> None:
    """Run the improvement when ``t`` (simulated clock s) is :data:`EVERY_S` past the last run."""
    if sim.cfg.policy != "baton" or t < 8 * 3600:
        return
    if t - _last.get(sim, -EVERY_S) < EVERY_S:
        return
    _last[sim] = t
    sim.handle(commands.ImproveLivePlan(at=sim.at(t), seconds=SAFETY_S, max_iterations=ITERATIONS,
                                        seed=sim.cfg.seed))
    rescue(sim, t)


def rescue(sim: Any, t: int) -> None:
    """Run the rescue pass (:mod:`baton.live.rescue`) at ``t`` (simulated clock s), ``baton`` only."""
    if sim.cfg.policy == "baton":
        sim.handle(commands.RescueLivePlan(at=sim.at(t)))
