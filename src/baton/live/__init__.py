"""Live orchestration: the plan kept right all day.

* :mod:`baton.live.model`: the live plan state (per vehicle: position, time, done/pinned/free
  stops, parcels on board) and the timing of a route from where the vehicle is now;
* :mod:`baton.live.ops`: the fast path (cheapest feasible insertion, removal, re-sequencing,
  breakdown reassignment, second attempts);
* :mod:`baton.live.board`: the state loaded from the unit of work, fed by execution events,
  published back as routes with ETAs.

Everything here is pure (no I/O) except :mod:`baton.live.board`, which reads the unit of work.
"""
