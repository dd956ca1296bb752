"""The ``ReleaseWave`` command: the dispatch-wave policy (:mod:`baton.live.waves`) applied to the
live plan.

At a wave time the open orders that are not yet on any route (``created``, unassigned in the live
plan) are handed to :func:`baton.live.waves.plan_wave` with the live plan's travel times; the
routes it releases go to idle vans still at the depot (no open stop, not started), are marked
dispatched and published with ETAs, their orders moved along the lifecycle (``planned`` →
``dispatched``); the others wait for a later wave. One ``live.wave_released`` event lists
released and postponed orders with the reason, in the transaction that publishes the routes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from baton.domain.errors import NotFound
from baton.domain.lifecycle import OrderStatus
from baton.domain.plan import RouteStatus
from baton.live.events import WaveReleased
from baton.live.model import LivePlan, evaluate
from baton.live.ops import Insertion, insert_order
from baton.live.waves import DemandModel, WaveOptions, WaveState, must_dispatch, plan_wave
from baton.service_layer import commands
from baton.service_layer.live_publish import live_board, place, publish
from baton.service_layer.unit_of_work import AbstractUnitOfWork

if TYPE_CHECKING:
    from baton.service_layer.handlers import Dependencies


def wave_inputs(plan: LivePlan, order_ids: list[str], depot: int, planning_start: int, depot_late: int,
                capacity: int, waves_left: int, wave_s: int, margin_s: int) -> tuple[WaveState, DemandModel]:
    """The wave policy's arrays for ``order_ids``: node 0 the ``depot`` point, node k the k-th order;
    durations from the live geometry (s), windows ``(earliest of the windows, latest)`` relative to
    ``planning_start`` (clock s) in the state and absolute in the model, demand = first capacity
    dimension of the order's size."""
    points = [depot] + [plan.orders[o].point for o in order_ids]
    for p in points:
        plan.geo.fetch(p, points)
    duration = np.array([[plan.geo.leg(a, b)[1] for b in points] for a in points], dtype=np.int64)
    orders = [plan.orders[o] for o in order_ids]
    early = np.array([0] + [min(e for e, _ in o.windows) if o.windows else 0 for o in orders], dtype=np.int64)
    late = np.array([depot_late] + [max(x for _, x in o.windows) if o.windows else depot_late for o in orders],
                    dtype=np.int64)
    service = np.array([0] + [o.service_s for o in orders], dtype=np.int64)
    demand = np.array([0] + [o.units[0] for o in orders], dtype=np.int64)
    n = len(points)
    model = DemandModel(duration=duration, location=np.arange(1, n, dtype=np.int64), early=early[1:],
                        late=late[1:], service=service[1:], demand=demand[1:], depot_late=depot_late,
                        wave_s=wave_s, margin_s=margin_s)
    state = WaveState(location=np.arange(n, dtype=np.int64), early=np.maximum(early - planning_start, 0),
                      late=np.maximum(late - planning_start, 0), service=service, demand=demand,
                      must=np.zeros(n, dtype=bool), capacity=capacity, planning_start=planning_start,
                      waves_left=waves_left)
    return state, model


def release_wave(cmd: commands.ReleaseWave, uow: AbstractUnitOfWork, deps: Dependencies) -> WaveReleased | None:
    """Decide and release one wave (module docstring). Returns the recorded event, or ``None`` when
    there is no open order to decide.

    Raises:
        NotFound: without a live board (live orchestration off).
        ValueError: ``waves_left`` negative or an unknown ``method``.
    """
    if cmd.waves_left < 0:
        raise ValueError(f"waves_left must be >= 0, got {cmd.waves_left}")
    board = live_board(deps)
    if board is None:
        raise NotFound("live orchestration is off: no live plan to release a wave from")
    with uow:
        plan = board.ensure(uow)
        candidates = sorted(plan.unassigned)
        stored = {o.id: o for o in uow.orders.get_many(candidates)} if candidates else {}
        open_ids = [o for o in candidates if o in stored and stored[o].status == OrderStatus.CREATED
                    and o in plan.orders]
        idle = sorted((r for r in plan.routes.values() if not r.started and not r.broken and not r.open_items),
                      key=lambda r: r.id)
        if not open_ids:
            return None
        now = board.clock(cmd.at)
        start = now + cmd.margin_s
        depot = idle[0].depot if idle else next(iter(plan.routes.values())).depot
        depot_late = max((r.shift_end_s for r in idle), default=start)
        capacity = min((r.capacity[0] for r in idle), default=1)
        state, model = wave_inputs(plan, open_ids, depot, start, depot_late, max(1, capacity), cmd.waves_left,
                                   cmd.wave_s, cmd.margin_s)
        must = must_dispatch(state, model)
        routes, _ = plan_wave(state, model, WaveOptions(seed=cmd.seed, max_iterations=cmd.max_iterations,
                                                        method=cmd.method), cmd.seconds)
        reasons: dict[str, str] = {}
        released: list[str] = []
        used: list[str] = []
        vans = iter(idle)
        for wave_route in routes:
            ids = [open_ids[n - 1] for n in wave_route]
            van = next(vans, None)
            placed: list[tuple[str, str]] = []
            if van is not None:
                van.free = list(ids)
                if evaluate(plan, van).feasible:
                    placed = [(o, van.id) for o in ids]
                else:  # the live rules (breaks, shift, all capacity dimensions) say no: insert one by one
                    van.free = []
                    for o in ids:
                        result = insert_order(plan, o, [van.id])
                        if isinstance(result, Insertion):
                            placed.append((o, van.id))
            for o, _rid in placed:
                plan.unassigned.pop(o, None)
            for o in ids:
                if o in {p for p, _ in placed}:
                    reasons[o] = "must-dispatch" if must[open_ids.index(o) + 1] else "chosen"
                    released.append(o)
                else:
                    reasons[o] = "no vehicle"
                    plan.unassigned[o] = "released by the wave but no idle van could take it"
            if van is not None and van.free:
                used.append(van.id)
                board.route_meta[van.id].status = RouteStatus.DISPATCHED
        for o in released:
            place(uow, board, stored[o], plan.route_of(o).id, cmd.at, cmd.actor, "wave")  # type: ignore[union-attr]
        postponed = [o for o in open_ids if o not in reasons]
        for o in postponed:
            reasons[o] = "postponed"
        if used:
            publish(uow, board, used, "wave", cmd.at)
        event = WaveReleased(occurred_at=cmd.at, actor=cmd.actor, plan_id=board.plan_id, released=released,
                             postponed=postponed, route_ids=used, reasons=reasons, method=cmd.method,
                             waves_left=cmd.waves_left)
        uow.record(event)
        uow.commit()
    return event
