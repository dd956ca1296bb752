"""Live orchestration: the plan kept right all day.

* :mod:`baton.live.state`: the live plan state (per vehicle: position, time, done/pinned/free
  stops, parcels on board); :mod:`baton.live.geo` its distances, :mod:`baton.live.traffic` its
  slowdowns and the city-wide pace learnt from the legs driven;
* :mod:`baton.live.model`: the timing of a route from where the vehicle is now, incremental and
  with a cutoff for the fast path's trials (re-exports the state);
* :mod:`baton.live.ops`: the fast path (cheapest feasible insertion, removal, re-sequencing,
  choosing the next stop); :mod:`baton.live.breakdown` (reassignment when a vehicle stops) and
  :mod:`baton.live.attempts` (second attempts) build on it;
* :mod:`baton.live.risk`: stops at risk (too little slack for their time ahead) and the
  insertion penalty; :mod:`baton.live.rescue`: the rescue pass around them;
* :mod:`baton.live.board`: the state loaded from the unit of work, fed by execution events,
  published back as routes with ETAs.

Everything here is pure (no I/O) except :mod:`baton.live.board`, which reads the unit of work.
"""
